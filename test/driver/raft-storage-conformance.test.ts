// Every writable RaftStorage passes the same suite: the core's MemoryStorage (wrapped), and the
// durable storage on RocksDB (temp directory) and on the in-memory storage adapter.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DurableRaftStorage } from '../../control-plane/driver/durable-raft-storage.js'
import type { RaftPersistUpdate, WritableRaftStorage } from '../../control-plane/driver/durable-raft-storage.js'
import { raftKeySpaces } from '../../control-plane/driver/raft-records.js'
import { MemoryStorage } from '../../control-plane/raft/index.js'
import type { ConfState, Entry, Snapshot } from '../../control-plane/raft/index.js'
import { createMemoryLocation, openMemoryStorage, openRocksStorage } from '../../shared/storage/index.js'
import type { Storage } from '../../shared/storage/index.js'
import { runRaftStorageConformance } from './raft-storage-conformance.js'

/** The core's volatile MemoryStorage behind the writable interface ("reopen" keeps the object). */
class WrappedMemoryStorage implements WritableRaftStorage {
  private readonly inner: MemoryStorage
  private applied = 0

  constructor(bootstrap: ConfState) {
    this.inner = new MemoryStorage(bootstrap)
  }

  initialState(): ReturnType<MemoryStorage['initialState']> {
    return this.inner.initialState()
  }
  entries(lo: number, hi: number, bytesMax: number): Entry[] {
    return this.inner.entries(lo, hi, bytesMax)
  }
  term(index: number): number {
    return this.inner.term(index)
  }
  firstIndex(): number {
    return this.inner.firstIndex()
  }
  lastIndex(): number {
    return this.inner.lastIndex()
  }
  snapshot(): Snapshot {
    return this.inner.snapshot()
  }
  appliedIndex(): number {
    return this.applied
  }

  async persist(update: RaftPersistUpdate): Promise<void> {
    const lastAfter = Math.max(update.snapshot?.metadata.index ?? 0, this.inner.lastIndex(), ...update.entries.map((e) => e.index))
    if (update.hardState !== undefined && update.hardState.commit > lastAfter) throw new Error('commit beyond the last index')
    if (update.snapshot !== undefined) {
      this.inner.applySnapshot(update.snapshot)
      this.applied = update.snapshot.metadata.index
    }
    this.inner.append(update.entries)
    if (update.hardState !== undefined) this.inner.setHardState(update.hardState)
  }

  async createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    const snapshot = this.inner.createSnapshot(index, confState, data)
    this.inner.compact(index)
    this.applied = index
    return snapshot
  }
}

t.test('core MemoryStorage (wrapped)', async (t) => {
  runRaftStorageConformance(t, async (bootstrap) => {
    const storage = new WrappedMemoryStorage(bootstrap)
    return { storage, reopen: async () => storage, cleanup: async () => undefined }
  })
})

t.test('durable storage on the memory adapter', async (t) => {
  runRaftStorageConformance(t, async (bootstrap) => {
    const location = createMemoryLocation()
    let adapter: Storage = await openMemoryStorage(location, { keySpaces: raftKeySpaces })
    const storage = await DurableRaftStorage.open(adapter, { bootstrap })
    return {
      storage,
      reopen: async () => {
        await adapter.close()
        adapter = await openMemoryStorage(location, { keySpaces: raftKeySpaces })
        return DurableRaftStorage.open(adapter)
      },
      cleanup: () => adapter.close(),
    }
  })
})

t.test('durable storage on RocksDB', async (t) => {
  runRaftStorageConformance(t, async (bootstrap) => {
    const directory = mkdtempSync(join(tmpdir(), 'railgun-raft-storage-'))
    let adapter: Storage = await openRocksStorage(join(directory, 'db'), { keySpaces: raftKeySpaces })
    const storage = await DurableRaftStorage.open(adapter, { bootstrap })
    return {
      storage,
      reopen: async () => {
        await adapter.close()
        adapter = await openRocksStorage(join(directory, 'db'), { keySpaces: raftKeySpaces })
        return DurableRaftStorage.open(adapter)
      },
      cleanup: async () => {
        await adapter.close()
        rmSync(directory, { recursive: true, force: true })
      },
    }
  })
})

t.test('open refuses a corrupted log (not contiguous) and a commit beyond the log', async (t) => {
  const location = createMemoryLocation()
  const adapter = await openMemoryStorage(location, { keySpaces: raftKeySpaces })
  const storage = await DurableRaftStorage.open(adapter, { bootstrap: { voters: ['1'] } })
  await storage.persist({ entries: [1, 2, 3].map((index) => ({ index, term: 1, type: 'normal' as const, data: new Uint8Array(0) })), hardState: { term: 1, vote: '1', commit: 3 } })
  // Remove entry 2 behind the storage's back: the log has a hole.
  const { logKey } = await import('../../control-plane/driver/raft-records.js')
  await adapter.delete('raft-log', logKey(2), { sync: true })
  await t.rejects(DurableRaftStorage.open(adapter), { name: 'RaftRecordError', message: /not contiguous/ })
  await adapter.delete('raft-log', logKey(3), { sync: true })
  await t.rejects(DurableRaftStorage.open(adapter), { name: 'RaftRecordError', message: /commit 3 is beyond the last index 1/ })
  await adapter.close()
})

t.test('a failed batch leaves the in-memory copy unchanged', async (t) => {
  const location = createMemoryLocation()
  const adapter = await openMemoryStorage(location, { keySpaces: raftKeySpaces })
  const storage = await DurableRaftStorage.open(adapter, { bootstrap: { voters: ['1'] } })
  location.failWith = new Error('disk on fire')
  await t.rejects(storage.persist({ entries: [{ index: 1, term: 1, type: 'normal', data: new Uint8Array(1) }], hardState: { term: 1, vote: '1', commit: 0 } }), { name: 'StorageIoError' })
  t.equal(storage.lastIndex(), 0)
  t.same(storage.initialState().hardState, { term: 0, vote: null, commit: 0 })
  location.failWith = undefined
  await adapter.close()
})
