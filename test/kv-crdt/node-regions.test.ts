// A CRDT bucket placed in two regions (one node each, real nodes in one process, RocksDB): each
// write is acknowledged inside its own region, and the bucket's stream ships it to the other
// (server/shipping: the copy arrives as a local delivery with the same payload and `Rg-Source`),
// where the replica applies it like any other. Checked: a put in east shows in west; concurrent
// merges of different fields in both regions both survive in both; counters from both regions
// add up; a delete in one region racing a merge in the other ends the same in both; a watch in
// west sees east's writes; the tombstones are collected in both regions once both replicas'
// stability reports (shipped the same way) have gone round; both regions end with equal records.
import t from 'tap'
import type { RunningNode } from '../../server/node.js'
import { testCluster, waitForLeader } from '../server/cluster-helpers.js'
import { WatchRecorder, client, until, untilWritable } from './node-helpers.js'

const bucket = 'lb-flows'

t.test('a bucket in two regions converges; GC goes round both', { timeout: 120_000 }, async (t) => {
  const cluster = testCluster(t)
  const plans = await Promise.all([cluster.plan('east-1', { region: 'east' }), cluster.plan('west-1', { region: 'west' })])
  const seeds = plans.map((plan) => `${plan.name}@127.0.0.1:${plan.peerPort}`)
  const nodes = await Promise.all(plans.map((plan) => cluster.start(plan, { nodeId: plan.name, seeds })))
  await Promise.all(nodes.map((node) => node.ready))
  await waitForLeader(nodes, 30_000)
  const [east, west] = nodes as [RunningNode, RunningNode]
  const cEast = await client(t, east.clientUrl)
  const cWest = await client(t, west.clientUrl)
  const created = await cEast.crdtBuckets.ensure(bucket, { regions: ['east', 'west'], replicasPerRegion: 1 })
  t.match(created, { outcome: 'created' })
  t.same((await cWest.crdtBuckets.info(bucket)).placement, { east: ['east-1'], west: ['west-1'] })
  await untilWritable(east, bucket, 30_000)
  await untilWritable(west, bucket, 30_000)
  const kvEast = cEast.kvCrdt(bucket)
  const kvWest = cWest.kvCrdt(bucket)
  const replicaOf = (node: RunningNode) => {
    const replica = node.crdtKv()?.replica(bucket)
    if (replica === undefined) throw new Error(`no replica of ${bucket} on ${node.nodeId}`)
    return replica
  }
  const valueOn = (node: RunningNode, key: string): string | undefined => {
    const entry = replicaOf(node).get(key)
    if (entry === undefined) return undefined
    return entry.value.type === 'bytes' ? Buffer.from(entry.value.bytes).toString('utf8') : entry.value.type === 'json' ? JSON.stringify(entry.value.json) : String(entry.value.count)
  }
  const both = (key: string, value: string | undefined): boolean => valueOn(east, key) === value && valueOn(west, key) === value

  const watch = new WatchRecorder(t, kvWest.watch({ prefix: 'flow/' }))
  await watch.until('ready', (lines) => lines.includes('ready'))

  // Acknowledged in its own region (1 replica there), then shipped.
  const ack = await kvEast.put('flow/1', 'opened-in-east')
  t.match(ack, { origin: 'east-1', level: 'majority', replicasHolding: 1, replicas: 1 })
  await until('flow/1 shipped to west', () => both('flow/1', 'opened-in-east'), 30_000)
  await watch.until("east's write seen by the watch in west", (lines) => lines.includes('flow/1=opened-in-east'), 30_000)

  // Concurrent edits of different fields of one flow in both regions.
  await kvEast.merge('flow/2', { backend: 'b1' })
  await until('flow/2 in west', () => valueOn(west, 'flow/2') !== undefined, 30_000)
  await Promise.all([kvEast.merge('flow/2', { packets: 42 }), kvWest.merge('flow/2', { seenIn: 'west' })])
  const merged = JSON.stringify({ backend: 'b1', packets: 42, seenIn: 'west' })
  await until('both fields in both regions', () => both('flow/2', merged), 30_000)

  // Counters from both regions.
  await Promise.all([kvEast.increment('active/b1', 2), kvWest.increment('active/b1', 3), kvWest.increment('active/b1', -1)])
  await until('the counter in both regions', () => both('active/b1', '4'), 30_000)

  // A delete in west racing a merge in east: whichever way it went, both regions agree.
  await kvEast.merge('flow/3', { state: 'established' })
  await until('flow/3 in west', () => valueOn(west, 'flow/3') !== undefined, 30_000)
  await Promise.all([kvWest.delete('flow/3'), kvEast.merge('flow/3', { packets: 7 })])
  await kvEast.delete('flow/1')
  await until('the same records in both regions', () => JSON.stringify(replicaOf(east).state.view()) === JSON.stringify(replicaOf(west).state.view()), 30_000)
  t.pass(`flow/3 after the race: ${valueOn(east, 'flow/3') ?? 'deleted'} in both regions`)
  t.equal(valueOn(west, 'flow/1'), undefined, "east's delete reached west")

  // Tombstones: collected in both regions once the reports went round (each shipped like an operation).
  const tombstones = replicaOf(east).state.tombstoneCount
  t.ok(tombstones >= 1, `${tombstones} tombstone(s) before collection`)
  let rounds = 0
  await until(
    'the tombstones collected in both regions',
    async () => {
      rounds += 1
      replicaOf(east).reportNow()
      replicaOf(west).reportNow()
      await new Promise((resolve) => setTimeout(resolve, 100))
      return replicaOf(east).state.tombstoneCount === 0 && replicaOf(west).state.tombstoneCount === 0
    },
    30_000,
  )
  t.pass(`collected after ${rounds} report rounds`)
  t.equal(replicaOf(east).info().collectedTombstones, tombstones)
  t.equal(replicaOf(west).info().collectedTombstones, tombstones)
  // A write after the collection counts from nothing in both regions.
  await kvWest.increment('flow/1', 1)
  await until('the new flow/1 in both regions', () => both('flow/1', '1'), 30_000)
  t.same(replicaOf(west).state.view(), replicaOf(east).state.view(), 'equal records in both regions')
})
