// Binary codec of the replica messages (messages.ts) for the peer transport's `data` channel.
// Versioned, bounds-checked, pure. Decoding never throws on bad input: truncation, trailing
// bytes, unknown versions or kinds, bad UTF-8, invalid names or sequences and any count over
// its limit are refused with MalformedEventError (RG_ERR_MALFORMED_EVENT), and nothing is
// allocated beyond what the input holds. Events inside are the event codec's bytes (event.ts).
//
// Layout v1 (varint = unsigned LEB128, ≤ 8 bytes, a safe integer; str = varint length + UTF-8;
// hlc = 8 bytes as hlc.ts; entry = str origin, varint incarnation, varint seq):
//   u8 version | u8 kind | str stream | body
//   push           varint count, (varint length, event bytes) × count | u8 hasCommit [entry]
//   durable        varint count, entry × count
//   heartbeat      str origin, varint incarnation, varint seq, hlc | varint commitSeq
//   digest         3 × (varint count, entry × count) held, durable, commits |
//                  varint count, (str origin, varint incarnation, varint seq, hlc) × count | varint closesKnown
//   closes         varint requestId | varint count, decision × count
//                  decision = str origin, varint incarnation, varint atSeq, varint term, u8 hasSuccessor [varint incarnation, hlc]
//   closes-applied varint requestId, varint applied, str errorCode, varint controllerTerm
//   fence          varint requestId, str origin, varint incarnation, varint controllerTerm
//   fenced         varint requestId, str origin, varint incarnation, u8 ok, varint durableSeq, varint controllerTerm
import { MalformedEventError, failure, success } from '../errors.js'
import type { Outcome } from '../errors.js'
import { decodeEvent, encodeEvent, isValidIncarnation, isValidOrigin } from '../event.js'
import type { StreamEvent } from '../event.js'
import { decodeHlc, encodeHlc, hlcBytes } from '../hlc.js'
import type { Hlc } from '../hlc.js'
import { eventPayloadBytesMax, originBytesMax, streamBytesMax } from '../limits.js'
import type { CloseDecision, Heartbeat } from '../order.js'
import { decisionsMax, messageBytesMax, messageEventsMax, relayedHeartbeatsMax, vectorEntriesMax } from './limits.js'
import { replicaMessageKinds } from './messages.js'
import type { ReplicaMessage, VectorEntry } from './messages.js'

export const replicaCodecVersion = 1
const varintBytesMax = 8
const errorCodeBytesMax = 64
/** An encoded event is never longer than this (payload plus every other field at its maximum). */
const eventBytesMax = eventPayloadBytesMax + 1024 * 1024

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

class Writer {
  #buffer = new Uint8Array(256)
  #length = 0

  #reserve(n: number): void {
    if (this.#length + n <= this.#buffer.length) return
    let size = this.#buffer.length * 2
    while (size < this.#length + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.#buffer.subarray(0, this.#length))
    this.#buffer = next
  }

  u8(v: number): void {
    this.#reserve(1)
    this.#buffer[this.#length++] = v
  }

  varint(v: number, what: string): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`replica codec: ${what} must be a non-negative safe integer, got ${v}`)
    let rest = v
    while (rest >= 0x80) {
      this.u8((rest % 0x80) + 0x80)
      rest = Math.floor(rest / 0x80)
    }
    this.u8(rest)
  }

  raw(bytes: Uint8Array): void {
    this.#reserve(bytes.length)
    this.#buffer.set(bytes, this.#length)
    this.#length += bytes.length
  }

  str(s: string, max: number, what: string): void {
    const bytes = encoder.encode(s)
    if (bytes.length > max) throw new RangeError(`replica codec: ${what} over ${max} bytes`)
    this.varint(bytes.length, what)
    this.raw(bytes)
  }

  hlc(h: Hlc): void {
    this.raw(encodeHlc(h))
  }

  finish(): Uint8Array {
    return this.#buffer.slice(0, this.#length)
  }
}

/** A refusal while decoding (caught at the top, turned into MalformedEventError). */
class Refused extends Error {}

class Reader {
  offset = 0
  constructor(readonly bytes: Uint8Array) {}

  u8(): number {
    if (this.offset >= this.bytes.length) throw new Refused(`truncated at byte ${this.offset}`)
    return this.bytes[this.offset++] as number
  }

  varint(what: string): number {
    let value = 0
    let scale = 1
    for (let i = 0; i < varintBytesMax; i++) {
      const byte = this.u8()
      value += (byte & 0x7f) * scale
      if ((byte & 0x80) === 0) {
        if (!Number.isSafeInteger(value)) throw new Refused(`${what} is not a safe integer`)
        return value
      }
      scale *= 0x80
    }
    throw new Refused(`${what}: varint longer than ${varintBytesMax} bytes`)
  }

  count(what: string, max: number, bytesEachMin: number): number {
    const n = this.varint(what)
    if (n > max) throw new Refused(`${what} ${n} over ${max}`)
    // Never allocate for more items than the remaining bytes could hold.
    if (n * bytesEachMin > this.bytes.length - this.offset) throw new Refused(`${what} ${n} cannot fit in ${this.bytes.length - this.offset} bytes`)
    return n
  }

  raw(n: number): Uint8Array {
    if (this.bytes.length - this.offset < n) throw new Refused(`truncated at byte ${this.offset}: need ${n}`)
    const out = this.bytes.subarray(this.offset, this.offset + n)
    this.offset += n
    return out
  }

  str(max: number, what: string): string {
    const n = this.varint(`${what} length`)
    if (n > max) throw new Refused(`${what} length ${n} over ${max}`)
    try {
      return decoder.decode(this.raw(n))
    } catch (error) {
      if (error instanceof Refused) throw error
      throw new Refused(`${what} is not UTF-8`)
    }
  }

  hlc(): Hlc {
    const decoded = decodeHlc(this.bytes, this.offset)
    if (!decoded.ok) throw new Refused(`truncated hlc at byte ${this.offset}`)
    this.offset += hlcBytes
    return decoded.value
  }

  origin(): string {
    const origin = this.str(originBytesMax, 'origin')
    if (!isValidOrigin(origin)) throw new Refused(`invalid origin ${JSON.stringify(origin)}`)
    return origin
  }

  incarnation(): number {
    const n = this.varint('incarnation')
    if (!isValidIncarnation(n)) throw new Refused(`invalid incarnation ${n}`)
    return n
  }
}

function writeEntry(w: Writer, e: VectorEntry): void {
  w.str(e.origin, originBytesMax, 'origin')
  w.varint(e.incarnation, 'incarnation')
  w.varint(e.seq, 'seq')
}

function readEntry(r: Reader): VectorEntry {
  return { origin: r.origin(), incarnation: r.incarnation(), seq: r.varint('seq') }
}

function writeEntries(w: Writer, entries: readonly VectorEntry[], what: string): void {
  if (entries.length > vectorEntriesMax) throw new RangeError(`replica codec: ${what} has ${entries.length} entries, over ${vectorEntriesMax}`)
  w.varint(entries.length, what)
  for (const e of entries) writeEntry(w, e)
}

function readEntries(r: Reader, what: string): VectorEntry[] {
  const n = r.count(what, vectorEntriesMax, 4)
  const out: VectorEntry[] = []
  for (let i = 0; i < n; i++) out.push(readEntry(r))
  return out
}

function writeHeartbeat(w: Writer, hb: Heartbeat): void {
  w.str(hb.origin, originBytesMax, 'origin')
  w.varint(hb.incarnation, 'incarnation')
  w.varint(hb.seq, 'seq')
  w.hlc(hb.hlc)
}

function readHeartbeat(r: Reader): Heartbeat {
  return { origin: r.origin(), incarnation: r.incarnation(), seq: r.varint('seq'), hlc: r.hlc() }
}

function writeDecision(w: Writer, d: CloseDecision): void {
  w.str(d.origin, originBytesMax, 'origin')
  w.varint(d.incarnation, 'incarnation')
  w.varint(d.atSeq, 'atSeq')
  w.varint(d.controllerTerm, 'controllerTerm')
  if (d.successor === undefined) {
    w.u8(0)
  } else {
    w.u8(1)
    w.varint(d.successor.incarnation, 'successor incarnation')
    w.hlc(d.successor.fromHlc)
  }
}

function readDecision(r: Reader): CloseDecision {
  const origin = r.origin()
  const incarnation = r.incarnation()
  const atSeq = r.varint('atSeq')
  const controllerTerm = r.varint('controllerTerm')
  const flag = r.u8()
  if (flag === 0) return { origin, incarnation, atSeq, controllerTerm }
  if (flag !== 1) throw new Refused(`successor flag ${flag}`)
  return { origin, incarnation, atSeq, controllerTerm, successor: { incarnation: r.incarnation(), fromHlc: r.hlc() } }
}

/** Encodes a message. A message over a limit or with an invalid field is a caller bug (throws). */
export function encodeReplicaMessage(m: ReplicaMessage): Uint8Array {
  const w = new Writer()
  w.u8(replicaCodecVersion)
  w.u8(replicaMessageKinds.indexOf(m.kind))
  w.str(m.stream, streamBytesMax, 'stream')
  switch (m.kind) {
    case 'push': {
      if (m.events.length > messageEventsMax) throw new RangeError(`replica codec: ${m.events.length} events over ${messageEventsMax}`)
      w.varint(m.events.length, 'event count')
      for (const event of m.events) {
        const bytes = encodeEvent(event)
        w.varint(bytes.length, 'event length')
        w.raw(bytes)
      }
      if (m.commit === null) {
        w.u8(0)
      } else {
        w.u8(1)
        writeEntry(w, m.commit)
      }
      break
    }
    case 'durable':
      writeEntries(w, m.entries, 'durable entries')
      break
    case 'heartbeat':
      writeHeartbeat(w, m.heartbeat)
      w.varint(m.commitSeq, 'commitSeq')
      break
    case 'digest':
      writeEntries(w, m.held, 'held vector')
      writeEntries(w, m.durable, 'durable vector')
      writeEntries(w, m.commits, 'commit vector')
      if (m.heartbeats.length > relayedHeartbeatsMax) throw new RangeError(`replica codec: ${m.heartbeats.length} heartbeats over ${relayedHeartbeatsMax}`)
      w.varint(m.heartbeats.length, 'heartbeat count')
      for (const hb of m.heartbeats) writeHeartbeat(w, hb)
      w.varint(m.closesKnown, 'closesKnown')
      break
    case 'closes':
      w.varint(m.requestId, 'requestId')
      if (m.decisions.length > decisionsMax) throw new RangeError(`replica codec: ${m.decisions.length} decisions over ${decisionsMax}`)
      w.varint(m.decisions.length, 'decision count')
      for (const d of m.decisions) writeDecision(w, d)
      break
    case 'closes-applied':
      w.varint(m.requestId, 'requestId')
      w.varint(m.applied, 'applied')
      w.str(m.errorCode, errorCodeBytesMax, 'errorCode')
      w.varint(m.controllerTerm, 'controllerTerm')
      break
    case 'fence':
      w.varint(m.requestId, 'requestId')
      w.str(m.origin, originBytesMax, 'origin')
      w.varint(m.incarnation, 'incarnation')
      w.varint(m.controllerTerm, 'controllerTerm')
      break
    case 'fenced':
      w.varint(m.requestId, 'requestId')
      w.str(m.origin, originBytesMax, 'origin')
      w.varint(m.incarnation, 'incarnation')
      w.u8(m.ok ? 1 : 0)
      w.varint(m.durableSeq, 'durableSeq')
      w.varint(m.controllerTerm, 'controllerTerm')
      break
  }
  const bytes = w.finish()
  if (bytes.length > messageBytesMax) throw new RangeError(`replica codec: message of ${bytes.length} bytes over ${messageBytesMax}`)
  return bytes
}

function readBody(r: Reader, kind: (typeof replicaMessageKinds)[number], stream: string): ReplicaMessage {
  switch (kind) {
    case 'push': {
      const n = r.count('event count', messageEventsMax, 2)
      const events: StreamEvent[] = []
      for (let i = 0; i < n; i++) {
        const length = r.varint('event length')
        if (length > eventBytesMax) throw new Refused(`event length ${length} over ${eventBytesMax}`)
        const decoded = decodeEvent(r.raw(length))
        if (!decoded.ok) throw new Refused(`event ${i}: ${decoded.error.message}`)
        events.push(decoded.value)
      }
      const flag = r.u8()
      if (flag > 1) throw new Refused(`commit flag ${flag}`)
      return { kind, stream, events, commit: flag === 1 ? readEntry(r) : null }
    }
    case 'durable':
      return { kind, stream, entries: readEntries(r, 'durable entries') }
    case 'heartbeat':
      return { kind, stream, heartbeat: readHeartbeat(r), commitSeq: r.varint('commitSeq') }
    case 'digest': {
      const held = readEntries(r, 'held vector')
      const durable = readEntries(r, 'durable vector')
      const commits = readEntries(r, 'commit vector')
      const n = r.count('heartbeat count', relayedHeartbeatsMax, 12)
      const heartbeats: Heartbeat[] = []
      for (let i = 0; i < n; i++) heartbeats.push(readHeartbeat(r))
      return { kind, stream, held, durable, commits, heartbeats, closesKnown: r.varint('closesKnown') }
    }
    case 'closes': {
      const requestId = r.varint('requestId')
      const n = r.count('decision count', decisionsMax, 6)
      const decisions: CloseDecision[] = []
      for (let i = 0; i < n; i++) decisions.push(readDecision(r))
      return { kind, stream, requestId, decisions }
    }
    case 'closes-applied':
      return { kind, stream, requestId: r.varint('requestId'), applied: r.varint('applied'), errorCode: r.str(errorCodeBytesMax, 'errorCode'), controllerTerm: r.varint('controllerTerm') }
    case 'fence':
      return { kind, stream, requestId: r.varint('requestId'), origin: r.origin(), incarnation: r.incarnation(), controllerTerm: r.varint('controllerTerm') }
    case 'fenced': {
      const requestId = r.varint('requestId')
      const origin = r.origin()
      const incarnation = r.incarnation()
      const ok = r.u8()
      if (ok > 1) throw new Refused(`ok flag ${ok}`)
      return { kind, stream, requestId, origin, incarnation, ok: ok === 1, durableSeq: r.varint('durableSeq'), controllerTerm: r.varint('controllerTerm') }
    }
  }
}

/** Decodes one message; anything malformed is a MalformedEventError value. */
export function decodeReplicaMessage(bytes: Uint8Array): Outcome<ReplicaMessage, MalformedEventError> {
  if (bytes.length > messageBytesMax) return failure(new MalformedEventError(`replica message of ${bytes.length} bytes over ${messageBytesMax}`))
  const r = new Reader(bytes)
  try {
    const version = r.u8()
    if (version !== replicaCodecVersion) return failure(new MalformedEventError(`replica message: unknown codec version ${version}`))
    const kindIndex = r.u8()
    const kind = replicaMessageKinds[kindIndex]
    if (kind === undefined) return failure(new MalformedEventError(`replica message: unknown kind ${kindIndex}`))
    const stream = r.str(streamBytesMax, 'stream')
    if (stream.length === 0) return failure(new MalformedEventError('replica message: empty stream'))
    const message = readBody(r, kind, stream)
    if (r.offset !== bytes.length) return failure(new MalformedEventError(`replica message: ${bytes.length - r.offset} trailing bytes`))
    return success(message)
  } catch (error) {
    if (error instanceof Refused) return failure(new MalformedEventError(`replica message: ${error.message}`, { cause: error }))
    throw error
  }
}
