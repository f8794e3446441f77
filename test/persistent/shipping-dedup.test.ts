// RegionDedup (data-plane/persistent/shipping/region-dedup.ts), against naive references:
//  - on one region's own copies it is exactly EventSet's rule (`dedupSurvivors`);
//  - across regions, with shipped copies arriving after any lag and resent any number of times,
//    every logical message whose copies lie within one window is delivered exactly once in
//    every region, and its verdicts equal a reference that never forgets anything (the pruning
//    by watermark is exact);
//  - resends are dropped with the window off; limits evict and count; loops and malformed
//    provenance are counted.
import fc from 'fast-check'
import t from 'tap'
import { RegionDedup, compareEventOrder, dedupSurvivors, shippedHeaders, sourceHeader } from '../../data-plane/persistent/index.js'
import type { Hlc, StreamEvent } from '../../data-plane/persistent/index.js'
import { event, eventPoolArb } from './helpers.js'

t.test('on local copies it is EventSet’s dedup rule', async (t) => {
  fc.assert(
    fc.property(eventPoolArb, fc.constantFrom(0, 1, 5, 10, 30, 1000), (pool, windowMs) => {
      const order = [...pool].sort(compareEventOrder)
      const dedup = new RegionDedup({ region: 'east', regions: ['east', 'west'], dedupWindowMs: windowMs })
      const byId = new Map<string, StreamEvent[]>()
      for (const e of order) byId.set(e.id, [...(byId.get(e.id) ?? []), e])
      const survivors = new Set<StreamEvent>()
      for (const copies of byId.values()) dedupSurvivors(copies, windowMs).forEach((s, i) => s === i && survivors.add(copies[i] as StreamEvent))
      for (const e of order) {
        const verdict = dedup.offer(e)
        if (verdict.deliver !== survivors.has(e)) throw new Error(`${e.id}@${e.hlc.wallMs}: dedup says ${verdict.deliver}, EventSet rule says ${survivors.has(e)}`)
      }
      if (dedup.localShipSeq !== order.length) throw new Error(`localShipSeq ${dedup.localShipSeq}`)
    }),
    { numRuns: 300 },
  )
  t.pass('the same verdict as dedupSurvivors on every copy of 300 pools')
})

/** A naive reference: rule 1 and rule 2 with nothing ever forgotten. */
class NaiveDedup {
  readonly #positions = new Set<string>()
  readonly #survivors = new Map<string, number[]>()
  constructor(readonly windowMs: number) {}
  offer(id: string, sourceRegion: string, shipSeq: number | null, sourceMs: number): boolean {
    if (shipSeq !== null) {
      const key = `${sourceRegion}/${shipSeq}`
      if (this.#positions.has(key)) return false
      this.#positions.add(key)
    }
    const times = this.#survivors.get(id) ?? []
    if (times.some((s) => Math.abs(s - sourceMs) < this.windowMs)) return false
    this.#survivors.set(id, [...times, sourceMs])
    return true
  }
}

interface Published {
  readonly message: number
  readonly id: string
  readonly region: number
  readonly sourceMs: number
}

const regionNames = ['east', 'west', 'south']
const windowMs = 1000

/**
 * Logical messages: each has copies in one or more regions within one window of its first
 * (retries and the same id published elsewhere); ids are reused only two windows or more apart.
 */
const scenarioArb = fc.record({
  regions: fc.constantFrom(2, 3),
  messages: fc.array(
    fc.record({ gapMs: fc.integer({ min: 0, max: 700 }), copies: fc.array(fc.record({ region: fc.nat(2), offsetMs: fc.integer({ min: 0, max: windowMs - 1 }) }), { minLength: 1, maxLength: 4 }), idPool: fc.nat(3) }),
    { minLength: 1, maxLength: 40 },
  ),
  lagsMs: fc.array(fc.integer({ min: 0, max: 6000 }), { minLength: 200, maxLength: 200 }),
  resends: fc.array(fc.record({ pick: fc.nat(), delayMs: fc.integer({ min: 0, max: 8000 }) }), { maxLength: 30 }),
  idsMax: fc.constantFrom(1_000_000, 4),
})

t.test('across regions: once per logical message in every region, equal to the reference that forgets nothing', async (t) => {
  let shippedTotal = 0
  let duplicatesTotal = 0
  fc.assert(
    fc.property(scenarioArb, (s) => {
      // Publish: ids reused two windows or more apart (the id pool is per 2.5-window slot).
      const published: Published[] = []
      const lastUse = new Map<string, number>()
      let clockMs = 10_000
      s.messages.forEach((m, index) => {
        clockMs += m.gapMs
        let id = `id-${m.idPool}`
        if (clockMs - (lastUse.get(id) ?? -Infinity) < 2.5 * windowMs) id = `fresh-${index}`
        lastUse.set(id, clockMs)
        for (const c of m.copies) published.push({ message: index, id, region: c.region % s.regions, sourceMs: clockMs + c.offsetMs })
      })
      const regions = regionNames.slice(0, s.regions)
      // Each region's events in its own HLC order get shipSeqs; copies per source arrive in that order.
      const bySource = regions.map((_, r) => published.filter((p) => p.region === r).sort((a, b) => a.sourceMs - b.sourceMs))
      let lagIndex = 0
      for (let holder = 0; holder < s.regions; holder++) {
        interface Arrival { readonly atMs: number; readonly tie: number; readonly event: StreamEvent; readonly ref: { id: string; region: string; shipSeq: number | null; sourceMs: number; message: number } }
        const arrivals: Arrival[] = []
        let tie = 0
        for (let source = 0; source < s.regions; source++) {
          let arrivedMs = 0
          bySource[source]?.forEach((p, i) => {
            const shipSeq = i + 1
            const original = event({ origin: `${regions[source]}1`, originSeq: shipSeq, hlc: { wallMs: p.sourceMs, logical: i }, id: p.id })
            if (source === holder) {
              arrivals.push({ atMs: p.sourceMs, tie: tie++, event: original, ref: { id: p.id, region: regions[holder] as string, shipSeq: null, sourceMs: p.sourceMs, message: p.message } })
              return
            }
            // First copies arrive in shipping order, after any lag.
            arrivedMs = Math.max(arrivedMs, p.sourceMs + (s.lagsMs[lagIndex++ % s.lagsMs.length] as number))
            const copy = (atMs: number, n: number): Arrival => ({
              atMs,
              tie: tie++,
              event: { ...original, origin: `${regions[holder]}r`, originSeq: 1_000_000 + tie, hlc: { wallMs: atMs, logical: n }, headers: shippedHeaders(original, regions[source] as string, shipSeq) },
              ref: { id: p.id, region: regions[source] as string, shipSeq, sourceMs: p.sourceMs, message: p.message },
            })
            arrivals.push(copy(arrivedMs, 0))
            shippedTotal++
            for (const r of s.resends) if (r.pick % (bySource[source]?.length ?? 1) === i) arrivals.push(copy(arrivedMs + r.delayMs, 1))
          })
        }
        arrivals.sort((a, b) => a.atMs - b.atMs || a.tie - b.tie)
        const dedup = new RegionDedup({ region: regions[holder] as string, regions, dedupWindowMs: windowMs, idsMax: s.idsMax })
        const naive = new NaiveDedup(windowMs)
        const deliveredPerMessage = new Map<number, number>()
        for (const a of arrivals) {
          const verdict = dedup.offer(a.event)
          const expected = naive.offer(a.ref.id, a.ref.region, a.ref.shipSeq, a.ref.sourceMs)
          if (s.idsMax > 100 && verdict.deliver !== expected) throw new Error(`region ${regions[holder]}: ${a.ref.id} from ${a.ref.region}#${a.ref.shipSeq} at ${a.ref.sourceMs}: dedup ${verdict.deliver}, reference ${expected}`)
          if (verdict.deliver) deliveredPerMessage.set(a.ref.message, (deliveredPerMessage.get(a.ref.message) ?? 0) + 1)
        }
        if (s.idsMax > 100) {
          for (let m = 0; m < s.messages.length; m++) {
            if (deliveredPerMessage.get(m) !== 1) throw new Error(`region ${regions[holder]}: message ${m} delivered ${deliveredPerMessage.get(m) ?? 0} times`)
          }
        }
        duplicatesTotal += dedup.stats.duplicates
        for (const source of regions) if (source !== regions[holder]) if (dedup.deliveredThrough(source) !== bySource[regions.indexOf(source)]?.length) throw new Error(`deliveredThrough(${source}) is ${dedup.deliveredThrough(source)}`)
      }
    }),
    { numRuns: 2000 },
  )
  t.ok(shippedTotal > 1000 && duplicatesTotal > 100, `exercised: ${shippedTotal} shipped copies, ${duplicatesTotal} duplicates dropped`)
})

const hlc = (wallMs: number): Hlc => ({ wallMs, logical: 0 })
const shipped = (id: string, fromRegion: string, shipSeq: number, sourceMs: number, atMs: number, n = 0): StreamEvent => ({
  ...event({ origin: 'r1', originSeq: 100 + n + shipSeq, hlc: hlc(atMs), id }),
  headers: shippedHeaders(event({ origin: 'o1', originSeq: shipSeq, hlc: hlc(sourceMs), id }), fromRegion, shipSeq),
})

t.test('scenarios: receipt order does not matter, resends, window off, loops, bad headers', async (t) => {
  const d = new RegionDedup({ region: 'west', regions: ['east', 'west'], dedupWindowMs: 2000 })
  // The same id published in west at 10,000 and in east at 10,500, arriving 5 s later.
  t.ok(d.offer(event({ origin: 'w1', originSeq: 1, hlc: hlc(10_000), id: 'twin' })).deliver, 'the local copy is delivered first')
  const late = d.offer(shipped('twin', 'east', 1, 10_500, 15_500))
  t.same([late.deliver, late.deliver ? '' : late.reason], [false, 'duplicate'], 'the copy from east is a duplicate although it arrived 5.5 s later (source time)')
  const resend = d.offer(shipped('other', 'east', 1, 10_500, 15_600, 1))
  t.same(resend.deliver ? '' : resend.reason, 'resend', 'east#1 again (even with another id) is a resend')
  t.equal(d.deliveredThrough('east'), 1)
  // An id reused far apart at its sources lands close together at receipt: both delivered.
  t.ok(d.offer(event({ origin: 'w1', originSeq: 2, hlc: hlc(16_000), id: 'reused' })).deliver)
  t.ok(d.offer(shipped('reused', 'east', 2, 11_000, 16_100)).deliver, 'a use 5 s earlier at its source is another message')

  const off = new RegionDedup({ region: 'west', regions: ['east', 'west'], dedupWindowMs: 0 })
  t.ok(off.offer(event({ origin: 'w1', originSeq: 1, hlc: hlc(10_000), id: 'x' })).deliver)
  t.ok(off.offer(shipped('x', 'east', 1, 10_000, 10_100)).deliver, 'window off: the same id is delivered again')
  t.notOk(off.offer(shipped('x', 'east', 1, 10_000, 10_200, 1)).deliver, 'window off: a resend is still dropped')
  t.equal(off.stats.idsTracked, 0, 'window off: no id is tracked')

  const loop = d.offer(shipped('l', 'west', 9, 1, 16_200))
  t.same(loop.deliver ? '' : loop.reason, 'loop', 'a copy of this region’s own event shipped back is not delivered')
  const bad = d.offer({ ...event({ origin: 'w2', originSeq: 1, hlc: hlc(16_300), id: 'bad' }), headers: [[sourceHeader, 'garbage']] })
  t.ok(bad.deliver && bad.source.region === 'west', 'a malformed Rg-Source is treated as a local event')
  t.equal(d.stats.malformedProvenance, 1)
  t.equal(d.stats.loops, 1)
})

t.test('bounded state: the window passing everywhere forgets, idsMax evicts, the horizon lets a silent region go', async (t) => {
  const d = new RegionDedup({ region: 'west', regions: ['east', 'west'], dedupWindowMs: 1000, horizonMs: 60_000 })
  for (let i = 1; i <= 100; i++) d.offer(event({ origin: 'w1', originSeq: i, hlc: hlc(i * 100), id: `w${i}` }))
  t.equal(d.stats.idsTracked, 100, 'east has shipped nothing: west’s ids stay (a copy from east could still come)')
  d.offer(shipped('e1', 'east', 1, 9_000, 10_100))
  t.equal(d.stats.idsTracked, 21, 'east has shipped up to 9,000: ids at 8,000 or older are forgotten (w81..w100 and e1 stay)')
  const silent = new RegionDedup({ region: 'west', regions: ['east', 'west'], dedupWindowMs: 1000, horizonMs: 5_000 })
  for (let i = 1; i <= 100; i++) silent.offer(event({ origin: 'w1', originSeq: i, hlc: hlc(i * 100), id: `w${i}` }))
  t.ok(silent.stats.idsTracked <= 61, `east silent past the horizon: only the last horizon + window is kept (${silent.stats.idsTracked})`)
  t.equal(silent.stats.evicted, 0, 'forgetting past the horizon is not an eviction')
  const small = new RegionDedup({ region: 'west', regions: ['east', 'west'], dedupWindowMs: 1000, idsMax: 10 })
  for (let i = 1; i <= 50; i++) small.offer(event({ origin: 'w1', originSeq: i, hlc: hlc(i), id: `w${i}` }))
  t.equal(small.stats.idsTracked, 10, 'idsMax holds')
  t.equal(small.stats.evicted, 40, 'evictions are counted')
  t.throws(() => new RegionDedup({ region: 'north', regions: ['east', 'west'], dedupWindowMs: 1 }), /not among/)
})
