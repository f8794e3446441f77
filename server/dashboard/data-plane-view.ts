// The dashboard's persistent-stream, consumer-group, replication-lag and routing figures, put
// together from each node's key metrics: this node's live ones and the others' latest
// `$RG.metrics` reports (cluster-reports.ts). Pure: the caller passes the reports and their ages.
//  - a stream's view per region comes from one replica of that region: this node when it is one,
//    else the replica with the freshest report holding the stream; none fresh → "unreachable"
//    with the reason per replica;
//  - a stream's cluster-wide counts (acked by level, duplicates, failed, forwarded, written, group
//    deliveries, redeliveries, dead letters, rates) sum the fresh reports — publishes are counted
//    on the node they entered, so the sum counts each once — and say how many nodes reported;
//  - a group's figures per region come from the holder of its `scc/…` designation;
//  - replication lag per (source → destination) as measured by the node shipping the link: every
//    node knows every link (server/shipping relays each holder's measure every second), so this
//    node's own list usually answers; the freshest measure among the views is taken.
import type { ClusterState, StreamSpec } from '../../control-plane/cluster/index.js'
import { groupControllerName } from '../../control-plane/cluster/index.js'
import type { GroupFigures, KeyMetrics, PersistentStreamKeyMetrics, ReplicationLagReport } from '../metrics/index.js'

/** Named limit: (source, destination) pairs shown per stream. */
export const lagPairsPerStreamMax = 64

/** One node's figures as the snapshot uses them. */
export interface NodeView {
  readonly nodeId: string
  readonly metrics: KeyMetrics
  /** How old the figures are (0 for this node). */
  readonly ageMs: number
  /** Younger than the staleness bound (this node always). */
  readonly fresh: boolean
}

export type Views = ReadonlyMap<string, NodeView>

export interface RegionView {
  readonly region: string
  /** The replica whose figures are shown; null when none could be used. */
  readonly node: string | null
  readonly status: 'live' | 'unreachable' | 'unplaced'
  readonly events: number | null
  readonly bytes: number | null
  readonly delivered: number | null
  readonly ageMs: number | null
  readonly reason: string | null
}

export interface StreamClusterFigures {
  readonly acked: { readonly write: number; readonly majority: number; readonly all: number }
  readonly ackedTotal: number
  readonly duplicates: number
  readonly failed: number
  readonly forwarded: number
  readonly written: number
  readonly groupDelivered: number
  readonly redelivered: number
  readonly deadLettered: number
  readonly publishPerSec: number
  readonly deliverPerSec: number
  /** Nodes whose fresh figures are summed, and the nodes with a role for the stream that could not be. */
  readonly nodesReporting: number
  readonly nodesMissing: readonly string[]
}

export interface LagView {
  readonly source: string
  readonly destination: string
  readonly events: number | null
  readonly seconds: number | null
  readonly node: string | null
  readonly ageMs: number | null
  readonly reason: string | null
}

const ageText = (ageMs: number): string => `${Math.round(ageMs / 1000)} s ago`

function streamOf(view: NodeView | undefined, key: string): PersistentStreamKeyMetrics | undefined {
  return view?.metrics.persistent?.streams.find((stream) => stream.stream === key)
}

/** Why a node's figures cannot be used. */
function missingReason(views: Views, node: string, what: string): string {
  const view = views.get(node)
  if (view === undefined) return `${node}: no report received`
  if (!view.fresh) return `${node}: unreachable (last report ${ageText(view.ageMs)})`
  return `${node}: ${what}`
}

export function regionViews(key: string, spec: StreamSpec, state: ClusterState, views: Views, selfId: string): RegionView[] {
  const placement = state.placements.get(key)
  return spec.regions.map((region): RegionView => {
    const set = placement?.get(region)
    const candidates = set === undefined ? [] : [...set.replicas, ...set.pending]
    if (candidates.length === 0) return { region, node: null, status: 'unplaced', events: null, bytes: null, delivered: null, ageMs: null, reason: 'no replica placed in this region' }
    const usable = candidates
      .map((node) => ({ node, view: views.get(node), stream: streamOf(views.get(node), key) }))
      .filter((candidate) => candidate.view?.fresh === true && candidate.stream?.stored != null)
      .sort((a, b) => (a.node === selfId ? -1 : b.node === selfId ? 1 : (a.view?.ageMs ?? 0) - (b.view?.ageMs ?? 0)))
    const chosen = usable[0]
    if (chosen === undefined || chosen.stream?.stored == null || chosen.view === undefined) {
      const reason = candidates.map((node) => missingReason(views, node, 'reports no copy of the stream')).join('; ')
      return { region, node: null, status: 'unreachable', events: null, bytes: null, delivered: null, ageMs: null, reason }
    }
    const stored = chosen.stream.stored
    return { region, node: chosen.node, status: 'live', events: stored.events, bytes: stored.bytes, delivered: stored.delivered, ageMs: Math.round(chosen.view.ageMs), reason: null }
  })
}

/** Nodes with a role for the stream: its replicas in every region (forwarders are every other node of those regions). */
function nodesOfStream(key: string, spec: StreamSpec, state: ClusterState): string[] {
  const nodes = new Set<string>()
  for (const [id, node] of state.nodes) if (node.state !== 'removed' && spec.regions.includes(node.region)) nodes.add(id)
  const placement = state.placements.get(key)
  for (const set of placement?.values() ?? []) for (const id of [...set.replicas, ...set.pending]) nodes.add(id)
  return [...nodes].sort()
}

export function streamClusterFigures(key: string, spec: StreamSpec, state: ClusterState, views: Views): StreamClusterFigures {
  const sum = { write: 0, majority: 0, all: 0, duplicates: 0, failed: 0, forwarded: 0, written: 0, groupDelivered: 0, redelivered: 0, deadLettered: 0, publishPerSec: 0, deliverPerSec: 0 }
  let nodesReporting = 0
  const nodesMissing: string[] = []
  for (const node of nodesOfStream(key, spec, state)) {
    const view = views.get(node)
    if (view === undefined || !view.fresh) {
      nodesMissing.push(node)
      continue
    }
    nodesReporting += 1
    const stream = streamOf(view, key)
    if (stream === undefined) continue
    sum.write += stream.acked.write
    sum.majority += stream.acked.majority
    sum.all += stream.acked.all
    sum.duplicates += stream.duplicates
    sum.failed += stream.failed
    sum.forwarded += stream.forwarded
    sum.written += stream.published
    sum.groupDelivered += stream.delivered
    sum.redelivered += stream.redelivered
    sum.deadLettered += stream.deadLettered
    sum.publishPerSec += stream.publishPerSec
    sum.deliverPerSec += stream.deliverPerSec
  }
  const { write, majority, all, ...rest } = sum
  return { acked: { write, majority, all }, ackedTotal: write + majority + all, ...rest, nodesReporting, nodesMissing }
}

/** Whether any node reports cross-region shipping (a non-null replicationLag list). */
export function shippingReported(views: Views): boolean {
  for (const view of views.values()) if (view.fresh && view.metrics.persistent?.replicationLag != null) return true
  return false
}

export function lagViews(key: string, spec: StreamSpec, views: Views): LagView[] {
  const reported = new Map<string, { lag: ReplicationLagReport; ageMs: number }>()
  for (const view of views.values()) {
    if (!view.fresh) continue
    for (const lag of view.metrics.persistent?.replicationLag ?? []) {
      if (lag.stream !== key || lag.stale) continue
      const pair = `${lag.source}\u0000${lag.destination}`
      const ageMs = view.ageMs + lag.ageMs
      const before = reported.get(pair)
      if (before === undefined || ageMs < before.ageMs) reported.set(pair, { lag, ageMs })
    }
  }
  const shipping = shippingReported(views)
  const out: LagView[] = []
  for (const source of spec.regions) {
    for (const destination of spec.regions) {
      if (source === destination || out.length >= lagPairsPerStreamMax) continue
      const found = reported.get(`${source}\u0000${destination}`)
      if (found !== undefined) {
        out.push({ source, destination, events: found.lag.events, seconds: found.lag.ms / 1000, node: found.lag.holder, ageMs: Math.round(found.ageMs), reason: null })
      } else {
        const reason = shipping ? 'no fresh measure of this link (its shipper is unreachable, starting, or its designation vacant)' : 'no node reports cross-region shipping (nodes of an older version)'
        out.push({ source, destination, events: null, seconds: null, node: null, ageMs: null, reason })
      }
    }
  }
  return out
}

export interface GroupRegionRow {
  readonly region: string
  readonly controller: string | null
  readonly controllerTerm: number | null
  readonly status: 'live' | 'unreachable' | 'vacant' | 'starting'
  readonly head: number | null
  readonly outstanding: number | null
  readonly lag: number | null
  readonly members: number | null
  readonly delivered: number | null
  readonly acked: number | null
  readonly redeliveries: number | null
  readonly deadLettered: number | null
  readonly ageMs: number | null
  readonly reason: string | null
}

const noFigures = { head: null, outstanding: null, lag: null, members: null, delivered: null, acked: null, redeliveries: null, deadLettered: null, ageMs: null }

/** The group's figures in each region of its stream, from the holder of its `scc/…` designation. */
export function groupRegionRows(namespace: string, stream: string, group: string, regions: readonly string[], state: ClusterState, views: Views): GroupRegionRow[] {
  const streamKey = `${namespace}/${stream}`
  return regions.map((region): GroupRegionRow => {
    const designation = state.designations.get(groupControllerName(namespace, stream, group, region))
    const holder = designation?.holder ?? null
    const term = designation?.controllerTerm ?? null
    if (holder === null) return { region, controller: null, controllerTerm: term, status: 'vacant', ...noFigures, reason: 'no controller designated (no live replica in the region)' }
    const view = views.get(holder)
    if (view === undefined || !view.fresh) return { region, controller: holder, controllerTerm: term, status: 'unreachable', ...noFigures, reason: missingReason(views, holder, '') }
    const figures: GroupFigures | undefined = view.metrics.persistent?.groups.find((candidate) => candidate.stream === streamKey && candidate.group === group)
    if (figures === undefined) return { region, controller: holder, controllerTerm: term, status: 'starting', ...noFigures, ageMs: Math.round(view.ageMs), reason: `${holder} does not run the controller yet (starting, or its replica is opening)` }
    return {
      region,
      controller: holder,
      controllerTerm: term,
      status: 'live',
      head: figures.head,
      outstanding: figures.outstanding,
      lag: figures.lag,
      members: figures.members,
      delivered: figures.delivered,
      acked: figures.acked,
      redeliveries: figures.redelivered,
      deadLettered: figures.deadLettered,
      ageMs: Math.round(view.ageMs),
      reason: null,
    }
  })
}

export interface RoutingRow {
  readonly node: string
  readonly self: boolean
  readonly fresh: boolean
  readonly ageMs: number
  readonly routing: KeyMetrics['routing']
}

/** Each node's cluster-routing totals (this node first), as fresh as its report. */
export function routingRows(views: Views, selfId: string): RoutingRow[] {
  return [...views.values()]
    .filter((view) => view.metrics.routing !== null)
    .sort((a, b) => (a.nodeId === selfId ? -1 : b.nodeId === selfId ? 1 : a.nodeId < b.nodeId ? -1 : 1))
    .map((view) => ({ node: view.nodeId, self: view.nodeId === selfId, fresh: view.fresh, ageMs: Math.round(view.ageMs), routing: view.metrics.routing }))
}
