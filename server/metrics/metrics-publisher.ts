// `$RG.metrics.<nodeId>`: every `intervalMs` the node publishes its key metrics (key-metrics.ts)
// as one JSON message to its local subscribers (Router.publishLocal), so a plain NATS subscriber
// (`nats sub '$RG.metrics.>'`) can watch it. 0 turns it off. Nothing is sent before the node id
// is known (a node without a control plane uses its name).
import type { Logger } from '../../shared/log.js'
import type { Router } from '../router.js'
import type { KeyMetrics } from './key-metrics.js'

export const metricsSubjectPrefix = '$RG.metrics'
export const metricsPublishIntervalMsDefault = 5_000
/** Named limit: intervals below this are raised to it (a busy loop of JSON is no metric). */
export const metricsPublishIntervalMsMin = 100

const textEncoder = new TextEncoder()
/** A subject token: no dots, spaces or wildcards. */
const tokenPattern = /^[^\s.*>#]+$/

export function metricsSubject(nodeId: string): string {
  return `${metricsSubjectPrefix}.${nodeId}`
}

export interface MetricsPublisherOptions {
  readonly router: Router
  readonly intervalMs: number
  /** The node id ('' until known) and the name to fall back on. */
  readonly identity: () => { readonly nodeId: string; readonly name: string }
  readonly keyMetrics: () => KeyMetrics
  readonly logger: Logger
}

export interface MetricsPublisher {
  /** Publishes once now (also what the timer calls); false when there is no id to publish under. */
  publishNow(): boolean
  stop(): void
}

export function startMetricsPublisher(options: MetricsPublisherOptions): MetricsPublisher {
  const publishNow = (): boolean => {
    const { nodeId, name } = options.identity()
    const token = nodeId !== '' ? nodeId : tokenPattern.test(name) ? name : ''
    if (token === '') return false
    options.router.publishLocal(metricsSubject(token), undefined, undefined, textEncoder.encode(JSON.stringify(options.keyMetrics())))
    return true
  }
  if (options.intervalMs <= 0) return { publishNow, stop: () => undefined }
  const timer = setInterval(() => {
    try {
      publishNow()
    } catch (error) {
      options.logger.warn({ err: (error as Error).message }, 'metrics: publishing $RG.metrics failed')
    }
  }, Math.max(metricsPublishIntervalMsMin, options.intervalMs))
  timer.unref()
  return { publishNow, stop: () => clearInterval(timer) }
}
