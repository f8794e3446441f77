// What this node's clients (and in-process subscribers that opted in) subscribe to, counted per
// (pattern, queue group): peers only learn the 0↔1 transitions, so a thousand subscribers on
// `orders.>` are one entry on the wire. Pure: no node:* imports, no timers.
import type { InterestEntry } from './codec.js'

interface Counted extends InterestEntry {
  count: number
}

/** The map key of an entry: a space cannot occur in a subject or a queue name. */
export function interestKey(pattern: string, queue: string | undefined): string {
  return queue === undefined ? pattern : `${pattern} ${queue}`
}

export class LocalInterestTable {
  readonly #entries = new Map<string, Counted>()

  /** Distinct (pattern, queue) entries held. */
  get size(): number {
    return this.#entries.size
  }

  /** One more subscriber; true when the entry appears (0 → 1). */
  add(pattern: string, queue: string | undefined): boolean {
    const key = interestKey(pattern, queue)
    const entry = this.#entries.get(key)
    if (entry !== undefined) {
      entry.count += 1
      return false
    }
    this.#entries.set(key, { pattern, queue, count: 1 })
    return true
  }

  /** One subscriber fewer; true when the entry disappears (1 → 0). Removing an absent entry is a bug. */
  remove(pattern: string, queue: string | undefined): boolean {
    const key = interestKey(pattern, queue)
    const entry = this.#entries.get(key)
    // Invariant: every remove pairs with an earlier add (the router counts index changes only).
    if (entry === undefined) throw new Error(`local interest: remove of ${JSON.stringify(key)} that was never added`)
    entry.count -= 1
    if (entry.count > 0) return false
    this.#entries.delete(key)
    return true
  }

  count(pattern: string, queue: string | undefined): number {
    return this.#entries.get(interestKey(pattern, queue))?.count ?? 0
  }

  /** Every entry held now (a snapshot for a peer). */
  entries(): InterestEntry[] {
    return [...this.#entries.values()].map(({ pattern, queue }) => ({ pattern, queue }))
  }
}
