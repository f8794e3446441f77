// The events one shipper may read next: its ShipSource (data-plane/persistent/shipping
// shipper.ts), which must answer synchronously, over this region's own deliveries, which may be
// in the engine's delivery cache or only in the store. Before each `ready()` the driver calls
// `prepare(cursor, nextSeq)`: the window keeps the events from the oldest one not acknowledged
// (`cursor + 1`, or a resend's `nextSeq`) onward, fills what it can from the engine's cache at
// once, and starts ONE read from the store for the first event missing; `source()` then shows the
// shipper a head cut at the last event it holds contiguously from `nextSeq`, so it never asks for
// one that is not here. Bounded by `shipWindowEventsMax` and `shipWindowBytesMax` (at least one
// event), whatever the distance to the head — a region cut off for an hour ships from the store
// window by window.
import type { ReplicationLag, ShipSource, StreamEvent } from '../../data-plane/persistent/index.js'
import { replicationLag } from '../../data-plane/persistent/index.js'
import { shipWindowBytesMax, shipWindowEventsMax, tapReadEventsMax } from './limits.js'
import type { RegionTap, TapEngine } from './region-tap.js'

/** Fixed per-event overhead counted against the byte bound besides payload and headers. */
const eventOverheadBytes = 128

function eventBytes(event: StreamEvent): number {
  let bytes = eventOverheadBytes + event.payload.length + event.id.length
  for (const [key, value] of event.headers) bytes += key.length + value.length
  return bytes
}

export interface ShipWindowOptions {
  readonly eventsMax?: number
  readonly bytesMax?: number
  /** A read from the store finished: the driver prepares and runs the shipper again. */
  readonly onLoaded: () => void
  readonly onProblem?: (detail: string) => void
}

export class ShipWindow {
  readonly #tap: RegionTap
  readonly #engine: TapEngine
  readonly #options: ShipWindowOptions
  readonly #eventsMax: number
  readonly #bytesMax: number
  /** shipSeq → event, for shipSeqs in [#low, …). */
  readonly #events = new Map<number, StreamEvent>()
  #low = 1
  #bytes = 0
  #loading = false
  #nextSeq = 1
  #stopped = false
  /** The source time of `cursor + 1` last seen, for the lag while that event is not held. */
  #oldest: { readonly seq: number; readonly wallMs: number } | undefined
  #storeReads = 0
  /** A shipSeq the store could not return (removed by retention): not read again and again. */
  #unreadable = 0

  constructor(tap: RegionTap, engine: TapEngine, options: ShipWindowOptions) {
    this.#tap = tap
    this.#engine = engine
    this.#options = options
    this.#eventsMax = Math.max(1, options.eventsMax ?? shipWindowEventsMax)
    this.#bytesMax = Math.max(1, options.bytesMax ?? shipWindowBytesMax)
  }

  /** Events held now. */
  get size(): number {
    return this.#events.size
  }

  /** Reads from the store so far (a shipper behind the engine's cache). */
  get storeReads(): number {
    return this.#storeReads
  }

  stop(): void {
    this.#stopped = true
    this.#events.clear()
    this.#bytes = 0
  }

  /** Keeps [min(cursor + 1, nextSeq), …), fills from the engine's cache, starts a store read for a gap. */
  prepare(cursor: number, nextSeq: number): void {
    const head = this.#tap.dedup.localShipSeq
    const low = Math.max(1, Math.min(cursor + 1, nextSeq))
    this.#nextSeq = nextSeq
    if (low - this.#low > this.#events.size) {
      for (const seq of [...this.#events.keys()]) if (seq < low) this.#drop(seq)
    } else {
      for (let seq = this.#low; seq < low; seq++) this.#drop(seq)
    }
    this.#low = low
    const last = Math.min(head, low + this.#eventsMax - 1)
    // Events above the window (held before a rewind to an older shipSeq) go: the bound holds.
    if (this.#events.size > last - low + 1) for (const seq of [...this.#events.keys()]) if (seq > last) this.#drop(seq)
    let seq = low
    while (seq <= last && this.#events.has(seq)) seq++
    while (seq <= last && (this.#bytes < this.#bytesMax || this.#events.size === 0)) {
      const filled = this.#fillFromCache(seq, last)
      if (filled === 0) {
        if (seq !== this.#unreadable) this.#load(seq, last)
        return
      }
      seq += filled
      while (seq <= last && this.#events.has(seq)) seq++
    }
  }

  /** The shipper's view: the head cut at the last event held contiguously from `nextSeq`. */
  source(): ShipSource {
    const head = this.#tap.dedup.localShipSeq
    let end = this.#nextSeq - 1
    while (end < head && this.#events.has(end + 1)) end++
    const events = this.#events
    return {
      head: end,
      event: (seq) => {
        const event = events.get(seq)
        // Invariant: the shipper asks only for shipSeqs up to `head`, all held.
        if (event === undefined) throw new Error(`ship window: shipSeq ${seq} is not held (head ${end})`)
        return event
      },
    }
  }

  /** The link's lag: events the destination has not acknowledged and how long the oldest waited. */
  lag(cursor: number, nowMs: number): ReplicationLag {
    const head = this.#tap.dedup.localShipSeq
    const oldest = this.#events.get(cursor + 1)
    if (oldest !== undefined) this.#oldest = { seq: cursor + 1, wallMs: oldest.hlc.wallMs }
    const wallMs = this.#oldest !== undefined && this.#oldest.seq === cursor + 1 ? this.#oldest.wallMs : nowMs
    return replicationLag(head, cursor, wallMs, nowMs)
  }

  #add(seq: number, event: StreamEvent): void {
    if (this.#events.has(seq)) return
    this.#events.set(seq, event)
    this.#bytes += eventBytes(event)
  }

  #drop(seq: number): void {
    const event = this.#events.get(seq)
    if (event === undefined) return
    this.#events.delete(seq)
    this.#bytes -= eventBytes(event)
  }

  /** Events added from the engine's cache starting at `seq` (0: the cache does not hold `seq`). */
  #fillFromCache(seq: number, last: number): number {
    let added = 0
    for (const run of this.#tap.local.slice(seq - 1, last)) {
      const hits = this.#engine.cached(run.value, run.length)
      if (hits === undefined || hits.length !== run.length) break
      for (const { index, event } of hits) {
        this.#add(run.position + 1 + index - run.value, event)
        added++
      }
      if (this.#bytes >= this.#bytesMax) break
    }
    return added
  }

  /** One read at a time from the store, from `seq` on, at most a tap read's worth. */
  #load(seq: number, last: number): void {
    if (this.#loading || this.#stopped) return
    this.#loading = true
    this.#storeReads++
    const runs = this.#tap.local.slice(seq - 1, Math.min(last, seq + tapReadEventsMax - 1))
    void (async () => {
      try {
        for (const run of runs) {
          const end = run.value + run.length
          for (let next = run.value; next < end && !this.#stopped; ) {
            const rows = await this.#engine.fetch(next, end - next)
            if (rows.length === 0) break
            for (const { index, event } of rows) if (index >= run.value && index < end && run.position + 1 + index - run.value >= this.#low) this.#add(run.position + 1 + index - run.value, event)
            next = (rows.at(-1)?.index ?? end) + 1
          }
          if (this.#bytes >= this.#bytesMax) break
        }
      } catch (error) {
        this.#options.onProblem?.(`reading shipSeq ${seq} from the store failed: ${(error as Error).message}`)
      } finally {
        this.#loading = false
      }
      if (!this.#events.has(seq) && seq >= this.#low) {
        this.#unreadable = seq
        this.#options.onProblem?.(`shipSeq ${seq} is no longer in the store (retention): it cannot be shipped`)
      }
      if (!this.#stopped) this.#options.onLoaded()
    })()
  }
}
