// Sealed segment summaries: equal iff the event sets are equal, whatever the order they are
// given in; a replica confirms a peer's segment from what it holds.
import fc from 'fast-check'
import t from 'tap'
import { EventSet, confirmsSegment, segmentsEqual, summarizeSegment } from '../../data-plane/persistent/index.js'
import type { StreamEvent } from '../../data-plane/persistent/index.js'
import { event, permutationArb, stream } from './helpers.js'

const segmentArb: fc.Arbitrary<StreamEvent[]> = fc
  .array(fc.record({ stepMs: fc.integer({ min: 1, max: 9 }), id: fc.constantFrom('x', 'y', 'z'), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 20, size: 'max' })
  .map((steps) => {
    let wallMs = 100
    return steps.map((s, i) => {
      wallMs += s.stepMs
      return { ...event({ origin: 'n1', originSeq: i + 1, hlc: { wallMs, logical: 0 }, id: s.id }), payload: new Uint8Array([s.byte]) }
    })
  })

t.test('property: the summary does not depend on the order of the events', async () => {
  fc.assert(
    fc.property(segmentArb.chain((events) => fc.tuple(fc.constant(events), permutationArb(events))), ([events, shuffled]) => {
      const a = summarizeSegment('n1', 1, 1, events.length, events)
      const b = summarizeSegment('n1', 1, 1, events.length, shuffled)
      return segmentsEqual(a, b) && a.count === events.length && /^[0-9a-f]{32}$/.test(a.digest)
    }),
    { numRuns: 300 },
  )
})

t.test('property: any missing, extra or changed event changes the summary', async () => {
  fc.assert(
    fc.property(segmentArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (events, pick, delta) => {
      const whole = summarizeSegment('n1', 1, 1, events.length, events)
      const at = pick % events.length
      const missingOne = summarizeSegment('n1', 1, 1, events.length, events.filter((_, i) => i !== at))
      const changed = events.map((e, i) => (i === at ? { ...e, payload: new Uint8Array([((e.payload[0] as number) + delta) % 256]) } : e))
      const changedId = events.map((e, i) => (i === at ? { ...e, id: `${e.id}!` } : e))
      const digests = new Set([whole.digest, missingOne.digest, summarizeSegment('n1', 1, 1, events.length, changed).digest, summarizeSegment('n1', 1, 1, events.length, changedId).digest])
      return digests.size === 4 && !segmentsEqual(whole, missingOne)
    }),
    { numRuns: 300 },
  )
})

t.test('a replica confirms a peer segment only when it holds exactly the same events', async (t) => {
  const events = [1, 2, 3, 4].map((seq) => event({ origin: 'n1', originSeq: seq, hlc: { wallMs: seq * 10, logical: 0 }, id: `e${seq}` }))
  const theirs = summarizeSegment('n1', 1, 1, 4, events)
  const mine = new EventSet({ stream, dedupWindowMs: 0 })
  mine.insert(events.slice(0, 3))
  t.notOk(confirmsSegment(mine, theirs), 'one event missing')
  mine.insert(events.slice(3))
  t.ok(confirmsSegment(mine, theirs))
  t.throws(() => summarizeSegment('n1', 1, 1, 3, events), /outside/)
  t.throws(() => summarizeSegment('n2', 1, 1, 4, events), /segment of n2#1/)
  t.throws(() => summarizeSegment('n1', 1, 1, 4, [events[0] as StreamEvent, events[0] as StreamEvent]), /twice/)
})
