// Router per-stream traffic: a publish counts for its subject's first token (the ES stream,
// shared/subject/stream.ts), with its bytes and the deliveries made; the map is bounded.
import t from 'tap'
import { configWith } from '../../shared/config/index.js'
import { systemClock } from '../../shared/clock.js'
import { createSilentLogger } from '../../shared/log.js'
import { Router, overflowStreamKey, streamTrafficEntriesMax } from '../../server/router.js'

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)

t.test('publishes and deliveries are counted per stream', async (t) => {
  const router = new Router(configWith({}), systemClock, createSilentLogger())
  const received: string[] = []
  router.subscribeLocal('orders.>', (message) => received.push(message.subject))
  router.subscribeLocal('orders.eu.*', (message) => received.push(message.subject))
  router.publishLocal('orders.eu.created', undefined, undefined, bytes('12345'))
  router.publishLocal('orders.us.created', undefined, bytes('NATS/1.0\r\n\r\n'), bytes('abc'))
  router.publishLocal('orders', undefined, undefined, bytes(''))
  router.publishLocal('payments.x', undefined, undefined, bytes('zz'))
  t.same(received, ['orders.eu.created', 'orders.eu.created', 'orders.us.created'])
  t.same(router.streamTraffic.get('default/orders'), { stream: 'default/orders', published: 3, publishedBytes: 5 + 12 + 3, delivered: 3 })
  t.same(router.streamTraffic.get('default/payments'), { stream: 'default/payments', published: 1, publishedBytes: 2, delivered: 0 })
  t.equal(router.counters.inMsgs, 0, "node-wide input counters count what clients sent, not the node's own publications")
})

t.test('streams beyond the limit are counted together', async (t) => {
  const router = new Router(configWith({}), systemClock, createSilentLogger())
  for (let index = 0; index < streamTrafficEntriesMax + 10; index += 1) router.publishLocal(`s${index}.topic`, undefined, undefined, bytes('x'))
  t.equal(router.streamTraffic.size, streamTrafficEntriesMax + 1, 'the tracked streams plus the overflow entry')
  t.equal(router.streamTraffic.get(overflowStreamKey)?.published, 10)
  t.equal(router.streamTraffic.get('default/s0')?.published, 1)
})
