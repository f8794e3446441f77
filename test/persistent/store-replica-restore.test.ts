// The event store's restart read for a StreamReplica (store/replica-restore.ts): it must hand the
// replica exactly what the reference computation over the whole history gives
// (`restoreFromHistory`, replica/restore.ts) — held vectors and gaps, settled prefixes, the
// unsettled copies, the resume point and its dedup window — for random histories (several
// origins, duplicates skipped by delivery, gaps above the delivered point, a closed
// incarnation), on both storage adapters; and it must read O(window + unsettled) events, not the
// history (issue #5: reopen in seconds).
import fc from 'fast-check'
import t from 'tap'
import { EventStore, compareEventOrder, originKey, readReplicaRestore, restoreFromHistory } from '../../data-plane/persistent/index.js'
import type { CloseDecision, RestoredReplicaState, StreamEvent } from '../../data-plane/persistent/index.js'
import { eventsKeySpace } from '../../data-plane/persistent/store/keys.js'
import { delegateStorage } from '../storage/delegate.js'
import { makeEvent, storeLocations, stream } from './store-helpers.js'

interface History {
  readonly held: StreamEvent[]
  readonly deliveries: StreamEvent[]
  readonly closes: CloseDecision[]
}

/**
 * Origins a, b, c with rising wallMs; a prefix of the merged order is delivered (copies reusing an
 * earlier id inside it are skipped as duplicates); above it each origin holds a few more copies,
 * with a gap; c may be closed at or above its last settled sequence.
 */
function buildHistory(seed: { counts: number[]; steps: number[]; deliveredFraction: number; extra: number[]; duplicateEvery: number; closeC: number | null }): History {
  const all: StreamEvent[] = []
  ;['a', 'b', 'c'].forEach((origin, o) => {
    let wallMs = 1_000 + o
    for (let seq = 1; seq <= (seed.counts[o] ?? 0); seq++) {
      wallMs += 1 + ((seed.steps[o] ?? 1) * seq) % 7
      const id = seed.duplicateEvery > 0 && seq % seed.duplicateEvery === 0 ? `${origin}-dup-${seq - 1}` : `${origin}-dup-${seq}`
      all.push(makeEvent({ origin, originSeq: seq, wallMs, id }))
    }
  })
  all.sort(compareEventOrder)
  const deliveredCount = Math.floor(all.length * seed.deliveredFraction)
  const prefix = all.slice(0, deliveredCount)
  const deliveries: StreamEvent[] = []
  const seen = new Set<string>()
  for (const e of prefix) {
    if (seen.has(e.id)) continue
    seen.add(e.id)
    deliveries.push(e)
  }
  // Trim the delivery log so it ends on a delivered copy (the resume point), keeping the prefix it covers.
  const last = deliveries.at(-1)
  const settledPrefix = last === undefined ? [] : prefix.filter((e) => compareEventOrder(e, last) <= 0)
  const held = [...settledPrefix]
  ;['a', 'b', 'c'].forEach((origin, o) => {
    const rest = all.filter((e) => e.origin === origin && !held.includes(e))
    const take = Math.min(rest.length, seed.extra[o] ?? 0)
    // Keep the first `take` unsettled copies but drop the second one (a gap above the prefix).
    rest.slice(0, take).forEach((e, i) => {
      if (i !== 1) held.push(e)
    })
  })
  const closes: CloseDecision[] = []
  if (seed.closeC !== null) {
    const cSettled = settledPrefix.filter((e) => e.origin === 'c').length
    closes.push({ origin: 'c', incarnation: 1, atSeq: cSettled + seed.closeC, controllerTerm: 1 })
  }
  return { held, deliveries, closes }
}

const historyArbitrary = fc.record({
  counts: fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 3, maxLength: 3 }),
  steps: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 3, maxLength: 3 }),
  deliveredFraction: fc.double({ min: 0, max: 1, noNaN: true }),
  extra: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 3, maxLength: 3 }),
  duplicateEvery: fc.integer({ min: 0, max: 5 }),
  closeC: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }),
})

const dedupWindowMs = 25

/** A comparable form (maps sorted, events by key). */
function canonical(r: Pick<RestoredReplicaState, 'held' | 'settled' | 'events' | 'resume'>): unknown {
  return {
    held: [...r.held].sort(([x], [y]) => (x < y ? -1 : 1)),
    settled: [...r.settled].sort(([x], [y]) => (x < y ? -1 : 1)),
    events: [...r.events].sort(compareEventOrder).map((e) => `${originKey(e.origin, e.incarnation)}:${e.originSeq}`),
    resume: r.resume === null ? null : { lastDelivered: r.resume.lastDelivered, deliveredCount: r.resume.deliveredCount, survivors: r.resume.window.entries() },
  }
}

/** `idsEvery`: every n-th delivery record carries its id (0: none, as records written before ids were kept). */
async function storeWith(storage: Awaited<ReturnType<ReturnType<ReturnType<typeof storeLocations>[number]>['open']>>, history: History, idsEvery: number): Promise<EventStore> {
  const store = await EventStore.open(storage)
  await store.ensureStream(stream, { dedupWindowMs })
  for (let i = 0; i < history.held.length; i += 500) await store.append(stream, history.held.slice(i, i + 500))
  for (let i = 0; i < history.deliveries.length; i += 500) {
    await store.recordDeliveries(stream, history.deliveries.slice(i, i + 500).map((event, k) => ({ index: i + k, position: event, ...(idsEvery > 0 && (i + k) % idsEvery === 0 ? { id: event.id } : {}) })))
  }
  return store
}

for (const makeLocation of storeLocations()) {
  t.test(`${makeLocation().name}: the store's restart read equals the reference over the whole history`, async (t) => {
    let runs = 0
    await fc.assert(
      fc.asyncProperty(historyArbitrary, fc.integer({ min: 0, max: 3 }), async (seed, idsEvery) => {
        const history = buildHistory(seed)
        const location = makeLocation()
        const storage = await location.open()
        try {
          const store = await storeWith(storage, history, idsEvery)
          const fromStore = await readReplicaRestore(store, stream, { closes: history.closes, dedupWindowMs })
          const reference = restoreFromHistory({ events: history.held, deliveries: history.deliveries, clockCeilingMs: 0, fences: [], closes: history.closes, dedupWindowMs })
          t.same(canonical(fromStore), canonical(reference))
          await store.close()
          runs++
        } finally {
          await storage.close()
          await location.cleanup()
        }
      }),
      { numRuns: makeLocation().name === 'memory' ? 150 : 15 },
    )
    t.ok(runs > 0)
  })
}

t.test('a restart read of 20,000 events reads the dedup window and the unsettled tail, not the history', async (t) => {
  const makeLocation = storeLocations()[0] as (typeof storeLocations extends () => Array<infer L> ? L : never)
  const location = makeLocation()
  const inner = await location.open()
  let eventReads = 0
  const storage = delegateStorage(inner, {
    get: async (keySpace, key) => {
      if (keySpace === eventsKeySpace) eventReads++
      return inner.get(keySpace, key)
    },
    range: (keySpace, options) => {
      const source = inner.range(keySpace, options)
      if (keySpace !== eventsKeySpace) return source
      return {
        [Symbol.asyncIterator]: async function* () {
          for await (const entry of source) {
            eventReads++
            yield entry
          }
        },
      }
    },
  })
  // Two origins, one event per ms each: 20,000 events over 10 s; 19,990 delivered.
  const held: StreamEvent[] = []
  for (let seq = 1; seq <= 10_000; seq++) for (const origin of ['a', 'b']) held.push(makeEvent({ origin, originSeq: seq, wallMs: 10_000 + seq }))
  held.sort(compareEventOrder)
  const deliveries = held.slice(0, 19_990)
  const store = await storeWith(storage, { held, deliveries, closes: [] }, 1)
  eventReads = 0
  const restored = await readReplicaRestore(store, stream, { closes: [], dedupWindowMs })
  t.equal(restored.events.length, 10, 'the 10 unsettled copies')
  t.equal(restored.resume?.deliveredCount, 19_990)
  // 25 ms window × 2 events per ms = 50 survivors, read from the delivery index (which carries ids);
  // the binary search reads origin-seq entries only.
  t.ok((restored.resume?.window.size ?? 0) >= 48 && (restored.resume?.window.size ?? 0) <= 52, `window: ${restored.resume?.window.size} survivors`)
  t.ok(eventReads <= 10, `events read: ${eventReads} of 20,000 (the unsettled tail)`)
  const reference = restoreFromHistory({ events: held, deliveries, clockCeilingMs: 0, fences: [], closes: [], dedupWindowMs })
  t.same(canonical(restored), canonical(reference))
  await store.close()
  await storage.close()
  await location.cleanup()
})
