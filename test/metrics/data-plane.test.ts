// The data plane's figures as the metrics collect them at scrape time, from fake sources (no
// node): GroupTotals keeps a group's counters monotonic across controller terms and restarts and
// folds evicted groups into their stream; readDataPlane turns the sources into figures (roles,
// acks by level, group lag = delivered − head, routing sums, lag links bounded); NodeMetrics
// exposes them on /metrics (exact series, counters that never go back, gauges of a group that
// left disappear, lag series from the shipper's accessor) and in the key metrics ($RG.metrics).
import t from 'tap'
import { configWith } from '../../shared/config/index.js'
import { createManualClock } from '../../shared/clock.js'
import { createSilentLogger } from '../../shared/log.js'
import { Router } from '../../server/router.js'
import type { ConsumerGroupView } from '../../server/consumers/index.js'
import type { PeerRouteStats, RouteStats } from '../../server/routes/index.js'
import type { StreamCounters } from '../../server/streams/index.js'
import { GroupTotals, NodeMetrics, readDataPlane, replicationLinksMax, splitGroupKey, streamTotals } from '../../server/metrics/index.js'
import type { DataPlaneSources, ShippingLagSourceView, StreamsMetricsSource } from '../../server/metrics/index.js'
import { metric, parseExposition } from './helpers.js'

const counts = (delivered: number, redelivered = 0, acked = 0, deadLettered = 0) => ({ delivered, redelivered, acked, deadLettered })

t.test('GroupTotals: monotonic across terms and restarts, evicted groups live on in their stream', async (t) => {
  const totals = new GroupTotals(2)
  t.same(totals.observe('default/s/g', 'default/s', 1, counts(5, 1, 4)), counts(5, 1, 4))
  t.same(totals.observe('default/s/g', 'default/s', 1, counts(8, 2, 7)), counts(8, 2, 7), 'same controller: its counts')
  t.same(totals.observe('default/s/g', 'default/s', 2, counts(1)), counts(9, 2, 7), 'a new term starts at zero: the previous counts are kept')
  t.same(totals.observe('default/s/g', 'default/s', 2, counts(0)), counts(9, 2, 7), 'lower counts at the same term: a restart (its last counts are kept)')
  t.same(totals.observe('default/s/g', 'default/s', 2, counts(3, 0, 1, 1)), counts(12, 2, 8, 1))
  totals.observe('default/s/h', 'default/s', 1, counts(2))
  t.same(totals.streamTotals().get('default/s'), counts(14, 2, 8, 1), 'the stream sums its groups')
  totals.observe('default/t/x', 'default/t', 1, counts(4))
  t.equal(totals.size, 2, 'bounded')
  t.same(totals.takeEvicted(), [{ group: 'default/s/g', stream: 'default/s' }], 'the least recently seen is evicted')
  t.same(totals.takeEvicted(), [], 'reported once')
  t.same(totals.streamTotals().get('default/s'), counts(14, 2, 8, 1), 'its counts stay in the stream total')
  t.same(totals.streamTotals().get('default/t'), counts(4))
  t.equal(totals.total('default/s/g'), undefined)
})

t.test('splitGroupKey', async (t) => {
  t.same(splitGroupKey('default/orders/billing'), { stream: 'default/orders', group: 'billing' })
  t.same(splitGroupKey('odd'), { stream: 'odd', group: '' })
})

function streamCounters(published: number, write: number, majority: number, all: number, extra: Partial<StreamCounters> = {}): StreamCounters {
  return { published, acked: { write, majority, all }, duplicates: 0, failed: 0, forwarded: 0, ...extra }
}

function groupView(group: string, term: number, head: number, available: number, outstanding: number, members: number, c: ReturnType<typeof counts>): ConsumerGroupView {
  return {
    group,
    term,
    mode: 'load-balanced',
    head,
    available,
    outstanding,
    inFlight: outstanding,
    waiting: 0,
    delayed: 0,
    fetches: 0,
    members: Array.from({ length: members }, (_, index) => ({ member: `m${index}`, deliver: `_INBOX.${index}`, active: index === 0, inFlight: 0, maxInFlight: 10, heartbeatMs: 500, lastSeenAgoMs: 0 })),
    counters: { ...c, nacked: 0, ackWaitExpired: 0, dropped: 0 },
    fenced: false,
  }
}

function peer(name: string, up: boolean, msgsOut: number, msgsIn: number): PeerRouteStats {
  return {
    peer: name,
    up,
    synced: up,
    remoteInterest: 3,
    msgsOut,
    bytesOut: msgsOut * 10,
    msgsIn,
    bytesIn: msgsIn * 10,
    dropsRefused: 1,
    dropsOversize: 0,
    snapshotsSent: 0,
    deltaFramesSent: 0,
    interestSendFailures: 0,
    resyncsRequested: 0,
    interestRefused: 0,
    malformedFrames: 0,
  }
}

/** Mutable fake sources: the test changes what they return between reads. */
class Fakes implements DataPlaneSources {
  counters = new Map<string, StreamCounters>()
  replicas = new Set<string>()
  views: ConsumerGroupView[] = []
  lags: ShippingLagSourceView[] | undefined = undefined
  route: RouteStats | undefined = undefined
  streams(): StreamsMetricsSource {
    const lags = this.lags
    return {
      streamCounters: () => this.counters,
      isReplica: (key) => this.replicas.has(key),
      engine: (key) => (this.replicas.has(key) ? { deliveredCount: 0, writable: true } : undefined),
      ...(lags === undefined ? {} : { shippingLag: () => lags }),
    }
  }
  groups() {
    return { snapshots: () => this.views }
  }
  routes() {
    const route = this.route
    return route === undefined ? undefined : { stats: () => route }
  }
}

t.test('readDataPlane: figures from the sources', async (t) => {
  const fakes = new Fakes()
  fakes.counters.set('default/b', streamCounters(0, 0, 0, 0, { forwarded: 4, failed: 1 }))
  fakes.counters.set('default/a', streamCounters(10, 1, 7, 2, { duplicates: 2 }))
  fakes.replicas.add('default/a')
  fakes.views = [groupView('default/a/g1', 3, 6, 10, 2, 2, counts(6, 1, 4, 1))]
  fakes.route = { localInterest: 5, remoteInterest: 6, peers: [peer('n2', true, 7, 3), peer('n3', false, 1, 2)] }
  const figures = readDataPlane(fakes, new GroupTotals())
  t.same(
    figures.streams?.map((stream) => [stream.stream, stream.role, stream.writable, stream.published, stream.acked, stream.duplicates, stream.failed, stream.forwarded, stream.delivered, stream.redelivered, stream.deadLettered]),
    [
      ['default/a', 'replica', true, 10, { write: 1, majority: 7, all: 2 }, 2, 0, 0, 6, 1, 1],
      ['default/b', 'forwarder', false, 0, { write: 0, majority: 0, all: 0 }, 0, 1, 4, 0, 0, 0],
    ],
    'sorted by stream; group deliveries land on their stream',
  )
  t.same(figures.groups, [{ stream: 'default/a', group: 'g1', term: 3, head: 6, available: 10, outstanding: 2, lag: 4, members: 2, activeMembers: 1, ...counts(6, 1, 4, 1) }])
  t.same(figures.groupTotals, [{ stream: 'default/a', group: 'g1', ...counts(6, 1, 4, 1) }])
  t.equal(figures.replicationLag, null, 'no lag accessor: null (shipping not running)')
  t.match(figures.routing, { peers: 2, peersUp: 1, peersSynced: 1, localInterest: 5, remoteInterest: 6, msgsOut: 8, msgsIn: 5, bytesOut: 80, bytesIn: 50, dropped: 2 })
  t.same(streamTotals(figures.streams ?? []), { published: 10, acked: { write: 1, majority: 7, all: 2 }, duplicates: 2, failed: 1, forwarded: 4, delivered: 6, redelivered: 1, deadLettered: 1 })

  fakes.lags = [{ stream: 'default/a', from: 'eu', to: 'us', events: 3, ms: 40, holder: 'n2', ageMs: 10, stale: false }]
  t.same(readDataPlane(fakes, new GroupTotals()).replicationLag, [{ stream: 'default/a', source: 'eu', destination: 'us', events: 3, ms: 40, holder: 'n2', ageMs: 10, stale: false }], 'shipping\'s from/to read as source/destination')
  fakes.lags = Array.from({ length: replicationLinksMax + 5 }, (_, index) => ({ stream: `default/s${index}`, from: 'eu', to: 'us', events: index, ms: 10, holder: 'n2', ageMs: 0, stale: false }))
  t.equal(readDataPlane(fakes, new GroupTotals()).replicationLag?.length, replicationLinksMax, 'lag links bounded')
  t.same(readDataPlane({ streams: () => undefined, groups: () => undefined, routes: () => undefined }, new GroupTotals()), { streams: null, groups: null, groupTotals: null, replicationLag: null, routing: null })
})

t.test('NodeMetrics: /metrics and key metrics from the data-plane sources', async (t) => {
  const clock = createManualClock(1_000)
  const router = new Router(configWith({}), clock, createSilentLogger())
  const fakes = new Fakes()
  const metrics = new NodeMetrics({ router, clock, nodeName: 'fake', version: 'test', startedAtMs: 0, isReady: () => true, cluster: () => undefined, dataPlane: fakes })
  t.teardown(() => metrics.close())

  const empty = parseExposition(await metrics.render())
  t.equal([...empty.keys()].filter((key) => key.startsWith('railgun_group_') || key.startsWith('railgun_route_')).length, 0, 'nothing before the sources have anything')
  t.match(metrics.keyMetrics(), { persistent: { totals: { streams: 0 }, streams: [], groups: [], replicationLag: null }, routing: null })

  fakes.counters.set('default/a', streamCounters(10, 1, 7, 2, { duplicates: 2, failed: 1, forwarded: 3 }))
  fakes.replicas.add('default/a')
  fakes.views = [groupView('default/a/g1', 3, 6, 10, 2, 2, counts(6, 1, 4, 1))]
  // Every node knows every link; only the links this node measures are exported (no control plane here: its id is '').
  fakes.lags = [
    { stream: 'default/a', from: 'eu-west', to: 'us-east', events: 12, ms: 1_500, holder: '', ageMs: 0, stale: false },
    { stream: 'default/a', from: 'us-east', to: 'eu-west', events: 5, ms: 100, holder: 'n9', ageMs: 200, stale: false },
  ]
  fakes.route = { localInterest: 5, remoteInterest: 6, peers: [peer('n2', true, 7, 3)] }
  let scrape = parseExposition(await metrics.render())
  const a = { stream: 'default/a' }
  const g1 = { stream: 'default/a', group: 'g1' }
  t.equal(metric(scrape, 'railgun_stream_written_total', a), 10)
  t.equal(metric(scrape, 'railgun_stream_acked_total', { stream: 'default/a', level: 'write' }), 1)
  t.equal(metric(scrape, 'railgun_stream_acked_total', { stream: 'default/a', level: 'majority' }), 7)
  t.equal(metric(scrape, 'railgun_stream_acked_total', { stream: 'default/a', level: 'all' }), 2)
  t.equal(metric(scrape, 'railgun_stream_dedup_hits_total', a), 2)
  t.equal(metric(scrape, 'railgun_stream_publish_failed_total', a), 1)
  t.equal(metric(scrape, 'railgun_stream_forwarded_total', a), 3)
  t.equal(metric(scrape, 'railgun_stream_group_delivered_total', a), 6)
  t.equal(metric(scrape, 'railgun_stream_redelivered_total', a), 1)
  t.equal(metric(scrape, 'railgun_stream_dead_lettered_total', a), 1)
  t.equal(metric(scrape, 'railgun_group_head', g1), 6)
  t.equal(metric(scrape, 'railgun_group_outstanding', g1), 2)
  t.equal(metric(scrape, 'railgun_group_lag_events', g1), 4)
  t.equal(metric(scrape, 'railgun_group_members', g1), 2)
  t.equal(metric(scrape, 'railgun_group_term', g1), 3)
  t.equal(metric(scrape, 'railgun_group_acked_total', g1), 4)
  t.equal(metric(scrape, 'railgun_stream_replication_lag_events', { stream: 'default/a', source: 'eu-west', destination: 'us-east' }), 12)
  t.equal(metric(scrape, 'railgun_stream_replication_lag_seconds', { stream: 'default/a', source: 'eu-west', destination: 'us-east' }), 1.5)
  t.equal(metric(scrape, 'railgun_stream_replication_lag_events', { stream: 'default/a', source: 'us-east', destination: 'eu-west' }), undefined, 'a link measured by another node is not exported here')
  t.equal(metric(scrape, 'railgun_route_peers', { state: 'known' }), 1)
  t.equal(metric(scrape, 'railgun_route_interest_entries', { side: 'remote' }), 6)
  t.equal(metric(scrape, 'railgun_route_messages_total', { peer: 'n2', direction: 'out' }), 7)
  t.equal(metric(scrape, 'railgun_route_bytes_total', { peer: 'n2', direction: 'in' }), 30)
  t.equal(metric(scrape, 'railgun_route_dropped_total', { peer: 'n2', reason: 'refused' }), 1)

  // A failover to a new term here: the controller's counters restart, the series do not go back.
  fakes.views = [groupView('default/a/g1', 4, 6, 12, 2, 1, counts(2, 3, 1, 0))]
  fakes.lags = []
  scrape = parseExposition(await metrics.render())
  t.equal(metric(scrape, 'railgun_group_delivered_total', g1), 8, '6 + 2')
  t.equal(metric(scrape, 'railgun_group_redelivered_total', g1), 4, '1 + 3')
  t.equal(metric(scrape, 'railgun_stream_redelivered_total', a), 4)
  t.equal(metric(scrape, 'railgun_group_lag_events', g1), 6)
  t.equal(metric(scrape, 'railgun_stream_replication_lag_events', { stream: 'default/a', source: 'eu-west', destination: 'us-east' }), undefined, 'a link no longer shipped from here leaves')

  const key = metrics.keyMetrics()
  t.match(key.persistent, {
    totals: { streams: 1, replicas: 1, published: 10, acked: { write: 1, majority: 7, all: 2 }, duplicates: 2, failed: 1, forwarded: 3, delivered: 8, redelivered: 4, deadLettered: 1, groups: 1, outstanding: 2, groupLag: 6 },
    streams: [{ stream: 'default/a', role: 'replica', stored: null, publishPerSec: 0, deliverPerSec: 0 }],
    groups: [{ stream: 'default/a', group: 'g1', term: 4, head: 6, lag: 6, delivered: 8 }],
    replicationLag: [],
    truncated: false,
  })
  t.match(key.routing, { peers: 1, peersUp: 1, msgsOut: 7 })
  t.notOk('perPeer' in (key.routing ?? {}), 'per-peer figures stay in /metrics')

  // Deliveries per second by the group controllers, from the sampler's rate windows.
  metrics.sample()
  clock.advance(1_000)
  fakes.views = [groupView('default/a/g1', 4, 6, 12, 2, 1, counts(12, 3, 1, 0))]
  metrics.sample()
  t.equal(metrics.keyMetrics().persistent?.streams[0]?.deliverPerSec, 10, '10 more deliveries in 1 s')

  // The controller moved away: its gauges leave, its totals on this node stay.
  fakes.views = []
  scrape = parseExposition(await metrics.render())
  t.equal(metric(scrape, 'railgun_group_head', g1), undefined)
  t.equal(metric(scrape, 'railgun_group_delivered_total', g1), 18)
  t.equal(metric(scrape, 'railgun_stream_group_delivered_total', a), 18)

  // The stream's role restarted (its counters start again): the series restarts at the new value.
  fakes.counters.set('default/a', streamCounters(1, 0, 1, 0))
  scrape = parseExposition(await metrics.render())
  t.equal(metric(scrape, 'railgun_stream_acked_total', { stream: 'default/a', level: 'majority' }), 1)
})
