// StreamEngine restart on the event store (issue #5: "reopens in under 10 s"): the engine restores
// its replica from the store's metadata and indexes — never the history — so a restart reads no
// event of a settled stream (the dedup window comes from the delivery index, which carries ids),
// delivery resumes at the recorded count, and a producer id delivered before the restart is still
// a duplicate after it (dedup across a restart inside the window).
import t from 'tap'
import { EventStore, eventStoreKeySpaces } from '../../data-plane/persistent/index.js'
import { engineKeySpace, StreamEngine } from '../../data-plane/persistent/engine/index.js'
import { eventsKeySpace } from '../../data-plane/persistent/store/keys.js'
import { createMemoryLocation, openMemoryStorage } from '../../shared/storage/index.js'
import type { MemoryLocation } from '../../shared/storage/index.js'
import { delegateStorage } from '../storage/delegate.js'

const keySpaces = [...eventStoreKeySpaces, engineKeySpace]
const stream = 'default/restart'
const events = 3000
/** Publishes awaited together (a window, like a client's). */
const inFlight = 100
const encoder = new TextEncoder()
// The engine's tick timer is unref'd; a restarted life waits for its clock to pass the ceiling.
const keepAlive = setInterval(() => undefined, 1_000)
t.teardown(() => clearInterval(keepAlive))

async function open(location: MemoryLocation, counter: { eventReads: number }) {
  const inner = await openMemoryStorage(location, { keySpaces })
  const storage = delegateStorage(inner, {
    get: async (keySpace, key) => {
      if (keySpace === eventsKeySpace) counter.eventReads++
      return inner.get(keySpace, key)
    },
    range: (keySpace, options) => {
      const source = inner.range(keySpace, options)
      if (keySpace !== eventsKeySpace) return source
      return {
        [Symbol.asyncIterator]: async function* () {
          for await (const entry of source) {
            counter.eventReads++
            yield entry
          }
        },
      }
    },
  })
  const store = await EventStore.open(storage)
  const engine = await StreamEngine.open({ store, storage, stream, node: 'n1', replicas: ['n1'], dedupWindowMs: 60_000, timing: { clockCeilingLeaseMs: 200 } })
  return {
    engine,
    close: async () => {
      engine.stop()
      await store.close()
      await storage.close()
    },
  }
}

async function until(what: string, predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

t.test('a restart reads no event of a settled stream, resumes at its count, and still knows the window\'s ids', { timeout: 120_000 }, async (t) => {
  const location = createMemoryLocation()
  const counter = { eventReads: 0 }
  const first = await open(location, counter)
  for (let i = 0; i < events; i += inFlight) {
    const acks = await Promise.all(Array.from({ length: Math.min(inFlight, events - i) }, (_, k) => first.engine.publish({ id: `order-${i + k}`, headers: [], payload: encoder.encode(`payload ${i + k}`), ackLevel: 'write' })))
    for (const ack of acks) if (!ack.ok) throw ack.error
  }
  await until('all deliveries recorded', () => first.engine.deliveredCount === events)
  await first.close()

  counter.eventReads = 0
  const second = await open(location, counter)
  t.equal(counter.eventReads, 0, `opening read ${counter.eventReads} events of ${events} (the window's ids come from the delivery index)`)
  t.equal(second.engine.deliveredCount, events, 'the delivered count is restored')
  await until('the new life holds its slot', () => second.engine.writable)
  const retry = await second.engine.publish({ id: 'order-7', headers: [], payload: encoder.encode('retry'), ackLevel: 'write' })
  t.ok(retry.ok && retry.duplicate, 'an id delivered before the restart is a duplicate after it')
  const fresh = await second.engine.publish({ id: 'order-new', headers: [], payload: encoder.encode('new'), ackLevel: 'write' })
  t.ok(fresh.ok && !fresh.duplicate)
  await until('the new event delivered', () => second.engine.deliveredCount === events + 1)
  const fetched = await second.engine.fetch(events - 1, 10)
  t.same(fetched.map((d) => [d.index, d.event.id]), [[events - 1, `order-${events - 1}`], [events, 'order-new']], 'delivery resumes at index 3000; the retry is not delivered')
  await second.close()
})
