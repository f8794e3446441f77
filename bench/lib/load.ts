// Closed-loop load: run an async operation N times, one at a time or from several workers at
// once, and report throughput and per-operation latency. Failed operations are counted, not
// timed. Figures are reported, never asserted.
import { summarizeLatencies } from './stats.js'
import type { LatencySummary } from './stats.js'

export interface LoadFigures extends LatencySummary {
  readonly label: string
  readonly workers: number
  readonly failed: number
  readonly elapsedMs: number
  readonly opsPerSecond: number
  /** The first failure's message, if any (why a row has failures). */
  readonly firstError?: string
}

/** One operation: `worker` is 0..workers-1, `sequence` counts that worker's calls from 0. */
export type LoadOperation = (worker: number, sequence: number) => Promise<unknown>

/**
 * `workers` loops each run `operation` `opsPerWorker` times, back to back (`workers` = 1 is the
 * sequential case). `warmUpPerWorker` calls first, untimed.
 */
export async function runLoad(label: string, operation: LoadOperation, options: { readonly workers: number; readonly opsPerWorker: number; readonly warmUpPerWorker?: number }): Promise<LoadFigures> {
  const warmUp = options.warmUpPerWorker ?? 0
  await Promise.all(
    Array.from({ length: options.workers }, async (_, worker) => {
      for (let sequence = 0; sequence < warmUp; sequence += 1) await operation(worker, -1 - sequence).catch(() => undefined)
    }),
  )
  const latencies: number[] = []
  let failed = 0
  let firstError: string | undefined
  const started = performance.now()
  await Promise.all(
    Array.from({ length: options.workers }, async (_, worker) => {
      for (let sequence = 0; sequence < options.opsPerWorker; sequence += 1) {
        const callMs = performance.now()
        try {
          await operation(worker, sequence)
          latencies.push(performance.now() - callMs)
        } catch (error) {
          failed += 1
          firstError ??= error instanceof Error ? error.message : String(error)
        }
      }
    }),
  )
  const elapsedMs = performance.now() - started
  return {
    label,
    workers: options.workers,
    ...summarizeLatencies(latencies),
    failed,
    elapsedMs,
    opsPerSecond: (latencies.length * 1000) / elapsedMs,
    ...(firstError === undefined ? {} : { firstError }),
  }
}
