// The dashboard's JSON snapshot: one node's view of the cluster (its Raft status, the applied
// cluster state, its peer links, other nodes' readiness from the probe) and of traffic (its own
// router counters and rates). Built from the state as applied here (no Raft round trip: it must
// answer during an election too). Never includes secrets: users, tokens, roles, KV values and
// credentials are not read. A persistent stream's `stored` is this node's copy (its event store);
// figures the data plane does not produce yet (issue #5) are null, and `notes` says so.
import type { ClusterState } from '../../control-plane/cluster/index.js'
import type { RaftStatus } from '../../control-plane/raft/index.js'
import type { ClusterRuntime } from '../cluster/index.js'
import type { KeyMetrics } from '../metrics/index.js'
import type { ProbeResult } from './peer-probe.js'

/** Named limits: rows per table in one snapshot (the page says when a table is cut). */
export const snapshotNodesMax = 256
export const snapshotStreamsMax = 500
export const snapshotGroupsMax = 500
export const snapshotDesignationsMax = 500
/** Subjects with traffic but no stream definition listed (busiest first). */
export const snapshotUndeclaredMax = 20

export const dataPlaneNote =
  'Persistent streams: this node\'s copy (events, bytes, delivered) comes from its event store; acks, replication lag and consumer-group progress are shown as — until the rest of the data plane lands (issue #5). Ephemeral-stream rates are live (this node\'s router).'

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

function streamsOf(sources: SnapshotSources, runtime: ClusterRuntime, state: ClusterState): unknown[] {
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
        // Stored events and bytes per region exist only for persistent streams, once the data plane does.
        perRegion: spec.regions.map((region) => ({ region, events: null, bytes: null })),
        // This node's copy (its event store), when it holds the stream.
        stored: persistent ? (sources.storedStream?.(key) ?? null) : null,
        published: rates?.published ?? 0,
        publishedBytes: rates?.publishedBytes ?? 0,
        delivered: rates?.delivered ?? 0,
        publishPerSec: rates?.publishPerSec ?? 0,
        deliverPerSec: rates?.deliverPerSec ?? 0,
        replicationLagSeconds: persistent ? spec.regions.filter((region) => region !== runtime.region).map((region) => ({ region, seconds: null })) : [],
        dataPlane: persistent ? 'pending' : 'live',
      }
    })
}

function groupsOf(state: ClusterState): unknown[] {
  return sorted(state.groups)
    .slice(0, snapshotGroupsMax)
    .map(([key, record]) => {
      const spec = record.spec
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
        // Progress lives in the data plane (issue #5).
        head: null,
        outstanding: null,
        lag: null,
        members: null,
        redeliveries: null,
        deadLettered: null,
      }
    })
}

export function buildSnapshot(sources: SnapshotSources): Record<string, unknown> {
  const runtime = sources.runtime
  const status = runtime?.node.status()
  const state = runtime?.node.state
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
            .map(([, designation]) => ({ controller: designation.controller, holder: designation.holder, controllerTerm: designation.controllerTerm, region: designation.region })),
    streams: runtime === undefined || state === undefined ? [] : streamsOf(sources, runtime, state),
    groups: state === undefined ? [] : groupsOf(state),
    undeclaredTraffic: undeclared,
    clients: sources.keyMetrics.clients,
    process: sources.keyMetrics.process,
    limits: { nodes: snapshotNodesMax, streams: snapshotStreamsMax, groups: snapshotGroupsMax },
    notes: [dataPlaneNote],
  }
}
