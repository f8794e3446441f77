// The dashboard's JSON snapshot: one node's view of the cluster (its Raft status, the applied
// cluster state, its peer links, other nodes' readiness from the probe) and of traffic (its own
// router counters and rates). Built from the state as applied here (no Raft round trip: it must
// answer during an election too). Never includes secrets: users, tokens, roles, KV values and
// credentials are not read. A persistent stream's `stored` is this node's copy (its event store);
// its per-region copies, cluster-wide counts, consumer-group progress and cross-region lag come
// from the nodes that hold them (data-plane-view.ts: this node's live figures, the others' latest
// `$RG.metrics` reports). What is still missing is null, and `notes` says exactly what and why.
import type { ClusterState } from '../../control-plane/cluster/index.js'
import type { RaftStatus } from '../../control-plane/raft/index.js'
import type { ClusterRuntime } from '../cluster/index.js'
import type { KeyMetrics } from '../metrics/index.js'
import type { NodeReport } from './cluster-reports.js'
import { groupRegionRows, lagViews, regionViews, routingRows, shippingReported, streamClusterFigures } from './data-plane-view.js'
import type { NodeView, Views } from './data-plane-view.js'
import type { ProbeResult } from './peer-probe.js'

/** Named limits: rows per table in one snapshot (the page says when a table is cut). */
export const snapshotNodesMax = 256
export const snapshotStreamsMax = 500
export const snapshotGroupsMax = 500
export const snapshotDesignationsMax = 500
/** Subjects with traffic but no stream definition listed (busiest first). */
export const snapshotUndeclaredMax = 20

/** Said on every page: where the figures come from and how old they can be. */
export function sourcesNote(publishIntervalMs: number, staleAfterMs: number): string {
  const cadence = publishIntervalMs > 0 ? `every ${publishIntervalMs / 1000} s` : 'never: metrics.publishIntervalMs is 0 on this node (other nodes publish only if theirs is not)'
  return `This node's figures are live. Other nodes' figures (per-region copies, cluster-wide counts, consumer groups controlled elsewhere, routing) come from their $RG.metrics reports (${cadence}); the age is shown, and a node without a report for ${Math.round(staleAfterMs / 1000)} s is shown unreachable. Ephemeral-stream rates are this node's router.`
}

/** Said while no node reports cross-region shipping and a persistent stream spans several regions. */
export const shippingNote = 'Cross-region replication lag: — because no node reports cross-region shipping (nodes of a version without it); each region\'s copy is still shown from one of its replicas.'

export interface StreamRates {
  readonly published: number
  readonly publishedBytes: number
  readonly delivered: number
  readonly publishPerSec: number
  readonly deliverPerSec: number
}

/** A persistent stream as this node's event store holds it. */
export interface StoredStream {
  readonly events: number
  readonly bytes: number
  /** Events in the stream's delivery order (its next delivery index). */
  readonly delivered: number
}

export interface SnapshotSources {
  /** Monotonic clock (ages of heartbeats). */
  readonly nowMs: number
  readonly name: string
  readonly version: string
  readonly readiness: { readonly ready: boolean; readonly reason?: string }
  readonly runtime: ClusterRuntime | undefined
  readonly keyMetrics: KeyMetrics
  readonly streamRates: (stream: string) => StreamRates | undefined
  /** This node's copy of a persistent stream (its event store), if it holds one. */
  readonly storedStream?: (stream: string) => StoredStream | undefined
  readonly peerLastUpMs: (peer: string) => number | undefined
  readonly probe: ReadonlyMap<string, ProbeResult>
  /** Other nodes' latest `$RG.metrics` reports (cluster-reports.ts); receipt times on the `nowMs` clock. */
  readonly reports?: ReadonlyMap<string, NodeReport>
  /** A report older than this is stale (its node shown unreachable). */
  readonly reportStaleMs?: number
  /** This node's `$RG.metrics` period (0 = off), for the note. */
  readonly publishIntervalMs?: number
  /** Why other nodes' reports cannot be received, if so. */
  readonly reportsUnavailable?: string
}

function roleOf(status: RaftStatus, id: string): string {
  if (status.lead === id) return 'leader'
  if (status.confState.voters.includes(id) || status.confState.votersOutgoing.includes(id)) return 'follower'
  if (status.confState.learners.includes(id)) return 'learner'
  return 'none'
}

function sorted<V>(map: ReadonlyMap<string, V>): Array<[string, V]> {
  return [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}

function banner(sources: SnapshotSources, status: RaftStatus | undefined): string | null {
  if (!sources.readiness.ready) return `This node is not ready: ${sources.readiness.reason ?? 'starting'}`
  if (status !== undefined && status.lead === null) return 'No Raft leader known: an election is under way or this node has lost its quorum; control operations will wait or fail'
  return null
}

function nodesOf(sources: SnapshotSources, runtime: ClusterRuntime, state: ClusterState, status: RaftStatus): unknown[] {
  const links = new Map(runtime.peers().map((peer) => [peer.peer, peer]))
  const ids = new Set<string>([...status.confState.voters, ...status.confState.votersOutgoing, ...status.confState.learners, ...state.nodes.keys()])
  return [...ids]
    .sort()
    .slice(0, snapshotNodesMax)
    .map((id) => {
      const record = state.nodes.get(id)
      const self = id === runtime.nodeId
      const link = links.get(id)
      const lastUpMs = self ? sources.nowMs : sources.peerLastUpMs(id)
      const probed = sources.probe.get(id)
      return {
        id,
        self,
        region: record?.region ?? '',
        zone: record?.tags.zone ?? '',
        role: roleOf(status, id),
        voter: status.confState.voters.includes(id) || status.confState.votersOutgoing.includes(id),
        state: record?.state ?? 'unknown',
        clientAddress: record?.clientAddress ?? '',
        adminAddress: record?.adminAddress ?? '',
        link: self ? 'self' : (link?.state ?? 'unknown'),
        linkReason: link?.reason ?? null,
        lastHeartbeatAgoMs: lastUpMs === undefined ? null : Math.max(0, Math.round(sources.nowMs - lastUpMs)),
        ready: self ? sources.readiness.ready : (probed?.ready ?? null),
        readyReason: self ? (sources.readiness.reason ?? null) : (probed?.reason ?? null),
        term: self ? status.term : null,
      }
    })
}

function viewsOf(sources: SnapshotSources, selfId: string): Views {
  const views = new Map<string, NodeView>()
  const staleMs = sources.reportStaleMs ?? Number.POSITIVE_INFINITY
  for (const [nodeId, { report, receivedAtMs }] of sources.reports ?? []) {
    if (nodeId === selfId) continue
    const ageMs = Math.max(0, sources.nowMs - receivedAtMs)
    views.set(nodeId, { nodeId, metrics: report, ageMs, fresh: ageMs <= staleMs })
  }
  views.set(selfId, { nodeId: selfId, metrics: sources.keyMetrics, ageMs: 0, fresh: true })
  return views
}

function streamsOf(sources: SnapshotSources, runtime: ClusterRuntime, state: ClusterState, views: Views): unknown[] {
  return sorted(state.streams)
    .slice(0, snapshotStreamsMax)
    .map(([key, record]) => {
      const spec = record.spec
      const persistent = spec.kind === 'persistent'
      const rates = sources.streamRates(key)
      const placement = state.placements.get(key)
      return {
        stream: key,
        namespace: spec.namespace,
        name: spec.name,
        kind: spec.kind,
        regions: [...spec.regions],
        replicasPerRegion: spec.replicasPerRegion,
        placement: spec.regions.map((region) => {
          const set = placement?.get(region)
          return { region, replicas: set?.replicas ?? [], pending: set?.pending ?? [], underReplicated: set?.underReplicated ?? false }
        }),
        // Each region's copy, from one of its replicas (this node when it is one).
        perRegion: persistent ? regionViews(key, spec, state, views, runtime.nodeId) : [],
        // This node's copy (its event store), when it holds the stream.
        stored: persistent ? (sources.storedStream?.(key) ?? null) : null,
        // Acks, duplicates, group deliveries, rates: summed over the nodes' figures.
        cluster: persistent ? streamClusterFigures(key, spec, state, views) : null,
        published: rates?.published ?? 0,
        publishedBytes: rates?.publishedBytes ?? 0,
        delivered: rates?.delivered ?? 0,
        publishPerSec: rates?.publishPerSec ?? 0,
        deliverPerSec: rates?.deliverPerSec ?? 0,
        replicationLag: persistent ? lagViews(key, spec, views) : [],
      }
    })
}

function groupsOf(state: ClusterState, views: Views): unknown[] {
  return sorted(state.groups)
    .slice(0, snapshotGroupsMax)
    .map(([key, record]) => {
      const spec = record.spec
      const regions = state.streams.get(`${spec.namespace}/${spec.stream}`)?.spec.regions ?? []
      return {
        group: key,
        namespace: spec.namespace,
        stream: spec.stream,
        name: spec.name,
        mode: spec.mode,
        maxInFlight: spec.maxInFlight,
        ackWaitMs: spec.ackWaitMs,
        maxDeliveries: spec.maxDeliveries,
        start: spec.start.from,
        // Groups are per region (one controller each): its progress there, from the controller's node.
        regions: groupRegionRows(spec.namespace, spec.stream, spec.name, regions, state, views),
      }
    })
}

function notesOf(sources: SnapshotSources, state: ClusterState | undefined, views: Views): string[] {
  const notes = [sourcesNote(sources.publishIntervalMs ?? 0, sources.reportStaleMs ?? 0)]
  if (sources.reportsUnavailable !== undefined) notes.push(`Other nodes' figures are not available: ${sources.reportsUnavailable}.`)
  const multiRegion = [...(state?.streams.values() ?? [])].some((record) => record.spec.kind === 'persistent' && record.spec.regions.length > 1)
  if (multiRegion && !shippingReported(views)) notes.push(shippingNote)
  return notes
}

/** A designation's kind from its name: `psc` (stream controller), `scc` (consumer group), `ship` (cross-region shipper), else the name. */
function designationKind(controller: string): string {
  const slash = controller.indexOf('/')
  return slash < 0 ? controller : controller.slice(0, slash)
}

export function buildSnapshot(sources: SnapshotSources): Record<string, unknown> {
  const runtime = sources.runtime
  const status = runtime?.node.status()
  const state = runtime?.node.state
  const views = viewsOf(sources, runtime?.nodeId ?? '')
  const declared = new Set(state === undefined ? [] : state.streams.keys())
  const undeclared = sources.keyMetrics.streams.filter((stream) => !declared.has(stream.stream)).slice(0, snapshotUndeclaredMax)
  return {
    // Wall-clock time of the snapshot (the page's chart axis).
    timeMs: sources.keyMetrics.timeMs,
    self: {
      nodeId: runtime?.nodeId ?? '',
      name: sources.name,
      region: runtime?.region ?? '',
      version: sources.version,
      ready: sources.readiness.ready,
      readyReason: sources.readiness.reason ?? null,
      uptimeMs: sources.keyMetrics.uptimeMs,
    },
    banner: banner(sources, status),
    raft:
      status === undefined
        ? null
        : { role: status.role, term: status.term, leader: status.lead, leaderKnown: status.lead !== null, commit: status.commit, applied: status.applied },
    nodes: runtime === undefined || state === undefined || status === undefined ? [] : nodesOf(sources, runtime, state, status),
    regions:
      state === undefined
        ? []
        : sorted(state.regions).map(([name, record]) => ({
            name,
            explicit: record.explicit,
            nodes: [...state.nodes.values()].filter((node) => node.region === name && node.state !== 'removed').length,
          })),
    designations:
      state === undefined
        ? []
        : sorted(state.designations)
            .slice(0, snapshotDesignationsMax)
            .map(([, designation]) => ({ controller: designation.controller, kind: designationKind(designation.controller), holder: designation.holder, controllerTerm: designation.controllerTerm, region: designation.region })),
    streams: runtime === undefined || state === undefined ? [] : streamsOf(sources, runtime, state, views),
    groups: state === undefined ? [] : groupsOf(state, views),
    routing: runtime === undefined ? [] : routingRows(views, runtime.nodeId),
    persistent: sources.keyMetrics.persistent?.totals ?? null,
    undeclaredTraffic: undeclared,
    clients: sources.keyMetrics.clients,
    process: sources.keyMetrics.process,
    limits: { nodes: snapshotNodesMax, streams: snapshotStreamsMax, groups: snapshotGroupsMax },
    notes: notesOf(sources, state, views),
  }
}
