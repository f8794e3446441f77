import t from 'tap'
import fc from 'fast-check'
import { RaftLog } from '../../control-plane/raft/raft-log.js'
import { MemoryStorage, RaftAssertionError, StorageError } from '../../control-plane/raft/index.js'
import type { Entry } from '../../control-plane/raft/index.js'

const enc = new TextEncoder()

function entry(index: number, term: number, data = ''): Entry {
  return { index, term, type: 'normal', data: enc.encode(data) }
}

/** A log whose entries [1..terms.length] have the given terms, all stable. */
function logWithTerms(terms: number[]): RaftLog {
  const storage = new MemoryStorage({ voters: ['1'] })
  storage.append(terms.map((term, i) => entry(i + 1, term)))
  return new RaftLog(storage)
}

t.test('matchTerm, lastIndex and term across stable and unstable parts', (t) => {
  const log = logWithTerms([1, 1, 2])
  log.append([entry(4, 3), entry(5, 3)])
  t.equal(log.lastIndex(), 5)
  t.equal(log.term(3), 2)
  t.equal(log.term(5), 3)
  t.equal(log.term(6), 0, 'beyond the end: unknown term 0')
  t.ok(log.matchTerm(4, 3))
  t.notOk(log.matchTerm(4, 2))
  t.notOk(log.matchTerm(9, 3))
  t.end()
})

t.test('findConflict finds the first mismatching or new entry', (t) => {
  const log = logWithTerms([1, 2, 3])
  t.equal(log.findConflict([]), 0)
  t.equal(log.findConflict([entry(1, 1), entry(2, 2)]), 0)
  t.equal(log.findConflict([entry(2, 2), entry(3, 3), entry(4, 4)]), 4, 'a new entry')
  t.equal(log.findConflict([entry(2, 2), entry(3, 4)]), 3, 'a conflicting entry')
  t.equal(log.findConflict([entry(1, 4)]), 1)
  t.end()
})

t.test('maybeAppend: match, truncate a conflicting suffix, commit to min(leaderCommit, lastNew)', (t) => {
  const log = logWithTerms([1, 1, 1, 1])
  t.equal(log.maybeAppend(5, 1, 5, []), undefined, 'no entry 5: no match')
  t.equal(log.maybeAppend(2, 2, 5, []), undefined, 'term mismatch at 2')
  t.equal(log.maybeAppend(2, 1, 9, [entry(3, 2)]), 3)
  t.equal(log.lastIndex(), 3, 'the old entry 4 (term 1) is gone')
  t.equal(log.committed, 3, 'commit capped at the last new entry')
  // An old append (already contained) changes nothing and never truncates.
  t.equal(log.maybeAppend(1, 1, 1, [entry(2, 1)]), 2)
  t.equal(log.lastIndex(), 3)
  t.equal(log.committed, 3, 'commit never decreases')
  t.end()
})

t.test('a conflict at or below the commit index is a broken invariant', (t) => {
  const log = logWithTerms([1, 1, 1])
  log.commitTo(2)
  t.throws(() => log.maybeAppend(1, 1, 2, [entry(2, 5)]), RaftAssertionError)
  t.end()
})

t.test('commitTo never goes beyond the last index, never back', (t) => {
  const log = logWithTerms([1, 1])
  t.throws(() => log.commitTo(3), /commit 3 is beyond the last index 2/)
  log.commitTo(2)
  log.commitTo(1)
  t.equal(log.committed, 2)
  t.end()
})

t.test('maybeCommit only commits entries of the given term (Raft §5.4.2)', (t) => {
  const log = logWithTerms([1, 1, 2])
  t.notOk(log.maybeCommit(2, 2), 'entry 2 is from term 1')
  t.equal(log.committed, 0)
  t.ok(log.maybeCommit(3, 2))
  t.equal(log.committed, 3)
  t.end()
})

t.test('findConflictByTerm walks back to the last index with term <= given term', (t) => {
  const log = logWithTerms([1, 1, 3, 3, 5, 5])
  t.same(log.findConflictByTerm(6, 4), { index: 4, term: 3 })
  t.same(log.findConflictByTerm(6, 5), { index: 6, term: 5 })
  t.same(log.findConflictByTerm(6, 2), { index: 2, term: 1 })
  t.same(log.findConflictByTerm(6, 0), { index: 0, term: 0 })
  t.same(log.findConflictByTerm(99, 9), { index: 6, term: 5 }, 'clamped to the last index')
  t.end()
})

t.test('compacted entries: term() throws compacted, slice throws compacted', (t) => {
  const storage = new MemoryStorage({ voters: ['1'] })
  storage.append([entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 2)])
  storage.createSnapshot(2, { voters: ['1'], learners: [], votersOutgoing: [] }, new Uint8Array())
  storage.compact(2)
  const log = new RaftLog(storage)
  t.equal(log.firstIndex(), 3)
  t.equal(log.committed, 2, 'the snapshot is committed')
  t.equal(log.term(2), 1, 'the snapshot index is answerable')
  t.throws(() => log.term(1), StorageError)
  t.throws(() => log.entries(2, 100), { name: 'StorageError', kind: 'compacted' })
  t.equal(log.termOrZero(1), 0)
  t.notOk(log.matchTerm(1, 1))
  t.end()
})

t.test('isUpToDate compares last term, then last index', (t) => {
  const log = logWithTerms([1, 2, 2])
  t.ok(log.isUpToDate(3, 2))
  t.ok(log.isUpToDate(1, 3))
  t.notOk(log.isUpToDate(9, 1))
  t.notOk(log.isUpToDate(2, 2))
  t.end()
})

t.test('slice respects the byte limit but returns at least one entry', (t) => {
  const storage = new MemoryStorage({ voters: ['1'] })
  storage.append([entry(1, 1, 'aaaa'), entry(2, 1, 'bb')])
  const log = new RaftLog(storage)
  log.append([entry(3, 1, 'cc'), entry(4, 1, 'dd')])
  t.equal(log.slice(1, 5, 1).length, 1)
  t.equal(log.slice(1, 5, 6).length, 2)
  t.equal(log.slice(1, 5, 8).length, 3)
  t.equal(log.slice(2, 5, 100).length, 3)
  t.end()
})

t.test('property: appending a leader log onto any follower log yields the leader prefix', (t) => {
  // Follower and leader share a prefix; maybeAppend of the leader's suffix after the shared
  // prefix makes the follower's log equal to the leader's up to its last index.
  const terms = fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 8 }).map((ts) => [...ts].sort((a, b) => a - b))
  fc.assert(
    fc.property(terms, terms, terms, (prefix, followerTail, leaderTail) => {
      const top = prefix[prefix.length - 1] ?? 1
      const follower = logWithTerms([...prefix, ...followerTail.map((x) => x + top)])
      const leaderTerms = [...prefix, ...leaderTail.map((x) => x + top + 4)]
      const suffix = leaderTerms.slice(prefix.length).map((term, i) => entry(prefix.length + 1 + i, term))
      const prevTerm = prefix.length === 0 ? 0 : (prefix[prefix.length - 1] as number)
      const last = follower.maybeAppend(prefix.length, prevTerm, 0, suffix)
      if (last !== prefix.length + suffix.length) return false
      for (let i = 1; i <= leaderTerms.length; i++) if (follower.term(i) !== leaderTerms[i - 1]) return false
      return suffix.length === 0 || follower.lastIndex() === leaderTerms.length
    }),
    { numRuns: 500 },
  )
  t.end()
})
