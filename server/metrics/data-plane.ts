// What the metrics read from the data plane at scrape time (pull, not push: the publish, ack and
// delivery paths only bump plain counters their owners keep anyway; labels and bounds are decided
// here, once per read). The sources are narrow views of the node's parts — persistent streams
// (server/streams: per-stream counters, engines, cross-region lag once shipping lands), consumer
// groups (server/consumers: the controllers running here), cluster routes (server/routes) — so
// tests pass fakes. `readDataPlane` turns one read into plain figures; NodeMetrics mirrors them
// into prom-client series and the key metrics.
import type { ConsumerGroupView } from '../consumers/index.js'
import type { RouteStats } from '../routes/index.js'
import type { StreamCounters } from '../streams/index.js'
import { GroupTotals, zeroCounts } from './group-totals.js'
import type { GroupCounts } from './group-totals.js'

/** Ack levels (control-plane/cluster `ackLevels`), in label order. */
type AckCounts = StreamCounters['acked']

/**
 * Cross-region replication lag of one (stream, source region → destination region) link, as the
 * shipper measures it on the node holding the link's `ship/…` designation (server/shipping: each
 * holder reports its links to every node every second): events of the source region the
 * destination has not acknowledged, and how long the oldest of them has waited.
 */
export interface ReplicationLagReport {
  readonly stream: string
  readonly source: string
  readonly destination: string
  readonly events: number
  readonly ms: number
  /** The node that measured it (the shipper designation's holder). */
  readonly holder: string
  /** Age of the measure on the reporting node (0: measured there now). */
  readonly ageMs: number
  /** The holder's report is older than shipping's staleness bound. */
  readonly stale: boolean
}

/** One link as server/shipping's `shippingLag()` gives it (`PersistentStreams.shippingLag`). */
export interface ShippingLagSourceView {
  readonly stream: string
  readonly from: string
  readonly to: string
  readonly events: number
  readonly ms: number
  readonly holder: string
  readonly ageMs: number
  readonly stale: boolean
}

/** The persistent streams of this node (server/streams `PersistentStreams` fits it). */
export interface StreamsMetricsSource {
  streamCounters(): ReadonlyMap<string, Readonly<StreamCounters>>
  isReplica(key: string): boolean
  engine(key: string): { readonly deliveredCount: number; readonly writable: boolean } | undefined
  /** Cross-region shipping (issue #6): every link this node knows (its own shippers' now, the others' as reported). */
  shippingLag?(): readonly ShippingLagSourceView[]
}

/** The consumer-group controllers running on this node (server/consumers `ConsumerGroups` fits it). */
export interface GroupsMetricsSource {
  snapshots(): readonly ConsumerGroupView[]
}

/** Cluster routing of this node (server/routes `ClusterRoutes` fits it). */
export interface RoutesMetricsSource {
  stats(): RouteStats
}

export interface DataPlaneSources {
  streams(): StreamsMetricsSource | undefined
  groups(): GroupsMetricsSource | undefined
  routes(): RoutesMetricsSource | undefined
}

/** One persistent stream as this node sees it. */
export interface StreamFigures {
  /** `namespace/name`. */
  readonly stream: string
  /** This node's role: a replica (engine) or a forwarder of its clients' publishes. */
  readonly role: 'replica' | 'forwarder'
  /** The replica's engine holds an origin slot (writes its publishes itself). */
  readonly writable: boolean
  /** Publishes written by this node's engine (entered here or forwarded to it). */
  readonly published: number
  /** Publishes that entered here and were acked, by level (duplicates included). */
  readonly acked: AckCounts
  readonly duplicates: number
  readonly failed: number
  readonly forwarded: number
  /** First deliveries to consumer groups by the controllers on this node (redeliveries apart). */
  readonly delivered: number
  readonly redelivered: number
  readonly deadLettered: number
}

/** One consumer group controlled on this node. */
export interface GroupFigures {
  /** `namespace/stream`. */
  readonly stream: string
  /** The group's name. */
  readonly group: string
  readonly term: number
  /** The next index dispatched for the first time. */
  readonly head: number
  /** Events delivered in the stream here (what can be dispatched). */
  readonly available: number
  readonly outstanding: number
  /** `available − head`: events the group has not been sent yet. */
  readonly lag: number
  readonly members: number
  readonly activeMembers: number
  /** Totals on this node across controller terms: first deliveries, redeliveries, acks, dead letters. */
  readonly delivered: number
  readonly redelivered: number
  readonly acked: number
  readonly deadLettered: number
}

export interface RoutingFigures {
  readonly peers: number
  readonly peersUp: number
  readonly peersSynced: number
  readonly localInterest: number
  readonly remoteInterest: number
  readonly msgsOut: number
  readonly msgsIn: number
  readonly bytesOut: number
  readonly bytesIn: number
  readonly dropped: number
  readonly perPeer: RouteStats['peers']
}

/** A group's totals on this node (its controller may have moved away since). */
export interface GroupTotalFigures extends GroupCounts {
  readonly stream: string
  readonly group: string
}

export interface DataPlaneFigures {
  /** Null when the node runs no persistent streams (no control plane, or storage without their key spaces). */
  readonly streams: readonly StreamFigures[] | null
  /** Groups controlled here now. */
  readonly groups: readonly GroupFigures[] | null
  /** Every group with counts on this node (controlled here now or before; bounded by `groupTotalsMax`). */
  readonly groupTotals: readonly GroupTotalFigures[] | null
  readonly replicationLag: readonly ReplicationLagReport[] | null
  readonly routing: RoutingFigures | null
}

/** Named limit: lag links read per scrape (streams × ordered pairs of their regions). */
export const replicationLinksMax = 4_096

/** `namespace/stream/group` → its stream key and the group's name. */
export function splitGroupKey(key: string): { readonly stream: string; readonly group: string } {
  const parts = key.split('/')
  if (parts.length < 3) return { stream: key, group: '' }
  return { stream: `${parts[0]}/${parts[1]}`, group: parts.slice(2).join('/') }
}

function routingOf(stats: RouteStats): RoutingFigures {
  let msgsOut = 0
  let msgsIn = 0
  let bytesOut = 0
  let bytesIn = 0
  let dropped = 0
  let up = 0
  let synced = 0
  for (const peer of stats.peers) {
    msgsOut += peer.msgsOut
    msgsIn += peer.msgsIn
    bytesOut += peer.bytesOut
    bytesIn += peer.bytesIn
    dropped += peer.dropsRefused + peer.dropsOversize
    if (peer.up) up += 1
    if (peer.synced) synced += 1
  }
  return { peers: stats.peers.length, peersUp: up, peersSynced: synced, localInterest: stats.localInterest, remoteInterest: stats.remoteInterest, msgsOut, msgsIn, bytesOut, bytesIn, dropped, perPeer: stats.peers }
}

/**
 * One read of the data plane. `totals` keeps the group counters across controller terms (it is
 * the caller's, kept between reads).
 */
export function readDataPlane(sources: DataPlaneSources, totals: GroupTotals): DataPlaneFigures {
  const groupsSource = sources.groups()
  let groups: GroupFigures[] | null = null
  if (groupsSource !== undefined) {
    groups = []
    for (const view of groupsSource.snapshots()) {
      const { stream, group } = splitGroupKey(view.group)
      const counts: GroupCounts = { delivered: view.counters.delivered, redelivered: view.counters.redelivered, acked: view.counters.acked, deadLettered: view.counters.deadLettered }
      const total = totals.observe(view.group, stream, view.term, counts)
      groups.push({
        stream,
        group,
        term: view.term,
        head: view.head,
        available: view.available,
        outstanding: view.outstanding,
        lag: Math.max(0, view.available - view.head),
        members: view.members.length,
        activeMembers: view.members.filter((member) => member.active).length,
        ...total,
      })
    }
  }
  const byStream = totals.streamTotals()
  const groupTotals: GroupTotalFigures[] | null = groupsSource === undefined ? null : [...totals.tracked()].map(({ group, stream, total }) => ({ stream, group: splitGroupKey(group).group, ...total }))

  const streamsSource = sources.streams()
  let streams: StreamFigures[] | null = null
  let replicationLag: ReplicationLagReport[] | null = null
  if (streamsSource !== undefined) {
    streams = []
    for (const [stream, counters] of streamsSource.streamCounters()) {
      const delivered = byStream.get(stream) ?? zeroCounts
      streams.push({
        stream,
        role: streamsSource.isReplica(stream) ? 'replica' : 'forwarder',
        writable: streamsSource.engine(stream)?.writable ?? false,
        published: counters.published,
        acked: { ...counters.acked },
        duplicates: counters.duplicates,
        failed: counters.failed,
        forwarded: counters.forwarded,
        delivered: delivered.delivered,
        redelivered: delivered.redelivered,
        deadLettered: delivered.deadLettered,
      })
    }
    streams.sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0))
    const lags = streamsSource.shippingLag?.()
    if (lags !== undefined) {
      replicationLag = []
      for (const lag of lags) {
        if (replicationLag.length >= replicationLinksMax) break
        replicationLag.push({ stream: lag.stream, source: lag.from, destination: lag.to, events: lag.events, ms: lag.ms, holder: lag.holder, ageMs: lag.ageMs, stale: lag.stale })
      }
    }
  }
  const routes = sources.routes()
  return { streams, groups, groupTotals, replicationLag, routing: routes === undefined ? null : routingOf(routes.stats()) }
}

/** Sums per-stream figures into this node's totals (the key metrics). */
export function streamTotals(streams: readonly StreamFigures[]): Omit<StreamFigures, 'stream' | 'role' | 'writable'> {
  const total = { published: 0, acked: { write: 0, majority: 0, all: 0 }, duplicates: 0, failed: 0, forwarded: 0, delivered: 0, redelivered: 0, deadLettered: 0 }
  for (const figures of streams) {
    total.published += figures.published
    total.acked.write += figures.acked.write
    total.acked.majority += figures.acked.majority
    total.acked.all += figures.acked.all
    total.duplicates += figures.duplicates
    total.failed += figures.failed
    total.forwarded += figures.forwarded
    total.delivered += figures.delivered
    total.redelivered += figures.redelivered
    total.deadLettered += figures.deadLettered
  }
  return total
}

export { GroupTotals }
