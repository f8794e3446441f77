// What the controller publishes on the wire (docs/api.md § Consuming): the header block of a
// delivered message, of a status message (`Rg-Status: active | 204`), of a dead letter, and the
// JSON answers. Pure functions over shared/api/consumer-wire.ts names.
import { consumerHeaders, consumerStatus, dlqHeaders } from '../../shared/api/consumer-wire.js'
import type { GroupAddress } from '../../shared/api/consumer-wire.js'
import { streamSubjectHeader } from '../../shared/api/index.js'
import { encodeHeaders, headerVersionLine, validateHeaders } from '../../shared/protocol/index.js'
import type { DeadLetterOrder } from '../../data-plane/persistent/consumer/index.js'
import type { StreamEvent } from '../../data-plane/persistent/index.js'

const encoder = new TextEncoder()

/** Headers a delivery sets itself: an event header of the same name is not repeated. */
const ownDeliveryHeaders: ReadonlySet<string> = new Set(Object.values(consumerHeaders).map((name) => name.toLowerCase()))

/**
 * Header block of a delivered message: the group's headers, then the event's own. The same
 * bytes as `encodeHeaders(deliveryHeaderEntries(…))` (tested), built on the hot path without
 * the entry arrays, the group's lines checked once per address, the integers not at all.
 */
export function deliveryHeaderBlock(address: GroupAddress, term: number, index: number, deliveries: number, event: StreamEvent): Uint8Array {
  let group = groupLines.get(address)
  if (group === undefined) {
    group = headerLines([
      [consumerHeaders.stream, `${address.namespace}/${address.stream}`],
      [consumerHeaders.group, address.group],
    ])
    groupLines.set(address, group)
  }
  let subject: string | undefined
  let tail = ''
  for (const [key, value] of event.headers) {
    if (subject === undefined && key === streamSubjectHeader) subject = value
    if (!ownDeliveryHeaders.has(key.toLowerCase())) tail += checkedLine(key, value)
  }
  const head = `${checkedLine(consumerHeaders.msgId, event.id)}${subject === undefined ? '' : checkedLine(consumerHeaders.subject, subject)}${consumerHeaders.time}: ${event.hlc.wallMs}\r\n`
  // Index, deliveries, time and term are integers: nothing to check. Buffer.from: pooled, cheaper than TextEncoder per message.
  return Buffer.from(`${headerVersionLine}\r\n${group}${consumerHeaders.index}: ${index}\r\n${consumerHeaders.deliveries}: ${deliveries}\r\n${head}${consumerHeaders.term}: ${term}\r\n${tail}\r\n`, 'utf8')
}

/** The entries `deliveryHeaderBlock` encodes, in order (the reference its bytes are tested against). */
export function deliveryHeaderEntries(address: GroupAddress, term: number, index: number, deliveries: number, event: StreamEvent): Array<readonly [string, string]> {
  const subject = event.headers.find(([key]) => key === streamSubjectHeader)?.[1]
  const entries: Array<readonly [string, string]> = [
    [consumerHeaders.stream, `${address.namespace}/${address.stream}`],
    [consumerHeaders.group, address.group],
    [consumerHeaders.index, String(index)],
    [consumerHeaders.deliveries, String(deliveries)],
    [consumerHeaders.msgId, event.id],
    ...(subject === undefined ? [] : [[consumerHeaders.subject, subject] as const]),
    [consumerHeaders.time, String(event.hlc.wallMs)],
    [consumerHeaders.term, String(term)],
  ]
  for (const header of event.headers) if (!ownDeliveryHeaders.has(header[0].toLowerCase())) entries.push(header)
  return entries
}

/** Checked header lines (`key: value\r\n` each): validateHeaders throws InvalidHeaderError on a bad one, as encodeHeaders does. */
function headerLines(entries: ReadonlyArray<readonly [string, string]>): string {
  validateHeaders({ entries })
  let text = ''
  for (const [key, value] of entries) text += `${key}: ${value}\r\n`
  return text
}

/** One checked line (a value from an event: it came from a peer or the store). */
function checkedLine(key: string, value: string): string {
  validateHeaders({ entries: [[key, value]] })
  return `${key}: ${value}\r\n`
}

/** Per group address (a host keeps one address object): its checked lines. */
const groupLines = new WeakMap<GroupAddress, string>()

/** Header block of a status message (no payload). */
export function statusHeaderBlock(address: GroupAddress, term: number, status: 'active' | 'batch-complete'): Uint8Array {
  return encodeHeaders({
    entries: [
      [consumerHeaders.status, status === 'active' ? consumerStatus.active : consumerStatus.batchComplete],
      [consumerHeaders.stream, `${address.namespace}/${address.stream}`],
      [consumerHeaders.group, address.group],
      [consumerHeaders.term, String(term)],
    ],
  })
}

/** A header value must stay on one line: control characters become spaces. */
function headerSafe(text: string): string {
  let out = ''
  for (const char of text) out += char < ' ' || char === '\u007f' ? ' ' : char
  return out.trim()
}

/** Headers of a dead letter: why, then the original event's headers (its subject included). */
export function deadLetterHeaders(address: GroupAddress, order: DeadLetterOrder, event: StreamEvent): Array<readonly [string, string]> {
  const detail = order.detail === undefined ? '' : headerSafe(order.detail)
  const own = new Set(Object.values(dlqHeaders).map((name) => name.toLowerCase()))
  return [
    [dlqHeaders.reason, order.reason],
    [dlqHeaders.deliveries, String(order.deliveries)],
    [dlqHeaders.group, address.group],
    [dlqHeaders.stream, `${address.namespace}/${address.stream}`],
    [dlqHeaders.index, String(order.index)],
    ...(detail === '' ? [] : [[dlqHeaders.detail, detail] as const]),
    ...event.headers.filter(([key]) => !own.has(key.toLowerCase())),
  ]
}

export function jsonBytes(body: Record<string, unknown>): Uint8Array {
  return encoder.encode(JSON.stringify(body))
}

export function failureBody(code: string, message: string, details?: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return { ok: false, error: { code, message, ...(details === undefined || Object.keys(details).length === 0 ? {} : { details }) } }
}
