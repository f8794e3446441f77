// What a restarted replica needs from its disk (`RestoredReplicaState`), computed from a full
// history: every durable copy, the durable delivery log, the decisions. This is the reference
// the simulator and the scenario stage restore with, and what the event store computes from its
// indexes without reading the history (store/replica-restore.ts; a test holds them equal). Pure.
//
//  - held: per origin incarnation, the contiguous prefix and the sequences above it (bounded by
//    the gap buffer, as the store keeps them);
//  - resume: the last durable delivery, the count, and the dedup window's survivors (the
//    deliveries less than a window before it);
//  - settled: per origin, the highest sequence at or below the resume point (an origin's copies
//    rise in hlc with their sequence, so they form a prefix), capped at a close point — those
//    copies were committed and taken by the orderer before the restart;
//  - events: the held copies above the settled prefixes (and, for a closed incarnation, not past
//    its close point): the unsettled copies, few when delivery keeps up.
import { DedupWindow } from '../event-set.js'
import { compareEventOrder, originKey, originKeyOf } from '../event.js'
import type { EventPosition, StreamEvent } from '../event.js'
import type { Hlc } from '../hlc.js'
import { gapSeqsPerOriginMax } from '../limits.js'
import type { CloseDecision } from '../order.js'
import { VersionTracker } from '../version-vector.js'
import type { FenceRecord, RestoredReplicaState } from './types.js'

export interface ReplicaHistory {
  /** Every durable copy (any order; a copy written twice is one). */
  readonly events: readonly StreamEvent[]
  /** The durable delivery log: the event delivered at index 0, 1, … */
  readonly deliveries: readonly StreamEvent[]
  readonly clockCeilingMs: number
  readonly fences: readonly FenceRecord[]
  readonly closes: readonly CloseDecision[]
  readonly dedupWindowMs: number
  readonly gapMax?: number
}

export function restoreFromHistory(history: ReplicaHistory): RestoredReplicaState {
  const tracker = new VersionTracker({ gapMax: history.gapMax ?? gapSeqsPerOriginMax })
  const bySeq = new Map<string, Map<number, StreamEvent>>()
  // In sequence order per origin, as a store with the same gap bound would have kept them.
  const sorted = [...history.events].sort((a, b) => (originKeyOf(a) < originKeyOf(b) ? -1 : originKeyOf(a) > originKeyOf(b) ? 1 : a.originSeq - b.originSeq))
  for (const event of sorted) {
    const key = originKeyOf(event)
    if (tracker.has(key, event.originSeq)) continue
    if (typeof tracker.record(key, event.originSeq) === 'string') continue
    let copies = bySeq.get(key)
    if (copies === undefined) bySeq.set(key, (copies = new Map()))
    copies.set(event.originSeq, event)
  }
  const closedAt = new Map(history.closes.map((d) => [originKey(d.origin, d.incarnation), d.atSeq] as const))
  const last = history.deliveries.at(-1)
  const lastDelivered: EventPosition | null = last === undefined ? null : { hlc: last.hlc, origin: last.origin, incarnation: last.incarnation, originSeq: last.originSeq }
  const held = new Map<string, { contiguous: number; gaps: number[] }>()
  const settled = new Map<string, { seq: number; hlc: Hlc }>()
  const events: StreamEvent[] = []
  for (const [key, contiguous] of tracker.vector()) {
    held.set(key, { contiguous, gaps: tracker.gaps(key) })
    const copies = bySeq.get(key) as Map<number, StreamEvent>
    const cap = closedAt.get(key) ?? Number.POSITIVE_INFINITY
    let settledSeq = 0
    if (lastDelivered !== null) {
      while (settledSeq < Math.min(contiguous, cap) && compareEventOrder(copies.get(settledSeq + 1) as StreamEvent, lastDelivered) <= 0) settledSeq++
    }
    if (settledSeq > 0) settled.set(key, { seq: settledSeq, hlc: (copies.get(settledSeq) as StreamEvent).hlc })
    for (const [seq, event] of copies) if (seq > settledSeq && seq <= cap) events.push(event)
  }
  const window = new DedupWindow(history.dedupWindowMs)
  if (lastDelivered !== null && history.dedupWindowMs > 0) {
    for (const e of history.deliveries) {
      if (lastDelivered.hlc.wallMs - e.hlc.wallMs < history.dedupWindowMs) window.restore([{ id: e.id, position: { hlc: e.hlc, origin: e.origin, incarnation: e.incarnation, originSeq: e.originSeq } }])
    }
  }
  return {
    held,
    settled,
    events,
    resume: lastDelivered === null ? null : { lastDelivered, deliveredCount: history.deliveries.length, window },
    clockCeilingMs: history.clockCeilingMs,
    fences: history.fences,
    closes: history.closes,
  }
}
