// PN-counter values of a CRDT KV bucket: per writer incarnation, the sum of its positive and of
// its negative increments; the value is Σ positive − Σ negative. Increments are operations with
// ids, and the state applies each id once (state.ts), so the tallies are exact whatever the
// arrival order. Sums are bigint: no replica can overflow where another does not.
import { originKeyOf } from '../persistent/index.js'
import type { KvOpId } from './op.js'

interface Tally {
  positive: bigint
  negative: bigint
}

export class PnCounter {
  readonly #tallies = new Map<string, Tally>()
  #value = 0n

  get value(): bigint {
    return this.#value
  }

  add(id: KvOpId, delta: bigint): void {
    const originKey = originKeyOf(id)
    let tally = this.#tallies.get(originKey)
    if (tally === undefined) {
      tally = { positive: 0n, negative: 0n }
      this.#tallies.set(originKey, tally)
    }
    if (delta >= 0n) tally.positive += delta
    else tally.negative -= delta
    this.#value += delta
  }

  /** Per writer incarnation (`origin#incarnation`), sorted: what each contributed. */
  tallies(): Array<{ readonly originKey: string; readonly positive: bigint; readonly negative: bigint }> {
    return [...this.#tallies.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([originKey, t]) => ({ originKey, positive: t.positive, negative: t.negative }))
  }
}
