// Time is injected (TigerBeetle, FoundationDB style): pure modules take a `Clock`, drivers pass
// the system clock, tests and the simulator pass a manual one they advance themselves.

export interface Clock {
  /** Milliseconds on a monotonic scale (never goes back); only differences are meaningful. */
  nowMs(): number
}

/** The process clock: `performance.now()` is monotonic, unlike `Date.now()`. */
export const systemClock: Clock = {
  nowMs: () => performance.now(),
}

export interface ManualClock extends Clock {
  /** Move time forward; a negative step is a bug in the caller. */
  advance(stepMs: number): void
  set(nowMs: number): void
}

export function createManualClock(startMs = 0): ManualClock {
  let currentMs = startMs
  return {
    nowMs: () => currentMs,
    advance(stepMs: number): void {
      if (!(stepMs >= 0)) throw new Error(`manual clock: step must be >= 0, got ${stepMs}`)
      currentMs += stepMs
    },
    set(nowMs: number): void {
      if (!(nowMs >= currentMs)) throw new Error(`manual clock: time cannot go back (${currentMs} → ${nowMs})`)
      currentMs = nowMs
    },
  }
}
