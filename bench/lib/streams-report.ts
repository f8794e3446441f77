// Summaries, the printed table and the ratios of the persistent-stream benchmark. Targets (from
// issue #5) are printed beside each ratio, never asserted.
import { median, summarizeLatencies, type LatencySummary } from './stats.js'
import type { TargetRuns } from './streams-run.js'

export interface TargetSummary {
  readonly label: string
  readonly system: TargetRuns['system']
  readonly replicas: number
  readonly durability: string
  /** Median over the rounds; null when the part did not run. */
  readonly publishMsgsPerSecond: number | null
  readonly consumeMsgsPerSecond: number | null
  /** Every round's sequential samples together; null when the part did not run. */
  readonly sequential: LatencySummary | null
  readonly errors: TargetRuns['errors']
}

export interface Ratio {
  readonly measure: string
  readonly railgun: string
  readonly versus: string
  /** railgun / versus for throughput, railgun / versus for latency too (lower is better there). */
  readonly ratio: number
  readonly target: string
}

export function summarize(runs: TargetRuns): TargetSummary {
  const samples = runs.sequential.flatMap((figures) => figures.samplesMs)
  return {
    label: runs.label,
    system: runs.system,
    replicas: runs.replicas,
    durability: runs.durability,
    publishMsgsPerSecond: runs.publish.length > 0 ? median(runs.publish.map((p) => p.msgsPerSecond)) : null,
    consumeMsgsPerSecond: runs.consume.length > 0 ? median(runs.consume.map((c) => c.msgsPerSecond)) : null,
    sequential: samples.length > 0 ? summarizeLatencies(samples) : null,
    errors: runs.errors,
  }
}

/** Railgun against each JetStream variant of the same replica count; targets from issue #5. */
export function ratios(summaries: readonly TargetSummary[]): Ratio[] {
  const out: Ratio[] = []
  for (const railgun of summaries.filter((s) => s.system === 'railgun')) {
    for (const other of summaries.filter((s) => s.system === 'jetstream' && s.replicas === railgun.replicas)) {
      const add = (measure: string, ours: number | null | undefined, theirs: number | null | undefined, target: string): void => {
        if (ours !== null && ours !== undefined && theirs !== null && theirs !== undefined && theirs > 0) out.push({ measure, railgun: railgun.label, versus: other.label, ratio: ours / theirs, target })
      }
      const single = railgun.replicas === 1
      add('publish msgs/s', railgun.publishMsgsPerSecond, other.publishMsgsPerSecond, '>= 1.0x')
      add('consume+ack msgs/s', railgun.consumeMsgsPerSecond, other.consumeMsgsPerSecond, single ? '>= 1.0x' : '(none)')
      add('sequential p50', railgun.sequential?.p50Ms, other.sequential?.p50Ms, single ? '<= 2.0x' : '(none)')
      add('sequential p99', railgun.sequential?.p99Ms, other.sequential?.p99Ms, '(none)')
    }
  }
  return out
}

const fmt = (n: number | null, digits = 0): string => (n === null ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }))

/** The table of one setup, then why any cell is empty. */
export function formatTable(summaries: readonly TargetSummary[]): string {
  const header = `${'target'.padEnd(28)}  ${'publish/s'.padStart(10)}  ${'consume+ack/s'.padStart(13)}  ${'seq p50 ms'.padStart(10)}  ${'seq p99 ms'.padStart(10)}`
  const lines = [header]
  for (const s of summaries) {
    lines.push(`${s.label.padEnd(28)}  ${fmt(s.publishMsgsPerSecond).padStart(10)}  ${fmt(s.consumeMsgsPerSecond).padStart(13)}  ${fmt(s.sequential?.p50Ms ?? null, 3).padStart(10)}  ${fmt(s.sequential?.p99Ms ?? null, 3).padStart(10)}`)
  }
  for (const s of summaries) {
    lines.push(`  ${s.label}: ${s.durability}`)
    for (const [part, error] of Object.entries(s.errors)) lines.push(`    ${part} not measured: ${error}`)
  }
  return lines.join('\n')
}

export function formatRatios(list: readonly Ratio[]): string {
  if (list.length === 0) return '  (no pair of railgun and jetstream figures to compare)'
  return list.map((r) => `  ${r.measure.padEnd(20)} ${r.railgun} / ${r.versus}: ${r.ratio.toFixed(2)}x  (target ${r.target})`).join('\n')
}
