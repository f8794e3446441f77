// Cluster routing end to end: three real `railgun server` nodes (startNode, RocksDB, TCP peer
// links on 127.0.0.1) and the official NATS client connected to different nodes. Checks: pub/sub
// and wildcards across nodes, exactly once with local and remote subscribers, queue groups once
// cluster-wide, request/reply with the responder on another node (also a request sent straight
// after connecting, the server-side 408 and the 503 that considers remote interest),
// unsubscribe stops forwarding, a node restart drops then resyncs its interest.
// Interest travels asynchronously (as between nats-server routes), so a test first waits until
// a probe crosses; probes are marked and left out of what is checked.
import t from 'tap'
import type { Test } from 'tap'
import { connect, headers, NoRespondersError, RequestError } from '@nats-io/transport-node'
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node'
import { formatHostPort } from '../../server/cluster/index.js'
import type { RunningNode } from '../../server/node.js'
import { testCluster, waitFor } from '../server/cluster-helpers.js'
import type { NodePlan } from '../server/cluster-helpers.js'

const probePrefix = 'probe:'

async function client(t: Test, node: RunningNode): Promise<NatsConnection> {
  const connection = await connect({ servers: `127.0.0.1:${node.clientPort}`, reconnect: false })
  t.teardown(() => connection.close())
  return connection
}

interface Collector {
  readonly messages: string[]
  probes: number
  readonly subscription: Subscription
}

function collect(connection: NatsConnection, subject: string, queue?: string): Collector {
  const collector: Collector = {
    messages: [],
    probes: 0,
    subscription: connection.subscribe(subject, {
      ...(queue === undefined ? {} : { queue }),
      callback: (_error, message: Msg) => {
        const text = message.string()
        if (text.startsWith(probePrefix)) collector.probes += 1
        else collector.messages.push(text)
      },
    }),
  }
  return collector
}

/** Publishes probes on `subject` from `publisher` until `arrived()`: the interest has crossed. */
async function probeUntil(publisher: NatsConnection, subject: string, arrived: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000
  while (!arrived()) {
    if (Date.now() > deadline) throw new Error(`interest never crossed: ${what}`)
    publisher.publish(subject, `${probePrefix}${Date.now()}`)
    await publisher.flush()
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

async function requestOutcome(connection: NatsConnection, subject: string, timeoutMs: number): Promise<string> {
  return connection.request(subject, 'ping', { timeout: timeoutMs }).then(
    (reply) => `reply:${reply.string()}`,
    (error: unknown) => (error instanceof RequestError && error.cause instanceof NoRespondersError ? 'no-responders' : `error:${(error as Error).message}`),
  )
}

t.test('cluster routing with the official NATS client across three nodes', { timeout: 120_000 }, async (t) => {
  const cluster = testCluster(t)
  const plans: NodePlan[] = []
  for (const name of ['r1', 'r2', 'r3']) plans.push(await cluster.plan(name))
  const seeds = plans.map((plan) => formatHostPort({ host: '127.0.0.1', port: plan.peerPort }))
  const nodes = await Promise.all(plans.map((plan) => cluster.start(plan, { seeds })))
  await Promise.all(nodes.map((node) => node.ready))
  const [n1, n2, n3] = nodes as [RunningNode, RunningNode, RunningNode]
  await waitFor('peer links up', () => nodes.every((node) => node.cluster()?.peerLink().upPeers().length === 2))

  await t.test('a subscriber on n1 receives what a client on n2 publishes; wildcards; no double delivery', async (t) => {
    const sub1 = await client(t, n1)
    const sub3 = await client(t, n3)
    const pub2 = await client(t, n2)
    const star = collect(sub1, 'orders.*')
    const tail = collect(sub3, 'orders.>')
    const hash = collect(sub3, 'orders.#')
    const local = collect(pub2, 'orders.eu') // n2 has local and remote interest
    await Promise.all([sub1.flush(), sub3.flush(), pub2.flush()])
    await probeUntil(pub2, 'orders.eu', () => star.probes > 0 && tail.probes > 0 && hash.probes > 0, 'orders.* and orders.> to n2')
    for (let index = 0; index < 100; index += 1) pub2.publish('orders.eu', `m${index}`)
    pub2.publish('orders', 'bare')
    await pub2.flush()
    await waitFor('all delivered', () => star.messages.length === 100 && tail.messages.length === 100 && hash.messages.length === 101 && local.messages.length === 100)
    await new Promise((resolve) => setTimeout(resolve, 100))
    const expected = Array.from({ length: 100 }, (_, index) => `m${index}`)
    t.same(star.messages, expected, 'n1 `orders.*`: each once, in order')
    t.same(tail.messages, expected, 'n3 `orders.>`: each once, in order')
    t.same(hash.messages, [...expected, 'bare'], 'n3 `orders.#` also matches `orders`')
    t.same(local.messages, expected, 'the publisher’s own node: each once')
    // Now the other way round: n1 publishes, n1 and n2 and n3 subscribers each get it once.
    const pub1 = sub1
    star.messages.length = 0
    local.messages.length = 0
    await probeUntil(pub1, 'orders.eu', () => local.probes > 0, 'orders.eu to n1')
    pub1.publish('orders.eu', 'back')
    await pub1.flush()
    await waitFor('delivered', () => star.messages.length === 1 && local.messages.length === 1)
    await new Promise((resolve) => setTimeout(resolve, 100))
    t.same([star.messages, local.messages], [['back'], ['back']], 'local and remote subscriber once each')
  })

  await t.test('queue group across three nodes: each message delivered exactly once', async (t) => {
    const connections = [await client(t, n1), await client(t, n2), await client(t, n3)]
    const members = connections.map((connection) => collect(connection, 'jobs.run', 'workers'))
    await Promise.all(connections.map((connection) => connection.flush()))
    const publisher = connections[0] as NatsConnection
    const count = 200
    for (let index = 0; index < count; index += 1) publisher.publish('jobs.run', `a${index}`)
    await publisher.flush()
    await waitFor('all delivered', () => members.reduce((sum, member) => sum + member.messages.length, 0) === count)
    await new Promise((resolve) => setTimeout(resolve, 100))
    let all = members.flatMap((member) => member.messages)
    t.equal(all.length, count, 'as many deliveries as messages')
    t.equal(new Set(all).size, count, 'no message twice')
    t.equal(members[0]?.messages.length, count, 'a member on the publisher’s node is preferred')

    // Without a local member, the peers holding members share the messages.
    await members[0]?.subscription.drain()
    for (const member of members) member.messages.length = 0
    await probeUntil(publisher, 'jobs.run', () => (members[1]?.probes ?? 0) > 0 && (members[2]?.probes ?? 0) > 0, 'members on n2 and n3 known to n1')
    for (let index = 0; index < count; index += 1) publisher.publish('jobs.run', `b${index}`)
    await publisher.flush()
    await waitFor('all delivered', () => members.reduce((sum, member) => sum + member.messages.length, 0) === count)
    await new Promise((resolve) => setTimeout(resolve, 100))
    all = members.flatMap((member) => member.messages)
    t.equal(all.length, count, 'as many deliveries as messages')
    t.equal(new Set(all).size, count, 'no message twice')
    t.ok((members[1]?.messages.length ?? 0) > 0 && (members[2]?.messages.length ?? 0) > 0, `spread over n2 (${members[1]?.messages.length}) and n3 (${members[2]?.messages.length})`)
  })

  await t.test('request/reply: responder on n3, requester on n1; 408 and 503 across nodes', async (t) => {
    const responder = await client(t, n3)
    responder.subscribe('svc.echo', { callback: (_error, message) => void message.respond(`echo:${message.string()}`) })
    responder.subscribe('svc.silent', { callback: () => undefined })
    await responder.flush()
    const requester = await client(t, n1)
    const deadline = Date.now() + 15_000
    while ((await requestOutcome(requester, 'svc.echo', 1_000)) !== 'reply:echo:ping') {
      if (Date.now() > deadline) throw new Error('the responder on n3 never became reachable from n1')
    }
    for (let index = 0; index < 20; index += 1) {
      const reply = await requester.request('svc.echo', String(index), { timeout: 5_000 })
      t.equal(reply.string(), `echo:${index}`)
    }
    // A fresh connection's very first act is a request: its inbox interest must reach n3 first.
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const fresh = await connect({ servers: `127.0.0.1:${n1.clientPort}`, reconnect: false })
      const reply = await fresh.request('svc.echo', `fresh${attempt}`, { timeout: 5_000 })
      t.equal(reply.string(), `echo:fresh${attempt}`, `fresh connection ${attempt}: answered across nodes`)
      await fresh.close()
    }
    await waitFor('the requester’s response streams closed on n1', () => n1.stats().openResponseStreams === 0)

    const timeout = headers()
    timeout.set('Rg-Timeout-Ms', '200')
    const late = await requester.request('svc.silent', 'x', { timeout: 10_000, headers: timeout })
    t.equal(late.headers?.code, 408, 'the requester’s node answers 408 when the remote responder is silent')
    t.equal(await requestOutcome(requester, 'svc.nobody', 10_000), 'no-responders', '503 when no node has interest')
  })

  await t.test('unsubscribe on the responder’s node stops forwarding (503 from the requester’s node)', async (t) => {
    const responder = await client(t, n2)
    const subscription = responder.subscribe('svc.leaving', { callback: (_error, message) => void message.respond('here') })
    await responder.flush()
    const requester = await client(t, n3)
    const deadline = Date.now() + 15_000
    while ((await requestOutcome(requester, 'svc.leaving', 1_000)) !== 'reply:here') {
      if (Date.now() > deadline) throw new Error('never reachable')
    }
    subscription.unsubscribe()
    await responder.flush()
    let outcome = ''
    while (Date.now() < deadline + 15_000 && outcome !== 'no-responders') outcome = await requestOutcome(requester, 'svc.leaving', 2_000)
    t.equal(outcome, 'no-responders', 'n3 no longer forwards: the interest is gone')
  })

  await t.test('a peer restart: its interest is dropped while down, resynced when back', async (t) => {
    const requester = await client(t, n1)
    const before = await client(t, n2)
    before.subscribe('svc.on2', { callback: (_error, message) => void message.respond('n2 before') })
    await before.flush()
    const deadline = Date.now() + 20_000
    while ((await requestOutcome(requester, 'svc.on2', 1_000)) !== 'reply:n2 before') if (Date.now() > deadline) throw new Error('never reachable')
    await cluster.stop('r2')
    let outcome = ''
    while (Date.now() < deadline && outcome !== 'no-responders') outcome = await requestOutcome(requester, 'svc.on2', 1_000)
    t.equal(outcome, 'no-responders', 'n1 dropped the interest of the stopped node')
    const restarted = await cluster.start(plans[1] as NodePlan, { seeds })
    await restarted.ready
    const after = await client(t, restarted)
    after.subscribe('svc.on2', { callback: (_error, message) => void message.respond('n2 after') })
    const watcher = collect(after, 'events.>')
    await after.flush()
    const until = Date.now() + 20_000
    while ((outcome = await requestOutcome(requester, 'svc.on2', 1_000)) !== 'reply:n2 after') if (Date.now() > until) throw new Error(`restarted node never reachable (${outcome})`)
    t.pass('the restarted node’s responder answers a request from n1')
    const pub3 = await client(t, n3)
    await probeUntil(pub3, 'events.x', () => watcher.probes > 0, 'n3 learnt the restarted node')
    pub3.publish('events.x', 'from n3')
    await pub3.flush()
    await waitFor('n3 → restarted n2', () => watcher.messages.length === 1)
    t.same(watcher.messages, ['from n3'])
  })
})
