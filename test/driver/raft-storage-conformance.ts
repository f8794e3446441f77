// The one conformance suite for writable RaftStorage implementations: the core's MemoryStorage
// (in a wrapper) and the durable storage on RocksDB and on the memory adapter run these checks.
import type { Test } from 'tap'
import type { WritableRaftStorage } from '../../control-plane/driver/durable-raft-storage.js'
import type { ConfState, Entry } from '../../control-plane/raft/index.js'
import { StorageError } from '../../control-plane/raft/index.js'

export interface RaftStorageHarness {
  /** Fresh storage bootstrapped with `voters`. */
  readonly storage: WritableRaftStorage
  /** Closes and reopens from what was persisted (the same object for a volatile storage). */
  reopen(): Promise<WritableRaftStorage>
  cleanup(): Promise<void>
}

export type RaftStorageFactory = (bootstrap: ConfState) => Promise<RaftStorageHarness>

const conf: ConfState = { voters: ['1', '2', '3'], learners: [], votersOutgoing: [] }

function entry(index: number, term: number, text = `e${index}`): Entry {
  return { index, term, type: 'normal', data: new TextEncoder().encode(text) }
}

function range(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = []
  for (let index = from; index <= to; index += 1) out.push(entry(index, term))
  return out
}

function describe(entries: readonly Entry[]): string[] {
  return entries.map((e) => `${e.index}/${e.term}/${new TextDecoder().decode(e.data)}`)
}

async function kindOf(action: () => unknown): Promise<string> {
  try {
    await action()
    return 'none'
  } catch (error) {
    return error instanceof StorageError ? error.kind : `other: ${String(error)}`
  }
}

export function runRaftStorageConformance(t: Test, factory: RaftStorageFactory): void {
  const withHarness = (name: string, body: (t: Test, harness: RaftStorageHarness) => Promise<void>): void => {
    void t.test(name, async (t) => {
      const harness = await factory(conf)
      t.teardown(() => harness.cleanup())
      await body(t, harness)
    })
  }

  withHarness('a fresh storage: bootstrap configuration, empty log, zero hard state', async (t, { storage }) => {
    const initial = storage.initialState()
    t.same(initial.confState.voters, ['1', '2', '3'])
    t.same(initial.hardState, { term: 0, vote: null, commit: 0 })
    t.equal(storage.firstIndex(), 1)
    t.equal(storage.lastIndex(), 0)
    t.equal(storage.term(0), 0, 'the snapshot index (0) answers its term')
    t.equal(storage.snapshot().metadata.index, 0)
    t.equal(storage.appliedIndex(), 0)
    t.equal(await kindOf(() => storage.term(1)), 'unavailable')
  })

  withHarness('entries: ranges, bytesMax keeps at least one entry, bounds errors', async (t, { storage }) => {
    await storage.persist({ entries: range(1, 5, 1) })
    t.same(describe(storage.entries(1, 6, Number.POSITIVE_INFINITY)), ['1/1/e1', '2/1/e2', '3/1/e3', '4/1/e4', '5/1/e5'])
    t.same(describe(storage.entries(2, 4, Number.POSITIVE_INFINITY)), ['2/1/e2', '3/1/e3'])
    t.same(describe(storage.entries(1, 6, 0)), ['1/1/e1'], 'bytesMax 0 still returns one entry')
    t.same(describe(storage.entries(1, 6, 4)), ['1/1/e1', '2/1/e2'], 'two 2-byte entries fit in 4 bytes')
    t.same(describe(storage.entries(1, 6, 5)), ['1/1/e1', '2/1/e2'], 'a third does not fit in 5')
    t.equal(await kindOf(() => storage.entries(1, 7, 100)), 'unavailable')
    t.equal(await kindOf(() => storage.entries(0, 2, 100)), 'compacted')
    t.equal(storage.term(3), 1)
    t.equal(storage.lastIndex(), 5)
  })

  withHarness('append truncates a conflicting suffix and keeps the prefix', async (t, harness) => {
    await harness.storage.persist({ entries: range(1, 6, 1), hardState: { term: 1, vote: '1', commit: 2 } })
    await harness.storage.persist({ entries: [entry(4, 2, 'x4'), entry(5, 2, 'x5')], hardState: { term: 2, vote: '2', commit: 3 } })
    t.equal(harness.storage.lastIndex(), 5, 'entry 6 of the old suffix is gone')
    t.same(describe(harness.storage.entries(1, 6, 1000)), ['1/1/e1', '2/1/e2', '3/1/e3', '4/2/x4', '5/2/x5'])
    const reopened = await harness.reopen()
    t.same(describe(reopened.entries(1, 6, 1000)), ['1/1/e1', '2/1/e2', '3/1/e3', '4/2/x4', '5/2/x5'], 'the truncation is durable')
    t.equal(reopened.lastIndex(), 5)
    t.same(reopened.initialState().hardState, { term: 2, vote: '2', commit: 3 })
  })

  withHarness('a gap in an append is refused and changes nothing', async (t, { storage }) => {
    await storage.persist({ entries: range(1, 2, 1) })
    await t.rejects(storage.persist({ entries: [entry(4, 1)] }))
    t.equal(storage.lastIndex(), 2)
  })

  withHarness('snapshot with compaction: compacted errors, first index, reopen', async (t, harness) => {
    await harness.storage.persist({ entries: range(1, 10, 1), hardState: { term: 1, vote: '1', commit: 8 } })
    const data = new TextEncoder().encode('state@7')
    const snapshot = await harness.storage.createSnapshot(7, conf, data)
    t.same(snapshot.metadata, { index: 7, term: 1, confState: conf })
    t.equal(harness.storage.firstIndex(), 8)
    t.equal(harness.storage.lastIndex(), 10)
    t.equal(harness.storage.term(7), 1, 'the snapshot index answers its term')
    t.equal(await kindOf(() => harness.storage.term(6)), 'compacted')
    t.equal(await kindOf(() => harness.storage.entries(7, 9, 100)), 'compacted')
    t.same(describe(harness.storage.entries(8, 11, 100)), ['8/1/e8', '9/1/e9', '10/1/e10'])
    t.equal(await kindOf(() => harness.storage.createSnapshot(7, conf, data)), 'compacted', 'a snapshot that is not newer is refused')
    t.equal(harness.storage.appliedIndex(), 7)
    const reopened = await harness.reopen()
    t.equal(reopened.firstIndex(), 8)
    t.equal(reopened.lastIndex(), 10)
    t.equal(reopened.snapshot().metadata.index, 7)
    t.same(Buffer.from(reopened.snapshot().data).toString(), 'state@7')
    t.equal(reopened.appliedIndex(), 7)
  })

  withHarness('a received snapshot replaces the log; entries after it append', async (t, harness) => {
    await harness.storage.persist({ entries: range(1, 3, 1), hardState: { term: 1, vote: null, commit: 1 } })
    const snapshot = { metadata: { index: 20, term: 3, confState: conf }, data: new TextEncoder().encode('s20') }
    await harness.storage.persist({ snapshot, entries: [entry(21, 3)], hardState: { term: 3, vote: null, commit: 20 } })
    t.equal(harness.storage.firstIndex(), 21)
    t.equal(harness.storage.lastIndex(), 21)
    t.equal(harness.storage.term(20), 3)
    t.equal(await kindOf(() => harness.storage.term(3)), 'compacted')
    t.equal(harness.storage.snapshot().metadata.index, 20)
    const reopened = await harness.reopen()
    t.equal(reopened.firstIndex(), 21)
    t.same(describe(reopened.entries(21, 22, 100)), ['21/3/e21'])
    t.same(reopened.initialState().hardState, { term: 3, vote: null, commit: 20 })
    t.equal(reopened.appliedIndex(), 20)
    await t.rejects(reopened.persist({ snapshot, entries: [] }), 'an older or equal snapshot is refused')
  })

  withHarness('reopen keeps what was synced: log, hard state, configuration', async (t, harness) => {
    await harness.storage.persist({ entries: range(1, 4, 2), hardState: { term: 2, vote: '3', commit: 4 } })
    const reopened = await harness.reopen()
    t.same(reopened.initialState(), { hardState: { term: 2, vote: '3', commit: 4 }, confState: conf })
    t.same(describe(reopened.entries(1, 5, 1000)), ['1/2/e1', '2/2/e2', '3/2/e3', '4/2/e4'])
    t.equal(reopened.firstIndex(), 1)
  })

  withHarness('a hard state whose commit is beyond the log is refused before writing', async (t, { storage }) => {
    await t.rejects(storage.persist({ entries: [], hardState: { term: 1, vote: null, commit: 3 } }))
    t.same(storage.initialState().hardState, { term: 0, vote: null, commit: 0 })
  })
}
