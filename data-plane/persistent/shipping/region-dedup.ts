// Dedup of a multi-region stream, applied to a region's stable delivery order before its
// consumer groups: "an id published in two regions inside the window is delivered once per group
// in each region" (issue #6). Pure and deterministic: a function of the delivery sequence alone,
// so every replica of the region (same sequence, invariant 2) hands its groups the same events,
// and a restarted replica that replays its deliveries from index 0 rebuilds the same state.
//
// WHY NOT THE EVENT SET'S RULE. EventSet measures the window on the copies' HLCs. A shipped copy
// is placed at receipt (DESIGN §3.2.5), so its HLC in B is A's time plus the shipping lag: after
// a partition longer than the window, the copy from A and a copy of the same id published in B
// inside the window would be more than a window apart in B and both survive; and two uses of an
// id far apart at their sources could land close together in B and fold into one. So a stream
// placed in more than one region runs its replicas with `dedupWindowMs: 0` (every copy is
// delivered) and this filter applies the window measured in SOURCE time — the HLC the copy got
// in the region where it was published, the only time every region agrees on.
//
// THE RULES, for each delivered copy C in order:
//  1. Resend: a shipped copy whose (source region, shipSeq) was delivered before is dropped
//     (a receiver wrote it twice). Exact, whatever the window.
//  2. Window: C is a duplicate iff an earlier SURVIVOR S of the same id has
//     |source(C) − source(S)| < dedupWindowMs; otherwise C survives. For copies of one region in
//     HLC order this is exactly EventSet's rule (the nearest earlier survivor is the last one).
//  So every logical message whose copies all lie within one window of each other (retries, and
//  the same id published in several regions) is delivered exactly once in every region, and a
//  reuse of an id at least two windows later is a new message everywhere — whichever copy comes
//  first in a region, in whatever order the regions' copies arrive.
//
// BOUNDED STATE. Per source region: the contiguous prefix of shipSeqs delivered plus the few above
// it (`gapPositionsMax`). Per id: its survivors' source times, forgotten once no future copy can
// be within a window of them: future copies from region R have source time ≥ wm(R), the source
// time at R's contiguous prefix (A ships in its delivery order, which is HLC order), and local
// ones ≥ the last delivery's HLC. So a survivor at s is dropped once s + window ≤ min over the
// stream's regions of wm(R). A region silent for longer than `horizonMs` stops holding that
// back, and beyond `idsMax` ids the oldest are evicted (both counted: dedup is best effort there).
import type { StreamEvent } from '../event.js'
import { MinHeap } from '../min-heap.js'
import { dedupGapPositionsMax, dedupHorizonMsDefault, dedupIdsMaxDefault } from './limits.js'
import { provenanceOf } from './provenance.js'

export interface RegionDedupOptions {
  /** The region this filter runs in. */
  readonly region: string
  /** Every region the stream is placed in (this one included). */
  readonly regions: readonly string[]
  /** The stream's dedup window (0 = off: only resends are dropped). */
  readonly dedupWindowMs: number
  readonly horizonMs?: number
  readonly idsMax?: number
  readonly gapPositionsMax?: number
}

export interface SourceRef {
  /** The region the event was published in. */
  readonly region: string
  /** Its position in that region's shipping sequence (for local copies: counted here). */
  readonly shipSeq: number
  /** Its HLC wallMs in that region. */
  readonly sourceMs: number
}

export type DedupVerdict =
  | { readonly deliver: true; readonly source: SourceRef }
  | { readonly deliver: false; readonly reason: 'resend' | 'duplicate' | 'loop'; readonly source: SourceRef }

export interface RegionDedupStats {
  readonly delivered: number
  readonly resends: number
  readonly duplicates: number
  /** A copy of this region's own event shipped back to it (never happens without a bug). */
  readonly loops: number
  /** Copies whose `Rg-Source` header did not parse: treated as local events. */
  readonly malformedProvenance: number
  readonly idsTracked: number
  /** Ids forgotten because of `idsMax` (not because the window passed). */
  readonly evicted: number
  /** Shipped positions not tracked because of `gapPositionsMax` (their resends fall to the window rule). */
  readonly untrackedPositions: number
}

/** Delivered shipSeqs of one source region: contiguous prefix + positions above it (with source times). */
class DeliveredPositions {
  contiguous = 0
  contiguousMs = 0
  readonly above = new Map<number, number>()

  has(seq: number): boolean {
    return seq <= this.contiguous || this.above.has(seq)
  }

  /** Returns false when the position cannot be tracked (too many above the prefix). */
  add(seq: number, sourceMs: number, gapMax: number): boolean {
    if (seq === this.contiguous + 1) {
      this.contiguous = seq
      this.contiguousMs = sourceMs
      for (let next = this.above.get(this.contiguous + 1); next !== undefined; next = this.above.get(this.contiguous + 1)) {
        this.above.delete(this.contiguous + 1)
        this.contiguous++
        this.contiguousMs = next
      }
      return true
    }
    if (this.above.size >= gapMax) return false
    this.above.set(seq, sourceMs)
    return true
  }
}

interface Timed {
  readonly sourceMs: number
  readonly id: string
}

export class RegionDedup {
  readonly region: string
  readonly regions: readonly string[]
  readonly dedupWindowMs: number
  readonly horizonMs: number
  readonly idsMax: number
  readonly gapPositionsMax: number
  readonly #positions = new Map<string, DeliveredPositions>()
  /** id → source times of its survivors still within reach. */
  readonly #survivors = new Map<string, number[]>()
  readonly #byTime = new MinHeap<Timed>((a, b) => a.sourceMs - b.sourceMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  #tracked = 0
  #localShipSeq = 0
  #lastDeliveredMs = 0
  #stats = { delivered: 0, resends: 0, duplicates: 0, loops: 0, malformedProvenance: 0, evicted: 0, untrackedPositions: 0 }

  constructor(options: RegionDedupOptions) {
    if (!options.regions.includes(options.region)) throw new RangeError(`region dedup: ${options.region} is not among the stream's regions`)
    if (!(Number.isInteger(options.dedupWindowMs) && options.dedupWindowMs >= 0)) throw new RangeError(`region dedup: dedupWindowMs must be an integer >= 0, got ${options.dedupWindowMs}`)
    this.region = options.region
    this.regions = [...options.regions]
    this.dedupWindowMs = options.dedupWindowMs
    this.horizonMs = options.horizonMs ?? dedupHorizonMsDefault
    this.idsMax = options.idsMax ?? dedupIdsMaxDefault
    this.gapPositionsMax = options.gapPositionsMax ?? dedupGapPositionsMax
    for (const r of this.regions) this.#positions.set(r, new DeliveredPositions())
  }

  /** Local events delivered so far: the shipping sequence's head in this region. */
  get localShipSeq(): number {
    return this.#localShipSeq
  }

  /** Highest shipSeq of `sourceRegion` such that all up to it were delivered here. */
  deliveredThrough(sourceRegion: string): number {
    return this.#positions.get(sourceRegion)?.contiguous ?? 0
  }

  get stats(): RegionDedupStats {
    return { ...this.#stats, idsTracked: this.#survivors.size }
  }

  /** The next copy in this region's stable delivery order: deliver it to the groups or not. */
  offer(event: StreamEvent): DedupVerdict {
    this.#lastDeliveredMs = Math.max(this.#lastDeliveredMs, event.hlc.wallMs)
    const provenance = provenanceOf(event)
    let source: SourceRef
    if (provenance.ok && provenance.value !== null) {
      const p = provenance.value
      source = { region: p.region, shipSeq: p.shipSeq, sourceMs: p.hlc.wallMs }
      if (p.region === this.region) {
        this.#stats.loops++
        return { deliver: false, reason: 'loop', source }
      }
      let positions = this.#positions.get(p.region)
      if (positions === undefined) {
        // A region not (yet) in the stream's list: tracked, but it does not hold pruning back.
        positions = new DeliveredPositions()
        this.#positions.set(p.region, positions)
      }
      if (positions.has(p.shipSeq)) {
        this.#stats.resends++
        this.#prune()
        return { deliver: false, reason: 'resend', source }
      }
      if (!positions.add(p.shipSeq, p.hlc.wallMs, this.gapPositionsMax)) this.#stats.untrackedPositions++
    } else {
      if (!provenance.ok) this.#stats.malformedProvenance++
      this.#localShipSeq++
      source = { region: this.region, shipSeq: this.#localShipSeq, sourceMs: event.hlc.wallMs }
      ;(this.#positions.get(this.region) as DeliveredPositions).add(this.#localShipSeq, event.hlc.wallMs, this.gapPositionsMax)
    }
    const verdict = this.#window(event.id, source)
    this.#prune()
    return verdict
  }

  #window(id: string, source: SourceRef): DedupVerdict {
    if (this.dedupWindowMs > 0) {
      const times = this.#survivors.get(id)
      if (times !== undefined && times.some((t) => Math.abs(source.sourceMs - t) < this.dedupWindowMs)) {
        this.#stats.duplicates++
        return { deliver: false, reason: 'duplicate', source }
      }
      if (times === undefined) this.#survivors.set(id, [source.sourceMs])
      else times.push(source.sourceMs)
      this.#byTime.push({ sourceMs: source.sourceMs, id })
      this.#tracked++
    }
    this.#stats.delivered++
    return { deliver: true, source }
  }

  /** The source time below which no future copy can fall (see the header). */
  #watermarkMs(): number {
    let low = this.#lastDeliveredMs
    const floor = this.#lastDeliveredMs - this.horizonMs
    for (const r of this.regions) {
      if (r === this.region) continue
      const positions = this.#positions.get(r) as DeliveredPositions
      low = Math.min(low, Math.max(positions.contiguousMs, floor))
    }
    return low
  }

  #prune(): void {
    if (this.#tracked === 0) return
    const watermark = this.#watermarkMs()
    for (let top = this.#byTime.peek(); top !== undefined; top = this.#byTime.peek()) {
      const expired = top.sourceMs + this.dedupWindowMs <= watermark
      if (!expired && this.#tracked <= this.idsMax) break
      this.#byTime.pop()
      this.#tracked--
      if (!expired) this.#stats.evicted++
      const times = this.#survivors.get(top.id)
      if (times === undefined) continue
      const at = times.indexOf(top.sourceMs)
      if (at >= 0) times.splice(at, 1)
      if (times.length === 0) this.#survivors.delete(top.id)
    }
  }
}
