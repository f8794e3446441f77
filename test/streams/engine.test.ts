// StreamEngine on its own (memory storage): acks carry increasing positions and a dedup verdict;
// several restarts chain their close decisions (incarnations 1 → 2 → 3 → 4), each new life takes
// publishes and every stored event survives; deliveries are recorded once (no repeat after a
// restart); a failed storage write answers every pending and later publish RG_ERR_STORAGE_IO;
// a replica set of several nodes without a send function is refused.
import t from 'tap'
import { EventStore, eventStoreKeySpaces } from '../../data-plane/persistent/index.js'
import { engineKeySpace, StreamEngine } from '../../data-plane/persistent/engine/index.js'
import type { EnginePublish } from '../../data-plane/persistent/engine/index.js'
import { createMemoryLocation, openMemoryStorage } from '../../shared/storage/index.js'
import type { MemoryLocation } from '../../shared/storage/index.js'
import { until } from './helpers.js'

const keySpaces = [...eventStoreKeySpaces, engineKeySpace]

// The engine's tick timer is unref'd (a node has sockets that keep it alive); here nothing else
// would, while a restarted life waits for its clock to pass the persisted ceiling.
const keepAlive = setInterval(() => undefined, 1_000)
t.teardown(() => clearInterval(keepAlive))
const stream = 'default/engine'

function request(text: string, id?: string): EnginePublish {
  return { ...(id === undefined ? {} : { id }), headers: [], payload: new TextEncoder().encode(text), ackLevel: 'write' }
}

async function openEngine(location: MemoryLocation) {
  const storage = await openMemoryStorage(location, { keySpaces })
  const store = await EventStore.open(storage)
  const engine = await StreamEngine.open({ store, storage, stream, node: 'n1', replicas: ['n1'], dedupWindowMs: 60_000, timing: { clockCeilingLeaseMs: 200 } })
  return {
    engine,
    store,
    close: async () => {
      engine.stop()
      await store.close()
      await storage.close()
    },
  }
}

t.test('restarts chain their closes; every life publishes; nothing is lost', { timeout: 60_000 }, async (t) => {
  const location = createMemoryLocation()
  let total = 0
  let lastPosition = ''
  for (let life = 1; life <= 4; life += 1) {
    const opened = await openEngine(location)
    t.equal(opened.engine.incarnation, life, `life ${life}: incarnation ${life}`)
    for (let i = 0; i < 5; i += 1) {
      const ack = await opened.engine.publish(request(`life${life}-${i}`, `id-${life}-${i}`))
      if (!ack.ok) throw ack.error
      t.equal(ack.position.incarnation, life)
      t.equal(ack.position.originSeq, i + 1, 'each incarnation starts its sequence at 1')
      total += 1
    }
    const again = await opened.engine.publish(request('retry', `id-1-0`))
    t.equal(again.ok && again.duplicate, true, 'an id from the first life is still a duplicate')
    total += 1
    const stored: string[] = []
    for await (const event of opened.store.events(stream)) stored.push(new TextDecoder().decode(event.payload))
    t.equal(stored.length, total, `life ${life}: every event stored`)
    await until(`life ${life}: deliveries recorded`, () => opened.engine.deliveredCount === life * 5)
    const fetched = await opened.engine.fetch(0, 1000)
    t.same(fetched.map((d) => d.index), Array.from({ length: life * 5 }, (_, i) => i), 'delivery indexes contiguous, none repeated')
    const position = fetched.at(-1)?.event
    t.ok(position !== undefined)
    const key = `${position!.hlc.wallMs}.${String(position!.hlc.logical).padStart(6, '0')}`
    t.ok(key > lastPosition, 'the newest delivered event is after the previous life’s')
    lastPosition = key
    await opened.close()
  }
})

t.test('a failed write answers RG_ERR_STORAGE_IO, now and later', { timeout: 30_000 }, async (t) => {
  const location = createMemoryLocation()
  const opened = await openEngine(location)
  t.teardown(() => opened.close().catch(() => undefined))
  const ok = await opened.engine.publish(request('fine'))
  t.equal(ok.ok, true)
  location.failWith = new Error('disk on fire')
  const failed = await opened.engine.publish(request('lost'))
  t.equal(failed.ok, false)
  t.equal(!failed.ok && failed.error.code, 'RG_ERR_STORAGE_IO')
  location.failWith = undefined
  const later = await opened.engine.publish(request('after'))
  t.equal(!later.ok && later.error.code, 'RG_ERR_STORAGE_IO', 'the engine stays stopped')
})

t.test('only a replica set of this node alone is driven', async (t) => {
  const storage = await openMemoryStorage(createMemoryLocation(), { keySpaces })
  const store = await EventStore.open(storage)
  t.teardown(async () => {
    await store.close()
    await storage.close()
  })
  await t.rejects(StreamEngine.open({ store, storage, stream, node: 'n1', replicas: ['n1', 'n2'], dedupWindowMs: 0 }), { code: 'RG_ERR_INVALID_STATE' })
})

t.test('a stopped engine answers RG_ERR_NOT_READY', async (t) => {
  const opened = await openEngine(createMemoryLocation())
  t.teardown(() => opened.close())
  t.equal((await opened.engine.publish(request('before'))).ok, true)
  opened.engine.stop()
  const after = await opened.engine.publish(request('after'))
  t.equal(!after.ok && after.error.code, 'RG_ERR_NOT_READY')
})
