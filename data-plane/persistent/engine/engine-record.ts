// The engine's own per-stream record, in its key space `ps-engine`: this node's incarnation for
// the stream (+1 on every start, persisted before anything is published) and the replica set
// the stream's history was built with (its first origins: a restart keeps it). Close decisions
// and fences live in the event store's decision records (decision-records.ts), written with the
// events; `closes` here only holds what engines before that wrote (read back first on restore).
// Value: UTF-8 JSON `{incarnation, closes, replicas?}`; key: the stream name.
import type { Storage } from '../../../shared/storage/index.js'
import type { CloseDecision } from '../order.js'
import { engineRecordBytesMax } from './limits.js'

/** The engine's key space: open it with the event store's (`engineKeySpaces`). */
export const engineKeySpace = 'ps-engine'

export interface EngineRecord {
  readonly incarnation: number
  /** Legacy: decisions older engines kept here (new ones go to the store's decision records). */
  readonly closes: readonly CloseDecision[]
  /** The replica set this node opened the stream with (absent in records of older engines). */
  readonly replicas?: readonly string[]
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export async function readEngineRecord(storage: Storage, stream: string): Promise<EngineRecord | undefined> {
  const bytes = await storage.get(engineKeySpace, encoder.encode(stream))
  if (bytes === undefined) return undefined
  const value = JSON.parse(decoder.decode(bytes)) as EngineRecord
  const replicasOk = value.replicas === undefined || (Array.isArray(value.replicas) && value.replicas.every((r) => typeof r === 'string' && r.length > 0))
  if (!Number.isSafeInteger(value.incarnation) || value.incarnation < 1 || !Array.isArray(value.closes) || !replicasOk) {
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
