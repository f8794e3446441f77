// Group commit and crash safety of the EventStore (DESIGN §3.3: an ack means durable):
// concurrent appends share synced batches; no append resolves before the sync of its batch;
// a failed sync stops the store (pending and later appends reject with the storage error,
// nothing is acknowledged after it); reopen sees exactly the acknowledged events; the bounded
// queue refuses with RG_ERR_LIMIT_EXCEEDED and `whenWritable` waits for room.
import t from 'tap'
import { EventStore, GroupCommitter } from '../../data-plane/persistent/index.js'
import type { AppendResult } from '../../data-plane/persistent/index.js'
import { StorageIoError } from '../../shared/errors.js'
import { GatedStorage, collect, keyOf, makeEvent, settle, storeLocations, stream } from './store-helpers.js'

for (const makeLocation of storeLocations()) {
  const location = makeLocation()
  t.test(`${location.name}: N concurrent appends share fewer synced batches; none resolves before its sync`, async (t) => {
    t.teardown(() => location.cleanup())
    const storage = new GatedStorage(await location.open())
    const store = await EventStore.open(storage)
    await store.ensureStream(stream, { dedupWindowMs: 1000 })
    const syncsBefore = storage.syncedBatches
    storage.hold = true
    const appenders = 200
    const resolved: number[] = []
    const append = (i: number): Promise<AppendResult> =>
      store.append(stream, [makeEvent({ origin: `n${i % 7}`, originSeq: Math.floor(i / 7) + 1, wallMs: 1000 + i })]).then((r) => {
        resolved.push(i)
        return r
      })
    // The first append goes alone (default linger: the end of this turn) and is held at its sync.
    const promises = [append(0)]
    for (let i = 0; i < 200 && storage.waiting === 0; i++) await settle(2)
    t.equal(storage.waiting, 1, 'one batch waits at its sync (one write in flight)')
    // The rest arrive while that write is in flight: they must wait and then share one batch.
    for (let i = 1; i < appenders; i++) promises.push(append(i))
    await settle(20)
    t.same(resolved, [], 'no append resolved while its sync is held')
    t.equal(storage.syncedBatches, syncsBefore, 'nothing synced yet')
    storage.hold = false
    storage.release()
    const results: AppendResult[] = await Promise.all(promises)
    t.equal(results.reduce((n, r) => n + r.appended, 0), appenders, 'every append acknowledged')
    const syncs = storage.syncedBatches - syncsBefore
    t.equal(syncs, 2, `${appenders} appends took ${syncs} synced batches: the first alone, the ${appenders - 1} that queued behind it together`)
    t.same(storage.batchSizes.slice(-2).map((n) => n > 3 * (appenders - 1)), [false, true], 'the second batch holds the 199 appends (3 puts each, plus metadata)')
    t.equal(store.commitStats.items >= appenders, true)
    t.equal(store.info(stream).count, appenders, 'durable count covers every acknowledged append')
    await store.close()
    await storage.close()
  })

  const failing = makeLocation()
  t.test(`${failing.name}: a failed sync acknowledges nothing and stops the store; reopen sees exactly the acked events`, async (t) => {
    t.teardown(() => failing.cleanup())
    const storage = new GatedStorage(await failing.open())
    const store = await EventStore.open(storage, { lingerMs: 1, batchAppendsMax: 10 })
    await store.ensureStream(stream, { dedupWindowMs: 1000 })
    const acked: string[] = []
    // First wave: acknowledged.
    const wave1 = Array.from({ length: 25 }, (_, i) => makeEvent({ origin: 'a', originSeq: i + 1, wallMs: 100 + i }))
    await Promise.all(wave1.map((e) => store.append(stream, [e]).then(() => acked.push(keyOf(e)))))
    t.equal(acked.length, 25)
    await store.append(stream, [], { records: [Uint8Array.of(1)] })
    // Second wave: the first batch's sync fails; everything pending and later must reject.
    storage.hold = true
    const wave2 = Array.from({ length: 25 }, (_, i) => makeEvent({ origin: 'b', originSeq: i + 1, wallMs: 200 + i }))
    const outcomes = wave2.map((e) =>
      store.append(stream, [e], { records: [Uint8Array.of(2)] }).then(
        () => {
          acked.push(keyOf(e))
          return 'acked'
        },
        (error: Error & { code?: string }) => error.code,
      ),
    )
    for (let i = 0; i < 200 && storage.waiting === 0; i++) await settle(2)
    storage.failWith = new Error('injected fsync failure')
    storage.release()
    const codes = await Promise.all(outcomes)
    t.same(new Set(codes), new Set(['RG_ERR_STORAGE_IO']), 'every pending append rejects with the storage error code')
    t.ok(store.stoppedWith instanceof StorageIoError, 'the store is stopped with a StorageIoError')
    storage.failWith = null
    storage.hold = false
    await t.rejects(store.append(stream, [makeEvent({ origin: 'c', originSeq: 1, wallMs: 300 })]), { code: 'RG_ERR_STORAGE_IO' }, 'a later append rejects too, even though the storage works again')
    await t.rejects(store.recordDeliveries(stream, []), { code: 'RG_ERR_STORAGE_IO' })
    t.equal(store.info(stream).count, 25, 'durable metadata never counted the failed batch')
    await storage.close()

    const reopened = await failing.open()
    const again = await EventStore.open(reopened)
    const stored = (await collect(again.events(stream))).map(keyOf)
    t.same(stored.sort(), [...acked].sort(), 'after reopen: exactly the acknowledged events')
    t.same(Object.fromEntries(again.versionVector(stream)), { 'a#1': 25 })
    t.same((await again.records(stream)).map((r) => [...r.record]), [[1]], 'records of the failed batch were not written either')
    t.equal(again.info(stream).count, 25)
    await again.close()
    await reopened.close()
  })
}

t.test('bounded queue: RG_ERR_LIMIT_EXCEEDED at once, whenWritable waits for room', async (t) => {
  const [makeLocation] = storeLocations()
  const location = (makeLocation as () => ReturnType<NonNullable<typeof makeLocation>>)()
  const storage = new GatedStorage(await location.open())
  const store = await EventStore.open(storage, { lingerMs: 0, queueAppendsMax: 4, batchAppendsMax: 2 })
  await store.ensureStream(stream, { dedupWindowMs: 0 })
  storage.hold = true
  const first = store.append(stream, [makeEvent({ origin: 'a', originSeq: 1, wallMs: 1 })])
  for (let i = 0; i < 200 && storage.waiting === 0; i++) await settle(2)
  // One batch in flight (held); four more fill the queue.
  const queued = [2, 3, 4, 5].map((seq) => store.append(stream, [makeEvent({ origin: 'a', originSeq: seq, wallMs: seq })]))
  await t.rejects(store.append(stream, [makeEvent({ origin: 'a', originSeq: 6, wallMs: 6 })]), { code: 'RG_ERR_LIMIT_EXCEEDED', details: { limit: 'queueAppendsMax' } }, 'the fifth queued append is refused at once')
  let writable = false
  const wait = store.whenWritable().then(() => (writable = true))
  await settle(10)
  t.equal(writable, false, 'no room while the queue is full')
  storage.hold = false
  storage.release()
  await wait
  t.equal(writable, true, 'room once a batch was taken from the queue')
  await Promise.all([first, ...queued])
  t.equal((await store.append(stream, [makeEvent({ origin: 'a', originSeq: 6, wallMs: 6 })])).appended, 1, 'the refused append goes through when retried')
  await store.close()
  await storage.close()
})

t.test('GroupCommitter: linger groups, batchBytesMax splits, a throwing build rejects only its item', async (t) => {
  const [makeLocation] = storeLocations()
  const location = (makeLocation as () => ReturnType<NonNullable<typeof makeLocation>>)()
  const storage = new GatedStorage(await location.open())
  let seals = 0
  const committer = new GroupCommitter(storage, { seal: () => ({ operations: [], durable: () => void seals++ }) }, { lingerMs: 5, batchBytesMax: 1000 })
  const put = (i: number, bytes: number): Promise<number> =>
    committer.submit({ bytes, build: () => ({ operations: [{ type: 'put', keySpace: 'ps-meta', key: Uint8Array.of(0x7a, i), value: new Uint8Array(bytes) }], result: i }) })
  const small = await Promise.all([1, 2, 3, 4, 5].map((i) => put(i, 10)))
  t.same(small, [1, 2, 3, 4, 5], 'results come back in order')
  t.equal(storage.syncedBatches, 1, 'five appends inside one linger window: one synced batch')
  const before = storage.syncedBatches
  await Promise.all([10, 11, 12, 13].map((i) => put(i, 600)))
  t.ok(storage.syncedBatches - before >= 2, 'batches over batchBytesMax are split')
  const bad = committer.submit({ bytes: 1, build: () => { throw new RangeError('caller bug') } })
  const good = put(20, 1)
  await t.rejects(bad, RangeError)
  t.equal(await good, 20, 'a sibling in the same batch is unaffected')
  t.ok(seals >= 3)
  await committer.drain()
  await storage.close()
})

for (const makeLocation of storeLocations()) {
  const location = makeLocation()
  t.test(`${location.name}: sustained appends leave the event loop free (timers fire between batches)`, async (t) => {
    t.teardown(() => location.cleanup())
    const storage = await location.open()
    const store = await EventStore.open(storage)
    await store.ensureStream(stream, { dedupWindowMs: 0 })
    let appended = 0
    let appendedWhenTimerFired = -1
    const timer = new Promise<void>((resolve) =>
      setTimeout(() => {
        appendedWhenTimerFired = appended
        resolve()
      }, 5),
    )
    const perAppender = 300
    await Promise.all(
      Array.from({ length: 8 }, async (_, worker) => {
        for (let i = 1; i <= perAppender; i++) {
          await store.append(stream, [makeEvent({ origin: `w${worker}`, originSeq: i, wallMs: i })])
          appended++
        }
      }),
    )
    await timer
    t.ok(appendedWhenTimerFired >= 0 && appendedWhenTimerFired < 8 * perAppender, `a 5 ms timer fired after ${appendedWhenTimerFired} of ${8 * perAppender} appends, not after all of them`)
    await store.close()
    await storage.close()
  })
}
