// The receiver of one (stream, source region A) on one replica of the destination region B: an
// I/O-free state machine. Inputs: `step` (a shipper's resolve or batch), `published` (the local
// replica's ack of a publish it asked for), `deliveredThrough` (from RegionDedup: how far B's
// delivery order holds A's shipping sequence), `tick`. Output: `ready()` → publishes for the
// local StreamReplica (as local writes, ack level `majority`) and replies to the shipper.
//
// THE RULES (README.md proves them):
//  - A remote event is written into B as a NEW copy with the SAME id, payload and headers plus
//    `Rg-Source` (provenance.ts): B's origin and HLC place it in B's order at receipt; the id
//    keeps it in the dedup of B (RegionDedup, by source time).
//  - `ackedThrough` = the highest shipSeq such that every shipSeq up to it is committed in B as far
//    as this replica knows: delivered here (`deliveredThrough`), or written by this receiver in
//    this life and acked at `majority`. It answers `resolve`, and a batch is acked with it once
//    it covers the batch. Everything it vouches for is on a majority of B's disks (invariant 1),
//    so a cursor built from it never skips an event.
//  - It writes shipSeqs contiguously: a batch that starts past `publishedThrough + 1` is refused
//    (`gap`, with the next shipSeq it takes); what it already wrote is not written again.
//  - Terms: it keeps the highest shipper term seen; a lower one is refused (`stale-term`). Terms
//    are for efficiency, not safety: writing a remote event twice only adds a copy that
//    RegionDedup drops by its shipping position.
//  - A publish that fails or times out ends the run: it forgets what is unacked (those copies,
//    if they commit after all, are dropped by RegionDedup), refuses the waiting batches
//    (`unavailable`) and takes the shipper's resend from `ackedThrough + 1`.
import { eventHeadersMax } from '../limits.js'
import type { PublishRequest } from '../replica/types.js'
import {
  receiverPendingPublishesMax,
  receiverPublishTimeoutMsDefault,
  receiverWaitingBatchesMax,
} from './limits.js'
import type { BatchMessage, OutgoingShipMessage, RefusedMessage, ResolveMessage, ShipRefusalReason, ToReceiver, ToShipper } from './messages.js'
import { isLocallyOriginated, shippedHeaders } from './provenance.js'

export interface ReceiverOptions {
  readonly stream: string
  readonly sourceRegion: string
  readonly destRegion: string
  readonly pendingPublishesMax?: number
  readonly waitingBatchesMax?: number
  readonly publishTimeoutMs?: number
}

export interface ReceiverNotice {
  readonly kind: 'refused' | 'run-failed'
  readonly detail: string
}

export interface ReceiverReady {
  /** Hand these to the local StreamReplica's `publish`, then report each ack with `published`. */
  readonly publishes: readonly PublishRequest[]
  readonly messages: readonly OutgoingShipMessage<ToShipper>[]
  readonly notices: readonly ReceiverNotice[]
}

export interface ReceiverStats {
  readonly published: number
  /** Shipped events not written again (this receiver wrote or delivered them already). */
  readonly skipped: number
  readonly failedRuns: number
}

interface Pending {
  readonly seq: number
  readonly deadlineMs: number
}

interface Waiting {
  readonly to: string
  readonly term: number
  readonly batchId: number
  readonly toSeq: number
}

/** Every publish id a receiver makes starts with this (the driver routes acks by it). */
export const receiverPublishIdPrefix = 'ship/'

/** The source region of a receiver's publish id, or null for any other publish. */
export function sourceRegionOfPublishId(publishId: string): string | null {
  if (!publishId.startsWith(receiverPublishIdPrefix)) return null
  const end = publishId.indexOf('/', receiverPublishIdPrefix.length)
  return end < 0 ? null : publishId.slice(receiverPublishIdPrefix.length, end)
}

export class Receiver {
  readonly stream: string
  readonly sourceRegion: string
  readonly destRegion: string
  readonly pendingPublishesMax: number
  readonly waitingBatchesMax: number
  readonly publishTimeoutMs: number
  #term = 0
  #ackedThrough = 0
  #publishedThrough = 0
  #generation = 0
  readonly #pending = new Map<string, Pending>()
  readonly #ackedAbove = new Set<number>()
  #waiting: Waiting[] = []
  #nowMs = 0
  #publishes: PublishRequest[] = []
  #messages: OutgoingShipMessage<ToShipper>[] = []
  #notices: ReceiverNotice[] = []
  #stats = { published: 0, skipped: 0, failedRuns: 0 }

  constructor(options: ReceiverOptions) {
    if (options.sourceRegion === options.destRegion) throw new RangeError(`receiver: source and destination are both ${options.sourceRegion}`)
    this.stream = options.stream
    this.sourceRegion = options.sourceRegion
    this.destRegion = options.destRegion
    this.pendingPublishesMax = options.pendingPublishesMax ?? receiverPendingPublishesMax
    this.waitingBatchesMax = options.waitingBatchesMax ?? receiverWaitingBatchesMax
    this.publishTimeoutMs = options.publishTimeoutMs ?? receiverPublishTimeoutMsDefault
  }

  get term(): number {
    return this.#term
  }

  /** Highest shipSeq of the source known committed in this region (a contiguous prefix). */
  get ackedThrough(): number {
    return this.#ackedThrough
  }

  /** Highest shipSeq this receiver wrote (or knows delivered) in this life. */
  get publishedThrough(): number {
    return this.#publishedThrough
  }

  get pendingPublishes(): number {
    return this.#pending.size
  }

  get stats(): ReceiverStats {
    return { ...this.#stats }
  }

  /** RegionDedup's contiguous prefix of this source in the local delivery order grew. */
  deliveredThrough(seq: number): void {
    if (seq <= this.#ackedThrough) return
    this.#ackedThrough = seq
    for (const s of this.#ackedAbove) if (s <= seq) this.#ackedAbove.delete(s)
    this.#advanceAcked()
    if (this.#publishedThrough < this.#ackedThrough) this.#publishedThrough = this.#ackedThrough
    for (const [id, p] of this.#pending) if (p.seq <= this.#ackedThrough) this.#pending.delete(id)
  }

  /** The local replica answered a publish of this receiver (`ok`: acked at majority). */
  published(publishId: string, ok: boolean): void {
    const pending = this.#pending.get(publishId)
    if (pending === undefined) return // an earlier run's, or already covered by delivery
    this.#pending.delete(publishId)
    if (!ok) {
      this.#failRun(`publish ${publishId} refused`)
      return
    }
    this.#ackedAbove.add(pending.seq)
    this.#advanceAcked()
  }

  tick(nowMs: number): void {
    this.#advance(nowMs)
    for (const [id, p] of this.#pending) {
      if (p.deadlineMs > nowMs) continue
      this.#failRun(`publish ${id} not acked within ${this.publishTimeoutMs} ms`)
      return
    }
  }

  /** `writable`: whether the local replica holds an origin slot (a restarted one may not yet). */
  step(from: string, m: ToReceiver, nowMs: number, writable: boolean): void {
    this.#advance(nowMs)
    if (m.stream !== this.stream || m.sourceRegion !== this.sourceRegion) return this.#refuse(from, m, 'malformed', `for ${m.stream} from ${m.sourceRegion}`)
    if (m.term < this.#term) return this.#refuse(from, m, 'stale-term', `term ${m.term} below ${this.#term}`)
    if (m.term > this.#term) {
      this.#term = m.term
      this.#waiting = this.#waiting.filter((w) => w.term === this.#term)
    }
    if (m.kind === 'resolve') return this.#resolve(from, m)
    this.#batch(from, m, writable)
  }

  #resolve(from: string, m: ResolveMessage): void {
    this.#messages.push({ to: from, message: { kind: 'resolved', stream: this.stream, sourceRegion: this.sourceRegion, term: m.term, requestId: m.requestId, cursor: this.#ackedThrough } })
  }

  #batch(from: string, m: BatchMessage, writable: boolean): void {
    if (m.events.length === 0) return this.#refuse(from, m, 'malformed', 'empty batch')
    for (const event of m.events) {
      if (event.stream !== this.stream) return this.#refuse(from, m, 'malformed', `an event of ${event.stream}`)
      // A copy this region received from elsewhere is never shipped on (no loops).
      if (!isLocallyOriginated(event)) return this.#refuse(from, m, 'malformed', `event ${event.id} is itself a shipped copy`)
      if (event.headers.length >= eventHeadersMax) return this.#refuse(from, m, 'malformed', `event ${event.id} has ${event.headers.length} headers: no room for Rg-Source (eventHeadersMax ${eventHeadersMax})`)
    }
    if (!writable) return this.#refuse(from, m, 'unavailable', 'the local replica holds no origin slot')
    const toSeq = m.fromSeq + m.events.length - 1
    if (m.fromSeq > this.#publishedThrough + 1) return this.#refuse(from, m, 'gap', `starts at ${m.fromSeq}`)
    const fresh = m.events.slice(this.#publishedThrough + 1 - m.fromSeq)
    if (this.#pending.size + fresh.length > this.pendingPublishesMax || this.#waiting.length >= this.waitingBatchesMax) {
      return this.#refuse(from, m, 'busy', `${this.#pending.size} publishes and ${this.#waiting.length} batches waiting`)
    }
    this.#stats.skipped += m.events.length - fresh.length
    let seq = this.#publishedThrough
    for (const event of fresh) {
      seq++
      const publishId = `${receiverPublishIdPrefix}${this.sourceRegion}/${this.#generation}/${seq}`
      this.#pending.set(publishId, { seq, deadlineMs: this.#nowMs + this.publishTimeoutMs })
      this.#publishes.push({ publishId, id: event.id, headers: shippedHeaders(event, this.sourceRegion, seq), payload: event.payload, ackLevel: 'majority' })
      this.#stats.published++
    }
    // Invariant: writes stay contiguous in shipSeq.
    if (fresh.length > 0 && seq !== toSeq) throw new Error(`receiver: wrote up to ${seq}, batch ends at ${toSeq}`)
    this.#publishedThrough = Math.max(this.#publishedThrough, toSeq)
    this.#waiting.push({ to: from, term: m.term, batchId: m.batchId, toSeq })
    this.#answerWaiting()
  }

  ready(): ReceiverReady {
    this.#answerWaiting()
    const ready: ReceiverReady = { publishes: this.#publishes, messages: this.#messages, notices: this.#notices }
    this.#publishes = []
    this.#messages = []
    this.#notices = []
    return ready
  }

  #answerWaiting(): void {
    if (this.#waiting.length === 0) return
    const still: Waiting[] = []
    for (const w of this.#waiting) {
      if (w.toSeq > this.#ackedThrough) {
        still.push(w)
        continue
      }
      this.#messages.push({ to: w.to, message: { kind: 'batch-ack', stream: this.stream, sourceRegion: this.sourceRegion, term: w.term, batchId: w.batchId, cursor: this.#ackedThrough } })
    }
    this.#waiting = still
  }

  #advanceAcked(): void {
    while (this.#ackedAbove.delete(this.#ackedThrough + 1)) this.#ackedThrough++
  }

  #refuse(from: string, m: ToReceiver, reason: ShipRefusalReason, detail: string): void {
    const batchId = m.kind === 'batch' ? m.batchId : 0
    this.#notices.push({ kind: 'refused', detail: `${m.kind}${batchId === 0 ? '' : ` #${batchId}`} from ${from}: ${reason}: ${detail}` })
    const message: RefusedMessage = {
      kind: 'refused',
      stream: this.stream,
      sourceRegion: this.sourceRegion,
      term: reason === 'stale-term' ? this.#term : m.term,
      batchId,
      reason,
      cursor: this.#ackedThrough,
      expected: this.#publishedThrough + 1,
    }
    this.#messages.push({ to: from, message })
  }

  #failRun(why: string): void {
    this.#stats.failedRuns++
    this.#notices.push({ kind: 'run-failed', detail: why })
    this.#generation++
    this.#pending.clear()
    this.#ackedAbove.clear()
    this.#publishedThrough = this.#ackedThrough
    for (const w of this.#waiting) {
      this.#messages.push({ to: w.to, message: { kind: 'refused', stream: this.stream, sourceRegion: this.sourceRegion, term: w.term, batchId: w.batchId, reason: 'unavailable', cursor: this.#ackedThrough, expected: this.#ackedThrough + 1 } })
    }
    this.#waiting = []
  }

  #advance(nowMs: number): void {
    if (!Number.isFinite(nowMs)) throw new RangeError(`receiver: nowMs must be finite, got ${nowMs}`)
    this.#nowMs = Math.max(this.#nowMs, nowMs)
  }
}
