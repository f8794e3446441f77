// CRDT buckets on one real node (its own control plane, RocksDB), through the Railgun client
// (`client.kvCrdt`, `client.crdtBuckets`) and raw `$RG.KVC` requests: the definition (created,
// unchanged, conflict), put/get/list/delete, last writer wins, JSON merges (concurrent edits of
// different fields both survive), counters, watch by key and by prefix (initial values, `ready`,
// live changes; resumption on the same replica), and bad input answered with clear codes.
import t from 'tap'
import { ApiError, InvalidArgumentError } from '../../client/index.js'
import { startStreamNode, tempDir } from '../streams/helpers.js'
import { WatchRecorder, client, kvc, untilWritable } from './node-helpers.js'

const node = await startStreamNode(t, tempDir(t))
const c = await client(t, node.clientUrl)
const flows = c.kvCrdt('flows')

t.test('ENSURE creates the bucket (stream _kv/flows); the same again is unchanged; a difference is a conflict', async (t) => {
  const created = await c.crdtBuckets.ensure('flows')
  t.equal(created.outcome, 'created')
  t.match(created, { bucket: 'flows', stream: '_kv/flows' })
  t.equal((await c.crdtBuckets.ensure('flows')).outcome, 'unchanged')
  await t.rejects(c.crdtBuckets.ensure('flows', { replicasPerRegion: 3 }), { code: 'RG_ERR_CONFLICT' })
  await untilWritable(node, 'flows')
  const info = await c.crdtBuckets.info('flows')
  t.match(info, { bucket: 'flows', stream: '_kv/flows', regions: ['default'], replicasPerRegion: 1, placement: { default: [node.nodeId] } })
  t.match(info.local, { ready: true, writable: true, keys: 0 })
  t.match(info.local?.replica, new RegExp(`^${node.nodeId}#\\d+$`))
  const streams = await c.streams.list({ namespace: '_kv' })
  t.same(streams.map((s) => `${s.namespace}/${s.name}`), ['_kv/flows'], 'the bucket is its stream')
})

t.test('put, get, list, delete; the last put wins', async (t) => {
  const first = await flows.put('config/mode', 'standby')
  const second = await flows.put('config/mode', 'active')
  t.match(second, { bucket: 'flows', key: 'config/mode', origin: node.nodeId, level: 'majority', replicasHolding: 1, replicas: 1 })
  t.ok(second.hlc.wallMs > first.hlc.wallMs || (second.hlc.wallMs === first.hlc.wallMs && second.hlc.logical > first.hlc.logical), 'a later write has a later HLC')
  const entry = await flows.get('config/mode')
  t.equal(entry?.string(), 'active')
  t.equal(entry?.type, 'bytes')
  t.same(entry?.updatedHlc, second.hlc)
  await flows.put('config/bytes', new Uint8Array([0, 255, 7]))
  t.same([...((await flows.get('config/bytes'))?.bytes() ?? [])], [0, 255, 7], 'binary values round-trip')
  t.same((await flows.list('config/')).map((e) => e.key), ['config/bytes', 'config/mode'], 'list by prefix, key order')
  await flows.delete('config/bytes')
  t.equal(await flows.get('config/bytes'), undefined)
  t.same((await flows.list('config/')).map((e) => e.key), ['config/mode'])
  await flows.put('config/bytes', 'back')
  t.equal((await flows.get('config/bytes'))?.string(), 'back', 'a put after a delete brings the key back')
  t.equal(await flows.get('nothing/here'), undefined)
  t.equal((await flows.put('config/level', 'x', { ack: 'write' })).level, 'write')
})

t.test('JSON merges: concurrent edits of different fields both survive; null removes a field', async (t) => {
  const key = 'flow/tcp/198.51.100.1:50001'
  await flows.merge(key, { backend: 'b1', state: 'established', meta: { zone: 'a' } })
  await Promise.all([flows.merge(key, { packets: 42 }), flows.merge(key, { meta: { rack: 7 } }), flows.merge(key, { state: 'closing' })])
  t.same((await flows.get(key))?.json(), { backend: 'b1', meta: { rack: 7, zone: 'a' }, packets: 42, state: 'closing' })
  await flows.merge(key, { meta: null })
  const entry = await flows.get(key)
  t.same(entry?.json(), { backend: 'b1', packets: 42, state: 'closing' })
  t.ok(Object.isFrozen(entry?.json()), 'JSON values are frozen')
})

t.test('counters add up (negative deltas, 64-bit)', async (t) => {
  await Promise.all([flows.increment('active/b1'), flows.increment('active/b1', 5), flows.increment('active/b1', -2)])
  t.equal((await flows.get('active/b1'))?.count(), 4n)
  await flows.increment('big', 2n ** 62n)
  await flows.increment('big', 2n ** 62n)
  t.equal((await flows.get('big'))?.count(), 2n ** 63n, 'the sum goes past 64 bits')
})

t.test('watch by key and by prefix: initial values, ready, then live changes; resume on the same replica', async (t) => {
  await flows.put('w/a', 'a1')
  await flows.put('w/b', 'b1')
  await flows.put('x/other', 'o1')
  const byPrefix = new WatchRecorder(t, flows.watch({ prefix: 'w/' }))
  const byKey = new WatchRecorder(t, flows.watch('w/b'))
  await byPrefix.until('initial values and ready', (lines) => lines.includes('ready'))
  await byKey.until('ready', (lines) => lines.includes('ready'))
  t.same(byPrefix.lines(), ['*w/a=a1', '*w/b=b1', 'ready'])
  t.same(byKey.lines(), ['*w/b=b1', 'ready'])
  await flows.put('w/b', 'b2')
  await flows.merge('w/c', { n: 1 })
  await flows.put('x/other', 'o2')
  await flows.delete('w/a')
  await byPrefix.until('the live changes', (lines) => lines.includes('w/a deleted'))
  t.same(byPrefix.lines().slice(3), ['w/b=b2', 'w/c={"n":1}', 'w/a deleted'], 'changes of the prefix only, in order, each once')
  await byKey.until('the change of w/b', (lines) => lines.length >= 3)
  t.same(byKey.lines(), ['*w/b=b1', 'ready', 'w/b=b2'])
  const ready = byPrefix.events.find((event) => event.type === 'ready')
  byPrefix.stop()
  byKey.stop()

  // Resume after the first `ready`: only what changed since (the same replica answers).
  await flows.put('w/d', 'd1')
  const resumed = new WatchRecorder(t, flows.watch({ prefix: 'w/' }, { fromRevision: ready?.type === 'ready' ? ready.revision : 0 }))
  await resumed.until('ready', (lines) => lines.includes('ready'))
  t.same(resumed.lines(), ['*w/b=b2', '*w/c={"n":1}', '*w/a deleted', '*w/d=d1', 'ready'], 'keys changed since the revision, in revision order')
  await flows.put('w/e', 'e1')
  await resumed.until('a live change', (lines) => lines.includes('w/e=e1'))
  // The watch is gone from the node once unsubscribed (UNWATCH).
  resumed.stop()
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(node.crdtKv()?.watches.size, 0, 'no watch left on the node')
})

t.test('bad input gets a clear error', async (t) => {
  const code = async (bucket: string, verb: string, body: unknown): Promise<unknown> => ((await kvc(c, bucket, verb, body))['error'] as { code?: string } | undefined)?.code
  t.equal(await code('flows', 'NOPE', {}), 'RG_ERR_INVALID_ARGUMENT', 'unknown verb')
  t.equal(await code('no!good', 'GET', { key: 'a' }), 'RG_ERR_INVALID_ARGUMENT', 'a bucket token that is not a name')
  t.equal(await code('__flows', 'ENSURE', {}), 'RG_ERR_INVALID_NAME', 'reserved bucket name')
  t.equal(await code('missing', 'GET', { key: 'a' }), 'RG_ERR_NOT_FOUND')
  t.equal(await code('flows', 'GET', '{not json'), 'RG_ERR_MALFORMED_COMMAND')
  t.equal(await code('flows', 'GET', { key: 'a', extra: 1 }), 'RG_ERR_INVALID_ARGUMENT', 'unknown field')
  t.equal(await code('flows', 'GET', { key: 'tab\tkey' }), 'RG_ERR_INVALID_ARGUMENT', 'a key with a control character')
  t.equal(await code('flows', 'PUT', { key: 'k' }), 'RG_ERR_INVALID_ARGUMENT', 'a put without a value')
  t.equal(await code('flows', 'PUT', { key: 'k', valueBase64: '***' }), 'RG_ERR_INVALID_ARGUMENT', 'bad base64')
  t.equal(await code('flows', 'PUT', { key: 'k'.repeat(1025), value: 'v' }), 'RG_ERR_INVALID_ARGUMENT', 'a key over 1,024 bytes')
  t.equal(await code('flows', 'INCR', { key: 'k', delta: 0 }), 'RG_ERR_INVALID_ARGUMENT', 'a zero delta')
  t.equal(await code('flows', 'INCR', { key: 'k', delta: '9223372036854775808' }), 'RG_ERR_INVALID_ARGUMENT', 'a delta over 64 bits')
  t.equal(await code('flows', 'MERGE', { key: 'k', patch: { big: 'x'.repeat(70 * 1024) } }), 'RG_ERR_VALUE_TOO_LARGE', 'a patch over 64 KiB')
  t.equal(await code('flows', 'MERGE', { key: 'k', patch: [1, 2] }), 'RG_ERR_INVALID_ARGUMENT', 'a patch that is not an object')
  t.equal(await code('flows', 'WATCH', { key: 'a', prefix: 'b', deliver: '_INBOX.x' }), 'RG_ERR_INVALID_ARGUMENT', 'both key and prefix')
  t.equal(await code('flows', 'WATCH', { prefix: 'b', deliver: 'orders.new' }), 'RG_ERR_INVALID_ARGUMENT', 'deliver outside _INBOX')
  t.equal(await code('flows', 'UNWATCH', { watchId: 'nobody.1' }), 'RG_ERR_NOT_FOUND')
  // Value types: a merge or increment on a key of another type.
  await flows.put('typed/bytes', 'plain')
  await flows.merge('typed/json', { a: 1 })
  await t.rejects(flows.increment('typed/bytes'), { code: 'RG_ERR_KV_TYPE_MISMATCH', details: { type: 'bytes' } })
  await t.rejects(flows.increment('typed/json'), { code: 'RG_ERR_KV_TYPE_MISMATCH', details: { type: 'json' } })
  const refused = await flows.merge('active/b1', { a: 1 }).catch((error: unknown) => error)
  t.ok(refused instanceof ApiError && refused.verb === 'KVC.MERGE' && refused.code === 'RG_ERR_KV_TYPE_MISMATCH', 'ApiError with the verb and the code')
  // The client's own checks.
  await t.rejects(flows.increment('k', 1.5), InvalidArgumentError)
  await t.rejects(flows.put('', 'v'), InvalidArgumentError)
  // Modes: a linearizable bucket is not a CRDT bucket, and a name is one or the other.
  await c.buckets.ensure({ name: 'config' })
  t.equal(await code('config', 'GET', { key: 'a' }), 'RG_ERR_KV_MODE_MISMATCH')
  await t.rejects(c.crdtBuckets.ensure('config'), { code: 'RG_ERR_KV_MODE_MISMATCH' })
  await t.rejects(c.kvCrdt('missing').put('a', 'b'), { code: 'RG_ERR_NOT_FOUND' })
})

t.test('REMOVE deletes the bucket (its stream); requests then answer not found', async (t) => {
  t.equal((await c.crdtBuckets.ensure('scratch')).outcome, 'created')
  await untilWritable(node, 'scratch')
  await c.kvCrdt('scratch').put('a', 'b')
  t.equal((await c.crdtBuckets.remove('scratch')).outcome, 'removed')
  await t.rejects(c.kvCrdt('scratch').get('a'), { code: 'RG_ERR_NOT_FOUND' })
  await t.rejects(c.crdtBuckets.remove('scratch'), { code: 'RG_ERR_NOT_FOUND' })
})
