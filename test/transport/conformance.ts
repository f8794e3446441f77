// The one conformance suite every Transport passes (automerge-repo style): TCP and memory.
// Usage: runTransportConformance(t, factory) from a *.test.ts file.
import type { Test } from 'tap'
import type { ListenAddress, PeerAddress, Transport, TransportChannel } from '../../shared/transport/index.js'
import { collectFrames, delay, waitFor, waitForStatus } from './wait.js'

export interface TransportFactory {
  /** A fresh, not yet started transport. `frameBytesMax` must be honored. */
  create(nodeId: string, options: { readonly frameBytesMax: number }): Transport
  /** Whether to check that stop() leaves no sockets or timers behind (real I/O transports). */
  readonly checkOpenHandles: boolean
}

const frameBytesMax = 1024
const framesPerStream = 200

interface Started {
  readonly transport: Transport
  readonly address: ListenAddress
}

async function startNodes(t: Test, factory: TransportFactory, ids: readonly string[]): Promise<Map<string, Started>> {
  const nodes = new Map<string, Started>()
  for (const id of ids) {
    const transport = factory.create(id, { frameBytesMax })
    t.teardown(() => transport.stop())
    nodes.set(id, { transport, address: await transport.start() })
  }
  return nodes
}

function addressOf(nodes: Map<string, Started>, id: string): PeerAddress {
  const node = nodes.get(id)
  if (node === undefined) throw new Error(`no node ${id}`)
  return { id, host: node.address.host, port: node.address.port }
}

function node(nodes: Map<string, Started>, id: string): Transport {
  const found = nodes.get(id)
  if (found === undefined) throw new Error(`no node ${id}`)
  return found.transport
}

async function link(nodes: Map<string, Started>, from: string, to: string): Promise<void> {
  const upAtFrom = waitForStatus(node(nodes, from), to, 'up')
  const upAtTo = waitForStatus(node(nodes, to), from, 'up')
  node(nodes, from).connect(addressOf(nodes, to))
  await Promise.all([upAtFrom, upAtTo])
}

function payloadOf(text: string): Uint8Array {
  return new TextEncoder().encode(text)
}

function textOf(payload: Uint8Array): string {
  return new TextDecoder().decode(payload)
}

const handleTypes = new Set(['TCPSocketWrap', 'TCPServerWrap', 'TCPWRAP', 'Timeout', 'Immediate'])

function openHandleCount(): number {
  return process.getActiveResourcesInfo().filter((type) => handleTypes.has(type)).length
}

export function runTransportConformance(t: Test, factory: TransportFactory): void {
  t.test('delivers in order per (from, to, channel) and multiplexes channels over one link', async (t) => {
    const nodes = await startNodes(t, factory, ['a', 'b', 'c'])
    await link(nodes, 'a', 'b')
    await link(nodes, 'c', 'b')
    const atB = collectFrames(node(nodes, 'b'))
    const channels: readonly TransportChannel[] = ['raft', 'data', 'admin']
    for (let i = 0; i < framesPerStream; i += 1) {
      for (const from of ['a', 'c']) {
        for (const channel of channels) {
          t.equal(node(nodes, from).send('b', channel, payloadOf(`${from}:${channel}:${i}`)), true, 'queued')
        }
      }
      if (i % 50 === 0) await delay(1)
    }
    await atB.waitForCount(framesPerStream * 2 * channels.length)
    for (const from of ['a', 'c']) {
      for (const channel of channels) {
        const seen = atB.frames.filter((f) => f.from === from && f.channel === channel).map((f) => textOf(f.payload))
        const expected = Array.from({ length: framesPerStream }, (_, i) => `${from}:${channel}:${i}`)
        t.same(seen, expected, `${from} → b on ${channel}: every frame, in order`)
      }
    }
    // The link carries both directions: b answers a without dialing it.
    const atA = collectFrames(node(nodes, 'a'))
    t.equal(node(nodes, 'b').send('a', 'admin', payloadOf('pong')), true)
    await atA.waitForCount(1)
    t.same({ from: atA.frames[0]!.from, channel: atA.frames[0]!.channel, text: textOf(atA.frames[0]!.payload) }, { from: 'b', channel: 'admin', text: 'pong' })
    atA.stop()
    atB.stop()
  })

  t.test('send to an unknown or unconnected peer returns false', async (t) => {
    const nodes = await startNodes(t, factory, ['a', 'b'])
    t.equal(node(nodes, 'a').send('nobody', 'raft', payloadOf('x')), false, 'unknown peer')
    t.equal(node(nodes, 'a').send('b', 'raft', payloadOf('x')), false, 'known to the cluster but not connected')
    t.same(node(nodes, 'a').upPeers(), [])
  })

  t.test('disconnect and reconnect are reported on both sides', async (t) => {
    const nodes = await startNodes(t, factory, ['a', 'b'])
    await link(nodes, 'a', 'b')
    t.same(node(nodes, 'a').upPeers(), ['b'])
    const downAtA = waitForStatus(node(nodes, 'a'), 'b', 'down')
    const downAtB = waitForStatus(node(nodes, 'b'), 'a', 'down')
    node(nodes, 'a').disconnect('b', 'test says goodbye')
    const [fromA, fromB] = await Promise.all([downAtA, downAtB])
    t.match(fromA.reason, /test says goodbye/, 'local side gives the local reason')
    t.match(fromB.reason, /test says goodbye/, 'remote side hears the reason')
    t.equal(node(nodes, 'a').send('b', 'raft', payloadOf('x')), false, 'no send after disconnect')
    await link(nodes, 'a', 'b')
    const atB = collectFrames(node(nodes, 'b'))
    t.equal(node(nodes, 'a').send('b', 'raft', payloadOf('again')), true)
    await atB.waitForCount(1)
    t.equal(textOf(atB.frames[0]!.payload), 'again', 'frames flow after reconnecting')
    atB.stop()
  })

  t.test('a stopped peer is reported down and re-dialed when it comes back', async (t) => {
    const nodes = await startNodes(t, factory, ['a', 'b'])
    await link(nodes, 'a', 'b')
    const downAtA = waitForStatus(node(nodes, 'a'), 'b', 'down')
    await node(nodes, 'b').stop()
    t.ok((await downAtA).reason, 'down carries a reason')
    const restarted = factory.create('b', { frameBytesMax })
    t.teardown(() => restarted.stop())
    const upAgain = waitForStatus(node(nodes, 'a'), 'b', 'up', 10_000)
    const address = await restarted.start()
    node(nodes, 'a').connect({ id: 'b', host: address.host, port: address.port })
    await upAgain
    const atB = collectFrames(restarted)
    t.equal(node(nodes, 'a').send('b', 'data', payloadOf('hello again')), true)
    await atB.waitForCount(1)
    t.equal(textOf(atB.frames[0]!.payload), 'hello again')
    atB.stop()
  })

  t.test('enforces the maximum frame size without breaking the link', async (t) => {
    const nodes = await startNodes(t, factory, ['a', 'b'])
    await link(nodes, 'a', 'b')
    const atB = collectFrames(node(nodes, 'b'))
    t.equal(node(nodes, 'a').send('b', 'data', new Uint8Array(frameBytesMax - 1).fill(7)), true, 'largest payload that fits')
    t.equal(node(nodes, 'a').send('b', 'data', new Uint8Array(frameBytesMax)), false, 'one byte over is refused')
    t.equal(node(nodes, 'a').send('b', 'data', payloadOf('after')), true)
    await atB.waitForCount(2)
    t.equal(atB.frames[0]!.payload.byteLength, frameBytesMax - 1)
    t.ok(atB.frames[0]!.payload.every((byte) => byte === 7), 'payload intact')
    t.equal(textOf(atB.frames[1]!.payload), 'after', 'the oversized frame was never sent')
    t.same(node(nodes, 'a').upPeers(), ['b'], 'link still up')
    atB.stop()
  })

  t.test('stop completes the Observables, refuses sends and leaves nothing open', async (t) => {
    const baseline = openHandleCount()
    const nodes = await startNodes(t, factory, ['a', 'b'])
    await link(nodes, 'a', 'b')
    let framesCompleted = false
    let statusCompleted = false
    node(nodes, 'a').frames$.subscribe({ complete: () => (framesCompleted = true) })
    node(nodes, 'a').status$.subscribe({ complete: () => (statusCompleted = true) })
    const downAtB = waitFor(node(nodes, 'b').status$, (s) => s.peer === 'a' && s.state === 'down', 5_000, 'b sees a down')
    await node(nodes, 'a').stop()
    await downAtB
    await node(nodes, 'b').stop()
    t.ok(framesCompleted, 'frames$ completed')
    t.ok(statusCompleted, 'status$ completed')
    t.equal(node(nodes, 'a').send('b', 'raft', payloadOf('x')), false)
    if (factory.checkOpenHandles) {
      const deadlineMs = performance.now() + 2_000
      while (openHandleCount() > baseline && performance.now() < deadlineMs) await delay(10)
      t.ok(openHandleCount() <= baseline, `no sockets or timers left open (baseline ${baseline}, now ${openHandleCount()}: ${process.getActiveResourcesInfo().join(', ')})`)
    }
  })
}
