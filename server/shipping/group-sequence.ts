// What consumer groups of a multi-region stream read: the GROUP sequence (region-tap.ts), the
// deliveries RegionDedup lets through, numbered 0, 1, … — not the replica's delivery log, which
// holds every copy (the replica runs with `dedupWindowMs: 0`). It has the shape GroupHost reads
// an engine through (`deliveredCount`, `onDelivered`, `fetch`, `cached`: server/consumers/
// group-host.ts `ConsumerEnginePort`), so a group controller runs on it unchanged: positions are
// group positions, events are read from the engine (its cache, else its store) by the delivery
// indexes the positions map to.
//
// `groupSequenceOf(engine)` is the hook: persistent streams register the view of a multi-region
// stream's engine when they open it; GroupHost asks for the engine's view and falls back to the
// engine itself (single-region streams are read exactly as before).
import type { RegionTap, TapEngine, IndexedEvent } from './region-tap.js'

/** GroupHost's engine port (server/consumers/group-host.ts), plus the translation of a start by time. */
export interface GroupSequencePort {
  readonly deliveredCount: number
  onDelivered(listener: (deliveredCount: number) => void): () => void
  fetch(from: number, max: number): Promise<ReadonlyArray<IndexedEvent>>
  cached(from: number, max: number): ReadonlyArray<IndexedEvent> | undefined
  /** The first group position whose delivery index is ≥ `deliveryIndex` (a start `time` resolves to a delivery index). */
  positionAtOrAfterDelivery(deliveryIndex: number): number
}

/** Events one read returns at most (the engine's own `fetchEventsMax`). */
export const groupReadEventsMax = 1_000

export class GroupSequence implements GroupSequencePort {
  readonly #tap: RegionTap
  readonly #engine: TapEngine

  constructor(tap: RegionTap, engine: TapEngine) {
    this.#tap = tap
    this.#engine = engine
  }

  get deliveredCount(): number {
    return this.#tap.group.length
  }

  onDelivered(listener: (deliveredCount: number) => void): () => void {
    return this.#tap.onGroupGrew(listener)
  }

  positionAtOrAfterDelivery(deliveryIndex: number): number {
    return this.#tap.group.firstAtOrAfter(deliveryIndex)
  }

  cached(from: number, max: number): ReadonlyArray<IndexedEvent> | undefined {
    const out: IndexedEvent[] = []
    for (const run of this.#runs(from, max)) {
      const hits = this.#engine.cached(run.value, run.length)
      // A miss, or a run reaching below the retained head: the store read decides.
      if (hits === undefined || hits.length !== run.length) return undefined
      for (const { index, event } of hits) out.push({ index: run.position + index - run.value, event })
    }
    return out
  }

  async fetch(from: number, max: number): Promise<ReadonlyArray<IndexedEvent>> {
    const out: IndexedEvent[] = []
    for (const run of this.#runs(from, max)) {
      const end = run.value + run.length
      for (let next = run.value; next < end; ) {
        const rows = await this.#engine.fetch(next, end - next)
        if (rows.length === 0) break
        for (const { index, event } of rows) if (index >= run.value && index < end) out.push({ index: run.position + index - run.value, event })
        next = (rows.at(-1)?.index ?? end) + 1
      }
    }
    return out
  }

  #runs(from: number, max: number): ReturnType<RegionTap['group']['slice']> {
    const start = Math.max(0, from)
    return this.#tap.group.slice(start, start + Math.min(Math.max(0, max), groupReadEventsMax))
  }
}

const views = new WeakMap<object, GroupSequencePort>()

/** Registers the group sequence consumer groups read for `engine` (a multi-region stream's). */
export function registerGroupSequence(engine: object, view: GroupSequencePort): void {
  views.set(engine, view)
}

/** The group sequence registered for `engine`, if it is a multi-region stream's. */
export function groupSequenceOf(engine: object): GroupSequencePort | undefined {
  return views.get(engine)
}
