// Membership and the pruning rule (founding note 004: "a dead node to be pruned from the cluster
// will only be pruned if all of its data under management is replicated elsewhere. Else, Hadron
// will just mark the node with a specific tag indicating that data will be lost if removed").
import t from 'tap'
import { clusterLimits } from '../../control-plane/cluster/index.js'
import type { ApplyResult } from '../../control-plane/cluster/index.js'
import { Harness, nodeCommand, streamCommand } from './helpers.js'

const code = (r: ApplyResult): string => (r.ok ? r.outcome : r.code)

t.test('join, drain, remove: events and states', async (t) => {
  const h = new Harness()
  const joined = h.must(nodeCommand('n1'))
  t.same(joined.events.map((e) => e.subject), ['$RG.events.region.created', '$RG.events.node.joined'])
  t.equal(code(h.run(nodeCommand('n1')).result), 'unchanged')
  const moved = h.run({ ...nodeCommand('n1'), peerAddress: 'elsewhere:6222' }).result
  t.equal(code(moved), 'RG_ERR_CONFLICT')
  if (!moved.ok) t.match(moved.message, 'peerAddress')
  t.equal(code(h.run({ type: 'removeNode', nodeId: 'n1' }).result), 'RG_ERR_INVALID_STATE', 'an active node must be drained first')
  t.same(h.must({ type: 'drainNode', nodeId: 'n1' }).events.map((e) => e.subject), ['$RG.events.node.draining'])
  t.equal(code(h.run({ type: 'drainNode', nodeId: 'n1' }).result), 'unchanged')
  const removed = h.must({ type: 'removeNode', nodeId: 'n1' })
  t.equal(code(removed.result), 'removed')
  t.same(removed.events.map((e) => e.subject), ['$RG.events.node.left'])
  t.equal(h.state.nodes.get('n1')?.state, 'removed')
  t.equal(code(h.run({ type: 'drainNode', nodeId: 'n1' }).result), 'RG_ERR_NOT_FOUND')
  t.equal(code(h.run(nodeCommand('n1')).result), 'updated', 'a removed node id may join again')
})

t.test('addNode with update: a node moves its own addresses; region and eligibility stay', async (t) => {
  const h = new Harness()
  h.must(nodeCommand('n1'))
  const moved = h.must({ ...nodeCommand('n1'), peerAddress: 'elsewhere:6222', adminAddress: 'elsewhere:8222', update: true })
  t.equal(code(moved.result), 'updated')
  t.same(moved.events.map((e) => e.subject), ['$RG.events.node.updated'])
  t.equal(h.state.nodes.get('n1')?.peerAddress, 'elsewhere:6222')
  t.equal(h.state.nodes.get('n1')?.adminAddress, 'elsewhere:8222')
  t.equal(code(h.run({ ...nodeCommand('n1'), peerAddress: 'elsewhere:6222', adminAddress: 'elsewhere:8222', update: true }).result), 'unchanged', 'the same update twice is a no-op')
  const region = h.run({ ...nodeCommand('n1'), peerAddress: 'elsewhere:6222', adminAddress: 'elsewhere:8222', region: 'eu-west', update: true }).result
  t.equal(code(region), 'RG_ERR_IMMUTABLE_FIELD', 'a region change is refused even with update')
  t.equal(h.state.nodes.get('n1')?.region, nodeCommand('n1').region)
  const eligibility = h.run({ ...nodeCommand('n1'), peerAddress: 'elsewhere:6222', adminAddress: 'elsewhere:8222', masterEligible: !nodeCommand('n1').masterEligible, update: true }).result
  t.equal(code(eligibility), 'RG_ERR_IMMUTABLE_FIELD')
  h.must({ type: 'markNodeDead', nodeId: 'n1' })
  const back = h.must({ ...nodeCommand('n1'), peerAddress: 'third:6222', adminAddress: 'elsewhere:8222', update: true })
  t.same(back.events.map((e) => e.subject), ['$RG.events.node.joined'], 'a dead node coming back on new addresses rejoins')
  t.equal(h.state.nodes.get('n1')?.state, 'active')
})

t.test('a dead node holding the last live copy stays, flagged removingLosesData', async (t) => {
  const h = new Harness()
  h.must(nodeCommand('n1'))
  h.must(streamCommand({ name: 'solo', replicasPerRegion: 1 }))
  h.must(streamCommand({ name: 'safe', replicasPerRegion: 1 }))
  h.must(nodeCommand('n2'))
  // `safe` gets a second copy: raise replicas so n2 joins and catches up.
  h.must(streamCommand({ name: 'safe', replicasPerRegion: 2, update: true }))
  h.must({ type: 'replicaCaughtUp', namespace: 'default', stream: 'safe', region: 'us-east', nodeId: 'n2' })
  h.must({ type: 'markNodeDead', nodeId: 'n1' })
  const node = h.state.nodes.get('n1')
  t.equal(node?.state, 'dead')
  t.equal(node?.removingLosesData, true, 'flagged: solo has no other live copy')
  const refused = h.run({ type: 'removeNode', nodeId: 'n1' }).result
  t.equal(code(refused), 'RG_ERR_WOULD_LOSE_DATA')
  if (!refused.ok) {
    t.same(refused.details.streams, ['default/solo@us-east'], 'the result says which streams')
    t.match(refused.message, 'default/solo@us-east')
  }
  t.equal(h.state.nodes.get('n1')?.state, 'dead', 'the node stays')
  // The replacement for solo is pending on n2; once it caught up the dead node holds nothing unique.
  t.same(h.state.placements.get('default/solo')?.get('us-east')?.pending, ['n2'])
  h.must({ type: 'replicaCaughtUp', namespace: 'default', stream: 'solo', region: 'us-east', nodeId: 'n2' })
  t.equal(h.state.nodes.get('n1')?.removingLosesData, false, 'the flag clears once the data lives elsewhere')
  const pruned = h.run({ type: 'removeNode', nodeId: 'n1' })
  t.equal(code(pruned.result), 'removed')
  t.equal(h.state.nodes.get('n1')?.state, 'removed')
})

t.test('force removes anyway and reports what was lost', async (t) => {
  const h = new Harness()
  h.must(nodeCommand('n1'))
  h.must(streamCommand({ replicasPerRegion: 1 }))
  h.must({ type: 'markNodeDead', nodeId: 'n1' })
  const forced = h.must({ type: 'removeNode', nodeId: 'n1', force: true })
  t.same(forced.result.ok ? forced.result.details.lostStreams : null, ['default/orders@us-east'])
  t.same(h.state.placements.get('default/orders')?.get('us-east'), { replicas: [], pending: [], retiring: [], underReplicated: true })
})

t.test('draining moves replicas away; the drained node can then be removed without loss', async (t) => {
  const h = new Harness()
  for (const id of ['n1', 'n2', 'n3']) h.must(nodeCommand(id))
  h.must(streamCommand({ replicasPerRegion: 2 }))
  const holder = h.state.placements.get('default/orders')?.get('us-east')?.replicas[0] as string
  h.must({ type: 'drainNode', nodeId: holder })
  const placed = h.state.placements.get('default/orders')?.get('us-east')
  t.same(placed?.retiring, [holder])
  t.equal(placed?.pending.length, 1)
  t.equal(code(h.run({ type: 'removeNode', nodeId: holder }).result), 'removed', 'the other holder is live: no data lost')
  t.notOk(h.state.placements.get('default/orders')?.get('us-east')?.replicas.includes(holder))
})

t.test('tags: setNodeTags updates and rebalances; unchanged when equal', async (t) => {
  const h = new Harness()
  h.must(nodeCommand('n1', 'us-east', { zone: 'a' }))
  h.must(nodeCommand('n2', 'us-east', { zone: 'a' }))
  h.must(nodeCommand('n3', 'us-east', { zone: 'a' }))
  h.must(streamCommand({ replicasPerRegion: 2 }))
  const before = h.state.placements.get('default/orders')?.get('us-east')
  const outsider = ['n1', 'n2', 'n3'].find((id) => !before?.replicas.includes(id)) as string
  const tagged = h.must({ type: 'setNodeTags', nodeId: outsider, tags: { zone: 'b', rack: 'r7' } })
  t.equal(code(tagged.result), 'updated')
  t.ok(tagged.events.some((e) => e.subject === '$RG.events.node.updated'))
  t.same(h.state.placements.get('default/orders')?.get('us-east')?.pending, [outsider], 'a new zone appeared: rebalance proposed')
  t.equal(code(h.run({ type: 'setNodeTags', nodeId: outsider, tags: { rack: 'r7', zone: 'b' } }).result), 'unchanged')
})

t.test('node churn: tombstones are capped, the oldest dropped first', async (t) => {
  const h = new Harness()
  const cycles = clusterLimits.removedNodesKeptMax + 5
  for (let i = 0; i < cycles; i++) {
    h.must(nodeCommand(`c${i}`))
    h.must({ type: 'drainNode', nodeId: `c${i}` })
    h.must({ type: 'removeNode', nodeId: `c${i}` })
  }
  t.equal(h.state.nodes.size, clusterLimits.removedNodesKeptMax)
  t.notOk(h.state.nodes.has('c0'), 'the oldest tombstone is gone')
  t.equal(h.state.nodes.get(`c${cycles - 1}`)?.state, 'removed')
  t.equal(code(h.run(nodeCommand('fresh')).result), 'created', 'churn does not exhaust nodesMax')
})
