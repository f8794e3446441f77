// Raft metrics across an election: three nodes, one leader (is_leader sums to 1); the leader
// stops; a survivor campaigns and wins (its elections_started_total grows), every survivor
// counts a leader change, and the term grows.
import t from 'tap'
import { runtimeOf, testCluster, waitFor } from '../server/cluster-helpers.js'
import type { RunningNode } from '../../server/node.js'
import { metric, scrape } from './helpers.js'
import type { Scrape } from './helpers.js'

const sampleSettleMs = 600

t.test('elections and leader changes are counted', async (t) => {
  const cluster = testCluster(t)
  const plans = [await cluster.plan('r1'), await cluster.plan('r2'), await cluster.plan('r3')]
  const seeds = plans.map((plan) => `127.0.0.1:${plan.peerPort}`)
  const nodes: RunningNode[] = await Promise.all(plans.map((plan) => cluster.start(plan, { seeds })))
  await Promise.all(nodes.map((node) => node.ready))
  await waitFor('one leader known by all', () => nodes.every((node) => runtimeOf(node).leader() !== null && runtimeOf(node).leader() === runtimeOf(nodes[0]!).leader()))
  await waitFor('every peer link up', () => nodes.every((node) => runtimeOf(node).peers().filter((peer) => peer.state === 'up').length === 2))
  await new Promise((resolve) => setTimeout(resolve, sampleSettleMs))

  const scrapes = new Map<RunningNode, Scrape>()
  for (const node of nodes) scrapes.set(node, await scrape(node.adminUrl))
  const leaders = nodes.filter((node) => metric(scrapes.get(node)!, 'railgun_raft_is_leader') === 1)
  t.equal(leaders.length, 1, 'exactly one node says it leads')
  const leader = leaders[0]!
  t.equal(runtimeOf(leader).nodeId, runtimeOf(nodes[0]!).leader())
  t.ok((metric(scrapes.get(leader)!, 'railgun_raft_elections_started_total') ?? 0) >= 1, 'the leader started an election')
  for (const node of nodes) t.ok((metric(scrapes.get(node)!, 'railgun_raft_leader_changes_total') ?? 0) >= 1, `${node.config.server.name} saw a leader`)
  const termBefore = metric(scrapes.get(leader)!, 'railgun_raft_term') ?? 0
  for (const node of nodes) t.equal(metric(scrapes.get(node)!, 'railgun_peer_links', { state: 'up' }), 2, 'two peer links up')

  await cluster.stop(leader.config.server.name)
  const survivors = nodes.filter((node) => node !== leader)
  await waitFor('a new leader among the survivors', () =>
    survivors.every((node) => {
      const known = runtimeOf(node).leader()
      return known !== null && known !== runtimeOf(leader).nodeId
    }),
  )
  await new Promise((resolve) => setTimeout(resolve, sampleSettleMs))
  const newLeader = survivors.find((node) => runtimeOf(node).isLeader())!
  t.ok(newLeader, 'a survivor leads')
  const afterLeader = await scrape(newLeader.adminUrl)
  t.ok((metric(afterLeader, 'railgun_raft_elections_started_total') ?? 0) > (metric(scrapes.get(newLeader)!, 'railgun_raft_elections_started_total') ?? 0), 'the new leader campaigned')
  t.ok((metric(afterLeader, 'railgun_raft_term') ?? 0) > termBefore, 'the term grew')
  for (const node of survivors) {
    const after = await scrape(node.adminUrl)
    t.ok((metric(after, 'railgun_raft_leader_changes_total') ?? 0) > (metric(scrapes.get(node)!, 'railgun_raft_leader_changes_total') ?? 0), `${node.config.server.name} counted the change`)
    t.ok((metric(after, 'railgun_peer_links', { state: 'up' }) ?? 0) <= 1, 'the stopped peer is no longer up')
  }
})
