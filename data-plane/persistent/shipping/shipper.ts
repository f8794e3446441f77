// The shipper of one (stream, source region A → destination region B): an I/O-free state machine
// held by the designated node of A (controller `ship:<B>`, with a term that only grows). Inputs:
// `step` (a receiver's reply), `tick`; output: `ready(source, nowMs)` → messages to send and
// notices. No clocks, timers, randomness or I/O: time comes in as `nowMs`, the events come from
// a `ShipSource` the driver keeps over this node's delivered log.
//
// THE RULES (README.md proves them):
//  - It ships A's STABLE delivery order filtered to A-originated events (`shipSeq` 1, 2, …: the
//    same numbering on every replica of A, invariant 2), never copies received from other
//    regions: no loops, one direction per pair of regions and source.
//  - RESOLVE first: on start, after a failure and after a timeout it asks a receiver of B where
//    B stands and ships from that answer + 1. The answer is a prefix committed in B, so nothing
//    is skipped (no gap), and what is resent is bounded by what B committed but the receiver has
//    not delivered yet (no unbounded resend). The shipper persists nothing.
//  - `cursor` = the highest shipSeq B vouched for (answers, acks): it never goes back. What is
//    sent next may go back (a resend after a gap, a failure or a resolve); B drops the overlap.
//  - A window of `windowBatches` batches in flight, each bounded by count and bytes (at least
//    one event). A batch not acked within `ackTimeoutMs` fails the run: back off (doubling from
//    `backoffMsMin` to `backoffMsMax`), take the next receiver candidate, resolve again.
//  - A `stale-term` refusal (a newer shipper exists) stops it for good.
import type { StreamEvent } from '../event.js'
import { replicationLag } from './lag.js'
import type { ReplicationLag } from './lag.js'
import {
  shipAckTimeoutMsDefault,
  shipBackoffMsMaxDefault,
  shipBackoffMsMinDefault,
  shipBatchBytesDefault,
  shipBatchEventsDefault,
  shipBatchEventsMax,
  shipResolveTimeoutMsDefault,
  shipWindowBatchesDefault,
  shipWindowBatchesMax,
} from './limits.js'
import type { OutgoingShipMessage, ToReceiver, ToShipper } from './messages.js'

export interface ShipperTiming {
  readonly ackTimeoutMs: number
  readonly resolveTimeoutMs: number
  readonly backoffMsMin: number
  readonly backoffMsMax: number
}

export interface ShipperOptions {
  readonly stream: string
  readonly sourceRegion: string
  readonly destRegion: string
  /** The designation's controller term. */
  readonly term: number
  /** Receiver candidates: the destination region's replicas, tried in turn. */
  readonly receivers: readonly string[]
  /** Index in `receivers` to try first (spread shippers over receivers). */
  readonly firstReceiver?: number
  readonly batchEventsMax?: number
  /** Soft budget of a batch's events (estimated encoded bytes); a batch holds at least one event. */
  readonly batchBytesMax?: number
  readonly windowBatches?: number
  readonly timing?: Partial<ShipperTiming>
}

/** The A-originated events this node has delivered, numbered from 1 in delivery order. */
export interface ShipSource {
  readonly head: number
  /** The event at `shipSeq` (1 ≤ shipSeq ≤ head). */
  event(shipSeq: number): StreamEvent
}

export const shipperPhases = ['resolving', 'shipping', 'stopped'] as const
export type ShipperPhase = (typeof shipperPhases)[number]

export interface ShipperNotice {
  readonly kind: 'failure' | 'refused' | 'stopped' | 'ignored'
  readonly detail: string
}

export interface ShipperReady {
  readonly messages: readonly OutgoingShipMessage<ToReceiver>[]
  readonly notices: readonly ShipperNotice[]
}

export interface ShipperStats {
  readonly batchesSent: number
  readonly eventsSent: number
  /** Events sent at or below the highest shipSeq sent before (resends). */
  readonly eventsResent: number
  readonly resolves: number
  readonly failures: number
}

interface InFlight {
  readonly fromSeq: number
  readonly toSeq: number
  readonly sentAtMs: number
}

/** Fixed part of an encoded event (version, hlc, incarnation, seq, length prefixes) plus the batch's u32. */
const eventFramingBytes = 40
const encoder = new TextEncoder()

/** Estimated encoded size of an event in a batch (ASCII-exact for names; a soft budget). */
export function eventWireBytes(e: StreamEvent): number {
  let bytes = eventFramingBytes + e.origin.length + encoder.encode(e.stream).length + encoder.encode(e.id).length + e.payload.length
  for (const [key, value] of e.headers) bytes += 6 + encoder.encode(key).length + encoder.encode(value).length
  return bytes
}

export class Shipper {
  readonly stream: string
  readonly sourceRegion: string
  readonly destRegion: string
  readonly term: number
  readonly receivers: readonly string[]
  readonly batchEventsMax: number
  readonly batchBytesMax: number
  readonly windowBatches: number
  readonly timing: ShipperTiming
  #phase: ShipperPhase = 'resolving'
  #cursor = 0
  #nextSeq = 1
  #sentThrough = 0
  readonly #inFlight = new Map<number, InFlight>()
  #nextBatchId = 1
  #requestId = 0
  #resolveSentAtMs: number | null = null
  #retryAtMs = Number.NEGATIVE_INFINITY
  #failuresInARow = 0
  #receiverIndex: number
  #nowMs = 0
  #messages: OutgoingShipMessage<ToReceiver>[] = []
  #notices: ShipperNotice[] = []
  #stats = { batchesSent: 0, eventsSent: 0, eventsResent: 0, resolves: 0, failures: 0 }

  constructor(options: ShipperOptions) {
    if (options.receivers.length === 0) throw new RangeError('shipper: no receiver candidates')
    if (!(Number.isSafeInteger(options.term) && options.term >= 1)) throw new RangeError(`shipper: term must be an integer >= 1, got ${options.term}`)
    this.stream = options.stream
    this.sourceRegion = options.sourceRegion
    this.destRegion = options.destRegion
    this.term = options.term
    this.receivers = [...options.receivers]
    this.batchEventsMax = options.batchEventsMax ?? shipBatchEventsDefault
    this.batchBytesMax = options.batchBytesMax ?? shipBatchBytesDefault
    this.windowBatches = options.windowBatches ?? shipWindowBatchesDefault
    if (!(this.batchEventsMax >= 1 && this.batchEventsMax <= shipBatchEventsMax)) throw new RangeError(`shipper: batchEventsMax must be 1..${shipBatchEventsMax}`)
    if (!(this.windowBatches >= 1 && this.windowBatches <= shipWindowBatchesMax)) throw new RangeError(`shipper: windowBatches must be 1..${shipWindowBatchesMax}`)
    this.timing = {
      ackTimeoutMs: options.timing?.ackTimeoutMs ?? shipAckTimeoutMsDefault,
      resolveTimeoutMs: options.timing?.resolveTimeoutMs ?? shipResolveTimeoutMsDefault,
      backoffMsMin: options.timing?.backoffMsMin ?? shipBackoffMsMinDefault,
      backoffMsMax: options.timing?.backoffMsMax ?? shipBackoffMsMaxDefault,
    }
    this.#receiverIndex = Math.abs(Math.trunc(options.firstReceiver ?? 0)) % this.receivers.length
  }

  get phase(): ShipperPhase {
    return this.#phase
  }

  /** Highest shipSeq the destination vouched for as committed. Never goes back. */
  get cursor(): number {
    return this.#cursor
  }

  /** The next shipSeq to put in a batch. */
  get nextSeq(): number {
    return this.#nextSeq
  }

  get inFlightBatches(): number {
    return this.#inFlight.size
  }

  get receiver(): string {
    return this.receivers[this.#receiverIndex] as string
  }

  get stats(): ShipperStats {
    return { ...this.#stats }
  }

  lag(source: ShipSource, nowMs: number): ReplicationLag {
    const waiting = this.#cursor + 1 <= source.head ? source.event(this.#cursor + 1).hlc.wallMs : 0
    return replicationLag(source.head, this.#cursor, waiting, nowMs)
  }

  /** The driver stops it (designation lost, node leaving). */
  stop(why: string): void {
    if (this.#phase === 'stopped') return
    this.#phase = 'stopped'
    this.#inFlight.clear()
    this.#notices.push({ kind: 'stopped', detail: why })
  }

  tick(nowMs: number): void {
    this.#advance(nowMs)
    if (this.#phase === 'resolving' && this.#resolveSentAtMs !== null && nowMs - this.#resolveSentAtMs >= this.timing.resolveTimeoutMs) {
      this.#fail(`no answer to resolve #${this.#requestId} from ${this.receiver} within ${this.timing.resolveTimeoutMs} ms`)
      return
    }
    if (this.#phase === 'shipping') {
      for (const [batchId, f] of this.#inFlight) {
        if (nowMs - f.sentAtMs < this.timing.ackTimeoutMs) continue
        this.#fail(`batch #${batchId} (${f.fromSeq}..${f.toSeq}) not acked by ${this.receiver} within ${this.timing.ackTimeoutMs} ms`)
        return
      }
    }
  }

  step(from: string, m: ToShipper, nowMs: number): void {
    this.#advance(nowMs)
    if (this.#phase === 'stopped') return
    if (m.stream !== this.stream || m.sourceRegion !== this.sourceRegion) {
      this.#notices.push({ kind: 'ignored', detail: `${m.kind} from ${from} for ${m.stream} from ${m.sourceRegion}` })
      return
    }
    if (m.kind === 'refused' && m.reason === 'stale-term' && m.term > this.term) {
      this.stop(`${from} saw shipper term ${m.term} (this one holds ${this.term})`)
      return
    }
    if (m.term !== this.term) {
      this.#notices.push({ kind: 'ignored', detail: `${m.kind} from ${from} of term ${m.term} (this one holds ${this.term})` })
      return
    }
    switch (m.kind) {
      case 'resolved':
        if (this.#phase !== 'resolving' || m.requestId !== this.#requestId || from !== this.receiver) return
        this.#raiseCursor(m.cursor)
        // Ship from what THIS receiver has: it refuses a batch past it (a gap), and an answer
        // below the cursor only means a resend of what B already committed.
        this.#nextSeq = m.cursor + 1
        this.#inFlight.clear()
        this.#resolveSentAtMs = null
        this.#phase = 'shipping'
        return
      case 'batch-ack':
        this.#raiseCursor(m.cursor)
        this.#inFlight.delete(m.batchId)
        for (const [batchId, f] of this.#inFlight) if (f.toSeq <= this.#cursor) this.#inFlight.delete(batchId)
        if (this.#phase === 'shipping' && this.#nextSeq <= this.#cursor) this.#nextSeq = this.#cursor + 1
        this.#failuresInARow = 0
        return
      case 'refused':
        this.#onRefused(from, m)
        return
    }
  }

  #onRefused(from: string, m: Extract<ToShipper, { kind: 'refused' }>): void {
    this.#raiseCursor(m.cursor)
    this.#notices.push({ kind: 'refused', detail: `${from} refused ${m.batchId === 0 ? 'resolve' : `batch #${m.batchId}`}: ${m.reason} (cursor ${m.cursor}, expected ${m.expected})` })
    switch (m.reason) {
      case 'gap':
      case 'busy': {
        // Only a refusal of a batch still in flight rewinds (a late one is stale).
        if (this.#phase !== 'shipping' || !this.#inFlight.has(m.batchId)) return
        const resumeAt = Math.max(m.expected, this.#cursor + 1)
        for (const [batchId, f] of this.#inFlight) if (f.fromSeq >= resumeAt || batchId === m.batchId) this.#inFlight.delete(batchId)
        this.#nextSeq = Math.min(this.#nextSeq, resumeAt)
        if (m.reason === 'busy') this.#backOff()
        return
      }
      case 'unavailable':
      case 'malformed':
        if (from === this.receiver) this.#fail(`${from} refused: ${m.reason}`)
        return
      case 'stale-term':
        return // not newer than this term: nothing to learn
    }
  }

  ready(source: ShipSource, nowMs: number): ShipperReady {
    this.#advance(nowMs)
    if (this.#phase === 'resolving' && this.#resolveSentAtMs === null && nowMs >= this.#retryAtMs) {
      this.#requestId++
      this.#resolveSentAtMs = nowMs
      this.#stats.resolves++
      this.#messages.push({ to: this.receiver, message: { kind: 'resolve', stream: this.stream, sourceRegion: this.sourceRegion, term: this.term, requestId: this.#requestId } })
    }
    if (this.#phase === 'shipping' && nowMs >= this.#retryAtMs) {
      while (this.#inFlight.size < this.windowBatches && this.#nextSeq <= source.head) this.#sendBatch(source, nowMs)
    }
    const ready: ShipperReady = { messages: this.#messages, notices: this.#notices }
    this.#messages = []
    this.#notices = []
    return ready
  }

  #sendBatch(source: ShipSource, nowMs: number): void {
    const fromSeq = this.#nextSeq
    const events: StreamEvent[] = []
    let bytes = 0
    for (let seq = fromSeq; seq <= source.head && events.length < this.batchEventsMax; seq++) {
      const event = source.event(seq)
      const size = eventWireBytes(event)
      if (events.length > 0 && bytes + size > this.batchBytesMax) break
      events.push(event)
      bytes += size
    }
    const toSeq = fromSeq + events.length - 1
    const batchId = this.#nextBatchId++
    this.#inFlight.set(batchId, { fromSeq, toSeq, sentAtMs: nowMs })
    this.#nextSeq = toSeq + 1
    this.#stats.batchesSent++
    this.#stats.eventsSent += events.length
    this.#stats.eventsResent += Math.max(0, Math.min(toSeq, this.#sentThrough) - fromSeq + 1)
    this.#sentThrough = Math.max(this.#sentThrough, toSeq)
    this.#messages.push({ to: this.receiver, message: { kind: 'batch', stream: this.stream, sourceRegion: this.sourceRegion, term: this.term, batchId, fromSeq, events } })
  }

  #raiseCursor(cursor: number): void {
    // Invariant: the cursor only moves forward (every value is one B vouched for as committed).
    if (cursor > this.#cursor) this.#cursor = cursor
  }

  #advance(nowMs: number): void {
    if (!Number.isFinite(nowMs)) throw new RangeError(`shipper: nowMs must be finite, got ${nowMs}`)
    this.#nowMs = Math.max(this.#nowMs, nowMs)
  }

  #backOff(): void {
    this.#failuresInARow++
    const delay = Math.min(this.timing.backoffMsMax, this.timing.backoffMsMin * 2 ** Math.min(30, this.#failuresInARow - 1))
    this.#retryAtMs = this.#nowMs + delay
  }

  /** A failed run: back off, next receiver candidate, resolve again. */
  #fail(why: string): void {
    this.#stats.failures++
    this.#notices.push({ kind: 'failure', detail: why })
    this.#backOff()
    this.#inFlight.clear()
    this.#resolveSentAtMs = null
    this.#phase = 'resolving'
    this.#receiverIndex = (this.#receiverIndex + 1) % this.receivers.length
  }
}
