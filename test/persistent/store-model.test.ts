// EventStore against a naive reference model (property test, memory adapter): random appends
// (any order, re-sends), deliveries of the next stored events in order, retention by count and
// reopen. After every step the store's events, counts, version vector, delivery reads and id
// lookups equal the model's.
import t from 'tap'
import fc from 'fast-check'
import { EventStore, compareEventOrder } from '../../data-plane/persistent/index.js'
import type { StreamEvent } from '../../data-plane/persistent/index.js'
import { createMemoryLocation, openMemoryStorage } from '../../shared/storage/index.js'
import { eventStoreKeySpaces } from '../../data-plane/persistent/index.js'
import { collect, keyOf, makeEvent, stream } from './store-helpers.js'

type Step = { readonly kind: 'append'; readonly picks: readonly number[] } | { readonly kind: 'deliver'; readonly count: number } | { readonly kind: 'retain'; readonly maxCount: number } | { readonly kind: 'reopen' }

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('append' as const), picks: fc.array(fc.nat({ max: 59 }), { minLength: 1, maxLength: 12 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('deliver' as const), count: fc.integer({ min: 1, max: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('retain' as const), maxCount: fc.integer({ min: 0, max: 20 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
)

/** Copies deleted by retention in the current run (the store never takes them back). */
const deletedKeys = new Set<string>()

/** 60 candidate events: 3 origins × 20, hlc rising with sequence, ids from a small pool. */
function pool(): StreamEvent[] {
  const out: StreamEvent[] = []
  for (const [o, origin] of ['a', 'b', 'c'].entries()) for (let seq = 1; seq <= 20; seq++) out.push(makeEvent({ origin, originSeq: seq, wallMs: 1000 + seq * 7 + o * 3, id: `id-${(seq * 3 + o) % 9}` }))
  return out
}

t.test('EventStore equals a reference model over random steps', async (t) => {
  const candidates = pool()
  await fc.assert(
    fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 25 }), async (steps) => {
      const location = createMemoryLocation()
      let storage = await openMemoryStorage(location, { keySpaces: eventStoreKeySpaces })
      let store = await EventStore.open(storage)
      await store.ensureStream(stream, { dedupWindowMs: 10_000 })
      // The model.
      const held = new Map<string, StreamEvent>()
      const delivered: StreamEvent[] = []
      let head: StreamEvent | null = null
      let deleted = 0
      const stored = (): StreamEvent[] => [...held.values()].sort(compareEventOrder)
      try {
        for (const step of steps) {
          if (step.kind === 'append') {
            const batch = step.picks.map((i) => candidates[i] as StreamEvent)
            await store.append(stream, batch)
            for (const e of batch) if (!held.has(keyOf(e)) && (head === null || compareEventOrder(e, head) > 0) && !deletedKeys.has(keyOf(e))) held.set(keyOf(e), e)
          } else if (step.kind === 'deliver') {
            const last = delivered[delivered.length - 1]
            const next = stored().filter((e) => last === undefined || compareEventOrder(e, last) > 0).slice(0, step.count)
            await store.recordDeliveries(stream, next.map((position, i) => ({ index: delivered.length + i, position })))
            delivered.push(...next)
          } else if (step.kind === 'retain') {
            await store.ensureStream(stream, { dedupWindowMs: 10_000, retention: { maxCount: step.maxCount } })
            await store.maintain(stream, 0)
            const last = delivered[delivered.length - 1]
            for (const e of stored()) {
              // maxCount 0 means unlimited (as every retention limit): nothing goes.
              if (step.maxCount === 0 || held.size <= step.maxCount || last === undefined || compareEventOrder(e, last) > 0) break
              held.delete(keyOf(e))
              deletedKeys.add(keyOf(e))
              head = e
              deleted++
            }
          } else {
            await store.close()
            await storage.close()
            storage = await openMemoryStorage(location, { keySpaces: eventStoreKeySpaces })
            store = await EventStore.open(storage)
          }
          // Compare.
          const expected = stored()
          const got = await collect(store.events(stream))
          if (got.map(keyOf).join() !== expected.map(keyOf).join()) throw new Error(`events differ after ${step.kind}: ${got.map(keyOf)} vs ${expected.map(keyOf)}`)
          const info = store.info(stream)
          if (info.count !== expected.length || info.deletedCount !== deleted || info.deliveredCount !== delivered.length) throw new Error(`info differs after ${step.kind}: ${JSON.stringify(info)}`)
          const byIndex = await store.readByIndex(stream, 0, 1000)
          const stillDelivered = delivered.map((e, index) => ({ e, index })).filter(({ e }) => held.has(keyOf(e)))
          if (byIndex.map((d) => `${d.index}:${keyOf(d.event)}`).join() !== stillDelivered.map(({ e, index }) => `${index}:${keyOf(e)}`).join()) throw new Error(`readByIndex differs after ${step.kind}`)
          for (const id of ['id-0', 'id-4']) {
            const copies = (await store.copiesOf(stream, id)).map(keyOf).join()
            const want = expected.filter((e) => e.id === id).map(keyOf).join()
            if (copies !== want) throw new Error(`copiesOf(${id}) differs after ${step.kind}: ${copies} vs ${want}`)
          }
        }
      } finally {
        await store.close()
        await storage.close()
        deletedKeys.clear()
      }
    }),
    { numRuns: 60 },
  )
  t.pass('60 random step sequences agree with the model')
})
