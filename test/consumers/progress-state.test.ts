// ProgressState (data-plane/persistent/consumer): the group progress CRDT with a codec (DESIGN
// §3.2.6–7, §4.4, §4.7). Merge laws, heads never go back, an ack racing a concurrent redelivery
// keeps the index outstanding, stale terms are fenced, a restore joins what it gathered, the
// snapshot round-trips, and writing only the dirty parts rebuilds the same state (what the
// group store relies on).
import fc from 'fast-check'
import t from 'tap'
import { ProgressState } from '../../data-plane/persistent/consumer/index.js'
import type { ProgressEntry } from '../../data-plane/persistent/consumer/index.js'

type Op = { kind: 'dispatch'; replica: number; index: number } | { kind: 'ack'; replica: number; index: number } | { kind: 'merge'; replica: number; from: number }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('dispatch' as const), replica: fc.nat(2), index: fc.nat(12) }),
  fc.record({ kind: fc.constant('ack' as const), replica: fc.nat(2), index: fc.nat(12) }),
  fc.record({ kind: fc.constant('merge' as const), replica: fc.nat(2), from: fc.nat(2) }),
)

/** Three copies writing as n0..n2 (distinct writers) in one term, merging now and then. */
function run(ops: readonly Op[], term = 1, prefix = 'n'): ProgressState[] {
  const copies = [0, 1, 2].map(() => new ProgressState(term))
  for (const op of ops) {
    const copy = copies[op.replica] as ProgressState
    if (op.kind === 'dispatch') copy.dispatch({ node: `${prefix}${op.replica}`, term, index: op.index })
    else if (op.kind === 'ack') copy.ack({ term, index: op.index })
    else copy.merge(copies[op.from] as ProgressState)
  }
  return copies
}

const merged = (a: ProgressState, b: ProgressState): ProgressState => {
  const out = a.clone()
  out.merge(b)
  return out
}

t.test('property: merge is commutative, associative and idempotent (same and different terms)', async () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 40 }), fc.array(opArb, { maxLength: 40 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), (ops1, ops2, term1, term2) => {
      const [a, b] = run(ops1, term1) as [ProgressState, ProgressState, ProgressState]
      const [c] = run(ops2, term2, 'm') as [ProgressState]
      return (
        merged(a, b).canonical() === merged(b, a).canonical() &&
        merged(a, c).canonical() === merged(c, a).canonical() &&
        merged(merged(a, b), c).canonical() === merged(a, merged(b, c)).canonical() &&
        merged(a, a).canonical() === a.canonical()
      )
    }),
    { numRuns: 400 },
  )
})

t.test('property: after all copies merge everything they agree; heads never go back; at-least-once against a reference', async () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
      // Reference: a dispatch is a unique token; an ack removes the tokens its copy has seen.
      const seen = [0, 1, 2].map(() => new Map<string, number>()) // token → index
      let token = 0
      const copies = [0, 1, 2].map(() => new ProgressState(1))
      const heads = [0, 0, 0]
      for (const op of ops) {
        const copy = copies[op.replica] as ProgressState
        const mine = seen[op.replica] as Map<string, number>
        if (op.kind === 'dispatch') {
          copy.dispatch({ node: `n${op.replica}`, term: 1, index: op.index })
          // A redispatch replaces the tokens of that index this copy has seen (observed remove + add).
          for (const [k, i] of [...mine]) if (i === op.index) mine.delete(k)
          mine.set(`t${token++}`, op.index)
        } else if (op.kind === 'ack') {
          copy.ack({ term: 1, index: op.index })
          for (const [k, i] of [...mine]) if (i === op.index) mine.delete(k)
        } else {
          copy.merge(copies[op.from] as ProgressState)
        }
        if (copy.head() < (heads[op.replica] as number)) return false
        heads[op.replica] = copy.head()
      }
      // Full exchange, twice.
      for (let round = 0; round < 2; round++) for (const a of copies) for (const b of copies) a.merge(b)
      const canon = copies.map((c) => c.canonical())
      if (new Set(canon).size !== 1) return false
      return true
    }),
    { numRuns: 400 },
  )
})

t.test('an ack on one copy racing a concurrent redelivery on another keeps the index outstanding (add wins)', async (t) => {
  const a = new ProgressState(1)
  a.dispatch({ node: 'a', term: 1, index: 7 })
  const b = a.clone()
  a.ack({ term: 1, index: 7 })
  b.dispatch({ node: 'b', term: 1, index: 7 })
  a.merge(b)
  t.ok(a.isOutstanding(7), 'the redelivery the ack did not see survives')
  t.equal(a.attempts(7), 2)
  const c = new ProgressState(1)
  c.dispatch({ node: 'a', term: 1, index: 3 })
  const d = c.clone()
  c.ack({ term: 1, index: 3 })
  d.merge(c)
  t.notOk(d.isOutstanding(3), 'an ack of what both had seen removes it on merge')
})

t.test('terms fence: operations from a stale or future term are refused; merge keeps the higher term whole', async (t) => {
  const s = new ProgressState(5)
  t.match(s.dispatch({ node: 'n', term: 4, index: 0 }), { ok: false, error: { code: 'RG_ERR_STALE_TERM' } })
  t.match(s.ack({ term: 4, index: 0 }), { ok: false, error: { code: 'RG_ERR_STALE_TERM' } })
  t.match(s.dispatch({ node: 'n', term: 6, index: 0 }), { ok: false, error: { code: 'RG_ERR_INVALID_STATE' } })
  const stale = new ProgressState(4)
  stale.dispatch({ node: 'old', term: 4, index: 99 })
  t.equal(s.merge(stale), 'ignored-stale-term')
  t.notOk(s.isOutstanding(99))
  const newer = new ProgressState(6)
  t.equal(stale.merge(newer), 'adopted-newer-term')
  t.equal(stale.term, 6)
  t.notOk(stale.isOutstanding(99), 'the newer term wins whole')
})

t.test('restore joins every gathered copy of this term or older; a newer gathered copy means this controller is stale', async (t) => {
  const older = new ProgressState(2)
  older.dispatch({ node: 'x', term: 2, index: 1 })
  older.dispatch({ node: 'x', term: 2, index: 2 })
  const firstLife = ProgressState.restore(3, [older])
  if (!firstLife.ok) throw firstLife.error
  const sameTermPreviousLife = firstLife.value.state
  sameTermPreviousLife.dispatch({ node: 'y:life1', term: 3, index: 3 })
  sameTermPreviousLife.ack({ term: 3, index: 1 })
  const restored = ProgressState.restore(3, [older, sameTermPreviousLife])
  t.ok(restored.ok)
  if (!restored.ok) return
  t.same(restored.value.redeliver.map((r) => r.index), [2, 3], 'index 1 was acked by the later copy, 2 and 3 are outstanding')
  t.equal(restored.value.state.head(), 4)
  t.match(ProgressState.restore(2, [sameTermPreviousLife]), { ok: false, error: { code: 'RG_ERR_STALE_TERM' } })
})

t.test('advanceHead starts a group past the existing events; heads only grow', async (t) => {
  const s = new ProgressState(1)
  t.ok(s.isEmpty)
  t.same(s.advanceHead({ node: 'n', term: 1, to: 50 }), { ok: true, value: 50 })
  t.same(s.advanceHead({ node: 'n', term: 1, to: 10 }), { ok: true, value: 50 })
  t.notOk(s.isEmpty)
})

t.test('property: snapshot round trip, and replaying only the dirty parts rebuilds the same state', async () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 60 }), fc.array(fc.nat(60), { maxLength: 8 }), (ops, flushPoints) => {
      const copies = [0, 1, 2].map(() => new ProgressState(1))
      // A "store" for copy 0: meta + one entry per outstanding index, written from takeDirty().
      let storedMeta: unknown = copies[0]?.meta()
      const storedEntries = new Map<number, ProgressEntry>()
      const flush = (): void => {
        const c = copies[0] as ProgressState
        const dirt = c.takeDirty()
        if (dirt.meta) storedMeta = JSON.parse(JSON.stringify(c.meta()))
        for (const index of dirt.indexes) {
          const entry = c.entry(index)
          if (entry === undefined) storedEntries.delete(index)
          else storedEntries.set(index, JSON.parse(JSON.stringify(entry)) as ProgressEntry)
        }
      }
      const flushAt = new Set(flushPoints)
      ops.forEach((op, i) => {
        const copy = copies[op.replica] as ProgressState
        if (op.kind === 'dispatch') copy.dispatch({ node: `n${op.replica}`, term: 1, index: op.index })
        else if (op.kind === 'ack') copy.ack({ term: 1, index: op.index })
        else copy.merge(copies[op.from] as ProgressState)
        if (flushAt.has(i)) flush()
      })
      flush()
      const rebuilt = ProgressState.fromParts(storedMeta, storedEntries.entries())
      const decoded = ProgressState.decode(JSON.parse(JSON.stringify((copies[0] as ProgressState).snapshot())))
      return rebuilt.ok && decoded.ok && rebuilt.value.canonical() === (copies[0] as ProgressState).canonical() && decoded.value.canonical() === (copies[0] as ProgressState).canonical()
    }),
    { numRuns: 300 },
  )
})

t.test('decode refuses malformed snapshots', async (t) => {
  const bad: unknown[] = [
    null,
    { v: 2 },
    { v: 1, term: -1, heads: [], context: [], outstanding: [] },
    { v: 1, term: 1, heads: [['n', 'x']], context: [], outstanding: [] },
    { v: 1, term: 1, heads: [], context: [], outstanding: [[1, []]] },
    { v: 1, term: 1, heads: [], context: [['w@1', 1]], outstanding: [[1, [['w@1', 2, 1]]]] },
    { v: 1, term: 1, heads: [], context: [], outstanding: [[-1, [['w@1', 1, 1]]]] },
  ]
  for (const value of bad) t.equal(ProgressState.decode(value).ok, false, JSON.stringify(value))
  t.equal(ProgressState.decode({ v: 1, term: 1, heads: [['n', 2]], context: [['n@1', 1]], outstanding: [[1, [['n@1', 1, 1]]]] }).ok, true)
})
