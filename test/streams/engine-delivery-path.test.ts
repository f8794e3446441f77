// StreamEngine's delivery path (data-plane/persistent/engine/stream-engine.ts, issue #5 hot path):
//  - the delivery index is written without an fsync of its own: no synced batch carries only
//    delivery records (a publish → ack cycle costs one fsync), and the records are still there
//    to read and count;
//  - a crash that loses those unsynced records (the storage's log is durable only up to its
//    last synced write) loses nothing that matters: the restarted engine records the same
//    indexes for the same events again;
//  - the bounded delivery cache answers `fetch` and `cached` exactly as the store does, across
//    the cache's lower edge, at its event and byte bounds, and below a retention head;
//  - below the cache, sequential readers are served by read-ahead windows: one store read per
//    `readAheadEventsMax` events instead of one per fetch, the same answers as the store,
//    bounded windows for interleaved and random readers, a retention head respected.
import t from 'tap'
import { EventStore, eventStoreKeySpaces } from '../../data-plane/persistent/index.js'
import { eventsKeySpace, indexKeySpace, metaKeySpace } from '../../data-plane/persistent/store/keys.js'
import { engineKeySpace, StreamEngine } from '../../data-plane/persistent/engine/index.js'
import { readAheadEventsMax } from '../../data-plane/persistent/engine/stream-engine.js'
import type { EnginePublish, StreamEngineOptions } from '../../data-plane/persistent/engine/index.js'
import { createMemoryLocation, openMemoryStorage } from '../../shared/storage/index.js'
import type { BatchOperation, KeyRange, MemoryLocation, RangeOptions, Storage, StorageEntry, WriteOptions } from '../../shared/storage/index.js'
import { until } from './helpers.js'

const keySpaces = [...eventStoreKeySpaces, engineKeySpace]
const stream = 'default/delivery-path'
// The engine's timer is unref'd; keep the test process alive while it waits.
const keepAlive = setInterval(() => undefined, 1_000)
t.teardown(() => clearInterval(keepAlive))

const publishOf = (text: string): EnginePublish => ({ headers: [], payload: new TextEncoder().encode(text), ackLevel: 'write' })

/**
 * A storage whose log is durable only up to its last synced write, like RocksDB's WAL on a
 * machine that crashes: every write is visible at once (`live`), and reaches `durable` — what a
 * restart reads — only with the next synced batch, in order. Counts batches by kind.
 */
class CrashableStorage implements Storage {
  readonly durableLocation = createMemoryLocation()
  readonly #liveLocation = createMemoryLocation()
  #live!: Storage
  #durable!: Storage
  #unsynced: Array<{ readonly operations: readonly BatchOperation[] } | { readonly keySpace: string; readonly range: KeyRange }> = []
  readonly synced: BatchOperation[][] = []
  unsyncedBatches = 0

  static async open(): Promise<CrashableStorage> {
    const storage = new CrashableStorage()
    storage.#live = await openMemoryStorage(storage.#liveLocation, { keySpaces })
    storage.#durable = await openMemoryStorage(storage.durableLocation, { keySpaces })
    return storage
  }

  get keySpaces(): readonly string[] {
    return this.#live.keySpaces
  }
  get isOpen(): boolean {
    return this.#live.isOpen
  }
  get(keySpace: string, key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.#live.get(keySpace, key)
  }
  put(keySpace: string, key: Uint8Array, value: Uint8Array, options?: WriteOptions): Promise<void> {
    return this.batch([{ type: 'put', keySpace, key, value }], options)
  }
  delete(keySpace: string, key: Uint8Array, options?: WriteOptions): Promise<void> {
    return this.batch([{ type: 'delete', keySpace, key }], options)
  }
  async batch(operations: readonly BatchOperation[], options?: WriteOptions): Promise<void> {
    await this.#live.batch(operations)
    this.#unsynced.push({ operations })
    if (options?.sync !== true) {
      this.unsyncedBatches += 1
      return
    }
    this.synced.push([...operations])
    for (const write of this.#unsynced.splice(0)) {
      if ('operations' in write) await this.#durable.batch(write.operations)
      else await this.#durable.deleteRange?.(write.keySpace, write.range)
    }
  }
  async deleteRange(keySpace: string, range: KeyRange): Promise<void> {
    await this.#live.deleteRange?.(keySpace, range)
    this.#unsynced.push({ keySpace, range })
  }
  range(keySpace: string, options?: RangeOptions): AsyncIterable<StorageEntry> {
    return this.#live.range(keySpace, options)
  }
  /** The machine stops: both handles close, the writes not synced yet are gone; `durableLocation` is what a restart finds. */
  async crash(): Promise<void> {
    this.#unsynced = []
    await this.close()
  }
  /** Writes not yet made durable by a synced one (a crash now loses them). */
  get unsyncedWrites(): number {
    return this.#unsynced.length
  }
  async close(): Promise<void> {
    await this.#live.close()
    await this.#durable.close()
  }
}

async function openEngine(storage: Storage, extra: Partial<StreamEngineOptions> = {}): Promise<{ engine: StreamEngine; store: EventStore }> {
  const store = await EventStore.open(storage)
  // No ticks (an hour): nothing but the publishes writes, so what is synced is exactly theirs.
  const engine = await StreamEngine.open({ store, storage, stream, node: 'n1', replicas: ['n1'], dedupWindowMs: 60_000, tickMs: 3_600_000, timing: { clockCeilingLeaseMs: 60_000 }, ...extra })
  return { engine, store }
}

const ids = (rows: ReadonlyArray<{ readonly index: number; readonly event: { readonly id: string } }>): string[] => rows.map((row) => `${row.index}:${row.event.id}`)

t.test('one fsync per publish cycle: no synced batch holds only delivery records', { timeout: 60_000 }, async (t) => {
  const storage = await CrashableStorage.open()
  const { engine, store } = await openEngine(storage)
  t.teardown(async () => {
    engine.stop()
    await store.close()
    await storage.close()
  })
  const syncedBefore = storage.synced.length
  for (let i = 0; i < 20; i++) {
    const ack = await engine.publish(publishOf(`e${i}`))
    if (!ack.ok) throw ack.error
  }
  await until('20 deliveries recorded', () => engine.deliveredCount === 20)
  const batches = storage.synced.slice(syncedBefore)
  const onlyIndex = batches.filter((operations) => operations.some((op) => op.keySpace === indexKeySpace) && operations.every((op) => op.keySpace === indexKeySpace || op.keySpace === metaKeySpace))
  t.same(onlyIndex.length, 0, 'no synced batch was written for delivery records alone')
  const withEvents = batches.filter((operations) => operations.some((op) => op.keySpace === eventsKeySpace))
  t.equal(withEvents.length, 20, 'one synced batch per publish')
  t.ok(
    batches.every((operations) => operations.some((op) => op.keySpace === eventsKeySpace) || operations.every((op) => op.keySpace === metaKeySpace)),
    'every other synced batch is metadata alone (the clock ceiling raised at open)',
  )
  t.ok(storage.unsyncedBatches > 0, 'delivery records were written without an fsync')
  t.same(ids(await engine.fetch(0, 100)).length, 20, 'every delivery readable by index')
  t.same((await store.readByIndex(stream, 0, 100)).length, 20, 'and from the store itself')
})

t.test('a crash that loses unsynced delivery records: the restart records the same order again', { timeout: 60_000 }, async (t) => {
  const storage = await CrashableStorage.open()
  const first = await openEngine(storage)
  for (let i = 0; i < 30; i++) {
    const ack = await first.engine.publish(publishOf(`e${i}`))
    if (!ack.ok) throw ack.error
  }
  await until('30 deliveries recorded', () => first.engine.deliveredCount === 30)
  const before = ids(await first.engine.fetch(0, 100))
  t.ok(storage.unsyncedWrites > 0, 'the last delivery records are not durable yet (the crash below loses them)')
  // Crash: nothing more is written; the restart reads what the last synced write made durable.
  first.engine.stop()
  await storage.crash()
  const location: MemoryLocation = storage.durableLocation
  const reopened = await openMemoryStorage(location, { keySpaces })
  const second = await openEngine(reopened)
  t.teardown(async () => {
    second.engine.stop()
    await second.store.close()
    await reopened.close()
  })
  t.ok(second.store.info(stream).deliveredCount < 30, `the crash lost delivery records (${second.store.info(stream).deliveredCount} of 30 survived)`)
  await until('the restarted engine records all 30 again', () => second.engine.deliveredCount === 30)
  t.same(ids(await second.engine.fetch(0, 100)), before, 'same events at the same indexes as before the crash')
})

t.test('the delivery cache answers as the store does (edges, bounds, retention head)', { timeout: 60_000 }, async (t) => {
  const location = createMemoryLocation()
  const storage = await openMemoryStorage(location, { keySpaces })
  const { engine, store } = await openEngine(storage, { deliveryCache: { eventsMax: 7 }, retention: { maxCount: 25 } })
  t.teardown(async () => {
    engine.stop()
    await store.close()
    await storage.close()
  })
  for (let i = 0; i < 30; i++) {
    const ack = await engine.publish(publishOf(`e${i}`))
    if (!ack.ok) throw ack.error
  }
  await until('30 deliveries recorded', () => engine.deliveredCount === 30)
  // Before any store read (no read-ahead window yet): below the cache nothing is in memory.
  t.equal(engine.cached(22, 3), undefined, 'below the cache: not in memory')
  t.same(ids(engine.cached(23, 10) ?? []).length, 7, 'the cache holds the last 7')
  let hits = 0
  let misses = 0
  const compare = async (label: string): Promise<void> => {
    for (let from = 0; from <= 31; from++) {
      for (const max of [0, 1, 3, 7, 40]) {
        const want = ids(await store.readByIndex(stream, from, max))
        t.same(ids(await engine.fetch(from, max)), want, `${label}: fetch(${from}, ${max})`)
        const cached = engine.cached(from, max)
        if (cached === undefined) misses++
        else {
          hits++
          t.same(ids(cached), want, `${label}: cached(${from}, ${max})`)
        }
      }
    }
  }
  await compare('7-event cache')
  t.ok(hits > 0 && misses > 0, `both paths taken (${hits} hits, ${misses} misses)`)
  // Retention removes the head (maxCount 25 keeps the last 25): cached answers skip what is gone.
  const maintained = await store.maintain(stream, Date.now())
  t.ok(maintained.deletedEvents > 0, `retention deleted ${maintained.deletedEvents} events`)
  hits = 0
  misses = 0
  await compare('after retention')
  t.ok(hits > 0, 'the cache still answered')
})

t.test('a byte bound smaller than one event keeps nothing in memory; fetch still answers from the store', { timeout: 60_000 }, async (t) => {
  const storage = await openMemoryStorage(createMemoryLocation(), { keySpaces })
  const { engine, store } = await openEngine(storage, { deliveryCache: { bytesMax: 1 } })
  t.teardown(async () => {
    engine.stop()
    await store.close()
    await storage.close()
  })
  for (let i = 0; i < 5; i++) {
    const ack = await engine.publish(publishOf(`e${i}`))
    if (!ack.ok) throw ack.error
  }
  await until('5 deliveries recorded', () => engine.deliveredCount === 5)
  t.equal(engine.cached(0, 5), undefined, 'nothing cached')
  t.equal(engine.cached(4, 1), undefined, 'not even the last one')
  t.same(ids(await engine.fetch(0, 5)), ids(await store.readByIndex(stream, 0, 5)), 'fetch answers from the store')
})

t.test('read-ahead below the delivery cache: sequential readers cost one store read per window, answers equal the store\'s', { timeout: 120_000 }, async (t) => {
  const storage = await openMemoryStorage(createMemoryLocation(), { keySpaces })
  const { engine, store } = await openEngine(storage, { deliveryCache: { eventsMax: 16 }, retention: { maxCount: 1_000 } })
  t.teardown(async () => {
    engine.stop()
    await store.close()
    await storage.close()
  })
  const total = 2 * readAheadEventsMax + 100
  for (let start = 0; start < total; start += 100) {
    const acks = await Promise.all(Array.from({ length: Math.min(100, total - start) }, (_, i) => engine.publish(publishOf(`e${start + i}`))))
    for (const ack of acks) if (!ack.ok) throw ack.error
  }
  await until(`${total} deliveries recorded`, () => engine.deliveredCount === total)
  const reference = ids(await store.readByIndex(stream, 0, total))
  t.equal(reference.length, total)
  // Count the engine's store reads from here on (the reference above is the test's own).
  let storeReads = 0
  const readByIndex = store.readByIndex.bind(store)
  store.readByIndex = (name, from, limit) => {
    storeReads += 1
    return readByIndex(name, from, limit)
  }
  // Two interleaved readers, each sequential: each continues its own window.
  const a: string[] = []
  const b: string[] = []
  for (let step = 0; step < 300; step++) {
    a.push(...ids(await engine.fetch(step, 1)))
    b.push(...ids(await engine.fetch(readAheadEventsMax + 50 + step, 1)))
  }
  t.same(a, reference.slice(0, 300), 'first reader')
  t.same(b, reference.slice(readAheadEventsMax + 50, readAheadEventsMax + 350), 'second reader')
  t.ok(storeReads <= 6, `${storeReads} store reads for two interleaved readers of 300 each`)
  const below = total - 16
  // One reader, one message at a time (a group dispatching one message per ack).
  storeReads = 0
  const got: string[] = []
  for (let index = 0; index < below; index++) {
    const hit = engine.cached(index, 1)
    got.push(...ids(hit ?? (await engine.fetch(index, 1))))
  }
  t.same(got, reference.slice(0, below), 'every event, in order, as the store has it')
  t.ok(storeReads <= Math.ceil(below / readAheadEventsMax) + 2, `${storeReads} store reads for ${below} one-event fetches`)
  // Random single reads: right answers; a cached answer is always the store's.
  for (const index of [700, 3, 1_000, 250, 999, 0, total - 17, total - 1]) {
    const want = reference.slice(index, index + 1)
    t.same(ids(await engine.fetch(index, 1)), want, `fetch(${index}, 1)`)
    const hit = engine.cached(index, 1)
    if (hit !== undefined) t.same(ids(hit), want, `cached(${index}, 1)`)
  }
  // Retention (maxCount 1,000) removes the head: nothing below it is answered, from memory or not.
  const maintained = await store.maintain(stream, Date.now())
  t.ok(maintained.deletedEvents > 0, `retention deleted ${maintained.deletedEvents} events`)
  const head = store.info(stream).firstIndex
  t.ok(head > 0, `the head moved to ${head}`)
  t.same(ids(engine.cached(0, 5) ?? []), ids(await store.readByIndex(stream, 0, 5)), 'cached below the head: what the store reads (from the head)')
  t.same(ids(await engine.fetch(0, 5)), ids(await store.readByIndex(stream, 0, 5)), 'fetch below the head: what the store reads (from the head)')
})
