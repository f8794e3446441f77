// How the durable Raft storage lays its records out in the shared `Storage` adapter's key spaces.
// Pure: no node:* imports. Every decoder checks what it reads and throws a RaftRecordError (the
// caller treats it as corruption: the node refuses to start).
//
// raft-log       key: u64 BE index           value: u8 version | u8 type | u64 BE term | data
// raft-state     key: 'hard'                 value: JSON {term, vote, commit}
//                key: 'conf'                 value: JSON ConfState (the bootstrap configuration)
//                key: 'applied'              value: JSON number (the application state's index, = snapshot)
// raft-snapshot  key: 'snapshot'             value: u32 BE metadata length | JSON metadata | data
import type { ConfState, Entry, HardState, Snapshot, SnapshotMetadata } from '../raft/index.js'
import { entryTypes } from '../raft/index.js'

export const raftLogKeySpace = 'raft-log'
export const raftStateKeySpace = 'raft-state'
export const raftSnapshotKeySpace = 'raft-snapshot'
/** Open the shared storage with (at least) these key spaces. */
export const raftKeySpaces = [raftLogKeySpace, raftStateKeySpace, raftSnapshotKeySpace] as const

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export const hardStateKey = encoder.encode('hard')
export const confStateKey = encoder.encode('conf')
export const appliedKey = encoder.encode('applied')
export const snapshotKey = encoder.encode('snapshot')

const entryRecordVersion = 1
const entryHeaderBytes = 1 + 1 + 8
const twoTo32 = 2 ** 32

export class RaftRecordError extends Error {
  override readonly name = 'RaftRecordError'
}

function writeU64(view: DataView, offset: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RaftRecordError(`not a u64: ${value}`)
  view.setUint32(offset, Math.floor(value / twoTo32))
  view.setUint32(offset + 4, value % twoTo32)
}

function readU64(view: DataView, offset: number): number {
  const value = view.getUint32(offset) * twoTo32 + view.getUint32(offset + 4)
  if (!Number.isSafeInteger(value)) throw new RaftRecordError(`u64 beyond 2^53 at byte ${offset}`)
  return value
}

/** Big-endian, so byte order is index order (range scans come out sorted). */
export function logKey(index: number): Uint8Array {
  const key = new Uint8Array(8)
  writeU64(new DataView(key.buffer), 0, index)
  return key
}

export function decodeLogKey(key: Uint8Array): number {
  if (key.length !== 8) throw new RaftRecordError(`raft-log key of ${key.length} bytes`)
  return readU64(new DataView(key.buffer, key.byteOffset, key.byteLength), 0)
}

export function encodeEntry(entry: Entry): Uint8Array {
  const out = new Uint8Array(entryHeaderBytes + entry.data.length)
  const view = new DataView(out.buffer)
  out[0] = entryRecordVersion
  out[1] = entryTypes.indexOf(entry.type)
  writeU64(view, 2, entry.term)
  out.set(entry.data, entryHeaderBytes)
  return out
}

export function decodeEntry(index: number, value: Uint8Array): Entry {
  if (value.length < entryHeaderBytes) throw new RaftRecordError(`entry ${index}: ${value.length} bytes is shorter than its header`)
  if (value[0] !== entryRecordVersion) throw new RaftRecordError(`entry ${index}: unknown record version ${value[0]}`)
  const type = entryTypes[value[1] as number]
  if (type === undefined) throw new RaftRecordError(`entry ${index}: unknown entry type ${value[1]}`)
  const term = readU64(new DataView(value.buffer, value.byteOffset, value.byteLength), 2)
  return { index, term, type, data: value.slice(entryHeaderBytes) }
}

function parseJson(what: string, value: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(value)) as unknown
  } catch (error) {
    throw new RaftRecordError(`${what}: not JSON: ${String(error)}`)
  }
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

function isIdList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((id) => typeof id === 'string')
}

export function encodeJson(value: HardState | ConfState | number): Uint8Array {
  return encoder.encode(JSON.stringify(value))
}

export function decodeHardState(value: Uint8Array): HardState {
  const parsed = parseJson('hard state', value) as Record<string, unknown> | null
  if (parsed === null || typeof parsed !== 'object') throw new RaftRecordError('hard state: not an object')
  const { term, vote, commit } = parsed
  if (!isCount(term) || !isCount(commit) || !(vote === null || typeof vote === 'string')) {
    throw new RaftRecordError(`hard state: bad fields ${decoder.decode(value)}`)
  }
  return { term, vote, commit }
}

export function checkConfState(what: string, value: unknown): ConfState {
  const parsed = value as Record<string, unknown> | null
  if (parsed === null || typeof parsed !== 'object') throw new RaftRecordError(`${what}: not an object`)
  const { voters, learners, votersOutgoing } = parsed
  if (!isIdList(voters) || !isIdList(learners) || !isIdList(votersOutgoing)) throw new RaftRecordError(`${what}: bad id lists`)
  return { voters, learners, votersOutgoing }
}

export function decodeConfState(value: Uint8Array): ConfState {
  return checkConfState('conf state', parseJson('conf state', value))
}

export function decodeApplied(value: Uint8Array): number {
  const parsed = parseJson('applied index', value)
  if (!isCount(parsed)) throw new RaftRecordError(`applied index: not a count: ${String(parsed)}`)
  return parsed
}

export function encodeSnapshot(snapshot: Snapshot): Uint8Array {
  const metadata = encoder.encode(JSON.stringify(snapshot.metadata))
  const out = new Uint8Array(4 + metadata.length + snapshot.data.length)
  new DataView(out.buffer).setUint32(0, metadata.length)
  out.set(metadata, 4)
  out.set(snapshot.data, 4 + metadata.length)
  return out
}

export function decodeSnapshot(value: Uint8Array): Snapshot {
  if (value.length < 4) throw new RaftRecordError('snapshot: shorter than its header')
  const metadataBytes = new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(0)
  if (4 + metadataBytes > value.length) throw new RaftRecordError(`snapshot: metadata of ${metadataBytes} bytes overruns the record`)
  const parsed = parseJson('snapshot metadata', value.subarray(4, 4 + metadataBytes)) as Record<string, unknown> | null
  if (parsed === null || typeof parsed !== 'object') throw new RaftRecordError('snapshot metadata: not an object')
  const { index, term, confState } = parsed
  if (!isCount(index) || !isCount(term)) throw new RaftRecordError('snapshot metadata: bad index or term')
  const metadata: SnapshotMetadata = { index, term, confState: checkConfState('snapshot conf state', confState) }
  return { metadata, data: value.slice(4 + metadataBytes) }
}
