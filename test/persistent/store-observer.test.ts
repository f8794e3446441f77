// The event store's observer (data-plane/persistent/store/observer.ts) and `openEventStore`: one
// report per synced batch (items, operations, bytes, sync time, events appended per stream —
// matching what was written), one per maintenance step and call (matching what was deleted),
// nothing for a batch that wrote nothing, a throwing observer cannot fail a write, removal works;
// the node's group-commit settings reach the committer.
import t from 'tap'
import { EventStore, compareEventOrder, eventStoreKeySpaces, openEventStore } from '../../data-plane/persistent/index.js'
import type { CommittedBatch, EventStoreObserver, MaintenanceCallReport, MaintenanceStepReport } from '../../data-plane/persistent/index.js'
import { createMemoryLocation, openMemoryStorage } from '../../shared/storage/index.js'
import { GatedStorage, makeEvent, originRun, stream } from './store-helpers.js'

function recorder(): { observer: EventStoreObserver; batches: CommittedBatch[]; steps: MaintenanceStepReport[]; calls: MaintenanceCallReport[] } {
  const batches: CommittedBatch[] = []
  const steps: MaintenanceStepReport[] = []
  const calls: MaintenanceCallReport[] = []
  return {
    observer: { committed: (batch) => batches.push(batch), maintenanceStep: (step) => steps.push(step), maintained: (call) => calls.push(call) },
    batches,
    steps,
    calls,
  }
}

t.test('openEventStore passes the node\'s linger and batch bound to the group commit', async (t) => {
  const open = async (settings: { lingerMs: number; batchBytesMax: number }): Promise<{ storage: GatedStorage; store: EventStore }> => {
    const storage = new GatedStorage(await openMemoryStorage(createMemoryLocation(), { keySpaces: eventStoreKeySpaces }))
    const store = await openEventStore(storage, settings)
    await store.ensureStream(stream, { dedupWindowMs: 0 })
    return { storage, store }
  }
  const big = (seq: number): ReturnType<typeof makeEvent> => makeEvent({ origin: 'a', originSeq: seq, wallMs: 1_000 + seq, payload: 'x'.repeat(3_000) })
  const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
  const appendSpread = async (store: EventStore): Promise<void> => {
    // Three appends, each two event-loop turns after the previous one.
    const pending = []
    for (const seq of [1, 2, 3]) {
      pending.push(store.append(stream, [big(seq)]))
      await turn()
      await turn()
    }
    await Promise.all(pending)
  }

  const bounded = await open({ lingerMs: 1_000, batchBytesMax: 4_096 })
  let before = bounded.storage.syncedBatches
  await Promise.all([1, 2, 3].map((seq) => bounded.store.append(stream, [big(seq)])))
  t.equal(bounded.storage.syncedBatches - before, 3, '3 KB appends under a 4 KiB batch bound: one synced batch each, linger or not')

  const lingering = await open({ lingerMs: 1_000, batchBytesMax: 1024 * 1024 })
  before = lingering.storage.syncedBatches
  await appendSpread(lingering.store)
  t.equal(lingering.storage.syncedBatches - before, 1, 'a 1 s linger under 1 MiB: appends a few turns apart share one batch')

  const eager = await open({ lingerMs: 0, batchBytesMax: 1024 * 1024 })
  before = eager.storage.syncedBatches
  await appendSpread(eager.store)
  t.ok(eager.storage.syncedBatches - before >= 2, 'linger 0: the first append is written at the end of its turn, without the others')

  await t.rejects(openEventStore(bounded.storage, { lingerMs: -1, batchBytesMax: 4_096 }), RangeError, 'a negative linger is refused')
  await Promise.all([bounded.store.close(), lingering.store.close(), eager.store.close()])
})

t.test('one report per synced batch: items, operations, bytes, sync time, events per stream', async (t) => {
  const storage = new GatedStorage(await openMemoryStorage(createMemoryLocation(), { keySpaces: eventStoreKeySpaces }))
  const { observer, batches } = recorder()
  const store = await EventStore.open(storage, { observer })
  await store.ensureStream(stream, { dedupWindowMs: 1_000 })
  await store.ensureStream('default/other', { dedupWindowMs: 0 })
  t.equal(batches.length, 2, 'each ensure is a synced batch')
  t.equal(batches[0]?.appended.size, 0, 'an ensure appends no events')
  batches.length = 0
  const syncedBefore = storage.syncedBatches

  // Three appends in one turn share a batch: 5 + 2 events to one stream, 3 to the other.
  const a = originRun('a', 1, 5, 1_000)
  const b = originRun('b', 1, 2, 1_000)
  const other = originRun('a', 1, 3, 1_000).map((event) => ({ ...event, stream: 'default/other' }))
  await Promise.all([store.append(stream, a), store.append(stream, b), store.append('default/other', other)])
  t.equal(storage.syncedBatches - syncedBefore, 1, 'one synced batch')
  t.equal(batches.length, 1, 'one report')
  const batch = batches[0] as CommittedBatch
  t.equal(batch.items, 3)
  t.equal(batch.operations, storage.batchSizes.at(-1), 'operations = what the storage wrote')
  // 7 events × 3 puts (event, origin seq, id) + 3 × 2 (no ids) + 2 streams × 2 metadata puts.
  t.equal(batch.operations, 7 * 3 + 3 * 2 + 4)
  t.same([...batch.appended.keys()].sort(), ['default/orders', 'default/other'].sort())
  t.equal(batch.appended.get(stream)?.events, 7)
  t.equal(batch.appended.get('default/other')?.events, 3)
  t.equal(batch.appended.get(stream)?.bytes, store.info(stream).bytes, 'bytes per stream = the stored bytes it added')
  t.equal(batch.appended.get('default/other')?.bytes, store.info('default/other').bytes)
  t.ok(batch.bytes > (batch.appended.get(stream)?.bytes ?? 0) + (batch.appended.get('default/other')?.bytes ?? 0), 'batch bytes include indexes and metadata')
  t.ok(batch.syncMs >= 0 && Number.isFinite(batch.syncMs))

  // Duplicates: a batch that appends nothing new reports no events for the stream.
  batches.length = 0
  await store.append(stream, a)
  t.equal(batches.length, 0, 'copies already held, no metadata change: nothing written, nothing reported')
  // Deliveries are items too.
  await store.recordDeliveries(stream, [...a, ...b].sort(compareEventOrder).slice(0, 3).map((position, index) => ({ index, position })))
  t.equal(batches.length, 1)
  t.equal(batches[0]?.items, 1)
  t.equal(batches[0]?.appended.size, 0)
  await store.close()
})

t.test('maintenance reports each step and each call with what it deleted', async (t) => {
  const storage = await openMemoryStorage(createMemoryLocation(), { keySpaces: eventStoreKeySpaces })
  const { observer, steps, calls } = recorder()
  const store = await EventStore.open(storage)
  const remove = store.observe(observer)
  await store.ensureStream(stream, { dedupWindowMs: 0, retention: { maxCount: 10 } })
  const events = originRun('a', 1, 50, 1_000)
  await store.append(stream, events)
  await store.recordDeliveries(stream, events.map((position, index) => ({ index, position })))
  const bytesBefore = store.info(stream).bytes
  const result = await store.maintain(stream, 0)
  t.same(result, { deletedEvents: 40, deletedBytes: bytesBefore - store.info(stream).bytes, expiredIds: 0, done: true }, 'the result keeps its shape')
  t.equal(steps.length, 1, 'one retention step (40 events < the step size)')
  t.match(steps[0], { stream, kind: 'retention', entries: 40, bytes: result.deletedBytes })
  t.equal(calls.length, 1)
  t.match(calls[0], { stream, deletedEvents: 40, deletedBytes: result.deletedBytes, expiredIds: 0, done: true })
  t.ok((calls[0]?.steps ?? 0) >= 2, 'the retention step and the (empty) id-expiry step are counted')
  t.ok((calls[0]?.longestStepMs ?? -1) >= 0 && (calls[0]?.longestStepMs ?? 0) <= (calls[0]?.durationMs ?? 0))
  remove()
  await store.maintain(stream, 0)
  t.equal(calls.length, 1, 'a removed observer hears nothing')
  await store.close()
})

t.test('a throwing observer cannot fail a durable write', async (t) => {
  const storage = await openMemoryStorage(createMemoryLocation(), { keySpaces: eventStoreKeySpaces })
  const store = await EventStore.open(storage, {
    observer: {
      committed: () => {
        throw new Error('observer bug')
      },
    },
  })
  const seen: number[] = []
  store.observe({ committed: (batch) => seen.push(batch.items) })
  await store.ensureStream(stream, { dedupWindowMs: 0 })
  const result = await store.append(stream, originRun('a', 1, 3, 1_000))
  t.equal(result.appended, 3, 'the append resolved')
  t.same(seen, [1, 1], 'the other observer still heard both batches')
  t.equal(store.stoppedWith, null)
  await store.close()
})

t.test('maintain stops between steps when its signal aborts or the store closes', async (t) => {
  const storage = await openMemoryStorage(createMemoryLocation(), { keySpaces: eventStoreKeySpaces })
  const store = await EventStore.open(storage)
  await store.ensureStream(stream, { dedupWindowMs: 0, retention: { maxCount: 1 } })
  const events = originRun('a', 1, 20_000, 1_000, 1)
  for (let from = 0; from < events.length; from += 5_000) await store.append(stream, events.slice(from, from + 5_000))
  await store.recordDeliveries(stream, events.map((position, index) => ({ index, position })))
  const controller = new AbortController()
  // Abort as soon as the first step is reported: the call ends before its second step.
  const remove = store.observe({ maintenanceStep: () => controller.abort() })
  const aborted = await store.maintain(stream, 0, { signal: controller.signal })
  remove()
  t.same(aborted, { deletedEvents: 4_096, deletedBytes: aborted.deletedBytes, expiredIds: 0, done: false }, 'one step of 4,096, then stopped: not done')
  const untouched = await store.maintain(stream, 0, { signal: controller.signal })
  t.same(untouched, { deletedEvents: 0, deletedBytes: 0, expiredIds: 0, done: false }, 'an aborted signal: no step at all')

  // close() while a call runs: the call stops after its current step and close resolves.
  let steps = 0
  store.observe({ maintenanceStep: () => (steps += 1) })
  const running = store.maintain(stream, 0)
  const closing = store.close()
  const [result] = await Promise.all([running, closing])
  t.ok(steps <= 1, `at most the step under way ran after close (${steps})`)
  t.equal(result.done, false)
  t.ok(store.info(stream).count > 1, 'retention did not finish: it was stopped')
})
