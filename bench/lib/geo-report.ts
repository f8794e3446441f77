// The geo benchmark's report: one table row per (system, region), and the targets with
// the measured value beside each — reported, never asserted (a benchmark on a shared, loaded
// machine is indicative). Pure: figures in, text and values out.
import { roundTripMs, type LatencyMatrix } from './geo-matrix.js'
import type { RegionFigures } from './geo-recorder.js'
import { quantile } from './stats.js'

export interface SystemFigures {
  readonly label: string
  readonly system: 'railgun' | 'jetstream'
  readonly details: Readonly<Record<string, string | number | boolean | null>>
  readonly regions: readonly RegionFigures[]
  /** Raw latencies per region for the target checks (p99 with missing events counted as late). */
  readonly convergenceByPair: readonly { readonly from: string; readonly to: string; readonly latenciesMs: readonly number[]; readonly missing: number }[]
}

export const geoTargets = {
  /** Railgun local publish → ack p99, every region. */
  localAckP99MsMax: 10,
  /** Cross-region convergence p99 ≤ one-way delay + this. */
  convergenceSlackMs: 100,
} as const

export type Verdict = 'met' | 'not met' | 'not measured'

export interface TargetCheck {
  readonly target: string
  readonly verdict: Verdict
  readonly measured: string
}

const ms = (value: number): string => (Number.isNaN(value) ? '-' : value === Number.POSITIVE_INFINITY ? '∞' : value >= 100 ? value.toFixed(0) : value.toFixed(value >= 10 ? 1 : 2))

/** Why a convergence column is empty: nothing crossed, or no other region. */
export function convergenceNote(region: RegionFigures, eventTimeoutMs: number): string | null {
  if (region.convergenceExpected === 0) return 'no other region'
  if (region.convergenceExpected - region.convergenceMissing === 0) return `not measured: none of ${region.convergenceExpected} events from other regions became visible within ${eventTimeoutMs / 1000} s (cross-region shipping not wired, stalled, or a region cut off?)`
  return null
}

export function formatTable(systems: readonly SystemFigures[], eventTimeoutMs: number): string {
  const header = ['system', 'region', 'published', 'acked/s', 'ack p50', 'ack p99', 'ack p999', 'deliver p50', 'deliver p99', 'conv p50', 'conv p99', 'conv seen', 'missing here']
  const rows: string[][] = [header]
  const notes: string[] = []
  for (const system of systems) {
    for (const region of system.regions) {
      const note = convergenceNote(region, eventTimeoutMs)
      if (note !== null && region.convergenceExpected > 0) notes.push(`${system.label} ${region.region}: convergence ${note}`)
      if (region.failed > 0) notes.push(`${system.label} ${region.region}: ${region.failed} publishes refused or timed out (first: ${region.firstError ?? '?'})`)
      if (region.notSent > 0) notes.push(`${system.label} ${region.region}: ${region.notSent} publishes not sent (in-flight bound full)`)
      rows.push([
        system.label,
        region.region,
        String(region.published),
        region.ackedPerSecond.toFixed(0),
        ms(region.ack.p50Ms),
        ms(region.ack.p99Ms),
        ms(region.ack.p999Ms),
        ms(region.deliver.p50Ms),
        ms(region.deliver.p99Ms),
        note === null ? ms(region.convergence.p50Ms) : 'n/m',
        note === null ? ms(region.convergence.p99Ms) : 'n/m',
        region.convergenceExpected === 0 ? '-' : `${region.convergenceExpected - region.convergenceMissing}/${region.convergenceExpected}`,
        String(region.missingHere),
      ])
    }
  }
  const widths = header.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  const lines = rows.map((row) => row.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  '))
  lines.splice(1, 0, widths.map((width) => '-'.repeat(width)).join('  '))
  return [...lines, ...(notes.length === 0 ? [] : ['', ...notes.map((note) => `  ${note}`)])].join('\n')
}

/** The q-quantile of latencies where `missing` more events count as never arriving (∞). */
export function quantileWithMissing(latenciesMs: readonly number[], missing: number, q: number): number {
  const sorted = [...latenciesMs].sort((a, b) => a - b)
  for (let i = 0; i < missing; i++) sorted.push(Number.POSITIVE_INFINITY)
  return quantile(sorted, q)
}

export function checkTargets(systems: readonly SystemFigures[], matrix: LatencyMatrix, eventTimeoutMs: number): TargetCheck[] {
  const checks: TargetCheck[] = []
  const railgun = systems.find((system) => system.system === 'railgun')
  const jetstream = systems.find((system) => system.system === 'jetstream')

  const ackTarget = `railgun local publish→ack p99 ≤ ${geoTargets.localAckP99MsMax} ms in every region`
  if (railgun === undefined) checks.push({ target: ackTarget, verdict: 'not measured', measured: 'railgun not run' })
  else {
    const worst = railgun.regions.map((region) => `${region.region} ${ms(region.ack.p99Ms)} ms`).join(', ')
    const measuredAll = railgun.regions.every((region) => region.ack.count > 0)
    const met = measuredAll && railgun.regions.every((region) => region.ack.p99Ms <= geoTargets.localAckP99MsMax)
    checks.push({ target: ackTarget, verdict: measuredAll ? (met ? 'met' : 'not met') : 'not measured', measured: worst })
  }

  const jsTarget = 'stretched jetstream publish→ack p50 from a non-leader region ≥ the round trip to the leader region'
  const leaderRegion = jetstream?.details.streamLeaderRegion
  if (jetstream === undefined) checks.push({ target: jsTarget, verdict: 'not measured', measured: 'jetstream not run' })
  else if (typeof leaderRegion !== 'string') checks.push({ target: jsTarget, verdict: 'not measured', measured: 'stream leader unknown' })
  else {
    const others = jetstream.regions.filter((region) => region.region !== leaderRegion)
    const parts = others.map((region) => ({ region, rtt: roundTripMs(matrix, region.region, leaderRegion) ?? Number.NaN }))
    const met = parts.length > 0 && parts.every(({ region, rtt }) => region.ack.p50Ms >= rtt)
    checks.push({
      target: jsTarget,
      verdict: parts.length === 0 ? 'not measured' : met ? 'met' : 'not met',
      measured: `leader in ${leaderRegion}; ${parts.map(({ region, rtt }) => `${region.region} p50 ${ms(region.ack.p50Ms)} ms vs RTT ${ms(rtt)} ms`).join(', ') || 'no other region'}`,
    })
  }

  const convergenceTarget = `railgun cross-region convergence p99 ≤ one-way delay + ${geoTargets.convergenceSlackMs} ms (missing events count as ∞)`
  if (railgun === undefined || railgun.convergenceByPair.length === 0) checks.push({ target: convergenceTarget, verdict: 'not measured', measured: railgun === undefined ? 'railgun not run' : 'one region only' })
  else if (railgun.convergenceByPair.every((pair) => pair.latenciesMs.length === 0)) {
    const expected = railgun.convergenceByPair.reduce((sum, pair) => sum + pair.missing, 0)
    checks.push({ target: convergenceTarget, verdict: 'not measured', measured: `no event crossed regions (cross-region shipping not wired, stalled, or a region cut off): none of ${expected} (event, other region) pairs became visible within ${eventTimeoutMs / 1000} s` })
  } else {
    let met = true
    const parts = railgun.convergenceByPair.map((pair) => {
      const p99 = quantileWithMissing(pair.latenciesMs, pair.missing, 0.99)
      const bound = (roundTripMs(matrix, pair.from, pair.to) ?? Number.NaN) / 2 + geoTargets.convergenceSlackMs
      if (!(p99 <= bound)) met = false
      return `${pair.from}→${pair.to} ${ms(p99)} ms (≤ ${ms(bound)})`
    })
    checks.push({ target: convergenceTarget, verdict: met ? 'met' : 'not met', measured: parts.join(', ') })
  }

  const missingTarget = 'no acked railgun event missing from any region at the end'
  if (railgun === undefined) checks.push({ target: missingTarget, verdict: 'not measured', measured: 'railgun not run' })
  else {
    const missing = railgun.regions.map((region) => `${region.region} ${region.missingHere}`).join(', ')
    const total = railgun.regions.reduce((sum, region) => sum + region.missingHere, 0)
    checks.push({ target: missingTarget, verdict: total === 0 ? 'met' : 'not met', measured: `missing per region: ${missing}` })
  }
  return checks
}

export function formatTargets(checks: readonly TargetCheck[]): string {
  return checks.map((check) => `  [${check.verdict}] ${check.target}\n      ${check.measured}`).join('\n')
}
