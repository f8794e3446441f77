// Quorum arithmetic against naive references (etcd-raft quick_test style).
import t from 'tap'
import fc from 'fast-check'
import { jointCommittedIndex, jointVoteResult, majorityCommittedIndex, majorityVoteResult } from '../../control-plane/raft/quorum.js'

/** Naive: the largest index i such that more than half of the voters acknowledged >= i. */
function naiveCommitted(acks: Map<string, number>): number {
  if (acks.size === 0) return Number.POSITIVE_INFINITY
  let best = 0
  for (const candidate of acks.values()) {
    let count = 0
    for (const other of acks.values()) if (other >= candidate) count++
    if (count * 2 > acks.size && candidate > best) best = candidate
  }
  return best
}

function naiveVote(voters: string[], votes: Map<string, boolean>): 'won' | 'lost' | 'pending' {
  if (voters.length === 0) return 'won'
  const yes = voters.filter((v) => votes.get(v) === true).length
  const no = voters.filter((v) => votes.get(v) === false).length
  if (yes * 2 > voters.length) return 'won'
  if (no * 2 >= voters.length) return 'lost'
  return 'pending'
}

const ackMap = fc.dictionary(fc.integer({ min: 1, max: 9 }).map(String), fc.nat({ max: 20 }), { maxKeys: 9 }).map((d) => new Map(Object.entries(d)))

t.test('majority commit index matches the naive reference', (t) => {
  fc.assert(
    fc.property(ackMap, (acks) => {
      const got = majorityCommittedIndex(new Set(acks.keys()), (id) => acks.get(id) ?? 0)
      return got === naiveCommitted(acks)
    }),
    { numRuns: 2000 },
  )
  t.end()
})

t.test('voters without an ack count as 0', (t) => {
  t.equal(majorityCommittedIndex(new Set(['1', '2', '3']), (id) => (id === '1' ? 5 : 0)), 0)
  t.equal(majorityCommittedIndex(new Set(['1', '2', '3']), (id) => (id === '3' ? 0 : 5)), 5)
  t.equal(majorityCommittedIndex(new Set(['1', '2', '3', '4']), (id) => Number(id)), 2)
  t.end()
})

const voteCase = fc
  .uniqueArray(fc.integer({ min: 1, max: 9 }).map(String), { maxLength: 9 })
  .chain((voters) =>
    fc.tuple(
      fc.constant(voters),
      fc.array(fc.tuple(fc.constantFrom(...voters, '42'), fc.boolean()), { maxLength: 12 }).map((pairs) => new Map(pairs)),
    ),
  )

t.test('majority vote result matches the naive reference', (t) => {
  fc.assert(
    fc.property(voteCase, ([voters, votes]) => majorityVoteResult(new Set(voters), votes) === naiveVote(voters, votes)),
    { numRuns: 2000 },
  )
  t.end()
})

t.test('joint configurations need both halves', (t) => {
  fc.assert(
    fc.property(ackMap, ackMap, (incoming, outgoing) => {
      const all = new Map([...outgoing, ...incoming])
      const acked = (id: string): number => all.get(id) ?? 0
      const got = jointCommittedIndex({ incoming: new Set(incoming.keys()), outgoing: new Set(outgoing.keys()) }, acked)
      const inOnly = new Map([...incoming.keys()].map((id) => [id, acked(id)]))
      const outOnly = new Map([...outgoing.keys()].map((id) => [id, acked(id)]))
      return got === Math.min(naiveCommitted(inOnly), naiveCommitted(outOnly))
    }),
    { numRuns: 1000 },
  )
  fc.assert(
    fc.property(voteCase, voteCase, ([inVoters, votesA], [outVoters, votesB]) => {
      const votes = new Map([...votesB, ...votesA])
      const a = naiveVote(inVoters, votes)
      const b = naiveVote(outVoters, votes)
      const expected = a === 'lost' || b === 'lost' ? 'lost' : a === 'won' && b === 'won' ? 'won' : 'pending'
      return jointVoteResult({ incoming: new Set(inVoters), outgoing: new Set(outVoters) }, votes) === expected
    }),
    { numRuns: 1000 },
  )
  t.end()
})

t.test('an empty configuration is neutral', (t) => {
  t.equal(majorityCommittedIndex(new Set(), () => 7), Number.POSITIVE_INFINITY)
  t.equal(majorityVoteResult(new Set(), new Map()), 'won')
  t.equal(jointCommittedIndex({ incoming: new Set(['1']), outgoing: new Set() }, () => 3), 3)
  t.end()
})
