// The persistent-stream measures, independent of the server under test: publish throughput with
// a fixed window of outstanding acknowledged publishes, and sequential publish latency. The
// caller hands in one publish as a function that resolves when the durable ack arrives, so
// Railgun and JetStream are driven by the very same loop. Figures are reported, never asserted.

export interface WindowedPublishFigures {
  readonly count: number
  readonly window: number
  readonly acked: number
  readonly failed: number
  readonly elapsedMs: number
  /** Acknowledged publishes per second, from the first publish to the last ack. */
  readonly msgsPerSecond: number
  readonly firstError?: string
}

export interface SequentialPublishFigures {
  /** Latency of each acknowledged publish, in order. */
  readonly samplesMs: readonly number[]
  readonly failed: number
  readonly firstError?: string
}

/** One acknowledged publish: resolves once the server says it holds it, rejects on a refusal. */
export type AckedPublish = (sequence: number) => Promise<void>

/**
 * `count` publishes with exactly `window` outstanding while enough remain: `window` loops each
 * take the next sequence number and wait for its ack before taking another (a closed loop, so
 * a slow server gets fewer requests, never a growing queue).
 */
export async function measureWindowedPublish(publish: AckedPublish, options: { readonly count: number; readonly window: number }): Promise<WindowedPublishFigures> {
  let next = 0
  let acked = 0
  let failed = 0
  let firstError: string | undefined
  const started = performance.now()
  const loops = Array.from({ length: Math.min(options.window, options.count) }, async () => {
    while (next < options.count) {
      const sequence = next
      next += 1
      try {
        await publish(sequence)
        acked += 1
      } catch (error) {
        failed += 1
        firstError ??= error instanceof Error ? error.message : String(error)
      }
    }
  })
  await Promise.all(loops)
  const elapsedMs = performance.now() - started
  return { count: options.count, window: options.window, acked, failed, elapsedMs, msgsPerSecond: (acked * 1000) / elapsedMs, ...(firstError === undefined ? {} : { firstError }) }
}

/** `warmUp` untimed publishes, then `count` one at a time: the latency of each ack (ms), failures counted apart. */
export async function measureSequentialPublish(publish: AckedPublish, options: { readonly count: number; readonly warmUp: number }): Promise<SequentialPublishFigures> {
  for (let sequence = 0; sequence < options.warmUp; sequence++) await publish(-1 - sequence).catch(() => undefined)
  const samplesMs: number[] = []
  let failed = 0
  let firstError: string | undefined
  for (let sequence = 0; sequence < options.count; sequence++) {
    const started = performance.now()
    try {
      await publish(sequence)
      samplesMs.push(performance.now() - started)
    } catch (error) {
      failed += 1
      firstError ??= error instanceof Error ? error.message : String(error)
    }
  }
  return { samplesMs, failed, ...(firstError === undefined ? {} : { firstError }) }
}

export interface ConsumeFigures {
  /** Distinct messages acknowledged. */
  readonly acked: number
  /** Deliveries beyond the first of a message (redeliveries seen). */
  readonly redeliveries: number
  readonly elapsedMs: number
  /** Acknowledged messages per second, from the subscription to the last ack confirmed. */
  readonly msgsPerSecond: number
}

/** The figures of a consume run that acknowledged `acked` messages in `elapsedMs`. */
export function consumeFigures(acked: number, redeliveries: number, elapsedMs: number): ConsumeFigures {
  return { acked, redeliveries, elapsedMs, msgsPerSecond: (acked * 1000) / elapsedMs }
}
