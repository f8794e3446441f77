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
const encoder = new TextEncoder()
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

/** Why an event cannot be stored, or null when it is valid. */
export function eventProblem(e: StreamEvent): string | null {
  if (typeof e.stream !== 'string' || e.stream.length === 0 || utf8Bytes(e.stream) > streamBytesMax) return `stream must be 1..${streamBytesMax} UTF-8 bytes`
  if (typeof e.id !== 'string' || e.id.length === 0 || utf8Bytes(e.id) > eventIdBytesMax) return `id must be 1..${eventIdBytesMax} UTF-8 bytes`
  if (!isValidHlc(e.hlc)) return 'hlc out of range'
  if (!isValidOrigin(e.origin)) return `origin must match ${originPattern.source}`
  if (!isValidIncarnation(e.incarnation)) return `incarnation must be an integer in 1..${incarnationMax}`
  if (!isValidOriginSeq(e.originSeq)) return 'originSeq must be a safe integer >= 1'
  if (e.headers.length > eventHeadersMax) return `more than ${eventHeadersMax} headers`
  for (const [key, value] of e.headers) {
    if (key.length === 0 || utf8Bytes(key) > headerKeyBytesMax) return `header key must be 1..${headerKeyBytesMax} UTF-8 bytes`
    if (utf8Bytes(value) > headerValueBytesMax) return `header value over ${headerValueBytesMax} UTF-8 bytes`
  }
  if (e.payload.length > eventPayloadBytesMax) return `payload over ${eventPayloadBytesMax} bytes`
  return null
}

class Writer {
  readonly bytes: Uint8Array
  offset = 0
  constructor(size: number) {
    this.bytes = new Uint8Array(size)
  }
  u8(v: number): void {
    this.bytes[this.offset++] = v
  }
  u16(v: number): void {
    this.u8(v >>> 8)
    this.u8(v & 0xff)
  }
  u32(v: number): void {
    this.u16(v >>> 16)
    this.u16(v & 0xffff)
  }
  u64(v: number): void {
    this.u32(Math.floor(v / 2 ** 32))
    this.u32(v % 2 ** 32)
  }
  raw(b: Uint8Array): void {
    this.bytes.set(b, this.offset)
    this.offset += b.length
  }
}

/** Encodes a valid event. An invalid one is a caller bug (validate input with `eventProblem`). */
export function encodeEvent(e: StreamEvent): Uint8Array {
  const problem = eventProblem(e)
  if (problem !== null) throw new MalformedEventError(`cannot encode: ${problem}`)
  const stream = encoder.encode(e.stream)
  const id = encoder.encode(e.id)
  const origin = encoder.encode(e.origin)
  const headers = e.headers.map(([k, v]) => [encoder.encode(k), encoder.encode(v)] as const)
  const size = 1 + hlcBytes + 4 + 8 + 1 + origin.length + 2 + stream.length + 2 + id.length + 2 + headers.reduce((n, [k, v]) => n + 2 + k.length + 4 + v.length, 0) + 4 + e.payload.length
  const w = new Writer(size)
  w.u8(codecVersion)
  encodeHlc(e.hlc, w.bytes, w.offset)
  w.offset += hlcBytes
  w.u32(e.incarnation)
  w.u64(e.originSeq)
  w.u8(origin.length)
  w.raw(origin)
  w.u16(stream.length)
  w.raw(stream)
  w.u16(id.length)
  w.raw(id)
  w.u16(headers.length)
  for (const [k, v] of headers) {
    w.u16(k.length)
    w.raw(k)
    w.u32(v.length)
    w.raw(v)
  }
  w.u32(e.payload.length)
  w.raw(e.payload)
  // Invariant: the size computed up front is exactly what was written.
  if (w.offset !== size) throw new Error(`event codec: wrote ${w.offset} of ${size} bytes`)
  return w.bytes
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
    return (this.u8() << 8) | this.u8()
  }
  u32(): number {
    return this.u16() * 2 ** 16 + this.u16()
  }
  u64(): number {
    return this.u32() * 2 ** 32 + this.u32()
  }
  raw(n: number): Uint8Array {
    this.need(n)
    const out = this.bytes.slice(this.offset, this.offset + n)
    this.offset += n
    return out
  }
  text(n: number, max: number, what: string): string {
    if (n > max) throw new Truncated(`${what} length ${n} over ${max}`)
    return decoder.decode(this.raw(n))
  }
}

/** Decodes event bytes; truncation, trailing bytes, bad UTF-8 or invalid fields are refused. */
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
    const payload = r.raw(payloadBytes)
    if (r.offset !== bytes.length) return failure(new MalformedEventError(`${bytes.length - r.offset} trailing bytes`))
    const event: StreamEvent = { stream, id, hlc: hlc.value, origin, incarnation, originSeq, headers, payload }
    const problem = eventProblem(event)
    return problem === null ? success(event) : failure(new MalformedEventError(problem))
  } catch (error) {
    if (error instanceof Truncated || error instanceof TypeError) return failure(new MalformedEventError(error.message, { cause: error }))
    throw error
  }
}

/** hlc (8) | origin | 0x00 | incarnation (u32 BE) | originSeq (u64 BE). Byte order = delivery order. */
export function encodeStorageKey(p: EventPosition): Uint8Array {
  if (!isValidOrigin(p.origin) || !isValidIncarnation(p.incarnation) || !isValidOriginSeq(p.originSeq)) throw new MalformedEventError('cannot encode storage key: invalid position')
  const origin = encoder.encode(p.origin)
  const w = new Writer(hlcBytes + origin.length + 1 + 4 + 8)
  encodeHlc(p.hlc, w.bytes, 0)
  w.offset = hlcBytes
  w.raw(origin)
  w.u8(0)
  w.u32(p.incarnation)
  w.u64(p.originSeq)
  return w.bytes
}

export function decodeStorageKey(bytes: Uint8Array): Outcome<EventPosition, MalformedEventError> {
  const hlc = decodeHlc(bytes, 0)
  if (!hlc.ok) return hlc
  const end = bytes.indexOf(0, hlcBytes)
  if (end < 0 || bytes.length !== end + 1 + 12) return failure(new MalformedEventError('storage key: bad length or missing origin terminator'))
  let origin: string
  try {
    origin = decoder.decode(bytes.subarray(hlcBytes, end))
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
