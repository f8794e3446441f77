// Consumer-group progress CRDT (DESIGN §3.2.6–7, §4.4, §4.7): merge laws, heads never go back,
// an ack racing a redelivery keeps the id outstanding, stale terms are fenced, a new SCC takes
// over what was outstanding.
import fc from 'fast-check'
import t from 'tap'
import { GroupProgress } from '../../data-plane/persistent/index.js'

type Op = { kind: 'dispatch'; replica: number; id: string; position: number } | { kind: 'ack'; replica: number; id: string } | { kind: 'merge'; replica: number; from: number }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('dispatch' as const), replica: fc.nat(2), id: fc.constantFrom('a', 'b', 'c', 'd'), position: fc.nat(20) }),
  fc.record({ kind: fc.constant('ack' as const), replica: fc.nat(2), id: fc.constantFrom('a', 'b', 'c', 'd') }),
  fc.record({ kind: fc.constant('merge' as const), replica: fc.nat(2), from: fc.nat(2) }),
)

/** Three replicas writing as nodes n0..n2 in one term, merging now and then. */
function run(ops: readonly Op[], term = 1, nodePrefix = 'n'): GroupProgress[] {
  const replicas = [0, 1, 2].map(() => new GroupProgress(term))
  for (const op of ops) {
    const r = replicas[op.replica] as GroupProgress
    if (op.kind === 'dispatch') r.dispatch({ node: `${nodePrefix}${op.replica}`, term, id: op.id, position: op.position })
    else if (op.kind === 'ack') r.ack({ term, id: op.id })
    else r.merge(replicas[op.from] as GroupProgress)
  }
  return replicas
}

const merged = (a: GroupProgress, b: GroupProgress): GroupProgress => {
  const out = a.clone()
  out.merge(b)
  return out
}

const statesArb = fc.tuple(fc.array(opArb, { maxLength: 40, size: 'max' }), fc.array(opArb, { maxLength: 40, size: 'max' }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }))

t.test('property: merge is commutative, associative and idempotent (same and different terms)', async () => {
  fc.assert(
    fc.property(statesArb, ([ops1, ops2, term1, term2]) => {
      const [a, b, c] = run(ops1, term1)
      // Another group of writers (a writer identity node@term never belongs to two histories).
      const [d] = run(ops2, term2, 'm')
      const A = a as GroupProgress
      const B = b as GroupProgress
      const C = (d ?? c) as GroupProgress
      return (
        merged(A, B).canonical() === merged(B, A).canonical() &&
        merged(A, C).canonical() === merged(C, A).canonical() &&
        merged(merged(A, B), C).canonical() === merged(A, merged(B, C)).canonical() &&
        merged(A, A).canonical() === A.canonical()
      )
    }),
    { numRuns: 500 },
  )
})

t.test('property: after everyone merges everything, replicas agree; heads never go back', async () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 60, size: 'max' }), (ops) => {
      const replicas = run(ops)
      for (const r of replicas) for (const other of replicas) r.merge(other)
      const [first] = replicas
      for (const r of replicas) if (r.canonical() !== (first as GroupProgress).canonical()) return false
      // Each node's head is the max position it dispatched (+1).
      const expected = new Map<string, number>()
      for (const op of ops) if (op.kind === 'dispatch') expected.set(`n${op.replica}`, Math.max(expected.get(`n${op.replica}`) ?? 0, op.position + 1))
      return JSON.stringify([...(first as GroupProgress).heads()]) === JSON.stringify([...expected].sort(([x], [y]) => (x < y ? -1 : 1)))
    }),
    { numRuns: 500 },
  )
})

t.test('property: an id is outstanding after merge iff some dispatch of it was not seen by an ack', async () => {
  // Reference: each dispatch is a unique token; an ack removes the tokens its replica has seen.
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 60, size: 'max' }), (ops) => {
      const seen = [0, 1, 2].map(() => new Set<string>())
      const removed = [0, 1, 2].map(() => new Set<string>())
      const tokenId = new Map<string, string>()
      ops.forEach((op, i) => {
        const mine = seen[op.replica] as Set<string>
        if (op.kind === 'dispatch') {
          mine.add(`t${i}`)
          tokenId.set(`t${i}`, op.id)
        } else if (op.kind === 'ack') {
          for (const token of mine) if (tokenId.get(token) === op.id) (removed[op.replica] as Set<string>).add(token)
        } else {
          for (const token of seen[op.from] as Set<string>) mine.add(token)
          for (const token of removed[op.from] as Set<string>) (removed[op.replica] as Set<string>).add(token)
        }
      })
      const allRemoved = new Set(removed.flatMap((s) => [...s]))
      const expected = new Set([...tokenId].filter(([token]) => !allRemoved.has(token)).map(([, id]) => id))
      const replicas = run(ops)
      const total = replicas.reduce((acc, r) => merged(acc, r), new GroupProgress(1))
      const got = new Set(total.outstanding().map((o) => o.id))
      return got.size === expected.size && [...expected].every((id) => got.has(id))
    }),
    { numRuns: 500 },
  )
})

t.test('an ack racing a redelivery keeps the id outstanding (at-least-once)', async (t) => {
  const r1 = new GroupProgress(1)
  t.same(r1.dispatch({ node: 'n1', term: 1, id: 'm', position: 0 }), { ok: true, value: 1 })
  const r2 = r1.clone()
  // Concurrently: r1 sees the consumer's ack; r2 redelivers after the ack wait.
  r1.ack({ term: 1, id: 'm' })
  t.same(r2.dispatch({ node: 'n2', term: 1, id: 'm', position: 0 }), { ok: true, value: 2 })
  t.notOk(r1.isOutstanding('m'))
  t.equal(r1.merge(r2), 'merged')
  t.ok(r1.isOutstanding('m'), 'the redelivery the ack did not see survives')
  t.equal(r1.attempts('m'), 2)
  r1.ack({ term: 1, id: 'm' })
  r2.merge(r1)
  t.notOk(r2.isOutstanding('m'), 'an ack that saw both removes it everywhere')
})

t.test('stale terms are fenced; a new SCC takes over and redelivers what was outstanding', async (t) => {
  const old = new GroupProgress(3)
  old.dispatch({ node: 'n1', term: 3, id: 'x', position: 4 })
  old.dispatch({ node: 'n1', term: 3, id: 'y', position: 5 })
  old.dispatch({ node: 'n1', term: 3, id: 'z', position: 6 })
  old.ack({ term: 3, id: 'y' })
  const replica = old.clone()
  const stale = old.dispatch({ node: 'n1', term: 2, id: 'w', position: 7 })
  t.equal(!stale.ok && stale.error.code, 'RG_ERR_STALE_TERM')
  const early = old.ack({ term: 4, id: 'x' })
  t.equal(!early.ok && early.error.code, 'RG_ERR_INVALID_STATE', 'a higher term must take over first')
  const takeOver = GroupProgress.takeOver(4, [old, replica])
  t.ok(takeOver.ok)
  if (!takeOver.ok) return
  const next = takeOver.value.state
  t.same(takeOver.value.redeliver, [
    { id: 'x', position: 4, attempts: 1 },
    { id: 'z', position: 6, attempts: 1 },
  ])
  t.equal(next.head(), 7)
  // The old SCC keeps going at term 3; the replicas that adopted term 4 ignore it.
  old.ack({ term: 3, id: 'x' })
  t.equal(replica.merge(next), 'adopted-newer-term')
  t.equal(replica.merge(old), 'ignored-stale-term')
  t.ok(replica.isOutstanding('x'), 'the stale ack did not land')
  t.equal(replica.term, 4)
  const redelivered = next.dispatch({ node: 'n2', term: 4, id: 'x', position: 4 })
  t.same(redelivered, { ok: true, value: 2 }, 'the redelivery counts as attempt 2')
  const tooOld = GroupProgress.takeOver(4, [next])
  t.equal(!tooOld.ok && tooOld.error.code, 'RG_ERR_STALE_TERM')
})
