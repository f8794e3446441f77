// The CRDT core's entries and watch events as the wire shows them (shared/api/kv-crdt-wire.ts):
// plain bytes in base64 (plus UTF-8 text when they decode as such), JSON as JSON, counters as
// decimal strings. Pure.
import type { KvEntry, KvWatchEvent } from '../../data-plane/kv-crdt/index.js'
import type { KvCrdtEntryView, KvCrdtWatchEventView } from '../../shared/api/index.js'

const utf8 = new TextDecoder('utf-8', { fatal: true })

function textOf(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes)
  } catch {
    return undefined
  }
}

export function entryView(entry: KvEntry): KvCrdtEntryView {
  const common = { key: entry.key, revision: entry.revision, updatedHlc: { wallMs: entry.updatedHlc.wallMs, logical: entry.updatedHlc.logical }, conflicts: entry.conflicts }
  switch (entry.value.type) {
    case 'bytes': {
      const text = textOf(entry.value.bytes)
      return { ...common, type: 'bytes', valueBase64: Buffer.from(entry.value.bytes).toString('base64'), ...(text === undefined ? {} : { value: text }) }
    }
    case 'json':
      return { ...common, type: 'json', json: entry.value.json }
    case 'counter':
      return { ...common, type: 'counter', count: entry.value.count.toString() }
  }
}

export function watchEventView(event: KvWatchEvent): KvCrdtWatchEventView {
  return event.type === 'value' ? { type: 'value', key: event.key, entry: entryView(event.entry), initial: event.initial } : event
}
