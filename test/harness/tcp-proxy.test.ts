// The proxy's behaviour on loopback (not performance): latency is added, blackhole holds and
// heal releases, drop discards, reset cuts, counters count; a mesh partitions groups.
import t from 'tap'
import type { Test } from 'tap'
import { TcpProxy } from './tcp-proxy.js'
import { ProxyMesh } from './proxy-mesh.js'
import { openEchoClient, startEchoServer } from './echo.js'
import type { EchoClient } from './echo.js'

async function proxiedEcho(t: Test): Promise<{ proxy: TcpProxy; client: EchoClient }> {
  const echo = await startEchoServer()
  const proxy = new TcpProxy({ target: { host: '127.0.0.1', port: echo.port }, seed: 7 })
  const { port } = await proxy.start()
  const client = await openEchoClient(port)
  t.teardown(async () => {
    client.close()
    await proxy.stop()
    await echo.close()
  })
  return { proxy, client }
}

t.test('passes bytes both ways and counts them', async (t) => {
  const { proxy, client } = await proxiedEcho(t)
  await client.roundTrip('hello', 2_000)
  const stats = proxy.stats()
  t.equal(stats.upstream.bytesForwarded, 5)
  t.equal(stats.downstream.bytesForwarded, 5)
  t.equal(stats.connectionsAccepted, 1)
  t.equal(stats.connectionsOpen, 1)
})

t.test('adds the configured latency in each direction (loosely bounded above)', async (t) => {
  const { proxy, client } = await proxiedEcho(t)
  await client.roundTrip('warm', 2_000)
  proxy.setLatency(40, 10, 'upstream')
  proxy.setLatency(40, 10, 'downstream')
  for (let i = 0; i < 3; i += 1) {
    const rttMs = await client.roundTrip(`ping${i}`, 3_000)
    t.ok(rttMs >= 80 - 1, `round trip ${rttMs.toFixed(1)}ms >= 80ms configured`)
    t.ok(rttMs < 80 + 20 + 2_000, `round trip ${rttMs.toFixed(1)}ms not wildly above`)
  }
  proxy.setLatency(0, 0)
  t.ok((await client.roundTrip('fast', 2_000)) < 80, 'latency removed at run time')
})

t.test('blackhole holds the connection and passes nothing; heal delivers what was held, in order', async (t) => {
  const { proxy, client } = await proxiedEcho(t)
  await client.roundTrip('a', 2_000)
  proxy.blackhole('upstream')
  await t.rejects(client.roundTrip('bcd', 300), /no echo within 300ms/)
  t.equal(proxy.stats().upstream.bytesHeld, 3, 'bytes held, not lost')
  t.equal(proxy.stats().connectionsOpen, 1, 'connection still open')
  proxy.heal()
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(client.received(), 'abcd', 'held bytes arrive after heal, in order')
  await client.roundTrip('e', 2_000)
  t.pass('traffic flows again')
})

t.test('blackhole of the downstream direction alone stops the replies', async (t) => {
  const { proxy, client } = await proxiedEcho(t)
  proxy.blackhole('downstream')
  await t.rejects(client.roundTrip('x', 200))
  t.equal(proxy.stats().upstream.bytesForwarded, 1, 'the request got through')
  proxy.heal('downstream')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(client.received(), 'x')
})

t.test('drop discards bytes while the connection stays up', async (t) => {
  const { proxy, client } = await proxiedEcho(t)
  proxy.drop('upstream')
  await t.rejects(client.roundTrip('lost', 200))
  t.equal(proxy.stats().upstream.bytesDropped, 4)
  proxy.heal()
  await client.roundTrip('kept', 2_000)
  t.equal(client.received(), 'kept', 'dropped bytes never arrive')
})

t.test('resetAll cuts open connections; new ones are accepted', async (t) => {
  const { proxy, client } = await proxiedEcho(t)
  await client.roundTrip('a', 2_000)
  const closed = new Promise<void>((resolve) => client.socket.once('close', () => resolve()))
  proxy.resetAll()
  await closed
  t.equal(proxy.stats().connectionsOpen, 0)
  const again = await openEchoClient(proxy.address.port)
  await again.roundTrip('b', 2_000)
  again.close()
})

t.test('bandwidth limit spreads a burst over time', async (t) => {
  const { proxy, client } = await proxiedEcho(t)
  proxy.setBandwidth(20_000, 'upstream')
  const rttMs = await client.roundTrip('z'.repeat(4_000), 5_000)
  t.ok(rttMs >= 150, `4000 bytes at 20000 B/s take >= ~200ms (${rttMs.toFixed(0)}ms)`)
})

t.test('mesh of three echo servers: partition between groups, then heal', async (t) => {
  const servers = await Promise.all([startEchoServer(), startEchoServer(), startEchoServer()])
  const names = ['a', 'b', 'c'] as const
  const mesh = new ProxyMesh({ seed: 3 })
  for (const [i, name] of names.entries()) await mesh.addNode(name, { host: '127.0.0.1', port: servers[i]!.port })
  const clients = new Map<string, EchoClient>()
  for (const from of names) for (const to of names) if (from !== to) clients.set(`${from}${to}`, await openEchoClient(mesh.addressFor(from, to).port))
  t.teardown(async () => {
    for (const client of clients.values()) client.close()
    await mesh.stop()
    await Promise.all(servers.map((s) => s.close()))
  })
  const reachable = async (link: string): Promise<boolean> =>
    clients
      .get(link)!
      .roundTrip('.', 250)
      .then(
        () => true,
        () => false,
      )
  for (const link of clients.keys()) t.ok(await reachable(link), `${link} up before the partition`)

  mesh.partition(['a', 'b'], ['c'])
  t.ok(await reachable('ab'), 'a → b inside a group')
  t.ok(await reachable('ba'), 'b → a inside a group')
  for (const link of ['ac', 'bc', 'ca', 'cb']) t.notOk(await reachable(link), `${link} cut by the partition`)

  mesh.heal()
  await new Promise((resolve) => setTimeout(resolve, 100))
  for (const link of clients.keys()) t.ok(await reachable(link), `${link} up after heal`)

  mesh.setRegionLatencies({ a: 'eu', b: 'eu', c: 'us' }, { eu: { us: 120 } })
  const crossMs = await clients.get('ac')!.roundTrip('x', 3_000)
  const localMs = await clients.get('ab')!.roundTrip('x', 3_000)
  t.ok(crossMs >= 119, `cross-region round trip ${crossMs.toFixed(0)}ms >= 120ms`)
  t.ok(localMs < 100, `in-region round trip ${localMs.toFixed(0)}ms stays small`)
})
