// The simulated server's write-ahead journal: what a Ready persists, how a restart replays it,
// and the compacted form written after a snapshot. Records are atomic; a batch of entries is
// one record per entry so a torn write keeps a prefix of the batch.

import { MemoryStorage } from '../../control-plane/raft/index.js'
import type { ConfState, Entry, HardState, Snapshot } from '../../control-plane/raft/index.js'
import type { DurableLogView } from './raft-invariants.js'

export type WalRecord =
  | { readonly kind: 'snapshot'; readonly snapshot: Snapshot }
  | { readonly kind: 'entries'; readonly entries: readonly Entry[] }
  | { readonly kind: 'hardState'; readonly hardState: HardState }

/** Rebuild stable storage from the records that survived; `genesis` is the bootstrap configuration. */
export function replayJournal(records: readonly WalRecord[], genesis: ConfState): MemoryStorage {
  const storage = new MemoryStorage(genesis)
  for (const record of records) {
    if (record.kind === 'snapshot') storage.applySnapshot(record.snapshot)
    else if (record.kind === 'entries') storage.append(record.entries)
    else storage.setHardState(record.hardState)
  }
  return storage
}

/** The journal that reproduces `storage` exactly (after a snapshot and compaction). */
export function journalOf(storage: MemoryStorage): WalRecord[] {
  const first = storage.firstIndex()
  const last = storage.lastIndex()
  const records: WalRecord[] = [{ kind: 'snapshot', snapshot: storage.snapshot() }]
  if (last >= first) records.push({ kind: 'entries', entries: storage.entries(first, last + 1, Number.MAX_SAFE_INTEGER) })
  records.push({ kind: 'hardState', hardState: storage.initialState().hardState })
  return records
}

/** What the invariants may ask about a storage's log. */
export function logView(storage: MemoryStorage): DurableLogView {
  const snapshot = storage.snapshot().metadata
  const first = storage.firstIndex()
  const last = storage.lastIndex()
  return {
    snapshotIndex: Math.max(snapshot.index, first - 1),
    snapshotTerm: snapshot.term,
    lastIndex: () => last,
    termAt(index) {
      if (index < first || index > last) return undefined
      return storage.term(index)
    },
  }
}
