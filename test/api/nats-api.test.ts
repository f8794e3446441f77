// The control API through the official NATS client (plain request/reply on $RG.API.>): ensure
// semantics (create, unchanged, conflict with the diff, update), validation errors with stable
// codes, KV verbs, readiness, stale reads, and system events on $RG.events.>.
import t from 'tap'
import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import { apiEnvelopeSchema, apiFailureSchema, clusterStatusSchema, kvGetResponseSchema, kvListResponseSchema, mutationResponseSchema, streamViewSchema } from '../../shared/api/index.js'
import { startApiCluster } from './helpers.js'

type Answer = { ok: boolean; error?: { code: string; message: string; details?: Record<string, unknown> } } & Record<string, unknown>

async function call(nc: NatsConnection, verb: string, body: unknown): Promise<Answer> {
  const payload = typeof body === 'string' ? body : JSON.stringify(body)
  const reply = await nc.request(`$RG.API.${verb}`, payload, { timeout: 10_000 })
  const answer = reply.json<Answer>()
  // Every answer is the shared envelope; failures exactly `{ok:false, error:{code, message, details?}}`.
  if (!apiEnvelopeSchema.safeParse(answer).success || (answer.ok === false && !apiFailureSchema.safeParse(answer).success)) {
    throw new Error(`${verb}: answer outside the envelope: ${JSON.stringify(answer)}`)
  }
  return answer
}

t.test('control API over plain NATS request/reply', async (t) => {
  const cluster = await startApiCluster(t, 1)
  const node = cluster.nodes[0]!
  const nc = await connect({ servers: node.clientUrl })
  t.teardown(() => nc.close())

  await t.test('ensure twice: created, then unchanged; defaults filled in', async (t) => {
    const first = await call(nc, 'STREAM.ENSURE', { name: 'orders' })
    t.equal(first.ok, true)
    t.equal(first.outcome, 'created')
    t.same(first.definition, {
      namespace: 'default',
      name: 'orders',
      kind: 'persistent',
      regions: ['us-east'],
      replicasPerRegion: 1, // 3 capped by the one active node of us-east
      dedupWindowMs: 120_000,
      retention: { maxAgeMs: 0, maxBytes: 0, maxEvents: 0 },
      ackDefault: 'majority',
      deadLetter: { maxDeliveries: 0, maxLag: 0 },
    })
    t.ok(mutationResponseSchema.safeParse(first).success, 'mutation answers match the shared schema')
    const second = await call(nc, 'STREAM.ENSURE', { name: 'orders' })
    t.equal(second.outcome, 'unchanged')
    const explicit = await call(nc, 'STREAM.ENSURE', { name: 'orders', dedupWindowMs: 120_000, kind: 'persistent' })
    t.equal(explicit.outcome, 'unchanged', 'explicit fields equal to the stored ones')
  })

  await t.test('conflict reports the diff; update applies it', async (t) => {
    const conflict = await call(nc, 'STREAM.ENSURE', { name: 'orders', dedupWindowMs: 5_000 })
    t.equal(conflict.ok, false)
    t.equal(conflict.error?.code, 'RG_ERR_CONFLICT')
    t.match(conflict.error?.message, /dedupWindowMs: 120000 → 5000/)
    t.same(conflict.error?.details?.diffs, [{ path: 'dedupWindowMs', old: 120_000, new: 5_000 }])
    const window = await call(nc, 'STREAM.ENSURE', { name: 'orders', dedupWindowMs: 5_000, update: true })
    t.equal(window.error?.code, 'RG_ERR_IMMUTABLE_FIELD', "a persistent stream's dedup window is fixed")
    const updated = await call(nc, 'STREAM.ENSURE', { name: 'orders', ackDefault: 'write', update: true })
    t.equal(updated.outcome, 'updated')
    const info = await call(nc, 'STREAM.INFO', { name: 'orders' })
    t.equal((info.stream as { ackDefault: string }).ackDefault, 'write')
    t.ok(streamViewSchema.safeParse(info.stream).success, 'the stream view matches the shared schema')
    t.same((info.stream as { placement: unknown }).placement, { 'us-east': { replicas: ['n1'], pending: [], retiring: [], underReplicated: false } })
    const kind = await call(nc, 'STREAM.ENSURE', { name: 'orders', kind: 'ephemeral', update: true })
    t.equal(kind.error?.code, 'RG_ERR_IMMUTABLE_FIELD')
  })

  await t.test('invalid input answers typed errors', async (t) => {
    const badName = await call(nc, 'STREAM.ENSURE', { name: 'bad.name' })
    t.equal(badName.error?.code, 'RG_ERR_INVALID_NAME')
    t.equal(badName.error?.details?.field, 'name')
    const unknownNamespace = await call(nc, 'STREAM.ENSURE', { name: 'x', namespace: 'nowhere' })
    t.equal(unknownNamespace.error?.code, 'RG_ERR_NOT_FOUND')
    t.match(unknownNamespace.error?.message, /nowhere/)
    const malformed = await call(nc, 'STREAM.ENSURE', '{"name": ')
    t.equal(malformed.error?.code, 'RG_ERR_MALFORMED_COMMAND')
    const notObject = await call(nc, 'STREAM.LIST', '[1,2]')
    t.equal(notObject.error?.code, 'RG_ERR_MALFORMED_COMMAND')
    const unknownVerb = await call(nc, 'STREAM.EXPLODE', {})
    t.equal(unknownVerb.error?.code, 'RG_ERR_UNKNOWN_VERB')
    t.match(unknownVerb.error?.message, /STREAM\.EXPLODE/)
    const wrongType = await call(nc, 'STREAM.ENSURE', { name: 'x', replicasPerRegion: 'three' })
    t.equal(wrongType.error?.code, 'RG_ERR_INVALID_ARGUMENT')
    t.match(wrongType.error?.message, /replicasPerRegion/)
    const unknownField = await call(nc, 'STREAM.ENSURE', { name: 'x', replicas: 3 })
    t.equal(unknownField.error?.code, 'RG_ERR_INVALID_ARGUMENT', 'unknown fields are refused, not ignored')
    const missing = await call(nc, 'STREAM.INFO', { name: 'absent' })
    t.equal(missing.error?.code, 'RG_ERR_NOT_FOUND')
  })

  await t.test('a cyclic pipeline is refused with the cycle named', async (t) => {
    const cyclic = await call(nc, 'PIPELINE.ENSURE', {
      name: 'etl',
      triggerStream: 'orders',
      stages: [
        { name: 'a', after: ['c'] },
        { name: 'b', dependencies: ['a'] },
        { name: 'c', after: ['b'] },
      ],
    })
    t.equal(cyclic.error?.code, 'RG_ERR_CYCLE')
    t.match(cyclic.error?.message, /a → b → c → a/)
    const fine = await call(nc, 'PIPELINE.ENSURE', { name: 'etl', triggerStream: 'orders', stages: [{ name: 'a' }, { name: 'b', after: ['a'] }] })
    t.equal(fine.outcome, 'created')
  })

  await t.test('KV: put, get, cas, delete, list; oversized values', async (t) => {
    t.equal((await call(nc, 'BUCKET.ENSURE', { name: 'config', maxValueBytes: 16 })).outcome, 'created')
    const put = await call(nc, 'KV.PUT', { bucket: 'config', key: 'a.b', value: 'one' })
    t.equal(put.outcome, 'created')
    const revision = (put.details as { revision: number }).revision
    t.ok(revision > 0)
    const got = await call(nc, 'KV.GET', { bucket: 'config', key: 'a.b' })
    t.match(got.entry, { key: 'a.b', value: 'one', valueBase64: Buffer.from('one').toString('base64'), revision })
    t.equal(got.kvRevision, revision)
    t.ok(kvGetResponseSchema.safeParse(got).success, 'KV.GET matches the shared schema')
    const stale = await call(nc, 'KV.GET', { bucket: 'config', key: 'a.b', stale: true })
    t.match(stale.entry, { value: 'one' }, 'stale read of this node')
    const mismatch = await call(nc, 'KV.CAS', { bucket: 'config', key: 'a.b', value: 'two', expectedRevision: revision + 100 })
    t.equal(mismatch.error?.code, 'RG_ERR_REVISION_MISMATCH')
    const cas = await call(nc, 'KV.CAS', { bucket: 'config', key: 'a.b', valueBase64: Buffer.from([0xff, 0x00]).toString('base64'), expectedRevision: revision })
    t.equal(cas.outcome, 'updated')
    const binary = await call(nc, 'KV.GET', { bucket: 'config', key: 'a.b' })
    t.equal((binary.entry as { valueBase64: string }).valueBase64, '/wA=')
    t.equal((binary.entry as { value?: string }).value, undefined, 'no text for bytes that are not UTF-8')
    const tooLarge = await call(nc, 'KV.PUT', { bucket: 'config', key: 'big', value: 'x'.repeat(17) })
    t.equal(tooLarge.error?.code, 'RG_ERR_VALUE_TOO_LARGE')
    const both = await call(nc, 'KV.PUT', { bucket: 'config', key: 'k', value: 'x', valueBase64: 'eA==' })
    t.equal(both.error?.code, 'RG_ERR_INVALID_ARGUMENT')
    await call(nc, 'KV.PUT', { bucket: 'config', key: 'a.c', value: 'three' })
    await call(nc, 'KV.PUT', { bucket: 'config', key: 'z', value: 'last' })
    const listed = await call(nc, 'KV.LIST', { bucket: 'config', prefix: 'a.' })
    t.same((listed.entries as Array<{ key: string }>).map((entry) => entry.key), ['a.b', 'a.c'])
    t.ok(kvListResponseSchema.safeParse(listed).success, 'KV.LIST matches the shared schema')
    t.equal((await call(nc, 'KV.DELETE', { bucket: 'config', key: 'a.c' })).outcome, 'removed')
    t.equal((await call(nc, 'KV.DELETE', { bucket: 'config', key: 'a.c' })).outcome, 'unchanged')
    const gone = await call(nc, 'KV.GET', { bucket: 'config', key: 'a.c' })
    t.equal(gone.entry, null)
    const noBucket = await call(nc, 'KV.GET', { bucket: 'nope', key: 'x' })
    t.equal(noBucket.error?.code, 'RG_ERR_NOT_FOUND')
  })

  await t.test('system events are published on $RG.events.>', async (t) => {
    const received: Array<{ subject: string; data: Record<string, unknown> }> = []
    const subscription = nc.subscribe('$RG.events.>', {
      callback: (_error, message) => {
        received.push({ subject: message.subject, data: message.json<Record<string, unknown>>() })
      },
    })
    await nc.flush()
    await call(nc, 'NAMESPACE.ENSURE', { name: 'billing' })
    await call(nc, 'KV.PUT', { bucket: 'config', key: 'ev', value: 'v' })
    await call(nc, 'NAMESPACE.ENSURE', { name: 'billing' }) // unchanged: no event
    const deadline = Date.now() + 5_000
    while (received.filter((event) => !event.subject.startsWith('$RG.events.leader')).length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    subscription.unsubscribe()
    const clusterEvents = received.filter((event) => !event.subject.startsWith('$RG.events.leader'))
    t.same(clusterEvents.map((event) => event.subject), ['$RG.events.namespace.created', '$RG.events.kv.config.put'])
    t.match(clusterEvents[0]?.data, { kind: 'namespace', action: 'created', id: { name: 'billing' } })
    t.match(clusterEvents[1]?.data, { bucket: 'config', key: 'ev', value: Buffer.from('v').toString('base64') })
  })

  await t.test('a node that is not ready answers RG_ERR_NOT_READY', async (t) => {
    node.ready = false
    const answer = await call(nc, 'CLUSTER.STATUS', {})
    node.ready = true
    t.equal(answer.error?.code, 'RG_ERR_NOT_READY')
    const status = await call(nc, 'CLUSTER.STATUS', {})
    t.ok(clusterStatusSchema.safeParse(status).success, 'CLUSTER.STATUS matches the shared schema')
    t.match(status, { ok: true, nodeId: 'n1', leader: 'n1', role: 'leader', regions: ['us-east'], members: [{ id: 'n1', region: 'us-east', role: 'leader', state: 'active', voter: true }] })
  })

  await t.test('a publish without a reply subject is ignored', async (t) => {
    nc.publish('$RG.API.STREAM.DELETE', JSON.stringify({ name: 'orders' }))
    await nc.flush()
    await new Promise((resolve) => setTimeout(resolve, 100))
    const info = await call(nc, 'STREAM.INFO', { name: 'orders' })
    t.equal(info.ok, true, 'nothing was deleted')
  })
})
