// The event set: a grow-only set with dedup inside the window as part of the CRDT. Merge laws
// (commutative, associative, idempotent), equal sets ⇒ equal digests whatever the arrival
// order, and the dedup rule's properties (event-set.ts header).
import fc from 'fast-check'
import t from 'tap'
import { EventSet, compareEventOrder, dedupSurvivors } from '../../data-plane/persistent/index.js'
import type { StreamEvent } from '../../data-plane/persistent/index.js'
import { event, eventPoolArb, keyOf, permutationArb, stream } from './helpers.js'

const windowMs = 20

function setOf(events: readonly StreamEvent[], dedupWindowMs = windowMs): EventSet {
  const set = new EventSet({ stream, dedupWindowMs })
  const result = set.insert(events)
  if (result.refused.length > 0) throw new Error(`refused ${JSON.stringify(result.refused.map((r) => r.reason))}`)
  return set
}

function merged(...sets: EventSet[]): EventSet {
  const out = new EventSet({ stream, dedupWindowMs: windowMs })
  for (const s of sets) out.merge(s)
  return out
}

/** Everything observable about a set: its copies, its survivors and its digest. */
const view = (set: EventSet): string => JSON.stringify([set.all().map(keyOf), set.survivors().map(keyOf), set.digest(), [...set.versionVector()]])

const subsetArb = (pool: StreamEvent[]): fc.Arbitrary<StreamEvent[]> => fc.subarray(pool).chain((s) => permutationArb(s))

t.test('property: merge is commutative, associative and idempotent', async () => {
  fc.assert(
    fc.property(
      eventPoolArb.chain((pool) => fc.tuple(subsetArb(pool), subsetArb(pool), subsetArb(pool))),
      ([a, b, c]) => {
        const [A, B, C] = [setOf(a), setOf(b), setOf(c)]
        return view(merged(A, B)) === view(merged(B, A)) && view(merged(merged(A, B), C)) === view(merged(A, merged(B, C))) && view(merged(A, A)) === view(A)
      },
    ),
    { numRuns: 300 },
  )
})

t.test('property: equal sets have equal digests and survivors whatever the arrival order and batching', async () => {
  fc.assert(
    fc.property(
      eventPoolArb.chain((pool) => fc.tuple(fc.constant(pool), permutationArb(pool), fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 20 }))),
      ([pool, shuffled, cuts]) => {
        const inOrder = setOf(pool)
        const batched = new EventSet({ stream, dedupWindowMs: windowMs })
        let at = 0
        for (const cut of cuts) {
          batched.insert(shuffled.slice(at, at + cut))
          at += cut
        }
        batched.insert(shuffled.slice(at))
        // Re-sending everything adds nothing.
        const again = batched.insert(pool)
        return view(inOrder) === view(batched) && again.added.length === 0 && again.alreadyHeld === pool.length
      },
    ),
    { numRuns: 300 },
  )
})

t.test('property: different sets have different digests', async () => {
  fc.assert(
    fc.property(eventPoolArb.filter((p) => p.length > 0), fc.nat(), (pool, drop) => {
      const smaller = pool.filter((_, i) => i !== drop % pool.length)
      return setOf(pool).digest() !== setOf(smaller).digest()
    }),
    { numRuns: 300 },
  )
})

t.test('property: the dedup rule', async () => {
  fc.assert(
    fc.property(eventPoolArb, fc.constantFrom(0, 1, 5, 20, 50, 1_000_000), (pool, w) => {
      const set = setOf(pool, w)
      for (const id of new Set(pool.map((e) => e.id))) {
        const copies = set.copiesOf(id)
        const reference = dedupSurvivors(copies, w)
        let lastSurvivor: StreamEvent | null = null
        for (let i = 0; i < copies.length; i++) {
          const copy = copies[i] as StreamEvent
          const of = set.duplicateOf(copy)
          // Two implementations agree.
          if ((of === null) !== (reference[i] === i)) return false
          if (of !== null && compareEventOrder(of, copies[reference[i] as number] as StreamEvent) !== 0) return false
          if (i === 0 && of !== null) return false // the lowest (hlc, origin) copy always survives
          if (of === null) {
            // No two survivors of an id are less than a window apart.
            if (lastSurvivor !== null && copy.hlc.wallMs - lastSurvivor.hlc.wallMs < w) return false
            lastSurvivor = copy
          } else {
            // A duplicate lies less than a window after its survivor, which comes first.
            if (!(compareEventOrder(of, copy) < 0 && copy.hlc.wallMs - of.hlc.wallMs < w)) return false
          }
        }
        if (w === 0 && copies.some((c) => set.isDuplicate(c))) return false
        if (w === 1_000_000 && copies.filter((c) => !set.isDuplicate(c)).length !== 1) return false
      }
      return true
    }),
    { numRuns: 500 },
  )
})

t.test('insert reports what is new and whether it is a duplicate; a late lower copy changes verdicts', async (t) => {
  const set = new EventSet({ stream, dedupWindowMs: 100 })
  const e1 = event({ origin: 'b', originSeq: 1, hlc: { wallMs: 1000, logical: 0 }, id: 'x' })
  const e2 = event({ origin: 'a', originSeq: 1, hlc: { wallMs: 1070, logical: 0 }, id: 'x' })
  const e3 = event({ origin: 'a', originSeq: 2, hlc: { wallMs: 1140, logical: 0 }, id: 'x' })
  const first = set.insert([e2, e3])
  t.same(first.added.map((a) => [keyOf(a.event), a.duplicateOf === null ? null : keyOf(a.duplicateOf)]), [
    ['a#1#1', null],
    ['a#1#2', 'a#1#1'],
  ])
  const late = set.insert([e1])
  t.equal(late.added[0]?.duplicateOf, null, 'the lower copy survives')
  t.equal(set.duplicateOf(e2), e1, 'e2 now folds into e1')
  t.equal(set.duplicateOf(e3), null, 'e3 is 140 ms after the survivor e1: it survives again')
  t.same(set.survivors().map(keyOf), ['b#1#1', 'a#1#2'])
})

t.test('refusals: wrong stream, invalid, conflicting copy, non-monotonic, gap buffer; batch limit', async (t) => {
  const set = new EventSet({ stream, dedupWindowMs: 0, gapMax: 10 })
  const e = event({ origin: 'a', originSeq: 2, hlc: { wallMs: 10, logical: 0 }, id: 'x' })
  t.same(set.insert([e]).added.length, 1)
  const reasons = set
    .insert([
      { ...e, stream: 'other/s' },
      { ...e, originSeq: 0 },
      { ...e, payload: new Uint8Array([1]) },
      event({ origin: 'a', originSeq: 1, hlc: { wallMs: 11, logical: 0 }, id: 'y' }),
      event({ origin: 'a', originSeq: 3, hlc: { wallMs: 10, logical: 0 }, id: 'y' }),
      event({ origin: 'a', originSeq: 11, hlc: { wallMs: 99, logical: 0 }, id: 'y' }),
    ])
    .refused.map((r) => r.reason)
  t.same(reasons, ['wrong-stream', 'invalid', 'conflicting-copy', 'non-monotonic', 'non-monotonic', 'gap-buffer-full'])
  t.equal(set.size, 1)
  t.throws(() => set.insert(new Array(100_001).fill(e)), { code: 'RG_ERR_LIMIT_EXCEEDED' })
})

t.test('anti-entropy between two sets converges them', async () => {
  fc.assert(
    fc.property(
      eventPoolArb.chain((pool) => fc.tuple(subsetArb(pool), subsetArb(pool))),
      ([a, b]) => {
        const A = setOf(a)
        const B = setOf(b)
        // Each pulls the ranges it lacks from the other (ranges from version vectors, gaps left out).
        for (const [to, from] of [[A, B], [B, A]] as const) {
          for (const range of to.missingFrom(from.versionVector())) to.insert(from.eventsInRange(range))
        }
        // Out-of-order tails beyond a peer's contiguous prefix are not advertised; a full merge covers them.
        A.merge(B)
        B.merge(A)
        return view(A) === view(B)
      },
    ),
    { numRuns: 200 },
  )
})
