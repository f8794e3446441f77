// The TCP transport under injected faults: partitions through the user-space proxy mesh, and a
// real peer process paused (SIGSTOP), killed (-9) and restarted on the same port.
import t from 'tap'
import type { Test } from 'tap'
import { createServer } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TcpTransport } from '../../shared/transport/index.js'
import { ProxyMesh } from '../harness/proxy-mesh.js'
import { startProcess } from '../harness/process-controller.js'
import { collectFrames, delay, waitFor, waitForStatus } from './wait.js'

const deadAfterMs = 800

function makeTransport(t: Test, nodeId: string): TcpTransport {
  const transport = new TcpTransport({
    nodeId,
    clusterName: 'fault-test',
    region: 'local',
    heartbeatIntervalMs: 100,
    deadAfterMs,
    handshakeTimeoutMs: 1_000,
    backoff: { initialDelayMs: 20, maxDelayMs: 200, multiplier: 2, jitterRatio: 0.5 },
  })
  t.teardown(() => transport.stop())
  return transport
}

async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadlineMs = performance.now() + timeoutMs
  while (!condition()) {
    if (performance.now() > deadlineMs) throw new Error(`timed out after ${timeoutMs}ms: ${what}`)
    await delay(10)
  }
}

t.test('a partition through the proxy mesh is detected by silence and heals', async (t) => {
  const names = ['a', 'b', 'c']
  const transports = new Map(names.map((name) => [name, makeTransport(t, name)]))
  const mesh = new ProxyMesh({ seed: 11 })
  t.teardown(() => mesh.stop())
  for (const [name, transport] of transports) await mesh.addNode(name, await transport.start())
  for (const from of names) {
    for (const to of names) if (from < to) transports.get(from)!.connect({ id: to, ...mesh.addressFor(from, to) })
  }
  const allUp = (): boolean => names.every((name) => transports.get(name)!.upPeers().length === 2)
  await waitUntil(allUp, 5_000, 'full mesh up')

  const startMs = performance.now()
  const aLosesC = waitForStatus(transports.get('a')!, 'c', 'down', 5_000)
  const cLosesB = waitForStatus(transports.get('c')!, 'b', 'down', 5_000)
  mesh.partition(['a', 'b'], ['c'])
  const [downAtA] = await Promise.all([aLosesC, cLosesB])
  const detectedMs = performance.now() - startMs
  t.match(downAtA.reason, /peer silent/, 'detected by missing heartbeats, not by a closed socket')
  t.ok(detectedMs < deadAfterMs + 3_000, `detected in ${Math.round(detectedMs)}ms (deadAfterMs ${deadAfterMs})`)
  t.same(transports.get('a')!.upPeers(), ['b'], 'a and b still talk')

  const atB = collectFrames(transports.get('b')!)
  t.ok(transports.get('a')!.send('b', 'raft', Uint8Array.of(1)), 'inside the majority side frames flow')
  await atB.waitForCount(1)
  atB.stop()

  mesh.heal()
  await waitUntil(allUp, 10_000, 'mesh up again after heal')
  await delay(deadAfterMs)
  t.ok(allUp(), 'and it stays up')
  const atC = collectFrames(transports.get('c')!)
  t.ok(transports.get('a')!.send('c', 'data', Uint8Array.of(2)))
  await atC.waitForCount(1)
  atC.stop()
})

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

t.test('a real peer process: paused is detected, resumed reconnects, killed and restarted reconnects', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'railgun-transport-faults-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const port = await freePort()
  const child = await startProcess(t.teardown.bind(t), {
    name: 'peer',
    command: process.execPath,
    args: ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'transport-node.ts'), 'peer'],
    env: { LISTEN_PORT: String(port) },
    logFile: join(dir, 'peer.log'),
  })
  await child.waitForLine(/^listening \d+$/, 20_000)
  const local = makeTransport(t, 'local')
  await local.start()
  const frames = collectFrames(local)
  t.teardown(() => frames.stop())
  const echo = async (text: string): Promise<void> => {
    const before = frames.frames.length
    t.ok(local.send('peer', 'data', new TextEncoder().encode(text)), `sent ${text}`)
    await waitUntil(() => frames.frames.slice(before).some((f) => new TextDecoder().decode(f.payload) === `echo:${text}`), 5_000, `echo of ${text}`)
  }
  const up = waitForStatus(local, 'peer', 'up')
  local.connect({ id: 'peer', host: '127.0.0.1', port })
  await up
  await echo('one')

  const pausedDown = waitForStatus(local, 'peer', 'down', 5_000)
  child.pause()
  t.match((await pausedDown).reason, /peer silent/, 'a SIGSTOPped peer is declared down by silence')
  const resumedUp = waitForStatus(local, 'peer', 'up', 10_000)
  child.resume()
  await resumedUp
  await echo('two')

  const killedDown = waitFor(local.status$, (s) => s.peer === 'peer' && s.state === 'down', 3_000, 'down after kill -9')
  await child.kill9()
  t.ok((await killedDown).reason, 'kill -9 is reported at once (the kernel closes the socket)')
  const restartedUp = waitForStatus(local, 'peer', 'up', 20_000)
  await child.start()
  await restartedUp
  await echo('three')
  await child.stop()
})
