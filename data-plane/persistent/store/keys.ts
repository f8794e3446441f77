// The event store's key spaces (RocksDB column families) and their key layouts. Every key of a
// stream starts with its 4-byte stream number (assigned once, recorded in `ps-meta`), so a
// stream's keys are one contiguous range and byte order inside it is the order that matters:
//
//   ps-events       streamNo | storageKey                         → encodeEvent(event)
//   ps-origin-seqs  streamNo | origin 0x00 | incarnation | seq    → hlc (8 bytes)
//   ps-ids          streamNo | idLen u16 | id | storageKey        → (empty)
//   ps-index        streamNo | index u64                          → storageKey
//   ps-groups       streamNo | group name                         → progress record (caller's bytes)
//   ps-records      streamNo | seq u64                            → decision record (caller's bytes)
//   ps-meta         'n' name → streamNo · 's' streamNo → stream metadata (JSON)
//
// storageKey = hlc | origin 0x00 | incarnation | originSeq (event.ts): byte order = delivery order.
import { decodeHlc, encodeHlc, hlcBytes, isValidHlc } from '../hlc.js'
import type { Hlc } from '../hlc.js'
import { encodeStorageKey, isValidIncarnation, isValidOrigin, isValidOriginSeq } from '../event.js'
import { MalformedEventError } from '../errors.js'
import type { EventPosition } from '../event.js'

export const eventsKeySpace = 'ps-events'
export const originSeqsKeySpace = 'ps-origin-seqs'
export const idsKeySpace = 'ps-ids'
export const indexKeySpace = 'ps-index'
export const groupsKeySpace = 'ps-groups'
export const metaKeySpace = 'ps-meta'
export const recordsKeySpace = 'ps-records'

/** Every key space the store needs; open the storage with all of them (plus any of your own). */
export const eventStoreKeySpaces = [eventsKeySpace, originSeqsKeySpace, idsKeySpace, indexKeySpace, groupsKeySpace, metaKeySpace, recordsKeySpace] as const

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export const streamNoBytes = 4

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let size = 0
  for (const part of parts) size += part.length
  const out = new Uint8Array(size)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

function u32(value: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, value)
  return out
}

function u64(value: number): Uint8Array {
  const out = new Uint8Array(8)
  const view = new DataView(out.buffer)
  view.setUint32(0, Math.floor(value / 2 ** 32))
  view.setUint32(4, value % 2 ** 32)
  return out
}

export function readU64(bytes: Uint8Array, offset: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return view.getUint32(offset) * 2 ** 32 + view.getUint32(offset + 4)
}

export const streamPrefix = (streamNo: number): Uint8Array => u32(streamNo)
/** The first key after every key of `streamNo` (exclusive upper bound of its range). */
export const streamEnd = (streamNo: number): Uint8Array => u32(streamNo + 1)

export const eventKey = (streamNo: number, storageKey: Uint8Array): Uint8Array => concatBytes(u32(streamNo), storageKey)
export const eventKeyOf = (streamNo: number, position: EventPosition): Uint8Array => eventKey(streamNo, encodeStorageKey(position))
/** The storage key inside an `ps-events` key. */
export const storageKeyOfEventKey = (key: Uint8Array): Uint8Array => key.subarray(streamNoBytes)

/** origin 0x00 incarnation: the prefix of one origin incarnation's sequence keys. */
export function originSeqPrefix(streamNo: number, origin: string, incarnation: number): Uint8Array {
  return concatBytes(u32(streamNo), encoder.encode(origin), Uint8Array.of(0), u32(incarnation))
}
export const originSeqKey = (streamNo: number, origin: string, incarnation: number, seq: number): Uint8Array =>
  concatBytes(originSeqPrefix(streamNo, origin, incarnation), u64(seq))
/** The sequence at the end of an `ps-origin-seqs` key. */
export const seqOfOriginSeqKey = (key: Uint8Array): number => readU64(key, key.length - 8)

/** An origin-seq entry back to the event's storage key. */
export function storageKeyFromOriginSeq(origin: string, incarnation: number, seq: number, hlcValue: Uint8Array): Uint8Array {
  const hlc = decodeHlc(hlcValue)
  if (!hlc.ok || hlcValue.length !== hlcBytes) throw new Error('event store: corrupt origin-seq entry')
  return encodeStorageKey({ hlc: hlc.value, origin, incarnation, originSeq: seq })
}

export const hlcValue = (hlc: Hlc): Uint8Array => encodeHlc(hlc)

// The append path builds its three keys with one pooled allocation each (Buffer.allocUnsafe
// draws small buffers from a shared pool): small typed arrays and TextEncoder calls per key
// were most of the append CPU (profiled: garbage collection, encode, DataView).
const originBytesCache = new Map<string, Buffer>()
const originBytesCacheMax = 4096

function originBytesOf(origin: string): Buffer {
  let bytes = originBytesCache.get(origin)
  if (bytes === undefined) {
    if (originBytesCache.size >= originBytesCacheMax) originBytesCache.clear()
    bytes = Buffer.from(origin, 'utf8')
    originBytesCache.set(origin, bytes)
  }
  return bytes
}

export interface AppendKeys {
  /** `ps-events` key: streamNo | storageKey (the storage key is `storageKeyOfEventKey(eventKey)`, a view built only when needed). */
  readonly eventKey: Buffer
  /** `ps-origin-seqs` key. */
  readonly originSeqKey: Buffer
  /** Its value: the hlc (a view into eventKey). */
  readonly hlc: Buffer
}

/** The keys of one event (same bytes as eventKey/originSeqKey above, built in one pass). */
export function appendKeys(streamNo: number, position: EventPosition): AppendKeys {
  const origin = originBytesOf(position.origin)
  const n = origin.length
  const eventKey = Buffer.allocUnsafe(streamNoBytes + hlcBytes + n + 1 + 12)
  eventKey.writeUInt32BE(streamNo, 0)
  eventKey.writeUIntBE(position.hlc.wallMs, 4, 6)
  eventKey.writeUInt16BE(position.hlc.logical, 10)
  origin.copy(eventKey, 12)
  eventKey[12 + n] = 0
  eventKey.writeUInt32BE(position.incarnation, 13 + n)
  eventKey.writeUInt32BE(Math.floor(position.originSeq / 2 ** 32), 17 + n)
  eventKey.writeUInt32BE(position.originSeq % 2 ** 32, 21 + n)
  const originSeqKey = Buffer.allocUnsafe(streamNoBytes + n + 1 + 12)
  eventKey.copy(originSeqKey, 0, 0, streamNoBytes)
  eventKey.copy(originSeqKey, streamNoBytes, 12)
  return { eventKey, originSeqKey, hlc: eventKey.subarray(streamNoBytes, streamNoBytes + hlcBytes) }
}

/** `ps-ids` key of an event whose `ps-events` key is given (its storage key copied from it). */
export function appendIdKey(streamNo: number, id: string, eventKey: Buffer): Buffer {
  const idLength = Buffer.byteLength(id, 'utf8')
  const key = Buffer.allocUnsafe(streamNoBytes + 2 + idLength + eventKey.length - streamNoBytes)
  key.writeUInt32BE(streamNo, 0)
  key.writeUInt16BE(idLength, 4)
  key.write(id, 6, 'utf8')
  eventKey.copy(key, 6 + idLength, streamNoBytes)
  return key
}

export function idPrefix(streamNo: number, id: string): Uint8Array {
  const idBytes = encoder.encode(id)
  const length = new Uint8Array(2)
  new DataView(length.buffer).setUint16(0, idBytes.length)
  return concatBytes(u32(streamNo), length, idBytes)
}
export const idKey = (streamNo: number, id: string, storageKey: Uint8Array): Uint8Array => concatBytes(idPrefix(streamNo, id), storageKey)
/** The storage key at the end of an `ps-ids` key. */
export function storageKeyOfIdKey(key: Uint8Array): Uint8Array {
  const idLength = new DataView(key.buffer, key.byteOffset, key.byteLength).getUint16(streamNoBytes)
  return key.subarray(streamNoBytes + 2 + idLength)
}

export const indexKey = (streamNo: number, index: number): Uint8Array => concatBytes(u32(streamNo), u64(index))
export const indexOfIndexKey = (key: Uint8Array): number => readU64(key, streamNoBytes)

export const recordKey = (streamNo: number, seq: number): Uint8Array => concatBytes(u32(streamNo), u64(seq))
export const seqOfRecordKey = (key: Uint8Array): number => readU64(key, streamNoBytes)

export const groupKey = (streamNo: number, group: string): Uint8Array => concatBytes(u32(streamNo), encoder.encode(group))
export const groupOfGroupKey = (key: Uint8Array): string => decoder.decode(key.subarray(streamNoBytes))

export const streamNameKey = (name: string): Uint8Array => concatBytes(encoder.encode('n'), encoder.encode(name))
export const streamNameKeyPrefix = encoder.encode('n')
export const streamMetaKey = (streamNo: number): Uint8Array => concatBytes(encoder.encode('s'), u32(streamNo))
export const streamMetaKeyPrefix = encoder.encode('s')
export const streamNoOfMetaKey = (key: Uint8Array): number => new DataView(key.buffer, key.byteOffset, key.byteLength).getUint32(1)
export const encodeStreamNo = u32
export const decodeStreamNo = (value: Uint8Array): number => new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(0)

export const utf8 = (text: string): Uint8Array => encoder.encode(text)
export const fromUtf8 = (bytes: Uint8Array): string => decoder.decode(bytes)

/**
 * A delivery-index value (`ps-index`): the event's storage key, then (records written since the
 * replica's restart reads its dedup window from the index) the event's id in UTF-8. A storage
 * key delimits itself (hlc 8 · origin · 0x00 · incarnation 4 · seq 8), so values without the id
 * read the same.
 */
export function indexValue(storageKey: Uint8Array, id: string | undefined): Uint8Array {
  return id === undefined ? storageKey : concatBytes(storageKey, encoder.encode(id))
}

/** `ps-index` key of delivery `index` (same bytes as indexKey), one pooled allocation. */
export function appendIndexKey(streamNo: number, index: number): Buffer {
  const key = Buffer.allocUnsafe(streamNoBytes + 8)
  key.writeUInt32BE(streamNo, 0)
  key.writeUInt32BE(Math.floor(index / 2 ** 32), 4)
  key.writeUInt32BE(index % 2 ** 32, 8)
  return key
}

/** Bytes of the storage key of `position` (hlc · origin · 0x00 · incarnation · originSeq); origins are ASCII. */
export const storageKeyBytes = (position: EventPosition): number => hlcBytes + position.origin.length + 1 + 12

/**
 * The delivery-index value of `position` (same bytes as `indexValue(encodeStorageKey(position),
 * id)`), built in one pooled allocation without the intermediate key. An invalid position is
 * refused as encodeStorageKey refuses it (MalformedEventError).
 */
export function appendIndexValue(position: EventPosition, id: string | undefined): Buffer {
  if (!isValidHlc(position.hlc) || !isValidOrigin(position.origin) || !isValidIncarnation(position.incarnation) || !isValidOriginSeq(position.originSeq)) {
    throw new MalformedEventError('cannot encode storage key: invalid position')
  }
  const origin = originBytesOf(position.origin)
  const n = origin.length
  const idLength = id === undefined ? 0 : Buffer.byteLength(id, 'utf8')
  const value = Buffer.allocUnsafe(hlcBytes + n + 1 + 12 + idLength)
  value.writeUIntBE(position.hlc.wallMs, 0, 6)
  value.writeUInt16BE(position.hlc.logical, 6)
  origin.copy(value, hlcBytes)
  value[hlcBytes + n] = 0
  value.writeUInt32BE(position.incarnation, hlcBytes + n + 1)
  value.writeUInt32BE(Math.floor(position.originSeq / 2 ** 32), hlcBytes + n + 5)
  value.writeUInt32BE(position.originSeq % 2 ** 32, hlcBytes + n + 9)
  if (id !== undefined) value.write(id, hlcBytes + n + 13, 'utf8')
  return value
}

/** The length of the storage key at the front of `bytes`. */
function storageKeyLength(bytes: Uint8Array): number {
  const terminator = bytes.indexOf(0, hlcBytes)
  if (terminator < 0 || terminator + 13 > bytes.length) throw new Error('event store: corrupt delivery-index value')
  return terminator + 13
}

export const storageKeyOfIndexValue = (value: Uint8Array): Uint8Array => value.subarray(0, storageKeyLength(value))

/** The id a delivery-index value carries, or undefined (a value written without it). */
export function idOfIndexValue(value: Uint8Array): string | undefined {
  const end = storageKeyLength(value)
  return end === value.length ? undefined : decoder.decode(value.subarray(end))
}

/** The hlc at the front of a storage key. */
export function hlcOfStorageKey(storageKey: Uint8Array): Hlc {
  const hlc = decodeHlc(storageKey)
  if (!hlc.ok) throw new Error('event store: corrupt storage key')
  return hlc.value
}
