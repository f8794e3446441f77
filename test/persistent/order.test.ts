// Delivery order (DESIGN §4.2): replicas with the same events and decisions deliver the same
// sequence, whatever order things arrive in; delivery never goes back; dead origins are closed
// by controller decisions fenced by term; a restarted node is a new incarnation.
import fc from 'fast-check'
import t from 'tap'
import { EventSet, HybridLogicalClock, Orderer, compareHlc } from '../../data-plane/persistent/index.js'
import type { CloseDecision, Heartbeat, Hlc, StreamEvent } from '../../data-plane/persistent/index.js'
import { event, keyOf, permutationArb, stream } from './helpers.js'

const windowMs = 15

type Message = { readonly kind: 'event'; readonly event: StreamEvent } | { readonly kind: 'heartbeat'; readonly hb: Heartbeat } | { readonly kind: 'close'; readonly decision: CloseDecision }

interface World {
  readonly originCount: number
  readonly messages: readonly Message[]
  readonly events: readonly StreamEvent[]
}

const stepArb = fc.record({
  origin: fc.nat(4),
  heartbeat: fc.boolean(),
  stepMs: fc.integer({ min: 0, max: 12 }),
  id: fc.constantFrom('p', 'q', 'r', 's', 't'),
})

/** A run of a region: origins write events and heartbeats on skewed clocks; origin n0 may crash (and restart). */
const worldArb: fc.Arbitrary<World> = fc
  .record({
    originCount: fc.integer({ min: 3, max: 5 }),
    skews: fc.array(fc.integer({ min: -40, max: 40 }), { minLength: 5, maxLength: 5 }),
    steps: fc.array(stepArb, { maxLength: 80, size: 'max' }),
    crashAt: fc.option(fc.nat(80)),
    restart: fc.boolean(),
  })
  .map(({ originCount, skews, steps, crashAt, restart }) => {
    const messages: Message[] = []
    const events: StreamEvent[] = []
    const clocks = Array.from({ length: originCount }, () => new HybridLogicalClock())
    const incarnations = Array.from({ length: originCount }, () => 1)
    const seqs = Array.from({ length: originCount }, () => 0)
    let dead = false
    let nowMs = 1000
    const physical = (o: number): number => nowMs + (skews[o] as number)
    steps.forEach((step, i) => {
      nowMs += step.stepMs
      if (crashAt !== null && i === crashAt && !dead) {
        const decision: CloseDecision = { origin: 'n0', incarnation: incarnations[0] as number, atSeq: seqs[0] as number, controllerTerm: 1 }
        if (restart) {
          // The restarted node starts its clock at its persisted ceiling: fromHlc = that ceiling.
          const fromHlc = (clocks[0] as HybridLogicalClock).last
          clocks[0] = new HybridLogicalClock({ start: fromHlc })
          incarnations[0] = 2
          seqs[0] = 0
          messages.push({ kind: 'close', decision: { ...decision, successor: { incarnation: 2, fromHlc } } })
        } else {
          dead = true
          messages.push({ kind: 'close', decision })
        }
      }
      const o = step.origin % originCount
      if (o === 0 && dead) return
      const clock = clocks[o] as HybridLogicalClock
      const origin = `n${o}`
      const incarnation = incarnations[o] as number
      if (step.heartbeat) {
        messages.push({ kind: 'heartbeat', hb: { origin, incarnation, seq: seqs[o] as number, hlc: clock.now(physical(o)) } })
      } else {
        seqs[o] = (seqs[o] as number) + 1
        const e = event({ origin, incarnation, originSeq: seqs[o] as number, hlc: clock.now(physical(o)), id: step.id })
        events.push(e)
        messages.push({ kind: 'event', event: e })
      }
    })
    // Writes stop: each live origin's last heartbeat is above everything.
    nowMs += 1000
    for (let o = 0; o < originCount; o++) {
      if (o === 0 && dead) continue
      messages.push({ kind: 'heartbeat', hb: { origin: `n${o}`, incarnation: incarnations[o] as number, seq: seqs[o] as number, hlc: (clocks[o] as HybridLogicalClock).now(physical(o)) } })
    }
    return { originCount, messages, events }
  })

interface ReplicaRun {
  readonly delivered: string[]
  readonly indexes: number[]
  readonly frontierWentBack: boolean
  readonly closeErrors: string[]
}

function runReplica(world: World, arrival: readonly Message[], deliverAfter: readonly boolean[]): ReplicaRun {
  const set = new EventSet({ stream, dedupWindowMs: windowMs })
  const origins = Array.from({ length: world.originCount }, (_, o) => ({ origin: `n${o}`, incarnation: 1 }))
  const orderer = new Orderer(set, { origins })
  const delivered: string[] = []
  const indexes: number[] = []
  const closeErrors: string[] = []
  let frontier: Hlc | null = null
  let frontierWentBack = false
  arrival.forEach((message, i) => {
    if (message.kind === 'event') orderer.add(set.insert([message.event]).added.map((a) => a.event))
    else if (message.kind === 'heartbeat') orderer.heartbeat(message.hb)
    else {
      const result = orderer.close(message.decision)
      if (!result.ok) closeErrors.push(result.error.message)
    }
    const now = orderer.frontier()
    if (frontier !== null && (now === null ? false : compareHlc(now, frontier) < 0)) frontierWentBack = true
    frontier = now
    if (deliverAfter[i] === true || i === arrival.length - 1) {
      for (const d of orderer.takeStable().delivered) {
        delivered.push(keyOf(d.event))
        indexes.push(d.index)
      }
    }
  })
  return { delivered, indexes, frontierWentBack, closeErrors }
}

t.test('property: 3–5 replicas with random arrival orders deliver the same sequence: the deduplicated log', async () => {
  const scenarioArb = worldArb.chain((world) =>
    fc.tuple(
      fc.constant(world),
      fc.array(fc.tuple(permutationArb(world.messages), fc.array(fc.boolean(), { minLength: world.messages.length, maxLength: world.messages.length })), {
        minLength: world.originCount,
        maxLength: world.originCount,
      }),
    ),
  )
  fc.assert(
    fc.property(scenarioArb, ([world, arrivals]) => {
      // The reference: every survivor of the whole set, in (hlc, origin, incarnation, seq) order.
      const reference = new EventSet({ stream, dedupWindowMs: windowMs })
      reference.insert(world.events)
      const expected = reference.survivors().map(keyOf)
      for (const [arrival, deliverAfter] of arrivals) {
        const run = runReplica(world, arrival, deliverAfter)
        if (run.closeErrors.length > 0) throw new Error(`close refused: ${run.closeErrors.join('; ')}`)
        if (run.frontierWentBack) throw new Error('the frontier went back')
        if (JSON.stringify(run.delivered) !== JSON.stringify(expected)) {
          throw new Error(`delivered ${run.delivered.join(' ')}\n expected ${expected.join(' ')}`)
        }
        if (!run.indexes.every((index, i) => index === i)) throw new Error('delivery indexes are not 0, 1, 2, …')
      }
    }),
    { numRuns: 1000 },
  )
})

const hlc = (wallMs: number, logical = 0): Hlc => ({ wallMs, logical })

function region(originNames = ['a', 'b']): { set: EventSet; orderer: Orderer; put: (...events: StreamEvent[]) => void; take: () => string[] } {
  const set = new EventSet({ stream, dedupWindowMs: 0 })
  const orderer = new Orderer(set, { origins: originNames.map((origin) => ({ origin, incarnation: 1 })), controllerTerm: 3 })
  return {
    set,
    orderer,
    put: (...events) => orderer.add(set.insert(events).added.map((a) => a.event)),
    take: () => orderer.takeStable().delivered.map((d) => keyOf(d.event)),
  }
}

t.test('an event is stable only when every live origin was heard past it (events or heartbeats)', async (t) => {
  const r = region()
  r.put(event({ origin: 'a', originSeq: 1, hlc: hlc(10), id: 'a1' }))
  t.same(r.take(), [], 'b has not been heard from')
  t.same(r.orderer.frontier(), hlc(0), 'b holds the frontier at its start')
  r.orderer.heartbeat({ origin: 'b', incarnation: 1, seq: 1, hlc: hlc(50) })
  t.same(r.take(), [], 'a heartbeat vouching for b:1 waits until b:1 is held')
  r.put(event({ origin: 'b', originSeq: 1, hlc: hlc(5), id: 'b1' }))
  t.same(r.take(), ['b#1#1', 'a#1#1'], 'now b is heard past 50 and a past 10')
  t.same(r.orderer.frontier(), hlc(10))
  r.put(event({ origin: 'b', originSeq: 3, hlc: hlc(70), id: 'b3' }), event({ origin: 'a', originSeq: 2, hlc: hlc(80), id: 'a2' }))
  t.same(r.take(), [], 'b:3 without b:2 does not move b')
  r.put(event({ origin: 'b', originSeq: 2, hlc: hlc(60), id: 'b2' }))
  t.same(r.take(), ['b#1#2', 'b#1#3'])
  t.equal(r.orderer.deliveredCount, 4)
})

t.test('a dead origin holds the frontier until a controller decision closes it; stale terms are refused', async (t) => {
  const r = region(['a', 'b', 'c'])
  r.put(event({ origin: 'c', originSeq: 1, hlc: hlc(5), id: 'c1' }), event({ origin: 'c', originSeq: 2, hlc: hlc(6), id: 'c2' }))
  r.put(event({ origin: 'a', originSeq: 1, hlc: hlc(10), id: 'a1' }), event({ origin: 'b', originSeq: 1, hlc: hlc(20), id: 'b1' }))
  t.same(r.take(), ['c#1#1', 'c#1#2'], 'c is heard past 6 only')
  // c:3 exists on some replica that did not survive; the decision closes c at 2.
  const stale = r.orderer.close({ origin: 'c', incarnation: 1, atSeq: 2, controllerTerm: 2 })
  t.equal(!stale.ok && stale.error.code, 'RG_ERR_STALE_TERM')
  t.same(r.orderer.liveOrigins(), ['a#1', 'b#1', 'c#1'])
  const closed = r.orderer.close({ origin: 'c', incarnation: 1, atSeq: 2, controllerTerm: 4 })
  t.same(closed.ok && closed.value, 'closed')
  t.same(r.orderer.liveOrigins(), ['a#1', 'b#1'])
  t.same(r.take(), ['a#1#1'], 'frontier = min(a 10, b 20)')
  r.put(event({ origin: 'c', originSeq: 3, hlc: hlc(7), id: 'c3' }))
  r.orderer.heartbeat({ origin: 'a', incarnation: 1, seq: 1, hlc: hlc(30) })
  t.same(r.take(), ['b#1#1'], 'c:3 (past atSeq) is never delivered')
  // The same decision again is unchanged (even restated at a higher term); a different one conflicts.
  const again = r.orderer.close({ origin: 'c', incarnation: 1, atSeq: 2, controllerTerm: 5 })
  t.same(again.ok && again.value, 'unchanged')
  t.equal(r.orderer.controllerTerm, 5)
  const other = r.orderer.close({ origin: 'c', incarnation: 1, atSeq: 3, controllerTerm: 6 })
  t.equal(!other.ok && other.error.code, 'RG_ERR_CONFLICT')
  const unknown = r.orderer.close({ origin: 'zz', incarnation: 1, atSeq: 0, controllerTerm: 6 })
  t.equal(!unknown.ok && unknown.error.code, 'RG_ERR_NOT_FOUND')
})

t.test('a closed origin still holds the frontier until this replica holds its events up to atSeq', async (t) => {
  const r = region()
  r.put(event({ origin: 'a', originSeq: 1, hlc: hlc(10), id: 'a1' }))
  t.ok(r.orderer.close({ origin: 'b', incarnation: 1, atSeq: 1, controllerTerm: 3 }).ok)
  r.orderer.heartbeat({ origin: 'a', incarnation: 1, seq: 1, hlc: hlc(100) })
  t.same(r.take(), [], 'b:1 is still missing here')
  r.put(event({ origin: 'b', originSeq: 1, hlc: hlc(40), id: 'b1' }))
  t.same(r.take(), ['a#1#1', 'b#1#1'])
})

t.test('closing below what this replica delivered is refused', async (t) => {
  const r = region()
  r.put(event({ origin: 'a', originSeq: 1, hlc: hlc(10), id: 'a1' }), event({ origin: 'b', originSeq: 1, hlc: hlc(20), id: 'b1' }))
  r.orderer.heartbeat({ origin: 'a', incarnation: 1, seq: 1, hlc: hlc(30) })
  t.same(r.take(), ['a#1#1', 'b#1#1'])
  const result = r.orderer.close({ origin: 'b', incarnation: 1, atSeq: 0, controllerTerm: 3 })
  t.equal(!result.ok && result.error.code, 'RG_ERR_CONFLICT')
})

t.test('a restarted node is a new incarnation: it takes the slot from fromHlc', async (t) => {
  const r = region()
  r.put(event({ origin: 'a', originSeq: 1, hlc: hlc(10), id: 'a1' }), event({ origin: 'b', originSeq: 1, hlc: hlc(20), id: 'b1' }))
  // b restarted as incarnation 2; its events arrive before the decision and wait in the set.
  r.put(event({ origin: 'b', incarnation: 2, originSeq: 1, hlc: hlc(25), id: 'b2-1' }), event({ origin: 'b', incarnation: 2, originSeq: 2, hlc: hlc(45), id: 'b2-2' }))
  r.orderer.heartbeat({ origin: 'a', incarnation: 1, seq: 1, hlc: hlc(40) })
  t.same(r.take(), ['a#1#1', 'b#1#1'], 'b#1 heard past 20')
  const below = r.orderer.close({ origin: 'b', incarnation: 1, atSeq: 1, controllerTerm: 3, successor: { incarnation: 2, fromHlc: hlc(15) } })
  t.equal(!below.ok && below.error.code, 'RG_ERR_INVALID_STATE', 'fromHlc below what the predecessor emitted')
  const bad = r.orderer.close({ origin: 'b', incarnation: 1, atSeq: 1, controllerTerm: 3, successor: { incarnation: 1, fromHlc: hlc(30) } })
  t.equal(!bad.ok && bad.error.code, 'RG_ERR_INVALID_ARGUMENT')
  const ok = r.orderer.close({ origin: 'b', incarnation: 1, atSeq: 1, controllerTerm: 3, successor: { incarnation: 2, fromHlc: hlc(30) } })
  t.ok(ok.ok)
  t.same(r.orderer.liveOrigins(), ['a#1', 'b#2'])
  t.same(r.take(), [], 'b#2:1 (hlc 25 ≤ fromHlc 30) is never delivered; b#2 is heard past 45, a past 40')
  r.orderer.heartbeat({ origin: 'a', incarnation: 1, seq: 1, hlc: hlc(50) })
  t.same(r.take(), ['b#2#2'])
})

t.test('duplicates are skipped at delivery and reported', async (t) => {
  const set = new EventSet({ stream, dedupWindowMs: 100 })
  const orderer = new Orderer(set, { origins: [{ origin: 'a', incarnation: 1 }] })
  orderer.add(set.insert([event({ origin: 'a', originSeq: 1, hlc: hlc(10), id: 'x' }), event({ origin: 'a', originSeq: 2, hlc: hlc(20), id: 'x' }), event({ origin: 'a', originSeq: 3, hlc: hlc(30), id: 'y' })]).added.map((a) => a.event))
  const batch = orderer.takeStable()
  t.same(batch.delivered.map((d) => [keyOf(d.event), d.index]), [['a#1#1', 0], ['a#1#3', 1]])
  t.same(batch.skippedDuplicates.map(keyOf), ['a#1#2'])
})
