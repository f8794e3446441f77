// The Railgun client's control API: streams, buckets, cluster, typed ApiError, and KV watch
// (current values first, then every change in revision order, no gap and no duplicate).
import t from 'tap'
import { bufferCount, filter, firstValueFrom, take } from 'rxjs'
import { ApiError, connect, RailgunClientError } from '../../client/index.js'
import type { KvChange } from '../../client/index.js'
import { startApiCluster, waitFor } from './helpers.js'

t.test('client.streams, client.buckets, client.cluster', async (t) => {
  const cluster = await startApiCluster(t, 1)
  const client = await connect(cluster.nodes[0]!.clientUrl)
  t.teardown(() => client.close())

  const created = await client.streams.ensure({ name: 'events', kind: 'ephemeral' })
  t.equal(created.outcome, 'created')
  t.equal((await client.streams.ensure({ name: 'events' })).outcome, 'unchanged')
  const error = await client.streams.ensure({ name: 'events', retention: { maxEvents: 10 } }).catch((caught: unknown) => caught)
  t.ok(error instanceof ApiError, 'an ApiError')
  t.ok(error instanceof RailgunClientError, 'a RailgunClientError')
  t.equal((error as ApiError).code, 'RG_ERR_CONFLICT')
  t.equal((error as ApiError).verb, 'STREAM.ENSURE')
  t.same((error as ApiError).details.diffs, [{ path: 'retention.maxEvents', old: 0, new: 10 }])
  t.equal((error as ApiError).outcomeUnknown, false)

  const list = await client.streams.list()
  t.same(list.map((stream) => `${stream.namespace}/${stream.name}:${stream.kind}`), ['default/events:ephemeral'])
  t.same((await client.streams.list({}, { stale: true })).length, 1, 'stale list')
  t.equal((await client.streams.info('default', 'events')).kind, 'ephemeral')
  t.equal((await client.streams.remove('default', 'events')).outcome, 'removed')
  await t.rejects(client.streams.info('default', 'events'), { code: 'RG_ERR_NOT_FOUND' })

  t.equal((await client.buckets.ensure({ name: 'b1' })).outcome, 'created')
  t.match(await client.buckets.info('b1'), { name: 'b1', maxValueBytes: 65_536, keys: 0 })
  t.same((await client.buckets.list()).map((bucket) => bucket.name), ['b1'])

  const status = await client.cluster.status()
  t.match(status, { nodeId: 'n1', leader: 'n1', ready: true, regions: ['us-east'] })
  t.same((await client.cluster.nodes()).map((node) => [node.id, node.region, node.state]), [['n1', 'us-east', 'active']])
  await t.rejects(client.cluster.transferLeader('n9'), { code: 'RG_ERR_NOT_FOUND' })
  await t.rejects(client.cluster.transferLeader(), { code: 'RG_ERR_NO_ELIGIBLE_NODE' }, 'a single voter has no one to hand over to')
})

t.test('client.kv: get, put, cas, delete, list, watch', async (t) => {
  const cluster = await startApiCluster(t, 1)
  const client = await connect(cluster.nodes[0]!.clientUrl)
  t.teardown(() => client.close())
  await client.buckets.ensure({ name: 'flows' })
  const kv = client.kv('flows')

  t.equal(await kv.get('missing'), undefined)
  const r1 = await kv.put('lb.1', 'up')
  t.equal((await kv.get('lb.1'))?.string(), 'up')
  const r2 = await kv.cas('lb.1', new Uint8Array([1, 2, 3]), r1)
  t.ok(r2 > r1)
  t.same([...((await kv.get('lb.1'))?.value ?? [])], [1, 2, 3])
  await t.rejects(kv.cas('lb.1', 'x', r1), { code: 'RG_ERR_REVISION_MISMATCH' })
  await t.rejects(kv.cas('lb.2', 'x', 5), { code: 'RG_ERR_REVISION_MISMATCH' }, 'must exist at revision 5')
  const r3 = await kv.cas('lb.2', 'new', 0)
  t.ok(r3 > r2)
  await kv.put('other', 'o')
  t.same((await kv.list('lb.')).map((entry) => entry.key), ['lb.1', 'lb.2'])
  t.equal(await kv.delete('lb.2', { expectedRevision: r3 }), 'removed')
  t.equal(await kv.delete('lb.2'), 'unchanged')
  await t.rejects(client.kv('nope').get('x'), { code: 'RG_ERR_NOT_FOUND' })

  // Watch without concurrent writes: the current values, then each change in order.
  const watched: KvChange[] = []
  const subscription = kv.watch('lb.').subscribe((change) => watched.push(change))
  await waitFor('the current values', () => watched.length >= 1)
  t.same(watched.map((change) => [change.type, change.key]), [['put', 'lb.1']], 'current value of lb.1 (lb.2 was deleted)')
  const writes: number[] = []
  for (let i = 0; i < 8; i += 1) writes.push(await kv.put(`lb.${i % 4}`, `v${i}`))
  const deleted = await kv.delete('lb.3')
  t.equal(deleted, 'removed')
  await kv.put('other', 'not watched')
  const last = await kv.put('lb.9', 'end')
  await waitFor('the watch saw the last write', () => watched.some((change) => change.revision === last))
  subscription.unsubscribe()
  const changes = watched.slice(1)
  t.same(changes.map((change) => change.revision).slice(0, writes.length), writes, 'every write, in revision order')
  t.match(changes[writes.length], { type: 'delete', key: 'lb.3' }, 'then the delete')
  t.match(changes[writes.length + 1], { type: 'put', key: 'lb.9', revision: last }, 'then the last put; "other" is outside the prefix')
  t.equal(changes.length, writes.length + 2, 'nothing else')

  // Watch racing with writes: applying what it emits, in order, gives the final state exactly,
  // and the changes after the initial values come in strictly increasing revision order.
  const raced: KvChange[] = []
  const racing = kv.watch('lb.').subscribe((change) => raced.push(change))
  const racingWrites: Array<Promise<number>> = []
  for (let i = 0; i < 30; i += 1) racingWrites.push(i % 7 === 6 ? kv.delete(`lb.${i % 5}`).then(() => 0) : kv.put(`lb.${i % 5}`, `r${i}`))
  await Promise.all(racingWrites)
  const end = await kv.put('lb.end', 'x')
  await waitFor('the racing watch saw the end', () => raced.some((change) => change.revision === end))
  racing.unsubscribe()
  const state = new Map<string, string>()
  for (const change of raced) {
    if (change.type === 'delete') state.delete(change.key)
    else state.set(change.key, Buffer.from(change.value ?? new Uint8Array(0)).toString('utf8'))
  }
  const final = await kv.list('lb.')
  t.same([...state.entries()].sort(), final.map((entry) => [entry.key, entry.string()]), 'the watch reconstructs the final state')
  const revisionsSeen = raced.map((change) => change.revision)
  t.equal(new Set(revisionsSeen).size, revisionsSeen.length, 'no duplicate revision')

  // A fresh watch starts from the current values only, in key order.
  const fresh = await firstValueFrom(kv.watch('lb.').pipe(bufferCount(final.length), take(1)))
  t.same(fresh.map((change) => change.key), final.map((entry) => entry.key))
  t.ok(fresh.every((change) => change.type === 'put' && change.value !== undefined))
})

t.test('kv watch re-reads after a reconnect: the net changes made while down', async (t) => {
  const cluster = await startApiCluster(t, 1)
  const node = cluster.nodes[0]!
  const watcher = await connect(node.clientUrl, { name: 'watcher', reconnect: { delayMsMin: 300, delayMsMax: 300 } })
  const writer = await connect(node.clientUrl, { name: 'writer' })
  t.teardown(async () => {
    await watcher.close()
    await writer.close()
  })
  await writer.buckets.ensure({ name: 'lb' })
  const kv = writer.kv('lb')
  await kv.put('a', '1')
  await kv.put('b', '1')
  const seen: KvChange[] = []
  const subscription = watcher.kv('lb').watch().subscribe((change) => seen.push(change))
  t.teardown(() => subscription.unsubscribe())
  await waitFor('the current values', () => seen.length === 2)
  const reconnected = firstValueFrom(watcher.status$.pipe(filter((status) => status.type === 'reconnected')))

  // Drop the watcher's connection; write while it is down (it redials after 300 ms).
  for (const connection of [...node.router.connections]) if (connection.name === 'watcher') connection.closedByPeer()
  const changedA = await kv.put('a', '2')
  await kv.put('c', 'new')
  await kv.put('c', 'newer')
  await kv.delete('b')
  await reconnected
  const last = await kv.put('d', 'after')
  await waitFor('the watch caught up', () => seen.some((change) => change.revision === last))

  const state = new Map<string, string>()
  for (const change of seen) {
    if (change.type === 'delete') state.delete(change.key)
    else state.set(change.key, Buffer.from(change.value ?? new Uint8Array(0)).toString('utf8'))
  }
  t.same([...state.entries()].sort(), (await kv.list()).map((entry) => [entry.key, entry.string()]), 'the watch reconstructs the state')
  t.ok(seen.some((change) => change.key === 'a' && change.revision === changedA), 'the put made while down')
  t.ok(seen.some((change) => change.key === 'b' && change.type === 'delete'), 'the delete made while down')
})
