// Three nodes, each with its own API: a mutation sent to a follower's API is forwarded by Raft
// and applies once; every node publishes the applied events to its own subscribers (one copy per
// subscriber); leadership transfer through the API, and $RG.events.leader.elected.
import t from 'tap'
import { connect } from '../../client/index.js'
import type { Message } from '../../client/index.js'
import { startApiCluster, waitFor } from './helpers.js'

t.test('three nodes: forwarding, events on every node, leadership transfer', async (t) => {
  const cluster = await startApiCluster(t, 3)
  const clients = await Promise.all(cluster.nodes.map((node) => connect(node.clientUrl)))
  t.teardown(async () => {
    for (const client of clients) await client.close()
  })
  const indexOf = (id: string): number => cluster.nodes.findIndex((node) => node.id === id)

  const events: Message[][] = clients.map(() => [])
  const subscriptions = clients.map((client, index) => client.subscribe('$RG.events.stream.>').subscribe((message) => events[index]?.push(message)))
  t.teardown(() => subscriptions.forEach((subscription) => subscription.unsubscribe()))
  await Promise.all(clients.map((client) => client.flush()))

  await t.test('a mutation sent to a follower applies (forwarded to the leader)', async (t) => {
    const follower = cluster.follower()
    const client = clients[indexOf(follower.id)]!
    const answer = await client.streams.ensure({ name: 'payments' })
    t.equal(answer.outcome, 'created')
    t.match(answer.definition, { regions: ['us-east'], replicasPerRegion: 3 }, 'three active nodes in us-east')
    const leaderClient = clients[indexOf(cluster.leader().id)]!
    t.equal((await leaderClient.streams.info('default', 'payments')).name, 'payments', 'the leader has it (linearizable read)')
    t.equal((await client.streams.ensure({ name: 'payments' })).outcome, 'unchanged')
    const placement = (await client.streams.info('default', 'payments')).placement['us-east']
    t.same(placement?.replicas, ['n1', 'n2', 'n3'])
  })

  await t.test('each node publishes each applied event once to its own subscribers', async (t) => {
    await waitFor('every node published stream.created', () => events.every((list) => list.length >= 1))
    await new Promise((resolve) => setTimeout(resolve, 200))
    for (const [index, list] of events.entries()) {
      t.same(list.map((message) => message.subject), ['$RG.events.stream.created'], `node ${cluster.nodes[index]?.id}: exactly one event`)
      t.match(list[0]?.json(), { kind: 'stream', action: 'created', id: { namespace: 'default', name: 'payments' } })
    }
  })

  await t.test('leader transfer asked on a third node (forwarded to the leader), announced on $RG.events.leader.elected', async (t) => {
    const before = cluster.leader()
    const target = cluster.nodes.find((node) => node.id !== before.id)!
    const observer = clients[indexOf(target.id)]!
    const elected: Array<{ leader: string; term: number }> = []
    const subscription = observer.subscribe('$RG.events.leader.elected').subscribe((message) => elected.push(message.json()))
    await observer.flush()
    const third = clients[indexOf(cluster.nodes.find((node) => node.id !== before.id && node.id !== target.id)!.id)]!
    const moved = await third.cluster.transferLeader(target.id)
    t.equal(moved.leader, target.id)
    await waitFor('the new leader is announced', () => elected.some((event) => event.leader === target.id))
    subscription.unsubscribe()
    t.ok(elected.find((event) => event.leader === target.id)!.term > 0)
    const status = await observer.cluster.status()
    t.equal(status.leader, target.id)
    t.equal(status.members.length, 3)
    t.same(status.members.map((member) => member.role).sort(), ['follower', 'follower', 'leader'])
    t.ok(status.members.every((member) => member.region === 'us-east' && member.state === 'active' && member.voter))
  })

  await t.test('drain and remove a node through the API', async (t) => {
    const client = clients[0]!
    const victim = cluster.nodes[2]!.id
    await t.rejects(client.cluster.removeNode(victim), { code: 'RG_ERR_INVALID_STATE' }, 'an active node must be drained first')
    t.equal((await client.cluster.drainNode(victim)).outcome, 'updated')
    const nodes = await client.cluster.nodes()
    t.equal(nodes.find((node) => node.id === victim)?.state, 'draining')
  })
})
