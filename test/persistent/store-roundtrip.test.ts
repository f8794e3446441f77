// EventStore round trips on RocksDB and on the memory adapter: append in any order, read back
// in delivery order, by origin range, by id, by delivery index; version vectors and gaps;
// group progress; clock ceiling; and reopen rebuilds all of it from the storage.
import t from 'tap'
import { EventStore, compareEventOrder, encodeEvent } from '../../data-plane/persistent/index.js'
import type { StreamEvent } from '../../data-plane/persistent/index.js'
import { collect, keyOf, makeEvent, originRun, storeLocations, stream } from './store-helpers.js'

/** A seeded shuffle (mulberry32), so a failure replays. */
function shuffle<T>(items: readonly T[], seed: number): T[] {
  let state = seed >>> 0
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state)
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296
  }
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j] as T, out[i] as T]
  }
  return out
}

const same = (a: readonly StreamEvent[], b: readonly StreamEvent[]): boolean =>
  a.length === b.length && a.every((e, i) => Buffer.compare(Buffer.from(encodeEvent(e)), Buffer.from(encodeEvent(b[i] as StreamEvent))) === 0)

for (const makeLocation of storeLocations()) {
  const location = makeLocation()
  t.test(`${location.name}: append in any order, read back in delivery order, reopen`, async (t) => {
    t.teardown(() => location.cleanup())
    let storage = await location.open()
    let store = await EventStore.open(storage, { lingerMs: 1 })
    await store.ensureStream(stream, { dedupWindowMs: 1000 })
    await store.ensureStream('other/stream', { dedupWindowMs: 0 })
    // Three origins with interleaved clocks; b has a gap (seq 4 missing); c's incarnation 2 too.
    const events = [
      ...originRun('a', 1, 20, 1000, 7),
      ...originRun('b', 1, 3, 1001, 11),
      ...originRun('b', 5, 9, 1001, 11),
      ...originRun('c', 1, 5, 1002, 13),
      ...originRun('c', 1, 4, 2000, 3, 2),
    ]
    const batches = shuffle(events, 7)
    const results = await Promise.all([0, 1, 2, 3].map((part) => store.append(stream, batches.filter((_, i) => i % 4 === part))))
    t.equal(results.reduce((n, r) => n + r.appended, 0), events.length, 'every copy appended once')
    const again = await store.append(stream, events.slice(0, 5))
    t.same(again, { appended: 0, alreadyHeld: 5, belowHead: 0, gapBufferFull: 0 }, 're-appending held copies is a no-op')
    await store.append('other/stream', [makeEvent({ stream: 'other/stream', origin: 'a', originSeq: 1, wallMs: 1 })])

    const expectedOrder = [...events].sort(compareEventOrder)
    t.ok(same(await collect(store.events(stream)), expectedOrder), 'events() walks storage order = (hlc, origin, incarnation, seq)')
    t.equal((await collect(store.events('other/stream'))).length, 1, 'streams do not mix')
    t.ok(same(await collect(store.events(stream, { after: expectedOrder[9] as StreamEvent, limit: 5 })), expectedOrder.slice(10, 15)), 'events after a position, limited')

    const vector = { 'a#1': 20, 'b#1': 3, 'c#1': 5, 'c#2': 4 }
    t.same(Object.fromEntries(store.versionVector(stream)), vector, 'version vector = contiguous prefixes')
    t.same(store.gaps(stream, 'b#1'), [5, 6, 7, 8, 9], 'gap buffer above b’s prefix')
    t.same(Object.fromEntries(store.incarnations(stream)), { a: [1], b: [1], c: [1, 2] })
    t.ok(same(await store.readByOriginRange(stream, { originKey: 'b#1', fromSeq: 2, toSeq: 7 }, 100), events.filter((e) => e.origin === 'b' && e.originSeq >= 2 && e.originSeq <= 7)), 'by origin range: held copies only, in sequence order')
    t.equal((await store.readByOriginRange(stream, { originKey: 'a#1', fromSeq: 1, toSeq: 20 }, 3)).length, 3, 'origin range honours its limit')

    // Copies of one id from two origins: both found by id, in delivery order.
    await store.append(stream, [makeEvent({ origin: 'a', originSeq: 21, wallMs: 1300, id: 'dup' }), makeEvent({ origin: 'b', originSeq: 4, wallMs: 1200, id: 'dup' })])
    t.same((await store.copiesOf(stream, 'dup')).map(keyOf), ['b#1#4', 'a#1#21'], 'copies of an id, in delivery order')
    t.same(store.gaps(stream, 'b#1'), [], 'the gap filled')
    t.equal(store.versionVector(stream).get('b#1'), 9)

    // Deliveries: every other event in order (the rest play duplicates).
    const all = await collect(store.events(stream))
    const delivered = all.filter((_, i) => i % 2 === 0)
    await store.recordDeliveries(stream, delivered.map((event, index) => ({ index, position: event })))
    const byIndex = await store.readByIndex(stream, 3, 4)
    t.same(byIndex.map((d) => d.index), [3, 4, 5, 6])
    t.ok(same(byIndex.map((d) => d.event), delivered.slice(3, 7)), 'readByIndex joins the index with the events, skipping undelivered ones')
    t.equal(await store.indexAtOrAfter(stream, (delivered[5] as StreamEvent).hlc), 5, 'index of a time (binary search)')
    t.equal(await store.indexAtOrAfter(stream, { wallMs: 99_999, logical: 0 }), delivered.length)
    await t.rejects(store.recordDeliveries(stream, [{ index: delivered.length + 1, position: all[all.length - 1] as StreamEvent }]), { code: 'RG_ERR_INVALID_STATE' }, 'a non-contiguous index is refused')
    await t.rejects(store.recordDeliveries(stream, [{ index: delivered.length, position: all[0] as StreamEvent }]), { code: 'RG_ERR_INVALID_STATE' }, 'a delivery that goes back in order is refused')

    await store.putGroupProgress(stream, 'workers', Uint8Array.of(1, 2, 3))
    await store.putGroupProgress(stream, 'audit', Uint8Array.of(9))
    await store.setClockCeiling(stream, 5_000)
    await store.setClockCeiling(stream, 4_000)
    t.equal(store.clockCeiling(stream), 5_000, 'the ceiling only rises')
    await t.rejects(store.append('no/such', []), { code: 'RG_ERR_NOT_FOUND' })
    await t.rejects(store.append(stream, [makeEvent({ stream: 'other/stream', origin: 'a', originSeq: 2, wallMs: 1 })]), { code: 'RG_ERR_MALFORMED_EVENT' })

    // Decision records (fences, closes) ride with events, in order, atomically.
    await store.append(stream, [makeEvent({ origin: 'a', originSeq: 22, wallMs: 1400 })], { records: [Uint8Array.of(1), Uint8Array.of(2)] })
    await store.append(stream, [], { records: [Uint8Array.of(3)] })
    t.same((await store.records(stream)).map((r) => [r.seq, [...r.record]]), [[0, [1]], [1, [2]], [2, [3]]], 'records in append order')
    await t.rejects(store.append(stream, [], { records: Array.from({ length: 1025 }, () => Uint8Array.of(0)) }), { code: 'RG_ERR_LIMIT_EXCEEDED' })

    const infoBefore = store.info(stream)
    const resumeBefore = store.resumePoint(stream)
    await store.close()
    await t.rejects(store.append(stream, []), { code: 'RG_ERR_STORAGE_CLOSED' }, 'closed store refuses appends')
    await storage.close()

    // Reopen: metadata, vector, gaps, indexes and reads come back without loading events.
    storage = await location.open()
    store = await EventStore.open(storage)
    t.same(store.streams(), ['default/orders', 'other/stream'])
    t.same(store.info(stream), infoBefore, 'info survives reopen')
    t.same(store.resumePoint(stream), resumeBefore, 'resume point (for Orderer resumeAfter) survives reopen')
    t.ok(same((await store.readByIndex(stream, 0, 1000)).map((d) => d.event), delivered), 'the delivery index survives reopen')
    t.same([...(await store.getGroupProgress(stream, 'workers')) ?? []], [1, 2, 3])
    t.same(await store.groups(stream), ['audit', 'workers'])
    await store.deleteGroupProgress(stream, 'audit')
    t.same(await store.groups(stream), ['workers'])
    t.equal(store.clockCeiling(stream), 5_000)
    t.same((await store.records(stream, 1)).map((r) => [r.seq, [...r.record]]), [[1, [2]], [2, [3]]], 'records survive reopen; read from a sequence')
    t.same(Object.fromEntries(store.versionVector(stream)), { ...vector, 'a#1': 22, 'b#1': 9 })
    t.same((await store.append(stream, [makeEvent({ origin: 'b', originSeq: 10, wallMs: 3000 })])).appended, 1, 'appends continue after reopen')
    await store.close()
    await storage.close()
  })

  const gapLocation = makeLocation()
  t.test(`${gapLocation.name}: gaps are rebuilt on reopen and bounded`, async (t) => {
    t.teardown(() => gapLocation.cleanup())
    let storage = await gapLocation.open()
    let store = await EventStore.open(storage, { gapMax: 8 })
    await store.ensureStream(stream, { dedupWindowMs: 0 })
    const result = await store.append(stream, [1, 3, 5, 8, 9, 20].map((seq) => makeEvent({ origin: 'n1', originSeq: seq, wallMs: 100 + seq })))
    t.same(result, { appended: 5, alreadyHeld: 0, belowHead: 0, gapBufferFull: 1 }, 'a sequence past the gap buffer is not written')
    await store.close()
    await storage.close()
    storage = await gapLocation.open()
    store = await EventStore.open(storage, { gapMax: 8 })
    t.same(Object.fromEntries(store.versionVector(stream)), { 'n1#1': 1 })
    t.same(store.gaps(stream, 'n1#1'), [3, 5, 8, 9], 'gaps found in the origin-seq index')
    await store.append(stream, [2, 4].map((seq) => makeEvent({ origin: 'n1', originSeq: seq, wallMs: 100 + seq })))
    t.same(Object.fromEntries(store.versionVector(stream)), { 'n1#1': 5 })
    t.same(store.gaps(stream, 'n1#1'), [8, 9])
    t.equal((await store.copiesOf(stream, 'n1-1-1')).length, 0, 'no id index when dedup is off')
    await store.close()
    await storage.close()
  })
}

t.test('the append path builds the same key bytes as the general key builders (property)', async (t) => {
  const { appendIdKey, appendIndexKey, appendIndexValue, appendKeys, eventKey, idKey, indexKey, indexValue, originSeqKey, hlcValue, storageKeyBytes, storageKeyOfEventKey } = await import('../../data-plane/persistent/store/keys.js')
  const { encodeStorageKey } = await import('../../data-plane/persistent/index.js')
  const fc = (await import('fast-check')).default
  const { eventArb } = await import('./helpers.js')
  fc.assert(
    fc.property(eventArb, fc.integer({ min: 0, max: 2 ** 32 - 2 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.boolean(), (event, streamNo, index, withId) => {
      const keys = appendKeys(streamNo, event)
      const storageKey = encodeStorageKey(event)
      const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
      return (
        hex(keys.eventKey) === hex(eventKey(streamNo, storageKey)) &&
        hex(storageKeyOfEventKey(keys.eventKey)) === hex(storageKey) &&
        hex(keys.originSeqKey) === hex(originSeqKey(streamNo, event.origin, event.incarnation, event.originSeq)) &&
        hex(keys.hlc) === hex(hlcValue(event.hlc)) &&
        hex(appendIdKey(streamNo, event.id, keys.eventKey)) === hex(idKey(streamNo, event.id, storageKey)) &&
        hex(appendIndexKey(streamNo, index)) === hex(indexKey(streamNo, index)) &&
        hex(appendIndexValue(event, withId ? event.id : undefined)) === hex(indexValue(storageKey, withId ? event.id : undefined)) &&
        storageKeyBytes(event) === storageKey.length
      )
    }),
    { numRuns: 500 },
  )
  t.pass('eventKey, storageKey, originSeqKey, hlc, id key and delivery-index key and value agree on 500 generated events')
  t.throws(() => appendIndexValue({ hlc: { wallMs: 1, logical: 0 }, origin: 'n.1', incarnation: 1, originSeq: 1 }, 'x'), /invalid position/, 'an invalid position is refused')
})
