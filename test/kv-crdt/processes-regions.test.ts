// The founding notes' use case on real processes (issue #6): load balancers in two datacenters
// share flow state through a CRDT bucket placed in both regions — two `railgun server` processes
// (regions east and west, every peer link through the harness's TCP proxy), one Railgun client
// per datacenter. Writes are acknowledged inside each region; the link between the regions is
// cut for a few seconds while both sides keep writing (merges of different fields of one flow,
// counters, a flow closed in one region and updated in the other); after the heal both regions
// hold the same records, the concurrently updated flow kept both sides' fields, the closed flow
// stayed closed, the counters add up, and a watch in west saw what east wrote.
import t from 'tap'
import type { CrdtKvBucket, RailgunClient } from '../../client/index.js'
import { startRegions, until } from '../multi-region/helpers.js'
import { WatchRecorder } from './node-helpers.js'

const bucket = 'lb-flows'
const cutMs = 3_000

/** Retries a write while the bucket is not ready yet (just created, replicas opening). */
async function whenReady<T>(what: string, write: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await write()
    } catch (error) {
      if ((error as { code?: string }).code !== 'RG_ERR_NOT_READY' || Date.now() > deadline) throw new Error(`${what}: ${(error as Error).message}`, { cause: error })
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
}

const describeAll = async (kv: CrdtKvBucket): Promise<string> =>
  JSON.stringify((await kv.list()).map((entry) => [entry.key, entry.type === 'counter' ? String(entry.count()) : entry.type === 'json' ? entry.json() : entry.string()]))

t.test('two regions on real processes: writes acked locally, a cut, the heal, the same state', { timeout: 240_000 }, async (t) => {
  const started = Date.now()
  const r = await startRegions(t, ['east', 'west'], 1)
  const cEast: RailgunClient = await r.cluster.client('east-1')
  const cWest: RailgunClient = await r.cluster.client('west-1')
  t.match(await cEast.crdtBuckets.ensure(bucket, { regions: ['east', 'west'], replicasPerRegion: 1 }), { outcome: 'created' })
  const east = cEast.kvCrdt(bucket)
  const west = cWest.kvCrdt(bucket)
  await whenReady('east writable', () => east.put('boot/east', 'up'))
  await whenReady('west writable', () => west.put('boot/west', 'up'))
  t.comment(`cluster and bucket ready after ${Date.now() - started} ms`)

  const watch = new WatchRecorder(t, west.watch({ prefix: 'flow/' }))
  await watch.until('ready', (lines) => lines.includes('ready'), 30_000)
  const flow = (n: number): string => `flow/tcp/198.51.100.${n}:5000${n}`
  const ack = await east.merge(flow(1), { backend: 'b1', state: 'established' })
  t.match(ack, { origin: 'east-1', replicasHolding: 1, replicas: 1 }, 'acknowledged inside east')
  await east.increment('active/b1')
  await west.merge(flow(2), { backend: 'b2', state: 'established' })
  await west.increment('active/b2')
  await until('both flows in both regions', async () => (await describeAll(east)) === (await describeAll(west)) && (await west.get(flow(1))) !== undefined && (await east.get(flow(2))) !== undefined, 60_000)
  await watch.until("east's flow seen in west", (lines) => lines.some((line) => line.startsWith(`${flow(1)}=`)), 30_000)

  // The cut: each side goes on alone.
  r.cluster.partition(['east-1'], ['west-1'])
  const cutAt = Date.now()
  await east.merge(flow(1), { packets: 42 }) // east updates flow 1 …
  await west.merge(flow(1), { seenIn: 'west' }) // … west other fields of the same flow
  await west.delete(flow(2)) // west closes flow 2 …
  await west.increment('active/b2', -1)
  await east.merge(flow(2), { packets: 7 }) // … while east, not knowing, updates it
  await Promise.all([east.increment('active/b1', 2), west.increment('active/b1', 3)])
  t.equal((await east.get(flow(2)))?.json().packets, 7, 'during the cut east still sees flow 2')
  t.equal(await west.get(flow(2)), undefined, 'west has closed it')
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, cutMs - (Date.now() - cutAt))))
  r.cluster.heal()

  await until('the same records in both regions', async () => (await describeAll(east)) === (await describeAll(west)), 60_000)
  const state = await describeAll(east)
  t.comment(`converged: ${state}`)
  t.same((await east.get(flow(1)))?.json(), { backend: 'b1', packets: 42, seenIn: 'west', state: 'established' }, 'both sides\' fields of flow 1 survived')
  t.equal(await east.get(flow(2)), undefined, 'flow 2, closed in west while east updated it, stays closed in both')
  t.equal((await west.get('active/b1'))?.count(), 6n, 'active/b1: 1 + 2 + 3')
  t.equal((await east.get('active/b2'))?.count(), 0n, 'active/b2: 1 − 1')
  await watch.until('the merged flow 1 reached the watch in west', (lines) => lines.some((line) => line.includes('"packets":42') && line.includes('"seenIn":"west"')), 30_000)
  t.equal(watch.error, undefined)
})
