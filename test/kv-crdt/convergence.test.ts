// The CRDT laws of the bucket state (DESIGN §5: CRDT merge laws, against a naive reference):
// operation sets made by several writers that see each other's operations late, partly and out
// of order, applied to fresh replicas in any order with duplicates, give one state — and that
// state's visible values are what the reference model (helpers.ts) computes from the set alone.
import fc from 'fast-check'
import t from 'tap'
import { historyArb, replay, referenceValues, runHistory, shuffledWithDuplicatesArb, sortedEntries, visibleValues } from './helpers.js'

const runs = Number(process.env.KV_CRDT_PROPERTY_RUNS ?? 120)

t.test('property: any permutation with duplicates of an operation set gives the same state (commutative, idempotent)', async (t) => {
  let withPending = 0
  fc.assert(
    fc.property(
      historyArb().chain((commands) => {
        const { ops, writers } = runHistory(commands)
        for (const writer of writers) writer.dispose()
        return fc.tuple(fc.constant(ops), shuffledWithDuplicatesArb(ops), shuffledWithDuplicatesArb(ops))
      }),
      ([ops, first, second]) => {
        const inOrder = replay(ops)
        const a = replay(first)
        const b = replay(second)
        const views = [inOrder, a, b].map((state) => JSON.stringify(state.view()))
        for (const state of [inOrder, a, b]) {
          if (state.pendingCount > 0) withPending++
          state.dispose()
        }
        return views[0] === views[1] && views[1] === views[2]
      },
    ),
    { numRuns: runs },
  )
  // A complete operation set leaves nothing waiting for its base.
  t.equal(withPending, 0)
})

t.test('property: batches applied in either order and regrouped give the same state (commutative, associative)', async () => {
  fc.assert(
    fc.property(
      historyArb().chain((commands) => {
        const { ops, writers } = runHistory(commands)
        for (const writer of writers) writer.dispose()
        return fc.tuple(fc.constant(ops), fc.integer({ min: 0, max: ops.length }), fc.integer({ min: 0, max: ops.length }))
      }),
      ([ops, cut1, cut2]) => {
        const [i, j] = cut1 <= cut2 ? [cut1, cut2] : [cut2, cut1]
        const [x, y, z] = [ops.slice(0, i), ops.slice(i, j), ops.slice(j)]
        const orders = [
          [...x, ...y, ...z],
          [...z, ...y, ...x],
          [...y, ...z, ...x],
          [...x, ...x, ...y, ...z, ...y], // with a batch applied twice
        ]
        const views = orders.map((order) => {
          const state = replay(order)
          const view = JSON.stringify(state.view())
          state.dispose()
          return view
        })
        return views.every((view) => view === views[0])
      },
    ),
    { numRuns: Math.ceil(runs / 2) },
  )
})

t.test('property: the visible values equal the naive reference model computed from the operation set', async () => {
  fc.assert(
    fc.property(historyArb(), (commands) => {
      const { ops, writers } = runHistory(commands)
      for (const writer of writers) writer.dispose()
      const state = replay([...ops].reverse())
      const got = sortedEntries(visibleValues(state.view()))
      state.dispose()
      const expected = sortedEntries(referenceValues(ops))
      return JSON.stringify(got) === JSON.stringify(expected)
    }),
    { numRuns: runs },
  )
})

t.test('property: a writer that has received every operation holds the converged state', async () => {
  fc.assert(
    fc.property(historyArb(), (commands) => {
      const { ops, writers } = runHistory(commands)
      const reference = replay(ops)
      const expected = JSON.stringify(reference.view())
      reference.dispose()
      const ok = writers.every((writer) => {
        for (const op of ops) writer.apply(op)
        return JSON.stringify(writer.view()) === expected
      })
      for (const writer of writers) writer.dispose()
      return ok
    }),
    { numRuns: Math.ceil(runs / 2) },
  )
})
