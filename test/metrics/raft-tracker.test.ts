// RaftTracker: elections this node started and leader changes it saw, from status samples.
import t from 'tap'
import { RaftTracker } from '../../server/metrics/index.js'
import type { RaftSample } from '../../server/metrics/index.js'

const sample = (fields: Partial<RaftSample>): RaftSample => ({ id: 'a', term: 1, vote: null, lead: null, role: 'follower', ...fields })

t.test('a node that campaigns and wins counts one election and one leader change', async (t) => {
  const tracker = new RaftTracker()
  tracker.observe(sample({ term: 0 }))
  tracker.observe(sample({ term: 1, vote: 'a', role: 'candidate' }))
  tracker.observe(sample({ term: 1, vote: 'a', role: 'leader', lead: 'a' }))
  tracker.observe(sample({ term: 1, vote: 'a', role: 'leader', lead: 'a' }))
  t.equal(tracker.electionsStarted, 1, 'the same term is counted once')
  t.equal(tracker.leaderChanges, 1)
})

t.test('a follower that votes for another counts no election, but sees leader changes', async (t) => {
  const tracker = new RaftTracker()
  tracker.observe(sample({ term: 1, vote: 'b', lead: 'b' }))
  tracker.observe(sample({ term: 2, vote: 'c', lead: null }))
  tracker.observe(sample({ term: 2, vote: 'c', lead: 'c' }))
  tracker.observe(sample({ term: 3, vote: 'c', lead: 'c' }))
  t.equal(tracker.electionsStarted, 0)
  t.equal(tracker.leaderChanges, 3, 'b, then c, then c re-elected at term 3')
})

t.test('lost elections count too; a campaign seen only as leader is still counted', async (t) => {
  const tracker = new RaftTracker()
  tracker.observe(sample({ term: 4, vote: 'a', role: 'candidate' }))
  tracker.observe(sample({ term: 5, vote: 'a', role: 'candidate' }))
  tracker.observe(sample({ term: 7, vote: 'a', role: 'leader', lead: 'a' }))
  t.equal(tracker.electionsStarted, 3)
  t.equal(tracker.leaderChanges, 1)
})

t.test('the first sample after a restart does not count a vote cast before it', async (t) => {
  const tracker = new RaftTracker()
  tracker.observe(sample({ term: 9, vote: 'a', role: 'follower', lead: null }))
  t.equal(tracker.electionsStarted, 0)
  tracker.observe(sample({ term: 10, vote: 'a', role: 'candidate' }))
  t.equal(tracker.electionsStarted, 1)
})
