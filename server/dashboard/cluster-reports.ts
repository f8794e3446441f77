// The other nodes' figures for the dashboard, from their `$RG.metrics.<nodeId>` reports (the key
// metrics each node publishes every `metrics.publishIntervalMs`, server/metrics). While someone
// watches (a snapshot was built in the last `reportsIdleStopMs`), this node holds one cluster-wide
// in-process subscription on `$RG.metrics.>` and keeps the latest report of each node; nobody
// watching, it unsubscribes and forgets them.
//
// Why reports and not requests to each node's admin API: the reports travel on the peer links
// (authenticated, TLS when configured) through cluster routing, so the node needs no admin
// credentials of its own for its peers (the admin API wants an admin token when access control is
// on); building a snapshot waits for nobody (bounded by construction: a node whose report is
// missing or older than `staleAfterMs` is shown unreachable, never waited for); and a plain
// subscriber sees the same figures. The cost: other nodes' figures are as old as their last
// report (the page shows the age).
import type { Logger } from '../../shared/log.js'
import { metricsSubjectPrefix } from '../metrics/index.js'
import type { KeyMetrics } from '../metrics/index.js'
import type { Router } from '../router.js'

/** The subscription ends this long after the last snapshot that asked for reports. */
export const reportsIdleStopMs = 30_000
/** Named limit: nodes whose reports are kept (a cluster larger than this shows the first ones). */
export const reportsNodesMax = 256
/** Named limit: a report larger than this is dropped (a key-metrics value is bounded far below). */
export const reportBytesMax = 1024 * 1024
/** A report is stale after this many publish intervals (and never sooner than `reportStaleMsMin`). */
export const reportStaleIntervals = 3
export const reportStaleMsMin = 5_000

export interface NodeReport {
  readonly report: KeyMetrics
  /** Monotonic time it arrived. */
  readonly receivedAtMs: number
}

export interface ClusterReportsOptions {
  readonly router: Router
  readonly nowMs: () => number
  readonly logger: Logger
  /** How often the idle check runs (default a third of `reportsIdleStopMs`; tests shorten it). */
  readonly idleCheckMs?: number
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** `value` is a record whose `strings` fields are strings and `numbers` fields finite numbers. */
function hasFields(value: unknown, strings: readonly string[], numbers: readonly string[]): value is Record<string, unknown> {
  return isRecord(value) && strings.every((key) => typeof value[key] === 'string') && numbers.every((key) => Number.isFinite(value[key]))
}

function isArrayOf(value: unknown, check: (item: unknown) => boolean): boolean {
  return Array.isArray(value) && value.every(check)
}

const streamNumbers = ['published', 'duplicates', 'failed', 'forwarded', 'delivered', 'redelivered', 'deadLettered', 'publishPerSec', 'deliverPerSec']
const isStreamFigures = (item: unknown): boolean =>
  hasFields(item, ['stream', 'role'], streamNumbers) && hasFields(item['acked'], [], ['write', 'majority', 'all']) && (item['stored'] === null || hasFields(item['stored'], [], ['events', 'bytes', 'delivered']))
const isGroupFigures = (item: unknown): boolean => hasFields(item, ['stream', 'group'], ['term', 'head', 'available', 'outstanding', 'lag', 'members', 'delivered', 'redelivered', 'acked', 'deadLettered'])
const isLagFigures = (item: unknown): boolean => hasFields(item, ['stream', 'source', 'destination', 'holder'], ['events', 'ms', 'ageMs']) && typeof item['stale'] === 'boolean'
const routingNumbers = ['peers', 'peersUp', 'peersSynced', 'localInterest', 'remoteInterest', 'msgsOut', 'msgsIn', 'bytesOut', 'bytesIn', 'dropped']

/**
 * A report as the dashboard reads it, or undefined when it is not one: the identity fields are
 * checked, and the `persistent` and `routing` sections field by field — one that does not fit
 * (a node of an older or newer version) reads as null rather than breaking the snapshot.
 */
export function asReport(value: unknown): KeyMetrics | undefined {
  if (!isRecord(value) || typeof value['nodeId'] !== 'string' || value['nodeId'] === '' || typeof value['region'] !== 'string' || typeof value['timeMs'] !== 'number') return undefined
  const persistent = value['persistent']
  const validPersistent =
    isRecord(persistent) &&
    isRecord(persistent['totals']) &&
    isArrayOf(persistent['streams'], isStreamFigures) &&
    isArrayOf(persistent['groups'], isGroupFigures) &&
    (persistent['replicationLag'] === null || isArrayOf(persistent['replicationLag'], isLagFigures))
  const routing = value['routing']
  return {
    ...(value as unknown as KeyMetrics),
    persistent: validPersistent ? (persistent as unknown as KeyMetrics['persistent']) : null,
    routing: hasFields(routing, [], routingNumbers) ? (routing as unknown as KeyMetrics['routing']) : null,
  }
}

export class ClusterReports {
  readonly #options: ClusterReportsOptions
  readonly #reports = new Map<string, NodeReport>()
  #unsubscribe: (() => void) | undefined
  #lastWantedMs = 0
  #timer: NodeJS.Timeout | undefined
  #closed = false
  /** Why the subscription could not be made (shown on the page), if it could not. */
  #unavailable: string | undefined
  /** Messages on `$RG.metrics.>` that were not reports (counted, logged once). */
  dropped = 0

  constructor(options: ClusterReportsOptions) {
    this.#options = options
  }

  /** Marks the reports as wanted (subscribes when idle) and returns the latest per node id. */
  want(): ReadonlyMap<string, NodeReport> {
    this.#lastWantedMs = this.#options.nowMs()
    if (this.#unsubscribe === undefined && !this.#closed) this.#subscribe()
    return this.#reports
  }

  /** Why other nodes' reports cannot be received, if so. */
  get unavailable(): string | undefined {
    return this.#unavailable
  }

  #subscribe(): void {
    try {
      this.#unsubscribe = this.#options.router.subscribeLocal(`${metricsSubjectPrefix}.>`, (message) => this.#onMessage(message.subject, message.payload), { cluster: true })
      this.#unavailable = undefined
    } catch (error) {
      // The router's in-process subscriber limit: the page says so; retried on the next want().
      this.#unavailable = `cannot subscribe to ${metricsSubjectPrefix}.>: ${(error as Error).message}`
      return
    }
    this.#timer = setInterval(() => {
      if (this.#options.nowMs() - this.#lastWantedMs > reportsIdleStopMs) this.#stop()
    }, this.#options.idleCheckMs ?? reportsIdleStopMs / 3)
    this.#timer.unref()
  }

  #onMessage(subject: string, payload: Uint8Array): void {
    const nodeId = subject.slice(metricsSubjectPrefix.length + 1)
    let report: KeyMetrics | undefined
    if (payload.length <= reportBytesMax) {
      try {
        report = asReport(JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8')))
      } catch {
        report = undefined
      }
    }
    if (report === undefined || report.nodeId !== nodeId) {
      this.dropped += 1
      if (this.dropped === 1) this.#options.logger.warn({ subject }, 'dashboard: a message on $RG.metrics was not a node report (dropped; counted)')
      return
    }
    if (!this.#reports.has(nodeId) && this.#reports.size >= reportsNodesMax) return
    this.#reports.set(nodeId, { report, receivedAtMs: this.#options.nowMs() })
  }

  #stop(): void {
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    this.#reports.clear()
  }

  close(): void {
    this.#closed = true
    this.#stop()
  }
}

/** How old a report may be before its node is shown unreachable, for a publish interval (0 = off). */
export function reportStaleMs(publishIntervalMs: number): number {
  return Math.max(reportStaleMsMin, reportStaleIntervals * publishIntervalMs)
}
