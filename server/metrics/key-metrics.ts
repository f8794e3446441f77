// The key metrics of one node as a JSON value: what `$RG.metrics.<nodeId>` publishes every few
// seconds and what the dashboard shows for its own node. Plain data (no secrets, no addresses of
// clients), bounded in size (`keyMetricsStreamsMax`).
import type { ClientTraffic } from '../router.js'
import type { EventStoreKeyMetrics } from './node-metrics.js'

/** Named limit: streams listed in one key-metrics value (the busiest first by publish rate). */
export const keyMetricsStreamsMax = 100

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
  readonly streams: readonly StreamKeyMetrics[]
  /** True when more streams exist than listed. */
  readonly streamsTruncated: boolean
}
