// An increasing subsequence of a log, as runs: position i of the subsequence → index in the log.
// Pure. Used twice per multi-region replica (region-tap.ts): the GROUP sequence (the deliveries
// RegionDedup lets through → delivery index) and the SHIPPING source (this region's own events,
// shipSeq − 1 → delivery index). Values are appended in increasing order; consecutive values
// extend the last run, so a subsequence with few holes (the group sequence: only duplicates and
// resends are dropped) costs a few runs, and the worst case (alternating local and shipped copies)
// two numbers per run.
export interface SubsequenceRun {
  /** Position in the subsequence of the run's first element. */
  readonly position: number
  /** Log index of the run's first element. */
  readonly value: number
  readonly length: number
}

export class SubsequenceIndex {
  readonly #positions: number[] = []
  readonly #values: number[] = []
  #length = 0

  /** Elements in the subsequence. */
  get length(): number {
    return this.#length
  }

  /** Runs held (memory: two numbers each). */
  get runs(): number {
    return this.#positions.length
  }

  /** Appends log index `value` (above every value appended before). */
  push(value: number): void {
    if (!(Number.isSafeInteger(value) && value >= 0)) throw new RangeError(`subsequence: ${value} is not a log index`)
    const last = this.#positions.length - 1
    if (last >= 0) {
      const lastValue = (this.#values[last] as number) + (this.#length - (this.#positions[last] as number)) - 1
      // Invariant: values only grow (the log is read in order).
      if (value <= lastValue) throw new RangeError(`subsequence: ${value} after ${lastValue}`)
      if (value === lastValue + 1) {
        this.#length++
        return
      }
    }
    this.#positions.push(this.#length)
    this.#values.push(value)
    this.#length++
  }

  /** The log index at subsequence position `position` (0 ≤ position < length). */
  at(position: number): number {
    if (!(Number.isInteger(position) && position >= 0 && position < this.#length)) throw new RangeError(`subsequence: position ${position} outside 0..${this.#length - 1}`)
    const run = this.#runAtPosition(position)
    return (this.#values[run] as number) + position - (this.#positions[run] as number)
  }

  /** The runs covering positions [from, to), cut to that range. */
  slice(from: number, to: number): SubsequenceRun[] {
    const start = Math.max(0, from)
    const end = Math.min(to, this.#length)
    const out: SubsequenceRun[] = []
    if (end <= start) return out
    for (let run = this.#runAtPosition(start); run < this.#positions.length; run++) {
      const runPosition = this.#positions[run] as number
      if (runPosition >= end) break
      const runEnd = run + 1 < this.#positions.length ? (this.#positions[run + 1] as number) : this.#length
      const first = Math.max(start, runPosition)
      const last = Math.min(end, runEnd)
      out.push({ position: first, value: (this.#values[run] as number) + first - runPosition, length: last - first })
    }
    return out
  }

  /** The first position whose log index is ≥ `value` (length when there is none). */
  firstAtOrAfter(value: number): number {
    // The last run starting at or below `value`.
    let low = 0
    let high = this.#values.length - 1
    let found = -1
    while (low <= high) {
      const mid = (low + high) >>> 1
      if ((this.#values[mid] as number) <= value) {
        found = mid
        low = mid + 1
      } else high = mid - 1
    }
    if (found < 0) return 0
    const runPosition = this.#positions[found] as number
    const runEnd = found + 1 < this.#positions.length ? (this.#positions[found + 1] as number) : this.#length
    const offset = value - (this.#values[found] as number)
    return runPosition + offset < runEnd ? runPosition + offset : runEnd
  }

  #runAtPosition(position: number): number {
    let low = 0
    let high = this.#positions.length - 1
    while (low < high) {
      const mid = (low + high + 1) >>> 1
      if ((this.#positions[mid] as number) <= position) low = mid
      else high = mid - 1
    }
    return low
  }
}
