// A replica of a three-replica bucket stops and comes back (three real nodes, majority = 2):
// while it is down the other two keep acknowledging writes; once it is back, writes sent to it are
// acknowledged too — forwarded to a replica while its restarted engine waits for its origin slot,
// taken by itself once it has it — and its rebuilt state holds every write acknowledged anywhere,
// before, during and after its absence.
import t from 'tap'
import type { RunningNode } from '../../server/node.js'
import { testCluster, waitForLeader } from '../server/cluster-helpers.js'
import { client, until, untilReplicaReady, untilWritable } from './node-helpers.js'

const bucket = 'sessions'

t.test('a replica restarts: writes go on, and it holds every acked write after', { timeout: 120_000 }, async (t) => {
  const cluster = testCluster(t)
  const plans = await Promise.all(['r1', 'r2', 'r3'].map((name) => cluster.plan(name)))
  const seeds = plans.map((plan) => `${plan.name}@127.0.0.1:${plan.peerPort}`)
  const start = (i: number): Promise<RunningNode> => cluster.start(plans[i] as (typeof plans)[number], { nodeId: (plans[i] as (typeof plans)[number]).name, seeds })
  let nodes = await Promise.all([0, 1, 2].map(start))
  await Promise.all(nodes.map((node) => node.ready))
  await waitForLeader(nodes, 30_000)
  const admin = await client(t, (nodes[1] as RunningNode).clientUrl)
  await admin.crdtBuckets.ensure(bucket, { replicasPerRegion: 3 })
  for (const node of nodes) await untilWritable(node, bucket, 30_000)
  const via2 = admin.kvCrdt(bucket)
  const expected = new Map<string, string>()
  const write = async (kv: typeof via2, key: string, value: string): Promise<string> => {
    const ack = await kv.put(key, value)
    expected.set(key, value)
    return ack.origin
  }
  for (let i = 0; i < 20; i++) await write(via2, `before/${i}`, `b${i}`)

  await cluster.stop('r1')
  for (let i = 0; i < 20; i++) await write(via2, `during/${i}`, `d${i}`)
  t.pass('r2 and r3 acknowledge majority writes while r1 is down')

  const r1 = await start(0)
  await r1.ready
  nodes = [r1, nodes[1] as RunningNode, nodes[2] as RunningNode]
  const via1 = (await client(t, r1.clientUrl)).kvCrdt(bucket)
  await untilReplicaReady(r1, bucket, 30_000)
  const origins = new Set<string>()
  for (let i = 0; i < 20; i++) origins.add(await write(via1, `after/${i}`, `a${i}`))
  await untilWritable(r1, bucket, 30_000)
  origins.add(await write(via1, 'after/last', 'z'))
  t.comment(`writes sent to the restarted r1 were taken by: ${[...origins].sort().join(', ')}`)
  t.ok(origins.has('r1'), 'r1 takes writes again once it has its slot')

  const replica = r1.crdtKv()?.replica(bucket)
  t.match(replica?.replicaId, /^r1#2\d{3}$/, `a new writer incarnation on r1 (${replica?.replicaId})`)
  const valueOn = (node: RunningNode, key: string): string | undefined => {
    const entry = node.crdtKv()?.replica(bucket)?.get(key)
    return entry?.value.type === 'bytes' ? Buffer.from(entry.value.bytes).toString('utf8') : undefined
  }
  await until('every acknowledged write on every replica', () => nodes.every((node) => [...expected].every(([key, value]) => valueOn(node, key) === value)), 30_000)
  t.equal(expected.size, 61)
  t.pass('r1, r2 and r3 hold all 61 acknowledged writes')
})
