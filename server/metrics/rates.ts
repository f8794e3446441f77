// Per-second rates from monotonic counters, one window at a time: `sample(nowMs, values)` with the
// counters' current values; the rate of each is the difference from the previous sample over the
// time between them. Pure (the caller passes the time). A counter seen for the first time has
// rate 0; one that went backwards (a reset) restarts from its new value.

/** Named limit: keys tracked at once (the router bounds its streams below this). */
export const rateKeysMax = 4096

export class RateWindow {
  #previousMs: number | undefined
  #previous = new Map<string, number>()
  #rates = new Map<string, number>()

  /** Records the counters' values at `nowMs`; a sample less than 1 ms after the previous one is ignored. */
  sample(nowMs: number, values: Iterable<readonly [string, number]>): void {
    const elapsedMs = this.#previousMs === undefined ? 0 : nowMs - this.#previousMs
    if (this.#previousMs !== undefined && elapsedMs < 1) return
    const next = new Map<string, number>()
    const rates = new Map<string, number>()
    for (const [key, value] of values) {
      if (next.size >= rateKeysMax) break
      next.set(key, value)
      const before = this.#previous.get(key)
      rates.set(key, before === undefined || elapsedMs === 0 || value < before ? 0 : ((value - before) * 1000) / elapsedMs)
    }
    this.#previous = next
    this.#rates = rates
    this.#previousMs = nowMs
  }

  /** Per second, over the last window (0 for an unknown key). */
  rate(key: string): number {
    return this.#rates.get(key) ?? 0
  }
}
