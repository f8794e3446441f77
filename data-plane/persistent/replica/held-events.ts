// What a replica holds of its stream, bounded in memory (replica/README.md "Memory"): WHICH
// copies it holds — per origin incarnation a contiguous prefix plus a bounded gap buffer (the
// version vector anti-entropy advertises) — for the whole history, and the copies THEMSELVES
// only while the protocol still needs them: until they are settled (taken by the orderer:
// delivered, passed over as a duplicate or cut off by a close) and durable on this node's disk.
// Older copies are read back from the driver's store when a lagging peer asks for them. Pure.
//
// Checks on insert are EventSet's (event-set.ts): wrong stream, invalid, gap buffer full, a
// different copy at a held (origin, incarnation, seq), an hlc that does not rise with the
// sequence against a held neighbour — except that a copy no longer in memory is only known to
// be held: a re-sent copy of it counts as already held without comparing contents, and the
// neighbour check uses the hlc at the end of the contiguous prefix when the neighbour is gone.
import { compareEventOrder, eventProblem, originKey, originKeyOf } from '../event.js'
import type { EventPosition, StreamEvent } from '../event.js'
import { compareHlc } from '../hlc.js'
import type { Hlc } from '../hlc.js'
import type { RefusedEvent } from '../event-set.js'
import { gapSeqsPerOriginMax } from '../limits.js'
import { MinHeap } from '../min-heap.js'
import { VersionTracker } from '../version-vector.js'
import type { SeqRange } from '../version-vector.js'

export interface HeldInsertResult {
  /** New copies, in batch order: persist and forward these. */
  readonly added: readonly StreamEvent[]
  readonly alreadyHeld: number
  readonly refused: readonly RefusedEvent[]
}

/** What a restart hands over (from the store): see `RestoredReplicaState`. */
export interface HeldRestore {
  readonly held: ReadonlyMap<string, { readonly contiguous: number; readonly gaps: readonly number[] }>
  readonly settled: ReadonlyMap<string, { readonly seq: number; readonly hlc: Hlc }>
  readonly events: readonly StreamEvent[]
}

/** Same content: two copies at one (origin, incarnation, seq) must be equal field by field. */
export function sameCopy(a: StreamEvent, b: StreamEvent): boolean {
  if (a.id !== b.id || a.stream !== b.stream || compareEventOrder(a, b) !== 0) return false
  if (a.headers.length !== b.headers.length || a.payload.length !== b.payload.length) return false
  for (let i = 0; i < a.headers.length; i++) {
    const x = a.headers[i] as readonly [string, string]
    const y = b.headers[i] as readonly [string, string]
    if (x[0] !== y[0] || x[1] !== y[1]) return false
  }
  for (let i = 0; i < a.payload.length; i++) if (a.payload[i] !== b.payload[i]) return false
  return true
}

export class HeldEvents {
  readonly stream: string
  readonly #tracker: VersionTracker
  /** origin key → sequence → copy, for the copies still in memory. */
  readonly #memory = new Map<string, Map<number, StreamEvent>>()
  /** id → copies in memory, in delivery order. */
  readonly #byId = new Map<string, StreamEvent[]>()
  /** Copies in memory by delivery order: eviction takes them from the front. */
  readonly #byOrder = new MinHeap<StreamEvent>(compareEventOrder)
  /** origin key → the hlc of the last copy of its contiguous prefix (kept when the copy goes). */
  readonly #edge = new Map<string, { seq: number; hlc: Hlc }>()
  #inMemory = 0

  constructor(options: { readonly stream: string; readonly gapMax?: number }) {
    this.stream = options.stream
    this.#tracker = new VersionTracker({ gapMax: options.gapMax ?? gapSeqsPerOriginMax })
  }

  get gapMax(): number {
    return this.#tracker.gapMax
  }

  /** Copies held in memory now. */
  get inMemory(): number {
    return this.#inMemory
  }

  /** Loads what a restart read back: the held sequences, the settled prefixes' ends, the unsettled copies. */
  restore(restored: HeldRestore): void {
    for (const [key, { contiguous, gaps }] of restored.held) {
      this.#tracker.restore(key, contiguous, gaps)
      const settled = restored.settled.get(key)
      if (settled !== undefined && settled.seq === contiguous) this.#edge.set(key, { seq: settled.seq, hlc: settled.hlc })
    }
    for (const event of restored.events) {
      const key = originKeyOf(event)
      // Invariant: the store hands over copies it holds, above the settled prefix, once each.
      if (event.stream !== this.stream || !this.#tracker.has(key, event.originSeq) || this.get(event.origin, event.incarnation, event.originSeq) !== undefined) {
        throw new Error(`held events: restored copy ${key}:${event.originSeq} is not a held, unsettled, single copy`)
      }
      this.#remember(key, event)
      if (event.originSeq === this.#tracker.contiguous(key)) this.#edge.set(key, { seq: event.originSeq, hlc: event.hlc })
    }
  }

  /** Adds a batch (any order, re-sends welcome). Returns what is new. */
  insert(batch: readonly StreamEvent[]): HeldInsertResult {
    const added: StreamEvent[] = []
    const refused: RefusedEvent[] = []
    let alreadyHeld = 0
    for (const event of batch) {
      if (event.stream !== this.stream) {
        refused.push({ event, reason: 'wrong-stream' })
        continue
      }
      if (eventProblem(event) !== null) {
        refused.push({ event, reason: 'invalid' })
        continue
      }
      const key = originKeyOf(event)
      if (this.#tracker.has(key, event.originSeq)) {
        const held = this.#memory.get(key)?.get(event.originSeq)
        if (held === undefined || sameCopy(held, event)) alreadyHeld++
        else refused.push({ event, reason: 'conflicting-copy' })
        continue
      }
      if (!this.#monotonic(key, event)) {
        refused.push({ event, reason: 'non-monotonic' })
        continue
      }
      const contiguous = this.#tracker.record(key, event.originSeq)
      if (typeof contiguous === 'string') {
        refused.push({ event, reason: contiguous })
        continue
      }
      this.#remember(key, event)
      const end = this.#memory.get(key)?.get(contiguous)
      if (end !== undefined) this.#setEdge(key, contiguous, end.hlc)
      else if ((this.#edge.get(key)?.seq ?? 0) !== contiguous) this.#edge.delete(key)
      added.push(event)
    }
    return { added, alreadyHeld, refused }
  }

  /** Moves an origin's edge (in place: one object per origin, not one per copy). */
  #setEdge(key: string, seq: number, hlc: Hlc): void {
    const edge = this.#edge.get(key)
    if (edge === undefined) this.#edge.set(key, { seq, hlc })
    else {
      edge.seq = seq
      edge.hlc = hlc
    }
  }

  #remember(key: string, event: StreamEvent): void {
    let bySeq = this.#memory.get(key)
    if (bySeq === undefined) this.#memory.set(key, (bySeq = new Map()))
    bySeq.set(event.originSeq, event)
    let copies = this.#byId.get(event.id)
    if (copies === undefined) this.#byId.set(event.id, (copies = []))
    let at = copies.length
    while (at > 0 && compareEventOrder(copies[at - 1] as StreamEvent, event) > 0) at--
    copies.splice(at, 0, event)
    this.#byOrder.push(event)
    this.#inMemory++
  }

  #monotonic(key: string, event: StreamEvent): boolean {
    const bySeq = this.#memory.get(key)
    const edge = this.#edge.get(key)
    const before = bySeq?.get(event.originSeq - 1)?.hlc ?? (edge?.seq === event.originSeq - 1 ? edge.hlc : undefined)
    if (before !== undefined && compareHlc(before, event.hlc) >= 0) return false
    const after = bySeq?.get(event.originSeq + 1)
    return after === undefined || compareHlc(event.hlc, after.hlc) < 0
  }

  /**
   * Forgets copies from the front of the delivery order while `done(copy)` says the protocol no
   * longer needs them (settled and durable). Returns how many went.
   */
  evict(done: (event: StreamEvent) => boolean): number {
    let evicted = 0
    for (let next = this.#byOrder.peek(); next !== undefined && done(next); next = this.#byOrder.peek()) {
      this.#byOrder.pop()
      const key = originKeyOf(next)
      const bySeq = this.#memory.get(key) as Map<number, StreamEvent>
      bySeq.delete(next.originSeq)
      if (bySeq.size === 0) this.#memory.delete(key)
      const copies = this.#byId.get(next.id) as StreamEvent[]
      const at = copies.indexOf(next)
      if (at >= 0) copies.splice(at, 1)
      if (copies.length === 0) this.#byId.delete(next.id)
      this.#inMemory--
      evicted++
    }
    return evicted
  }

  has(origin: string, incarnation: number, originSeq: number): boolean {
    return this.#tracker.has(originKey(origin, incarnation), originSeq)
  }

  /** The copy, if still in memory. */
  get(origin: string, incarnation: number, originSeq: number): StreamEvent | undefined {
    return this.#memory.get(originKey(origin, incarnation))?.get(originSeq)
  }

  /** The hlc at `originSeq` if known (in memory, or the end of the contiguous prefix). */
  hlcAt(origin: string, incarnation: number, originSeq: number): Hlc | undefined {
    const key = originKey(origin, incarnation)
    const held = this.#memory.get(key)?.get(originSeq)
    if (held !== undefined) return held.hlc
    const edge = this.#edge.get(key)
    return edge?.seq === originSeq ? edge.hlc : undefined
  }

  contiguous(origin: string, incarnation: number): number {
    return this.#tracker.contiguous(originKey(origin, incarnation))
  }

  versionVector(): Map<string, number> {
    return this.#tracker.vector()
  }

  gaps(key: string): number[] {
    return this.#tracker.gaps(key)
  }

  /** Copies in memory of a range, in sequence order, from its start while they are in memory, at most `limit`. */
  memoryRun(range: SeqRange, limit: number): StreamEvent[] {
    const bySeq = this.#memory.get(range.originKey)
    const out: StreamEvent[] = []
    for (let seq = range.fromSeq; seq <= range.toSeq && out.length < limit; seq++) {
      const held = bySeq?.get(seq)
      if (held === undefined) break
      out.push(held)
    }
    return out
  }

  /** Copies in memory of a range (any sequences in it), in sequence order, at most `limit`. */
  memoryInRange(range: SeqRange, limit = Number.MAX_SAFE_INTEGER): StreamEvent[] {
    const bySeq = this.#memory.get(range.originKey)
    if (bySeq === undefined) return []
    const out: StreamEvent[] = []
    for (const [seq, event] of bySeq) if (seq >= range.fromSeq && seq <= range.toSeq) out.push(event)
    out.sort((a, b) => a.originSeq - b.originSeq)
    return out.slice(0, limit)
  }

  /** Copies of `id` in memory, in delivery order. */
  copiesInMemory(id: string): readonly StreamEvent[] {
    return this.#byId.get(id) ?? []
  }
}

/** Positions are compared in delivery order; a helper for callers holding only a position. */
export const atOrBelow = (event: EventPosition, point: EventPosition | null): boolean => point !== null && compareEventOrder(event, point) <= 0
