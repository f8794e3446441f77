// The binary frames of the peer `route` channel (cluster pub/sub): forwarded messages, interest
// snapshots (chunked), interest deltas and resync requests. Pure: no node:* imports; encoders
// write into one exact-size buffer, the decoder checks every length against what is left and
// returns a typed failure (RouteFrameError) for anything truncated, oversized or invalid — a
// corrupt frame never throws past `decodeRouteFrame` and never allocates more than its input.
//
// Layout (integers big-endian; strings UTF-8 with a u16 byte length):
//   message  : u8 kind=1 | u8 flags (1 reply, 2 headers) | str subject | [str reply]
//              | u8 queue count | str queue × count | [u32 header bytes | header block] | payload (rest)
//   snapshot : u8 kind=2 | u32 seq | u32 session | u8 flags (1 first, 2 last) | entry*
//   delta    : u8 kind=3 | u32 seq | entry*
//   resync   : u8 kind=4
//   batch    : u8 kind=5 | (u32 bytes | message frame)+   (two or more messages to one peer)
//   entry    : u8 op (1 add, 2 remove; a snapshot holds adds only) | str pattern | str queue ('' = none)
import { RailgunError } from '../../shared/errors.js'
import { defaultFrameBytesMax } from '../../shared/transport/index.js'
import { isValidPublishSubject, isValidSubscribeSubject, checkQueueName, subjectLimits, utf8Bytes } from '../../shared/subject/index.js'

export const routeFrameKinds = { message: 1, snapshot: 2, delta: 3, resync: 4, batch: 5 } as const

/** Named limits of the route channel. */
export const routeLimits = {
  /** Largest interest frame (snapshot chunk or delta batch): a big interest set travels in several. */
  interestFrameBytesMax: 64 * 1024,
  /** Largest forwarded-message frame: the transport's default frame limit, less its channel byte. */
  messageFrameBytesMax: defaultFrameBytesMax - 1,
  /** Queue groups one forwarded message may name (a u8 on the wire). */
  queuesPerMessageMax: 255,
  /**
   * Forwarded messages to one peer are gathered into a batch frame until it holds this many bytes
   * (or the input chunk / event-loop turn ends): fewer frames in the peer's bounded queue, one
   * frame event on the receiver. A message bigger than this travels alone.
   */
  messageBatchBytesMax: 64 * 1024,
} as const

const messageFlagReply = 1
const messageFlagHeaders = 2
const snapshotFlagFirst = 1
const snapshotFlagLast = 2
const opAdd = 1
const opRemove = 2
/** kind + seq. */
const deltaHeaderBytes = 5
/** kind + seq + session + flags. */
const snapshotHeaderBytes = 10
/** The longest entry: op + two length-prefixed strings at their limits. */
const entryBytesMax = 1 + 2 + subjectLimits.subjectBytesMax + 2 + subjectLimits.queueNameBytesMax

/** A (pattern, queue group) a node's clients subscribe to; `queue` undefined = plain subscription. */
export interface InterestEntry {
  readonly pattern: string
  readonly queue: string | undefined
}

export interface InterestOp extends InterestEntry {
  readonly op: 'add' | 'remove'
}

export interface RouteMessage {
  readonly kind: 'message'
  readonly subject: string
  readonly replyTo: string | undefined
  /** Queue groups the receiver serves with one of its members (chosen for it by the sender). */
  readonly queues: readonly string[]
  readonly headerBlock: Uint8Array | undefined
  readonly payload: Uint8Array
}

export type RouteFrame =
  | RouteMessage
  | { readonly kind: 'batch'; readonly messages: readonly RouteMessage[] }
  | {
      readonly kind: 'snapshot'
      readonly seq: number
      /** Random per router start: a new session tells a restarted peer from a replayed link. */
      readonly session: number
      readonly first: boolean
      readonly last: boolean
      readonly entries: readonly InterestEntry[]
    }
  | { readonly kind: 'delta'; readonly seq: number; readonly ops: readonly InterestOp[] }
  | { readonly kind: 'resync' }

/** A frame on the route channel that cannot be decoded (expected failure: returned, not thrown). */
export class RouteFrameError extends RailgunError {
  constructor(message: string) {
    super('RG_ERR_MALFORMED_ROUTE_FRAME', `malformed route frame: ${message}`)
    this.name = 'RouteFrameError'
  }
}

export type RouteDecodeResult = { readonly ok: true; readonly frame: RouteFrame } | { readonly ok: false; readonly error: RouteFrameError }

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

function writeString(out: Uint8Array, offset: number, text: string, byteLength: number): number {
  out[offset] = byteLength >>> 8
  out[offset + 1] = byteLength & 0xff
  if (byteLength > 0) encoder.encodeInto(text, out.subarray(offset + 2, offset + 2 + byteLength))
  return offset + 2 + byteLength
}

function writeU32(out: Uint8Array, offset: number, value: number): number {
  out[offset] = value >>> 24
  out[offset + 1] = (value >>> 16) & 0xff
  out[offset + 2] = (value >>> 8) & 0xff
  out[offset + 3] = value & 0xff
  return offset + 4
}

/** Bytes of a forwarded message frame, to check against `messageFrameBytesMax` before encoding. */
export function messageFrameBytes(subject: string, replyTo: string | undefined, queues: readonly string[], headerBlock: Uint8Array | undefined, payload: Uint8Array): number {
  let bytes = 2 + 2 + utf8Bytes(subject) + 1 + payload.length
  if (replyTo !== undefined) bytes += 2 + utf8Bytes(replyTo)
  for (const queue of queues) bytes += 2 + utf8Bytes(queue)
  if (headerBlock !== undefined) bytes += 4 + headerBlock.length
  return bytes
}

/** One forwarded message. The caller checks the size first (`messageFrameBytes`); a subject over u16 is a bug. */
export function encodeMessage(subject: string, replyTo: string | undefined, queues: readonly string[], headerBlock: Uint8Array | undefined, payload: Uint8Array): Uint8Array {
  if (queues.length > routeLimits.queuesPerMessageMax) throw new RangeError(`at most ${routeLimits.queuesPerMessageMax} queue groups per forwarded message`)
  const subjectBytes = utf8Bytes(subject)
  const replyBytes = replyTo === undefined ? 0 : utf8Bytes(replyTo)
  let total = 2 + 2 + subjectBytes + 1 + payload.length
  if (replyTo !== undefined) total += 2 + replyBytes
  for (const queue of queues) total += 2 + utf8Bytes(queue)
  if (headerBlock !== undefined) total += 4 + headerBlock.length
  const out = new Uint8Array(total)
  out[0] = routeFrameKinds.message
  out[1] = (replyTo === undefined ? 0 : messageFlagReply) | (headerBlock === undefined ? 0 : messageFlagHeaders)
  let offset = writeString(out, 2, subject, subjectBytes)
  if (replyTo !== undefined) offset = writeString(out, offset, replyTo, replyBytes)
  out[offset] = queues.length
  offset += 1
  for (const queue of queues) offset = writeString(out, offset, queue, utf8Bytes(queue))
  if (headerBlock !== undefined) {
    offset = writeU32(out, offset, headerBlock.length)
    out.set(headerBlock, offset)
    offset += headerBlock.length
  }
  out.set(payload, offset)
  return out
}

function entryBytes(entry: InterestEntry): number {
  return 1 + 2 + utf8Bytes(entry.pattern) + 2 + (entry.queue === undefined ? 0 : utf8Bytes(entry.queue))
}

function writeEntry(out: Uint8Array, offset: number, op: number, entry: InterestEntry): number {
  out[offset] = op
  offset = writeString(out, offset + 1, entry.pattern, utf8Bytes(entry.pattern))
  return entry.queue === undefined ? writeString(out, offset, '', 0) : writeString(out, offset, entry.queue, utf8Bytes(entry.queue))
}

/** Splits entries into runs whose frames stay within `frameBytesMax` (at least one run, maybe empty). */
function chunk<E extends InterestEntry>(entries: readonly E[], headerBytes: number, frameBytesMax: number): E[][] {
  if (frameBytesMax < headerBytes + entryBytesMax) throw new RangeError(`an interest frame needs at least ${headerBytes + entryBytesMax} bytes`)
  const runs: E[][] = [[]]
  let bytes = headerBytes
  for (const entry of entries) {
    const size = entryBytes(entry)
    if (bytes + size > frameBytesMax) {
      runs.push([])
      bytes = headerBytes
    }
    ;(runs[runs.length - 1] as E[]).push(entry)
    bytes += size
  }
  return runs
}

/**
 * A full interest snapshot as frames of at most `frameBytesMax` bytes, numbered from `firstSeq`
 * (u32, wrapping). The first frame replaces what the receiver held for this sender.
 */
export function encodeSnapshot(entries: readonly InterestEntry[], session: number, firstSeq: number, frameBytesMax: number = routeLimits.interestFrameBytesMax): Uint8Array[] {
  const runs = chunk(entries, snapshotHeaderBytes, frameBytesMax)
  return runs.map((run, index) => {
    const out = new Uint8Array(snapshotHeaderBytes + run.reduce((sum, entry) => sum + entryBytes(entry), 0))
    out[0] = routeFrameKinds.snapshot
    writeU32(out, 1, (firstSeq + index) >>> 0)
    writeU32(out, 5, session >>> 0)
    out[9] = (index === 0 ? snapshotFlagFirst : 0) | (index === runs.length - 1 ? snapshotFlagLast : 0)
    let offset = snapshotHeaderBytes
    for (const entry of run) offset = writeEntry(out, offset, opAdd, entry)
    return out
  })
}

/** Interest changes (0↔1 transitions, in order) as frames numbered from `firstSeq`. */
export function encodeDeltas(ops: readonly InterestOp[], firstSeq: number, frameBytesMax: number = routeLimits.interestFrameBytesMax): Uint8Array[] {
  if (ops.length === 0) return []
  const runs = chunk(ops, deltaHeaderBytes, frameBytesMax)
  return runs.map((run, index) => {
    const out = new Uint8Array(deltaHeaderBytes + run.reduce((sum, entry) => sum + entryBytes(entry), 0))
    out[0] = routeFrameKinds.delta
    writeU32(out, 1, (firstSeq + index) >>> 0)
    let offset = deltaHeaderBytes
    for (const op of run) offset = writeEntry(out, offset, op.op === 'add' ? opAdd : opRemove, op)
    return out
  })
}

/** Encoded message frames (`encodeMessage`) as one batch frame; `bodyBytes` = their total length. */
export function encodeBatch(messages: readonly Uint8Array[], bodyBytes: number): Uint8Array {
  const out = new Uint8Array(1 + 4 * messages.length + bodyBytes)
  out[0] = routeFrameKinds.batch
  let offset = 1
  for (const message of messages) {
    offset = writeU32(out, offset, message.length)
    out.set(message, offset)
    offset += message.length
  }
  // Invariant: the caller's byte count matches the messages (a mismatch is a bug, not input).
  if (offset !== out.length) throw new Error(`batch body bytes ${bodyBytes} do not match its messages`)
  return out
}

const resyncFrame = Uint8Array.of(routeFrameKinds.resync)

/** Asks the peer for a full interest snapshot. */
export function encodeResync(): Uint8Array {
  return resyncFrame
}

/** Subject checks applied to decoded frames; the router passes its cached ones. */
export interface RouteSubjectRules {
  isValidPublishSubject(subject: string): boolean
  isValidSubscribeSubject(subject: string): boolean
  isValidQueueName(queue: string): boolean
}

const defaultRules: RouteSubjectRules = {
  isValidPublishSubject,
  isValidSubscribeSubject,
  isValidQueueName: (queue) => checkQueueName(queue).valid,
}

/** Thrown inside the decoder only; `decodeRouteFrame` turns it into a RouteFrameError value. */
class Truncated extends Error {}

class Reader {
  offset = 0
  constructor(readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.length - this.offset
  }

  need(count: number, what: string): void {
    if (this.remaining < count) throw new Truncated(`truncated ${what}: need ${count} bytes, ${this.remaining} left at byte ${this.offset}`)
  }

  u8(what: string): number {
    this.need(1, what)
    const value = this.bytes[this.offset] as number
    this.offset += 1
    return value
  }

  u32(what: string): number {
    this.need(4, what)
    const b = this.bytes
    const o = this.offset
    this.offset += 4
    return (((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number)) >>> 0
  }

  string(what: string, bytesMax: number): string {
    this.need(2, `${what} length`)
    const length = ((this.bytes[this.offset] as number) << 8) | (this.bytes[this.offset + 1] as number)
    this.offset += 2
    if (length > bytesMax) throw new Truncated(`${what} of ${length} bytes exceeds ${bytesMax}`)
    this.need(length, what)
    const start = this.offset
    this.offset += length
    try {
      return decoder.decode(this.bytes.subarray(start, start + length))
    } catch {
      throw new Truncated(`${what} is not valid UTF-8 (at byte ${start})`)
    }
  }

  /** A view of `count` bytes (no copy). */
  view(count: number, what: string): Uint8Array {
    this.need(count, what)
    const start = this.offset
    this.offset += count
    return this.bytes.subarray(start, start + count)
  }
}

function readEntry(reader: Reader, rules: RouteSubjectRules, snapshot: boolean): InterestOp {
  const op = reader.u8('entry op')
  if (op !== opAdd && (snapshot || op !== opRemove)) throw new Truncated(`unknown entry op ${op}${snapshot ? ' in a snapshot' : ''}`)
  const pattern = reader.string('pattern', subjectLimits.subjectBytesMax)
  if (!rules.isValidSubscribeSubject(pattern)) throw new Truncated(`invalid pattern ${JSON.stringify(pattern)}`)
  const queueText = reader.string('queue', subjectLimits.queueNameBytesMax)
  if (queueText !== '' && !rules.isValidQueueName(queueText)) throw new Truncated(`invalid queue name ${JSON.stringify(queueText)}`)
  return { op: op === opAdd ? 'add' : 'remove', pattern, queue: queueText === '' ? undefined : queueText }
}

function readFrame(reader: Reader, rules: RouteSubjectRules): RouteFrame {
  const kind = reader.u8('kind')
  switch (kind) {
    case routeFrameKinds.batch: {
      const messages: RouteMessage[] = []
      while (reader.remaining > 0) {
        const inner = new Reader(reader.view(reader.u32('batched message length'), 'batched message'))
        if (inner.bytes[0] !== routeFrameKinds.message) throw new Truncated(`a batch holds messages only, not kind ${String(inner.bytes[0])}`)
        messages.push(readFrame(inner, rules) as RouteMessage)
      }
      if (messages.length === 0) throw new Truncated('empty batch')
      return { kind: 'batch', messages }
    }
    case routeFrameKinds.message: {
      const flags = reader.u8('message flags')
      if ((flags & ~(messageFlagReply | messageFlagHeaders)) !== 0) throw new Truncated(`unknown message flags ${flags}`)
      const subject = reader.string('subject', subjectLimits.subjectBytesMax)
      if (!rules.isValidPublishSubject(subject)) throw new Truncated(`invalid subject ${JSON.stringify(subject)}`)
      let replyTo: string | undefined
      if ((flags & messageFlagReply) !== 0) {
        replyTo = reader.string('reply subject', subjectLimits.subjectBytesMax)
        if (!rules.isValidPublishSubject(replyTo)) throw new Truncated(`invalid reply subject ${JSON.stringify(replyTo)}`)
      }
      const queueCount = reader.u8('queue count')
      const queues: string[] = []
      for (let index = 0; index < queueCount; index += 1) {
        const queue = reader.string('queue', subjectLimits.queueNameBytesMax)
        if (!rules.isValidQueueName(queue)) throw new Truncated(`invalid queue name ${JSON.stringify(queue)}`)
        queues.push(queue)
      }
      let headerBlock: Uint8Array | undefined
      if ((flags & messageFlagHeaders) !== 0) headerBlock = reader.view(reader.u32('header length'), 'header block')
      const payload = reader.view(reader.remaining, 'payload')
      return { kind: 'message', subject, replyTo, queues, headerBlock, payload }
    }
    case routeFrameKinds.snapshot: {
      const seq = reader.u32('seq')
      const session = reader.u32('session')
      const flags = reader.u8('snapshot flags')
      if ((flags & ~(snapshotFlagFirst | snapshotFlagLast)) !== 0) throw new Truncated(`unknown snapshot flags ${flags}`)
      const entries: InterestEntry[] = []
      while (reader.remaining > 0) {
        const { pattern, queue } = readEntry(reader, rules, true)
        entries.push({ pattern, queue })
      }
      return { kind: 'snapshot', seq, session, first: (flags & snapshotFlagFirst) !== 0, last: (flags & snapshotFlagLast) !== 0, entries }
    }
    case routeFrameKinds.delta: {
      const seq = reader.u32('seq')
      const ops: InterestOp[] = []
      while (reader.remaining > 0) ops.push(readEntry(reader, rules, false))
      if (ops.length === 0) throw new Truncated('empty delta')
      return { kind: 'delta', seq, ops }
    }
    case routeFrameKinds.resync:
      if (reader.remaining !== 0) throw new Truncated(`${reader.remaining} trailing bytes after a resync request`)
      return { kind: 'resync' }
    default:
      throw new Truncated(`unknown frame kind ${kind}`)
  }
}

/**
 * Decodes one route frame. Payload and header block are views into `bytes` (no copy): the
 * receiver copies what it keeps. Interest frames bigger than `interestFrameBytesMax` are refused.
 */
export function decodeRouteFrame(bytes: Uint8Array, rules: RouteSubjectRules = defaultRules): RouteDecodeResult {
  if (bytes.length === 0) return { ok: false, error: new RouteFrameError('empty frame') }
  if ((bytes[0] === routeFrameKinds.snapshot || bytes[0] === routeFrameKinds.delta) && bytes.length > routeLimits.interestFrameBytesMax) {
    return { ok: false, error: new RouteFrameError(`interest frame of ${bytes.length} bytes exceeds ${routeLimits.interestFrameBytesMax}`) }
  }
  try {
    return { ok: true, frame: readFrame(new Reader(bytes), rules) }
  } catch (error) {
    if (error instanceof Truncated) return { ok: false, error: new RouteFrameError(error.message) }
    throw error
  }
}
