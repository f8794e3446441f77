// Stability reports: how the replicas of a CRDT bucket learn when a tombstone may be collected
// (data-plane/kv-crdt README § Garbage collection). Pure.
//
// Each replica publishes, through the bucket's own stream, a report `{node, writer, madeThrough,
// clock, appliedThrough}`: `writer` is its state (`<node>#<writer incarnation>`, the key its
// operations carry), `madeThrough` how many operations that writer has made (their sequences are
// 1..madeThrough, made in rising hlc order), `clock` its state's clock (every operation it has
// made or applied has an hlc ≤ clock; every operation it makes later is above it), and
// `appliedThrough` = `min over every replica X of the clock of X's latest report vouched for
// here` (null until every replica has one). Why that is the contract's "applied through":
// - X's report is *vouched for* here once this state has applied X's writer's operations 1..
//   madeThrough: then every operation of that writer with hlc ≤ clock is applied here (the later
//   ones are above the clock), whatever order the stream brought them in.
// - A writer's earlier lives (a restart, a rebuilt state) published through earlier origin
//   incarnations (or earlier in the same one), which come before its current life's first report
//   in the region's delivery order (one origin stamps in call order; a successor's events come
//   after its predecessor's) and, shipping keeping that order, in every other region's; a writer
//   publishes its first report before its first operation.
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
  /** The reporting state: `<node>#<writer incarnation>` (the writer key of its operations). */
  readonly writer: string
  /** Operations this writer had made when it reported (sequences 1..madeThrough). */
  readonly madeThrough: number
  readonly clock: Hlc
  /** null until every replica has reported to this one. */
  readonly appliedThrough: Hlc | null
}

const reportTag = 'kvcReport'
const reportVersion = 1
/** Reports are tiny; anything longer is not one. */
const reportBytesMax = 1_024
/** Reports per replica waiting until this state has applied what they vouch for. */
export const reportsWaitingMax = 64
const openBrace = 0x7b
const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export const isReportPayload = (payload: Uint8Array): boolean => payload.length > 0 && payload[0] === openBrace

export function encodeReport(report: StabilityReport): Uint8Array {
  const hlc = (h: Hlc) => ({ wallMs: h.wallMs, logical: h.logical })
  return encoder.encode(
    JSON.stringify({ [reportTag]: reportVersion, node: report.node, writer: report.writer, madeThrough: report.madeThrough, clock: hlc(report.clock), appliedThrough: report.appliedThrough === null ? null : hlc(report.appliedThrough) }),
  )
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
  const { node, writer, madeThrough } = fields
  const clock = hlcOf(fields['clock'])
  const appliedThrough = fields['appliedThrough'] === null ? null : hlcOf(fields['appliedThrough'])
  if (typeof node !== 'string' || node.length === 0 || typeof writer !== 'string' || writer.length === 0 || clock === undefined || appliedThrough === undefined) return 'a report with a missing or invalid field'
  if (typeof madeThrough !== 'number' || !Number.isSafeInteger(madeThrough) || madeThrough < 0) return 'a report with an invalid madeThrough'
  return { node, writer, madeThrough, clock, appliedThrough }
}

interface NodeReports {
  latest: StabilityReport
  /** The latest report this state has applied everything of (see the header). */
  vouched: StabilityReport | undefined
  /** Later reports, oldest first, not vouched for yet. */
  waiting: StabilityReport[]
}

/** How many operations of a writer (`<node>#<incarnation>`) this state has applied contiguously. */
export type AppliedOf = (writer: string) => number

/** The reports of each replica, as applied here (in delivery order). */
export class ReportBook {
  readonly #nodes = new Map<string, NodeReports>()

  record(report: StabilityReport): void {
    const entry = this.#nodes.get(report.node)
    if (entry === undefined) {
      this.#nodes.set(report.node, { latest: report, vouched: undefined, waiting: [report] })
      return
    }
    entry.latest = report
    entry.waiting.push(report)
    if (entry.waiting.length > reportsWaitingMax) entry.waiting.shift()
  }

  /** Forgets every report (a rebuilt state replays them from the stream). */
  clear(): void {
    this.#nodes.clear()
  }

  latest(node: string): StabilityReport | undefined {
    return this.#nodes.get(node)?.latest
  }

  /** The newest waiting report whose operations are all applied here becomes the vouched one (older ones go). */
  #vouch(entry: NodeReports, appliedOf: AppliedOf): StabilityReport | undefined {
    for (let i = entry.waiting.length - 1; i >= 0; i--) {
      const report = entry.waiting[i] as StabilityReport
      if (appliedOf(report.writer) < report.madeThrough) continue
      entry.vouched = report
      entry.waiting = entry.waiting.slice(i + 1)
      break
    }
    return entry.vouched
  }

  /** Min of the clocks of the replicas' vouched reports: what this state has applied through; undefined until each has one. */
  appliedThrough(replicas: readonly string[], appliedOf: AppliedOf): Hlc | undefined {
    let through: Hlc | undefined
    for (const replica of replicas) {
      const entry = this.#nodes.get(replica)
      const report = entry === undefined ? undefined : this.#vouch(entry, appliedOf)
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
      // Each replica's own claim (what it had applied when it reported): taken as it stands.
      const report = this.#nodes.get(replica)?.latest
      if (report === undefined || report.appliedThrough === null) return undefined
      reports.push({ replica, appliedThrough: report.appliedThrough, clock: report.clock })
    }
    return stabilityFromReports(replicas, reports)
  }
}

/** Whether two optional hlcs are equal (report change detection). */
export const sameHlc = (a: Hlc | null | undefined, b: Hlc | null | undefined): boolean => (a ?? null) === (b ?? null) || (a != null && b != null && compareHlc(a, b) === 0)
