// The dashboard's HTTP side: the page and its vendored files are served with the right types
// (and no bare module specifiers left), unknown files are 404 JSON, other methods 405; the JSON
// snapshot describes the node, its streams and groups and never contains secrets; the NDJSON
// stream sends snapshots on its own; streams open at once are bounded; the banner says when the
// node is not ready or knows no leader.
import t from 'tap'
import { createServer, request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { startTestNode } from '../server/helpers.js'
import { buildSnapshot, createDashboardRoutes, dashboardAssetPaths, dashboardStreamsMax } from '../../server/dashboard/index.js'
import type { ClusterRuntime } from '../../server/cluster/index.js'
import type { KeyMetrics } from '../../server/metrics/index.js'

t.test('page, files, snapshot and stream on a node', async (t) => {
  const node = await startTestNode(t, { server: { name: 'dash' }, cluster: { region: 'eu-west' } })
  await node.ready

  const page = await fetch(`${node.adminUrl}/`)
  t.equal(page.status, 200)
  t.match(page.headers.get('content-type'), /^text\/html/)
  t.match(page.headers.get('content-security-policy'), /script-src 'self'/)
  t.match(await page.text(), /<script type="module" src="\/dashboard\/app\.js"><\/script>/)
  for (const path of dashboardAssetPaths()) {
    const response = await fetch(`${node.adminUrl}${path}`)
    t.equal(response.status, 200, path)
    const body = await response.text()
    t.ok(body.length > 100, `${path} has content`)
    if (path.endsWith('.js') || path.endsWith('.mjs')) {
      t.match(response.headers.get('content-type'), /^text\/javascript/, `${path} is JavaScript`)
      t.notMatch(body, /(from|import)\s*["'](preact|htm|uplot)["']/, `${path}: no bare specifier the browser cannot resolve`)
    }
    if (path.endsWith('.css')) t.match(response.headers.get('content-type'), /^text\/css/)
  }
  const missing = await fetch(`${node.adminUrl}/dashboard/secret.txt`)
  t.equal(missing.status, 404)
  t.match(await missing.json(), { error: 'not found', path: '/dashboard/secret.txt' })
  const traversal = await fetch(`${node.adminUrl}/dashboard/../../package.json`)
  t.equal(traversal.status, 404, 'only listed files are served')
  t.equal((await fetch(`${node.adminUrl}/`, { method: 'POST' })).status, 405)
  t.equal((await fetch(`${node.adminUrl}/api/v1/dashboard`, { method: 'DELETE' })).status, 405)

  // State with secrets in it: a user, a token, and a stream and group to show.
  const runtime = node.cluster()!
  await runtime.node.ensure({ type: 'ensureUser', name: 'alice', passwordHash: 'SECRET-PASSWORD-HASH', roles: [] })
  await runtime.node.ensure({ type: 'addToken', id: 'tok1', hash: 'SECRET-TOKEN-HASH', user: 'alice', expiresAtMs: 0 })
  t.equal((await fetch(`${node.adminUrl}/api/v1/streams`, { method: 'POST', body: JSON.stringify({ name: 'orders', kind: 'ephemeral' }) })).status, 200)
  t.equal((await fetch(`${node.adminUrl}/api/v1/streams`, { method: 'POST', body: JSON.stringify({ name: 'pay', kind: 'persistent', regions: ['eu-west'] }) })).status, 200)
  t.equal((await fetch(`${node.adminUrl}/api/v1/groups`, { method: 'POST', body: JSON.stringify({ stream: 'pay', name: 'billing' }) })).status, 200)

  // The stream's replica and the group's controller run here once open.
  for (let attempt = 0; attempt < 400 && node.consumerGroups()?.snapshot('default/pay/billing') === undefined; attempt += 1) await new Promise((resolve) => setTimeout(resolve, 50))
  const response = await fetch(`${node.adminUrl}/api/v1/dashboard`)
  t.equal(response.status, 200)
  const text = await response.text()
  t.notMatch(text, /SECRET-/, 'no password or token hash')
  t.notMatch(text, /alice|tok1/, 'users and tokens are not listed')
  const snapshot = JSON.parse(text) as { streams: Array<{ stream: string; kind: string }> } & Record<string, unknown>
  t.match(snapshot, {
    self: { nodeId: node.nodeId, name: 'dash', region: 'eu-west', ready: true },
    banner: null,
    raft: { role: 'leader', leader: node.nodeId, leaderKnown: true },
    nodes: [{ id: node.nodeId, self: true, role: 'leader', state: 'active', region: 'eu-west', link: 'self', ready: true }],
    regions: [{ name: 'eu-west', nodes: 1 }],
    groups: [{ group: 'default/pay/billing', mode: 'exclusive', regions: [{ region: 'eu-west', controller: node.nodeId, status: 'live', head: 0, outstanding: 0, lag: 0, members: 0, redeliveries: 0, deadLettered: 0 }] }],
    persistent: { streams: 1, replicas: 1, acked: { write: 0, majority: 0, all: 0 }, groups: 1 },
    routing: [{ node: node.nodeId, self: true, routing: { peers: 0 } }],
    notes: [/\$RG\.metrics reports/],
  })
  t.equal((snapshot['notes'] as string[]).length, 1, 'no shipping note: no stream spans several regions')
  t.same(
    snapshot.streams.map((stream) => [stream.stream, stream.kind]),
    [
      ['default/orders', 'ephemeral'],
      ['default/pay', 'persistent'],
    ],
  )
  t.match(snapshot.streams[1], {
    placement: [{ region: 'eu-west', replicas: [node.nodeId] }],
    perRegion: [{ region: 'eu-west', node: node.nodeId, status: 'live', events: 0, bytes: 0, delivered: 0 }],
    cluster: { ackedTotal: 0, nodesReporting: 1, nodesMissing: [] },
    replicationLag: [],
  })
  t.match((snapshot['designations'] as unknown[]).find((designation) => (designation as { kind: string }).kind === 'scc'), { controller: 'scc/default/pay/billing/eu-west', holder: node.nodeId })
  t.ok((snapshot['designations'] as Array<{ kind: string }>).some((designation) => designation.kind === 'psc'), 'the stream controller designation is listed')

  // The stream: two snapshots arrive without asking again.
  const controller = new AbortController()
  const stream = await fetch(`${node.adminUrl}/api/v1/dashboard/stream?intervalMs=250`, { signal: controller.signal })
  t.equal(stream.status, 200)
  t.match(stream.headers.get('content-type'), /application\/x-ndjson/)
  const reader = stream.body!.getReader()
  let received = ''
  while (received.split('\n').length < 3) {
    const { value, done } = await reader.read()
    if (done) break
    received += new TextDecoder().decode(value)
  }
  controller.abort()
  const parsed = received.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as { timeMs: number })
  t.ok(parsed.length >= 2, 'two snapshots')
  t.ok(parsed[1]!.timeMs >= parsed[0]!.timeMs, 'in time order')
})

t.test('open streams are bounded', async (t) => {
  const routes = createDashboardRoutes({ snapshot: () => ({ ok: true }) })
  const server = createServer((request, response) => {
    void routes.handleHttp(request, response, new URL(request.url ?? '/', 'http://x')).then((handled) => {
      if (!handled) response.writeHead(404).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    routes.close()
    server.closeAllConnections()
    server.close()
  })
  const port = (server.address() as AddressInfo).port
  const open = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const request = httpRequest({ host: '127.0.0.1', port, path: '/api/v1/dashboard/stream', agent: false }, (response) => {
        response.on('data', () => undefined)
        resolve(response.statusCode ?? 0)
      })
      request.on('error', reject)
      request.end()
    })
  const statuses: number[] = []
  for (let index = 0; index < dashboardStreamsMax; index += 1) statuses.push(await open())
  t.ok(statuses.every((status) => status === 200), `${dashboardStreamsMax} streams open`)
  t.equal(routes.openStreams, dashboardStreamsMax)
  t.equal(await open(), 503, 'one more is refused')
  routes.close()
  t.equal(routes.openStreams, 0, 'close ends them all')
})

t.test('the banner says when the node is not ready or knows no leader', async (t) => {
  const keyMetrics = { uptimeMs: 1, timeMs: 1, streams: [], clients: {}, process: {} } as unknown as KeyMetrics
  const status = { term: 3, lead: null, role: 'follower', commit: 1, applied: 1, confState: { voters: ['a', 'b', 'c'], votersOutgoing: [], learners: [] } }
  const state = { nodes: new Map(), regions: new Map(), streams: new Map(), placements: new Map(), groups: new Map(), designations: new Map() }
  const runtime = { nodeId: 'a', region: 'r', node: { status: () => status, state }, peers: () => [] } as unknown as ClusterRuntime
  const base = { nowMs: 0, name: 'a', version: 'v', runtime, keyMetrics, streamRates: () => undefined, peerLastUpMs: () => undefined, probe: new Map() }
  t.match(buildSnapshot({ ...base, readiness: { ready: true } }).banner, /No Raft leader known/)
  t.match(buildSnapshot({ ...base, readiness: { ready: false, reason: 'storage is opening' } }).banner, /not ready: storage is opening/)
  const led = { ...status, lead: 'b' }
  const withLeader = { ...base, runtime: { ...runtime, node: { status: () => led, state } } as unknown as ClusterRuntime }
  t.equal(buildSnapshot({ ...withLeader, readiness: { ready: true } }).banner, null)
  t.same(
    (buildSnapshot({ ...withLeader, readiness: { ready: true } }).nodes as Array<{ id: string; role: string }>).map((node) => [node.id, node.role]),
    [
      ['a', 'follower'],
      ['b', 'leader'],
      ['c', 'follower'],
    ],
  )
})
