// The geo benchmark's load: an open loop per region — publishes go out at `--rate` per second on
// a schedule, whether or not earlier ones were acked (a closed loop would slow down with the
// system and hide its latency: coordinated omission). The schedule is kept by a timer set for the
// next publish due (at most `progressTickMs` away) that sends whatever is due, so a stalled event
// loop catches up in a burst rather than sending less. (It used to wake every 2 ms whatever the
// rate: ~500 wake-ups a second in the process that also runs every peer link's latency proxy.)
// A bounded number may be in flight per region; a publish due while the bound is full is not
// sent and is counted. Every publish is recorded (GeoRecorder) with its id before it is sent.
import type { GeoRecorder } from './geo-recorder.js'

/** One publish of event `id`: resolves on the ack, rejects on a refusal or a timeout. */
export type RegionPublish = (id: string) => Promise<void>

export const geoLoadLimits = {
  /** Publishes awaiting their ack per region at most. */
  inFlightPerRegionMax: 10_000,
  /** The pacing timer waits at most this long (the progress bar's update period). */
  progressTickMs: 100,
} as const

export interface OpenLoopOptions {
  readonly recorder: GeoRecorder
  /** One publish function per region (index as in `recorder.regions`). */
  readonly publishers: readonly RegionPublish[]
  readonly ratePerRegion: number
  readonly durationMs: number
  readonly now: () => number
  /** Called on every pacing wake-up with the elapsed time, at most `durationMs` (for the progress bar). */
  readonly onProgress?: (elapsedMs: number) => void
}

export interface OpenLoopResult {
  readonly startedMs: number
  /** When the schedule ended (no more publishes). */
  readonly sendEndedMs: number
  /** When the last publish was settled (acked or refused). */
  readonly settledMs: number
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export async function runOpenLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const { recorder, publishers, ratePerRegion, durationMs, now } = options
  const regionCount = publishers.length
  const issued = new Array<number>(regionCount).fill(0)
  const inFlight = new Array<number>(regionCount).fill(0)
  const pending = new Set<Promise<void>>()
  const total = Math.floor((ratePerRegion * durationMs) / 1000)
  const startedMs = now()
  for (;;) {
    const elapsedMs = now() - startedMs
    const dueTotal = Math.min(total, Math.floor((elapsedMs * ratePerRegion) / 1000))
    for (let r = 0; r < regionCount; r++) {
      while (issued[r]! < dueTotal) {
        issued[r] = issued[r]! + 1
        if (inFlight[r]! >= geoLoadLimits.inFlightPerRegionMax) {
          recorder.skipped(r)
          continue
        }
        const record = recorder.publish(r, now())
        inFlight[r] = inFlight[r]! + 1
        const settled = publishers[r]!(record.id).then(
          () => recorder.acked(record, now()),
          (error: unknown) => recorder.refused(record, error instanceof Error ? error.message : String(error)),
        )
        const tracked = settled.finally(() => {
          inFlight[r] = inFlight[r]! - 1
          pending.delete(tracked)
        })
        pending.add(tracked)
      }
    }
    options.onProgress?.(Math.min(elapsedMs, durationMs))
    if (dueTotal >= total) break
    const nextDueMs = startedMs + ((dueTotal + 1) * 1000) / ratePerRegion
    await sleep(Math.min(geoLoadLimits.progressTickMs, Math.max(0, nextDueMs - now())))
  }
  const sendEndedMs = now()
  while (pending.size > 0) await Promise.all([...pending])
  return { startedMs, sendEndedMs, settledMs: now() }
}
