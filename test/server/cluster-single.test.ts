// One `railgun server` and its control plane: with no seeds it bootstraps alone and leads; a
// node waiting to join stays not ready (/readyz 503 with the reason) and still stops promptly;
// bad cluster configuration fails with a clear message (in process and from the CLI); a
// configured id that differs from the stored one is fatal; storage without the control-plane key
// spaces runs the node without a control plane.
import { delegateStorage } from '../storage/delegate.js'
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { nodeKeySpaces, startNode } from '../../server/node.js'
import { configWith } from '../../shared/config/index.js'
import { ConfigError } from '../../shared/errors.js'
import { createMemoryLocation, openMemoryStorage } from '../../shared/storage/index.js'
import type { Storage } from '../../shared/storage/index.js'
import { runtimeOf, testCluster, waitFor, waitForLeader } from './cluster-helpers.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

t.test('a single node with no seeds becomes leader on its own and publishes its record', { timeout: 60_000 }, async (t) => {
  const cluster = testCluster(t)
  const node = await cluster.start(await cluster.plan('solo', { region: 'eu-west', zone: 'z1' }))
  t.equal(node.cluster(), undefined, 'no control plane before ready')
  await node.ready
  t.match(node.nodeId, /^[0-9a-f]{16}$/)
  t.ok(node.peerPort > 0)
  await waitForLeader([node])
  const runtime = runtimeOf(node)
  t.equal(runtime.leader(), node.nodeId)
  t.same(runtime.node.status().confState.voters, [node.nodeId], 'the only voter')
  t.same(runtime.peers(), [], 'no peers')
  await waitFor('its own record', () => runtime.node.state.nodes.get(node.nodeId)?.state === 'active')
  t.match(runtime.node.state.nodes.get(node.nodeId), { region: 'eu-west', masterEligible: true, tags: { zone: 'z1' } })
  const written = await runtime.node.ensure({ type: 'ensureNamespace', name: 'solo-ns' })
  t.ok(written.ok, 'it commits alone')
})

t.test('a node waiting to join is not ready (/readyz 503 says why) and stops promptly', { timeout: 60_000 }, async (t) => {
  const cluster = testCluster(t)
  const nowhere = await cluster.plan('nowhere')
  const plan = await cluster.plan('joiner')
  const node = await cluster.start(plan, { seeds: [`127.0.0.1:${nowhere.peerPort}`] })
  let body: { ready?: boolean; reason?: string } = {}
  for (let attempt = 0; attempt < 50 && !/joining/.test(body.reason ?? ''); attempt += 1) {
    const response = await fetch(`${node.adminUrl}/readyz`)
    t.equal(response.status, 503, '/readyz is 503 while the control plane is not open')
    body = (await response.json()) as typeof body
    if (!/joining/.test(body.reason ?? '')) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.match(body, { ready: false, reason: /joining the cluster through seeds 127\.0\.0\.1:\d+/ })
  t.notOk(node.isReady())
  const started = Date.now()
  await cluster.stop('joiner')
  t.ok(Date.now() - started < 10_000, 'close() does not wait for the join')
})

t.test('bad cluster configuration throws a ConfigError naming the field', async (t) => {
  const config = (cluster: Record<string, unknown>) => configWith({ server: { host: '127.0.0.1', port: 0, httpPort: 0 }, cluster })
  await t.rejects(startNode({ config: config({ nodeId: 'bad id' }) }), { name: 'ConfigError', message: /cluster\.nodeId: invalid node name "bad id"/ })
  await t.rejects(startNode({ config: config({ seeds: ['host-without-port'] }) }), { name: 'ConfigError', message: /cluster\.seeds: seed "host-without-port" is not host:port/ })
})

t.test('the CLI exits 2 on a bad seed entry, with the message on stderr', { timeout: 120_000 }, async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'server', '--port', '0', '--http-port', '0', '--peer-port', '0', '--seeds', 'a:1,oops'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let errorOutput = ''
  child.stderr.on('data', (chunk: Buffer) => (errorOutput += chunk.toString('utf8')))
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  const code = await Promise.race([
    new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode))),
    new Promise<string>((resolve) => setTimeout(() => resolve('timeout'), 100_000).unref()),
  ])
  t.equal(code, 2)
  t.match(errorOutput, 'railgun: config cluster: cluster.seeds: seed "oops" is not host:port (expected host:port or nodeId@host:port)')
})

t.test('a configured id that differs from the stored one is fatal and names both', { timeout: 60_000 }, async (t) => {
  const cluster = testCluster(t)
  const plan = await cluster.plan('named', { nodeId: 'alpha' })
  const first = await cluster.start(plan)
  await first.ready
  t.equal(first.nodeId, 'alpha')
  await cluster.stop('named')
  const again = await cluster.start(plan, { nodeId: 'beta' })
  const error = await again.ready.then(
    () => undefined,
    (failure: unknown) => failure,
  )
  t.ok(error instanceof ConfigError, 'a ConfigError')
  t.match((error as Error).message, /configured node id "beta" differs from the id "alpha" stored in this data directory/)
  t.notOk(again.isReady())
})

t.test('storage without the control-plane key spaces runs the node without a control plane', async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'railgun-no-cp-'))
  t.teardown(() => rmSync(directory, { recursive: true, force: true }))
  const node = await startNode({
    config: configWith({ server: { host: '127.0.0.1', port: 0, httpPort: 0 }, storage: { dataDir: directory } }),
    openStorage: () => openMemoryStorage(createMemoryLocation(), { keySpaces: [] }),
  })
  t.teardown(() => node.close())
  await node.ready
  t.equal(node.cluster(), undefined)
  t.equal(node.nodeId, '')
  t.equal(node.peerPort, 0)
})

t.test('a Raft storage write failure after start stops serving: /readyz 503 and onFatal', { timeout: 60_000 }, async (t) => {
  let failWrites = false
  const wrap = (inner: Storage): Storage =>
    delegateStorage(inner, {
      batch: (operations, options) => (failWrites ? Promise.reject(new Error('disk on fire')) : inner.batch(operations, options)),
    })
  const fatal: Error[] = []
  const node = await startNode({
    config: configWith({ server: { host: '127.0.0.1', port: 0, httpPort: 0 }, cluster: { peerPort: 0, tickMs: 20, electionTicks: 15 } }),
    openStorage: async () => wrap(await openMemoryStorage(createMemoryLocation(), { keySpaces: nodeKeySpaces })),
    onFatal: (error) => fatal.push(error),
  })
  t.teardown(() => node.close())
  await node.ready
  await waitForLeader([node])
  t.equal((await fetch(`${node.adminUrl}/readyz`)).status, 200)
  failWrites = true
  await runtimeOf(node).node.ensure({ type: 'ensureNamespace', name: 'never' }).catch(() => undefined)
  await waitFor('the node reported the failure', () => fatal.length === 1)
  t.match(fatal[0]?.message, /disk on fire/)
  t.notOk(node.isReady())
  const response = await fetch(`${node.adminUrl}/readyz`)
  t.equal(response.status, 503)
  t.match(await response.json(), { ready: false, reason: /control plane stopped \(storage\)/ })
})

t.test('peerTransport options reach the transport: peers with other credentials cannot join', { timeout: 60_000 }, async (t) => {
  const cluster = testCluster(t)
  const start = async (name: string, secret: string, seeds: string[]) => {
    const plan = await cluster.plan(name)
    const node = await startNode({
      config: configWith({
        server: { host: '127.0.0.1', port: 0, httpPort: 0, name },
        storage: { dataDir: plan.dataDir },
        cluster: { peerPort: plan.peerPort, tickMs: 20, electionTicks: 15, seeds },
      }),
      peerTransport: { credentials: new TextEncoder().encode(secret) },
    })
    cluster.running.set(name, node)
    return node
  }
  const first = await start('first', 'secret-1', [])
  await first.ready
  const seeds = [`127.0.0.1:${first.peerPort}`]
  const stranger = await start('stranger', 'other-secret', seeds)
  const friend = await start('friend', 'secret-1', seeds)
  await friend.ready
  await waitFor('the friend joined', () => runtimeOf(first).node.state.nodes.get(friend.nodeId)?.state === 'active')
  t.notOk(stranger.isReady(), 'a peer with other credentials is refused at the handshake and cannot join')
  t.equal(runtimeOf(first).node.state.nodes.size, 2, 'only the first node and the friend are members')
})
