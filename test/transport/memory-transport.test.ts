// The memory twin's test hooks: partition, isolate, heal, drop filter, readiness.
import t from 'tap'
import type { Test } from 'tap'
import { MemoryHub } from '../../shared/transport/index.js'
import type { MemoryTransport } from '../../shared/transport/index.js'
import { collectFrames, delay, waitForStatus } from './wait.js'

async function cluster(t: Test, ids: readonly string[]): Promise<{ hub: MemoryHub; nodes: Map<string, MemoryTransport> }> {
  const hub = new MemoryHub()
  const nodes = new Map<string, MemoryTransport>()
  for (const id of ids) {
    const transport = hub.createTransport({ nodeId: id, reconnectDelayMs: 5 })
    t.teardown(() => transport.stop())
    await transport.start()
    nodes.set(id, transport)
  }
  for (const a of ids) for (const b of ids) if (a < b) nodes.get(a)!.connect({ id: b, host: 'memory', port: 0 })
  await delay(10)
  return { hub, nodes }
}

t.test('partition takes crossing links down with a reason; heal brings them back', async (t) => {
  const { hub, nodes } = await cluster(t, ['a', 'b', 'c'])
  t.ok(hub.isLinked('a', 'c'))
  const down = waitForStatus(nodes.get('c')!, 'a', 'down')
  hub.partition(['a', 'b'], ['c'])
  t.match((await down).reason, /partitioned/)
  t.equal(nodes.get('a')!.send('c', 'raft', Uint8Array.of(1)), false)
  t.same(nodes.get('a')!.upPeers(), ['b'])
  await delay(30)
  t.notOk(hub.isLinked('a', 'c'), 're-dial attempts stay refused while partitioned')
  const up = waitForStatus(nodes.get('a')!, 'c', 'up')
  hub.heal()
  await up
  t.ok(hub.isLinked('b', 'c'))
})

t.test('isolate cuts one node from all others', async (t) => {
  const { hub, nodes } = await cluster(t, ['a', 'b', 'c'])
  hub.isolate('b')
  t.same(nodes.get('b')!.upPeers(), [])
  t.same(nodes.get('a')!.upPeers(), ['c'])
  hub.heal()
  await delay(20)
  t.equal(nodes.get('b')!.upPeers().length, 2)
})

t.test('a drop filter loses chosen frames while the link stays up', async (t) => {
  const { hub, nodes } = await cluster(t, ['a', 'b'])
  hub.setDropFilter((_from, _to, _channel, payload) => payload[0]! % 2 === 1)
  const atB = collectFrames(nodes.get('b')!)
  for (let i = 0; i < 10; i += 1) t.ok(nodes.get('a')!.send('b', 'raft', Uint8Array.of(i)), 'send reports queued even when dropped')
  await atB.waitForCount(5)
  await delay(10)
  t.same(atB.frames.map((f) => f.payload[0]), [0, 2, 4, 6, 8])
  hub.setDropFilter(undefined)
  atB.stop()
})

t.test('frames in flight when a link drops are not delivered on a later link', async (t) => {
  const { hub, nodes } = await cluster(t, ['a', 'b'])
  const atB = collectFrames(nodes.get('b')!)
  t.ok(nodes.get('a')!.send('b', 'raft', Uint8Array.of(1)))
  hub.partition(['a'], ['b'])
  hub.heal()
  await delay(20)
  t.same(atB.frames, [], 'the frame belonged to the old link')
  atB.stop()
})

t.test('a node that is not ready refuses links until markReady', async (t) => {
  const hub = new MemoryHub()
  const a = hub.createTransport({ nodeId: 'a', reconnectDelayMs: 5 })
  const b = hub.createTransport({ nodeId: 'b', ready: false })
  t.teardown(async () => {
    await a.stop()
    await b.stop()
  })
  await Promise.all([a.start(), b.start()])
  const refused = waitForStatus(a, 'b', 'down')
  a.connect({ id: 'b', host: 'memory', port: 0 })
  t.match((await refused).reason, /notReady/)
  const up = waitForStatus(a, 'b', 'up')
  b.markReady()
  await up
})

t.test('the outbound bound applies to frames not yet delivered', async (t) => {
  const hub = new MemoryHub()
  const a = hub.createTransport({ nodeId: 'a', outboundLimits: { framesMax: 3 } })
  const b = hub.createTransport({ nodeId: 'b' })
  t.teardown(async () => {
    await a.stop()
    await b.stop()
  })
  await Promise.all([a.start(), b.start()])
  a.connect({ id: 'b', host: 'memory', port: 0 })
  const results = [1, 2, 3, 4].map((i) => a.send('b', 'data', Uint8Array.of(i)))
  t.same(results, [true, true, true, false])
  await delay(5)
  t.ok(a.send('b', 'data', Uint8Array.of(5)), 'room again after delivery')
})
