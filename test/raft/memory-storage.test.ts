import t from 'tap'
import { MemoryStorage, StorageError } from '../../control-plane/raft/index.js'
import type { Entry } from '../../control-plane/raft/index.js'

function entry(index: number, term: number): Entry {
  return { index, term, type: 'normal', data: new Uint8Array([index]) }
}
const conf = { voters: ['1', '2'], learners: [], votersOutgoing: [] }

t.test('bootstrap: empty log, the given configuration', (t) => {
  const s = new MemoryStorage({ voters: ['1', '2'] })
  t.same(s.initialState().confState, conf)
  t.same(s.initialState().hardState, { term: 0, vote: null, commit: 0 })
  t.equal(s.firstIndex(), 1)
  t.equal(s.lastIndex(), 0)
  t.equal(s.term(0), 0)
  t.end()
})

t.test('append truncates a conflicting suffix and refuses gaps', (t) => {
  const s = new MemoryStorage(conf)
  s.append([entry(1, 1), entry(2, 1), entry(3, 1)])
  s.append([entry(2, 2)])
  t.equal(s.lastIndex(), 2)
  t.equal(s.term(2), 2)
  t.throws(() => s.append([entry(5, 2)]), /gap/)
  t.end()
})

t.test('entries: bounds, compaction, size limit', (t) => {
  const s = new MemoryStorage(conf)
  s.append([entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 2)])
  t.equal(s.entries(1, 5, 100).length, 4)
  t.equal(s.entries(2, 4, 1).length, 1, 'at least one entry')
  t.throws(() => s.entries(1, 6, 100), { name: 'StorageError', kind: 'unavailable' })
  s.createSnapshot(2, conf, new Uint8Array([9]))
  s.compact(2)
  t.equal(s.firstIndex(), 3)
  t.equal(s.term(2), 1, 'the snapshot index keeps its term')
  t.throws(() => s.entries(2, 4, 100), { name: 'StorageError', kind: 'compacted' })
  t.throws(() => s.term(1), { name: 'StorageError', kind: 'compacted' })
  t.equal(s.snapshot().metadata.index, 2)
  t.throws(() => s.compact(2), StorageError)
  t.throws(() => s.createSnapshot(1, conf, new Uint8Array()), StorageError)
  // Appending entries partly below the first index keeps only the new part.
  s.append([entry(2, 1), entry(3, 2), entry(4, 2), entry(5, 3)])
  t.equal(s.lastIndex(), 5)
  t.end()
})

t.test('applySnapshot replaces the log and the configuration', (t) => {
  const s = new MemoryStorage(conf)
  s.append([entry(1, 1)])
  const snap = { metadata: { index: 10, term: 3, confState: { voters: ['1', '2', '3'], learners: [], votersOutgoing: [] } }, data: new Uint8Array([1]) }
  s.applySnapshot(snap)
  t.equal(s.firstIndex(), 11)
  t.equal(s.lastIndex(), 10)
  t.equal(s.term(10), 3)
  t.same(s.initialState().confState.voters, ['1', '2', '3'])
  t.throws(() => s.applySnapshot(snap), StorageError, 'an older or equal snapshot is refused')
  t.end()
})

t.test('failNext injects io errors, once per count', (t) => {
  const s = new MemoryStorage(conf)
  s.failNext('append', 2)
  t.throws(() => s.append([entry(1, 1)]), { name: 'StorageError', kind: 'io' })
  t.throws(() => s.append([entry(1, 1)]), /injected append failure/)
  s.append([entry(1, 1)])
  t.equal(s.lastIndex(), 1)
  s.failNext('term')
  t.throws(() => s.term(1), StorageError)
  t.equal(s.term(1), 1)
  t.end()
})
