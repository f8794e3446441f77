// The durable RaftStorage (etcd's MemoryStorage + WAL, in one object): the core reads a
// synchronous in-memory copy; every change is first written to the shared `Storage` adapter as
// ONE atomic batch with `sync: true`, and only once that resolved is the copy updated. So the copy
// never holds anything that is not on disk, and a restart (`open`) sees exactly what the copy held.
import type { BatchOperation, Storage } from '../../shared/storage/index.js'
import type { ConfState, Entry, HardState, RaftStorage, Snapshot } from '../raft/index.js'
import { limitSize, StorageError } from '../raft/index.js'
import {
  RaftRecordError,
  appliedKey,
  confStateKey,
  decodeApplied,
  decodeConfState,
  decodeEntry,
  decodeHardState,
  decodeLogKey,
  decodeSnapshot,
  encodeEntry,
  encodeJson,
  encodeSnapshot,
  hardStateKey,
  logKey,
  raftLogKeySpace,
  raftSnapshotKeySpace,
  raftStateKeySpace,
  snapshotKey,
} from './raft-records.js'

/** What one Ready asks to persist (Ready contract, step 1). */
export interface RaftPersistUpdate {
  readonly snapshot?: Snapshot | undefined
  readonly entries: readonly Entry[]
  readonly hardState?: HardState | undefined
}

/** A RaftStorage the driver can write to: one durable batch per Ready, snapshots with compaction. */
export interface WritableRaftStorage extends RaftStorage {
  /** Snapshot, then entries (truncating a conflicting suffix), then hard state: one synced batch. */
  persist(update: RaftPersistUpdate): Promise<void>
  /**
   * Records the application's state at `index` (applied, and in the log) as the snapshot and
   * deletes the log up to and including `index`, in one synced batch.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot>
  /** The index the stored application state (the snapshot) is at: restore it, then start from here. */
  appliedIndex(): number
}

export interface DurableRaftStorageOptions {
  /** The bootstrap configuration, written on the first open only (a stored one wins). */
  readonly bootstrap?: Partial<ConfState>
}

function placeholder(index: number, term: number): Entry {
  return { index, term, type: 'normal', data: new Uint8Array(0) }
}

function check(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new RaftRecordError(`durable raft storage: ${message()}`)
}

export class DurableRaftStorage implements WritableRaftStorage {
  private hardState: HardState
  private currentSnapshot: Snapshot
  /** ents[0] stands for the snapshot (or compaction point): its index and term; real entries follow. */
  private ents: Entry[]
  private applied: number
  private writing = false

  private constructor(
    private readonly storage: Storage,
    state: { hardState: HardState; snapshot: Snapshot; entries: Entry[]; applied: number },
  ) {
    this.hardState = state.hardState
    this.currentSnapshot = state.snapshot
    this.ents = [placeholder(state.snapshot.metadata.index, state.snapshot.metadata.term), ...state.entries]
    this.applied = state.applied
  }

  /** Loads everything persisted (or bootstraps an empty location) and checks it. */
  static async open(storage: Storage, options: DurableRaftStorageOptions = {}): Promise<DurableRaftStorage> {
    const hardBytes = await storage.get(raftStateKeySpace, hardStateKey)
    const confBytes = await storage.get(raftStateKeySpace, confStateKey)
    const appliedBytes = await storage.get(raftStateKeySpace, appliedKey)
    const snapshotBytes = await storage.get(raftSnapshotKeySpace, snapshotKey)
    let confState: ConfState
    if (confBytes === undefined) {
      const bootstrap = options.bootstrap ?? {}
      confState = { voters: [...(bootstrap.voters ?? [])], learners: [...(bootstrap.learners ?? [])], votersOutgoing: [...(bootstrap.votersOutgoing ?? [])] }
      await storage.put(raftStateKeySpace, confStateKey, encodeJson(confState), { sync: true })
    } else {
      confState = decodeConfState(confBytes)
    }
    const snapshot: Snapshot =
      snapshotBytes === undefined ? { metadata: { index: 0, term: 0, confState }, data: new Uint8Array(0) } : decodeSnapshot(snapshotBytes)
    const hardState = hardBytes === undefined ? { term: 0, vote: null, commit: 0 } : decodeHardState(hardBytes)
    const entries: Entry[] = []
    for await (const [key, value] of storage.range(raftLogKeySpace)) {
      const index = decodeLogKey(key)
      const previous = entries[entries.length - 1]
      const expected = previous === undefined ? snapshot.metadata.index + 1 : previous.index + 1
      // Invariant: the stored log is contiguous and starts right after the snapshot.
      check(index === expected, () => `log entry ${index} found where ${expected} was expected (not contiguous)`)
      const entry = decodeEntry(index, value)
      const previousTerm = previous?.term ?? snapshot.metadata.term
      check(entry.term >= previousTerm, () => `term goes back at entry ${index} (${previousTerm} → ${entry.term})`)
      entries.push(entry)
    }
    const lastIndex = snapshot.metadata.index + entries.length
    const lastTerm = entries[entries.length - 1]?.term ?? snapshot.metadata.term
    // Invariant: the commit index never points beyond the stored log, nor below the snapshot.
    check(hardState.commit <= lastIndex, () => `hard state commit ${hardState.commit} is beyond the last index ${lastIndex}`)
    check(hardBytes === undefined || hardState.commit >= snapshot.metadata.index, () => {
      return `hard state commit ${hardState.commit} is below the snapshot index ${snapshot.metadata.index}`
    })
    check(hardState.term >= lastTerm, () => `hard state term ${hardState.term} is below the last entry's term ${lastTerm}`)
    const applied = appliedBytes === undefined ? snapshot.metadata.index : decodeApplied(appliedBytes)
    check(applied === snapshot.metadata.index, () => `applied index ${applied} differs from the snapshot index ${snapshot.metadata.index}`)
    return new DurableRaftStorage(storage, { hardState, snapshot, entries, applied })
  }

  private get offset(): number {
    return (this.ents[0] as Entry).index
  }

  private lastIndexNow(): number {
    return this.offset + this.ents.length - 1
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.currentSnapshot.metadata.confState }
  }

  entries(lo: number, hi: number, bytesMax: number): Entry[] {
    if (lo <= this.offset) throw new StorageError('compacted', `entries from ${lo}: compacted up to ${this.offset}`)
    if (hi > this.lastIndexNow() + 1) throw new StorageError('unavailable', `entries up to ${hi - 1}: last index is ${this.lastIndexNow()}`)
    return limitSize(this.ents.slice(lo - this.offset, hi - this.offset), bytesMax)
  }

  term(index: number): number {
    if (index < this.offset) throw new StorageError('compacted', `term of ${index}: compacted up to ${this.offset}`)
    const entry = this.ents[index - this.offset]
    if (entry === undefined) throw new StorageError('unavailable', `term of ${index}: beyond the last index ${this.lastIndexNow()}`)
    return entry.term
  }

  firstIndex(): number {
    return this.offset + 1
  }

  lastIndex(): number {
    return this.lastIndexNow()
  }

  snapshot(): Snapshot {
    return this.currentSnapshot
  }

  appliedIndex(): number {
    return this.applied
  }

  /** The persisted hard state (what a restart would see). */
  hardStateNow(): HardState {
    return this.hardState
  }

  async persist(update: RaftPersistUpdate): Promise<void> {
    const operations: BatchOperation[] = []
    let ents = this.ents
    let snapshot = this.currentSnapshot
    let applied = this.applied
    if (update.snapshot !== undefined) {
      const incoming = update.snapshot
      check(incoming.metadata.index > snapshot.metadata.index, () => {
        return `snapshot ${incoming.metadata.index} is not newer than the stored ${snapshot.metadata.index}`
      })
      // A restored snapshot replaces the whole log (etcd's ApplySnapshot).
      for (let index = this.offset + 1; index <= this.lastIndexNow(); index += 1) operations.push(deleteLog(index))
      operations.push({ type: 'put', keySpace: raftSnapshotKeySpace, key: snapshotKey, value: encodeSnapshot(incoming) })
      operations.push({ type: 'put', keySpace: raftStateKeySpace, key: appliedKey, value: encodeJson(incoming.metadata.index) })
      snapshot = incoming
      applied = incoming.metadata.index
      ents = [placeholder(incoming.metadata.index, incoming.metadata.term)]
    }
    ents = appendEntries(ents, update.entries, operations)
    const lastIndex = (ents[0] as Entry).index + ents.length - 1
    if (update.hardState !== undefined) {
      const hard = update.hardState
      // Invariant (asserted before writing): the persisted term never goes back, commit ≤ last index.
      check(hard.term >= this.hardState.term, () => `hard state term would go back from ${this.hardState.term} to ${hard.term}`)
      check(hard.commit <= lastIndex, () => `hard state commit ${hard.commit} is beyond the last index ${lastIndex}`)
      operations.push({ type: 'put', keySpace: raftStateKeySpace, key: hardStateKey, value: encodeJson(hard) })
    }
    if (operations.length === 0) return
    // etcd's MustSync: a batch that only moves the commit index need not be synced. The commit
    // index is a lower bound a restart may lose (it is learnt again from the leader); entries,
    // snapshots, term and vote must survive. RocksDB's WAL is sequential, so the next synced
    // batch makes this one durable too.
    const hard = update.hardState
    const mustSync =
      update.snapshot !== undefined || update.entries.length > 0 || (hard !== undefined && (hard.term !== this.hardState.term || hard.vote !== this.hardState.vote))
    await this.write(operations, mustSync)
    this.ents = ents
    this.currentSnapshot = snapshot
    this.applied = applied
    if (update.hardState !== undefined) this.hardState = update.hardState
  }

  async createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    const current = this.currentSnapshot.metadata.index
    if (index <= current) throw new StorageError('compacted', `snapshot at ${index} is not newer than ${current}`)
    check(index <= this.lastIndexNow(), () => `snapshot at ${index} is beyond the last index ${this.lastIndexNow()}`)
    check(index <= this.hardState.commit, () => `snapshot at ${index} is beyond the persisted commit ${this.hardState.commit}`)
    const term = this.term(index)
    const snapshot: Snapshot = { metadata: { index, term, confState }, data }
    const operations: BatchOperation[] = [
      { type: 'put', keySpace: raftSnapshotKeySpace, key: snapshotKey, value: encodeSnapshot(snapshot) },
      { type: 'put', keySpace: raftStateKeySpace, key: appliedKey, value: encodeJson(index) },
    ]
    // Compaction: the log up to the snapshot goes in the same batch.
    for (let compacted = this.offset + 1; compacted <= index; compacted += 1) operations.push(deleteLog(compacted))
    await this.write(operations)
    this.ents = [placeholder(index, term), ...this.ents.slice(index - this.offset + 1)]
    this.currentSnapshot = snapshot
    this.applied = index
    return snapshot
  }

  private async write(operations: readonly BatchOperation[], sync = true): Promise<void> {
    // Invariant: one batch at a time, so the copy is updated in the order batches were written.
    check(!this.writing, () => 'a second write started before the first finished')
    this.writing = true
    try {
      await this.storage.batch(operations, { sync })
    } finally {
      this.writing = false
    }
  }
}

function deleteLog(index: number): BatchOperation {
  return { type: 'delete', keySpace: raftLogKeySpace, key: logKey(index) }
}

/**
 * Appends `entries` to `ents` (returning a new array), replacing a conflicting suffix, and adds
 * the batch operations that do the same on disk.
 */
function appendEntries(ents: Entry[], entries: readonly Entry[], operations: BatchOperation[]): Entry[] {
  const first = entries[0]
  if (first === undefined) return ents
  const offset = (ents[0] as Entry).index
  const oldLast = offset + ents.length - 1
  const fresh = first.index <= offset ? entries.slice(offset + 1 - first.index) : entries
  const head = fresh[0]
  if (head === undefined) return ents // everything is already compacted
  check(head.index <= oldLast + 1, () => `gap: appending ${head.index} after the last index ${oldLast}`)
  fresh.forEach((entry, position) => {
    check(entry.index === head.index + position, () => `entries to append are not contiguous at ${entry.index}`)
  })
  const newLast = head.index + fresh.length - 1
  // Truncation: entries past the new tail belonged to the conflicting suffix.
  for (let index = newLast + 1; index <= oldLast; index += 1) operations.push(deleteLog(index))
  for (const entry of fresh) operations.push({ type: 'put', keySpace: raftLogKeySpace, key: logKey(entry.index), value: encodeEntry(entry) })
  return [...ents.slice(0, head.index - offset), ...fresh]
}
