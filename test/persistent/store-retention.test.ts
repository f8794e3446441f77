// Retention and id expiry of the EventStore: deletion from the head only (what remains is a
// suffix of the delivery order, in order), never past the last delivered event, by count,
// bytes and age; the delivery index moves with it; appends below the head are dropped; reopen
// after retention; point-delete fallback without `deleteRange`; id lookups expire by the log's
// own time, not a local clock.
import t from 'tap'
import { EventStore, compareEventOrder } from '../../data-plane/persistent/index.js'
import type { StreamEvent } from '../../data-plane/persistent/index.js'
import { GatedStorage, collect, keyOf, makeEvent, storeLocations, stream } from './store-helpers.js'

/** 3 origins × 40 events, interleaved in time; returns them in delivery order. */
function workload(): StreamEvent[] {
  const events: StreamEvent[] = []
  for (const [o, origin] of ['a', 'b', 'c'].entries()) for (let seq = 1; seq <= 40; seq++) events.push(makeEvent({ origin, originSeq: seq, wallMs: 10_000 + seq * 10 + o * 3, payload: 'x'.repeat(20 + ((seq * 7) % 13)) }))
  return events.sort(compareEventOrder)
}

async function countKeys(storage: { range(keySpace: string): AsyncIterable<unknown> }, keySpace: string): Promise<number> {
  return (await collect(storage.range(keySpace))).length
}

for (const makeLocation of storeLocations()) {
  for (const pointDeletes of [false, true]) {
    const location = makeLocation()
    const label = `${location.name}${pointDeletes ? ' (no deleteRange: point deletes)' : ''}`
    t.test(`${label}: retention by count keeps a suffix in order, never past delivery`, async (t) => {
      t.teardown(() => location.cleanup())
      let storage = new GatedStorage(await location.open())
      storage.omitDeleteRange = pointDeletes
      let store = await EventStore.open(storage)
      await store.ensureStream(stream, { dedupWindowMs: 50, retention: { maxCount: 30 } })
      const events = workload()
      await store.append(stream, events)
      let result = await store.maintain(stream, 0)
      t.equal(result.deletedEvents, 0, 'nothing delivered: nothing deleted')
      // Deliver the first 100 (every one, in order).
      await store.recordDeliveries(stream, events.slice(0, 100).map((position, index) => ({ index, position })))
      result = await store.maintain(stream, 0)
      t.equal(result.deletedEvents, 90, 'count 120 → 30 wanted, but only delivered events go: 90 deleted')
      t.equal(store.info(stream).count, 30)
      const remaining = (await collect(store.events(stream))).map(keyOf)
      t.same(remaining, events.slice(90).map(keyOf), 'what remains is the suffix, in order')
      t.equal(store.info(stream).firstIndex, 90)
      t.same((await store.readByIndex(stream, 0, 5)).map((d) => d.index), [90, 91, 92, 93, 94], 'reads by index start at the first one still stored')
      t.equal(await countKeys(storage, 'ps-events'), 30, 'events below the head are gone from storage')
      t.equal(await countKeys(storage, 'ps-origin-seqs'), 30, 'origin-seq index trimmed with them')
      t.equal(await countKeys(storage, 'ps-index'), 10, 'delivery index trimmed with them')
      t.ok(await countKeys(storage, 'ps-ids') <= 30, 'id entries of deleted events are gone')
      t.same(await store.readByOriginRange(stream, { originKey: 'a#1', fromSeq: 1, toSeq: 40 }, 100), events.slice(90).filter((e) => e.origin === 'a'), 'origin ranges return what remains')
      const below = await store.append(stream, [makeEvent({ origin: 'z', originSeq: 1, wallMs: 10_005 })])
      t.same(below, { appended: 0, alreadyHeld: 0, belowHead: 1, gapBufferFull: 0 }, 'an append below the head is dropped, so order of what remains never changes')
      await store.close()
      await storage.close()

      storage = new GatedStorage(await location.open())
      store = await EventStore.open(storage)
      t.same((await collect(store.events(stream))).map(keyOf), events.slice(90).map(keyOf), 'reopen after retention: the same suffix')
      t.equal(store.info(stream).count, 30)
      await store.recordDeliveries(stream, events.slice(100).map((position, i) => ({ index: 100 + i, position })))
      await store.maintain(stream, 0)
      t.same((await collect(store.events(stream))).map(keyOf), events.slice(90).map(keyOf), 'count limit already met: nothing more goes')
      await store.close()
      await storage.close()
    })
  }

  const crash = makeLocation()
  t.test(`${crash.name}: a crash between the retention batch and its range deletes: reads skip the leftovers, reopen removes them`, async (t) => {
    t.teardown(() => crash.cleanup())
    let storage = new GatedStorage(await crash.open())
    storage.dropRangeDeletes = true
    let store = await EventStore.open(storage)
    await store.ensureStream(stream, { dedupWindowMs: 50, retention: { maxCount: 20 } })
    const events = workload()
    await store.append(stream, events)
    await store.recordDeliveries(stream, events.map((position, index) => ({ index, position })))
    await store.maintain(stream, 0)
    t.equal(await countKeys(storage, 'ps-events'), 120, 'the range deletes were lost')
    t.same((await collect(store.events(stream))).map(keyOf), events.slice(100).map(keyOf), 'events() starts at the head')
    t.same(await store.readByOriginRange(stream, { originKey: 'b#1', fromSeq: 1, toSeq: 40 }, 100), events.slice(100).filter((e) => e.origin === 'b'), 'origin ranges skip what is below the head')
    t.same((await store.readByIndex(stream, 0, 3)).map((d) => d.index), [100, 101, 102])
    await store.close()
    await storage.close()
    storage = new GatedStorage(await crash.open())
    store = await EventStore.open(storage)
    t.equal(await countKeys(storage, 'ps-events'), 20, 'reopen issued the range deletes again')
    t.equal(await countKeys(storage, 'ps-origin-seqs'), 20)
    t.equal(await countKeys(storage, 'ps-index'), 20)
    await store.close()
    await storage.close()
  })

  const byBytes = makeLocation()
  t.test(`${byBytes.name}: retention by bytes and by age (age against the passed clock)`, async (t) => {
    t.teardown(() => byBytes.cleanup())
    const storage = await byBytes.open()
    const store = await EventStore.open(storage)
    await store.ensureStream(stream, { dedupWindowMs: 0, retention: { maxBytes: 4000 } })
    const events = workload()
    await store.append(stream, events)
    await store.recordDeliveries(stream, events.map((position, index) => ({ index, position })))
    const total = store.info(stream).bytes
    const result = await store.maintain(stream, 0)
    t.ok(store.info(stream).bytes <= 4000, `bytes ${store.info(stream).bytes} within 4000 (from ${total})`)
    t.equal(result.deletedBytes, total - store.info(stream).bytes)
    const kept = (await collect(store.events(stream))).map(keyOf)
    t.same(kept, events.slice(events.length - kept.length).map(keyOf), 'a suffix, in order')
    // Age: switch the policy; events older than now − maxAge go, whatever the other limits.
    await store.ensureStream(stream, { dedupWindowMs: 0, retention: { maxAgeMs: 100 } })
    await store.maintain(stream, 10_000 + 30 * 10 + 100)
    const afterAge = await collect(store.events(stream))
    t.ok(afterAge.length > 0 && afterAge.every((e) => e.hlc.wallMs >= 10_300), 'everything older than the age cut is gone, the rest kept')
    t.same(afterAge.map(keyOf), events.filter((e) => e.hlc.wallMs >= 10_300).map(keyOf))
    await store.close()
    await storage.close()
  })

  const ids = makeLocation()
  t.test(`${ids.name}: id lookups expire by the log's own time, not a local clock`, async (t) => {
    t.teardown(() => ids.cleanup())
    const storage = await ids.open()
    const store = await EventStore.open(storage, { idIndexWindows: 2 })
    await store.ensureStream(stream, { dedupWindowMs: 100 })
    await store.append(stream, [makeEvent({ origin: 'a', originSeq: 1, wallMs: 1000, id: 'order-1' })])
    t.equal((await store.copiesOf(stream, 'order-1')).length, 1)
    // However much local time passes, nothing expires while the log does not move.
    await store.maintain(stream, Date.now() + 10 ** 9)
    t.equal((await store.copiesOf(stream, 'order-1')).length, 1, 'a local clock does not expire ids')
    // The log moves to 1199: still inside 2 windows (horizon 999).
    await store.append(stream, [makeEvent({ origin: 'a', originSeq: 2, wallMs: 1199, id: 'order-2' })])
    t.equal((await store.copiesOf(stream, 'order-1')).length, 1, 'inside the horizon')
    // The log moves to 1201: horizon 1001 > 1000.
    await store.append(stream, [makeEvent({ origin: 'b', originSeq: 1, wallMs: 1201, id: 'order-3' })])
    t.equal((await store.copiesOf(stream, 'order-1')).length, 0, 'outside the horizon: ignored at once')
    t.equal(await countKeys(storage, 'ps-ids'), 3, 'still stored until expiry runs')
    const result = await store.maintain(stream, 0)
    t.equal(result.expiredIds, 1)
    t.equal(await countKeys(storage, 'ps-ids'), 2, 'expiry deleted the entry')
    t.same((await store.copiesOf(stream, 'order-2')).map(keyOf), ['a#1#2'])
    t.equal((await collect(store.events(stream))).length, 3, 'expiry touches the id index only')
    await store.close()
    await storage.close()
  })
}
