// The tap of one multi-region stream's replica on this node (issue #6, data-plane/persistent/
// shipping README "Wiring"): every delivery of the engine, in delivery order, goes through the
// replica's RegionDedup, and from its verdicts come
//   - the GROUP sequence: the deliveries RegionDedup lets through. Consumer groups read it
//     instead of the delivery log (`GroupSequence`, registered for the engine in
//     group-sequence.ts): group position g is the g-th delivery let through;
//   - the SHIPPING source: this region's own events in delivery order, shipSeq = 1, 2, … (the
//     same on every replica of the region: one delivery order, invariant 2);
//   - `deliveredThrough(source)` of each other region, which the receivers vouch for;
//   - the event-set digest (event-set-digest.ts).
// All of it is a function of the delivery sequence. It lives in memory and is rebuilt at open by
// reading the delivered log back from index 0 (RegionDedup keeps no checkpoint: see README
// "Restart"); deliveries recorded later are read as the engine reports them (`onDelivered`),
// from its delivery cache when it still holds them, else from the store.
import { RegionDedup } from '../../data-plane/persistent/index.js'
import type { DedupVerdict, RegionDedupStats, StreamEvent } from '../../data-plane/persistent/index.js'
import { EventSetDigest } from './event-set-digest.js'
import type { EventSetDigestView } from './event-set-digest.js'
import { tapReadEventsMax } from './limits.js'
import { SubsequenceIndex } from './subsequence-index.js'

export type IndexedEvent = { readonly index: number; readonly event: StreamEvent }

/** What the tap needs of the stream's engine (StreamEngine fits it). */
export interface TapEngine {
  readonly deliveredCount: number
  onDelivered(listener: (deliveredCount: number) => void): () => void
  fetch(from: number, max: number): Promise<ReadonlyArray<IndexedEvent>>
  cached(from: number, max: number): ReadonlyArray<IndexedEvent> | undefined
}

export interface RegionTapOptions {
  readonly stream: string
  readonly region: string
  /** Every region the stream is placed in (this one included). */
  readonly regions: readonly string[]
  /** The stream's dedup window, applied here in source time (the replica runs with 0). */
  readonly dedupWindowMs: number
  /** A copy from `source` was delivered: RegionDedup now holds its shipping sequence through `deliveredThrough`. */
  readonly onRemoteDelivered?: (source: string, deliveredThrough: number) => void
  /**
   * The shipping source grew (this region's own events delivered, up to `localShipSeq`): once per
   * read step, so shippers send at once instead of at their next tick.
   */
  readonly onLocalDelivered?: (localShipSeq: number) => void
  /** The tap read up to the engine's count it saw at open (receivers and shippers may start). */
  readonly onCaughtUp?: () => void
  /** Problems worth a log line (a read failed, retention removed deliveries before they were read). */
  readonly onProblem?: (detail: string) => void
}

export interface RegionTapView {
  /** Deliveries of the engine read through RegionDedup. */
  readonly processed: number
  /** Whether the tap read every delivery recorded at open (the rebuild after a restart). */
  readonly caughtUp: boolean
  /** The group sequence's length (what consumer groups see). */
  readonly groupSequence: number
  /** This region's own events delivered (the shipping source's head). */
  readonly localShipSeq: number
  /** Per other region: highest shipSeq such that all up to it were delivered here. */
  readonly deliveredThrough: Readonly<Record<string, number>>
  readonly digest: EventSetDigestView
  readonly dedup: RegionDedupStats
  /** Deliveries removed by retention before this replica read them (after a restart). */
  readonly skippedByRetention: number
}

export class RegionTap {
  readonly stream: string
  readonly region: string
  readonly regions: readonly string[]
  readonly dedup: RegionDedup
  /** Group position → delivery index. */
  readonly group = new SubsequenceIndex()
  /** shipSeq − 1 → delivery index of this region's own events. */
  readonly local = new SubsequenceIndex()
  readonly digest: EventSetDigest
  readonly #engine: TapEngine
  readonly #options: RegionTapOptions
  readonly #groupListeners = new Set<(count: number) => void>()
  #processed = 0
  #caughtUpAt: number
  #caughtUp = false
  #reading = false
  #stopped = false
  #skippedByRetention = 0
  #unsubscribe: (() => void) | undefined

  constructor(engine: TapEngine, options: RegionTapOptions) {
    this.#engine = engine
    this.#options = options
    this.stream = options.stream
    this.region = options.region
    this.regions = [...options.regions]
    this.dedup = new RegionDedup({ region: options.region, regions: options.regions, dedupWindowMs: options.dedupWindowMs })
    this.digest = new EventSetDigest(options.region)
    this.#caughtUpAt = engine.deliveredCount
  }

  get processed(): number {
    return this.#processed
  }

  get caughtUp(): boolean {
    return this.#caughtUp
  }

  /** Starts reading (from delivery index 0) and following the engine's deliveries. */
  start(): void {
    this.#unsubscribe = this.#engine.onDelivered(() => this.#read())
    this.#read()
  }

  stop(): void {
    this.#stopped = true
    this.#unsubscribe?.()
    this.#groupListeners.clear()
  }

  /** Calls `listener(groupSequenceLength)` when the group sequence grew. */
  onGroupGrew(listener: (count: number) => void): () => void {
    this.#groupListeners.add(listener)
    return () => {
      this.#groupListeners.delete(listener)
    }
  }

  view(): RegionTapView {
    const deliveredThrough: Record<string, number> = {}
    for (const region of this.regions) if (region !== this.region) deliveredThrough[region] = this.dedup.deliveredThrough(region)
    return {
      processed: this.#processed,
      caughtUp: this.#caughtUp,
      groupSequence: this.group.length,
      localShipSeq: this.dedup.localShipSeq,
      deliveredThrough,
      digest: this.digest.view(),
      dedup: this.dedup.stats,
      skippedByRetention: this.#skippedByRetention,
    }
  }

  /** One reader at a time, in delivery order; what arrives meanwhile is read by the same loop. */
  #read(): void {
    if (this.#reading || this.#stopped) return
    this.#reading = true
    void this.#readLoop().then((starved) => {
      this.#reading = false
      // Deliveries reported while the loop was finishing are read now; a loop that found nothing
      // readable waits for the next report instead (the store's index is being written).
      if (!starved && !this.#stopped && this.#processed < this.#engine.deliveredCount) this.#read()
    })
  }

  /** Reads what is recorded; true when it stopped because nothing was readable yet. */
  async #readLoop(): Promise<boolean> {
    try {
      while (!this.#stopped && this.#processed < this.#engine.deliveredCount) {
        const want = Math.min(tapReadEventsMax, this.#engine.deliveredCount - this.#processed)
        const rows = this.#engine.cached(this.#processed, want) ?? (await this.#engine.fetch(this.#processed, want))
        if (this.#stopped) return false
        const groupBefore = this.group.length
        const localBefore = this.local.length
        if (rows.length === 0) return true // nothing readable yet: the next onDelivered retries
        for (const { index, event } of rows) {
          if (index < this.#processed) continue
          if (index > this.#processed) {
            // Retention removed these before this replica read them back (a restart of a stream
            // with retention): their verdicts are lost, the shipping numbering may differ.
            this.#skippedByRetention += index - this.#processed
            this.#options.onProblem?.(`deliveries ${this.#processed}..${index - 1} were removed by retention before the region tap read them; shipping numbering on this replica may differ from the region's`)
            this.#processed = index
          }
          this.#offer(index, event)
          this.#processed = index + 1
        }
        if (!this.#caughtUp && this.#processed >= this.#caughtUpAt) {
          this.#caughtUp = true
          this.#options.onCaughtUp?.()
        }
        if (this.group.length > groupBefore) for (const listener of [...this.#groupListeners]) listener(this.group.length)
        if (this.local.length > localBefore) this.#options.onLocalDelivered?.(this.local.length)
      }
      if (!this.#caughtUp && !this.#stopped && this.#processed >= this.#caughtUpAt) {
        this.#caughtUp = true
        this.#options.onCaughtUp?.()
      }
      return false
    } catch (error) {
      // A failed read stops the engine (storage error): the node reports it; this tap stops here.
      this.#options.onProblem?.(`the region tap could not read deliveries at ${this.#processed}: ${(error as Error).message}`)
      return true
    }
  }

  #offer(index: number, event: StreamEvent): void {
    const verdict: DedupVerdict = this.dedup.offer(event)
    const own = verdict.source.region === this.region
    const loop = !verdict.deliver && verdict.reason === 'loop'
    if (own && !loop) {
      this.local.push(index)
      // Invariant: the shipping source is numbered exactly as RegionDedup counts this region's events.
      if (this.local.length !== this.dedup.localShipSeq) throw new Error(`region tap ${this.stream}: ${this.local.length} local events, RegionDedup counted ${this.dedup.localShipSeq}`)
    }
    if (verdict.deliver) this.group.push(index)
    if (verdict.deliver || verdict.reason === 'duplicate') this.digest.add(event)
    if (!own) this.#options.onRemoteDelivered?.(verdict.source.region, this.dedup.deliveredThrough(verdict.source.region))
  }
}
