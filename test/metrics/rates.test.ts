// RateWindow: per-second rates of monotonic counters between two samples.
import t from 'tap'
import { RateWindow } from '../../server/metrics/index.js'

t.test('rates are the difference over the elapsed time', async (t) => {
  const window = new RateWindow()
  window.sample(1_000, [['a', 10]])
  t.equal(window.rate('a'), 0, 'first sight: no rate yet')
  window.sample(3_000, [['a', 30], ['b', 5]])
  t.equal(window.rate('a'), 10, '20 over 2 s')
  t.equal(window.rate('b'), 0, 'new key')
  window.sample(4_000, [['a', 5], ['b', 9]])
  t.equal(window.rate('a'), 0, 'a counter that went back restarts')
  t.equal(window.rate('b'), 4)
  t.equal(window.rate('unknown'), 0)
  window.sample(4_000, [['b', 100]])
  t.equal(window.rate('b'), 4, 'a sample at the same instant is ignored')
})
