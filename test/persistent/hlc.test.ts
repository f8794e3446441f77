// Hybrid logical clock: monotonic, above what it received, bounded by the skew check, and an
// order-preserving 8-byte encoding.
import fc from 'fast-check'
import t from 'tap'
import { ClockSkewError, HybridLogicalClock, compareBytes, compareHlc, decodeHlc, encodeHlc, hlcNow, hlcReceive, hlcZero } from '../../data-plane/persistent/index.js'
import type { Hlc } from '../../data-plane/persistent/index.js'
import { hlcLogicalMax } from '../../data-plane/persistent/limits.js'
import { hlcArb } from './helpers.js'

t.test('now follows physical time and never goes back', async (t) => {
  const clock = new HybridLogicalClock()
  t.same(clock.now(1000), { wallMs: 1000, logical: 0 })
  t.same(clock.now(1000), { wallMs: 1000, logical: 1 })
  t.same(clock.now(990), { wallMs: 1000, logical: 2 }, 'physical clock went back: logical moves on')
  t.same(clock.now(1001.7), { wallMs: 1001, logical: 0 }, 'fractional physical time is floored')
  t.throws(() => clock.now(Number.NaN), RangeError)
  t.throws(() => clock.now(-1), RangeError)
})

t.test('logical overflow moves wallMs on by one millisecond', async (t) => {
  t.same(hlcNow({ wallMs: 5, logical: hlcLogicalMax }, 5), { wallMs: 6, logical: 0 })
  const received = hlcReceive({ wallMs: 5, logical: 1 }, { wallMs: 5, logical: hlcLogicalMax }, 5)
  t.same(received.ok && received.value, { wallMs: 6, logical: 0 })
})

t.test('receive: a remote clock too far ahead is refused and leaves the clock unchanged', async (t) => {
  const clock = new HybridLogicalClock({ maxSkewMs: 100 })
  clock.now(1000)
  const refused = clock.receive({ wallMs: 1101, logical: 0 }, 1000)
  t.equal(refused.ok, false)
  if (!refused.ok) {
    t.ok(refused.error instanceof ClockSkewError)
    t.equal(refused.error.code, 'RG_ERR_CLOCK_SKEW')
    t.match(refused.error.message, /101 ms ahead/)
  }
  t.same(clock.last, { wallMs: 1000, logical: 0 })
  const accepted = clock.receive({ wallMs: 1100, logical: 7 }, 1000)
  t.same(accepted.ok && accepted.value, { wallMs: 1100, logical: 8 }, 'exactly maxSkewMs ahead is accepted')
  t.same(clock.now(1000), { wallMs: 1100, logical: 9 })
})

t.test('property: every timestamp is above the previous one and above what was received', async () => {
  const stepArb = fc.record({ remote: fc.option(hlcArb.map((h) => ({ wallMs: h.wallMs % 5000, logical: h.logical % 10 }))), physicalMs: fc.integer({ min: 0, max: 5000 }) })
  fc.assert(
    fc.property(fc.array(stepArb, { maxLength: 60, size: 'max' }), fc.integer({ min: 0, max: 1000 }), (steps, maxSkewMs) => {
      const clock = new HybridLogicalClock({ maxSkewMs })
      let previous: Hlc = hlcZero
      let first = true
      for (const step of steps) {
        if (step.remote === null) {
          const next = clock.now(step.physicalMs)
          if (!first && compareHlc(next, previous) <= 0) return false
          if (next.wallMs < step.physicalMs) return false
          previous = next
        } else {
          const result = clock.receive(step.remote, step.physicalMs)
          const tooFar = step.remote.wallMs - step.physicalMs > maxSkewMs
          if (result.ok === tooFar) return false
          if (!result.ok) {
            if (compareHlc(clock.last, previous) !== 0 && !first) return false
            continue
          }
          if (!first && compareHlc(result.value, previous) <= 0) return false
          if (compareHlc(result.value, step.remote) <= 0) return false
          previous = result.value
        }
        first = false
      }
      return true
    }),
    { numRuns: 300 },
  )
})

t.test('property: encoding round-trips and byte order is timestamp order', async () => {
  fc.assert(
    fc.property(hlcArb, hlcArb, (a, b) => {
      const ea = encodeHlc(a)
      const eb = encodeHlc(b)
      const back = decodeHlc(ea)
      return back.ok && compareHlc(back.value, a) === 0 && Math.sign(compareBytes(ea, eb)) === Math.sign(compareHlc(a, b))
    }),
    { numRuns: 2000 },
  )
})

t.test('decode refuses a short buffer; encode refuses an invalid timestamp', async (t) => {
  const short = decodeHlc(new Uint8Array(7))
  t.equal(short.ok, false)
  if (!short.ok) t.equal(short.error.code, 'RG_ERR_MALFORMED_EVENT')
  t.throws(() => encodeHlc({ wallMs: 2 ** 48, logical: 0 }), RangeError)
  t.throws(() => encodeHlc({ wallMs: 1, logical: 1.5 }), RangeError)
})
