// The admin HTTP endpoint: liveness, readiness, server stats, JSON 404s.
import t from 'tap'
import { connectedRawClient, startTestNode, until } from './helpers.js'

t.test('routes', async (t) => {
  const node = await startTestNode(t, { server: { name: 'admin-node' } })
  await node.ready
  const health = await fetch(`${node.adminUrl}/healthz`)
  t.equal(health.status, 200)
  t.same(await health.json(), { status: 'ok' })
  const ready = await fetch(`${node.adminUrl}/readyz`)
  t.equal(ready.status, 200)
  t.same(await ready.json(), { ready: true })

  const client = await connectedRawClient(t, node.clientPort)
  client.write('SUB s 1\r\nPUB s 3\r\nabc\r\nPING\r\n')
  await client.waitFor(/MSG s 1 3\r\nabc\r\nPONG\r\n$/)
  await until(() => node.stats().outMsgs === 1)
  const server = await fetch(`${node.adminUrl}/api/v1/server`)
  t.equal(server.status, 200)
  t.match(server.headers.get('content-type'), /application\/json/)
  const body = (await server.json()) as Record<string, unknown>
  t.match(body, {
    name: 'admin-node',
    serverId: node.serverId,
    version: String,
    uptimeMs: Number,
    connections: 1,
    subscriptions: 1,
    inMsgs: 1,
    outMsgs: 1,
    inBytes: 3,
    outBytes: 3,
  })

  const missing = await fetch(`${node.adminUrl}/nope`)
  t.equal(missing.status, 404)
  t.match(await missing.json(), { error: 'not found', path: '/nope' })
  const wrongMethod = await fetch(`${node.adminUrl}/healthz`, { method: 'POST' })
  t.equal(wrongMethod.status, 405)
  t.match(await wrongMethod.json(), { error: 'method not allowed' })
})

t.test('readyz reports draining while the node closes', async (t) => {
  const node = await startTestNode(t)
  await node.ready
  const client = await connectedRawClient(t, node.clientPort)
  const closing = node.close()
  await client.closed
  await closing
  t.equal(node.isReady(), false)
  await t.rejects(fetch(`${node.adminUrl}/readyz`), 'admin endpoint is closed after the drain')
})
