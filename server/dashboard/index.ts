// Public entry of the dashboard (server/dashboard): the page, its routes and JSON snapshots, and
// `attachOperatorView`, which wires metrics, `$RG.metrics`, the dashboard and log identity into a
// node. See README.md.
export { attachOperatorView } from './operator-view.js'
export type { OperatorView, OperatorViewOptions } from './operator-view.js'
export {
  createDashboardRoutes,
  dashboardSnapshotPath,
  dashboardStreamPath,
  dashboardStreamIntervalMsDefault,
  dashboardStreamMaxMs,
  dashboardStreamsMax,
} from './routes.js'
export type { DashboardRoutes, DashboardRoutesOptions } from './routes.js'
export { buildSnapshot, shippingNote, sourcesNote } from './snapshot.js'
export { ClusterReports, asReport, reportStaleMs, reportsIdleStopMs } from './cluster-reports.js'
export type { NodeReport } from './cluster-reports.js'
export { groupRegionRows, lagViews, regionViews, routingRows, shippingReported, streamClusterFigures } from './data-plane-view.js'
export type { GroupRegionRow, LagView, NodeView, RegionView, RoutingRow, StreamClusterFigures, Views } from './data-plane-view.js'
export { dashboardAsset, dashboardAssetPaths, dashboardAssetPrefix, isDashboardAssetPath } from './assets.js'
export { PeerProbe, probeIntervalMs, probeTimeoutMs } from './peer-probe.js'
