// The inputs of tombstone garbage collection, from what every replica reports about itself.
// Pure. The wiring gossips one report per replica (all regions of the bucket) and calls
// `state.collectGarbage(stabilityFromReports(...))` now and then; README.md § Garbage collection
// explains why the rule is safe under this contract.
import { compareHlc, maxHlc, minHlc } from '../persistent/index.js'
import type { Hlc } from '../persistent/index.js'
import type { GcInput } from './state.js'

export interface ReplicaReport {
  readonly replica: string
  /**
   * The replica holds every operation with hlc ≤ this from every writer, and every writer has
   * promised to make none at or below it (the stream layer's stability frontier over all origins
   * of all regions).
   */
  readonly appliedThrough: Hlc
  /** The replica's clock: ≥ every hlc it has made or seen. */
  readonly clock: Hlc
}

/**
 * `stableHlc` = the lowest `appliedThrough`, `clockCeiling` = the highest clock; undefined while
 * some replica of `replicas` has not reported (no collection without every replica's word).
 */
export function stabilityFromReports(replicas: Iterable<string>, reports: Iterable<ReplicaReport>): GcInput | undefined {
  const latest = new Map<string, ReplicaReport>()
  for (const report of reports) latest.set(report.replica, report)
  let stableHlc: Hlc | undefined
  let clockCeiling: Hlc | undefined
  for (const replica of replicas) {
    const report = latest.get(replica)
    if (report === undefined) return undefined
    stableHlc = stableHlc === undefined ? report.appliedThrough : minHlc(stableHlc, report.appliedThrough)
    clockCeiling = clockCeiling === undefined ? report.clock : maxHlc(clockCeiling, report.clock)
  }
  if (stableHlc === undefined || clockCeiling === undefined) return undefined
  return { stableHlc, clockCeiling: compareHlc(clockCeiling, stableHlc) < 0 ? stableHlc : clockCeiling }
}
