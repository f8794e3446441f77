// What a restarted StreamReplica reads back from the event store (`RestoredReplicaState`,
// replica/types.ts), from the store's metadata and indexes — never the whole history, so a
// restart costs O(origins × log n) point reads plus the few copies above the resume point and
// the dedup window's deliveries (issue #5: reopen a stream of 10 M events in seconds):
//  - held: the durable version vector and gap buffers (metadata, in memory already);
//  - resume: the last recorded delivery and the count (metadata); its dedup window = the
//    deliveries less than a window before it (`indexAtOrAfter`, then one scan of the delivery
//    index, whose values carry the ids: no event is read);
//  - settled: per origin incarnation, the last sequence at or below the resume point (a binary
//    search over `ps-origin-seqs`), capped at its close point;
//  - events: each origin's held copies above that (`readByOriginRange`), not past a close point.
// The same computation over a full history is `restoreFromHistory` (replica/restore.ts); a test
// holds the two equal. Driver code (reads through the store), no `node:*`.
import { DedupWindow } from '../event-set.js'
import { originKey } from '../event.js'
import type { StreamEvent } from '../event.js'
import { hlcZero } from '../hlc.js'
import type { Hlc } from '../hlc.js'
import type { CloseDecision } from '../order.js'
import type { RestoredReplicaState } from '../replica/types.js'
import type { EventStore } from './event-store.js'
import { readEntriesMax } from './limits.js'
import type { DeliveredIdVisitor } from './reads.js'

export interface ReplicaRestoreOptions {
  /** The decisions the replica will reapply (their close points cap what is loaded). */
  readonly closes: readonly CloseDecision[]
  readonly dedupWindowMs: number
}

/** Everything of `RestoredReplicaState` the store knows (the caller adds clock ceiling, fences, closes). */
export type StoreRestore = Pick<RestoredReplicaState, 'held' | 'settled' | 'events' | 'resume'>

export async function readReplicaRestore(store: EventStore, stream: string, options: ReplicaRestoreOptions): Promise<StoreRestore> {
  const state = store.durableState(stream)
  const reader = store.reader
  const resume = store.resumePoint(stream)
  const closedAt = new Map(options.closes.map((d) => [originKey(d.origin, d.incarnation), d.atSeq] as const))
  const held = new Map<string, { contiguous: number; gaps: number[] }>()
  const settled = new Map<string, { seq: number; hlc: Hlc }>()
  const events: StreamEvent[] = []
  const keys = [...new Set([...state.vector.keys(), ...state.gaps.keys()])].sort()
  for (const key of keys) {
    const contiguous = state.vector.get(key) ?? 0
    const gaps = [...(state.gaps.get(key) ?? [])].sort((a, b) => a - b)
    if (contiguous === 0 && gaps.length === 0) continue
    held.set(key, { contiguous, gaps })
    const cap = closedAt.get(key) ?? Number.POSITIVE_INFINITY
    let settledSeq = 0
    if (resume !== null && contiguous > 0) {
      const found = await reader.lastSeqAtOrBefore(stream, key, Math.min(contiguous, cap), resume.lastDelivered)
      settledSeq = found.seq
      // A copy deleted by retention leaves no hlc: the origin's frontier then waits for its next
      // commit or heartbeat (a lower bound only delays delivery, never reorders it).
      if (settledSeq > 0) settled.set(key, { seq: settledSeq, hlc: found.hlc ?? hlcZero })
    }
    const toSeq = Math.min(cap, Math.max(contiguous, gaps.at(-1) ?? 0))
    for (let fromSeq = settledSeq + 1; fromSeq <= toSeq; ) {
      const chunk = await store.readByOriginRange(stream, { originKey: key, fromSeq, toSeq }, readEntriesMax)
      events.push(...chunk)
      if (chunk.length < readEntriesMax) break
      fromSeq = (chunk.at(-1) as StreamEvent).originSeq + 1
    }
  }
  if (resume === null) return { held, settled, events, resume: null }
  // Built as the delivery index is read: no string or object per id (up to a million), the
  // stored id bytes are fingerprinted as they are (dedup-window.ts).
  const window = new DedupWindow(options.dedupWindowMs)
  if (options.dedupWindowMs > 0) {
    const windowStartMs = Math.max(0, resume.lastDelivered.hlc.wallMs - options.dedupWindowMs + 1)
    const firstIndex = await store.indexAtOrAfter(stream, { wallMs: windowStartMs, logical: 0 })
    window.reserve(resume.deliveredCount - firstIndex)
    const restoreOne: DeliveredIdVisitor = (id, wallMs, logical, origin, incarnation, originSeq) => window.restoreEncoded(id, wallMs, logical, origin, incarnation, originSeq)
    for (let index = firstIndex; index < resume.deliveredCount; ) {
      const next = await store.reader.visitDeliveredIds(stream, index, resume.deliveredCount, readEntriesMax, restoreOne)
      if (next <= index) break
      index = next
    }
  }
  return { held, settled, events, resume: { ...resume, window } }
}
