// The router's write scheduling (server/README.md, Performance notes): deliveries queued while
// an input chunk is processed are written when the chunk ends, synchronously; deliveries queued
// outside a chunk (timers, pings) are written once at the end of the event-loop turn.
import t from 'tap'
import { configWith } from '../../shared/config/index.js'
import { systemClock } from '../../shared/clock.js'
import { createSilentLogger } from '../../shared/log.js'
import { Router } from '../../server/router.js'
import type { ClientConnection } from '../../server/client-connection.js'

/** Just what the flush scheduler touches: the queued flag, closing, and the outbound flush. */
function fakeConnection(): { connection: ClientConnection; flushes: () => number } {
  let flushes = 0
  const fake = { flushQueued: false, closing: false, outbound: { flush: () => (flushes += 1) } }
  return { connection: fake as unknown as ClientConnection, flushes: () => flushes }
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

t.test('a chunk writes what it queued when it ends, once per connection', async (t) => {
  const router = new Router(configWith({}), systemClock, createSilentLogger())
  const a = fakeConnection()
  const b = fakeConnection()
  router.beginChunk()
  router.scheduleFlush(a.connection)
  router.scheduleFlush(a.connection)
  router.scheduleFlush(b.connection)
  t.equal(a.flushes(), 0, 'nothing is written while the chunk is processed')
  router.endChunk()
  t.equal(a.flushes(), 1, 'written at the end of the chunk, once')
  t.equal(b.flushes(), 1, 'every connection the chunk queued to is written')
  t.notOk(a.connection.flushQueued)
  await nextTurn()
  t.equal(a.flushes(), 1, 'no second write at the end of the turn')
  router.stop()
})

t.test('outside a chunk, a delivery is written at the end of the turn', async (t) => {
  const router = new Router(configWith({}), systemClock, createSilentLogger())
  const a = fakeConnection()
  router.scheduleFlush(a.connection)
  router.scheduleFlush(a.connection)
  t.equal(a.flushes(), 0, 'not written synchronously')
  await nextTurn()
  t.equal(a.flushes(), 1, 'written once at the end of the turn')
  router.stop()
})

t.test('a closing connection is not written by the scheduler', async (t) => {
  const router = new Router(configWith({}), systemClock, createSilentLogger())
  const a = fakeConnection()
  router.beginChunk()
  router.scheduleFlush(a.connection)
  ;(a.connection as { closing: boolean }).closing = true
  router.endChunk()
  t.equal(a.flushes(), 0)
  router.stop()
})
