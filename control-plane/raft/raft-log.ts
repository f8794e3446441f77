// The node's log: stable storage plus the unstable tail, with the commit and applied cursors.
// Invariant: applied <= committed <= lastIndex; committed never decreases.
import type { Entry, RaftStorage, Snapshot } from './types.js'
import { StorageError } from './types.js'
import { Unstable } from './unstable.js'
import { assert } from './errors.js'
import { limitSize } from './messages.js'

export class RaftLog {
  readonly unstable: Unstable
  committed: number
  applied: number

  constructor(readonly storage: RaftStorage) {
    const first = storage.firstIndex()
    const last = storage.lastIndex()
    this.unstable = new Unstable(last + 1)
    // Everything up to the snapshot is committed and applied by definition.
    this.committed = first - 1
    this.applied = first - 1
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex()
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex()
  }

  /**
   * Term of the entry at `index`: 0 beyond the last index; throws StorageError('compacted')
   * below the first index - 1. Other storage errors propagate (they are fatal).
   */
  term(index: number): number {
    if (index > this.lastIndex()) return 0
    const unstableTerm = this.unstable.maybeTerm(index)
    if (unstableTerm !== undefined) return unstableTerm
    if (index < this.firstIndex() - 1) throw new StorageError('compacted', `index ${index} is compacted`)
    return this.storage.term(index)
  }

  /** Like term() but 0 when compacted (used for comparisons that must not fail). */
  termOrZero(index: number): number {
    try {
      return this.term(index)
    } catch (error) {
      if (error instanceof StorageError && error.kind === 'compacted') return 0
      throw error
    }
  }

  lastTerm(): number {
    return this.term(this.lastIndex())
  }

  matchTerm(index: number, term: number): boolean {
    if (index > this.lastIndex()) return false
    try {
      return this.term(index) === term
    } catch (error) {
      if (error instanceof StorageError && error.kind === 'compacted') return false
      throw error
    }
  }

  /** Raft §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm()
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex())
  }

  /**
   * Appends a leader's entries that follow (index, logTerm), truncating a conflicting suffix.
   * Returns the index of the last new entry, or undefined when (index, logTerm) does not match.
   */
  maybeAppend(index: number, logTerm: number, leaderCommit: number, entries: readonly Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined
    const lastNew = index + entries.length
    const conflict = this.findConflict(entries)
    if (conflict !== 0) {
      assert(conflict > this.committed, () => `entry ${conflict} conflicts with committed entry (committed ${this.committed})`)
      this.append(entries.slice(conflict - (index + 1)))
    }
    this.commitTo(Math.min(leaderCommit, lastNew))
    return lastNew
  }

  append(entries: readonly Entry[]): number {
    const first = entries[0]
    if (first === undefined) return this.lastIndex()
    assert(first.index - 1 >= this.committed, () => `append after ${first.index - 1} would rewrite committed ${this.committed}`)
    for (let i = 1; i < entries.length; i++) {
      assert((entries[i] as Entry).index === first.index + i, 'appended entries must be contiguous')
    }
    this.unstable.truncateAndAppend(entries)
    return this.lastIndex()
  }

  /** The first entry whose term differs from ours (or that is new); 0 when all match. */
  findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index
    }
    return 0
  }

  /**
   * Fast back-off: the largest index <= `index` whose term is <= `term`, with that term. Used by
   * a follower to hint where its log may match, and by the leader to skip a whole term.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = Math.min(index, this.lastIndex()); i >= 0; i--) {
      let ourTerm: number
      try {
        ourTerm = this.term(i)
      } catch (error) {
        if (error instanceof StorageError && error.kind === 'compacted') return { index: i, term: 0 }
        throw error
      }
      if (ourTerm <= term) return { index: i, term: ourTerm }
    }
    return { index: 0, term: 0 }
  }

  commitTo(index: number): void {
    if (index <= this.committed) return
    assert(index <= this.lastIndex(), () => `commit ${index} is beyond the last index ${this.lastIndex()}`)
    this.committed = index
  }

  /** Commits `index` only if its entry is from `term` (Raft §5.4.2: count only current-term entries). */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.termOrZero(index) === term) {
      this.commitTo(index)
      return true
    }
    return false
  }

  appliedTo(index: number): void {
    if (index === 0) return
    assert(index >= this.applied && index <= this.committed, () => {
      return `applied ${index} out of range [applied ${this.applied}, committed ${this.committed}]`
    })
    this.applied = index
  }

  stableTo(index: number, term: number): void {
    this.unstable.stableTo(index, term)
  }

  stableSnapTo(index: number): void {
    this.unstable.stableSnapTo(index)
  }

  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== undefined
  }

  unstableEntries(): Entry[] {
    return [...this.unstable.entries]
  }

  /** Committed entries not yet applied, at most `bytesMax` (always at least one if any). */
  nextCommittedEntries(bytesMax: number): Entry[] {
    if (this.hasPendingSnapshot()) return []
    const lo = Math.max(this.applied + 1, this.firstIndex())
    if (this.committed + 1 <= lo) return []
    return this.slice(lo, this.committed + 1, bytesMax)
  }

  hasNextCommittedEntries(): boolean {
    if (this.hasPendingSnapshot()) return false
    return this.committed + 1 > Math.max(this.applied + 1, this.firstIndex())
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot()
  }

  /** Entries from `index` to the end, at most `bytesMax`. */
  entries(index: number, bytesMax: number): Entry[] {
    if (index > this.lastIndex()) return []
    return this.slice(index, this.lastIndex() + 1, bytesMax)
  }

  /** Entries in [lo, hi) from storage then the unstable tail; throws StorageError('compacted'). */
  slice(lo: number, hi: number, bytesMax: number): Entry[] {
    assert(lo <= hi, `invalid slice ${lo} > ${hi}`)
    const first = this.firstIndex()
    if (lo < first) throw new StorageError('compacted', `entries from ${lo} are compacted (first index ${first})`)
    assert(hi <= this.lastIndex() + 1, () => `slice [${lo}, ${hi}) beyond last index ${this.lastIndex()}`)
    if (lo === hi) return []
    let result: Entry[] = []
    const offset = this.unstable.offset
    if (lo < offset) {
      const stored = this.storage.entries(lo, Math.min(hi, offset), bytesMax)
      // Storage stopped early because of the size limit: do not add the unstable part.
      if (stored.length < Math.min(hi, offset) - lo) return stored
      result = stored
    }
    if (hi > offset) {
      result = result.concat(this.unstable.slice(Math.max(lo, offset), hi))
    }
    return limitSize(result, bytesMax)
  }

  restore(snapshot: Snapshot): void {
    this.committed = snapshot.metadata.index
    this.unstable.restore(snapshot)
  }
}
