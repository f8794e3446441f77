// The dashboard's view of other nodes on three real nodes in two regions (eu-west × 2, us-east ×
// 1; `$RG.metrics` every 250 ms): a persistent stream placed in both regions with one replica each
// and a consumer group; after publishes through an eu-west node, the snapshot of the eu-west node
// that is NOT the stream's replica there shows each region's copy from its replica (eu-west's from
// the other node, us-east's once shipped), the cluster-wide acks, the group in each region from
// its controller, the eu-west → us-east lag from its shipper, routing for every node, and the
// psc/scc/ship designations. With the us-east node stopped, the next snapshots still answer at
// once and show us-east unreachable (copy and group) — never a hang.
import t from 'tap'
import { connect, headers as natsHeaders } from '@nats-io/transport-node'
import { startNode } from '../../server/node.js'
import type { RunningNode } from '../../server/node.js'
import { configWith } from '../../shared/config/index.js'
import { runtimeOf, testCluster, testClusterTimings, waitFor } from '../server/cluster-helpers.js'

const publishIntervalMs = 250
const count = 10
/** A snapshot must answer within this (generous: a loaded machine), whatever the peers do. */
const snapshotTimeoutMs = 5_000

interface Snapshot {
  streams: Array<{ stream: string; perRegion: Array<Record<string, unknown>>; cluster: Record<string, unknown> | null; replicationLag: Array<Record<string, unknown>> }>
  groups: Array<{ group: string; regions: Array<Record<string, unknown>> }>
  designations: Array<{ controller: string; kind: string }>
  routing: Array<{ node: string }>
}

async function snapshotOf(node: RunningNode): Promise<Snapshot> {
  const response = await fetch(`${node.adminUrl}/api/v1/dashboard`, { signal: AbortSignal.timeout(snapshotTimeoutMs) })
  return (await response.json()) as Snapshot
}

async function snapshotUntil(node: RunningNode, what: string, predicate: (snapshot: Snapshot) => boolean, timeoutMs = 30_000): Promise<Snapshot> {
  const deadline = Date.now() + timeoutMs
  let last: Snapshot | undefined
  for (;;) {
    last = await snapshotOf(node)
    if (predicate(last)) return last
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${JSON.stringify({ streams: last.streams, groups: last.groups })}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

t.test('each region\'s copy, the groups and the lag from the nodes that hold them; a stopped node shows unreachable', { timeout: 150_000 }, async (t) => {
  const cluster = testCluster(t)
  const plans = [await cluster.plan('v1', { region: 'eu-west' }), await cluster.plan('v2', { region: 'eu-west' }), await cluster.plan('v3', { region: 'us-east' })]
  const seeds = plans.map((plan) => `127.0.0.1:${plan.peerPort}`)
  const nodes = await Promise.all(
    plans.map(async (plan) => {
      const config = configWith({
        server: { host: '127.0.0.1', port: plan.clientPort, httpPort: plan.httpPort, name: plan.name },
        storage: { dataDir: plan.dataDir },
        cluster: { ...testClusterTimings, peerPort: plan.peerPort, ...plan.cluster, seeds },
      })
      const node = await startNode({ config, metricsPublishIntervalMs: publishIntervalMs })
      cluster.running.set(plan.name, node)
      return node
    }),
  )
  await Promise.all(nodes.map((node) => node.ready))
  const [v1, v2, v3] = nodes as [RunningNode, RunningNode, RunningNode]
  await waitFor('three nodes in the state', () => runtimeOf(v1).node.state.nodes.size === 3 && runtimeOf(v1).leader() !== null)

  const nc = await connect({ servers: v1.clientUrl })
  t.teardown(() => nc.close())
  const ensure = async (verb: string, body: unknown): Promise<void> => {
    const answer = (await nc.request(`$RG.API.${verb}`, JSON.stringify(body), { timeout: 10_000 })).json<{ ok: boolean }>()
    if (!answer.ok) throw new Error(`${verb}: ${JSON.stringify(answer)}`)
  }
  await ensure('STREAM.ENSURE', { name: 'orders', kind: 'persistent', regions: ['eu-west', 'us-east'], replicasPerRegion: 1, ackDefault: 'majority' })
  await ensure('GROUP.ENSURE', { stream: 'orders', name: 'billing', mode: 'load-balanced', maxInFlight: 10, ackWaitMs: 30_000 })
  const placement = runtimeOf(v1).node.state.placements.get('default/orders')
  const euReplica = placement?.get('eu-west')?.replicas[0]
  t.ok(euReplica === v1.nodeId || euReplica === v2.nodeId, 'one eu-west replica')
  // View from the eu-west node that does not hold the stream: every figure of it comes from reports.
  const viewed = euReplica === v1.nodeId ? v2 : v1
  const holder = euReplica === v1.nodeId ? v1 : v2
  await waitFor('the eu-west replica open', () => holder.persistentStreams()?.engine('default/orders') !== undefined, 30_000)

  const h = natsHeaders()
  for (let i = 0; i < count; i++) {
    h.set('Rg-Msg-Id', `o-${i}`)
    const ack = (await nc.request('orders', `order-${i}`, { timeout: 10_000, headers: h })).json<{ ok: boolean; level?: string }>()
    if (!ack.ok) throw new Error(`publish: ${JSON.stringify(ack)}`)
  }

  const settled = await snapshotUntil(viewed, 'both regions\' copies, both groups and the lag', (snapshot) => {
    const orders = snapshot.streams.find((stream) => stream.stream === 'default/orders')
    const billing = snapshot.groups.find((group) => group.group === 'default/orders/billing')
    const lag = orders?.replicationLag.find((link) => link['source'] === 'eu-west' && link['destination'] === 'us-east')
    return (
      orders?.perRegion.every((region) => region['status'] === 'live' && region['delivered'] === count) === true &&
      billing?.regions.every((region) => region['status'] === 'live' && region['lag'] === count) === true &&
      lag?.['events'] === 0 &&
      orders.cluster?.['ackedTotal'] === count
    )
  })
  const orders = settled.streams.find((stream) => stream.stream === 'default/orders')
  t.match(orders?.perRegion, [
    { region: 'eu-west', node: holder.nodeId, status: 'live', delivered: count },
    { region: 'us-east', node: v3.nodeId, status: 'live', delivered: count },
  ], 'each region\'s copy from its replica (us-east\'s once shipped)')
  t.match(orders?.cluster, { ackedTotal: count, acked: { majority: count }, nodesMissing: [] }, 'acks counted where they entered, summed over the reports')
  t.match(orders?.replicationLag.find((link) => link['source'] === 'eu-west'), { destination: 'us-east', events: 0, node: holder.nodeId }, 'eu-west → us-east measured by its shipper')
  t.match(settled.groups.find((group) => group.group === 'default/orders/billing')?.regions, [
    { region: 'eu-west', controller: holder.nodeId, status: 'live', head: 0, outstanding: 0, lag: count, members: 0 },
    { region: 'us-east', controller: v3.nodeId, status: 'live', head: 0, lag: count },
  ], 'the group in each region, from its controller')
  t.same(settled.routing.map((row) => row.node).sort(), [v1.nodeId, v2.nodeId, v3.nodeId].sort(), 'routing figures of every node')
  const kinds = new Set(settled.designations.map((designation) => designation.kind))
  t.ok(kinds.has('psc') && kinds.has('scc') && kinds.has('ship'), `designation kinds listed (${[...kinds].join(', ')})`)

  // us-east goes away: the snapshot answers at once and says so once its last report is stale.
  await cluster.stop('v3')
  const gone = await snapshotUntil(viewed, 'us-east unreachable', (snapshot) => {
    const row = snapshot.streams.find((stream) => stream.stream === 'default/orders')?.perRegion.find((region) => region['region'] === 'us-east')
    return row?.['status'] === 'unreachable'
  })
  const usCopy = gone.streams.find((stream) => stream.stream === 'default/orders')?.perRegion.find((region) => region['region'] === 'us-east')
  t.match(usCopy, { status: 'unreachable', events: null, reason: new RegExp(`${v3.nodeId}: unreachable \\(last report \\d+ s ago\\)`) })
  t.match(gone.groups.find((group) => group.group === 'default/orders/billing')?.regions.find((region) => region['region'] === 'us-east'), { status: /unreachable|vacant/, head: null })
  t.match(gone.streams.find((stream) => stream.stream === 'default/orders')?.perRegion.find((region) => region['region'] === 'eu-west'), { status: 'live' }, 'eu-west still live')
})
