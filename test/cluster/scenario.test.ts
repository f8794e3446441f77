// A story across the module, read top to bottom: a region with three zones, a stream and a
// consumer group's controller; a zone fails, a node is drained, the dead node is pruned only
// once its data lives elsewhere (founding note 004), and controller terms only grow (note 001).
import t from 'tap'
import { kvGet, serialize, deserialize } from '../../control-plane/cluster/index.js'
import { Harness, bytes, groupCommand, nodeCommand, streamCommand } from './helpers.js'

t.test('zone outage, drain and prune in us-east', async (t) => {
  const h = new Harness()
  const placement = () => h.state.placements.get('default/orders')?.get('us-east')
  const scc = 'scc/default/orders/billing/us-east'

  // add-nodes: a1 a2 (zone a), b1 (zone b), c1 (zone c)
  for (const [id, zone] of [['a1', 'a'], ['a2', 'a'], ['b1', 'b'], ['c1', 'c']] as const) h.must(nodeCommand(id, 'us-east', { zone }))
  // ensure stream orders ×3, a group (its controller is designated to a replica), a lock in KV
  h.must(streamCommand({ replicasPerRegion: 3 }))
  h.must(groupCommand())
  // move the group's controller to b1 for the story (redesignate: term + 1 each time)
  for (let moves = 0; h.state.designations.get(scc)?.holder !== 'b1'; moves++) {
    if (moves > 3) throw new Error('redesignate never reached b1')
    h.must({ type: 'redesignate', controller: scc })
  }
  const term = h.state.designations.get(scc)?.controllerTerm as number
  h.must({ type: 'ensureBucket', name: 'locks', maxValueBytes: 64 })
  h.must({ type: 'kvCas', bucket: 'locks', key: 'billing', value: bytes('b1'), expectedRevision: 0 })
  const initial = placement()
  t.same(new Set(initial?.replicas.map((id) => h.state.nodes.get(id)?.tags.zone)), new Set(['a', 'b', 'c']), 'one replica per zone')

  // zone b fails: b1 dead → its controller moves (term + 1), a replacement replica is pending
  h.must({ type: 'markNodeDead', nodeId: 'b1' })
  t.equal(h.state.designations.get(scc)?.controllerTerm, term + 1)
  t.not(h.state.designations.get(scc)?.holder, 'b1')
  t.same(placement()?.retiring, ['b1'])
  t.equal(placement()?.pending.length, 1)
  // the old holder, if it wakes up, cannot take the controller back with its old term
  t.equal(h.run({ type: 'designate', controller: scc, holder: 'a1', controllerTerm: term }).result.ok, false)

  // pruning b1 is safe: other live replicas hold every stream it held
  t.equal(h.state.nodes.get('b1')?.removingLosesData, false)
  h.must({ type: 'removeNode', nodeId: 'b1' })
  t.notOk(placement()?.replicas.includes('b1'), 'gone from the replica set at once')

  // the pending replacement catches up
  const newcomer = placement()?.pending[0] as string
  h.must({ type: 'replicaCaughtUp', namespace: 'default', stream: 'orders', region: 'us-east', nodeId: newcomer })
  t.same(placement()?.pending, [])
  t.equal(placement()?.replicas.length, 3)

  // drain c1: only zone a is left, so the stream is under-replicated on a1 and a2; both
  // already hold the data, so c1 leaves the set at once (nothing to wait for)
  h.must({ type: 'drainNode', nodeId: 'c1' })
  t.same(placement(), { replicas: ['a1', 'a2'], pending: [], retiring: [], underReplicated: true })

  // a replica in a new zone joins: spread restored, the same rules decide on a restored snapshot
  const restored = deserialize(serialize(h.state))
  if (!restored.ok) throw new Error(restored.message)
  const copy = new Harness()
  copy.state = restored.state
  copy.index = h.index
  copy.timeMs = h.timeMs
  h.must(nodeCommand('d1', 'us-east', { zone: 'd' }))
  copy.must(nodeCommand('d1', 'us-east', { zone: 'd' }))
  t.same(serialize(copy.state), serialize(h.state), 'a replica restored from a snapshot decides identically')
  t.same(placement()?.pending, ['d1'])
  t.equal(placement()?.underReplicated, false)
  t.equal(new TextDecoder().decode(kvGet(h.state, 'locks', 'billing')?.value), 'b1', 'KV untouched by membership')
})
