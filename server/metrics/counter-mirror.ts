// Mirrors monotonic values kept by their owners (router counters, Raft driver counters, the data
// plane's per-stream counters, routing) into prom-client counters by difference, at scrape time.
// A source that goes back (a new owner: a stream's role restarted, a node part reopened) restarts
// its series at the new value.
import type { Counter } from 'prom-client'

export class CounterMirror {
  /** Per counter, labels → the value last mirrored into it. */
  readonly #mirrored = new Map<Counter<string>, Map<string, number>>()

  mirror(counter: Counter<string>, labels: Record<string, string>, value: number): void {
    let values = this.#mirrored.get(counter)
    if (values === undefined) {
      values = new Map()
      this.#mirrored.set(counter, values)
    }
    const key = JSON.stringify(labels)
    const before = values.get(key)
    if (before === undefined || value < before) {
      // First sight, or the source was reset (a new owner): start the series at its value.
      if (before !== undefined) {
        if (key === '{}') counter.reset()
        else counter.remove(labels)
      }
      counter.inc(labels, value)
    } else if (value > before) counter.inc(labels, value - before)
    values.set(key, value)
  }

  /** Drops the series (its source is gone for good) and what was mirrored into it. */
  forget(counter: Counter<string>, labels: Record<string, string>): void {
    this.#mirrored.get(counter)?.delete(JSON.stringify(labels))
    counter.remove(labels)
  }
}
