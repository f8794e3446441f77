// The dashboard's data-plane figures from fake node views (no node): each region's copy comes from
// this node when it is a replica there, else the freshest replica holding the stream, else
// "unreachable" with the reason per replica; cluster-wide counts sum fresh views only and name the
// nodes missing; a group's figures per region come from its scc holder (live, unreachable, vacant,
// starting); replication lag per (source → destination) from the shipping node, or the reason;
// routing rows. ClusterReports keeps the latest valid `$RG.metrics` report per node from a real
// router and drops what is not one.
import t from 'tap'
import { emptyState } from '../../control-plane/cluster/index.js'
import type { ClusterState, GroupSpec, NodeRecord, StreamSpec } from '../../control-plane/cluster/index.js'
import { createManualClock } from '../../shared/clock.js'
import { configWith } from '../../shared/config/index.js'
import { createSilentLogger } from '../../shared/log.js'
import { Router } from '../../server/router.js'
import { ClusterReports, asReport, groupRegionRows, lagViews, regionViews, reportStaleMs, reportsIdleStopMs, routingRows, shippingReported, streamClusterFigures } from '../../server/dashboard/index.js'
import type { NodeView, Views } from '../../server/dashboard/index.js'
import type { GroupFigures, KeyMetrics, PersistentStreamKeyMetrics, ReplicationLagReport } from '../../server/metrics/index.js'

const key = 'default/orders'
const spec: StreamSpec = {
  namespace: 'default',
  name: 'orders',
  kind: 'persistent',
  regions: ['eu', 'us'],
  replicasPerRegion: 2,
  dedupWindowMs: 120_000,
  retention: { maxAgeMs: 0, maxBytes: 0, maxEvents: 0 },
  ackDefault: 'majority',
  deadLetter: { maxDeliveries: 0, maxLag: 0 },
}
const groupSpec: GroupSpec = { namespace: 'default', stream: 'orders', name: 'billing', mode: 'load-balanced', maxInFlight: 10, ackWaitMs: 1_000, maxDeliveries: 0, start: { from: 'beginning' } }

function node(id: string, region: string): NodeRecord {
  return { id, clientAddress: '', peerAddress: '', adminAddress: '', region, masterEligible: true, tags: {}, state: 'active', removingLosesData: false, joinedIndex: 1 }
}

function state(): ClusterState {
  const base = emptyState()
  const eu = { replicas: ['e1', 'e2'], pending: [], retiring: [], underReplicated: false }
  const us = { replicas: ['u1', 'u2'], pending: [], retiring: [], underReplicated: false }
  return {
    ...base,
    nodes: new Map(['e1', 'e2', 'e3'].map((id) => [id, node(id, 'eu')] as const).concat(['u1', 'u2'].map((id) => [id, node(id, 'us')] as const))),
    streams: new Map([[key, { spec, createdIndex: 1, updatedIndex: 1 }]]),
    placements: new Map([[key, new Map([['eu', eu], ['us', us]])]]),
    groups: new Map([['default/orders/billing', { spec: groupSpec, createdIndex: 2, updatedIndex: 2 }]]),
    designations: new Map([
      ['scc/default/orders/billing/eu', { controller: 'scc/default/orders/billing/eu', holder: 'e2', controllerTerm: 3, region: 'eu', updatedIndex: 2 }],
      ['scc/default/orders/billing/us', { controller: 'scc/default/orders/billing/us', holder: 'u1', controllerTerm: 1, region: 'us', updatedIndex: 2 }],
    ]),
  }
}

function streamFigures(stored: { events: number; bytes: number; delivered: number } | null, acked: number, extra: Partial<PersistentStreamKeyMetrics> = {}): PersistentStreamKeyMetrics {
  return {
    stream: key,
    role: stored === null ? 'forwarder' : 'replica',
    writable: stored !== null,
    published: stored === null ? 0 : acked,
    acked: { write: 0, majority: acked, all: 0 },
    duplicates: 1,
    failed: 0,
    forwarded: stored === null ? acked : 0,
    delivered: 0,
    redelivered: 0,
    deadLettered: 0,
    stored,
    publishPerSec: 2,
    deliverPerSec: 0,
    ...extra,
  }
}

function metrics(nodeId: string, region: string, streams: PersistentStreamKeyMetrics[], groups: GroupFigures[] = [], lag: ReplicationLagReport[] | null = null): KeyMetrics {
  return {
    nodeId,
    name: nodeId,
    region,
    version: 'test',
    timeMs: 1,
    uptimeMs: 1,
    ready: true,
    raft: null,
    clients: { connections: 0, subscriptions: 0, inMsgs: 0, outMsgs: 0, inBytes: 0, outBytes: 0, slowConsumers: 0, inMsgsPerSec: 0, outMsgsPerSec: 0, inBytesPerSec: 0, outBytesPerSec: 0 },
    peers: { up: 0, down: 0, connecting: 0 },
    process: { residentMemoryBytes: 0, heapUsedBytes: 0, eventLoopLagMeanMs: 0, eventLoopLagP99Ms: 0, eventLoopLagMaxMs: 0 },
    storage: { batches: 0, syncedBatches: 0, lastSyncMs: null },
    eventStore: null,
    persistent: {
      totals: { streams: streams.length, replicas: 0, published: 0, acked: { write: 0, majority: 0, all: 0 }, duplicates: 0, failed: 0, forwarded: 0, delivered: 0, redelivered: 0, deadLettered: 0, groups: groups.length, outstanding: 0, groupLag: 0 },
      streams,
      groups,
      replicationLag: lag,
      truncated: false,
    },
    routing: { peers: 4, peersUp: 4, peersSynced: 4, localInterest: 1, remoteInterest: 2, msgsOut: 3, msgsIn: 4, bytesOut: 5, bytesIn: 6, dropped: 0 },
    streams: [],
    streamsTruncated: false,
  }
}

function view(nodeId: string, region: string, ageMs: number, fresh: boolean, streams: PersistentStreamKeyMetrics[], groups: GroupFigures[] = [], lag: ReplicationLagReport[] | null = null): NodeView {
  return { nodeId, metrics: metrics(nodeId, region, streams, groups, lag), ageMs, fresh }
}

const billing: GroupFigures = { stream: key, group: 'billing', term: 3, head: 7, available: 10, outstanding: 2, lag: 3, members: 2, activeMembers: 1, delivered: 7, redelivered: 1, acked: 5, deadLettered: 1 }

t.test('region copies: this node first, else the freshest replica, else unreachable with reasons', async (t) => {
  const views: Views = new Map([
    ['e3', view('e3', 'eu', 0, true, [streamFigures(null, 4)])],
    ['e1', view('e1', 'eu', 3_000, true, [streamFigures({ events: 10, bytes: 100, delivered: 10 }, 5)])],
    ['e2', view('e2', 'eu', 1_000, true, [streamFigures({ events: 9, bytes: 90, delivered: 9 }, 2)], [billing])],
    ['u1', view('u1', 'us', 60_000, false, [streamFigures({ events: 8, bytes: 80, delivered: 8 }, 7)])],
  ])
  const regions = regionViews(key, spec, state(), views, 'e3')
  t.match(regions[0], { region: 'eu', node: 'e2', status: 'live', events: 9, bytes: 90, delivered: 9, ageMs: 1_000 }, 'e3 is no replica: the freshest replica')
  t.match(regions[1], { region: 'us', node: null, status: 'unreachable', events: null })
  t.match(regions[1]?.reason, /u1: unreachable \(last report 60 s ago\); u2: no report received/)
  t.match(regionViews(key, spec, state(), views, 'e1')[0], { node: 'e1', events: 10 }, 'this node when it is a replica, whatever the others\' age')

  const cluster = streamClusterFigures(key, spec, state(), views)
  t.same(cluster.acked, { write: 0, majority: 11, all: 0 }, 'fresh nodes only: 4 + 5 + 2 (u1 is stale)')
  t.equal(cluster.ackedTotal, 11)
  t.equal(cluster.written, 7)
  t.equal(cluster.forwarded, 4)
  t.equal(cluster.duplicates, 3)
  t.equal(cluster.publishPerSec, 6)
  t.equal(cluster.nodesReporting, 3)
  t.same(cluster.nodesMissing, ['u1', 'u2'])

  const noPlacement = { ...state(), placements: new Map() }
  t.match(regionViews(key, spec, noPlacement, views, 'e3')[0], { status: 'unplaced', reason: /no replica placed/ })
})

t.test('consumer groups per region from the scc holder', async (t) => {
  const views: Views = new Map([
    ['e2', view('e2', 'eu', 500, true, [], [billing])],
    ['u1', view('u1', 'us', 500, true, [])],
  ])
  const rows = groupRegionRows('default', 'orders', 'billing', ['eu', 'us'], state(), views)
  t.match(rows[0], { region: 'eu', controller: 'e2', controllerTerm: 3, status: 'live', head: 7, outstanding: 2, lag: 3, members: 2, acked: 5, redeliveries: 1, deadLettered: 1, ageMs: 500 })
  t.match(rows[1], { region: 'us', controller: 'u1', status: 'starting', head: null, reason: /does not run the controller yet/ })
  const stale: Views = new Map([['e2', view('e2', 'eu', 99_000, false, [], [billing])]])
  t.match(groupRegionRows('default', 'orders', 'billing', ['eu'], state(), stale)[0], { status: 'unreachable', head: null, reason: /e2: unreachable/ })
  const vacant = { ...state(), designations: new Map([['scc/default/orders/billing/eu', { controller: 'scc/default/orders/billing/eu', holder: null, controllerTerm: 4, region: 'eu', updatedIndex: 3 }]]) }
  t.match(groupRegionRows('default', 'orders', 'billing', ['eu'], vacant, views)[0], { status: 'vacant', controller: null, controllerTerm: 4 })
})

t.test('replication lag per link, or why it is missing', async (t) => {
  const none: Views = new Map([['e1', view('e1', 'eu', 0, true, [])]])
  t.notOk(shippingReported(none))
  t.same(
    lagViews(key, spec, none).map((lag) => [lag.source, lag.destination, lag.events, lag.reason]),
    [
      ['eu', 'us', null, 'no node reports cross-region shipping (nodes of an older version)'],
      ['us', 'eu', null, 'no node reports cross-region shipping (nodes of an older version)'],
    ],
  )
  const link = (source: string, destination: string, events: number, ms: number, holder: string, ageMs: number, stale = false): ReplicationLagReport => ({ stream: key, source, destination, events, ms, holder, ageMs, stale })
  const shipping: Views = new Map([
    // e1 holds the eu→us shipper (measured at its report, 2 s ago); e2 relays e1's last measure, 300 ms old, in a report 100 ms old.
    ['e1', view('e1', 'eu', 2_000, true, [], [], [link('eu', 'us', 40, 2_500, 'e1', 0)])],
    ['e2', view('e2', 'eu', 100, true, [], [], [link('eu', 'us', 12, 500, 'e1', 300), link('us', 'eu', 9, 9, 'u1', 20_000, true)])],
    ['u1', view('u1', 'us', 100, false, [], [], [link('us', 'eu', 1, 1, 'u1', 0)])],
  ])
  t.ok(shippingReported(shipping))
  const lags = lagViews(key, spec, shipping)
  t.match(lags[0], { source: 'eu', destination: 'us', events: 12, seconds: 0.5, node: 'e1', ageMs: 400 }, 'the freshest measure of the link, named by its holder')
  t.match(lags[1], { source: 'us', destination: 'eu', events: null, reason: /no fresh measure of this link/ }, 'a stale report and a stale relayed measure are not used')
})

t.test('routing rows: this node first, staleness shown', async (t) => {
  const views: Views = new Map([
    ['b', view('b', 'eu', 70_000, false, [])],
    ['a', view('a', 'eu', 0, true, [])],
  ])
  t.same(
    routingRows(views, 'a').map((row) => [row.node, row.self, row.fresh]),
    [
      ['a', true, true],
      ['b', false, false],
    ],
  )
})

t.test('ClusterReports: the latest valid report per node while watched, nothing kept after', async (t) => {
  const clock = createManualClock(0)
  const router = new Router(configWith({}), clock, createSilentLogger())
  const reports = new ClusterReports({ router, nowMs: () => clock.nowMs(), logger: createSilentLogger(), idleCheckMs: 20 })
  t.teardown(() => reports.close())
  const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value))
  router.publishLocal('$RG.metrics.n1', undefined, undefined, encode(metrics('n1', 'eu', [])))
  t.equal(reports.want().size, 0, 'not subscribed before someone watches')
  clock.advance(10)
  router.publishLocal('$RG.metrics.n1', undefined, undefined, encode(metrics('n1', 'eu', [streamFigures(null, 1)])))
  router.publishLocal('$RG.metrics.n2', undefined, undefined, encode(metrics('n1', 'eu', [])))
  router.publishLocal('$RG.metrics.n3', undefined, undefined, new TextEncoder().encode('not json'))
  const { persistent: _persistent, routing: _routing, ...older } = metrics('n4', 'us', [])
  router.publishLocal('$RG.metrics.n4', undefined, undefined, encode(older))
  const got = reports.want()
  t.same([...got.keys()].sort(), ['n1', 'n4'])
  t.equal(got.get('n1')?.receivedAtMs, 10)
  t.equal(got.get('n1')?.report.persistent?.streams.length, 1)
  t.equal(got.get('n4')?.report.persistent, null, 'an older node without the section reads as null')
  t.equal(reports.dropped, 2, 'a subject/node mismatch and a non-report are dropped')
  t.equal(asReport({ nodeId: 'x', region: 'r', timeMs: 1, persistent: { totals: {}, streams: [{}], groups: [] } })?.persistent, null, 'a malformed section reads as null')
  const { acked: _acked, ...withoutAcks } = streamFigures(null, 1)
  t.equal(asReport({ ...metrics('x', 'r', []), persistent: { ...metrics('x', 'r', []).persistent, streams: [withoutAcks] } })?.persistent, null, 'a stream without its acks: the section reads as null')
  t.equal(asReport({ ...metrics('x', 'r', []), routing: { peers: 'many' } })?.routing, null)
  t.ok(asReport(metrics('x', 'r', [streamFigures({ events: 1, bytes: 2, delivered: 1 }, 1)], [billing], [{ stream: key, source: 'eu', destination: 'us', events: 1, ms: 2, holder: 'e1', ageMs: 0, stale: false }]))?.persistent !== null, 'a full report is kept whole')
  t.equal(asReport([]), undefined)
  t.equal(reportStaleMs(5_000), 15_000)
  t.equal(reportStaleMs(0), 5_000)
  // Nobody watches: the idle check unsubscribes and forgets.
  clock.advance(reportsIdleStopMs + 1)
  await new Promise((resolve) => setTimeout(resolve, 200))
  router.publishLocal('$RG.metrics.n1', undefined, undefined, encode(metrics('n1', 'eu', [])))
  t.equal(reports.want().size, 0, 'forgotten after the idle period, and the new subscription has nothing yet')
})
