// Discovery through DNS SRV (resolver injected): a node whose SRV name resolves to a running
// node's peer address joins it. Started with --no-master-eligible it stays a learner: it applies
// the cluster state but never votes.
import t from 'tap'
import type { SrvRecord } from '../../server/cluster/index.js'
import { runtimeOf, testCluster, waitFor, waitForLeader } from './cluster-helpers.js'

t.test('a node found through DNS SRV joins; a non-master-eligible node stays a learner', { timeout: 60_000 }, async (t) => {
  const cluster = testCluster(t)
  const first = await cluster.start(await cluster.plan('first', { region: 'eu-west' }))
  await first.ready
  await waitForLeader([first])
  await runtimeOf(first).node.ensure({ type: 'ensureNamespace', name: 'before-join' })
  const lookups: string[] = []
  const resolveSrv = async (name: string): Promise<SrvRecord[]> => {
    lookups.push(name)
    return [{ name: '127.0.0.1.', port: first.peerPort, priority: 1, weight: 1 }]
  }
  const plan = await cluster.plan('observer', { region: 'us-east', masterEligible: false, dnsSrv: '_railgun._tcp.test', discoveryIntervalMs: 200 })
  const observer = await cluster.start(plan, {}, resolveSrv)
  await observer.ready
  t.equal(lookups[0], '_railgun._tcp.test', 'the SRV name was resolved at start')
  await waitFor('the observer is a member and applied the state', () => {
    const state = runtimeOf(observer).node.state
    return state.namespaces.has('before-join') && state.nodes.get(observer.nodeId)?.state === 'active'
  })
  await waitFor('the leader added it as a learner', () => runtimeOf(first).node.status().confState.learners.includes(observer.nodeId))
  await new Promise((resolve) => setTimeout(resolve, 500))
  const confState = runtimeOf(first).node.status().confState
  t.same(confState.voters, [first.nodeId], 'it was not promoted: not master-eligible')
  t.same(confState.learners, [observer.nodeId])
  t.ok(runtimeOf(observer).node.status().isLearner)
  t.equal(runtimeOf(observer).leader(), first.nodeId, 'it follows the leader')
  await runtimeOf(first).node.ensure({ type: 'ensureNamespace', name: 'after-join' })
  await waitFor('the learner applies new commands', () => runtimeOf(observer).node.state.namespaces.has('after-join'))
  await waitFor('the SRV name is resolved again every discoveryIntervalMs', () => lookups.length >= 3, 10_000)
  t.pass('re-resolved')
})
