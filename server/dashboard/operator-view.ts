// The operator's view of one node, wired in one place for server/node.ts: the metrics registry
// and its sampler, `$RG.metrics.<nodeId>`, the dashboard routes and their peer probe, and the log
// identity (node id and region on every line once the control plane has resolved them). The other
// nodes' figures reach the dashboard as their `$RG.metrics` reports (cluster-reports.ts).
// `admin` holds the fields to spread into admin-http's `AdminSource`.
import type { Clock } from '../../shared/clock.js'
import { setLogIdentity } from '../../shared/log.js'
import type { Logger } from '../../shared/log.js'
import type { AdminDelegate } from '../admin-http.js'
import type { ClusterRuntime } from '../cluster/index.js'
import { NodeMetrics, metricsPublishIntervalMsDefault, startMetricsPublisher } from '../metrics/index.js'
import type { DataPlaneSources, MetricsPublisher } from '../metrics/index.js'
import type { Router } from '../router.js'
import { ClusterReports, reportStaleMs } from './cluster-reports.js'
import { PeerProbe } from './peer-probe.js'
import type { ProbeTarget } from './peer-probe.js'
import { createDashboardRoutes } from './routes.js'
import type { DashboardRoutes } from './routes.js'
import { buildSnapshot, snapshotStreamsMax } from './snapshot.js'

export interface OperatorViewOptions {
  readonly router: Router
  readonly clock: Clock
  readonly logger: Logger
  readonly nodeName: string
  readonly version: string
  readonly startedAtMs: number
  readonly readiness: () => { readonly ready: boolean; readonly reason?: string }
  readonly cluster: () => ClusterRuntime | undefined
  /** `$RG.metrics.<nodeId>` period; 0 = off. Default `metricsPublishIntervalMsDefault` (5 s). */
  readonly metricsPublishIntervalMs?: number
  /** Raft / peer sampling period (tests shorten it). */
  readonly sampleIntervalMs?: number
  /** Persistent streams, consumer groups and cluster routes once attached (read at scrape time). */
  readonly dataPlane?: DataPlaneSources
}

export interface OperatorView {
  readonly metrics: NodeMetrics
  readonly dashboard: DashboardRoutes
  /** Fields for `AdminSource`: `/metrics`, the log-level route, the dashboard routes. */
  readonly admin: {
    readonly metrics: () => Promise<{ readonly contentType: string; readonly body: string }>
    readonly logger: Logger
    readonly dashboard: AdminDelegate
  }
  /** The control plane is open: log lines get the node id and region; `$RG.metrics` starts. */
  controlPlaneOpened(runtime: ClusterRuntime): void
  /** The dashboard's current snapshot (what `/api/v1/dashboard` answers). */
  snapshot(): Record<string, unknown>
  close(): void
}

export function attachOperatorView(options: OperatorViewOptions): OperatorView {
  const metrics = new NodeMetrics(
    {
      router: options.router,
      clock: options.clock,
      nodeName: options.nodeName,
      version: options.version,
      startedAtMs: options.startedAtMs,
      isReady: () => options.readiness().ready,
      cluster: options.cluster,
      ...(options.dataPlane === undefined ? {} : { dataPlane: options.dataPlane }),
    },
    options.sampleIntervalMs === undefined ? {} : { sampleIntervalMs: options.sampleIntervalMs },
  )
  metrics.start()
  const probe = new PeerProbe(() => options.clock.nowMs())
  const reports = new ClusterReports({ router: options.router, nowMs: () => options.clock.nowMs(), logger: options.logger })
  const publishIntervalMs = options.metricsPublishIntervalMs ?? metricsPublishIntervalMsDefault
  let publisher: MetricsPublisher | undefined

  const snapshot = (): Record<string, unknown> => {
    const runtime = options.cluster()
    const targets: ProbeTarget[] = []
    if (runtime !== undefined) {
      for (const [id, node] of runtime.node.state.nodes) {
        if (id !== runtime.nodeId && node.state !== 'removed' && node.adminAddress !== '') targets.push({ id, adminAddress: node.adminAddress })
      }
    }
    const keyMetrics = metrics.keyMetrics()
    const stored = new Map(metrics.storedStreams(snapshotStreamsMax).map(({ stream, ...figures }) => [stream, figures]))
    return buildSnapshot({
      nowMs: options.clock.nowMs(),
      name: options.nodeName,
      version: options.version,
      readiness: options.readiness(),
      runtime,
      keyMetrics,
      streamRates: (stream) => {
        const traffic = options.router.streamTraffic.get(stream)
        return traffic === undefined ? undefined : { published: traffic.published, publishedBytes: traffic.publishedBytes, delivered: traffic.delivered, ...metrics.streamRates(stream) }
      },
      peerLastUpMs: (peer) => metrics.peerLastUpMs(peer),
      storedStream: (stream) => stored.get(stream),
      probe: probe.want(targets),
      // Other nodes' reports only once the node is in a cluster (cluster-wide subscription).
      reports: runtime === undefined ? new Map() : reports.want(),
      reportStaleMs: reportStaleMs(publishIntervalMs),
      publishIntervalMs,
      ...(reports.unavailable === undefined ? {} : { reportsUnavailable: reports.unavailable }),
    })
  }
  const dashboard = createDashboardRoutes({ snapshot })

  return {
    metrics,
    dashboard,
    admin: {
      metrics: async () => ({ contentType: metrics.contentType, body: await metrics.render() }),
      logger: options.logger,
      dashboard: dashboard.handleHttp,
    },
    controlPlaneOpened: (runtime) => {
      setLogIdentity(options.logger, { nodeId: runtime.nodeId, region: runtime.region })
      publisher?.stop()
      publisher = startMetricsPublisher({
        router: options.router,
        intervalMs: publishIntervalMs,
        identity: () => ({ nodeId: runtime.nodeId, name: options.nodeName }),
        keyMetrics: () => metrics.keyMetrics(),
        logger: options.logger,
      })
    },
    snapshot,
    close: () => {
      publisher?.stop()
      dashboard.close()
      probe.close()
      reports.close()
      metrics.close()
    },
  }
}
