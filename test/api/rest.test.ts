// REST on the admin port: the same verbs and envelope as $RG.API, HTTP statuses by code, unknown
// routes 404 JSON, wrong methods 405 with `allow`, bad bodies 400; admin-http's own routes stay.
import t from 'tap'
import { startApiCluster } from './helpers.js'

interface Http {
  status: number
  body: { ok: boolean; error?: { code: string; message: string; details?: Record<string, unknown> } } & Record<string, unknown>
  headers: Headers
}

t.test('REST routes', async (t) => {
  const cluster = await startApiCluster(t, 1)
  const base = `${cluster.nodes[0]!.adminUrl}/api/v1`
  const http = async (method: string, path: string, body?: unknown, raw?: string | Uint8Array): Promise<Http> => {
    const init: RequestInit = { method }
    if (raw !== undefined) init.body = raw
    else if (body !== undefined) {
      init.body = JSON.stringify(body)
      init.headers = { 'content-type': 'application/json' }
    }
    const response = await fetch(`${base}${path}`, init)
    return { status: response.status, body: (await response.json()) as Http['body'], headers: response.headers }
  }

  await t.test('cluster and nodes', async (t) => {
    const status = await http('GET', '/cluster')
    t.equal(status.status, 200)
    t.match(status.body, { ok: true, leader: 'n1', members: [{ id: 'n1', region: 'us-east' }] })
    const nodes = await http('GET', '/nodes')
    t.same((nodes.body.nodes as Array<{ id: string }>).map((node) => node.id), ['n1'])
    const added = await http('POST', '/nodes', { nodeId: 'n7', clientAddress: 'nats://10.0.0.7:4222', peerAddress: '10.0.0.7:6222', adminAddress: 'http://10.0.0.7:8222', region: 'eu-west' })
    t.equal(added.body.outcome, 'created')
    const removeActive = await http('DELETE', '/nodes/n7')
    t.equal(removeActive.status, 409)
    t.equal(removeActive.body.error?.code, 'RG_ERR_INVALID_STATE')
    t.equal((await http('POST', '/nodes/n7/drain')).body.outcome, 'updated')
    t.equal((await http('DELETE', '/nodes/n7?force=true')).body.outcome, 'removed')
  })

  await t.test('streams, namespaces, groups, pipelines, buckets', async (t) => {
    t.equal((await http('POST', '/namespaces', { name: 'shop' })).body.outcome, 'created')
    t.match((await http('GET', '/namespaces/shop')).body, { ok: true, namespace: { name: 'shop' } })
    const created = await http('POST', '/streams', { namespace: 'shop', name: 'orders', regions: ['us-east'] })
    t.equal(created.status, 200)
    t.equal(created.body.outcome, 'created')
    const conflict = await http('POST', '/streams', { namespace: 'shop', name: 'orders', ackDefault: 'all' })
    t.equal(conflict.status, 409)
    t.equal(conflict.body.error?.code, 'RG_ERR_CONFLICT')
    t.same(conflict.body.error?.details?.diffs, [{ path: 'ackDefault', old: 'majority', new: 'all' }])
    t.match((await http('GET', '/streams/shop/orders')).body, { ok: true, stream: { namespace: 'shop', name: 'orders', ackDefault: 'majority' } })
    t.equal(((await http('GET', '/streams?namespace=shop&stale=true')).body.streams as unknown[]).length, 1)
    t.equal(((await http('GET', '/streams?namespace=default')).body.streams as unknown[]).length, 0)
    t.equal((await http('POST', '/groups', { namespace: 'shop', stream: 'orders', name: 'billing' })).body.outcome, 'created')
    t.match((await http('GET', '/groups/shop/orders/billing')).body, { group: { mode: 'exclusive', maxInFlight: 1000, ackWaitMs: 30000, start: { from: 'beginning' } } })
    t.equal(((await http('GET', '/groups?stream=orders')).body.groups as unknown[]).length, 1)
    const inUse = await http('DELETE', '/streams/shop/orders')
    t.equal(inUse.body.error?.code, 'RG_ERR_IN_USE')
    t.equal((await http('DELETE', '/groups/shop/orders/billing')).body.outcome, 'removed')
    t.equal((await http('POST', '/pipelines', { namespace: 'shop', name: 'p', triggerStream: 'orders', stages: [{ name: 's1' }] })).body.outcome, 'created')
    t.match((await http('GET', '/pipelines/shop/p')).body, { pipeline: { order: ['s1'] } })
    t.equal((await http('DELETE', '/pipelines/shop/p')).body.outcome, 'removed')
    t.equal((await http('DELETE', '/streams/shop/orders')).body.outcome, 'removed')
    t.equal((await http('GET', '/streams/shop/orders')).status, 404)
    t.equal((await http('DELETE', '/namespaces/shop')).body.outcome, 'removed')
    const protectedDefault = await http('DELETE', '/namespaces/default')
    t.equal(protectedDefault.body.error?.code, 'RG_ERR_NAMESPACE_PROTECTED')
    t.equal((await http('POST', '/buckets', { name: 'cfg', maxValueBytes: 8 })).body.outcome, 'created')
    t.match((await http('GET', '/buckets/cfg')).body, { bucket: { name: 'cfg', maxValueBytes: 8 } })
    t.equal(((await http('GET', '/buckets')).body.buckets as unknown[]).length, 1)
  })

  await t.test('kv', async (t) => {
    const put = await http('PUT', '/kv/cfg/a/b.c', undefined, 'hello')
    t.equal(put.body.outcome, 'created')
    const revision = (put.body.details as { revision: number }).revision
    t.match((await http('GET', '/kv/cfg/a/b.c')).body, { entry: { key: 'a/b.c', value: 'hello', revision } })
    const tooLarge = await http('PUT', '/kv/cfg/big', undefined, 'x'.repeat(9))
    t.equal(tooLarge.status, 413)
    t.equal(tooLarge.body.error?.code, 'RG_ERR_VALUE_TOO_LARGE')
    const stale = await http('PUT', `/kv/cfg/a/b.c?expectedRevision=${revision + 5}`, undefined, 'x')
    t.equal(stale.status, 409)
    t.equal(stale.body.error?.code, 'RG_ERR_REVISION_MISMATCH')
    t.equal((await http('PUT', `/kv/cfg/a/b.c?expectedRevision=${revision}`, undefined, 'bye')).body.outcome, 'updated')
    t.same(((await http('GET', '/kv/cfg?prefix=a/')).body.entries as Array<{ value: string }>).map((entry) => entry.value), ['bye'])
    t.equal((await http('PUT', '/kv/cfg/a/x?expectedRevision=abc', undefined, 'x')).status, 400)
    t.equal((await http('DELETE', '/kv/cfg/a/b.c')).body.outcome, 'removed')
    t.equal((await http('GET', '/kv/cfg/a/b.c')).body.entry, null)
  })

  await t.test('404, 405, 400 in the envelope; admin routes untouched', async (t) => {
    const unknown = await http('GET', '/teapots')
    t.equal(unknown.status, 404)
    t.equal(unknown.body.error?.code, 'RG_ERR_UNKNOWN_VERB')
    const wrongMethod = await http('PUT', '/streams')
    t.equal(wrongMethod.status, 405)
    t.equal(wrongMethod.body.error?.code, 'RG_ERR_UNKNOWN_VERB')
    t.equal(wrongMethod.headers.get('allow'), 'GET, POST')
    const badJson = await http('POST', '/streams', undefined, '{"name":')
    t.equal(badJson.status, 400)
    t.equal(badJson.body.error?.code, 'RG_ERR_MALFORMED_COMMAND')
    const notObject = await http('POST', '/streams', undefined, '"orders"')
    t.equal(notObject.status, 400)
    const badField = await http('POST', '/streams', { name: 'x', kind: 'durable' })
    t.equal(badField.status, 400)
    t.equal(badField.body.error?.code, 'RG_ERR_INVALID_ARGUMENT')
    t.match(badField.body.error?.message, /kind/)
    const badName = await http('GET', '/streams/default/bad%2Aname')
    t.equal(badName.body.error?.code, 'RG_ERR_INVALID_NAME')
    const healthz = await fetch(`${cluster.nodes[0]!.adminUrl}/healthz`)
    t.equal(healthz.status, 200)
    const outside = await fetch(`${cluster.nodes[0]!.adminUrl}/nothing`)
    t.equal(outside.status, 404)
    t.same(await outside.json(), { error: 'not found', path: '/nothing' })
    cluster.nodes[0]!.ready = false
    const notReady = await http('GET', '/cluster')
    cluster.nodes[0]!.ready = true
    t.equal(notReady.status, 503)
    t.equal(notReady.body.error?.code, 'RG_ERR_NOT_READY')
  })
})
