// Real clusters of `railgun server` nodes (startNode, RocksDB, TCP on 127.0.0.1): three nodes
// started with the same seeds form one cluster with one leader and publish their `addNode`
// records; a command ensured on a follower is applied everywhere; a fourth node that is not in
// its seed list joins (learner, then voter) and applies the state; a restarted node keeps its id
// and catches up; a stopped node is marked dead by the leader after `deadAfterMs` and becomes
// active again when it comes back.
import t from 'tap'
import { formatHostPort } from '../../server/cluster/index.js'
import type { RunningNode } from '../../server/node.js'
import { runtimeOf, testCluster, waitFor, waitForLeader } from './cluster-helpers.js'
import type { NodePlan } from './cluster-helpers.js'

const regions: Record<string, string> = { a: 'eu-west', b: 'eu-west', c: 'us-east', d: 'us-east' }

t.test('three seeded nodes form one cluster; a follower ensure applies everywhere; a fourth joins; restart and death', { timeout: 120_000 }, async (t) => {
  const cluster = testCluster(t)
  const plans: NodePlan[] = []
  for (const name of ['a', 'b', 'c']) plans.push(await cluster.plan(name, { region: regions[name], zone: `${name}-zone`, deadAfterMs: 1_500 }))
  const seeds = plans.map((plan) => formatHostPort({ host: '127.0.0.1', port: plan.peerPort }))
  const nodes: RunningNode[] = []
  for (const plan of plans) nodes.push(await cluster.start(plan, { seeds }))
  await Promise.all(nodes.map((node) => node.ready))
  const ids = nodes.map((node) => node.nodeId)
  t.equal(new Set(ids).size, 3, 'three distinct ids')
  for (const id of ids) t.match(id, /^[0-9a-f]{16}$/, `derived id ${id} is 16 hex characters`)
  t.same(nodes.map((node) => node.peerPort), plans.map((plan) => plan.peerPort), 'each node bound its planned peer port')

  const leader = await waitForLeader(nodes)
  t.same([...runtimeOf(leader).node.status().confState.voters].sort(), [...ids].sort(), 'the seeds are the voters')
  await waitFor('every node holds the three addNode records', () =>
    nodes.every((node) => ids.every((id) => runtimeOf(node).node.state.nodes.get(id)?.state === 'active')),
  )
  for (const [index, node] of nodes.entries()) {
    const record = runtimeOf(leader).node.state.nodes.get(ids[index] as string)
    t.equal(record?.region, regions[plans[index]?.name as string], `node ${plans[index]?.name} published its region`)
    t.equal(record?.tags.zone, `${plans[index]?.name}-zone`, 'and its zone tag')
    t.equal(record?.peerAddress, `127.0.0.1:${node.peerPort}`, 'and its peer address')
    t.equal(record?.clientAddress, `127.0.0.1:${node.clientPort}`, 'and its client address')
  }
  t.ok(runtimeOf(leader).peers().filter((peer) => peer.state === 'up').length >= 2, 'the leader has its peer links up')

  // A command ensured on a follower is forwarded, committed and applied on every node.
  const follower = nodes.find((node) => node !== leader) as RunningNode
  const created = await runtimeOf(follower).node.ensure({ type: 'ensureRegion', name: 'apac' })
  t.ok(created.ok && created.outcome === 'created', 'ensure on a follower succeeds')
  await waitFor('the region is applied everywhere', () => nodes.every((node) => runtimeOf(node).node.state.regions.get('apac')?.explicit === true))

  // A fourth node, not in its own seed list, joins: learner first, then voter; it applies the state.
  const planD = await cluster.plan('d', { region: regions.d, deadAfterMs: 1_500 })
  const fourth = await cluster.start(planD, { seeds })
  await fourth.ready
  const fourthId = fourth.nodeId
  t.notOk(ids.includes(fourthId), 'the fourth node has its own id')
  await waitFor('the fourth node is a voter on the leader', () => {
    const current = nodes.find((node) => runtimeOf(node).isLeader())
    return current !== undefined && runtimeOf(current).node.status().confState.voters.includes(fourthId)
  })
  await waitFor('the fourth node applied the state and its record', () => {
    const state = runtimeOf(fourth).node.state
    return state.regions.get('apac') !== undefined && state.nodes.get(fourthId)?.region === 'us-east' && state.nodes.size === 4
  })
  await waitFor('the fourth node knows it is a voter', () => !runtimeOf(fourth).node.status().isLearner)
  const all = [...nodes, fourth]
  await waitForLeader(all)

  // Restart a follower from its data directory: same id, catches up on what it missed.
  const currentLeader = await waitForLeader(all)
  const restartIndex = nodes.findIndex((node) => node !== currentLeader)
  const restartPlan = plans[restartIndex] as NodePlan
  const restartId = ids[restartIndex] as string
  await cluster.stop(restartPlan.name)
  const survivors = all.filter((node) => node.nodeId !== restartId)
  const whileDown = await runtimeOf(await waitForLeader(survivors)).node.ensure({ type: 'ensureRegion', name: 'while-down' })
  t.ok(whileDown.ok, 'the cluster keeps writing with one node down')
  const restarted = await cluster.start(restartPlan, { seeds })
  await restarted.ready
  t.equal(restarted.nodeId, restartId, 'the restarted node kept its id')
  await waitFor('the restarted node caught up', () => runtimeOf(restarted).node.state.regions.get('while-down') !== undefined)

  // Stop another follower: after deadAfterMs the leader marks it dead; back, it is active again.
  const live = all.map((node) => (node.nodeId === restartId ? restarted : node))
  const leaderNow = await waitForLeader(live)
  const victim = live.find((node) => node !== leaderNow && node !== restarted) as RunningNode
  const victimId = victim.nodeId
  const victimPlan = [...plans, planD].find((plan) => cluster.running.get(plan.name) === victim) as NodePlan
  await cluster.stop(victimPlan.name)
  const others = live.filter((node) => node !== victim)
  await waitFor('the leader marked the stopped node dead', () => {
    const current = others.find((node) => runtimeOf(node).isLeader())
    return current !== undefined && runtimeOf(current).node.state.nodes.get(victimId)?.state === 'dead'
  }, 20_000)
  t.pass('a stopped node is marked dead after deadAfterMs')
  const back = await cluster.start(victimPlan, { seeds })
  await back.ready
  await waitFor('the returning node is active again', () => others.every((node) => runtimeOf(node).node.state.nodes.get(victimId)?.state === 'active'), 20_000)
  t.pass('the returning node re-sent addNode and is active again')

  // Stop it for good and remove it: it leaves the Raft configuration and the others forget it.
  await cluster.stop(victimPlan.name)
  const remover = runtimeOf(await waitForLeader(others))
  await waitFor('dead again', () => remover.node.state.nodes.get(victimId)?.state === 'dead', 20_000)
  const removed = await remover.node.ensure({ type: 'removeNode', nodeId: victimId })
  t.ok(removed.ok, 'a dead node is removed')
  await waitFor('the removed node left the Raft configuration', () => {
    const current = others.find((node) => runtimeOf(node).isLeader())
    if (current === undefined) return false
    const confState = runtimeOf(current).node.status().confState
    return !confState.voters.includes(victimId) && !confState.learners.includes(victimId)
  }, 20_000)
  await waitFor('the others no longer dial the removed peer', () => others.every((node) => !runtimeOf(node).peers().some((peer) => peer.peer === victimId)))
  t.pass('removed from the configuration and from the peer lists')
})
