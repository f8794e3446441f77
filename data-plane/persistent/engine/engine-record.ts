// The engine's own per-stream record, in its key space `ps-engine`: this node's incarnation for
// the stream (+1 on every start, persisted before anything is published) and the close
// decisions applied so far (the event store does not keep them yet: store/README "Not here").
// Value: UTF-8 JSON `{incarnation, closes}`; key: the stream name.
import type { Storage } from '../../../shared/storage/index.js'
import type { CloseDecision } from '../order.js'
import { engineRecordBytesMax } from './limits.js'

/** The engine's key space: open it with the event store's (`engineKeySpaces`). */
export const engineKeySpace = 'ps-engine'

export interface EngineRecord {
  readonly incarnation: number
  readonly closes: readonly CloseDecision[]
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export async function readEngineRecord(storage: Storage, stream: string): Promise<EngineRecord | undefined> {
  const bytes = await storage.get(engineKeySpace, encoder.encode(stream))
  if (bytes === undefined) return undefined
  const value = JSON.parse(decoder.decode(bytes)) as EngineRecord
  if (!Number.isSafeInteger(value.incarnation) || value.incarnation < 1 || !Array.isArray(value.closes)) {
    throw new Error(`persistent engine: the record of stream ${stream} is malformed`)
  }
  return value
}

/** Writes and syncs the record (resolves once durable). */
export async function writeEngineRecord(storage: Storage, stream: string, record: EngineRecord): Promise<void> {
  const bytes = encoder.encode(JSON.stringify(record))
  if (bytes.length > engineRecordBytesMax) throw new RangeError(`persistent engine: record of ${stream} over engineRecordBytesMax (${engineRecordBytesMax})`)
  await storage.put(engineKeySpace, encoder.encode(stream), bytes, { sync: true })
}
