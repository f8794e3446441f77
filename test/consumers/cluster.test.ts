// Consumer groups on three real nodes (one region, the stream on all three): the group's
// controller runs on the holder of `scc/default/<stream>/<group>/<region>`; a member connected to
// another node joins, receives and acks through cluster routing; the progress reaches the other
// replicas' copies; when the holder is killed, the control plane designates another replica with
// a higher term, which gathers the copies and redelivers what was outstanding (Rg-Term higher,
// Rg-Deliveries 2) — not what was acked — and keeps dispatching new messages.
import t from 'tap'
import { connect } from '@nats-io/transport-node'
import { groupControllerName } from '../../control-plane/cluster/index.js'
import { GroupStore } from '../../data-plane/persistent/store/group-store.js'
import { progressKey } from '../../server/consumers/index.js'
import type { RunningNode } from '../../server/node.js'
import { runtimeOf, testCluster, waitFor, waitForLeader } from '../server/cluster-helpers.js'
import { WireMember, ensureGroup, ensureStream, publish, request } from './node-helpers.js'

const group = 'default/orders/billing'

function holderOf(node: RunningNode): { holder: string | null; term: number } | undefined {
  const runtime = runtimeOf(node)
  const d = runtime.node.state.designations.get(groupControllerName('default', 'orders', 'billing', runtime.region))
  return d === undefined ? undefined : { holder: d.holder, term: d.controllerTerm }
}

/** The outstanding indexes of a node's stored copy of the group's progress. */
async function storedOutstanding(node: RunningNode): Promise<number[] | undefined> {
  const storage = node.storage()
  if (storage === undefined) return undefined
  const record = runtimeOf(node).node.state.groups.get(group)
  if (record === undefined) return undefined
  const copy = await GroupStore.open(storage).load(progressKey('default', 'orders', 'billing', record.createdIndex))
  return copy?.outstanding().map((o) => o.index)
}

t.test('three nodes: consume through a non-controller node; failover of the controller redelivers what was outstanding', { timeout: 180_000 }, async (t) => {
  const cluster = testCluster(t)
  const plans = await Promise.all(['a', 'b', 'c'].map((name) => cluster.plan(name)))
  const seeds = plans.map((plan) => `${plan.name}@127.0.0.1:${plan.peerPort}`)
  const nodes = await Promise.all(plans.map((plan) => cluster.start(plan, { nodeId: plan.name, seeds })))
  await Promise.all(nodes.map((node) => node.ready))
  await waitForLeader(nodes, 30_000)
  const admin = await connect({ servers: (nodes[0] as RunningNode).clientUrl })
  t.teardown(() => admin.close())
  await ensureStream(admin, 'orders', { replicasPerRegion: 3, ackDefault: 'majority' })
  await ensureGroup(admin, { stream: 'orders', name: 'billing', mode: 'load-balanced', maxInFlight: 100, ackWaitMs: 60_000 })
  await waitFor('a designated holder known everywhere', () => nodes.every((node) => holderOf(node)?.holder !== null && holderOf(node)?.holder === holderOf(nodes[0] as RunningNode)?.holder), 30_000)
  const first = holderOf(nodes[0] as RunningNode) as { holder: string; term: number }
  const controller = nodes.find((node) => node.nodeId === first.holder) as RunningNode
  const others = nodes.filter((node) => node !== controller)
  await waitFor('the controller running on its holder', () => controller.consumerGroups()?.snapshot(group) !== undefined, 30_000)
  t.equal(others.filter((node) => node.consumerGroups()?.snapshot(group) !== undefined).length, 0, 'no controller elsewhere')

  // The member is connected to a node that is not the controller; the publisher to another.
  const [memberNode, publisherNode] = others as [RunningNode, RunningNode]
  const ncMember = await connect({ servers: memberNode.clientUrl })
  t.teardown(() => ncMember.close())
  const ncPublisher = await connect({ servers: publisherNode.clientUrl })
  t.teardown(() => ncPublisher.close())
  const member = new WireMember(ncMember, 'orders.billing', 'remote-member')
  t.match(await member.join(), { ok: true, term: first.term, active: true })
  for (let i = 0; i < 5; i++) await publish(ncPublisher, 'orders', `order-${i}`, `o-${i}`)
  await member.until('5 messages through the routes', () => member.received.length >= 5, 30_000)
  t.same(member.received.map((r) => r.index), [0, 1, 2, 3, 4])
  t.ok(member.received.every((r) => r.header('Rg-Term') === String(first.term)), 'stamped with the controller term')
  for (const r of member.received.slice(0, 2)) t.same(await member.settle(r), { ok: true }, `ack ${r.index} through the routes`)
  const deadline = Date.now() + 30_000
  let copies: Array<number[] | undefined> = []
  while (Date.now() < deadline) {
    copies = await Promise.all(others.map((node) => storedOutstanding(node)))
    if (copies.every((c) => JSON.stringify(c) === '[2,3,4]')) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.same(copies, [[2, 3, 4], [2, 3, 4]], "the replicas' copies: 2, 3, 4 outstanding")

  // Kill the controller's node; another replica takes over at a higher term.
  await cluster.stop(controller.config.server.name)
  const survivor = others[0] as RunningNode
  await waitFor('a new holder at a higher term', () => (holderOf(survivor)?.term ?? 0) > first.term && holderOf(survivor)?.holder !== null && holderOf(survivor)?.holder !== first.holder, 90_000)
  const second = holderOf(survivor) as { holder: string; term: number }
  t.ok(others.some((node) => node.nodeId === second.holder), 'the new holder is a surviving replica')
  await member.until('the outstanding ones redelivered by the new controller', () => member.received.filter((r) => r.header('Rg-Term') === String(second.term)).length >= 3, 60_000)
  const redelivered = member.received.filter((r) => r.header('Rg-Term') === String(second.term))
  t.same(redelivered.map((r) => [r.index, r.deliveries]), [[2, 2], [3, 2], [4, 2]], 'exactly the outstanding ones, Rg-Deliveries 2, none of the acked')
  // The redeliveries the JOIN started can overtake the JOIN's own answer on the way back (the
  // controller publishes them at once from the engine's delivery cache): wait for the answer too.
  const rejoined = (): boolean => member.rejoins.some((answer) => answer['ok'] === true && answer['term'] === second.term)
  await member.until('the answer to the JOIN after the refused heartbeat', rejoined, 10_000).catch(() => undefined)
  t.ok(rejoined(), 'the member joined the new controller after its heartbeat was refused')
  for (const r of redelivered) t.same(await member.settle(r), { ok: true })
  await publish(ncPublisher, 'orders', 'order-5', 'o-5')
  await member.until('new messages from the new controller', () => member.received.some((r) => r.index === 5), 30_000)
  t.match(await request(ncMember, '$RG.C.default.orders.billing.INFO', {}), { ok: true, group: { term: second.term } })
  member.unsubscribe()
})
