// RaftStorage in memory, for tests and the simulator: the stable log after the last snapshot,
// the hard state, and fault injection (failNext) to exercise the "storage error stops the node" path.
import type { ConfState, Entry, HardState, RaftStorage, Snapshot } from './types.js'
import { StorageError } from './types.js'
import { limitSize } from './messages.js'

export const storageOperations = [
  'initialState',
  'entries',
  'term',
  'firstIndex',
  'lastIndex',
  'snapshot',
  'append',
  'setHardState',
  'applySnapshot',
  'createSnapshot',
  'compact',
] as const
export type StorageOperation = (typeof storageOperations)[number]

export class MemoryStorage implements RaftStorage {
  private hardState: HardState = { term: 0, vote: null, commit: 0 }
  private currentSnapshot: Snapshot
  /** ents[0] is a placeholder for the snapshot's (index, term); real entries follow. */
  private ents: Entry[]
  private readonly failures = new Map<StorageOperation, number>()

  constructor(confState?: Partial<ConfState>) {
    this.currentSnapshot = {
      metadata: {
        index: 0,
        term: 0,
        confState: {
          voters: [...(confState?.voters ?? [])],
          learners: [...(confState?.learners ?? [])],
          votersOutgoing: [...(confState?.votersOutgoing ?? [])],
        },
      },
      data: new Uint8Array(0),
    }
    this.ents = [{ index: 0, term: 0, type: 'normal', data: new Uint8Array(0) }]
  }

  /** The next `count` calls of `operation` throw StorageError('io'). */
  failNext(operation: StorageOperation, count = 1): void {
    this.failures.set(operation, (this.failures.get(operation) ?? 0) + count)
  }

  private check(operation: StorageOperation): void {
    const remaining = this.failures.get(operation) ?? 0
    if (remaining <= 0) return
    if (remaining === 1) this.failures.delete(operation)
    else this.failures.set(operation, remaining - 1)
    throw new StorageError('io', `injected ${operation} failure`)
  }

  private get offset(): number {
    return (this.ents[0] as Entry).index
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    this.check('initialState')
    return { hardState: this.hardState, confState: this.currentSnapshot.metadata.confState }
  }

  entries(lo: number, hi: number, bytesMax: number): Entry[] {
    this.check('entries')
    if (lo <= this.offset) throw new StorageError('compacted', `entries from ${lo}: compacted up to ${this.offset}`)
    if (hi > this.lastIndexUnchecked() + 1) {
      throw new StorageError('unavailable', `entries up to ${hi - 1}: last index is ${this.lastIndexUnchecked()}`)
    }
    return limitSize(this.ents.slice(lo - this.offset, hi - this.offset), bytesMax)
  }

  term(index: number): number {
    this.check('term')
    if (index < this.offset) throw new StorageError('compacted', `term of ${index}: compacted up to ${this.offset}`)
    const entry = this.ents[index - this.offset]
    if (entry === undefined) throw new StorageError('unavailable', `term of ${index}: beyond the last index`)
    return entry.term
  }

  firstIndex(): number {
    this.check('firstIndex')
    return this.offset + 1
  }

  lastIndex(): number {
    this.check('lastIndex')
    return this.lastIndexUnchecked()
  }

  private lastIndexUnchecked(): number {
    return this.offset + this.ents.length - 1
  }

  snapshot(): Snapshot {
    this.check('snapshot')
    return this.currentSnapshot
  }

  hardStateNow(): HardState {
    return this.hardState
  }

  setHardState(hardState: HardState): void {
    this.check('setHardState')
    this.hardState = hardState
  }

  /** Appends entries, replacing any conflicting suffix (the log after entries[0].index - 1). */
  append(entries: readonly Entry[]): void {
    this.check('append')
    const first = entries[0]
    if (first === undefined) return
    const firstIndex = this.offset + 1
    const lastNew = first.index + entries.length - 1
    if (lastNew < firstIndex) return // all compacted already
    const fresh = first.index < firstIndex ? entries.slice(firstIndex - first.index) : entries
    const at = (fresh[0] as Entry).index - this.offset
    if (at > this.ents.length) {
      throw new Error(`memory storage: gap: appending ${(fresh[0] as Entry).index} after last index ${this.lastIndexUnchecked()}`)
    }
    this.ents = [...this.ents.slice(0, at), ...fresh]
  }

  /** Replaces everything with `snapshot` (a follower catching up). */
  applySnapshot(snapshot: Snapshot): void {
    this.check('applySnapshot')
    if (snapshot.metadata.index <= this.currentSnapshot.metadata.index) {
      throw new StorageError('compacted', `snapshot ${snapshot.metadata.index} is older than ${this.currentSnapshot.metadata.index}`)
    }
    this.currentSnapshot = snapshot
    this.ents = [{ index: snapshot.metadata.index, term: snapshot.metadata.term, type: 'normal', data: new Uint8Array(0) }]
  }

  /** Records the application's state at `index` (which must be applied and stored) as the snapshot. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    this.check('createSnapshot')
    if (index <= this.currentSnapshot.metadata.index) {
      throw new StorageError('compacted', `snapshot at ${index} is not newer than ${this.currentSnapshot.metadata.index}`)
    }
    if (index > this.lastIndexUnchecked()) throw new Error(`memory storage: snapshot ${index} beyond last index ${this.lastIndexUnchecked()}`)
    const term = (this.ents[index - this.offset] as Entry).term
    this.currentSnapshot = { metadata: { index, term, confState }, data }
    return this.currentSnapshot
  }

  /** Discards entries up to and including `index` (which a snapshot must cover). */
  compact(index: number): void {
    this.check('compact')
    if (index <= this.offset) throw new StorageError('compacted', `already compacted up to ${this.offset}`)
    if (index > this.lastIndexUnchecked()) throw new Error(`memory storage: compact ${index} beyond last index ${this.lastIndexUnchecked()}`)
    const at = index - this.offset
    const kept = this.ents[at] as Entry
    this.ents = [{ index: kept.index, term: kept.term, type: 'normal', data: new Uint8Array(0) }, ...this.ents.slice(at + 1)]
  }
}
