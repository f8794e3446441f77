// The orderer's compact dedup window (data-plane/persistent/dedup-window.ts; issue #5): ids kept
// as 64-bit fingerprints, every fingerprint match confirmed against the survivor's real id —
// from the caller's lookup, from ids learned before, or by asking (`unresolved` → `learnId`).
// Checked against the dedup rule's reference (`dedupSurvivors`, event-set.ts) with the real
// fingerprint and with one that collides on purpose (exactness must not depend on it), through
// growth, expiry and shrinking; and the Orderer pausing at a copy until the ids it needs are
// learned, delivering exactly the deduplicated log.
import fc from 'fast-check'
import t from 'tap'
import { DedupWindow, idFingerprint, isUnresolved } from '../../data-plane/persistent/dedup-window.js'
import type { IdLookup, UnresolvedIds } from '../../data-plane/persistent/dedup-window.js'
import { EventSet, Orderer, compareEventOrder, copyKeyOf, dedupSurvivors } from '../../data-plane/persistent/index.js'
import type { EventPosition, Hlc, OrderSource, StreamEvent } from '../../data-plane/persistent/index.js'
import type { SeqRange } from '../../data-plane/persistent/version-vector.js'
import { event, eventPoolArb, keyOf, stream } from './helpers.js'

type Verdict = EventPosition | UnresolvedIds | null

const position = (e: EventPosition): EventPosition => ({ hlc: e.hlc, origin: e.origin, incarnation: e.incarnation, originSeq: e.originSeq })

/** Copies in delivery order: `steps` of (id, ms after the previous copy, origin). */
function copiesOf(steps: ReadonlyArray<{ readonly id: string; readonly stepMs: number; readonly origin: number }>): StreamEvent[] {
  const seqs = [0, 0, 0]
  let wallMs = 1000
  let logical = 0
  return steps.map((s) => {
    if (s.stepMs > 0) {
      wallMs += s.stepMs
      logical = 0
    } else logical++
    const o = s.origin % 3
    seqs[o] = (seqs[o] as number) + 1
    return event({ origin: `n${o}`, originSeq: seqs[o] as number, hlc: { wallMs, logical }, id: s.id })
  })
}

/** The rule over the whole sequence: each copy's survivor (null = it survives), by copy key. */
function reference(copies: readonly StreamEvent[], windowMs: number): Map<string, string | null> {
  const byId = new Map<string, StreamEvent[]>()
  for (const c of copies) {
    const list = byId.get(c.id) ?? []
    list.push(c)
    byId.set(c.id, list)
  }
  const out = new Map<string, string | null>()
  for (const list of byId.values()) {
    dedupSurvivors(list, windowMs).forEach((s, i) => out.set(keyOf(list[i] as StreamEvent), s === i ? null : keyOf(list[s] as StreamEvent)))
  }
  return out
}

interface Driven {
  /** Per copy: the survivor's key or null. */
  readonly verdicts: Map<string, string | null>
  /** learnId calls (reads a driver would make) and how many of them were for another id than the copy's. */
  readonly reads: number
  readonly foreignReads: number
  readonly maxSize: number
}

/**
 * Takes `copies` in order through a window the way the orderer does: a copy whose verdict is
 * unresolved gets its survivors' ids "read" (`learnId` from the full history) and is taken
 * again; `inMemory(copy)` says which copies the lookup still knows; expiry after every
 * `expireEvery` copies at the last copy taken.
 */
function drive(window: DedupWindow, copies: readonly StreamEvent[], inMemory: (e: StreamEvent) => boolean, expireEvery: number): Driven {
  const byKey = new Map(copies.map((c) => [keyOf(c), c] as const))
  const taken = new Set<string>()
  const lookup: IdLookup = (p) => {
    const copy = byKey.get(copyKeyOf(p))
    if (copy === undefined || !taken.has(keyOf(copy))) throw new Error(`lookup of ${copyKeyOf(p)}: not a copy taken before`)
    return inMemory(copy) ? copy.id : undefined
  }
  const verdicts = new Map<string, string | null>()
  let reads = 0
  let foreignReads = 0
  let maxSize = 0
  copies.forEach((copy, i) => {
    let verdict: Verdict = window.take(copy, lookup)
    for (let round = 0; isUnresolved(verdict); round++) {
      if (round > 0) throw new Error(`${keyOf(copy)}: still unresolved after its ids were learned`)
      for (const p of verdict.unresolved) {
        const survivor = byKey.get(copyKeyOf(p)) as StreamEvent
        reads++
        if (survivor.id !== copy.id) foreignReads++
        if (!window.learnId(p, survivor.id)) throw new Error(`learnId(${copyKeyOf(p)}) found no survivor there`)
      }
      verdict = window.take(copy, lookup)
    }
    taken.add(keyOf(copy))
    verdicts.set(keyOf(copy), verdict === null ? null : copyKeyOf(verdict))
    maxSize = Math.max(maxSize, window.size)
    if (expireEvery > 0 && i % expireEvery === 0) window.expire(copy.hlc.wallMs)
  })
  return { verdicts, reads, foreignReads, maxSize }
}

const stepsArb = fc.array(fc.record({ id: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'), stepMs: fc.integer({ min: 0, max: 9 }), origin: fc.nat(2) }), { maxLength: 200 })
/** Fingerprints that collide on purpose: 3 values for all ids (only the low lane differs). */
const colliding = (id: string): readonly [number, number] => [7, id.charCodeAt(0) % 3]

t.test('property: the verdicts equal the rule, whatever the fingerprint (real, or colliding on purpose) and whatever the lookup knows', async () => {
  fc.assert(
    fc.property(stepsArb, fc.integer({ min: 1, max: 30 }), fc.boolean(), fc.nat(3), fc.nat(4), (steps, windowMs, collide, memoryMod, expireEvery) => {
      const copies = copiesOf(steps)
      const window = new DedupWindow(windowMs, collide ? { fingerprintOf: colliding } : {})
      // memoryMod 0: the lookup knows nothing (every match is read); else every memoryMod-th copy is in memory.
      const run = drive(window, copies, (e) => memoryMod > 0 && e.originSeq % memoryMod === 0, expireEvery)
      const expected = reference(copies, windowMs)
      for (const c of copies) {
        if (run.verdicts.get(keyOf(c)) !== expected.get(keyOf(c))) throw new Error(`${keyOf(c)} (${c.id}): ${run.verdicts.get(keyOf(c))} ≠ rule ${expected.get(keyOf(c))}`)
      }
      if (!collide && run.foreignReads > 0) throw new Error(`${run.foreignReads} reads for another id with the real fingerprint`)
    }),
    { numRuns: 1000 },
  )
})

t.test('reads happen only for matches: distinct ids need none; a retry needs one, a third copy none', async (t) => {
  const window = new DedupWindow(100)
  const none: IdLookup = () => undefined
  for (let i = 0; i < 5000; i++) {
    const verdict = window.take(event({ origin: 'a', originSeq: i + 1, hlc: { wallMs: 1000 + i, logical: 0 }, id: `id-${i}` }), none)
    if (verdict !== null) t.fail(`id-${i}: ${JSON.stringify(verdict)}`)
    window.expire(1000 + i)
  }
  t.equal(window.size, 100, 'one window of survivors: 100 ids at one per ms')
  const retry = event({ origin: 'b', originSeq: 1, hlc: { wallMs: 6000, logical: 0 }, id: 'id-4950' })
  const first = window.take(retry, none)
  t.ok(isUnresolved(first) && first.unresolved.length === 1 && first.unresolved[0]?.originSeq === 4951, 'the retry names its survivor to read')
  t.same(window.take(retry, none), first, 'nothing changes until it is learned')
  t.ok(window.learnId((first as UnresolvedIds).unresolved[0] as EventPosition, 'id-4950'))
  t.same(window.take(retry, none), position({ origin: 'a', incarnation: 1, originSeq: 4951, hlc: { wallMs: 5950, logical: 0 } }), 'then it folds into it')
  const third = event({ origin: 'b', originSeq: 2, hlc: { wallMs: 6001, logical: 0 }, id: 'id-4950' })
  const thirdVerdict = window.take(third, none)
  t.ok(thirdVerdict !== null && !isUnresolved(thirdVerdict) && thirdVerdict.originSeq === 4951, 'a third copy is judged without a read (the id was learned)')
  t.throws(() => window.learnId((first as UnresolvedIds).unresolved[0] as EventPosition, 'another id'), /not the one kept there/, 'an id read back with another fingerprint is a bug')
  t.notOk(window.learnId(position({ origin: 'a', incarnation: 1, originSeq: 1, hlc: { wallMs: 1000, logical: 0 } }), 'id-0'), 'an expired survivor: nothing to learn')
})

t.test('a survivor the store no longer holds (learned as null): its fingerprint decides, the documented exception', async (t) => {
  const window = new DedupWindow(100, { fingerprintOf: colliding })
  const none: IdLookup = () => undefined
  const s = event({ origin: 'a', originSeq: 1, hlc: { wallMs: 1000, logical: 0 }, id: 'x' })
  t.equal(window.take(s, none), null)
  // 'x' and 'u' collide (same first character code modulo 3).
  t.equal(idFingerprint('x') === idFingerprint('u'), false, 'the real fingerprint tells them apart')
  const other = event({ origin: 'b', originSeq: 1, hlc: { wallMs: 1010, logical: 0 }, id: 'u' })
  const asked = window.take(other, none)
  t.ok(isUnresolved(asked))
  t.ok(window.learnId(position(s), null))
  t.same(window.take(other, none), position(s), 'with the survivor unreadable, a colliding id folds into it')
  const exact = new DedupWindow(100, { fingerprintOf: colliding })
  exact.take(s, none)
  exact.learnId(position(s), 'x')
  t.equal(exact.take(other, none), null, 'with the id read, the same copy survives')
})

t.test('memory: 28 B per ring slot plus the table; growth, expiry and shrinking keep the verdicts', async (t) => {
  const window = new DedupWindow(60_000)
  const none: IdLookup = () => undefined
  const emptyBytes = window.bytes
  // 300,000 distinct ids, 5 per ms: the window holds all of them until expiry.
  for (let i = 0; i < 300_000; i++) window.take(event({ origin: `n${i % 3}`, originSeq: Math.floor(i / 3) + 1, hlc: { wallMs: 1000 + Math.floor(i / 5), logical: i % 5 }, id: `u${i}` }), none)
  t.equal(window.size, 300_000)
  const perId = window.bytes / window.size
  t.ok(perId <= 64, `${perId.toFixed(1)} B per id (ring 28 B per slot, table 4 B per entry at load ≤ ½, slack of growth)`)
  t.ok(isUnresolved(window.survivorOf('u12345', none)), 'an old id is still matched')
  t.equal(window.survivorOf('u-absent', none), null, 'an absent id is not')
  window.expire(1000 + 30_000 + 60_000 - 1)
  t.equal(window.size, 300_000 - 150_000, 'survivors a window behind the point are dropped, in order')
  const kept = window.survivorOf('u200000', (p) => (p.origin === 'n2' && p.originSeq === 66_667 ? 'u200000' : undefined))
  t.ok(kept !== null && !isUnresolved(kept) && kept.originSeq === 66_667, 'a later id is kept and confirmed by its lookup')
  t.equal(window.survivorOf('u100000', () => 'u100000'), null, 'an expired one is gone')
  window.expire(Number.MAX_SAFE_INTEGER / 2)
  t.equal(window.size, 0)
  t.ok(window.bytes <= emptyBytes * 2, `empty again, the arrays shrink (${window.bytes} B, started at ${emptyBytes} B)`)
  t.equal(window.take(event({ origin: 'n0', originSeq: 1e6, hlc: { wallMs: 1e7, logical: 0 }, id: 'u1' }), none), null, 'and it works on')
})

t.test('restore: survivors in delivery order, matched like taken ones; out of order is refused', async (t) => {
  const window = new DedupWindow(50)
  const s1 = event({ origin: 'a', originSeq: 1, hlc: { wallMs: 1000, logical: 0 }, id: 'k' })
  const s2 = event({ origin: 'a', originSeq: 2, hlc: { wallMs: 1060, logical: 0 }, id: 'k' })
  window.restore([{ id: s1.id, position: position(s1) }, { id: s2.id, position: position(s2) }])
  t.same(window.entries().map((e) => e.position.originSeq), [1, 2])
  t.equal(window.entries()[0]?.fingerprint, idFingerprint('k'))
  const retry = event({ origin: 'b', originSeq: 1, hlc: { wallMs: 1070, logical: 0 }, id: 'k' })
  const asked = window.take(retry, () => undefined)
  t.ok(isUnresolved(asked) && asked.unresolved[0]?.originSeq === 2, 'the latest survivor is asked first')
  window.learnId(position(s2), 'k')
  t.same(window.take(retry, () => undefined), position(s2), 'and decides')
  t.throws(() => window.restore([{ id: 'z', position: position(s1) }]), /out of delivery order/)
  t.equal(new DedupWindow(0).take(retry, () => undefined), null, 'a window of 0 ms keeps nothing')
})

/** An EventSet whose ids the orderer can see only for copies "in memory" (the rest must be read). */
class HidingSource implements OrderSource {
  constructor(
    readonly set: EventSet,
    readonly inMemory: (originSeq: number) => boolean,
  ) {}
  get dedupWindowMs(): number {
    return this.set.dedupWindowMs
  }
  get gapMax(): number {
    return this.set.gapMax
  }
  contiguous(origin: string, incarnation: number): number {
    return this.set.contiguous(origin, incarnation)
  }
  hlcAt(origin: string, incarnation: number, originSeq: number): Hlc | undefined {
    return this.set.hlcAt(origin, incarnation, originSeq)
  }
  idAt(origin: string, incarnation: number, originSeq: number): string | undefined {
    return this.inMemory(originSeq) ? this.set.idAt(origin, incarnation, originSeq) : undefined
  }
  eventsInRange(range: SeqRange, limit?: number): StreamEvent[] {
    return this.set.eventsInRange(range, limit)
  }
}

t.test('property: the orderer pauses at a copy until the survivors it names are learned, and delivers the deduplicated log', async () => {
  fc.assert(
    fc.property(eventPoolArb, fc.integer({ min: 1, max: 4 }), fc.nat(2), (pool, limit, memoryMod) => {
      const set = new EventSet({ stream, dedupWindowMs: 15 })
      set.insert(pool)
      const orderer = new Orderer(new HidingSource(set, (seq) => memoryMod > 0 && seq % memoryMod === 0), { origins: ['a', 'b', 'c'].map((origin) => ({ origin, incarnation: 1 })) })
      orderer.add(set.all())
      for (const origin of ['a', 'b', 'c']) orderer.heartbeat({ origin, incarnation: 1, seq: set.contiguous(origin, 1), hlc: { wallMs: 1e6, logical: 0 } })
      const delivered: string[] = []
      for (let round = 0; round < 10 * pool.length + 10; round++) {
        const batch = orderer.takeStable(limit)
        delivered.push(...batch.delivered.map((d) => keyOf(d.event)))
        for (const p of orderer.idsToRead) {
          const copy = set.get(p.origin, p.incarnation, p.originSeq) as StreamEvent
          if (compareEventOrder(copy, p) !== 0 || !orderer.learnId(p, copy.id)) throw new Error(`learnId ${copyKeyOf(p)}`)
        }
        if (orderer.waiting === 0) break
      }
      const expected = set.survivors().map(keyOf)
      if (JSON.stringify(delivered) !== JSON.stringify(expected)) throw new Error(`delivered ${delivered.join(' ')}\n expected ${expected.join(' ')}`)
      if (orderer.waiting !== 0) throw new Error('copies left waiting')
    }),
    { numRuns: 1000 },
  )
})

t.test('property: an id fingerprinted as a string and as its stored UTF-8 bytes is the same (any Unicode, lone surrogates as TextEncoder writes them)', async () => {
  const encoder = new TextEncoder()
  const lone = fc.constantFrom('\ud800', '\udfff', '\udbff\u0041', 'a\udc00b')
  fc.assert(
    fc.property(fc.oneof(fc.string({ minLength: 1 }), fc.string({ unit: 'binary', minLength: 1 }), fc.string({ unit: 'grapheme', minLength: 1 }), lone), (id) => {
      const window = new DedupWindow(10)
      window.restoreEncoded(encoder.encode(id), 1000, 0, 'a', 1, 1)
      if (window.entries()[0]?.fingerprint !== idFingerprint(id)) throw new Error(`${JSON.stringify(id)}: ${window.entries()[0]?.fingerprint} ≠ ${idFingerprint(id)}`)
      const found = window.survivorOf(id, () => id)
      if (found === null || isUnresolved(found)) throw new Error(`${JSON.stringify(id)} not found by its string`)
    }),
    { numRuns: 2000 },
  )
})
