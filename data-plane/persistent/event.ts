// The stored event of a persistent stream, its binary codec, and its order-preserving storage
// key. Pure. Byte order of `encodeStorageKey` is exactly `compareEventOrder`, so a RocksDB
// iterator over a stream's key range walks events in delivery order (DESIGN §3.2.4, §3.3).
//
// Order key: (hlc, origin, incarnation, originSeq). The incarnation sits between origin and
// sequence because a restarted node is a new incarnation whose sequence starts again at 1:
// without it two incarnations could produce equal keys.
import { compareHlc, decodeHlc, encodeHlc, hlcBytes, isValidHlc } from './hlc.js'
import type { Hlc } from './hlc.js'
import { MalformedEventError, failure, success } from './errors.js'
import type { Outcome } from './errors.js'
import {
  eventHeadersMax,
  eventIdBytesMax,
  eventPayloadBytesMax,
  headerKeyBytesMax,
  headerValueBytesMax,
  incarnationMax,
  originBytesMax,
  originSeqMax,
  streamBytesMax,
} from './limits.js'

export type EventHeader = readonly [key: string, value: string]

export interface StreamEvent {
  /** `namespace/name`. */
  readonly stream: string
  /** Producer id (`Rg-Msg-Id`) or a nuid: the dedup identity. */
  readonly id: string
  readonly hlc: Hlc
  /** Node id of the replica that accepted the write (`[A-Za-z0-9_-]{1,64}`). */
  readonly origin: string
  /** Which life of the origin node (a restart is a new incarnation, ≥ 1). */
  readonly incarnation: number
  /** Contiguous per (origin, incarnation) per stream, from 1. */
  readonly originSeq: number
  readonly headers: readonly EventHeader[]
  readonly payload: Uint8Array
}

/** The position of an event: what orders it and what names it. */
export interface EventPosition {
  readonly hlc: Hlc
  readonly origin: string
  readonly incarnation: number
  readonly originSeq: number
}

const originPattern = /^[A-Za-z0-9_-]{1,64}$/
const codecVersion = 1
const decoder = new TextDecoder('utf-8', { fatal: true })

export const isValidOrigin = (origin: string): boolean => originPattern.test(origin) && origin.length <= originBytesMax
export const isValidIncarnation = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= incarnationMax
export const isValidOriginSeq = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= originSeqMax

/** `origin#incarnation`: the key of one origin incarnation in version vectors and orderers. */
export const originKey = (origin: string, incarnation: number): string => `${origin}#${incarnation}`
export const originKeyOf = (e: { readonly origin: string; readonly incarnation: number }): string => originKey(e.origin, e.incarnation)
/** `origin#incarnation#seq`: the identity of one copy in the set. */
export const copyKeyOf = (e: EventPosition): string => `${e.origin}#${e.incarnation}#${e.originSeq}`

/** Delivery order: (hlc, origin, incarnation, originSeq). */
export function compareEventOrder(a: EventPosition, b: EventPosition): number {
  const byHlc = compareHlc(a.hlc, b.hlc)
  if (byHlc !== 0) return byHlc
  if (a.origin !== b.origin) return a.origin < b.origin ? -1 : 1
  if (a.incarnation !== b.incarnation) return a.incarnation < b.incarnation ? -1 : 1
  if (a.originSeq !== b.originSeq) return a.originSeq < b.originSeq ? -1 : 1
  return 0
}

/**
 * The UTF-8 length of `s` as TextEncoder would encode it (a lone surrogate becomes U+FFFD, three
 * bytes), counted without allocating: validation runs several times per event on the hot path.
 */
export function utf8Bytes(s: string): number {
  let bytes = 0
  for (let i = 0; i < s.length; i += 1) {
    const c = s.charCodeAt(i)
    if (c < 0x80) bytes += 1
    else if (c < 0x800) bytes += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4
      i += 1
    } else bytes += 3
  }
  return bytes
}

/**
 * The bytes of each event object encoded or decoded here, so an event is encoded once for the
 * store, the replication push and the segment digest (issue #5: re-encoding per use was ~6 % of
 * a node's CPU). Events are immutable (every field readonly), and so are these bytes: never
 * modify what `encodeEvent` returns. Weak: an entry lives as long as its event.
 */
const encodedEvents = new WeakMap<StreamEvent, Uint8Array>()

/** Why an event cannot be stored, or null when it is valid. */
export function eventProblem(e: StreamEvent): string | null {
  // An event encoded or decoded here was checked then, and events are immutable.
  if (encodedEvents.has(e)) return null
  return checkEvent(e, null)
}

/**
 * The checks of `eventProblem`; with `lengths`, the UTF-8 lengths it counted are left there
 * (stream, id, then key and value of each header) so the encoder does not count them again.
 */
function checkEvent(e: StreamEvent, lengths: number[] | null): string | null {
  if (typeof e.stream !== 'string' || e.stream.length === 0) return `stream must be 1..${streamBytesMax} UTF-8 bytes`
  const streamLength = utf8Bytes(e.stream)
  if (streamLength > streamBytesMax) return `stream must be 1..${streamBytesMax} UTF-8 bytes`
  if (typeof e.id !== 'string' || e.id.length === 0) return `id must be 1..${eventIdBytesMax} UTF-8 bytes`
  const idLength = utf8Bytes(e.id)
  if (idLength > eventIdBytesMax) return `id must be 1..${eventIdBytesMax} UTF-8 bytes`
  if (!isValidHlc(e.hlc)) return 'hlc out of range'
  if (!isValidOrigin(e.origin)) return `origin must match ${originPattern.source}`
  if (!isValidIncarnation(e.incarnation)) return `incarnation must be an integer in 1..${incarnationMax}`
  if (!isValidOriginSeq(e.originSeq)) return 'originSeq must be a safe integer >= 1'
  if (e.headers.length > eventHeadersMax) return `more than ${eventHeadersMax} headers`
  if (lengths !== null) {
    lengths.length = 0
    lengths.push(streamLength, idLength)
  }
  for (const [key, value] of e.headers) {
    if (key.length === 0) return `header key must be 1..${headerKeyBytesMax} UTF-8 bytes`
    const keyLength = utf8Bytes(key)
    if (keyLength > headerKeyBytesMax) return `header key must be 1..${headerKeyBytesMax} UTF-8 bytes`
    const valueLength = utf8Bytes(value)
    if (valueLength > headerValueBytesMax) return `header value over ${headerValueBytesMax} UTF-8 bytes`
    if (lengths !== null) lengths.push(keyLength, valueLength)
  }
  if (e.payload.length > eventPayloadBytesMax) return `payload over ${eventPayloadBytesMax} bytes`
  return null
}

/** Scratch for checkEvent's lengths (encodeEvent is synchronous: one user at a time). */
const fieldLengths: number[] = []

/**
 * Uninitialized bytes from Node's pooled allocator when there is one (an event's bytes are
 * small; a `new Uint8Array` each is a zero-filled off-heap buffer the GC must track), else a
 * fresh array. Always a plain Uint8Array view (not a Buffer): callers and tests compare payloads
 * as Uint8Array. The encoder writes every byte (checked).
 */
const pooled = (globalThis as { Buffer?: { allocUnsafe(size: number): Uint8Array } }).Buffer
const allocBytes: (size: number) => Uint8Array =
  typeof pooled?.allocUnsafe === 'function'
    ? (size) => {
        const bytes = pooled.allocUnsafe(size)
        return new Uint8Array(bytes.buffer, bytes.byteOffset, size)
      }
    : (size) => new Uint8Array(size)

/**
 * Writes `s` as UTF-8 at `at` exactly as TextEncoder would (a lone surrogate becomes U+FFFD);
 * returns the offset after it. The caller sized `out` with `utf8Bytes(s)`. Event strings are
 * short (ids, names, header fields): a loop beats a TextEncoder call and its allocation.
 */
function writeUtf8(s: string, out: Uint8Array, at: number): number {
  for (let i = 0; i < s.length; i += 1) {
    let c = s.charCodeAt(i)
    if (c < 0x80) {
      out[at++] = c
    } else if (c < 0x800) {
      out[at++] = 0xc0 | (c >>> 6)
      out[at++] = 0x80 | (c & 0x3f)
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0
        if (c <= 0xdbff && (next & 0xfc00) === 0xdc00) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00)
          i += 1
          out[at++] = 0xf0 | (c >>> 18)
          out[at++] = 0x80 | ((c >>> 12) & 0x3f)
          out[at++] = 0x80 | ((c >>> 6) & 0x3f)
          out[at++] = 0x80 | (c & 0x3f)
          continue
        }
        c = 0xfffd
      }
      out[at++] = 0xe0 | (c >>> 12)
      out[at++] = 0x80 | ((c >>> 6) & 0x3f)
      out[at++] = 0x80 | (c & 0x3f)
    }
  }
  return at
}

/** Big-endian unsigned 16/32/64-bit writes (64: a safe integer). */
function writeU16(out: Uint8Array, at: number, v: number): number {
  out[at] = v >>> 8
  out[at + 1] = v & 0xff
  return at + 2
}
function writeU32(out: Uint8Array, at: number, v: number): number {
  out[at] = v >>> 24
  out[at + 1] = (v >>> 16) & 0xff
  out[at + 2] = (v >>> 8) & 0xff
  out[at + 3] = v & 0xff
  return at + 4
}
function writeU64(out: Uint8Array, at: number, v: number): number {
  return writeU32(out, writeU32(out, at, Math.floor(v / 2 ** 32)), v % 2 ** 32)
}


/**
 * Encodes a valid event (once per event object: later calls return the same bytes, which the
 * caller must not modify). An invalid one is a caller bug (validate input with `eventProblem`).
 */
export function encodeEvent(e: StreamEvent): Uint8Array {
  const cached = encodedEvents.get(e)
  if (cached !== undefined) return cached
  const problem = checkEvent(e, fieldLengths)
  if (problem !== null) throw new MalformedEventError(`cannot encode: ${problem}`)
  // Origins are ASCII (isValidOrigin): their length is their byte count.
  const streamLength = fieldLengths[0] as number
  const idLength = fieldLengths[1] as number
  const headers = e.headers
  let headerBytes = 0
  for (let i = 0; i < headers.length; i += 1) headerBytes += 2 + (fieldLengths[2 + 2 * i] as number) + 4 + (fieldLengths[3 + 2 * i] as number)
  const payload = e.payload
  const size = 1 + hlcBytes + 4 + 8 + 1 + e.origin.length + 2 + streamLength + 2 + idLength + 2 + headerBytes + 4 + payload.length
  const out = allocBytes(size)
  out[0] = codecVersion
  encodeHlc(e.hlc, out, 1)
  let at = writeU32(out, 1 + hlcBytes, e.incarnation)
  at = writeU64(out, at, e.originSeq)
  out[at++] = e.origin.length
  at = writeUtf8(e.origin, out, at)
  at = writeU16(out, at, streamLength)
  at = writeUtf8(e.stream, out, at)
  at = writeU16(out, at, idLength)
  at = writeUtf8(e.id, out, at)
  at = writeU16(out, at, headers.length)
  for (let i = 0; i < headers.length; i += 1) {
    const [k, v] = headers[i] as EventHeader
    const keyAt = at
    at = writeUtf8(k, out, at + 2)
    writeU16(out, keyAt, at - keyAt - 2)
    const valueAt = at
    at = writeUtf8(v, out, at + 4)
    writeU32(out, valueAt, at - valueAt - 4)
  }
  at = writeU32(out, at, payload.length)
  out.set(payload, at)
  at += payload.length
  // Invariant: the size computed up front is exactly what was written.
  if (at !== size) throw new Error(`event codec: wrote ${at} of ${size} bytes`)
  encodedEvents.set(e, out)
  return out
}

class Truncated extends Error {}

class Reader {
  offset = 0
  constructor(readonly bytes: Uint8Array) {}
  need(n: number): void {
    if (this.bytes.length - this.offset < n) throw new Truncated(`truncated at byte ${this.offset}: need ${n}, have ${this.bytes.length - this.offset}`)
  }
  u8(): number {
    this.need(1)
    return this.bytes[this.offset++] as number
  }
  u16(): number {
    this.need(2)
    const b = this.bytes
    const at = this.offset
    this.offset = at + 2
    return ((b[at] as number) << 8) | (b[at + 1] as number)
  }
  u32(): number {
    this.need(4)
    const b = this.bytes
    const at = this.offset
    this.offset = at + 4
    return (b[at] as number) * 2 ** 24 + (((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number))
  }
  u64(): number {
    return this.u32() * 2 ** 32 + this.u32()
  }
  /** `n` bytes as text (fatal UTF-8); at most `max` bytes. */
  text(n: number, max: number, what: string): string {
    if (n > max) throw new Truncated(`${what} length ${n} over ${max}`)
    this.need(n)
    const at = this.offset
    this.offset = at + n
    return utf8Text(this.bytes, at, n)
  }
}

/** UTF-8 text of bytes[at, at + n): fatal on bad UTF-8 (TextDecoder throws TypeError). No copy. */
function utf8Text(bytes: Uint8Array, at: number, n: number): string {
  return decoder.decode(bytes.subarray(at, at + n))
}

/**
 * Decodes event bytes; truncation, trailing bytes, bad UTF-8 or invalid fields are refused.
 * The event keeps one copy of `bytes` (its payload is a view into it), which `encodeEvent`
 * returns for it: a copy received from a peer or read from the store is not encoded again.
 */
export function decodeEvent(bytes: Uint8Array): Outcome<StreamEvent, MalformedEventError> {
  const r = new Reader(bytes)
  try {
    const version = r.u8()
    if (version !== codecVersion) return failure(new MalformedEventError(`unknown codec version ${version}`))
    r.need(hlcBytes)
    const hlc = decodeHlc(bytes, r.offset)
    if (!hlc.ok) return hlc
    r.offset += hlcBytes
    const incarnation = r.u32()
    const originSeq = r.u64()
    const origin = r.text(r.u8(), originBytesMax, 'origin')
    const stream = r.text(r.u16(), streamBytesMax, 'stream')
    const id = r.text(r.u16(), eventIdBytesMax, 'id')
    const headerCount = r.u16()
    if (headerCount > eventHeadersMax) return failure(new MalformedEventError(`${headerCount} headers, over ${eventHeadersMax}`))
    const headers: EventHeader[] = []
    for (let i = 0; i < headerCount; i++) {
      const key = r.text(r.u16(), headerKeyBytesMax, 'header key')
      headers.push([key, r.text(r.u32(), headerValueBytesMax, 'header value')])
    }
    const payloadBytes = r.u32()
    if (payloadBytes > eventPayloadBytesMax) return failure(new MalformedEventError(`payload length ${payloadBytes} over ${eventPayloadBytesMax}`))
    r.need(payloadBytes)
    const payloadAt = r.offset
    r.offset += payloadBytes
    if (r.offset !== bytes.length) return failure(new MalformedEventError(`${bytes.length - r.offset} trailing bytes`))
    const own = allocBytes(bytes.length)
    own.set(bytes)
    const event: StreamEvent = { stream, id, hlc: hlc.value, origin, incarnation, originSeq, headers, payload: own.subarray(payloadAt, payloadAt + payloadBytes) }
    const problem = eventProblem(event)
    if (problem !== null) return failure(new MalformedEventError(problem))
    encodedEvents.set(event, own)
    return success(event)
  } catch (error) {
    if (error instanceof Truncated || error instanceof TypeError) return failure(new MalformedEventError(error.message, { cause: error }))
    throw error
  }
}

/** hlc (8) | origin | 0x00 | incarnation (u32 BE) | originSeq (u64 BE). Byte order = delivery order. */
export function encodeStorageKey(p: EventPosition): Uint8Array {
  if (!isValidOrigin(p.origin) || !isValidIncarnation(p.incarnation) || !isValidOriginSeq(p.originSeq)) throw new MalformedEventError('cannot encode storage key: invalid position')
  // Origins are ASCII (isValidOrigin).
  const out = new Uint8Array(hlcBytes + p.origin.length + 1 + 4 + 8)
  encodeHlc(p.hlc, out, 0)
  let at = writeUtf8(p.origin, out, hlcBytes)
  out[at++] = 0
  at = writeU32(out, at, p.incarnation)
  writeU64(out, at, p.originSeq)
  return out
}

/**
 * The storage key of `p` as lowercase hex (the ack's `position`), without building the bytes.
 * Equal to hex(encodeStorageKey(p)).
 */
export function storageKeyHex(p: EventPosition): string {
  if (!isValidOrigin(p.origin) || !isValidIncarnation(p.incarnation) || !isValidOriginSeq(p.originSeq)) throw new MalformedEventError('cannot encode storage key: invalid position')
  const high = Math.floor(p.hlc.wallMs / 2 ** 16)
  let text = hex32(high) + hex16(p.hlc.wallMs % 2 ** 16) + hex16(p.hlc.logical)
  for (let i = 0; i < p.origin.length; i += 1) text += hexByte(p.origin.charCodeAt(i))
  return text + '00' + hex32(p.incarnation) + hex32(Math.floor(p.originSeq / 2 ** 32)) + hex32(p.originSeq % 2 ** 32)
}

const hexBytes = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'))
const hexByte = (b: number): string => hexBytes[b] as string
const hex16 = (v: number): string => hexByte(v >>> 8) + hexByte(v & 0xff)
const hex32 = (v: number): string => hex16(Math.floor(v / 2 ** 16)) + hex16(v % 2 ** 16)

export function decodeStorageKey(bytes: Uint8Array): Outcome<EventPosition, MalformedEventError> {
  const hlc = decodeHlc(bytes, 0)
  if (!hlc.ok) return hlc
  const end = bytes.indexOf(0, hlcBytes)
  if (end < 0 || bytes.length !== end + 1 + 12) return failure(new MalformedEventError('storage key: bad length or missing origin terminator'))
  let origin: string
  try {
    origin = utf8Text(bytes, hlcBytes, end - hlcBytes)
  } catch (error) {
    return failure(new MalformedEventError('storage key: origin is not UTF-8', { cause: error }))
  }
  const r = new Reader(bytes)
  r.offset = end + 1
  const p: EventPosition = { hlc: hlc.value, origin, incarnation: r.u32(), originSeq: r.u64() }
  if (!isValidOrigin(p.origin) || !isValidIncarnation(p.incarnation) || !isValidOriginSeq(p.originSeq)) return failure(new MalformedEventError('storage key: invalid position'))
  return success(p)
}

/** Unsigned lexicographic byte comparison (RocksDB's default comparator). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number)
    if (d !== 0) return d < 0 ? -1 : 1
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1
}
