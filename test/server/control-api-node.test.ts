// The control API as `railgun server` serves it (startNode wires `attachControlApi` once the
// control plane is open): a single node through the official NATS client and REST, and a real
// 3-node cluster (TCP peers, RocksDB) where a mutation sent to a follower applies everywhere and
// a KV watch on one node sees writes made through another.
import t from 'tap'
import { connect as natsConnect } from '@nats-io/transport-node'
import { firstValueFrom, take, toArray } from 'rxjs'
import { connect } from '../../client/index.js'
import { startTestNode } from './helpers.js'
import { runtimeOf, testCluster, waitFor, waitForLeader } from './cluster-helpers.js'

const decoder = new TextDecoder()

t.test('a single node answers $RG.API over NATS and /api/v1 over HTTP', async (t) => {
  const node = await startTestNode(t)
  await node.ready
  const nc = await natsConnect({ servers: node.clientUrl })
  t.teardown(() => nc.close())

  const first = JSON.parse(decoder.decode((await nc.request('$RG.API.STREAM.ENSURE', JSON.stringify({ name: 'orders' }), { timeout: 5_000 })).data)) as Record<string, unknown>
  t.equal(first.ok, true)
  t.equal(first.outcome, 'created')
  const again = JSON.parse(decoder.decode((await nc.request('$RG.API.STREAM.ENSURE', JSON.stringify({ name: 'orders' }), { timeout: 5_000 })).data)) as Record<string, unknown>
  t.equal(again.outcome, 'unchanged', 'the same ensure twice is a no-op')
  const bad = JSON.parse(decoder.decode((await nc.request('$RG.API.STREAM.ENSURE', JSON.stringify({ name: 'no spaces allowed' }), { timeout: 5_000 })).data)) as {
    ok: boolean
    error: { code: string }
  }
  t.equal(bad.ok, false)
  t.equal(bad.error.code, 'RG_ERR_INVALID_NAME')

  const cluster = await fetch(`${node.adminUrl}/api/v1/cluster`)
  t.equal(cluster.status, 200)
  const body = (await cluster.json()) as { ok: boolean; leader: unknown }
  t.equal(body.ok, true)
  t.equal(body.leader, node.nodeId, 'the single node leads')
  const streams = (await (await fetch(`${node.adminUrl}/api/v1/streams`)).json()) as { streams: Array<{ name: string }> }
  t.same(
    streams.streams.map((stream) => stream.name),
    ['orders'],
  )
  const missing = await fetch(`${node.adminUrl}/api/v1/nope`)
  t.equal(missing.status, 404)
})

t.test('a 3-node cluster: API on a follower, KV across nodes, watch, events', async (t) => {
  const cluster = testCluster(t)
  const plans = [await cluster.plan('a'), await cluster.plan('b'), await cluster.plan('c')]
  const seeds = plans.map((plan) => `127.0.0.1:${plan.peerPort}`)
  const nodes = await Promise.all(plans.map((plan) => cluster.start(plan, { seeds, region: 'us-east' })))
  await Promise.all(nodes.map((node) => node.ready))
  const leader = await waitForLeader(nodes)
  const followers = nodes.filter((node) => node !== leader)
  const follower = followers[0]
  const other = followers[1]
  if (follower === undefined || other === undefined) throw new Error('expected two followers')

  const onFollower = await connect(follower.clientUrl)
  const onOther = await connect(other.clientUrl)
  t.teardown(async () => {
    await onFollower.close()
    await onOther.close()
  })

  const created = await onFollower.streams.ensure({ name: 'payments', regions: ['us-east'] })
  t.equal(created.outcome, 'created', 'a mutation sent to a follower is applied (Raft forwards it)')
  await waitFor('the stream on every node', () => nodes.every((node) => runtimeOf(node).node.state.streams.size === 1))

  await onFollower.buckets.ensure({ name: 'flags' })
  const watched = firstValueFrom(onOther.kv('flags').watch().pipe(take(3), toArray()))
  // Let the watch subscribe before the writes it must see.
  await new Promise((resolve) => setTimeout(resolve, 300))
  const r1 = await onFollower.kv('flags').put('a', 'one')
  const r2 = await onFollower.kv('flags').put('b', 'two')
  const r3 = await onFollower.kv('flags').put('a', 'three')
  t.ok(r1 < r2 && r2 < r3, 'revisions grow')
  const entry = await onOther.kv('flags').get('a')
  t.equal(entry === undefined ? undefined : decoder.decode(entry.value), 'three', 'a linearizable read on another node sees the last write')
  const seen = await watched
  t.same(
    seen.map((change) => [change.key, change.revision]),
    [
      ['a', r1],
      ['b', r2],
      ['a', r3],
    ],
    'the watch on another node sees every change in revision order',
  )

  const status = await onOther.cluster.status()
  t.equal(status.leader, runtimeOf(leader).nodeId)
  t.equal(status.members.length, 3)
})
