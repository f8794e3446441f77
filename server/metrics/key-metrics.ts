// The key metrics of one node as a JSON value: what `$RG.metrics.<nodeId>` publishes every few
// seconds and what the dashboard shows for its own node — and, from the other nodes' messages,
// for theirs (server/dashboard/cluster-reports.ts). Plain data (no secrets, no addresses of
// clients), bounded in size (`keyMetricsStreamsMax`, `keyMetricsGroupsMax`).
import type { ClientTraffic } from '../router.js'
import type { GroupFigures, ReplicationLagReport, StreamFigures } from './data-plane.js'
import type { EventStoreKeyMetrics } from './node-metrics.js'

/** Named limit: streams listed in one key-metrics value (the busiest first by publish rate). */
export const keyMetricsStreamsMax = 100
/** Named limit: consumer groups and replication links listed in one key-metrics value. */
export const keyMetricsGroupsMax = 100

/** One persistent stream on this node: its figures, this node's copy, its rates here. */
export interface PersistentStreamKeyMetrics extends StreamFigures {
  /** This node's copy (its event store): events and bytes after retention, the delivery index; null when it holds none. */
  readonly stored: { readonly events: number; readonly bytes: number; readonly delivered: number } | null
  /** Publishes per second from this node's clients (router), deliveries per second by its group controllers. */
  readonly publishPerSec: number
  readonly deliverPerSec: number
}

/** Persistent streams and consumer groups on this node. */
export interface PersistentKeyMetrics {
  /** Per-node totals over the streams with a role here (a stream's counters restart with its role). */
  readonly totals: {
    readonly streams: number
    readonly replicas: number
    readonly published: number
    readonly acked: StreamFigures['acked']
    readonly duplicates: number
    readonly failed: number
    readonly forwarded: number
    readonly delivered: number
    readonly redelivered: number
    readonly deadLettered: number
    readonly groups: number
    readonly outstanding: number
    readonly groupLag: number
  }
  readonly streams: readonly PersistentStreamKeyMetrics[]
  /** Groups controlled here. */
  readonly groups: readonly GroupFigures[]
  /** Cross-region links this node knows (its shippers' and the others' reported to it); null without cross-region shipping. */
  readonly replicationLag: readonly ReplicationLagReport[] | null
  /** True when more streams, groups or links exist than listed. */
  readonly truncated: boolean
}

/** Cluster routing on this node (totals; per-peer figures are in /metrics). */
export interface RoutingKeyMetrics {
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
}

export interface StreamKeyMetrics {
  /** `namespace/name`. */
  readonly stream: string
  readonly published: number
  readonly publishedBytes: number
  readonly delivered: number
  readonly publishPerSec: number
  readonly deliverPerSec: number
}

export interface KeyMetrics {
  readonly nodeId: string
  readonly name: string
  readonly region: string
  readonly version: string
  /** Wall-clock time (ms since the epoch) when the value was taken. */
  readonly timeMs: number
  readonly uptimeMs: number
  readonly ready: boolean
  readonly raft: {
    readonly role: string
    readonly term: number
    readonly leader: string | null
    readonly commit: number
    readonly applied: number
    readonly electionsStarted: number
    readonly leaderChanges: number
  } | null
  readonly clients: ClientTraffic & {
    readonly inMsgsPerSec: number
    readonly outMsgsPerSec: number
    readonly inBytesPerSec: number
    readonly outBytesPerSec: number
  }
  readonly peers: { readonly up: number; readonly down: number; readonly connecting: number }
  readonly process: {
    readonly residentMemoryBytes: number
    readonly heapUsedBytes: number
    readonly eventLoopLagMeanMs: number
    readonly eventLoopLagP99Ms: number
    readonly eventLoopLagMaxMs: number
  }
  readonly storage: { readonly batches: number; readonly syncedBatches: number; readonly lastSyncMs: number | null }
  /** The persistent-stream event store on this node (null until it is open). */
  readonly eventStore: EventStoreKeyMetrics | null
  /** Persistent streams and consumer groups here (null on a node without them). */
  readonly persistent: PersistentKeyMetrics | null
  /** Cluster routing (null on a node without a control plane). */
  readonly routing: RoutingKeyMetrics | null
  readonly streams: readonly StreamKeyMetrics[]
  /** True when more streams exist than listed. */
  readonly streamsTruncated: boolean
}
