// Reconnect delays: exponential growth, capped, with jitter so that a cluster restarting at
// once does not re-dial in lock step. Pure: randomness is passed in.

export interface BackoffPolicy {
  /** Delay before the first retry (attempt 0), before jitter. */
  readonly initialDelayMs: number
  /** Cap on the un-jittered delay. */
  readonly maxDelayMs: number
  /** Growth factor per attempt (2 = doubling). */
  readonly multiplier: number
  /** Fraction of the delay that is random: 0 = none, 1 = "full jitter". */
  readonly jitterRatio: number
}

export const defaultBackoffPolicy: BackoffPolicy = {
  initialDelayMs: 50,
  maxDelayMs: 5_000,
  multiplier: 2,
  jitterRatio: 0.5,
}

/** Uniform in [0, 1), injected (Math.random in production, seeded in tests). */
export type UnitRandom = () => number

/**
 * Delay before retry number `attempt` (0-based): `base = min(max, initial * multiplier^attempt)`,
 * then `base * (1 - jitterRatio) + base * jitterRatio * random()`; so always within
 * [base * (1 - jitterRatio), base].
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: UnitRandom): number {
  if (!Number.isInteger(attempt) || attempt < 0) throw new RangeError(`attempt must be a non-negative integer, got ${attempt}`)
  const growth = Math.pow(policy.multiplier, Math.min(attempt, 64))
  const baseMs = Math.min(policy.maxDelayMs, policy.initialDelayMs * growth)
  const unit = random()
  const clamped = unit >= 0 && unit < 1 ? unit : 0
  return baseMs * (1 - policy.jitterRatio) + baseMs * policy.jitterRatio * clamped
}

export function checkBackoffPolicy(policy: BackoffPolicy): void {
  if (!(policy.initialDelayMs >= 0)) throw new RangeError(`initialDelayMs must be >= 0, got ${policy.initialDelayMs}`)
  if (!(policy.maxDelayMs >= policy.initialDelayMs)) throw new RangeError(`maxDelayMs must be >= initialDelayMs`)
  if (!(policy.multiplier >= 1)) throw new RangeError(`multiplier must be >= 1, got ${policy.multiplier}`)
  if (!(policy.jitterRatio >= 0 && policy.jitterRatio <= 1)) throw new RangeError(`jitterRatio must be in [0, 1]`)
}
