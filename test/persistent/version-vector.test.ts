// Version vectors: merge laws, `missing` against a naive reference, and the tracker's gap buffer
// under any arrival order.
import fc from 'fast-check'
import t from 'tap'
import { VersionTracker, dominates, mergeVersionVectors, missing, versionVectorsEqual } from '../../data-plane/persistent/index.js'
import type { VersionVector } from '../../data-plane/persistent/index.js'
import { permutationArb } from './helpers.js'

const vvArb: fc.Arbitrary<VersionVector> = fc
  .array(fc.tuple(fc.constantFrom('a#1', 'b#1', 'b#2', 'c#1'), fc.integer({ min: 0, max: 20 })), { maxLength: 6 })
  .map((entries) => new Map(entries))

const same = (a: VersionVector, b: VersionVector): boolean => versionVectorsEqual(a, b)

t.test('property: merge is commutative, associative, idempotent and an upper bound', async () => {
  fc.assert(
    fc.property(vvArb, vvArb, vvArb, (a, b, c) => {
      const ab = mergeVersionVectors(a, b)
      return (
        same(ab, mergeVersionVectors(b, a)) &&
        same(mergeVersionVectors(ab, c), mergeVersionVectors(a, mergeVersionVectors(b, c))) &&
        same(mergeVersionVectors(a, a), a) &&
        dominates(ab, a) &&
        dominates(ab, b)
      )
    }),
    { numRuns: 1000 },
  )
})

t.test('property: missing(mine, theirs) lists exactly the sequences theirs has and mine lacks', async () => {
  fc.assert(
    fc.property(vvArb, vvArb, (mine, theirs) => {
      const listed = new Set<string>()
      for (const r of missing(mine, theirs)) for (let s = r.fromSeq; s <= r.toSeq; s++) listed.add(`${r.originKey}:${s}`)
      const expected = new Set<string>()
      for (const [key, seq] of theirs) for (let s = (mine.get(key) ?? 0) + 1; s <= seq; s++) expected.add(`${key}:${s}`)
      // After pulling, mine dominates theirs.
      return listed.size === expected.size && [...expected].every((x) => listed.has(x))
    }),
    { numRuns: 1000 },
  )
})

t.test('property: the tracker reaches the same contiguous prefix in any arrival order', async () => {
  const seqsArb = fc.uniqueArray(fc.integer({ min: 1, max: 30 }), { maxLength: 30, size: 'max' }).chain((seqs) => permutationArb(seqs))
  fc.assert(
    fc.property(seqsArb, (seqs) => {
      const tracker = new VersionTracker()
      for (const s of seqs) {
        if (typeof tracker.record('o#1', s) !== 'number') return false
      }
      let expected = 0
      while (seqs.includes(expected + 1)) expected++
      const vv = tracker.vector()
      // missingFrom a peer with everything up to 30 leaves out what is held in the gap buffer.
      const pulled = new Set<number>()
      for (const r of tracker.missingFrom(new Map([['o#1', 30]]))) for (let s = r.fromSeq; s <= r.toSeq; s++) pulled.add(s)
      for (let s = 1; s <= 30; s++) if (pulled.has(s) === seqs.includes(s)) return false
      return (seqs.length === 0 || vv.get('o#1') === expected) && tracker.contiguous('o#1') === expected
    }),
    { numRuns: 1000 },
  )
})

t.test('the gap buffer is bounded: a sequence too far ahead is refused, and accepted later', async (t) => {
  const tracker = new VersionTracker({ gapMax: 4 })
  t.equal(tracker.record('o#1', 4), 0, 'within the buffer: held out of order')
  t.equal(tracker.record('o#1', 5), 'gap-buffer-full')
  t.equal(tracker.has('o#1', 5), false)
  t.same(tracker.gaps('o#1'), [4])
  t.equal(tracker.record('o#1', 1), 1)
  t.equal(tracker.record('o#1', 5), 1, 'the window moved with the prefix')
  t.equal(tracker.record('o#1', 2), 2)
  t.equal(tracker.record('o#1', 3), 5, 'filling the gap absorbs the buffered run')
  t.same(tracker.gaps('o#1'), [])
  t.throws(() => tracker.record('o#1', 3), /already held/)
})
