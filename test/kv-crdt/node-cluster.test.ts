// CRDT buckets on three real nodes of one region, the bucket on two of them (replicasPerRegion 2,
// so one node holds no replica): writes, reads and watches through the node outside the replica
// set are forwarded to a replica; concurrent JSON merges of different fields made on two replicas
// both survive everywhere; counters incremented on every node add up; concurrent puts on two
// replicas settle on one value on both (last writer wins by HLC); a `majority` ack means both
// replicas hold the write.
import t from 'tap'
import type { RunningNode } from '../../server/node.js'
import { testCluster, waitForLeader } from '../server/cluster-helpers.js'
import { WatchRecorder, client, until, untilWritable } from './node-helpers.js'

const bucket = 'lb-flows'

t.test('three nodes, bucket on two: forwarding, merges, counters, LWW, watch', { timeout: 120_000 }, async (t) => {
  const cluster = testCluster(t)
  const plans = await Promise.all(['n1', 'n2', 'n3'].map((name) => cluster.plan(name)))
  const seeds = plans.map((plan) => `${plan.name}@127.0.0.1:${plan.peerPort}`)
  const nodes = await Promise.all(plans.map((plan) => cluster.start(plan, { nodeId: plan.name, seeds })))
  await Promise.all(nodes.map((node) => node.ready))
  await waitForLeader(nodes, 30_000)

  const admin = await client(t, (nodes[0] as RunningNode).clientUrl)
  await admin.crdtBuckets.ensure(bucket, { replicasPerRegion: 2 })
  const info = await admin.crdtBuckets.info(bucket)
  const replicaIds = info.placement['default'] ?? []
  t.equal(replicaIds.length, 2, 'two replicas placed')
  const replicas = nodes.filter((node) => replicaIds.includes(node.nodeId))
  const outsider = nodes.find((node) => !replicaIds.includes(node.nodeId)) as RunningNode
  for (const node of replicas) await untilWritable(node, bucket, 30_000)
  const [r1, r2] = replicas as [RunningNode, RunningNode]
  const outsiderClient = await client(t, outsider.clientUrl)
  const viaOutsider = outsiderClient.kvCrdt(bucket)
  const viaR1 = (await client(t, r1.clientUrl)).kvCrdt(bucket)
  const viaR2 = (await client(t, r2.clientUrl)).kvCrdt(bucket)
  const valueOn = (node: RunningNode, key: string): string | undefined => {
    const entry = node.crdtKv()?.replica(bucket)?.get(key)
    if (entry === undefined) return undefined
    return entry.value.type === 'bytes' ? Buffer.from(entry.value.bytes).toString('utf8') : entry.value.type === 'json' ? JSON.stringify(entry.value.json) : String(entry.value.count)
  }

  // The outsider holds no replica: its writes and reads go to one.
  t.equal(outsider.crdtKv()?.replica(bucket), undefined, 'no replica on the outsider')
  const watch = new WatchRecorder(t, viaOutsider.watch({ prefix: 'flow/' }))
  await watch.until('ready', (lines) => lines.includes('ready'))
  const ack = await viaOutsider.put('flow/1', 'opened')
  t.ok(replicaIds.includes(ack.origin), `taken by a replica (${ack.origin})`)
  t.match(ack, { level: 'majority', replicasHolding: 2, replicas: 2 })
  t.equal((await viaOutsider.get('flow/1'))?.string(), 'opened', 'read back through the outsider')
  t.ok((outsider.crdtKv()?.counters.forwarded ?? 0) >= 2, 'the outsider forwarded its requests')
  t.equal((await outsiderClient.crdtBuckets.info(bucket)).local, null, 'INFO from the outsider: no local replica')
  // majority of 2 = both replicas hold it durably; each applies it once delivered.
  await until('flow/1 on both replicas', () => replicas.every((node) => valueOn(node, 'flow/1') === 'opened'))

  // Concurrent merges of different fields on the two replicas: both survive on both.
  await viaR1.merge('flow/2', { backend: 'b1', state: 'established' })
  await until('flow/2 on r2', () => valueOn(r2, 'flow/2') !== undefined)
  await Promise.all([viaR1.merge('flow/2', { packets: 42 }), viaR2.merge('flow/2', { seenIn: 'r2' }), viaOutsider.merge('flow/2', { bytesIn: 61_000 })])
  const merged = JSON.stringify({ backend: 'b1', bytesIn: 61_000, packets: 42, seenIn: 'r2', state: 'established' })
  await until('the merged flow/2 on both replicas', () => replicas.every((node) => valueOn(node, 'flow/2') === merged))
  t.equal(JSON.stringify((await viaOutsider.get('flow/2'))?.json()), merged, 'every field survives')

  // Counters from every node add up.
  await Promise.all([viaR1.increment('active/b1', 3), viaR2.increment('active/b1', 4), viaOutsider.increment('active/b1', -1), viaR2.increment('active/b1')])
  await until('the counter on both replicas', () => replicas.every((node) => valueOn(node, 'active/b1') === '7'))
  t.equal((await viaR1.get('active/b1'))?.count(), 7n)

  // Concurrent puts on both replicas: one value wins on both, the one with the greater HLC.
  const [a, b] = await Promise.all([viaR1.put('config/mode', 'from-r1'), viaR2.put('config/mode', 'from-r2')])
  const later = a.hlc.wallMs > b.hlc.wallMs || (a.hlc.wallMs === b.hlc.wallMs && (a.hlc.logical > b.hlc.logical || (a.hlc.logical === b.hlc.logical && a.origin > b.origin))) ? 'from-r1' : 'from-r2'
  await until('one value on both replicas', () => replicas.every((node) => valueOn(node, 'config/mode') === later))
  t.pass(`last writer wins on both replicas: ${later}`)

  // A delete through the outsider; the watch (served by a replica, delivered through the outsider) saw it all.
  await viaOutsider.delete('flow/1')
  await watch.until('the delete of flow/1', (lines) => lines.includes('flow/1 deleted'))
  const live = watch.lines().slice(watch.lines().indexOf('ready') + 1)
  t.same(live.filter((line) => line.startsWith('flow/1')), ['flow/1=opened', 'flow/1 deleted'], 'flow/1: put then delete')
  t.equal(live.at(-1), 'flow/1 deleted')
  t.ok(live.some((line) => line === `flow/2=${merged}`), 'the merged flow/2 reached the watcher')
  t.notOk(live.some((line) => line.startsWith('active/') || line.startsWith('config/')), 'only the prefix')
})
