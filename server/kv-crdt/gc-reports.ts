// Stability reports: how the replicas of a CRDT bucket learn when a tombstone may be collected
// (data-plane/kv-crdt README § Garbage collection). Pure.
//
// Each replica publishes, through the bucket's own stream, a report `{node, writer, clock,
// appliedThrough}`: `clock` is its state's clock (every operation it has made or applied has an
// hlc ≤ clock; every operation it makes later is above it), and `appliedThrough` is
// `min over every replica X of the clock in X's latest report applied here` (null until every
// replica has reported). Why that is the contract's "applied through":
// - A writer publishes its reports through its own origin, after the operations it made before
//   them; the stream stamps one origin's publishes in call order, so in the region's delivery
//   order (and in receipt order elsewhere, as shipping keeps it) every operation a writer made
//   before a report comes before that report. So once X's report with clock c is applied here,
//   every operation of X with hlc ≤ c is applied here, and X makes none ≤ c any more.
// - A writer's earlier lives (a restart, a rebuilt state) published through earlier origin
//   incarnations (or earlier in the same one) that all come before its current life's first
//   report, which it publishes before its first operation.
// Then `stabilityFromReports` over every replica's latest report gives the collector's input:
// `stableHlc` = min of appliedThrough (every replica applied everything up to it, no writer makes
// more), `clockCeiling` = max of clocks — each from a report made after that replica applied what
// it vouches for, so above the clock at which any replica applied a tombstone that is stable.
//
// The payload is JSON and starts with `{`, which is never the first byte of an encoded operation
// (its version byte, 1), so the apply path tells the two apart without a header.
import { stabilityFromReports } from '../../data-plane/kv-crdt/index.js'
import type { GcInput } from '../../data-plane/kv-crdt/index.js'
import { compareHlc, isValidHlc, minHlc } from '../../data-plane/persistent/index.js'
import type { Hlc } from '../../data-plane/persistent/index.js'

export interface StabilityReport {
  /** The replica's node id (as in the bucket's placement). */
  readonly node: string
  /** The reporting state: `<node>#<writer incarnation>`. */
  readonly writer: string
  readonly clock: Hlc
  /** null until every replica has reported to this one. */
  readonly appliedThrough: Hlc | null
}

const reportTag = 'kvcReport'
const reportVersion = 1
/** Reports are tiny; anything longer is not one. */
const reportBytesMax = 1_024
const openBrace = 0x7b
const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export const isReportPayload = (payload: Uint8Array): boolean => payload.length > 0 && payload[0] === openBrace

export function encodeReport(report: StabilityReport): Uint8Array {
  const hlc = (h: Hlc) => ({ wallMs: h.wallMs, logical: h.logical })
  return encoder.encode(JSON.stringify({ [reportTag]: reportVersion, node: report.node, writer: report.writer, clock: hlc(report.clock), appliedThrough: report.appliedThrough === null ? null : hlc(report.appliedThrough) }))
}

const hlcOf = (value: unknown): Hlc | undefined => {
  if (typeof value !== 'object' || value === null) return undefined
  const { wallMs, logical } = value as { wallMs?: unknown; logical?: unknown }
  if (typeof wallMs !== 'number' || typeof logical !== 'number') return undefined
  const h = { wallMs, logical }
  return isValidHlc(h) ? h : undefined
}

/** The report in `payload`, or a reason it is not one. */
export function decodeReport(payload: Uint8Array): StabilityReport | string {
  if (payload.length > reportBytesMax) return `a report of ${payload.length} bytes (max ${reportBytesMax})`
  let body: unknown
  try {
    body = JSON.parse(decoder.decode(payload))
  } catch (error) {
    return `a report that is not JSON (${(error as Error).message})`
  }
  if (typeof body !== 'object' || body === null) return 'a report that is not an object'
  const fields = body as Record<string, unknown>
  if (fields[reportTag] !== reportVersion) return `a report of an unknown version ${JSON.stringify(fields[reportTag])}`
  const { node, writer } = fields
  const clock = hlcOf(fields['clock'])
  const appliedThrough = fields['appliedThrough'] === null ? null : hlcOf(fields['appliedThrough'])
  if (typeof node !== 'string' || node.length === 0 || typeof writer !== 'string' || clock === undefined || appliedThrough === undefined) return 'a report with a missing or invalid field'
  return { node, writer, clock, appliedThrough }
}

/** The latest report of each replica, as applied here (in delivery order). */
export class ReportBook {
  readonly #latest = new Map<string, StabilityReport>()

  record(report: StabilityReport): void {
    this.#latest.set(report.node, report)
  }

  /** Forgets every report (a rebuilt state replays them from the stream). */
  clear(): void {
    this.#latest.clear()
  }

  latest(node: string): StabilityReport | undefined {
    return this.#latest.get(node)
  }

  /** Min of the replicas' reported clocks: what this replica has applied through; undefined until each has reported. */
  appliedThrough(replicas: readonly string[]): Hlc | undefined {
    let through: Hlc | undefined
    for (const replica of replicas) {
      const report = this.#latest.get(replica)
      if (report === undefined) return undefined
      through = through === undefined ? report.clock : minHlc(through, report.clock)
    }
    return through
  }

  /** The collector's input from every replica's latest report; undefined until each has reported an `appliedThrough`. */
  gcInput(replicas: readonly string[]): GcInput | undefined {
    if (replicas.length === 0) return undefined
    const reports = []
    for (const replica of replicas) {
      const report = this.#latest.get(replica)
      if (report === undefined || report.appliedThrough === null) return undefined
      reports.push({ replica, appliedThrough: report.appliedThrough, clock: report.clock })
    }
    return stabilityFromReports(replicas, reports)
  }
}

/** Whether two optional hlcs are equal (report change detection). */
export const sameHlc = (a: Hlc | null | undefined, b: Hlc | null | undefined): boolean => (a ?? null) === (b ?? null) || (a != null && b != null && compareHlc(a, b) === 0)
