// Public entry of the node's metrics (server/metrics): the per-node Prometheus registry and its
// samplers, the key-metrics JSON and its `$RG.metrics.<nodeId>` publisher. See README.md.
export { NodeMetrics, dataPlaneStreamsMax, eventLoopWindowMs, otherStreamsLabel, rateWindowMs, sampleIntervalMsDefault } from './node-metrics.js'
export type { EventStoreKeyMetrics, MetricsSources, NodeMetricsOptions, ObservedEventStore, StreamDataPlaneMetrics } from './node-metrics.js'
export { ackLevelLabels, defineMetrics } from './definitions.js'
export type { MetricSet } from './definitions.js'
export { keyMetricsStreamsMax } from './key-metrics.js'
export type { KeyMetrics, StreamKeyMetrics } from './key-metrics.js'
export { metricsPublishIntervalMsDefault, metricsPublishIntervalMsMin, metricsSubject, metricsSubjectPrefix, startMetricsPublisher } from './metrics-publisher.js'
export type { MetricsPublisher, MetricsPublisherOptions } from './metrics-publisher.js'
export { RaftTracker } from './raft-tracker.js'
export type { RaftSample } from './raft-tracker.js'
export { RateWindow, rateKeysMax } from './rates.js'
