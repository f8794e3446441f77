// Cluster routing between in-process routers over the memory transport (no sockets): a Router
// per node, `attachClusterRoutes` on a MemoryTransport, subscriptions held by fake connections
// that record deliveries. Checks: forwarding follows interest (plain, wildcards), one copy per
// peer and no double delivery with local + remote interest, queue groups served once
// cluster-wide (local member first), node-local in-process subscribers never reached from a peer,
// unsubscribe stops forwarding, link down drops interest and a new link resyncs, a lost interest
// frame is repaired, a restarted peer (new router, same id) is learnt afresh, drops counted.
import t from 'tap'
import type { Test } from 'tap'
import { configWith } from '../../shared/config/index.js'
import { systemClock } from '../../shared/clock.js'
import { createSilentLogger } from '../../shared/log.js'
import { MemoryHub } from '../../shared/transport/index.js'
import type { MemoryTransport, MemoryTransportOptions } from '../../shared/transport/index.js'
import { Router } from '../../server/router.js'
import type { LocalMessage } from '../../server/router.js'
import { Subscription } from '../../server/subscription.js'
import type { ClientConnection } from '../../server/client-connection.js'
import { attachClusterRoutes, routeFrameKinds, routeLimits } from '../../server/routes/index.js'
import type { ClusterRoutes, PeerRouteStats } from '../../server/routes/index.js'
import { createSeededRandom } from '../harness/seeded-random.js'

/** Records what the router delivers to it, as a client connection would write MSG lines. */
class FakeConnection {
  closing = false
  echo = true
  readonly received: Array<{ sid: string; subject: string; replyTo: string | undefined; payload: string }> = []
  deliver(subscription: Subscription, subject: Uint8Array, replyTo: Uint8Array | undefined, _headerBlock: Uint8Array | undefined, payload: Uint8Array): boolean {
    subscription.delivered += 1
    this.received.push({ sid: subscription.sid, subject: Buffer.from(subject).toString(), replyTo: replyTo === undefined ? undefined : Buffer.from(replyTo).toString(), payload: Buffer.from(payload).toString() })
    return true
  }
}

interface TestNode {
  readonly id: string
  readonly router: Router
  readonly transport: MemoryTransport
  readonly routes: ClusterRoutes
  subscribe(subject: string, queue?: string): { connection: FakeConnection; subscription: Subscription }
  unsubscribe(subscription: Subscription): void
  publish(subject: string, payload?: string): number
  peer(id: string): PeerRouteStats | undefined
  stop(): Promise<void>
}

let sidCounter = 0
let seed = 1

async function startTestNode(t: Test, hub: MemoryHub, id: string, transportOptions: Partial<MemoryTransportOptions> = {}): Promise<TestNode> {
  const random = createSeededRandom(seed++)
  const router = new Router(configWith({}), systemClock, createSilentLogger(), random.next)
  const transport = hub.createTransport({ nodeId: id, reconnectDelayMs: 5, ...transportOptions })
  await transport.start()
  const routes = attachClusterRoutes({ router, transport, logger: createSilentLogger(), clock: systemClock, random: random.next, limits: { retryIntervalMs: 20, resyncRequestIntervalMs: 50 } })
  let stopped = false
  const node: TestNode = {
    id,
    router,
    transport,
    routes,
    subscribe(subject, queue) {
      const connection = new FakeConnection()
      sidCounter += 1
      const subscription = new Subscription(connection as unknown as ClientConnection, String(sidCounter), subject, queue)
      router.addSubscription(subscription)
      return { connection, subscription }
    },
    unsubscribe(subscription) {
      router.removeSubscription(subscription)
    },
    publish(subject, payload = 'x') {
      return router.publishLocal(subject, undefined, undefined, Buffer.from(payload))
    },
    peer(peerId) {
      return routes.stats().peers.find((entry) => entry.peer === peerId)
    },
    async stop() {
      if (stopped) return
      stopped = true
      routes.close()
      router.stop()
      await transport.stop()
    },
  }
  t.teardown(() => node.stop())
  return node
}

async function mesh(t: Test, ids: readonly string[], transportOptions: Partial<MemoryTransportOptions> = {}): Promise<{ hub: MemoryHub; nodes: TestNode[] }> {
  const hub = new MemoryHub()
  const nodes: TestNode[] = []
  for (const id of ids) nodes.push(await startTestNode(t, hub, id, transportOptions))
  for (const a of nodes) for (const b of nodes) if (a.id < b.id) a.transport.connect({ id: b.id, host: 'memory', port: 0 })
  await until(() => nodes.every((node) => node.transport.upPeers().length === ids.length - 1), 'links up')
  return { hub, nodes }
}

async function until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 30))

t.test('a publish reaches subscribers on other nodes, wildcards included; one copy per peer', async (t) => {
  const { nodes } = await mesh(t, ['n1', 'n2', 'n3'])
  const [n1, n2, n3] = nodes as [TestNode, TestNode, TestNode]
  const star = n2.subscribe('orders.*')
  const star2 = n2.subscribe('orders.*') // a second subscriber on n2: same entry, no new copy
  const hash = n3.subscribe('orders.#')
  const tail = n3.subscribe('orders.>')
  const local = n1.subscribe('orders.eu')
  await until(() => n1.router.hasInterest('orders.eu') && n1.routes.stats().remoteInterest === 3, 'n1 knows n2 and n3')
  t.equal(n1.routes.stats().localInterest, 1)
  t.equal(n1.publish('orders.eu', 'm1'), 3, 'one local delivery + one copy to each of two peers')
  n1.publish('orders', 'm2') // only `orders.#` matches zero more tokens
  n1.publish('other', 'm3') // nobody
  await until(() => hash.connection.received.length === 2, 'n3 got both')
  await settle()
  t.same(star.connection.received.map((m) => m.payload), ['m1'], 'n2 `orders.*` once')
  t.same(star2.connection.received.map((m) => m.payload), ['m1'], 'its second subscriber once too')
  t.same(hash.connection.received.map((m) => m.payload), ['m1', 'm2'], 'n3 `orders.#`: orders.eu and orders')
  t.same(tail.connection.received.map((m) => m.payload), ['m1'], 'n3 `orders.>` once (same frame as `#`)')
  t.same(local.connection.received.map((m) => m.payload), ['m1'], 'the local subscriber once')
  t.equal(n1.peer('n2')?.msgsOut, 1, 'one frame to n2 for two subscribers')
  t.equal(n1.peer('n3')?.msgsOut, 2, 'one frame per message to n3 for two matching patterns')
  t.equal(n3.peer('n1')?.msgsIn, 2)
  t.equal(n2.peer('n1')?.msgsOut, 0, 'nothing is ever forwarded back (one hop)')
  t.equal(n3.peer('n2')?.msgsOut, 0)
})

t.test('queue groups: one member cluster-wide, a local member first', async (t) => {
  const { nodes } = await mesh(t, ['n1', 'n2', 'n3'])
  const [n1, n2, n3] = nodes as [TestNode, TestNode, TestNode]
  const members = [n2.subscribe('jobs.*', 'workers'), n2.subscribe('jobs.>', 'workers'), n3.subscribe('jobs.run', 'workers')]
  const plain = n3.subscribe('jobs.run')
  await until(() => n1.routes.stats().remoteInterest === 4, 'n1 knows the members')
  const count = 300
  for (let index = 0; index < count; index += 1) n1.publish('jobs.run', String(index))
  await until(() => members.reduce((sum, member) => sum + member.connection.received.length, 0) === count && plain.connection.received.length === count, 'all delivered')
  await settle()
  const got = members.flatMap((member) => member.connection.received.map((m) => m.payload))
  t.equal(got.length, count, 'each message reached one member')
  t.equal(new Set(got).size, count, 'no message twice')
  t.ok(members[0]!.connection.received.length + members[1]!.connection.received.length > 0 && members[2]!.connection.received.length > 0, 'both peers holding members got some')
  t.equal(plain.connection.received.length, count, 'the plain subscriber on n3 got every one')
  t.ok((n1.peer('n3')?.msgsOut ?? 0) === count, 'n3 got one frame per message (plain + group share it when chosen)')

  const localMember = n1.subscribe('jobs.run', 'workers')
  for (const member of members) member.connection.received.length = 0
  for (let index = 0; index < 50; index += 1) n1.publish('jobs.run', `local-${index}`)
  await settle()
  t.equal(localMember.connection.received.length, 50, 'a local member takes them all')
  t.equal(members.reduce((sum, member) => sum + member.connection.received.length, 0), 0, 'no remote member does')
})

t.test('node-local in-process subscribers never get what a peer forwards; cluster ones do', async (t) => {
  const { nodes } = await mesh(t, ['n1', 'n2'])
  const [n1, n2] = nodes as [TestNode, TestNode]
  const nodeLocal: LocalMessage[] = []
  const clusterWide: LocalMessage[] = []
  n2.router.subscribeLocal('$RG.API.>', (message) => nodeLocal.push(message))
  const unsubscribe = n2.router.subscribeLocal('svc.controller', (message) => clusterWide.push(message), { cluster: true })
  t.throws(() => n2.router.subscribeLocal('svc..bad', () => undefined, { cluster: true }), /invalid cluster-wide subscription pattern/, 'a pattern peers would refuse is refused here')
  n2.subscribe('$RG.API.>') // a client watching the API on n2
  await until(() => n1.router.hasInterest('svc.controller') && n1.router.hasInterest('$RG.API.STREAM.LIST'), 'n1 knows')
  t.notOk(n1.router.hasInterest('svc.other'), 'hasInterest is per subject')
  n1.publish('$RG.API.STREAM.LIST')
  n1.publish('svc.controller', 'hello')
  await until(() => clusterWide.length === 1, 'the cluster-wide subscriber got it')
  await settle()
  t.equal(nodeLocal.length, 0, 'the node-local API subscriber on n2 was not reached from n1')
  t.equal(clusterWide[0]?.subject, 'svc.controller')
  n2.publish('$RG.API.STREAM.LIST')
  t.equal(nodeLocal.length, 1, 'a local publish still reaches it')
  t.equal(n2.routes.stats().localInterest, 2, 'only the cluster-wide in-process subscriber and the client count as n2 interest')

  unsubscribe()
  unsubscribe() // idempotent
  await until(() => !n1.router.hasInterest('svc.controller'), 'n1 forgot svc.controller')
  const before = n1.peer('n2')?.msgsOut ?? 0
  t.equal(n1.publish('svc.controller'), 0, 'no one anywhere')
  t.equal(n1.peer('n2')?.msgsOut, before, 'nothing forwarded after the unsubscribe')
})

t.test('system events ($RG.events.>) stay on the node that publishes them', async (t) => {
  const { nodes } = await mesh(t, ['n1', 'n2'])
  const [n1, n2] = nodes as [TestNode, TestNode]
  const watcher = n2.subscribe('$RG.events.>')
  await until(() => n1.routes.stats().remoteInterest === 1, 'n1 knows the interest')
  t.notOk(n1.router.hasInterest('$RG.events.stream.created'), 'not counted as remote interest')
  n1.publish('$RG.events.stream.created')
  await settle()
  t.equal(watcher.connection.received.length, 0, 'each node publishes its own events: no duplicate from a peer')
})

t.test('unsubscribe stops forwarding; link down drops interest; heal resyncs', async (t) => {
  const { hub, nodes } = await mesh(t, ['n1', 'n2'])
  const [n1, n2] = nodes as [TestNode, TestNode]
  const first = n2.subscribe('a.b')
  const second = n2.subscribe('a.b')
  await until(() => n1.router.hasInterest('a.b'), 'n1 knows a.b')
  n2.unsubscribe(first.subscription)
  await settle()
  t.ok(n1.router.hasInterest('a.b'), 'one of two subscribers left: still interest')
  n2.unsubscribe(second.subscription)
  await until(() => !n1.router.hasInterest('a.b'), 'n1 forgot a.b')
  t.equal(n1.publish('a.b'), 0, 'nothing forwarded')
  t.equal(n1.peer('n2')?.msgsOut, 0)

  const kept = n2.subscribe('kept.>')
  await until(() => n1.router.hasInterest('kept.x'), 'n1 knows kept.>')
  hub.isolate('n2')
  await until(() => !n1.router.hasInterest('kept.x'), 'link down: interest dropped')
  t.equal(n1.peer('n2')?.up, false)
  const whileDown = n2.subscribe('while.down')
  hub.heal()
  await until(() => n1.router.hasInterest('kept.x') && n1.router.hasInterest('while.down'), 'snapshot after the link came back')
  t.equal(n1.peer('n2')?.synced, true)
  n1.publish('kept.x', 'after')
  await until(() => kept.connection.received.length === 1, 'delivered over the new link')
  t.equal(whileDown.connection.received.length, 0)
})

t.test('a lost interest frame is noticed (gap) and repaired by a snapshot', async (t) => {
  const { hub, nodes } = await mesh(t, ['n1', 'n2'])
  const [n1, n2] = nodes as [TestNode, TestNode]
  n2.subscribe('before')
  await until(() => n1.router.hasInterest('before'), 'n1 knows `before`')
  let lost = 0
  hub.setDropFilter((from, _to, channel, payload) => {
    if (from !== 'n2' || channel !== 'route' || payload[0] !== routeFrameKinds.delta || lost > 0) return false
    lost += 1
    return true
  })
  n2.subscribe('lost.one') // this delta is lost on the way
  await settle()
  t.notOk(n1.router.hasInterest('lost.one'), 'n1 missed it')
  hub.setDropFilter(undefined)
  n2.subscribe('next.one') // the next delta shows the gap
  await until(() => n1.router.hasInterest('lost.one') && n1.router.hasInterest('next.one'), 'repaired')
  t.ok((n1.peer('n2')?.resyncsRequested ?? 0) >= 1, 'n1 asked for a snapshot')
})

t.test('a restarted peer (new router, same id) is learnt afresh; its old interest is gone', async (t) => {
  const { hub, nodes } = await mesh(t, ['n1', 'n2'])
  const [n1, n2] = nodes as [TestNode, TestNode]
  n2.subscribe('old.interest')
  await until(() => n1.router.hasInterest('old.interest'), 'n1 knows old.interest')
  await n2.stop()
  await until(() => !n1.router.hasInterest('old.interest'), 'dropped when n2 went away')
  const restarted = await startTestNode(t, hub, 'n2')
  const got = restarted.subscribe('new.interest')
  restarted.transport.connect({ id: 'n1', host: 'memory', port: 0 })
  await until(() => n1.router.hasInterest('new.interest'), 'n1 learnt the restarted n2')
  t.notOk(n1.router.hasInterest('old.interest'))
  n1.publish('new.interest', 'hi')
  await until(() => got.connection.received.length === 1, 'delivered to the restarted node')
})

t.test('a slow peer drops (counted), an oversized message is dropped (counted), nothing breaks', async (t) => {
  const { nodes } = await mesh(t, ['n1', 'n2'], { outboundLimits: { framesMax: 20 } })
  const [n1, n2] = nodes as [TestNode, TestNode]
  const sub = n2.subscribe('burst')
  await until(() => n1.router.hasInterest('burst'), 'n1 knows burst')
  // 30 KiB each: about two per batch frame, so the 20-frame queue overflows.
  const filler = 'x'.repeat(30 * 1024)
  for (let index = 0; index < 100; index += 1) n1.publish('burst', `${index}:${filler}`)
  await settle() // batches go out at the end of the turn
  const stats = n1.peer('n2') as PeerRouteStats
  t.equal(stats.msgsOut + stats.dropsRefused, 100, 'every message either queued or counted as dropped')
  t.ok(stats.dropsRefused > 0, `${stats.dropsRefused} dropped when the peer's queue was full`)
  await until(() => sub.connection.received.length === stats.msgsOut, 'what was queued arrives')
  const huge = new Uint8Array(routeLimits.messageFrameBytesMax)
  t.equal(n1.router.publishLocal('burst', undefined, undefined, huge), 0, 'not forwarded')
  t.equal(n1.peer('n2')?.dropsOversize, 1, 'counted as oversize')
  n1.publish('burst', 'after')
  await until(() => sub.connection.received.at(-1)?.payload === 'after', 'routing goes on')
})

t.test('routes attached after the links came up (as in startNode) still exchange interest', async (t) => {
  const hub = new MemoryHub()
  const routers = ['n1', 'n2'].map(() => new Router(configWith({}), systemClock, createSilentLogger()))
  const transports = ['n1', 'n2'].map((id) => hub.createTransport({ nodeId: id, reconnectDelayMs: 5 }))
  for (const transport of transports) {
    await transport.start()
    t.teardown(() => transport.stop())
  }
  ;(transports[0] as MemoryTransport).connect({ id: 'n2', host: 'memory', port: 0 })
  await until(() => hub.isLinked('n1', 'n2'), 'linked')
  const connection = new FakeConnection()
  ;(routers[1] as Router).addSubscription(new Subscription(connection as unknown as ClientConnection, 'early', 'early.subject', undefined))
  // n2 attaches first: its snapshot to n1 is lost (n1 has no routes yet); n1 must ask for it.
  const attached = [1, 0].map((index) => attachClusterRoutes({ router: routers[index] as Router, transport: transports[index] as MemoryTransport, logger: createSilentLogger(), clock: systemClock }))
  t.teardown(() => {
    for (const routes of attached) routes.close()
  })
  await until(() => (routers[0] as Router).hasInterest('early.subject'), 'n1 learnt n2’s interest made before either attached')
  ;(routers[0] as Router).publishLocal('early.subject', undefined, undefined, Buffer.from('hi'))
  await until(() => connection.received.length === 1, 'delivered')
})

t.test('messages to one peer in one turn travel in batch frames, in order', async (t) => {
  const { hub, nodes } = await mesh(t, ['n1', 'n2'])
  const [n1, n2] = nodes as [TestNode, TestNode]
  const sub = n2.subscribe('batch.*')
  await until(() => n1.router.hasInterest('batch.x'), 'n1 knows batch.*')
  const kinds: number[] = []
  hub.setDropFilter((from, _to, channel, payload) => {
    if (from === 'n1' && channel === 'route') kinds.push(payload[0] as number)
    return false
  })
  for (let index = 0; index < 500; index += 1) n1.publish(`batch.${index % 3}`, String(index))
  n2.subscribe('late.sub') // an interest frame from n2 in between changes nothing on n1's side
  await until(() => sub.connection.received.length === 500, 'all 500 arrived')
  t.same(
    sub.connection.received.map((message) => message.payload),
    Array.from({ length: 500 }, (_, index) => String(index)),
    'in publish order',
  )
  t.ok(kinds.length >= 1 && kinds.length <= 3, `500 small messages took ${kinds.length} frame(s)`)
  t.ok(kinds.every((kind) => kind === routeFrameKinds.batch), 'batch frames')
  t.equal(n1.peer('n2')?.msgsOut, 500, 'msgsOut counts messages, not frames')
  t.equal(n2.peer('n1')?.msgsIn, 500)
})
