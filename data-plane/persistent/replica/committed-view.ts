// The orderer's view of a replica's COMMITTED copies (replica/README.md "Commit gate"): per
// origin incarnation, the prefix fed to the orderer (known committed, in sequence order) and the
// hlc at its end. The copies themselves stay in `HeldEvents` while unsettled; the view only
// says how far each origin is committed. After a restart it starts at each origin's settled
// prefix (everything at or below the resume point was committed and taken). Pure; an
// `OrderSource` (order.ts).
import { originKey } from '../event.js'
import type { StreamEvent } from '../event.js'
import type { Hlc } from '../hlc.js'
import type { OrderSource } from '../order.js'
import type { SeqRange } from '../version-vector.js'
import type { HeldEvents } from './held-events.js'

export class CommittedView implements OrderSource {
  readonly dedupWindowMs: number
  readonly #held: HeldEvents
  readonly #ends = new Map<string, { seq: number; hlc: Hlc }>()

  constructor(held: HeldEvents, dedupWindowMs: number) {
    this.#held = held
    this.dedupWindowMs = dedupWindowMs
  }

  get gapMax(): number {
    return this.#held.gapMax
  }

  /** A settled prefix read back after a restart. */
  restore(key: string, seq: number, hlc: Hlc): void {
    this.#ends.set(key, { seq, hlc })
  }

  /** `event` (the next sequence of its origin) is now committed. */
  advance(key: string, event: StreamEvent): void {
    const end = this.#ends.get(key)
    // Invariant: copies are fed per origin in sequence order.
    if ((end?.seq ?? 0) + 1 !== event.originSeq) throw new Error(`committed view: ${key}:${event.originSeq} fed after ${end?.seq ?? 0}`)
    // In place: one object per origin, not one per committed copy.
    if (end === undefined) this.#ends.set(key, { seq: event.originSeq, hlc: event.hlc })
    else {
      end.seq = event.originSeq
      end.hlc = event.hlc
    }
  }

  contiguous(origin: string, incarnation: number): number {
    return this.#ends.get(originKey(origin, incarnation))?.seq ?? 0
  }

  hlcAt(origin: string, incarnation: number, originSeq: number): Hlc | undefined {
    const end = this.#ends.get(originKey(origin, incarnation))
    if (end === undefined || originSeq > end.seq) return undefined
    return end.seq === originSeq ? end.hlc : this.#held.hlcAt(origin, incarnation, originSeq)
  }

  /** The id of a copy still in memory (the dedup window's confirmations; older ones are read from the store). */
  idAt(origin: string, incarnation: number, originSeq: number): string | undefined {
    return this.#held.get(origin, incarnation, originSeq)?.id
  }

  /** Committed copies still in memory (a new incarnation's early ones; settled ones are gone). */
  eventsInRange(range: SeqRange, limit?: number): StreamEvent[] {
    const at = range.originKey.lastIndexOf('#')
    const toSeq = Math.min(range.toSeq, this.contiguous(range.originKey.slice(0, at), Number(range.originKey.slice(at + 1))))
    return toSeq < range.fromSeq ? [] : this.#held.memoryInRange({ originKey: range.originKey, fromSeq: range.fromSeq, toSeq }, limit)
  }
}
