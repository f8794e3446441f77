// The region tap on a replica's delivered log (server/shipping/region-tap.ts, group-sequence.ts,
// ship-window.ts), over an engine double whose delivery cache holds only the latest deliveries
// (the rest is read asynchronously, as from the store):
//  - its verdicts, group sequence, shipping source and deliveredThrough equal RegionDedup fed the
//    same deliveries directly (the wiring of data-plane/persistent/shipping README), whether the
//    deliveries arrive one by one or are all there at open (a restart rebuilds the same state),
//    and the digest counts each logical event once (a receiver's resend is not counted again);
//  - the group sequence reads (fetch and cached) return exactly the deliveries let through, with
//    group positions; a start by time maps a delivery index to the next group position;
//  - the ship window answers the shipper synchronously, reads what the cache lacks from the
//    store, never shows a head past what it holds, and stays within its bound.
import fc from 'fast-check'
import t from 'tap'
import { RegionDedup, globalKeyOf, shippedHeaders } from '../../data-plane/persistent/index.js'
import type { StreamEvent } from '../../data-plane/persistent/index.js'
import { GroupSequence, RegionTap, ShipWindow } from '../../server/shipping/index.js'
import type { TapEngine } from '../../server/shipping/index.js'

type Row = { readonly index: number; readonly event: StreamEvent }

/** A delivered log with a delivery cache of the latest `cacheEvents`, reads answered on a later turn. */
class EngineDouble implements TapEngine {
  readonly log: StreamEvent[] = []
  readonly #listeners = new Set<(count: number) => void>()
  storeReads = 0
  constructor(readonly cacheEvents: number) {}
  get deliveredCount(): number {
    return this.log.length
  }
  deliver(events: readonly StreamEvent[]): void {
    this.log.push(...events)
    for (const listener of [...this.#listeners]) listener(this.log.length)
  }
  onDelivered(listener: (count: number) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }
  #rows(from: number, max: number): Row[] {
    const end = Math.min(this.log.length, from + Math.min(max, 1_000))
    const rows: Row[] = []
    for (let index = Math.max(0, from); index < end; index++) rows.push({ index, event: this.log[index] as StreamEvent })
    return rows
  }
  cached(from: number, max: number): Row[] | undefined {
    if (from < this.log.length - this.cacheEvents) return undefined
    return this.#rows(from, max)
  }
  async fetch(from: number, max: number): Promise<Row[]> {
    this.storeReads++
    await new Promise((resolve) => setImmediate(resolve))
    return this.#rows(from, max)
  }
}

const until = async (what: string, check: () => boolean): Promise<void> => {
  for (let i = 0; i < 2_000 && !check(); i++) await new Promise((resolve) => setImmediate(resolve))
  if (!check()) throw new Error(`not reached: ${what}`)
}

/**
 * A delivered log of region `us` for a stream in eu and us: local events and copies shipped from
 * eu (with Rg-Source), some shipped twice (a receiver resend), ids reused inside and outside the
 * window.
 */
const logArb = fc
  .array(fc.record({ local: fc.boolean(), id: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), gapMs: fc.nat(40), resend: fc.nat(5) }), { maxLength: 120 })
  .map((steps) => {
    const log: StreamEvent[] = []
    let clock = 1_000
    let localSeq = 0
    let euSeq = 0
    let euClock = 1_000
    const shipped: StreamEvent[] = []
    for (const step of steps) {
      clock += step.gapMs
      euClock += step.gapMs
      if (step.local) {
        localSeq++
        log.push({ stream: 'default/orders', id: step.id, hlc: { wallMs: clock, logical: 0 }, origin: 'u1', incarnation: 1, originSeq: localSeq, headers: [['Rg-Subject', 'orders']], payload: new TextEncoder().encode(`${step.id}@${clock}`) })
      } else {
        euSeq++
        const original: StreamEvent = { stream: 'default/orders', id: step.id, hlc: { wallMs: euClock, logical: 0 }, origin: 'e1', incarnation: 1, originSeq: euSeq, headers: [['Rg-Subject', 'orders']], payload: new TextEncoder().encode(`${step.id}@eu${euClock}`) }
        localSeq++
        const copy: StreamEvent = { ...original, origin: 'u1', originSeq: localSeq, hlc: { wallMs: clock, logical: 0 }, headers: shippedHeaders(original, 'eu', euSeq) }
        log.push(copy)
        shipped.push(copy)
        if (step.resend === 0 && shipped.length > 1) {
          // A receiver wrote an earlier shipped copy again (a resend): same provenance, a new copy here.
          const again = shipped[shipped.length - 2] as StreamEvent
          localSeq++
          log.push({ ...again, originSeq: localSeq, hlc: { wallMs: clock, logical: 1 } })
        }
      }
    }
    return log
  })

const windowMs = 30

function reference(log: readonly StreamEvent[]): { group: number[]; local: number[]; deliveredThrough: number } {
  const dedup = new RegionDedup({ region: 'us', regions: ['eu', 'us'], dedupWindowMs: windowMs })
  const group: number[] = []
  const local: number[] = []
  log.forEach((event, index) => {
    const verdict = dedup.offer(event)
    if (verdict.source.region === 'us' && !(verdict.deliver === false && verdict.reason === 'loop')) local.push(index)
    if (verdict.deliver) group.push(index)
  })
  return { group, local, deliveredThrough: dedup.deliveredThrough('eu') }
}

const tapOf = (engine: EngineDouble, onRemote?: (source: string, through: number) => void): RegionTap =>
  new RegionTap(engine, { stream: 'default/orders', region: 'us', regions: ['eu', 'us'], dedupWindowMs: windowMs, ...(onRemote === undefined ? {} : { onRemoteDelivered: onRemote }) })

const positions = (tap: RegionTap, which: 'group' | 'local'): number[] => Array.from({ length: tap[which].length }, (_, i) => tap[which].at(i))

t.test('the tap equals RegionDedup fed directly, delivered one chunk at a time or rebuilt at open', async (t) => {
  await fc.assert(
    fc.asyncProperty(logArb, fc.integer({ min: 1, max: 7 }), fc.integer({ min: 0, max: 20 }), async (log, chunk, cacheEvents) => {
      const expected = reference(log)
      // Live: deliveries arrive in chunks.
      const engine = new EngineDouble(cacheEvents)
      let remoteThrough = 0
      const live = tapOf(engine, (source, through) => {
        if (source !== 'eu' || through < remoteThrough) throw new Error(`deliveredThrough went back: ${through} < ${remoteThrough}`)
        remoteThrough = through
      })
      live.start()
      for (let i = 0; i < log.length; i += chunk) {
        engine.deliver(log.slice(i, i + chunk))
        if (i % 3 === 0) await new Promise((resolve) => setImmediate(resolve))
      }
      await until('the live tap read everything', () => live.processed === log.length)
      // Restart: a new tap over the whole log at open (read back from index 0).
      const restarted = tapOf(engine)
      restarted.start()
      await until('the rebuilt tap read everything', () => restarted.processed === log.length && restarted.caughtUp)
      for (const tap of [live, restarted]) {
        if (JSON.stringify(positions(tap, 'group')) !== JSON.stringify(expected.group)) throw new Error(`group sequence ${JSON.stringify(positions(tap, 'group'))} vs ${JSON.stringify(expected.group)}`)
        if (JSON.stringify(positions(tap, 'local')) !== JSON.stringify(expected.local)) throw new Error('shipping source differs')
        if (tap.dedup.deliveredThrough('eu') !== expected.deliveredThrough) throw new Error('deliveredThrough differs')
      }
      if (remoteThrough !== expected.deliveredThrough) throw new Error(`reported deliveredThrough ${remoteThrough}, expected ${expected.deliveredThrough}`)
      if (JSON.stringify(live.digest.view()) !== JSON.stringify(restarted.digest.view())) throw new Error('digests differ after a rebuild')
      // The digest counts each logical event once: a copy written twice (a resend) is not added again.
      const names = new Set(
        log.map((event) => {
          const key = globalKeyOf(event, 'us')
          return key.ok ? key.value : ''
        }),
      )
      if (live.digest.view().events !== names.size) throw new Error(`digest counted ${live.digest.view().events} events, ${names.size} logical ones`)
      live.stop()
      restarted.stop()
    }),
    { numRuns: 150 },
  )
  t.pass('150 logs: live and rebuilt taps agree with RegionDedup')
})

t.test('the group sequence reads what RegionDedup let through, by group position', async (t) => {
  const events: StreamEvent[] = []
  // m0..m19 twice within the window (duplicates), then once more two windows later (delivered again).
  for (let i = 0; i < 60; i++) events.push({ stream: 'default/orders', id: `m${i % 20}`, hlc: { wallMs: i < 40 ? 1_000 + i : 2_000 + i, logical: 0 }, origin: 'u1', incarnation: 1, originSeq: i + 1, headers: [], payload: new Uint8Array([i]) })
  const engine = new EngineDouble(10)
  engine.deliver(events)
  const tap = tapOf(engine)
  tap.start()
  await until('read', () => tap.caughtUp)
  const view = new GroupSequence(tap, engine)
  const expected = reference(events).group
  t.equal(expected.length, 40, 'the 20 copies inside the window are duplicates')
  t.equal(view.deliveredCount, expected.length)
  const fetched = await view.fetch(0, 1_000)
  t.same(fetched.map((row) => row.index), expected.map((_, i) => i), 'group positions 0..n-1')
  t.same(fetched.map((row) => row.event), expected.map((index) => events[index]), 'the events let through, in order')
  t.equal(view.cached(0, 5), undefined, 'the engine cache does not hold the start: no synchronous answer')
  const tail = view.cached(expected.length - 3, 10)
  t.same(tail?.map((row) => row.event), expected.slice(-3).map((index) => events[index]), 'the tail from the cache')
  t.equal(view.positionAtOrAfterDelivery(0), 0)
  t.equal(view.positionAtOrAfterDelivery(events.length), expected.length, 'past the end: the next position')
  const grew: number[] = []
  view.onDelivered((count) => grew.push(count))
  engine.deliver([{ stream: 'default/orders', id: 'fresh', hlc: { wallMs: 99_000, logical: 0 }, origin: 'u1', incarnation: 1, originSeq: 61, headers: [], payload: new Uint8Array(0) }])
  await until('grew', () => grew.length > 0)
  t.same(grew, [expected.length + 1], 'listeners hear the new length')
  tap.stop()
})

t.test('the ship window answers the shipper synchronously, reads the rest from the store, stays bounded', async (t) => {
  const events: StreamEvent[] = []
  for (let i = 0; i < 300; i++) events.push({ stream: 'default/orders', id: `l${i}`, hlc: { wallMs: 5_000 + i, logical: 0 }, origin: 'u1', incarnation: 1, originSeq: i + 1, headers: [], payload: new Uint8Array(8) })
  const engine = new EngineDouble(50)
  engine.deliver(events)
  const tap = tapOf(engine)
  tap.start()
  await until('read', () => tap.caughtUp)
  let loads = 0
  const window = new ShipWindow(tap, engine, { eventsMax: 64, onLoaded: () => loads++ })
  // A shipper at the head: the cache holds it all.
  window.prepare(280, 281)
  const atHead = window.source()
  t.equal(atHead.head, 300)
  t.equal(atHead.event(290).id, 'l289')
  // A shipper far behind (a region was cut off): nothing held yet, a store read starts.
  const reads = engine.storeReads
  window.prepare(10, 11)
  t.equal(window.source().head, 10, 'the head is cut before the first event not held')
  await until('loaded', () => loads > 0)
  t.ok(engine.storeReads > reads, 'read from the store')
  window.prepare(10, 11)
  const behind = window.source()
  t.ok(behind.head >= 11 && behind.head <= 10 + 64, `the head is cut by the window bound (${behind.head})`)
  for (let seq = 11; seq <= behind.head; seq++) t.equal(behind.event(seq).id, `l${seq - 1}`)
  t.ok(window.size <= 64, `at most eventsMax held (${window.size})`)
  t.equal(window.lag(10, 5_000 + 100).events, 290, 'lag: events after the cursor')
  t.equal(window.lag(10, 5_000 + 100).ms, 90, 'lag: the oldest unacknowledged event (shipSeq 11, source time 5010) waited 90 ms')
  t.throws(() => behind.event(behind.head + 1), /not held/, 'asking past the head is a bug')
  window.stop()
  tap.stop()
})
