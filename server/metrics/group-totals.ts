// Consumer-group counters that survive controller restarts, per node. A group controller's
// counters (deliveries, redeliveries, acks, dead letters) start at zero with every controller: a
// new term, or the group moved away and back. Prometheus counters must not go back, so each
// observation names its controller (the term); a new term — or counts lower than the last seen,
// a restart at the same term — closes the previous controller's counts into the group's base. The
// group's total is base + the current controller's counts; a stream's total is the sum over its
// groups plus those evicted. Pure: the caller passes what it read.
//
// Known limit: a controller restarted at the same term whose counts pass the last observed ones
// before the next observation is not seen as new (undercounted by what it had before).

/** Named limit: groups tracked per node (the least recently seen is folded into its stream's total beyond it). */
export const groupTotalsMax = 1_024
/** Named limit: streams whose evicted groups' totals are kept (beyond it, summed under `otherStreamKey`). */
export const retiredStreamsMax = 1_024
export const otherStreamKey = 'default/_other'

export const groupCounterNames = ['delivered', 'redelivered', 'acked', 'deadLettered'] as const
export type GroupCounterName = (typeof groupCounterNames)[number]
export type GroupCounts = Readonly<Record<GroupCounterName, number>>

export const zeroCounts: GroupCounts = Object.freeze({ delivered: 0, redelivered: 0, acked: 0, deadLettered: 0 })

function add(a: GroupCounts, b: GroupCounts): GroupCounts {
  return { delivered: a.delivered + b.delivered, redelivered: a.redelivered + b.redelivered, acked: a.acked + b.acked, deadLettered: a.deadLettered + b.deadLettered }
}

function lowerThan(now: GroupCounts, before: GroupCounts): boolean {
  return groupCounterNames.some((name) => now[name] < before[name])
}

interface Tracked {
  readonly stream: string
  term: number
  base: GroupCounts
  last: GroupCounts
}

export interface EvictedGroup {
  readonly group: string
  readonly stream: string
}

export class GroupTotals {
  readonly #groups = new Map<string, Tracked>()
  readonly #retired = new Map<string, GroupCounts>()
  readonly #maxGroups: number
  #evicted: EvictedGroup[] = []

  constructor(maxGroups = groupTotalsMax) {
    this.#maxGroups = maxGroups
  }

  /**
   * The counts of `group` (of `stream`) under the controller at `term`; returns the group's total
   * on this node since it was first seen.
   */
  observe(group: string, stream: string, term: number, counts: GroupCounts): GroupCounts {
    let tracked = this.#groups.get(group)
    if (tracked === undefined) {
      tracked = { stream, term, base: zeroCounts, last: zeroCounts }
      this.#groups.set(group, tracked)
      this.#evictBeyondLimit()
    }
    if (term !== tracked.term || lowerThan(counts, tracked.last)) {
      // A new controller: what the previous one counted is kept.
      tracked.base = add(tracked.base, tracked.last)
      tracked.term = term
    }
    tracked.last = { ...counts }
    // Refresh recency (Map order = least recently seen first).
    this.#groups.delete(group)
    this.#groups.set(group, tracked)
    return add(tracked.base, tracked.last)
  }

  /** The total of a tracked group (undefined when not tracked). */
  total(group: string): GroupCounts | undefined {
    const tracked = this.#groups.get(group)
    return tracked === undefined ? undefined : add(tracked.base, tracked.last)
  }

  /** Every tracked group (`namespace/stream/group`) with its stream and total, least recently seen first. */
  *tracked(): IterableIterator<{ readonly group: string; readonly stream: string; readonly total: GroupCounts }> {
    for (const [group, tracked] of this.#groups) yield { group, stream: tracked.stream, total: add(tracked.base, tracked.last) }
  }

  /** Per stream: the totals of its groups on this node, evicted ones included. */
  streamTotals(): Map<string, GroupCounts> {
    const totals = new Map<string, GroupCounts>(this.#retired)
    for (const tracked of this.#groups.values()) totals.set(tracked.stream, add(totals.get(tracked.stream) ?? zeroCounts, add(tracked.base, tracked.last)))
    return totals
  }

  /** Groups evicted since the last call (their series can be removed; their counts live on in the stream's). */
  takeEvicted(): EvictedGroup[] {
    const evicted = this.#evicted
    this.#evicted = []
    return evicted
  }

  get size(): number {
    return this.#groups.size
  }

  #evictBeyondLimit(): void {
    while (this.#groups.size > this.#maxGroups) {
      const [group, tracked] = this.#groups.entries().next().value as [string, Tracked]
      this.#groups.delete(group)
      const key = this.#retired.has(tracked.stream) || this.#retired.size < retiredStreamsMax ? tracked.stream : otherStreamKey
      this.#retired.set(key, add(this.#retired.get(key) ?? zeroCounts, add(tracked.base, tracked.last)))
      this.#evicted.push({ group, stream: tracked.stream })
    }
  }
}
