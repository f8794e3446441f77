// Deterministic delivery order inside a region (DESIGN §3.2.4). Pure and deterministic.
//
// Events are delivered in (hlc, origin, incarnation, originSeq) order once STABLE: an event is
// stable when its hlc ≤ the frontier, where
//
//   frontier = min over live origin incarnations of heardPast(o)
//   heardPast(o) = max(fromHlc(o), hlc of o's last contiguous event, hlc of o's heartbeats
//                      whose sequence ≤ o's contiguous prefix)
//
// An origin stamps its events with a strictly increasing HLC, and a heartbeat {seq, hlc}
// promises that every event after `seq` has an hlc above `hlc`. So once the frontier passes a
// time, no live origin can still produce or deliver anything before it: the stable prefix of
// the order can only grow at its end. Replicas with the same event set and the same decisions
// therefore deliver the same sequence, and delivery never goes back (DESIGN §4.2).
//
// Closing: a dead origin incarnation holds the frontier back forever. A controller decision
// (fenced by controller term: a lower term than one already seen is refused) closes it at
// `atSeq` — the highest sequence any live replica holds. Its events up to atSeq are still
// delivered; once this replica holds them all, the closed incarnation stops holding the
// frontier; events past atSeq are never delivered. A close may name a SUCCESSOR incarnation
// (the node restarted): it takes the slot from `fromHlc`, and its events at or below fromHlc
// are never delivered. Precondition (checked locally): fromHlc is at or above everything the
// predecessor emitted — the restarted node starts its clock above its persisted HLC ceiling —
// so until a replica learns of the close, the predecessor holds its frontier below every
// successor event, and the same events end up in the same places everywhere.
//
// Duplicates (event-set.ts) are skipped at delivery: below the frontier their verdict is final,
// and every earlier copy of the id has been taken already, so the orderer judges them with a
// `DedupWindow` over what it took (the id's last survivor, kept while a window behind) — it
// never needs the delivered events again. That, and reading its events through the small
// `OrderSource` interface (an `EventSet`, or the replica's bounded committed view), is what lets
// a replica forget delivered events (replica/README.md "Memory"). The window keeps fingerprints
// of ids, not ids (dedup-window.ts): when the next copy's fingerprint matches a survivor whose
// id neither the source (`idAt`) nor the window knows, delivery PAUSES at that copy —
// `idsToRead` names the survivors, the driver reads their ids and hands them to `learnId` — so
// every verdict is exact.
import { compareHlc, hlcZero, isValidHlc, maxHlc } from './hlc.js'
import type { Hlc } from './hlc.js'
import { compareEventOrder, isValidIncarnation, originKey, originKeyOf } from './event.js'
import type { EventPosition, StreamEvent } from './event.js'
import { PersistentRejection, failure, success } from './errors.js'
import type { Outcome } from './errors.js'
import { DedupWindow, isUnresolved } from './dedup-window.js'
import type { IdLookup, UnresolvedIds, WindowSurvivor } from './dedup-window.js'
import type { SeqRange } from './version-vector.js'
import { orderIncarnationsMax, pendingHeartbeatsPerOriginMax } from './limits.js'
import { MinHeap } from './min-heap.js'

export interface OriginIncarnation {
  readonly origin: string
  readonly incarnation: number
}

/** From an origin: "I sent every event up to `seq`; every later one has an hlc above `hlc`." */
export interface Heartbeat extends OriginIncarnation {
  readonly seq: number
  readonly hlc: Hlc
}

export interface CloseDecision extends OriginIncarnation {
  /** Highest sequence of the incarnation that is delivered (0 = none). */
  readonly atSeq: number
  readonly controllerTerm: number
  /** A restarted node: the next incarnation of the same origin takes the slot from `fromHlc`. */
  readonly successor?: { readonly incarnation: number; readonly fromHlc: Hlc }
}

export interface Delivery {
  readonly event: StreamEvent
  /** Position in this region's deduplicated delivery sequence, from 0. */
  readonly index: number
}

export interface StableBatch {
  readonly delivered: readonly Delivery[]
  /** Copies passed over as duplicates of an earlier survivor (stable verdict). */
  readonly skippedDuplicates: readonly StreamEvent[]
}

interface Track {
  readonly origin: string
  readonly incarnation: number
  readonly fromHlc: Hlc
  closedAtSeq: number | null
  successor: number | null
  /** Best hlc vouched for by an applied heartbeat. */
  heartbeatHlc: Hlc
  /** Heartbeats waiting for their sequence to become contiguous, by ascending seq. */
  readonly pendingHeartbeats: Heartbeat[]
  deliveredMaxSeq: number
}

/**
 * What the orderer reads of the committed copies it is offered: per origin incarnation the
 * contiguous prefix, the hlc at its end, and the copies still held in memory (a new incarnation's
 * early copies). `EventSet` is one; the replica's committed view another.
 */
export interface OrderSource {
  readonly dedupWindowMs: number
  /** Sequences beyond the contiguous prefix an origin may have (bounds a new track's scan). */
  readonly gapMax: number
  contiguous(origin: string, incarnation: number): number
  /** The hlc of the copy at `originSeq`; defined at least for the contiguous prefix's last. */
  hlcAt(origin: string, incarnation: number, originSeq: number): Hlc | undefined
  /** The id of the copy at `originSeq` if known without I/O (in memory), else undefined. */
  idAt(origin: string, incarnation: number, originSeq: number): string | undefined
  eventsInRange(range: SeqRange, limit?: number): StreamEvent[]
}

/** Where a restarted orderer resumes (persisted by the driver with its deliveries). */
export interface ResumeAfter {
  readonly lastDelivered: EventPosition
  readonly deliveredCount: number
  /**
   * The dedup window at that point: delivered survivors whose wallMs is within `dedupWindowMs`
   * of `lastDelivered`, in delivery order (more is harmless). Without them a copy of an id
   * delivered just before the restart is judged as if that delivery had not happened.
   */
  readonly survivors?: readonly WindowSurvivor[]
  /** The same as a built window (adopted, not copied; its dedupWindowMs must be the source's). */
  readonly window?: DedupWindow
  /** Per origin key, the highest sequence at or below `lastDelivered` (closes below it are refused). */
  readonly settledSeqs?: ReadonlyMap<string, number>
}

export interface OrdererOptions {
  /** The origin incarnations of the replica set at the stream's start (from hlc 0). */
  readonly origins: readonly OriginIncarnation[]
  /** Highest controller term seen so far (decisions below it are stale). */
  readonly controllerTerm?: number
  /**
   * Resume after a restart: what this replica had delivered (persisted by the driver with the
   * consumer state). Held events at or below it are not delivered again.
   */
  readonly resumeAfter?: ResumeAfter
}

export type CloseOutcome = 'closed' | 'unchanged'

export class Orderer {
  readonly #set: OrderSource
  readonly #tracks = new Map<string, Track>()
  readonly #waiting = new MinHeap<StreamEvent>(compareEventOrder)
  /** Heartbeats of incarnations not tracked yet (a successor may speak before its decision arrives). */
  readonly #unknownHeartbeats = new Map<string, Heartbeat[]>()
  #lastDelivered: EventPosition | null = null
  /** The last copy taken from the waiting heap (delivered, skipped or excluded): everything committed at or below it is done. */
  #settled: EventPosition | null = null
  #deliveredCount = 0
  /** Events at or below this were delivered before a restart. */
  readonly #resumePoint: EventPosition | null
  readonly #settledSeqs: ReadonlyMap<string, number>
  readonly #dedup: DedupWindow
  readonly #idLookup: IdLookup
  /** Survivors whose ids the window needs before the next copy can be judged (delivery waits). */
  #idsToRead: readonly EventPosition[] = []
  #controllerTerm: number

  constructor(set: OrderSource, options: OrdererOptions) {
    this.#set = set
    this.#controllerTerm = options.controllerTerm ?? 0
    this.#resumePoint = options.resumeAfter?.lastDelivered ?? null
    this.#lastDelivered = this.#resumePoint
    this.#settled = this.#resumePoint
    this.#settledSeqs = options.resumeAfter?.settledSeqs ?? new Map()
    this.#deliveredCount = options.resumeAfter?.deliveredCount ?? 0
    const adopted = options.resumeAfter?.window
    if (adopted !== undefined && adopted.dedupWindowMs !== set.dedupWindowMs) throw new RangeError(`orderer: a resumed dedup window of ${adopted.dedupWindowMs} ms for a stream of ${set.dedupWindowMs} ms`)
    this.#dedup = adopted ?? new DedupWindow(set.dedupWindowMs)
    this.#idLookup = (p) => set.idAt(p.origin, p.incarnation, p.originSeq)
    this.#dedup.restore(options.resumeAfter?.survivors ?? [])
    for (const o of options.origins) this.#addTrack(o.origin, o.incarnation, hlcZero)
  }

  /** Everything committed at or below this position is delivered or passed over (null: nothing yet). */
  get settledThrough(): EventPosition | null {
    return this.#settled
  }

  /** Survivors the dedup window holds (memory: one small entry each). */
  get dedupWindowSize(): number {
    return this.#dedup.size
  }

  /** Bytes the dedup window's arrays take. */
  get dedupWindowBytes(): number {
    return this.#dedup.bytes
  }

  /**
   * The last survivor of `id` delivered here that a copy could still fold into, null if none,
   * or the survivors whose ids must be learned (`learnId`) before the answer is exact.
   */
  deliveredSurvivorOf(id: string): EventPosition | UnresolvedIds | null {
    return this.#dedup.survivorOf(id, this.#idLookup)
  }

  /**
   * Delivered survivors whose ids the dedup window must learn before delivery goes on: the next
   * stable copy's id has their fingerprint (empty when delivery is not waiting for ids). Read
   * each one's id from the store and pass it to `learnId`.
   */
  get idsToRead(): readonly EventPosition[] {
    return this.#idsToRead
  }

  /**
   * The id of the delivered survivor at `position`, read from the store; null when the store no
   * longer holds it (retention deleted it inside its window: its fingerprint then decides).
   * Returns false when the window no longer keeps it (nothing to learn).
   */
  learnId(position: EventPosition, id: string | null): boolean {
    return this.#dedup.learnId(position, id)
  }

  get controllerTerm(): number {
    return this.#controllerTerm
  }

  /** Survivors delivered so far (the next delivery's index). */
  get deliveredCount(): number {
    return this.#deliveredCount
  }

  /** The position of the last event delivered (a survivor), or null. */
  get lastDelivered(): EventPosition | null {
    return this.#lastDelivered
  }

  /** Events waiting for the frontier. */
  get waiting(): number {
    return this.#waiting.size
  }

  #addTrack(origin: string, incarnation: number, fromHlc: Hlc): void {
    if (!isValidIncarnation(incarnation)) throw new RangeError(`orderer: invalid incarnation ${incarnation}`)
    if (this.#tracks.size >= orderIncarnationsMax) throw new PersistentRejection('RG_ERR_LIMIT_EXCEEDED', `orderer: more than orderIncarnationsMax (${orderIncarnationsMax}) origin incarnations`, { limit: 'orderIncarnationsMax' })
    const key = originKey(origin, incarnation)
    if (this.#tracks.has(key)) throw new RangeError(`orderer: origin ${key} listed twice`)
    const track: Track = { origin, incarnation, fromHlc, closedAtSeq: null, successor: null, heartbeatHlc: hlcZero, pendingHeartbeats: [], deliveredMaxSeq: this.#settledSeqs.get(key) ?? 0 }
    this.#tracks.set(key, track)
    for (const hb of this.#unknownHeartbeats.get(key) ?? []) this.#queueHeartbeat(track.pendingHeartbeats, hb)
    this.#unknownHeartbeats.delete(key)
    // Events the set already holds for a new incarnation (they may have arrived before the decision).
    const contiguous = this.#set.contiguous(origin, incarnation)
    const held = this.#set.eventsInRange({ originKey: key, fromSeq: 1, toSeq: contiguous + this.#set.gapMax })
    for (const event of held) this.#offer(track, event)
  }

  #excluded(track: Track, event: StreamEvent): boolean {
    if (track.closedAtSeq !== null && event.originSeq > track.closedAtSeq) return true
    return compareHlc(event.hlc, track.fromHlc) <= 0
  }

  #offer(track: Track, event: StreamEvent): void {
    if (this.#excluded(track, event)) return
    if (this.#resumePoint !== null && compareEventOrder(event, this.#resumePoint) <= 0) {
      track.deliveredMaxSeq = Math.max(track.deliveredMaxSeq, event.originSeq)
      return
    }
    // Invariant: nothing can arrive below what was delivered (the frontier guarantees it).
    if (this.#lastDelivered !== null && compareEventOrder(event, this.#lastDelivered) <= 0) {
      throw new Error(`orderer: event ${originKeyOf(event)}:${event.originSeq} arrived below the delivered point (origin broke its HLC or heartbeat contract)`)
    }
    this.#waiting.push(event)
  }

  /** Offers events newly added to the set (`InsertResult.added`). Unknown incarnations wait in the set. */
  add(events: readonly StreamEvent[]): void {
    for (const event of events) {
      const track = this.#tracks.get(originKeyOf(event))
      if (track !== undefined) this.#offer(track, event)
    }
  }

  /** Records a heartbeat; false when its incarnation is not tracked (yet): it is kept, bounded, for when it is. */
  heartbeat(hb: Heartbeat): boolean {
    // Garbage from a peer is ignored (the frontier only waits longer).
    if (!(Number.isInteger(hb.seq) && hb.seq >= 0 && isValidHlc(hb.hlc))) return false
    const key = originKey(hb.origin, hb.incarnation)
    const track = this.#tracks.get(key)
    if (track !== undefined) {
      this.#queueHeartbeat(track.pendingHeartbeats, hb)
      return true
    }
    let waiting = this.#unknownHeartbeats.get(key)
    if (waiting === undefined) {
      if (this.#unknownHeartbeats.size >= orderIncarnationsMax) return false
      waiting = []
      this.#unknownHeartbeats.set(key, waiting)
    }
    this.#queueHeartbeat(waiting, hb)
    return false
  }

  #queueHeartbeat(pending: Heartbeat[], hb: Heartbeat): void {
    let at = pending.length
    while (at > 0 && (pending[at - 1] as Heartbeat).seq > hb.seq) at--
    pending.splice(at, 0, hb)
    // Dropping the oldest only delays the frontier (a later heartbeat vouches for more).
    if (pending.length > pendingHeartbeatsPerOriginMax) pending.shift()
  }

  #heardPast(track: Track): Hlc {
    const contiguous = this.#set.contiguous(track.origin, track.incarnation)
    const pending = track.pendingHeartbeats
    while (pending.length > 0 && (pending[0] as Heartbeat).seq <= contiguous) {
      track.heartbeatHlc = maxHlc(track.heartbeatHlc, (pending.shift() as Heartbeat).hlc)
    }
    let heard = maxHlc(track.fromHlc, track.heartbeatHlc)
    if (contiguous > 0) {
      const last = this.#set.hlcAt(track.origin, track.incarnation, contiguous)
      // Invariant: the source knows the hlc at the end of every contiguous prefix.
      if (last === undefined) throw new Error(`orderer: no hlc for ${originKey(track.origin, track.incarnation)}:${contiguous}`)
      heard = maxHlc(heard, last)
    }
    return heard
  }

  #holdsFrontier(track: Track): boolean {
    return track.closedAtSeq === null || this.#set.contiguous(track.origin, track.incarnation) < track.closedAtSeq
  }

  /** Everything at or below this hlc is stable; null = no live origin holds it (all is stable). */
  frontier(): Hlc | null {
    let frontier: Hlc | null = null
    for (const track of this.#tracks.values()) {
      if (!this.#holdsFrontier(track)) continue
      const heard = this.#heardPast(track)
      if (frontier === null || compareHlc(heard, frontier) < 0) frontier = heard
    }
    return frontier
  }

  /** Delivers every stable event, in order, skipping duplicates. */
  takeStable(limit = Number.MAX_SAFE_INTEGER): StableBatch {
    const frontier = this.frontier()
    const delivered: Delivery[] = []
    const skippedDuplicates: StreamEvent[] = []
    this.#idsToRead = []
    while (delivered.length < limit) {
      const next = this.#waiting.peek()
      if (next === undefined || (frontier !== null && compareHlc(next.hlc, frontier) > 0)) break
      const track = this.#tracks.get(originKeyOf(next)) as Track
      if (this.#excluded(track, next)) {
        this.#waiting.pop()
        this.#settled = next
        continue
      }
      const verdict = this.#dedup.take(next, this.#idLookup)
      if (isUnresolved(verdict)) {
        // Judged again once the ids are learned; nothing was taken.
        this.#idsToRead = verdict.unresolved
        break
      }
      this.#waiting.pop()
      this.#settled = next
      if (verdict !== null) {
        skippedDuplicates.push(next)
        continue
      }
      // Invariant (DESIGN §4.2): delivery never goes back.
      if (this.#lastDelivered !== null && compareEventOrder(next, this.#lastDelivered) <= 0) throw new Error('orderer: delivery would go back in time')
      this.#lastDelivered = next
      track.deliveredMaxSeq = Math.max(track.deliveredMaxSeq, next.originSeq)
      delivered.push({ event: next, index: this.#deliveredCount++ })
    }
    if (this.#settled !== null) this.#dedup.expire(this.#settled.hlc.wallMs)
    return { delivered, skippedDuplicates }
  }

  /**
   * Applies a controller decision closing an origin incarnation (optionally naming its
   * successor). `replay`: a decision this replica applied and persisted before a restart — the
   * checks against what it has delivered since held when it was first applied, so they are
   * not made again (a successor's fromHlc may now lie below the resume point).
   */
  close(decision: CloseDecision, options: { readonly replay?: boolean } = {}): Outcome<CloseOutcome, PersistentRejection> {
    const replay = options.replay === true
    const key = originKey(decision.origin, decision.incarnation)
    if (decision.controllerTerm < this.#controllerTerm) {
      return failure(new PersistentRejection('RG_ERR_STALE_TERM', `close ${key}: controller term ${decision.controllerTerm} is below ${this.#controllerTerm}`, { currentTerm: this.#controllerTerm }))
    }
    if (!(Number.isInteger(decision.atSeq) && decision.atSeq >= 0)) return failure(new PersistentRejection('RG_ERR_INVALID_ARGUMENT', `close ${key}: atSeq must be an integer >= 0`))
    const track = this.#tracks.get(key)
    if (track === undefined) return failure(new PersistentRejection('RG_ERR_NOT_FOUND', `close ${key}: unknown origin incarnation`))
    const successor = decision.successor ?? null
    if (track.closedAtSeq !== null) {
      // A close is final: only the same decision again (possibly restated under a newer term).
      const same = track.closedAtSeq === decision.atSeq && track.successor === (successor?.incarnation ?? null)
      if (!same) return failure(new PersistentRejection('RG_ERR_CONFLICT', `close ${key}: already closed at ${track.closedAtSeq}`, { closedAtSeq: track.closedAtSeq }))
      this.#controllerTerm = Math.max(this.#controllerTerm, decision.controllerTerm)
      return success('unchanged')
    }
    if (!replay && decision.atSeq < track.deliveredMaxSeq) {
      return failure(new PersistentRejection('RG_ERR_CONFLICT', `close ${key} at ${decision.atSeq}: this replica already delivered sequence ${track.deliveredMaxSeq}`, { deliveredMaxSeq: track.deliveredMaxSeq }))
    }
    if (successor !== null) {
      const successorKey = originKey(decision.origin, successor.incarnation)
      if (!isValidIncarnation(successor.incarnation) || successor.incarnation <= decision.incarnation || this.#tracks.has(successorKey)) {
        return failure(new PersistentRejection('RG_ERR_INVALID_ARGUMENT', `close ${key}: successor incarnation must be new and above ${decision.incarnation}`))
      }
      const heard = this.#heardPast(track)
      if (!replay && (compareHlc(successor.fromHlc, heard) < 0 || (this.#lastDelivered !== null && compareHlc(successor.fromHlc, this.#lastDelivered.hlc) < 0))) {
        return failure(new PersistentRejection('RG_ERR_INVALID_STATE', `close ${key}: successor fromHlc is below what this replica heard from the predecessor`, { heardPast: heard }))
      }
      if (this.#tracks.size >= orderIncarnationsMax) return failure(new PersistentRejection('RG_ERR_LIMIT_EXCEEDED', `orderer: orderIncarnationsMax (${orderIncarnationsMax}) reached`, { limit: 'orderIncarnationsMax' }))
    }
    this.#controllerTerm = decision.controllerTerm
    track.closedAtSeq = decision.atSeq
    track.successor = successor?.incarnation ?? null
    if (successor !== null) this.#addTrack(decision.origin, successor.incarnation, successor.fromHlc)
    return success('closed')
  }

  /** The live (frontier-holding) origin incarnations, sorted. */
  liveOrigins(): string[] {
    return [...this.#tracks.entries()].filter(([, t]) => this.#holdsFrontier(t)).map(([k]) => k).sort()
  }
}
