// TCP-specific behaviour beyond the conformance suite: every handshake refusal over a real
// socket, the readiness gate, oversize frames from a peer, dead-peer detection, re-dial after
// the remote restarts on the same port, simultaneous dials, outbound queue bounds.
import t from 'tap'
import type { Test } from 'tap'
import { TcpTransport } from '../../shared/transport/index.js'
import type { TcpTransportOptions } from '../../shared/transport/index.js'
import { encodeFrame } from '../../shared/transport/frame-codec.js'
import { createLogger } from '../../shared/log.js'
import { helloFor, openRawPeer } from './raw-peer.js'
import { collectFrames, delay, waitForStatus } from './wait.js'

// deadAfterMs is generous: the test machine is shared and loaded; a false "silent" would be noise.
const fastTimings = {
  heartbeatIntervalMs: 40,
  deadAfterMs: 1_500,
  handshakeTimeoutMs: 3_000,
  backoff: { initialDelayMs: 10, maxDelayMs: 80, multiplier: 2, jitterRatio: 0.5 },
} as const

function makeTransport(t: Test, nodeId: string, options: Partial<TcpTransportOptions> = {}): TcpTransport {
  const transport = new TcpTransport({ nodeId, clusterName: 'test', region: 'local', ...fastTimings, ...options })
  t.teardown(() => transport.stop())
  return transport
}

t.test('handshake refusals reach the dialer with their reason', async (t) => {
  const server = makeTransport(t, 'server', { credentials: new TextEncoder().encode('token') })
  const { port } = await server.start()
  const cases = [
    ['wrongCluster', helloFor('x1', { clusterName: 'other', credentials: new TextEncoder().encode('token') })],
    ['versionMismatch', helloFor('x2', { protocolVersion: 99, credentials: new TextEncoder().encode('token') })],
    ['badCredentials', helloFor('x3', { credentials: new TextEncoder().encode('wrong') })],
    ['duplicateId', helloFor('server', { credentials: new TextEncoder().encode('token') })],
  ] as const
  for (const [reason, hello] of cases) {
    const peer = await openRawPeer(port)
    peer.sendHello(hello)
    t.match(await peer.nextControl(), { kind: 'reject', reason }, reason)
    await peer.closed
    t.pass(`${reason}: connection closed after the refusal`)
  }
  const accepted = await openRawPeer(port)
  accepted.sendHello(helloFor('x4', { credentials: new TextEncoder().encode('token') }))
  t.match(await accepted.nextControl(), { kind: 'hello', hello: { nodeId: 'server' } }, 'a good hello gets a hello back')
  accepted.destroy()
})

t.test('a second live process with the same id is refused as duplicateId', async (t) => {
  const server = makeTransport(t, 'server')
  const { port } = await server.start()
  const first = await openRawPeer(port)
  first.sendHello(helloFor('twin', { clusterName: 'test', incarnation: 'one' }))
  t.match(await first.nextControl(), { kind: 'hello' })
  const second = await openRawPeer(port)
  second.sendHello(helloFor('twin', { clusterName: 'test', incarnation: 'two' }))
  t.match(await second.nextControl(), { kind: 'reject', reason: 'duplicateId', detail: /already connected/ })
  first.destroy()
  second.destroy()
})

t.test('not ready: handshakes are refused until readiness, then the dialer gets through', async (t) => {
  let markReady = (): void => undefined
  const readiness = new Promise<void>((resolve) => (markReady = resolve))
  const server = makeTransport(t, 'server', { ready: readiness })
  const { port } = await server.start()
  const raw = await openRawPeer(port)
  raw.sendHello(helloFor('early'))
  t.match(await raw.nextControl(), { kind: 'reject', reason: 'notReady' })
  raw.destroy()

  const client = makeTransport(t, 'client')
  await client.start()
  const refused = waitForStatus(client, 'server', 'down')
  client.connect({ id: 'server', host: '127.0.0.1', port })
  t.match((await refused).reason, /notReady/, 'the dialer sees why')
  const up = waitForStatus(client, 'server', 'up')
  markReady()
  await up
  t.pass('re-dial succeeds once the node is ready')
})

t.test('a node that is not ready does not dial either', async (t) => {
  const server = makeTransport(t, 'server')
  const { port } = await server.start()
  const client = makeTransport(t, 'client', { ready: false })
  await client.start()
  client.connect({ id: 'server', host: '127.0.0.1', port })
  await delay(100)
  t.same(client.upPeers(), [], 'no connection before readiness')
  const up = waitForStatus(client, 'server', 'up')
  client.markReady()
  await up
})

t.test('an oversized frame from a peer closes its connection with a logged reason', async (t) => {
  const logLines: string[] = []
  const logger = createLogger({ nodeName: 'server', level: 'warn', destination: { write: (line: string) => void logLines.push(line) } })
  const server = makeTransport(t, 'server', { frameBytesMax: 1024, logger })
  const { port } = await server.start()
  const raw = await openRawPeer(port)
  const down = waitForStatus(server, 'big', 'down')
  raw.sendHello(helloFor('big'))
  t.match(await raw.nextControl(), { kind: 'hello' })
  raw.socket.write(Uint8Array.of(0, 0x10, 0, 0, 1)) // announces a 1 MiB frame
  t.match((await down).reason, /frame error: frame of 1048576 bytes exceeds the limit of 1024/)
  await raw.closed
  t.ok(logLines.some((line) => /peer connection closed/.test(line) && /exceeds the limit of 1024/.test(line)), 'the reason is logged')
})

t.test('a hello larger than the handshake limit is refused before decoding', async (t) => {
  const server = makeTransport(t, 'server')
  const { port } = await server.start()
  const raw = await openRawPeer(port)
  raw.socket.write(encodeFrame(0, new Uint8Array(10_000)))
  await raw.closed
  t.pass('closed')
})

t.test('a connection that never sends its hello is closed after handshakeTimeoutMs', async (t) => {
  const server = makeTransport(t, 'server', { handshakeTimeoutMs: 200 })
  const { port } = await server.start()
  const raw = await openRawPeer(port)
  const startMs = performance.now()
  await raw.closed
  const closedAfterMs = performance.now() - startMs
  t.ok(closedAfterMs >= 150, `closed after ${Math.round(closedAfterMs)}ms, not at once`)
})

t.test('a silent peer is declared down within about deadAfterMs', async (t) => {
  const server = makeTransport(t, 'server', { deadAfterMs: 300 })
  const { port } = await server.start()
  const raw = await openRawPeer(port)
  const up = waitForStatus(server, 'mute', 'up')
  raw.sendHello(helloFor('mute'))
  await up
  const silentSinceMs = performance.now()
  const down = await waitForStatus(server, 'mute', 'down', 3_000)
  const detectedAfterMs = performance.now() - silentSinceMs
  t.match(down.reason, /peer silent for \d+ms \(deadAfterMs 300\)/)
  t.ok(detectedAfterMs >= 250, `not before deadAfterMs (${Math.round(detectedAfterMs)}ms)`)
  t.ok(detectedAfterMs < 300 + 3_000, `soon after deadAfterMs (${Math.round(detectedAfterMs)}ms)`)
  await delay(50) // the raw peer lives in this process: let it read what was sent
  const controlFrames = raw.frames.filter((f) => f.channelByte === 0).length
  t.ok(controlFrames >= 2, `the transport heartbeated meanwhile (${controlFrames} control frames, hello included)`)
  raw.destroy()
})

t.test('re-dials after the remote restarts on the same port', async (t) => {
  const first = makeTransport(t, 'b')
  const { port } = await first.start()
  const a = makeTransport(t, 'a')
  await a.start()
  const up = waitForStatus(a, 'b', 'up')
  a.connect({ id: 'b', host: '127.0.0.1', port })
  await up
  const down = waitForStatus(a, 'b', 'down')
  await first.stop()
  await down
  const upAgain = waitForStatus(a, 'b', 'up', 5_000)
  const second = makeTransport(t, 'b', { listen: { host: '127.0.0.1', port } })
  await second.start()
  await upAgain
  const atB = collectFrames(second)
  t.equal(a.send('b', 'raft', Uint8Array.of(42)), true)
  await atB.waitForCount(1)
  t.same([...atB.frames[0]!.payload], [42])
  atB.stop()
})

t.test('both nodes dialing each other end with one connection that works', async (t) => {
  for (let round = 0; round < 5; round += 1) {
    const a = makeTransport(t, `a${round}`)
    const b = makeTransport(t, `b${round}`)
    const [addressA, addressB] = await Promise.all([a.start(), b.start()])
    const downs: string[] = []
    a.status$.subscribe((s) => s.state === 'down' && downs.push(`a: ${s.reason ?? ''}`))
    b.status$.subscribe((s) => s.state === 'down' && downs.push(`b: ${s.reason ?? ''}`))
    const ups = [waitForStatus(a, b.nodeId, 'up'), waitForStatus(b, a.nodeId, 'up')]
    a.connect({ id: b.nodeId, ...addressB })
    b.connect({ id: a.nodeId, ...addressA })
    await Promise.all(ups)
    await delay(100)
    t.same(a.upPeers(), [b.nodeId], `a keeps the link (downs: ${downs.join('; ')})`)
    t.same(b.upPeers(), [a.nodeId], `b keeps the link (downs: ${downs.join('; ')})`)
    const atA = collectFrames(a)
    const atB = collectFrames(b)
    for (let i = 0; i < 20; i += 1) {
      t.ok(a.send(b.nodeId, 'raft', Uint8Array.of(i)), 'a → b queued')
      t.ok(b.send(a.nodeId, 'raft', Uint8Array.of(i)), 'b → a queued')
    }
    await Promise.all([atA.waitForCount(20), atB.waitForCount(20)])
    t.same(atB.frames.map((f) => f.payload[0]), Array.from({ length: 20 }, (_, i) => i), `round ${round}: in order`)
    atA.stop()
    atB.stop()
    await Promise.all([a.stop(), b.stop()])
  }
})

t.test('the outbound queue is bounded in frames and bytes', async (t) => {
  const server = makeTransport(t, 'server')
  const { port } = await server.start()
  const client = makeTransport(t, 'client', { outboundLimits: { framesMax: 5, bytesMax: 1_000 } })
  await client.start()
  const up = waitForStatus(client, 'server', 'up')
  client.connect({ id: 'server', host: '127.0.0.1', port })
  await up
  const results = Array.from({ length: 6 }, () => client.send('server', 'data', Uint8Array.of(1)))
  t.same(results, [true, true, true, true, true, false], 'the sixth frame in one synchronous burst is refused')
  await delay(20)
  t.equal(client.send('server', 'data', new Uint8Array(990)), true, 'after the flush there is room again')
  t.equal(client.send('server', 'data', new Uint8Array(10)), false, 'the byte bound refuses the next')
})

t.test('protocol errors close the connection with the reason: unknown channel, data before hello', async (t) => {
  const server = makeTransport(t, 'server')
  const { port } = await server.start()
  const raw = await openRawPeer(port)
  const down = waitForStatus(server, 'odd', 'down')
  raw.sendHello(helloFor('odd'))
  t.match(await raw.nextControl(), { kind: 'hello' })
  raw.socket.write(encodeFrame(200, Uint8Array.of(1)))
  t.match((await down).reason, /protocol error: unknown channel byte 200/)
  await raw.closed

  const garbled = await openRawPeer(port)
  garbled.socket.write(encodeFrame(0, Uint8Array.of(1, 0)))
  t.match(await garbled.nextControl(), { kind: 'reject', reason: 'malformed', detail: /truncated protocol version/ }, 'an undecodable hello is refused as malformed')
  await garbled.closed

  const early = await openRawPeer(port)
  early.socket.write(encodeFrame(1, Uint8Array.of(1)))
  await early.closed
  t.pass('a data frame before the handshake closes the connection')
})

t.test('re-dials an unreachable peer with growing, bounded delays (injected random)', async (t) => {
  const deadPort = await new Promise<number>((resolve) => {
    const probe = makeTransport(t, 'probe')
    void probe.start().then(async (address) => {
      await probe.stop()
      resolve(address.port)
    })
  })
  const attemptsAtMs: number[] = []
  const client = makeTransport(t, 'client', {
    backoff: { initialDelayMs: 20, maxDelayMs: 160, multiplier: 2, jitterRatio: 0.5 },
    random: () => 0.999,
  })
  await client.start()
  client.status$.subscribe((s) => s.state === 'connecting' && attemptsAtMs.push(performance.now()))
  client.connect({ id: 'ghost', host: '127.0.0.1', port: deadPort })
  await delay(1_000)
  client.disconnect('ghost')
  const gapsMs = attemptsAtMs.slice(1).map((at, i) => at - attemptsAtMs[i]!)
  t.ok(attemptsAtMs.length >= 3, `several attempts (${attemptsAtMs.length})`)
  t.ok(attemptsAtMs.length <= 12, `but bounded by the backoff (${attemptsAtMs.length} in 1s)`)
  t.ok(gapsMs.every((gapMs) => gapMs >= 19), `no gap below the initial delay: ${gapsMs.map(Math.round).join(', ')}`)
  if (gapsMs.length >= 3) t.ok(gapsMs[2]! >= 70, `the third gap has grown (${Math.round(gapsMs[2]!)}ms)`)
})
