// The reconnect policy: the pure backoff function (table + properties against a reference) and
// the reconnect loop in virtual time (rxjs TestScheduler marbles).
import t from 'tap'
import fc from 'fast-check'
import { catchError, map, of, type Observable } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import {
  backoffDelayMs,
  reconnectLoop$,
  ReconnectExhaustedError,
  type ReconnectEvent,
  type ReconnectPolicy,
} from '../../client/reconnect.js'

const policy: ReconnectPolicy = { enabled: true, delayMsMin: 10, delayMsMax: 40, attemptsMax: 4 }

t.test('backoff: doubling ceiling, equal jitter, clamped to [min, max]', async (t) => {
  const low = [1, 2, 3, 4, 5, 6].map((n) => backoffDelayMs(n, policy, () => 0))
  const high = [1, 2, 3, 4, 5, 6].map((n) => backoffDelayMs(n, policy, () => 0.999999))
  t.same(low, [10, 10, 20, 20, 20, 20], 'random 0: half the ceiling, never below min')
  t.same(high, [10, 20, 40, 40, 40, 40], 'random → 1: the ceiling, capped at max')
  t.throws(() => backoffDelayMs(0, policy, () => 0), RangeError)
  t.equal(backoffDelayMs(10_000, policy, () => 0.5), 30, 'huge attempt counts do not overflow')
})

t.test('backoff property: within [min, max] and within [ceiling/2, ceiling] (reference)', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 10_000 }),
      fc.integer({ min: 0, max: 100_000 }),
      fc.integer({ min: 1, max: 200 }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      (delayMsMin, spread, attempt, r) => {
        const p: ReconnectPolicy = { enabled: true, delayMsMin, delayMsMax: delayMsMin + spread, attemptsMax: Infinity }
        const delay = backoffDelayMs(attempt, p, () => r)
        let ceiling = delayMsMin
        for (let i = 1; i < attempt && ceiling < p.delayMsMax; i++) ceiling *= 2
        ceiling = Math.min(ceiling, p.delayMsMax)
        return (
          delay >= delayMsMin &&
          delay <= p.delayMsMax &&
          delay >= Math.max(delayMsMin, Math.floor(ceiling / 2)) &&
          delay <= Math.ceil(ceiling)
        )
      },
    ),
  )
  t.pass('property held')
})

function label(events: Observable<ReconnectEvent<string>>): Observable<string> {
  return events.pipe(
    map((e) => (e.type === 'reconnecting' ? `r${e.attempt}:${e.delayMs}` : `ok${e.attempt}:${e.value}`)),
    catchError((error: unknown) => of(error instanceof ReconnectExhaustedError ? `gave-up:${error.attempts}` : 'other')),
  )
}

t.test('reconnect loop: waits, retries, succeeds (marbles)', async (t) => {
  const scheduler = new TestScheduler((actual, expected) => t.same(actual, expected))
  scheduler.run(({ cold, expectObservable }) => {
    const attemptOnce = (attempt: number) =>
      attempt < 3 ? cold<string>('5ms #', undefined, new Error('refused')) : cold('5ms (x|)', { x: 'conn' })
    // r1 at 0, wait 10, attempt fails at 15; r2 at 15, wait 10, fails at 30; r3 at 30, wait 20,
    // succeeds at 55.
    expectObservable(label(reconnectLoop$(policy, () => 0, attemptOnce))).toBe('a 14ms b 14ms c 24ms (d|)', {
      a: 'r1:10',
      b: 'r2:10',
      c: 'r3:20',
      d: 'ok3:conn',
    })
  })
})

t.test('reconnect loop: gives up after attemptsMax with the last failure as cause', async (t) => {
  const scheduler = new TestScheduler((actual, expected) => t.same(actual, expected))
  scheduler.run(({ cold, expectObservable }) => {
    const attemptOnce = () => cold<string>('5ms #', undefined, new Error('refused'))
    const twice: ReconnectPolicy = { ...policy, attemptsMax: 2 }
    expectObservable(label(reconnectLoop$(twice, () => 0, attemptOnce))).toBe('a 14ms b 14ms (c|)', {
      a: 'r1:10',
      b: 'r2:10',
      c: 'gave-up:2',
    })
  })
})

t.test('reconnect loop: unsubscribing cancels the wait and the attempt', async (t) => {
  const scheduler = new TestScheduler((actual, expected) => t.same(actual, expected))
  scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
    const early = cold('5ms (x|)', { x: 'conn' })
    expectObservable(label(reconnectLoop$(policy, () => 0, () => early)), '^ 7ms !').toBe('a', { a: 'r1:10' })
    expectSubscriptions(early.subscriptions).toBe([])
    // Unsubscribed mid-attempt (attempt starts at 10, would succeed at 15): attempt torn down at 12.
    const midway = cold('5ms (x|)', { x: 'conn' })
    expectObservable(label(reconnectLoop$(policy, () => 0, () => midway)), '^ 11ms !').toBe('a', { a: 'r1:10' })
    expectSubscriptions(midway.subscriptions).toBe('10ms ^ 1ms !')
  })
})
