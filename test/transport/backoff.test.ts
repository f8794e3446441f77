import t from 'tap'
import fc from 'fast-check'
import { backoffDelayMs, checkBackoffPolicy, defaultBackoffPolicy } from '../../shared/transport/backoff.js'
import type { BackoffPolicy } from '../../shared/transport/backoff.js'

const policy: BackoffPolicy = { initialDelayMs: 100, maxDelayMs: 3_000, multiplier: 2, jitterRatio: 0.5 }

t.test('without randomness the delay doubles up to the cap', async (t) => {
  const noJitter = (): number => 0.999999
  const delays = [0, 1, 2, 3, 4, 5, 6, 40].map((attempt) => Math.round(backoffDelayMs(attempt, policy, noJitter)))
  t.same(delays, [100, 200, 400, 800, 1600, 3000, 3000, 3000])
  t.equal(backoffDelayMs(0, policy, () => 0), 50, 'the lowest jitter is half the base')
})

t.test('property: delay within [base * (1 - jitter), base] and never above the cap', async () => {
  fc.assert(
    fc.property(fc.nat({ max: 2000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, unit) => {
      const delayMs = backoffDelayMs(attempt, policy, () => unit)
      const baseMs = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(attempt, 64))
      return delayMs >= baseMs * 0.5 - 1e-9 && delayMs <= baseMs + 1e-9 && delayMs <= policy.maxDelayMs
    }),
  )
})

t.test('a bad random value or attempt does not produce a bad delay', async (t) => {
  t.equal(backoffDelayMs(0, policy, () => Number.NaN), 50)
  t.equal(backoffDelayMs(0, policy, () => 7), 50)
  t.throws(() => backoffDelayMs(-1, policy, () => 0), RangeError)
})

t.test('policies are validated', async (t) => {
  t.doesNotThrow(() => checkBackoffPolicy(defaultBackoffPolicy))
  t.throws(() => checkBackoffPolicy({ ...policy, maxDelayMs: 10 }), RangeError)
  t.throws(() => checkBackoffPolicy({ ...policy, jitterRatio: 2 }), RangeError)
  t.throws(() => checkBackoffPolicy({ ...policy, multiplier: 0.5 }), RangeError)
})
