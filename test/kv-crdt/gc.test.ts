// Tombstone garbage collection (state.ts `collectGarbage`, README.md § Garbage collection): a
// tombstone goes in two steps (marked when stable with the clock ceiling, removed when that
// ceiling is stable), and the second step is what keeps an increment made before its writer saw
// the delete from bringing the key back; after collection, writers with and without the tombstone
// still agree.
import t from 'tap'
import { describeValue, stabilityFromReports } from '../../data-plane/kv-crdt/index.js'
import type { CrdtKvState, KvOp } from '../../data-plane/kv-crdt/index.js'
import { bytes, newState, unwrap } from './helpers.js'

const at = (wallMs: number): { wallMs: number; logical: number } => ({ wallMs, logical: 0 })
const count = (state: CrdtKvState, key: string): bigint | undefined => {
  const entry = state.get(key)
  return entry?.value.type === 'counter' ? entry.value.count : undefined
}
const deliver = (to: CrdtKvState, ops: readonly KvOp[]): void => {
  for (const op of ops) to.apply(op)
}

/**
 * A counts connections; A deletes the counter at t=10; B, before it hears of the delete,
 * increments at t=20 (on the old counter). The increment travels slowly to A.
 */
function story(): { a: CrdtKvState; b: CrdtKvState; c: CrdtKvState; stale: KvOp } {
  const [a, b, c] = [newState('a'), newState('b'), newState('c')]
  const first = unwrap(a.increment('conns', 1n, 1))
  deliver(b, [first])
  deliver(c, [first])
  const del = unwrap(a.delete('conns', 10))
  const stale = unwrap(b.increment('conns', 5n, 20))
  deliver(b, [del])
  deliver(c, [del, stale])
  return { a, b, c, stale }
}

t.test('two steps: marked when the delete is stable, removed only once the clock ceiling of that moment is stable', async (t) => {
  const { a, b, c, stale } = story()
  for (const s of [b, c]) t.equal(count(s, 'conns'), undefined, 'the stale increment does not count after the delete')
  // Every replica has the delete (t=10); B's increment (t=20) has not reached A, so nothing past 19 is stable.
  t.same(a.collectGarbage({ stableHlc: at(15), clockCeiling: at(25) }), { marked: 1, purged: 0 })
  t.same(a.collectGarbage({ stableHlc: at(19), clockCeiling: at(30) }), { marked: 0, purged: 0 }, 'the mark (25) is not stable yet')
  t.equal(a.tombstoneCount, 1)
  deliver(a, [stale])
  t.equal(count(a, 'conns'), undefined, 'the late increment finds the tombstone and is superseded')
  t.same(a.collectGarbage({ stableHlc: at(25), clockCeiling: at(30) }), { marked: 0, purged: 1 })
  t.equal(a.tombstoneCount, 0)
  t.equal(a.recordCount, 0)
})

t.test('why the second step: with a clock ceiling that ignores B\'s increment, the late increment brings the key back', async (t) => {
  // A contract violation on purpose: the ceiling (15) is below an increment B already made (20).
  const { a, stale } = story()
  a.collectGarbage({ stableHlc: at(15), clockCeiling: at(15) })
  a.collectGarbage({ stableHlc: at(15), clockCeiling: at(15) })
  t.equal(a.tombstoneCount, 0)
  deliver(a, [stale])
  t.equal(count(a, 'conns'), 5n, 'resurrected: what the ceiling exists to prevent')
})

t.test('after collection, writes made with and without the tombstone agree everywhere', async (t) => {
  const { a, b, c, stale } = story()
  deliver(a, [stale])
  for (const s of [a, b, c]) {
    s.collectGarbage({ stableHlc: at(25), clockCeiling: at(30) })
  }
  // Only A and C collect; B keeps the tombstone.
  for (const s of [a, c]) s.collectGarbage({ stableHlc: at(30), clockCeiling: at(40) })
  t.same([a.tombstoneCount, b.tombstoneCount, c.tombstoneCount], [0, 1, 0])
  const onFloor = unwrap(a.increment('conns', 2n, 50)) // A holds no reset: base = its purge floor
  t.same(onFloor.base, { kind: 'floor', hlc: at(30) })
  const onDelete = unwrap(b.increment('conns', 3n, 50)) // B still holds the delete: base = the delete
  t.equal(onDelete.base.kind, 'reset')
  for (const s of [a, b, c]) deliver(s, [onFloor, onDelete])
  t.same([a, b, c].map((s) => count(s, 'conns')), [5n, 5n, 5n])
  // A JSON value re-created after collection merges the same way.
  const doc = unwrap(c.merge('conns-doc', { n: 1 }, 60))
  for (const s of [a, b]) deliver(s, [doc])
  const visible = (s: CrdtKvState): string => s.entriesMatching().map((entry) => `${entry.key}=${describeValue(entry)}`).join(' ')
  t.equal(visible(a), 'conns=counter:5 conns-doc=json:{"n":1}')
  t.same([b, c].map(visible), [visible(a), visible(a)])
})

t.test('a put is never collected; a delete with a value on top is not a tombstone', async (t) => {
  const a = newState('a')
  unwrap(a.put('p', bytes('v'), 1))
  unwrap(a.delete('d', 2))
  unwrap(a.increment('d', 1n, 3))
  for (let i = 0; i < 3; i++) a.collectGarbage({ stableHlc: at(100), clockCeiling: at(100) })
  t.equal(a.recordCount, 2)
  t.equal(a.tombstoneCount, 0)
  t.same(a.purgeFloor, at(100))
})

t.test('input checks and the report helper', async (t) => {
  const a = newState('a')
  t.throws(() => a.collectGarbage({ stableHlc: at(10), clockCeiling: at(9) }), /below the stable hlc/)
  t.equal(stabilityFromReports(['a', 'b'], [{ replica: 'a', appliedThrough: at(5), clock: at(9) }]), undefined, 'no collection without every replica')
  t.same(
    stabilityFromReports(['a', 'b'], [
      { replica: 'a', appliedThrough: at(5), clock: at(9) },
      { replica: 'b', appliedThrough: at(7), clock: at(12) },
      { replica: 'b', appliedThrough: at(8), clock: at(14) }, // the latest report of a replica counts
    ]),
    { stableHlc: at(5), clockCeiling: at(14) },
  )
})
