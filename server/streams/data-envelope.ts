// What persistent streams carry on the peer transport's `data` channel: one small envelope per
// frame, its first byte the kind. Pure (no I/O); every read is bounds-checked and every length
// bounded before anything is allocated, so a corrupt or hostile frame is a DecodeResult error,
// never a throw or a large allocation (the caller counts and logs it).
//
//   1 replica   | replica message bytes (data-plane/persistent/replica/codec.ts; names its stream)
//   2 forward   | requestId u32 | stream s16 | id s16 | ackLevel u8 | headers u16 × (key s16,
//                 value s32) | payload u32+bytes        a non-replica hands a publish to a replica
//   3 answer    | requestId u32 | JSON u32+bytes         the replica's ack for a forward
//   4 claim     | JSON u32+bytes                         a restarted replica asks the stream
//                                                          controller for its origin slot
// (s16 = u16 length + UTF-8; s32 = u32 length + UTF-8; integers big-endian.)
import type { EventHeader, EventPosition } from '../../data-plane/persistent/index.js'
import { ackLevels, isValidHlc, persistentLimits } from '../../data-plane/persistent/index.js'
import type { AckLevel, Hlc } from '../../data-plane/persistent/index.js'

/** Largest JSON part of an answer or a claim. */
export const envelopeJsonBytesMax = 64 * 1024

export const envelopeKinds = { replica: 1, forward: 2, answer: 3, claim: 4 } as const

export interface ForwardRequest {
  readonly kind: 'forward'
  readonly requestId: number
  /** `namespace/name`. */
  readonly stream: string
  readonly id: string
  readonly ackLevel: AckLevel
  readonly headers: readonly EventHeader[]
  readonly payload: Uint8Array
}

/** The replica's answer to a forward: the ack fields of `PublishAck`, or a refusal code. */
export type ForwardAnswer =
  | { readonly kind: 'answer'; readonly requestId: number; readonly ok: true; readonly level: AckLevel; readonly position: EventPosition; readonly duplicate: boolean; readonly survivor: EventPosition | null }
  | { readonly kind: 'answer'; readonly requestId: number; readonly ok: false; readonly code: string; readonly message: string }

export interface ClaimEnvelope {
  readonly kind: 'claim'
  readonly stream: string
  readonly origin: string
  readonly incarnation: number
  readonly fromHlc: Hlc
}

export type DataEnvelope = { readonly kind: 'replica'; readonly bytes: Uint8Array } | ForwardRequest | ForwardAnswer | ClaimEnvelope

export type DecodeResult = { readonly ok: true; readonly value: DataEnvelope } | { readonly ok: false; readonly error: string }

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

class Writer {
  readonly #parts: Uint8Array[] = []
  #length = 0
  push(part: Uint8Array): this {
    this.#parts.push(part)
    this.#length += part.length
    return this
  }
  u8(value: number): this {
    return this.push(Uint8Array.of(value))
  }
  u16(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff) throw new RangeError(`data envelope: u16 out of range: ${value}`)
    return this.push(Uint8Array.of(value >>> 8, value & 0xff))
  }
  u32(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`data envelope: u32 out of range: ${value}`)
    const out = new Uint8Array(4)
    new DataView(out.buffer).setUint32(0, value)
    return this.push(out)
  }
  s16(text: string): this {
    const bytes = encoder.encode(text)
    return this.u16(bytes.length).push(bytes)
  }
  b32(bytes: Uint8Array): this {
    return this.u32(bytes.length).push(bytes)
  }
  finish(): Uint8Array {
    const out = new Uint8Array(this.#length)
    let at = 0
    for (const part of this.#parts) {
      out.set(part, at)
      at += part.length
    }
    return out
  }
}

class ReadError extends Error {}

class Reader {
  #at = 0
  constructor(readonly bytes: Uint8Array) {}
  #need(n: number): void {
    if (this.#at + n > this.bytes.length) throw new ReadError(`truncated at byte ${this.#at} (needs ${n} more)`)
  }
  u8(): number {
    this.#need(1)
    return this.bytes[this.#at++] as number
  }
  u16(): number {
    this.#need(2)
    const value = ((this.bytes[this.#at] as number) << 8) | (this.bytes[this.#at + 1] as number)
    this.#at += 2
    return value
  }
  u32(): number {
    this.#need(4)
    const value = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.#at, 4).getUint32(0)
    this.#at += 4
    return value
  }
  raw(length: number, max: number, what: string): Uint8Array {
    if (length > max) throw new ReadError(`${what}: ${length} bytes over the limit ${max}`)
    this.#need(length)
    const out = this.bytes.subarray(this.#at, this.#at + length)
    this.#at += length
    return out
  }
  s16(max: number, what: string): string {
    return decoder.decode(this.raw(this.u16(), max, what))
  }
  s32(max: number, what: string): string {
    return decoder.decode(this.raw(this.u32(), max, what))
  }
  rest(): Uint8Array {
    const out = this.bytes.subarray(this.#at)
    this.#at = this.bytes.length
    return out
  }
  end(): void {
    if (this.#at !== this.bytes.length) throw new ReadError(`${this.bytes.length - this.#at} trailing byte(s)`)
  }
}

export function encodeReplicaEnvelope(replicaBytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(replicaBytes.length + 1)
  out[0] = envelopeKinds.replica
  out.set(replicaBytes, 1)
  return out
}

export function encodeForward(request: Omit<ForwardRequest, 'kind'>): Uint8Array {
  const w = new Writer().u8(envelopeKinds.forward).u32(request.requestId).s16(request.stream).s16(request.id).u8(ackLevels.indexOf(request.ackLevel)).u16(request.headers.length)
  for (const [key, value] of request.headers) w.s16(key).b32(encoder.encode(value))
  return w.b32(request.payload).finish()
}

const positionJson = (p: EventPosition): Record<string, unknown> => ({ hlc: { wallMs: p.hlc.wallMs, logical: p.hlc.logical }, origin: p.origin, incarnation: p.incarnation, originSeq: p.originSeq })

export function encodeAnswer(answer: ForwardAnswer): Uint8Array {
  const body = answer.ok
    ? { ok: true, level: answer.level, position: positionJson(answer.position), duplicate: answer.duplicate, survivor: answer.survivor === null ? null : positionJson(answer.survivor) }
    : { ok: false, code: answer.code, message: answer.message }
  return new Writer().u8(envelopeKinds.answer).u32(answer.requestId).b32(encoder.encode(JSON.stringify(body))).finish()
}

export function encodeClaim(claim: Omit<ClaimEnvelope, 'kind'>): Uint8Array {
  const body = { stream: claim.stream, origin: claim.origin, incarnation: claim.incarnation, fromHlc: { wallMs: claim.fromHlc.wallMs, logical: claim.fromHlc.logical } }
  return new Writer().u8(envelopeKinds.claim).b32(encoder.encode(JSON.stringify(body))).finish()
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
const isName = (value: unknown): value is string => typeof value === 'string' && value.length > 0 && value.length <= persistentLimits.streamBytesMax

function hlcOf(value: unknown): Hlc {
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>
  const hlc = { wallMs: v.wallMs, logical: v.logical } as Hlc
  if (!isValidHlc(hlc)) throw new ReadError('invalid hlc')
  return { wallMs: hlc.wallMs, logical: hlc.logical }
}

function positionOf(value: unknown): EventPosition {
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>
  if (!isName(v.origin) || !isCount(v.incarnation) || !isCount(v.originSeq)) throw new ReadError('invalid position')
  return { hlc: hlcOf(v.hlc), origin: v.origin, incarnation: v.incarnation, originSeq: v.originSeq }
}

function jsonOf(r: Reader): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(r.s32(envelopeJsonBytesMax, 'json'))
  } catch (error) {
    if (error instanceof ReadError) throw error
    throw new ReadError(`json: ${(error as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ReadError('json: not an object')
  return value as Record<string, unknown>
}

function decodeForward(r: Reader): ForwardRequest {
  const requestId = r.u32()
  const stream = r.s16(persistentLimits.streamBytesMax, 'stream')
  const id = r.s16(persistentLimits.eventIdBytesMax, 'id')
  const ackLevel = ackLevels[r.u8()]
  if (ackLevel === undefined) throw new ReadError('unknown ack level')
  const count = r.u16()
  if (count > persistentLimits.eventHeadersMax) throw new ReadError(`${count} headers over the limit ${persistentLimits.eventHeadersMax}`)
  const headers: EventHeader[] = []
  for (let i = 0; i < count; i++) headers.push([r.s16(persistentLimits.headerKeyBytesMax, 'header key'), r.s32(persistentLimits.headerValueBytesMax, 'header value')])
  const payload = r.raw(r.u32(), persistentLimits.eventPayloadBytesMax, 'payload').slice()
  r.end()
  return { kind: 'forward', requestId, stream, id, ackLevel, headers, payload }
}

function decodeAnswer(r: Reader): ForwardAnswer {
  const requestId = r.u32()
  const body = jsonOf(r)
  r.end()
  if (body.ok === true) {
    const level = ackLevels.find((candidate) => candidate === body.level)
    if (level === undefined || typeof body.duplicate !== 'boolean') throw new ReadError('answer: invalid ack')
    return { kind: 'answer', requestId, ok: true, level, position: positionOf(body.position), duplicate: body.duplicate, survivor: body.survivor === null ? null : positionOf(body.survivor) }
  }
  if (typeof body.code !== 'string' || typeof body.message !== 'string') throw new ReadError('answer: invalid refusal')
  return { kind: 'answer', requestId, ok: false, code: body.code, message: body.message }
}

function decodeClaim(r: Reader): ClaimEnvelope {
  const body = jsonOf(r)
  r.end()
  if (!isName(body.stream) || !isName(body.origin) || !isCount(body.incarnation) || body.incarnation < 1) throw new ReadError('claim: invalid fields')
  return { kind: 'claim', stream: body.stream, origin: body.origin, incarnation: body.incarnation, fromHlc: hlcOf(body.fromHlc) }
}

/** Decodes one `data` frame; never throws. */
export function decodeEnvelope(bytes: Uint8Array): DecodeResult {
  try {
    const r = new Reader(bytes)
    const kind = r.u8()
    switch (kind) {
      case envelopeKinds.replica:
        return { ok: true, value: { kind: 'replica', bytes: r.rest() } }
      case envelopeKinds.forward:
        return { ok: true, value: decodeForward(r) }
      case envelopeKinds.answer:
        return { ok: true, value: decodeAnswer(r) }
      case envelopeKinds.claim:
        return { ok: true, value: decodeClaim(r) }
      default:
        return { ok: false, error: `unknown envelope kind ${kind}` }
    }
  } catch (error) {
    if (error instanceof ReadError || error instanceof TypeError) return { ok: false, error: error.message }
    throw error
  }
}
