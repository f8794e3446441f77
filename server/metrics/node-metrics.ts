// NodeMetrics: one node's Prometheus registry and the samplers that feed it. Values are read from
// their owners when needed (`refresh()` before a scrape or a key-metrics snapshot): the router's
// counters, the control plane's Raft status, driver counters and peer links, the process. What
// has no owner to ask is sampled on a timer (`sampleIntervalMs`): elections and leader changes
// (RaftTracker), when each peer link was last seen up, per-second rates (RateWindow), and the
// event-loop delay window. Storage batches arrive through `storageObserver`; the event store of
// persistent streams through its observer (`attachEventStore`: one report per synced batch or
// maintenance step, never per message; stored events, bytes and delivery index are read from the
// store's in-memory metadata at refresh). Persistent streams, consumer groups, cross-region lag and
// cluster routing are read from their owners at scrape time too (`MetricsSources.dataPlane`,
// data-plane.ts): the hot paths keep plain counters and never call into the metrics.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { IntervalHistogram } from 'node:perf_hooks'
import { Registry } from 'prom-client'
import type { EventStore, EventStoreObserver } from '../../data-plane/persistent/index.js'
import type { Clock } from '../../shared/clock.js'
import type { RocksStorageObserver } from '../../shared/storage/index.js'
import type { ClusterRuntime } from '../cluster/index.js'
import type { Router } from '../router.js'
import { CounterMirror } from './counter-mirror.js'
import { GroupTotals, readDataPlane, streamTotals } from './data-plane.js'
import type { DataPlaneFigures, DataPlaneSources } from './data-plane.js'
import { applyDataPlaneSeries } from './data-plane-series.js'
import { ackLevelLabels, defineMetrics } from './definitions.js'
import type { MetricSet } from './definitions.js'
import { keyMetricsGroupsMax, keyMetricsStreamsMax } from './key-metrics.js'
import type { KeyMetrics, PersistentKeyMetrics, PersistentStreamKeyMetrics, RoutingKeyMetrics, StreamKeyMetrics } from './key-metrics.js'
import { RaftTracker } from './raft-tracker.js'
import { RateWindow } from './rates.js'

/** How often Raft status and peer links are sampled (elections shorter than this may be missed). */
export const sampleIntervalMsDefault = 250
/** Rates are computed over windows of this length. */
export const rateWindowMs = 1_000
/** The event-loop delay histogram is read and reset once per window of this length. */
export const eventLoopWindowMs = 5_000
/** Named limit: streams whose data-plane label sets are pre-created at zero (and event-store series per stream). */
export const dataPlaneStreamsMax = 1_024
/** The label event-store series of streams past `dataPlaneStreamsMax` are counted under. */
export const otherStreamsLabel = 'default/_other'

/** What the metrics read from the event store: its observer hook and its in-memory metadata. */
export type ObservedEventStore = Pick<EventStore, 'observe' | 'streams' | 'info'>

/** The event store's figures in the key metrics (null until a store is attached). */
export interface EventStoreKeyMetrics {
  readonly streams: number
  readonly events: number
  readonly bytes: number
  /** Synced group-commit batches and the callers' writes they acknowledged, since the node started. */
  readonly batches: number
  readonly items: number
  readonly appendedEvents: number
  readonly lastSyncMs: number | null
  readonly retentionDeletedEvents: number
  readonly maintenanceRuns: number
  readonly longestMaintenanceStepMs: number
}

export interface MetricsSources {
  readonly router: Router
  readonly clock: Clock
  readonly nodeName: string
  readonly version: string
  readonly startedAtMs: number
  /** Wall-clock time for published values (`timeMs`); default Date.now. Rates and ages use `clock`. */
  readonly wallClockMs?: () => number
  isReady(): boolean
  /** The control plane once open (undefined before, and on a node without one). */
  cluster(): ClusterRuntime | undefined
  /** Persistent streams, consumer groups and cluster routes, read at scrape time (absent: none). */
  readonly dataPlane?: DataPlaneSources
}

export interface NodeMetricsOptions {
  readonly sampleIntervalMs?: number
}

const noFigures: DataPlaneFigures = { streams: null, groups: null, groupTotals: null, replicationLag: null, routing: null }

export class NodeMetrics {
  readonly registry = new Registry()
  readonly raft = new RaftTracker()
  readonly #rates = new RateWindow()
  readonly #metrics: MetricSet
  readonly #sources: MetricsSources
  readonly #sampleIntervalMs: number
  readonly #mirror = new CounterMirror()
  /** Consumer-group counters across controller terms (data-plane.ts). */
  readonly #groupTotals = new GroupTotals()
  readonly #peerLastUpMs = new Map<string, number>()
  readonly #dataPlaneStreams = new Set<string>()
  readonly #loop: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 })
  #lag = { meanMs: 0, p99Ms: 0, maxMs: 0 }
  #lastRateMs = Number.NEGATIVE_INFINITY
  #lastLagMs: number
  #timer: NodeJS.Timeout | undefined
  #storage = { batches: 0, syncedBatches: 0, lastSyncMs: null as number | null }
  #eventStore: ObservedEventStore | undefined
  /** Stream labels the event-store series use (bounded by dataPlaneStreamsMax). */
  readonly #storeLabels = new Set<string>()
  #store = { batches: 0, items: 0, appendedEvents: 0, lastSyncMs: null as number | null, retentionDeletedEvents: 0, maintenanceRuns: 0, longestMaintenanceStepMs: 0 }

  readonly storageObserver: RocksStorageObserver
  /** Told by the event store of each synced batch and maintenance step (`attachEventStore` registers it). */
  readonly eventStoreObserver: EventStoreObserver

  constructor(sources: MetricsSources, options: NodeMetricsOptions = {}) {
    this.#sources = sources
    this.#sampleIntervalMs = options.sampleIntervalMs ?? sampleIntervalMsDefault
    this.#metrics = defineMetrics(this.registry)
    this.#lastLagMs = sources.clock.nowMs()
    const metrics = this.#metrics
    this.storageObserver = {
      onBatchWritten: (batch) => {
        metrics.storageBatchOperations.observe(batch.operations)
        metrics.storageBatchBytes.observe(batch.bytes)
        this.#storage.batches += 1
        if (batch.sync) {
          metrics.storageSyncSeconds.observe(batch.durationMs / 1000)
          this.#storage.syncedBatches += 1
          this.#storage.lastSyncMs = batch.durationMs
        }
      },
    }
    const store = this.#store
    this.eventStoreObserver = {
      committed: (batch) => {
        let events = 0
        for (const [stream, appended] of batch.appended) {
          const labels = { stream: this.#storeLabel(stream) }
          metrics.streamAppendedEvents.inc(labels, appended.events)
          metrics.streamAppendedBytes.inc(labels, appended.bytes)
          events += appended.events
        }
        metrics.eventStoreBatchItems.observe(batch.items)
        metrics.eventStoreBatchEvents.observe(events)
        metrics.eventStoreBatchBytes.observe(batch.bytes)
        metrics.eventStoreSyncSeconds.observe(batch.syncMs / 1000)
        store.batches += 1
        store.items += batch.items
        store.appendedEvents += events
        store.lastSyncMs = batch.syncMs
      },
      maintenanceStep: (step) => {
        metrics.eventStoreMaintenanceStepSeconds.observe(step.durationMs / 1000)
        if (step.durationMs > store.longestMaintenanceStepMs) store.longestMaintenanceStepMs = step.durationMs
      },
      maintained: (call) => {
        const labels = { stream: this.#storeLabel(call.stream) }
        metrics.streamMaintenanceRuns.inc(labels)
        if (call.deletedEvents > 0) metrics.streamRetentionDeletedEvents.inc(labels, call.deletedEvents)
        if (call.deletedBytes > 0) metrics.streamRetentionDeletedBytes.inc(labels, call.deletedBytes)
        if (call.expiredIds > 0) metrics.streamExpiredIds.inc(labels, call.expiredIds)
        store.maintenanceRuns += 1
        store.retentionDeletedEvents += call.deletedEvents
      },
    }
  }

  /** A stream's label in the event-store series: itself, or `otherStreamsLabel` past the bound. */
  #storeLabel(stream: string): string {
    if (this.#storeLabels.has(stream)) return stream
    if (this.#storeLabels.size >= dataPlaneStreamsMax) return otherStreamsLabel
    this.#storeLabels.add(stream)
    return stream
  }

  /**
   * Feeds the event-store series from `store` (its observer, and its metadata at each refresh).
   * Returns the detach (call it before the store closes).
   */
  attachEventStore(store: ObservedEventStore): () => void {
    this.#eventStore = store
    const unobserve = store.observe(this.eventStoreObserver)
    return () => {
      unobserve()
      if (this.#eventStore === store) this.#eventStore = undefined
    }
  }

  get contentType(): string {
    return this.registry.contentType
  }

  /** Starts the sampler (unref'd) and the event-loop monitor. */
  start(): void {
    if (this.#timer !== undefined) return
    this.#loop.enable()
    this.sample()
    this.#timer = setInterval(() => this.sample(), this.#sampleIntervalMs)
    this.#timer.unref()
  }

  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    this.#loop.disable()
  }

  /** One sampler step: Raft elections/leaders, peer links last seen up, rates, event-loop window. */
  sample(): void {
    const nowMs = this.#sources.clock.nowMs()
    const runtime = this.#sources.cluster()
    if (runtime !== undefined) {
      this.raft.observe(runtime.node.status())
      for (const peer of runtime.peers()) if (peer.state === 'up') this.#peerLastUpMs.set(peer.peer, nowMs)
    }
    if (nowMs - this.#lastRateMs >= rateWindowMs) {
      this.#lastRateMs = nowMs
      this.#rates.sample(nowMs, this.#rateInputs())
    }
    if (nowMs - this.#lastLagMs >= eventLoopWindowMs) {
      this.#lastLagMs = nowMs
      const loop = this.#loop
      // An empty window (no samples yet) reports NaN: keep zeros then.
      if (loop.count > 0) this.#lag = { meanMs: loop.mean / 1e6, p99Ms: loop.percentile(99) / 1e6, maxMs: loop.max / 1e6 }
      loop.reset()
    }
  }

  *#rateInputs(): Iterable<readonly [string, number]> {
    const counters = this.#sources.router.counters
    yield ['in.msgs', counters.inMsgs]
    yield ['out.msgs', counters.outMsgs]
    yield ['in.bytes', counters.inBytes]
    yield ['out.bytes', counters.outBytes]
    for (const traffic of this.#sources.router.streamTraffic.values()) {
      yield [`publish:${traffic.stream}`, traffic.published]
      yield [`deliver:${traffic.stream}`, traffic.delivered]
    }
    // Persistent streams: deliveries (first and again) by the group controllers here (routing is
    // not read for this: its stats walk every interest entry).
    const sources = this.#sources.dataPlane
    const figures = sources === undefined ? noFigures : readDataPlane({ streams: () => sources.streams(), groups: () => sources.groups(), routes: () => undefined }, this.#groupTotals)
    for (const stream of figures.streams ?? []) yield [`groupDeliver:${stream.stream}`, stream.delivered + stream.redelivered]
  }

  /**
   * One read of persistent streams, consumer groups, cross-region lag and routing (at scrape, key
   * metrics, rate samples). Reading keeps the group totals across controller terms.
   */
  dataPlaneFigures(): DataPlaneFigures {
    const sources = this.#sources.dataPlane
    return sources === undefined ? noFigures : readDataPlane(sources, this.#groupTotals)
  }

  /** Messages per second published to / delivered from `stream` on this node, over the last window. */
  streamRates(stream: string): { readonly publishPerSec: number; readonly deliverPerSec: number } {
    return { publishPerSec: this.#rates.rate(`publish:${stream}`), deliverPerSec: this.#rates.rate(`deliver:${stream}`) }
  }

  /** When the link to `peer` was last seen up (clock ms), if ever. */
  peerLastUpMs(peer: string): number | undefined {
    return this.#peerLastUpMs.get(peer)
  }

  /** Sets every value that is read from its owner. */
  refresh(): void {
    const sources = this.#sources
    const metrics = this.#metrics
    const runtime = sources.cluster()
    const nowMs = sources.clock.nowMs()
    metrics.info.reset()
    metrics.info.set({ node_id: runtime?.nodeId ?? '', name: sources.nodeName, region: runtime?.region ?? '', version: sources.version }, 1)
    metrics.ready.set(sources.isReady() ? 1 : 0)
    metrics.uptime.set(Math.max(0, nowMs - sources.startedAtMs) / 1000)

    const router = sources.router
    metrics.clientConnections.set(router.connections.size)
    metrics.subscriptions.set(router.subscriptionCount)
    metrics.openResponseStreams.set(router.responses.size)
    this.#mirror.mirror(metrics.messagesIn, {}, router.counters.inMsgs)
    this.#mirror.mirror(metrics.messagesOut, {}, router.counters.outMsgs)
    this.#mirror.mirror(metrics.bytesIn, {}, router.counters.inBytes)
    this.#mirror.mirror(metrics.bytesOut, {}, router.counters.outBytes)
    this.#mirror.mirror(metrics.slowConsumers, {}, router.counters.slowConsumers)
    for (const traffic of router.streamTraffic.values()) {
      const labels = { stream: traffic.stream }
      this.#mirror.mirror(metrics.streamPublished, labels, traffic.published)
      this.#mirror.mirror(metrics.streamPublishedBytes, labels, traffic.publishedBytes)
      this.#mirror.mirror(metrics.streamDelivered, labels, traffic.delivered)
    }

    if (runtime !== undefined) this.#refreshCluster(runtime)
    this.#refreshEventStore()
    applyDataPlaneSeries(metrics, this.#mirror, this.dataPlaneFigures(), this.#groupTotals.takeEvicted(), runtime?.nodeId ?? '')

    const memory = process.memoryUsage()
    metrics.residentMemory.set(memory.rss)
    metrics.heapUsed.set(memory.heapUsed)
    metrics.eventLoopLagMean.set(this.#lag.meanMs / 1000)
    metrics.eventLoopLagP99.set(this.#lag.p99Ms / 1000)
    metrics.eventLoopLagMax.set(this.#lag.maxMs / 1000)
  }

  #refreshCluster(runtime: ClusterRuntime): void {
    const metrics = this.#metrics
    const status = runtime.node.status()
    metrics.raftTerm.set(status.term)
    metrics.raftCommit.set(status.commit)
    metrics.raftApplied.set(status.applied)
    metrics.raftLastIndex.set(status.lastIndex)
    metrics.raftIsLeader.set(status.role === 'leader' ? 1 : 0)
    metrics.raftLeaderKnown.set(status.lead === null ? 0 : 1)
    metrics.raftVoters.set(status.confState.voters.length)
    metrics.raftLearners.set(status.confState.learners.length)
    this.#mirror.mirror(metrics.raftElections, {}, this.raft.electionsStarted)
    this.#mirror.mirror(metrics.raftLeaderChanges, {}, this.raft.leaderChanges)
    const counters = runtime.node.counters()
    this.#mirror.mirror(metrics.raftPersistedBatches, {}, counters.persistedBatches)
    this.#mirror.mirror(metrics.raftMessagesSent, {}, counters.messagesSent)
    this.#mirror.mirror(metrics.raftSendsRefused, {}, counters.sendsRefused)
    this.#mirror.mirror(metrics.raftFramesDropped, {}, counters.framesDropped)
    this.#mirror.mirror(metrics.raftSnapshotsTaken, {}, counters.snapshotsTaken)
    this.#mirror.mirror(metrics.raftSnapshotsRestored, {}, counters.snapshotsRestored)

    const peers = runtime.peers()
    const byState = { up: 0, down: 0, connecting: 0 }
    metrics.peerLinkUp.reset()
    for (const peer of peers) {
      byState[peer.state] += 1
      metrics.peerLinkUp.set({ peer: peer.peer }, peer.state === 'up' ? 1 : 0)
    }
    for (const [state, count] of Object.entries(byState)) metrics.peerLinks.set({ state }, count)

    // Persistent streams get their data-plane series at zero, so dashboards and alerts see them.
    for (const [key, record] of runtime.node.state.streams) {
      if (record.spec.kind !== 'persistent' || this.#dataPlaneStreams.has(key) || this.#dataPlaneStreams.size >= dataPlaneStreamsMax) continue
      this.#dataPlaneStreams.add(key)
      for (const level of ackLevelLabels) metrics.streamAcked.inc({ stream: key, level }, 0)
      for (const counter of [metrics.streamWritten, metrics.streamPublishFailed, metrics.streamForwarded, metrics.streamDedupHits, metrics.streamGroupDelivered, metrics.streamRedelivered, metrics.streamDeadLettered]) counter.inc({ stream: key }, 0)
    }
  }

  /** Stored events, bytes and delivery index per stream, from the store's in-memory metadata. */
  #refreshEventStore(): void {
    const metrics = this.#metrics
    metrics.streamStoredEvents.reset()
    metrics.streamStoredBytes.reset()
    metrics.streamDeliveredEvents.reset()
    const store = this.#eventStore
    if (store === undefined) return
    const other = { events: 0, bytes: 0, delivered: 0, any: false }
    for (const stream of store.streams()) {
      const info = store.info(stream)
      const label = this.#storeLabel(stream)
      if (label === otherStreamsLabel) {
        other.events += info.count
        other.bytes += info.bytes
        other.delivered += info.deliveredCount
        other.any = true
        continue
      }
      metrics.streamStoredEvents.set({ stream }, info.count)
      metrics.streamStoredBytes.set({ stream }, info.bytes)
      metrics.streamDeliveredEvents.set({ stream }, info.deliveredCount)
    }
    if (other.any) {
      metrics.streamStoredEvents.set({ stream: otherStreamsLabel }, other.events)
      metrics.streamStoredBytes.set({ stream: otherStreamsLabel }, other.bytes)
      metrics.streamDeliveredEvents.set({ stream: otherStreamsLabel }, other.delivered)
    }
  }

  /** This node's copy of each persistent stream (events, bytes, delivery index), at most `limit`. */
  storedStreams(limit = keyMetricsStreamsMax): Array<{ readonly stream: string; readonly events: number; readonly bytes: number; readonly delivered: number }> {
    const store = this.#eventStore
    if (store === undefined) return []
    return store
      .streams()
      .slice(0, limit)
      .map((stream) => {
        const info = store.info(stream)
        return { stream, events: info.count, bytes: info.bytes, delivered: info.deliveredCount }
      })
  }

  #eventStoreKeyMetrics(): EventStoreKeyMetrics | null {
    const store = this.#eventStore
    if (store === undefined) return null
    let events = 0
    let bytes = 0
    const streams = store.streams()
    for (const stream of streams) {
      const info = store.info(stream)
      events += info.count
      bytes += info.bytes
    }
    return { streams: streams.length, events, bytes, ...this.#store }
  }

  #persistentKeyMetrics(figures: DataPlaneFigures): PersistentKeyMetrics | null {
    if (figures.streams === null) return null
    const store = this.#eventStore
    const held = new Set(store?.streams() ?? [])
    const streams: PersistentStreamKeyMetrics[] = figures.streams.map((stream) => {
      const info = store !== undefined && held.has(stream.stream) ? store.info(stream.stream) : undefined
      return {
        ...stream,
        stored: info === undefined ? null : { events: info.count, bytes: info.bytes, delivered: info.deliveredCount },
        publishPerSec: this.#rates.rate(`publish:${stream.stream}`),
        deliverPerSec: this.#rates.rate(`groupDeliver:${stream.stream}`),
      }
    })
    const groups = figures.groups ?? []
    const lags = figures.replicationLag
    return {
      totals: {
        streams: streams.length,
        replicas: streams.filter((stream) => stream.role === 'replica').length,
        ...streamTotals(figures.streams),
        groups: groups.length,
        outstanding: groups.reduce((sum, group) => sum + group.outstanding, 0),
        groupLag: groups.reduce((sum, group) => sum + group.lag, 0),
      },
      streams: streams.slice(0, keyMetricsStreamsMax),
      groups: groups.slice(0, keyMetricsGroupsMax),
      replicationLag: lags === null ? null : lags.slice(0, keyMetricsGroupsMax),
      truncated: streams.length > keyMetricsStreamsMax || groups.length > keyMetricsGroupsMax || (lags?.length ?? 0) > keyMetricsGroupsMax,
    }
  }

  /** The Prometheus text exposition of this node. */
  async render(): Promise<string> {
    this.refresh()
    return this.registry.metrics()
  }

  /** This node's key metrics (what `$RG.metrics.<nodeId>` carries). */
  keyMetrics(): KeyMetrics {
    const sources = this.#sources
    const router = sources.router
    const runtime = sources.cluster()
    const nowMs = sources.clock.nowMs()
    const status = runtime?.node.status()
    const peers = { up: 0, down: 0, connecting: 0 }
    for (const peer of runtime?.peers() ?? []) peers[peer.state] += 1
    const streams: StreamKeyMetrics[] = [...router.streamTraffic.values()].map((traffic) => ({
      stream: traffic.stream,
      published: traffic.published,
      publishedBytes: traffic.publishedBytes,
      delivered: traffic.delivered,
      ...this.streamRates(traffic.stream),
    }))
    streams.sort((a, b) => b.publishPerSec - a.publishPerSec || (a.stream < b.stream ? -1 : 1))
    const memory = process.memoryUsage()
    const figures = this.dataPlaneFigures()
    const routing: RoutingKeyMetrics | null = figures.routing === null ? null : (({ perPeer: _perPeer, ...totals }) => totals)(figures.routing)
    return {
      nodeId: runtime?.nodeId ?? '',
      name: sources.nodeName,
      region: runtime?.region ?? '',
      version: sources.version,
      timeMs: (sources.wallClockMs ?? Date.now)(),
      uptimeMs: Math.max(0, Math.round(nowMs - sources.startedAtMs)),
      ready: sources.isReady(),
      raft:
        status === undefined
          ? null
          : {
              role: status.role,
              term: status.term,
              leader: status.lead,
              commit: status.commit,
              applied: status.applied,
              electionsStarted: this.raft.electionsStarted,
              leaderChanges: this.raft.leaderChanges,
            },
      clients: {
        ...router.clientTraffic(),
        inMsgsPerSec: this.#rates.rate('in.msgs'),
        outMsgsPerSec: this.#rates.rate('out.msgs'),
        inBytesPerSec: this.#rates.rate('in.bytes'),
        outBytesPerSec: this.#rates.rate('out.bytes'),
      },
      peers,
      process: {
        residentMemoryBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
        eventLoopLagMeanMs: this.#lag.meanMs,
        eventLoopLagP99Ms: this.#lag.p99Ms,
        eventLoopLagMaxMs: this.#lag.maxMs,
      },
      storage: { ...this.#storage },
      eventStore: this.#eventStoreKeyMetrics(),
      persistent: this.#persistentKeyMetrics(figures),
      routing,
      streams: streams.slice(0, keyMetricsStreamsMax),
      streamsTruncated: streams.length > keyMetricsStreamsMax,
    }
  }
}
