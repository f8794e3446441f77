// The official NATS client (@nats-io/transport-node v3) against an in-process Railgun node:
// the NATS core protocol must work verb for verb.
import t from 'tap'
import type { Test } from 'tap'
import { connect, headers, NoRespondersError, RequestError } from '@nats-io/transport-node'
import type { Msg, NatsConnection } from '@nats-io/transport-node'
import { delay, startTestNode, until } from './helpers.js'

async function client(t: Test, port: number, options: Record<string, unknown> = {}): Promise<NatsConnection> {
  const connection = await connect({ servers: `127.0.0.1:${port}`, reconnect: false, ...options })
  t.teardown(() => connection.close())
  return connection
}

function collector(connection: NatsConnection, subject: string, options: { queue?: string; max?: number } = {}): Msg[] {
  const received: Msg[] = []
  connection.subscribe(subject, { ...options, callback: (_error, message) => void received.push(message) })
  return received
}

t.test('pub/sub with *, > and # wildcards', async (t) => {
  const node = await startTestNode(t)
  const nc = await client(t, node.clientPort)
  const star = collector(nc, 'orders.*.created')
  const tail = collector(nc, 'orders.>')
  const hash = collector(nc, 'orders.#')
  const hashMiddle = collector(nc, 'orders.#.created')
  const exact = collector(nc, 'orders.eu.created')
  await nc.flush()
  for (const subject of ['orders.eu.created', 'orders.us.deleted', 'orders', 'orders.eu.west.created', 'other.eu.created']) {
    nc.publish(subject, subject)
  }
  await nc.flush()
  await until(() => hash.length === 4, 3_000, 'hash deliveries')
  const subjects = (messages: Msg[]): string[] => messages.map((message) => message.subject).sort()
  t.same(subjects(star), ['orders.eu.created'])
  t.same(subjects(tail), ['orders.eu.created', 'orders.eu.west.created', 'orders.us.deleted'], '> needs at least one more token')
  t.same(subjects(hash), ['orders', 'orders.eu.created', 'orders.eu.west.created', 'orders.us.deleted'], '# matches zero or more')
  t.same(subjects(hashMiddle), ['orders.eu.created', 'orders.eu.west.created'])
  t.same(subjects(exact), ['orders.eu.created'])
  t.equal(star[0]?.string(), 'orders.eu.created', 'payload intact')
})

t.test('queue groups: one member per group gets each message; plain subscribers all get it', async (t) => {
  const node = await startTestNode(t)
  const a = await client(t, node.clientPort)
  const b = await client(t, node.clientPort)
  const groupOne = [collector(a, 'work.>', { queue: 'one' }), collector(b, 'work.>', { queue: 'one' }), collector(b, 'work.*', { queue: 'one' })]
  const groupTwo = [collector(a, 'work.job', { queue: 'two' }), collector(b, 'work.job', { queue: 'two' })]
  const plainA = collector(a, 'work.job')
  const plainB = collector(b, 'work.*')
  await a.flush()
  await b.flush()
  const publisher = await client(t, node.clientPort)
  const count = 300
  for (let index = 0; index < count; index += 1) publisher.publish('work.job', String(index))
  await publisher.flush()
  await until(() => plainA.length === count && plainB.length === count, 5_000, 'plain deliveries')
  await delay(50)
  const ids = (groups: Msg[][]): string[] => groups.flat().map((message) => message.string()).sort()
  const expected = Array.from({ length: count }, (_, index) => String(index)).sort()
  t.same(ids(groupOne), expected, 'group one: every message exactly once')
  t.same(ids(groupTwo), expected, 'group two: every message exactly once')
  t.ok(groupOne.every((member) => member.length > 0), 'load spread across group one')
  t.equal(plainA.length, count)
  t.equal(plainB.length, count)
})

t.test('headers: multi-valued, key case preserved', async (t) => {
  const node = await startTestNode(t)
  const nc = await client(t, node.clientPort)
  const received = collector(nc, 'h')
  await nc.flush()
  const sent = headers()
  sent.append('X-Custom-Case', 'one')
  sent.append('X-Custom-Case', 'two')
  sent.append('lower-key', 'value with: colon')
  nc.publish('h', 'body', { headers: sent })
  await until(() => received.length === 1)
  const got = received[0]?.headers
  t.same(got?.values('X-Custom-Case'), ['one', 'two'])
  t.equal(got?.get('lower-key'), 'value with: colon')
  t.ok(got?.keys().includes('X-Custom-Case'), 'key case preserved')
  t.equal(received[0]?.string(), 'body')
})

t.test('an empty header set (nats.js sends a zero-length header block) arrives as a plain message', async (t) => {
  const node = await startTestNode(t)
  const nc = await client(t, node.clientPort)
  const received = collector(nc, 'empty-headers')
  await nc.flush()
  nc.publish('empty-headers', 'body', { headers: headers() })
  await nc.flush()
  await until(() => received.length === 1)
  t.equal(received[0]?.string(), 'body')
  t.equal(nc.isClosed(), false, 'the connection stays open (no Parser Error)')
})

t.test('request/reply and no responders', async (t) => {
  const node = await startTestNode(t)
  const responder = await client(t, node.clientPort)
  responder.subscribe('svc.echo', { callback: (_error, message) => void message.respond(`echo:${message.string()}`) })
  await responder.flush()
  const requester = await client(t, node.clientPort)
  for (let index = 0; index < 20; index += 1) {
    const reply = await requester.request('svc.echo', String(index), { timeout: 2_000 })
    t.equal(reply.string(), `echo:${index}`)
  }
  const started = Date.now()
  const error = await requester.request('svc.nobody', 'x', { timeout: 5_000 }).then(
    () => undefined,
    (failure: unknown) => failure,
  )
  t.ok(error instanceof RequestError, 'request rejects')
  t.ok((error as Error).cause instanceof NoRespondersError, 'cause is NoRespondersError')
  t.ok(Date.now() - started < 1_000, 'answered at once, not by the client timeout')
  await until(() => node.stats().openResponseStreams === 0, 2_000, 'response streams closed')
})

t.test('server-side 408 timeout from Rg-Timeout-Ms', async (t) => {
  const node = await startTestNode(t)
  const silent = await client(t, node.clientPort)
  silent.subscribe('svc.slow', { callback: () => undefined })
  await silent.flush()
  const requester = await client(t, node.clientPort)
  const timeout = headers()
  timeout.set('Rg-Timeout-Ms', '150')
  const started = Date.now()
  const reply = await requester.request('svc.slow', 'x', { timeout: 5_000, headers: timeout })
  const elapsedMs = Date.now() - started
  t.equal(reply.headers?.code, 408)
  t.equal(reply.headers?.description, 'Request Timeout')
  t.equal(reply.data.length, 0)
  t.ok(elapsedMs >= 140 && elapsedMs < 2_000, `408 after ~150 ms (took ${elapsedMs})`)
})

t.test('server-side 408 from responses.defaultTimeoutMs', async (t) => {
  const node = await startTestNode(t, { responses: { defaultTimeoutMs: 100 } })
  const silent = await client(t, node.clientPort)
  silent.subscribe('svc.slow', { callback: () => undefined })
  await silent.flush()
  const requester = await client(t, node.clientPort)
  const reply = await requester.request('svc.slow', 'x', { timeout: 5_000 })
  t.equal(reply.headers?.code, 408)
})

t.test('auto-unsubscribe after max messages', async (t) => {
  const node = await startTestNode(t)
  const nc = await client(t, node.clientPort)
  const received = collector(nc, 'limited', { max: 3 })
  await nc.flush()
  await until(() => node.stats().subscriptions === 1)
  for (let index = 0; index < 10; index += 1) nc.publish('limited', String(index))
  await nc.flush()
  await until(() => node.stats().subscriptions === 0, 2_000, 'server removed the subscription')
  await delay(50)
  t.same(received.map((message) => message.string()), ['0', '1', '2'])
})

t.test('binary payloads with CRLF and a 512 KiB payload arrive intact', async (t) => {
  const node = await startTestNode(t)
  const nc = await client(t, node.clientPort)
  const received = collector(nc, 'bin')
  await nc.flush()
  const tricky = new Uint8Array([...Buffer.from('\r\nPUB x 1\r\nMSG \r\n'), ...Array.from({ length: 256 }, (_, index) => index), 13, 10])
  const big = new Uint8Array(512 * 1024)
  for (let index = 0; index < big.length; index += 1) big[index] = (index * 7 + 13) & 0xff
  big.set([13, 10, 13, 10], 1000)
  nc.publish('bin', tricky)
  nc.publish('bin', big)
  nc.publish('bin', new Uint8Array(0))
  await until(() => received.length === 3, 5_000, 'binary deliveries')
  t.same(Buffer.from(received[0]?.data ?? []), Buffer.from(tricky))
  t.ok(Buffer.from(received[1]?.data ?? []).equals(Buffer.from(big)), '512 KiB payload byte-exact')
  t.equal(received[2]?.data.length, 0)
})

t.test('echo false: a connection does not receive its own messages', async (t) => {
  const node = await startTestNode(t)
  const quiet = await client(t, node.clientPort, { noEcho: true })
  const other = await client(t, node.clientPort)
  const own = collector(quiet, 'chat')
  const theirs = collector(other, 'chat')
  await quiet.flush()
  await other.flush()
  quiet.publish('chat', 'from quiet')
  other.publish('chat', 'from other')
  await until(() => theirs.length === 2 && own.length === 1, 3_000, 'deliveries')
  await delay(50)
  t.same(own.map((message) => message.string()), ['from other'])
})

t.test('verbose mode: the client works with +OK after every op', async (t) => {
  const node = await startTestNode(t)
  const nc = await client(t, node.clientPort, { verbose: true })
  const received = collector(nc, 'v.>')
  await nc.flush()
  nc.publish('v.one', '1')
  const reply = nc.subscribe('v.svc', { callback: (_error, message) => void message.respond('ok') })
  await nc.flush()
  t.equal((await nc.request('v.svc', 'x', { timeout: 2_000 })).string(), 'ok')
  await until(() => received.length >= 1)
  t.equal(received[0]?.string(), '1')
  reply.unsubscribe()
  await nc.flush()
})
