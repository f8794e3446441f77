// The reconnect policy, pure: given an attempt number and a random source, how long to wait.
// No timers here; `reconnectLoop$` turns the policy into a scheduled Observable so virtual-time
// tests (rxjs TestScheduler) can check the schedule exactly.
import {
  catchError,
  concat,
  concatMap,
  defer,
  from,
  map,
  of,
  retry,
  take,
  throwError,
  throwIfEmpty,
  timer,
  type Observable,
  type ObservableInput,
  type SchedulerLike,
} from 'rxjs'

export interface ReconnectPolicy {
  readonly enabled: boolean
  /** Wait before the first attempt (and the floor of every wait). */
  readonly delayMsMin: number
  /** Ceiling of every wait. */
  readonly delayMsMax: number
  /** Attempts before giving up and closing; `Infinity` never gives up. */
  readonly attemptsMax: number
}

export const reconnectPolicyDefaults: ReconnectPolicy = {
  enabled: true,
  delayMsMin: 100,
  delayMsMax: 5_000,
  attemptsMax: 60,
}

/** A random source in [0, 1): `Math.random` in production, seeded in tests. */
export type RandomSource = () => number

/**
 * Exponential backoff with jitter. Attempt `n` (1-based) has a ceiling of
 * `delayMsMin * 2^(n-1)` capped at `delayMsMax`; the wait is drawn uniformly from the upper half
 * of that ceiling ("equal jitter"), then clamped to `[delayMsMin, delayMsMax]`, so clients that
 * lost the same server spread out without ever waiting less than the floor.
 */
export function backoffDelayMs(attempt: number, policy: ReconnectPolicy, random: RandomSource): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be a positive integer, got ${attempt}`)
  // Cap the exponent so 2^n never overflows to Infinity for huge attempt counts.
  const exponent = Math.min(attempt - 1, 52)
  const ceilingMs = Math.min(policy.delayMsMax, policy.delayMsMin * 2 ** exponent)
  const jitteredMs = ceilingMs / 2 + random() * (ceilingMs / 2)
  return Math.round(Math.min(policy.delayMsMax, Math.max(policy.delayMsMin, jitteredMs)))
}

/** Checks a policy; returns a reason when it is unusable. */
export function reconnectPolicyProblem(policy: ReconnectPolicy): string | undefined {
  if (!(policy.delayMsMin >= 0)) return 'reconnect.delayMsMin must be >= 0'
  if (!(policy.delayMsMax >= policy.delayMsMin)) return 'reconnect.delayMsMax must be >= delayMsMin'
  if (!(policy.attemptsMax >= 0)) return 'reconnect.attemptsMax must be >= 0'
  return undefined
}

/** What the reconnect loop reports: each attempt before its wait, then the success. */
export type ReconnectEvent<T> =
  | { readonly type: 'reconnecting'; readonly attempt: number; readonly delayMs: number }
  | { readonly type: 'reconnected'; readonly attempt: number; readonly value: T }

export class ReconnectExhaustedError extends Error {
  readonly attempts: number
  constructor(attempts: number, cause: unknown) {
    super(`gave up after ${attempts} reconnect attempts`, { cause })
    this.attempts = attempts
    this.name = 'ReconnectExhaustedError'
  }
}

/**
 * The reconnect loop as a cold Observable. For attempt n = 1, 2, …: emit `reconnecting`, wait
 * `backoffDelayMs(n)` on `scheduler`, then subscribe to `attemptOnce(n)`. The first attempt that
 * emits a value yields `reconnected` and completes; after `attemptsMax` failures it errors with
 * `ReconnectExhaustedError` (cause: the last failure). Unsubscribing cancels the wait and the
 * attempt in flight.
 */
export function reconnectLoop$<T>(
  policy: ReconnectPolicy,
  random: RandomSource,
  attemptOnce: (attempt: number) => ObservableInput<T>,
  scheduler?: SchedulerLike,
): Observable<ReconnectEvent<T>> {
  return defer(() => {
    let attempt = 0
    let lastError: unknown
    if (!(policy.attemptsMax >= 1)) return throwError(() => new ReconnectExhaustedError(0, undefined))
    const once$ = defer(() => {
      attempt += 1
      const current = attempt
      const delayMs = backoffDelayMs(current, policy, random)
      const reconnecting: ReconnectEvent<T> = { type: 'reconnecting', attempt: current, delayMs }
      return concat(
        of(reconnecting),
        timer(delayMs, scheduler).pipe(
          concatMap(() => from(attemptOnce(current)).pipe(take(1), throwIfEmpty(() => new Error('attempt ended without a value')))),
          map((value): ReconnectEvent<T> => ({ type: 'reconnected', attempt: current, value })),
        ),
      ).pipe(
        catchError((error: unknown) => {
          lastError = error
          return throwError(() => error)
        }),
      )
    })
    const retries = Number.isFinite(policy.attemptsMax) ? policy.attemptsMax - 1 : Infinity
    return once$.pipe(
      retry(retries),
      catchError(() => throwError(() => new ReconnectExhaustedError(attempt, lastError))),
    )
  })
}
