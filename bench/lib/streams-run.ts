// The rounds of the persistent-stream benchmark over a set of running targets: a discarded
// warm-up each, then `runs` rounds alternating between them (order flipped every round, so drift
// in a loaded machine lands on every side). One round on one target: a fresh stream filled with
// `events` publishes, `window` in flight; a fresh group (or durable consumer) that receives and
// acks all of them; a second fresh stream for `sequential` one-at-a-time publishes. A part that
// fails is recorded with its reason and not tried again on that target (a feature not there yet
// must not cost a stall timeout every round).
import type { ConsumeFigures, SequentialPublishFigures, WindowedPublishFigures } from './streams-measures.js'
import { measureSequentialPublish, measureWindowedPublish } from './streams-measures.js'
import type { StreamTarget } from './streams-target.js'

export interface RoundPlan {
  readonly events: number
  readonly window: number
  readonly sequential: number
  readonly sequentialWarmUp: number
  readonly payloadBytes: number
  readonly runs: number
  /** Events in each target's warm-up stream (published and consumed, not reported). */
  readonly warmUpEvents: number
  readonly consume: boolean
  /** Whether the windowed publish (and so the consume) part runs (default true; `--parts`, e.g. to profile one load). */
  readonly publishPart?: boolean
  /** Whether the sequential part runs (default true). */
  readonly sequentialPart?: boolean
}

export type Part = 'publish' | 'consume' | 'sequential'

/**
 * When a part ran, on the monotonic clock in µs (`process.hrtime`: the same clock V8's CPU
 * profiles stamp their samples with, so a server's `--cpu-prof` can be cut by part).
 */
export interface PhaseSpan {
  readonly tag: string
  readonly part: Part
  readonly startUs: number
  readonly endUs: number
}

const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n)

export interface TargetRuns {
  readonly label: string
  readonly system: StreamTarget['system']
  readonly replicas: number
  readonly durability: string
  readonly publish: WindowedPublishFigures[]
  readonly consume: ConsumeFigures[]
  readonly sequential: SequentialPublishFigures[]
  /** Why a part has no (or fewer) figures: the first failure of that part. */
  readonly errors: Partial<Record<Part, string>>
  readonly phases: PhaseSpan[]
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error))

async function round(target: StreamTarget, runs: TargetRuns, plan: RoundPlan, tag: string, record: boolean, log: (line: string) => void): Promise<void> {
  const payload = new Uint8Array(plan.payloadBytes).fill(120)
  const events = record ? plan.events : plan.warmUpEvents
  const errors = runs.errors
  if (errors.publish === undefined && plan.publishPart !== false) {
    try {
      const stream = await target.createStream(`bench-w-${tag}`, payload)
      try {
        let startUs = monotonicUs()
        const published = await measureWindowedPublish(stream.publish, { count: events, window: plan.window })
        runs.phases.push({ tag, part: 'publish', startUs, endUs: monotonicUs() })
        if (published.failed > 0) throw new Error(`${published.failed} of ${events} publishes failed: ${published.firstError ?? ''}`)
        if (record) runs.publish.push(published)
        log(`  ${target.label} ${tag}: publish ${events} × ${plan.payloadBytes} B, ${plan.window} in flight: ${published.msgsPerSecond.toFixed(0)} msgs/s`)
        if (plan.consume && errors.consume === undefined) {
          try {
            startUs = monotonicUs()
            const consumed = await stream.consume({ count: events, window: plan.window })
            runs.phases.push({ tag, part: 'consume', startUs, endUs: monotonicUs() })
            if (record) runs.consume.push(consumed)
            log(`  ${target.label} ${tag}: consume+ack ${consumed.acked}: ${consumed.msgsPerSecond.toFixed(0)} msgs/s (${consumed.redeliveries} redeliveries)`)
          } catch (error) {
            errors.consume = message(error)
            log(`  ${target.label} ${tag}: consume+ack failed: ${errors.consume}`)
          }
        }
      } finally {
        await stream.remove()
      }
    } catch (error) {
      errors.publish = message(error)
      log(`  ${target.label} ${tag}: publish failed: ${errors.publish}`)
    }
  }
  if (errors.sequential === undefined && plan.sequentialPart !== false) {
    try {
      const stream = await target.createStream(`bench-s-${tag}`, payload)
      try {
        const count = record ? plan.sequential : Math.min(plan.sequential, plan.sequentialWarmUp)
        const startUs = monotonicUs()
        const sequential = await measureSequentialPublish(stream.publish, { count, warmUp: plan.sequentialWarmUp })
        runs.phases.push({ tag, part: 'sequential', startUs, endUs: monotonicUs() })
        if (sequential.failed > 0) throw new Error(`${sequential.failed} of ${count} sequential publishes failed: ${sequential.firstError ?? ''}`)
        if (record) runs.sequential.push(sequential)
      } finally {
        await stream.remove()
      }
    } catch (error) {
      errors.sequential = message(error)
      log(`  ${target.label} ${tag}: sequential publish failed: ${errors.sequential}`)
    }
  }
}

/** Warm-up, then `plan.runs` alternating rounds over `targets`; figures per target. */
export async function runRounds(targets: readonly StreamTarget[], plan: RoundPlan, log: (line: string) => void): Promise<TargetRuns[]> {
  const results: TargetRuns[] = targets.map((target) => ({ label: target.label, system: target.system, replicas: target.replicas, durability: target.durability, publish: [], consume: [], sequential: [], errors: {}, phases: [] }))
  for (const [i, target] of targets.entries()) await round(target, results[i] as TargetRuns, plan, 'warm', false, log)
  for (let r = 1; r <= plan.runs; r++) {
    const order = targets.map((_, i) => i)
    if (r % 2 === 0) order.reverse()
    for (const i of order) await round(targets[i] as StreamTarget, results[i] as TargetRuns, plan, `r${r}`, true, log)
  }
  return results
}
