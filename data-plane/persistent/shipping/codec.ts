// Binary codec of the shipping messages (messages.ts), version 1. Pure: compression is a plain
// interface handed in (`ShipCompression`); the node:zlib implementations live in
// zlib-compression.ts.
//
//   frame   = version u8 | kind u8 | stream (u16 len, UTF-8) | sourceRegion (u8 len) | term u64 | body
//   resolve   requestId u64
//   resolved  requestId u64 | cursor u64
//   batch     batchId u64 | fromSeq u64 | count u32 | compression u8 | rawBytes u32 | bodyBytes u32 | body
//             raw body (after decompression) = count × (u32 len | encodeEvent bytes)
//   batch-ack batchId u64 | cursor u64
//   refused   batchId u64 | reason u8 | cursor u64 | expected u64
//
// Decoding refuses, with RG_ERR_MALFORMED_SHIPMENT and without throwing: truncation at any byte,
// trailing bytes, unknown versions, kinds, reasons or compressions, bad UTF-8, invalid names, any
// count or length over its limit (checked before allocating or inflating), a body that does not
// inflate to exactly `rawBytes`, events that do not decode or belong to another stream.
import { decodeEvent, encodeEvent } from '../event.js'
import type { StreamEvent } from '../event.js'
import { failure, success } from '../errors.js'
import type { Outcome } from '../errors.js'
import { streamBytesMax } from '../limits.js'
import { MalformedShipmentError } from './errors.js'
import { shipBatchEventsMax, shipFrameBytesMax } from './limits.js'
import { shipMessageKinds, shipRefusalReasons } from './messages.js'
import type { BatchMessage, ShipMessage } from './messages.js'
import { isValidRegion } from './provenance.js'

export const shipCodecVersion = 1

/** A byte transform for batch bodies. `decompress` must refuse (throw) output over `rawBytes`. */
export interface ShipCompression {
  /** On the wire (u8). 0 is "none", built in. */
  readonly id: number
  readonly name: string
  compress(raw: Uint8Array): Uint8Array
  decompress(body: Uint8Array, rawBytes: number): Uint8Array
}

export const noCompression: ShipCompression = {
  id: 0,
  name: 'none',
  compress: (raw) => raw,
  decompress: (body) => body,
}

export interface ShipEncodeOptions {
  /** For batch bodies; a body that does not shrink is sent uncompressed. Default: none. */
  readonly compression?: ShipCompression
}

export interface ShipDecodeOptions {
  /** The compressions this receiver accepts (besides none). */
  readonly compressions?: readonly ShipCompression[]
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

class Writer {
  readonly #chunks: Uint8Array[] = []
  #size = 0
  #push(bytes: Uint8Array): void {
    this.#chunks.push(bytes)
    this.#size += bytes.length
  }
  u8(v: number): void {
    this.#push(Uint8Array.of(v))
  }
  u16(v: number): void {
    this.#push(Uint8Array.of(v >>> 8, v & 0xff))
  }
  u32(v: number): void {
    this.#push(Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff))
  }
  u64(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`ship codec: ${v} is not a u64 this codec writes`)
    this.u32(Math.floor(v / 2 ** 32))
    this.u32(v % 2 ** 32)
  }
  raw(bytes: Uint8Array): void {
    this.#push(bytes)
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.#size)
    let offset = 0
    for (const chunk of this.#chunks) {
      out.set(chunk, offset)
      offset += chunk.length
    }
    return out
  }
}

class Malformed extends Error {}

class Reader {
  offset = 0
  constructor(readonly bytes: Uint8Array) {}
  need(n: number): void {
    if (this.bytes.length - this.offset < n) throw new Malformed(`truncated at byte ${this.offset}: need ${n}, have ${this.bytes.length - this.offset}`)
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
  u64(what: string): number {
    const value = this.u32() * 2 ** 32 + this.u32()
    if (!Number.isSafeInteger(value)) throw new Malformed(`${what} over 2^53`)
    return value
  }
  view(n: number): Uint8Array {
    this.need(n)
    const out = this.bytes.subarray(this.offset, this.offset + n)
    this.offset += n
    return out
  }
  text(n: number, max: number, what: string): string {
    if (n > max) throw new Malformed(`${what} length ${n} over ${max}`)
    try {
      return decoder.decode(this.view(n))
    } catch (error) {
      if (error instanceof Malformed) throw error
      throw new Malformed(`${what} is not UTF-8`)
    }
  }
}

function encodeBatchBody(w: Writer, m: BatchMessage, compression: ShipCompression): void {
  if (m.events.length > shipBatchEventsMax) throw new RangeError(`ship codec: batch of ${m.events.length} events over shipBatchEventsMax (${shipBatchEventsMax})`)
  const body = new Writer()
  for (const event of m.events) {
    if (event.stream !== m.stream) throw new RangeError(`ship codec: an event of ${event.stream} in a batch of ${m.stream}`)
    const bytes = encodeEvent(event)
    body.u32(bytes.length)
    body.raw(bytes)
  }
  const raw = body.bytes()
  if (raw.length > shipFrameBytesMax) throw new RangeError(`ship codec: batch body of ${raw.length} bytes over shipFrameBytesMax (${shipFrameBytesMax})`)
  const compressed = compression.id === noCompression.id ? raw : compression.compress(raw)
  const [id, wire] = compressed.length < raw.length ? [compression.id, compressed] : [noCompression.id, raw]
  w.u64(m.batchId)
  w.u64(m.fromSeq)
  w.u32(m.events.length)
  w.u8(id)
  w.u32(raw.length)
  w.u32(wire.length)
  w.raw(wire)
}

/** Encodes a well-formed message; a malformed one (caller bug) throws. */
export function encodeShipMessage(m: ShipMessage, options: ShipEncodeOptions = {}): Uint8Array {
  const stream = encoder.encode(m.stream)
  if (stream.length === 0 || stream.length > streamBytesMax) throw new RangeError(`ship codec: stream must be 1..${streamBytesMax} bytes`)
  if (!isValidRegion(m.sourceRegion)) throw new RangeError(`ship codec: invalid source region ${m.sourceRegion}`)
  const w = new Writer()
  w.u8(shipCodecVersion)
  w.u8(shipMessageKinds.indexOf(m.kind))
  w.u16(stream.length)
  w.raw(stream)
  w.u8(m.sourceRegion.length)
  w.raw(encoder.encode(m.sourceRegion))
  w.u64(m.term)
  switch (m.kind) {
    case 'resolve':
      w.u64(m.requestId)
      break
    case 'resolved':
      w.u64(m.requestId)
      w.u64(m.cursor)
      break
    case 'batch':
      encodeBatchBody(w, m, options.compression ?? noCompression)
      break
    case 'batch-ack':
      w.u64(m.batchId)
      w.u64(m.cursor)
      break
    case 'refused':
      w.u64(m.batchId)
      w.u8(shipRefusalReasons.indexOf(m.reason))
      w.u64(m.cursor)
      w.u64(m.expected)
      break
  }
  return w.bytes()
}

function decodeBatch(r: Reader, base: { stream: string; sourceRegion: string; term: number }, compressions: readonly ShipCompression[]): BatchMessage {
  const batchId = r.u64('batchId')
  const fromSeq = r.u64('fromSeq')
  const count = r.u32()
  if (count > shipBatchEventsMax) throw new Malformed(`${count} events, over shipBatchEventsMax (${shipBatchEventsMax})`)
  if (fromSeq < 1 || !Number.isSafeInteger(fromSeq + count)) throw new Malformed(`fromSeq ${fromSeq} with ${count} events is out of range`)
  const compressionId = r.u8()
  const rawBytes = r.u32()
  const bodyBytes = r.u32()
  if (rawBytes > shipFrameBytesMax || bodyBytes > shipFrameBytesMax) throw new Malformed(`body of ${bodyBytes} bytes (${rawBytes} raw) over shipFrameBytesMax (${shipFrameBytesMax})`)
  const wire = r.view(bodyBytes)
  let raw: Uint8Array
  if (compressionId === noCompression.id) {
    if (bodyBytes !== rawBytes) throw new Malformed(`uncompressed body of ${bodyBytes} bytes announces ${rawBytes}`)
    raw = wire
  } else {
    const compression = compressions.find((c) => c.id === compressionId)
    if (compression === undefined) throw new Malformed(`unknown compression ${compressionId}`)
    try {
      raw = compression.decompress(wire, rawBytes)
    } catch (error) {
      throw new Malformed(`${compression.name} body does not inflate: ${error instanceof Error ? error.message : String(error)}`)
    }
    if (raw.length !== rawBytes) throw new Malformed(`${compression.name} body inflates to ${raw.length} bytes, announced ${rawBytes}`)
  }
  const body = new Reader(raw)
  const events: StreamEvent[] = []
  for (let i = 0; i < count; i++) {
    const length = body.u32()
    const decoded = decodeEvent(body.view(length))
    if (!decoded.ok) throw new Malformed(`event ${i}: ${decoded.error.message}`)
    if (decoded.value.stream !== base.stream) throw new Malformed(`event ${i} belongs to ${decoded.value.stream}, not ${base.stream}`)
    events.push(decoded.value)
  }
  if (body.offset !== raw.length) throw new Malformed(`${raw.length - body.offset} trailing bytes in the batch body`)
  return { kind: 'batch', ...base, batchId, fromSeq, events }
}

export function decodeShipMessage(bytes: Uint8Array, options: ShipDecodeOptions = {}): Outcome<ShipMessage, MalformedShipmentError> {
  const r = new Reader(bytes)
  try {
    const version = r.u8()
    if (version !== shipCodecVersion) return failure(new MalformedShipmentError(`unknown codec version ${version}`))
    const kind = shipMessageKinds[r.u8()]
    if (kind === undefined) return failure(new MalformedShipmentError(`unknown kind ${bytes[1]}`))
    const stream = r.text(r.u16(), streamBytesMax, 'stream')
    if (stream.length === 0) return failure(new MalformedShipmentError('empty stream name'))
    const sourceRegion = r.text(r.u8(), 255, 'source region')
    if (!isValidRegion(sourceRegion)) return failure(new MalformedShipmentError(`invalid source region "${sourceRegion}"`))
    const term = r.u64('term')
    const base = { stream, sourceRegion, term }
    let message: ShipMessage
    switch (kind) {
      case 'resolve':
        message = { kind, ...base, requestId: r.u64('requestId') }
        break
      case 'resolved':
        message = { kind, ...base, requestId: r.u64('requestId'), cursor: r.u64('cursor') }
        break
      case 'batch':
        message = decodeBatch(r, base, options.compressions ?? [])
        break
      case 'batch-ack':
        message = { kind, ...base, batchId: r.u64('batchId'), cursor: r.u64('cursor') }
        break
      case 'refused': {
        const batchId = r.u64('batchId')
        const reason = shipRefusalReasons[r.u8()]
        if (reason === undefined) return failure(new MalformedShipmentError(`unknown refusal reason ${bytes[r.offset - 1]}`))
        message = { kind, ...base, batchId, reason, cursor: r.u64('cursor'), expected: r.u64('expected') }
        break
      }
    }
    if (r.offset !== bytes.length) return failure(new MalformedShipmentError(`${bytes.length - r.offset} trailing bytes`))
    return success(message)
  } catch (error) {
    if (error instanceof Malformed) return failure(new MalformedShipmentError(error.message, { cause: error }))
    throw error
  }
}
