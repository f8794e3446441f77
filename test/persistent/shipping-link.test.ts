// Shipper and Receiver (data-plane/persistent/shipping/) over a lossy link, against a model of
// the destination region: B's committed set of shipping positions, receivers on three replicas
// whose publishes are acked, refused (durably written or not), or lost, whose replicas restart and
// lose their origin slot for a while, and whose delivered prefix lags what is committed.
// Shippers are taken over (a new term on another node) while the old one keeps running for a
// while; the network drops, duplicates and reorders, and every message goes through the codec.
//
// Checked at every step: a shipper's cursor never goes back, and never claims a position that is
// not committed in B (the cursor is only what B vouches for); the same for a receiver's answer.
// After the faults stop: every position reaches B (no gap) and the last shipper's cursor is the
// head. Plus scripted scenarios: resume after takeover at B's answer, gap refusal, stale term.
import fc from 'fast-check'
import t from 'tap'
import { Receiver, Shipper, decodeShipMessage, encodeShipMessage, noLag, provenanceOf, replicationLag, shippingLimits } from '../../data-plane/persistent/index.js'
import type { PublishRequest, ShipMessage, ShipSource, StreamEvent, ToReceiver, ToShipper } from '../../data-plane/persistent/index.js'
import { deflateRawCompression, shipCompressions } from '../../data-plane/persistent/shipping/zlib-compression.js'
import { event } from './helpers.js'

const stream = 'default/orders'

/** sfc32-free tiny PRNG (mulberry32): the test's own seeded randomness. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const sourceEvents = (n: number): StreamEvent[] => Array.from({ length: n }, (_, i) => event({ origin: `a${(i % 2) + 1}`, originSeq: Math.floor(i / 2) + 1, hlc: { wallMs: 1_000 + i * 2, logical: 0 }, id: `e${i + 1}` }))

interface InFlightMessage {
  readonly atStep: number
  readonly from: string
  readonly to: string
  readonly bytes: Uint8Array
}

interface PendingPublish {
  readonly atStep: number
  readonly node: string
  readonly life: number
  readonly request: PublishRequest
  readonly outcome: 'ok' | 'refused-durable' | 'refused' | 'lost'
}

interface RunStats {
  readonly sent: number
  readonly resent: number
  readonly takeovers: number
  readonly steps: number
}

function runLink(seed: number): RunStats {
  const random = prng(seed)
  const chance = (p: number): boolean => random() < p
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T
  const total = 150 + Math.floor(random() * 250)
  const events = sourceEvents(total)
  let head = 0
  const source: ShipSource = {
    get head() {
      return head
    },
    event: (seq) => events[seq - 1] as StreamEvent,
  }
  const aNodes = ['a1', 'a2']
  const bNodes = ['b1', 'b2', 'b3']
  const committed = new Set<number>()
  let committedPrefix = 0
  const commit = (seq: number): void => {
    committed.add(seq)
    while (committed.has(committedPrefix + 1)) committedPrefix++
  }
  const receivers = new Map<string, { receiver: Receiver; life: number; writable: boolean; delivered: number }>()
  const newReceiver = (node: string, life: number) => ({ receiver: new Receiver({ stream, sourceRegion: 'east', destRegion: 'west', publishTimeoutMs: 120 }), life, writable: true, delivered: 0 })
  for (const node of bNodes) receivers.set(node, newReceiver(node, 1))
  const shippers = new Map<string, { shipper: Shipper; stopAtStep: number | null; lastCursor: number }>()
  let term = 0
  let takeovers = 0
  const takeOver = (step: number): void => {
    term++
    takeovers++
    const node = pick(aNodes)
    for (const [other, s] of shippers) if (other !== node && s.stopAtStep === null) s.stopAtStep = step + Math.floor(random() * 40)
    shippers.set(node, { shipper: new Shipper({ stream, sourceRegion: 'east', destRegion: 'west', term, receivers: bNodes, firstReceiver: Math.floor(random() * 3), batchEventsMax: 1 + Math.floor(random() * 40), windowBatches: 1 + Math.floor(random() * 4), timing: { ackTimeoutMs: 200, resolveTimeoutMs: 100, backoffMsMin: 10, backoffMsMax: 80 } }), stopAtStep: null, lastCursor: 0 })
  }
  let network: InFlightMessage[] = []
  let publishes: PendingPublish[] = []
  let faults = true
  const send = (step: number, from: string, to: string, m: ShipMessage): void => {
    if (faults && chance(0.1)) return
    const bytes = encodeShipMessage(m, { compression: deflateRawCompression })
    const copies = faults && chance(0.05) ? 2 : 1
    for (let c = 0; c < copies; c++) network.push({ atStep: step + 1 + Math.floor(random() * (faults ? 6 : 2)), from, to, bytes })
  }
  const stepMs = 10
  let sent = 0
  let resent = 0
  const chaosSteps = 1500
  const stepsMax = chaosSteps + 4000
  takeOver(0)
  let step = 0
  for (; step < stepsMax; step++) {
    const nowMs = step * stepMs
    if (step === chaosSteps) {
      faults = false
      for (const r of receivers.values()) r.writable = true
    }
    if (head < total && chance(0.5)) head = Math.min(total, head + 1 + Math.floor(random() * 5))
    if (faults) {
      if (chance(0.004)) takeOver(step)
      if (chance(0.003)) {
        const node = pick(bNodes)
        const r = receivers.get(node)
        if (r !== undefined) receivers.set(node, newReceiver(node, r.life + 1))
      }
      if (chance(0.01)) {
        const r = receivers.get(pick(bNodes))
        if (r !== undefined) r.writable = !r.writable
      }
    }
    // Deliver what arrives now.
    const arriving = network.filter((m) => m.atStep <= step)
    network = network.filter((m) => m.atStep > step)
    for (const m of arriving) {
      const decoded = decodeShipMessage(m.bytes, { compressions: shipCompressions })
      if (!decoded.ok) throw decoded.error
      const message = decoded.value
      if (message.kind === 'resolve' || message.kind === 'batch') {
        const r = receivers.get(m.to)
        r?.receiver.step(m.from, message as ToReceiver, nowMs, r.writable)
      } else {
        shippers.get(m.to)?.shipper.step(m.from, message as ToShipper, nowMs)
      }
    }
    // The destination's replicas answer publishes; the region delivers what is committed, late.
    const answering = publishes.filter((p) => p.atStep <= step)
    publishes = publishes.filter((p) => p.atStep > step)
    for (const p of answering) {
      const provenance = provenanceOf({ ...events[0] as StreamEvent, headers: p.request.headers })
      if (!provenance.ok || provenance.value === null) throw new Error('a receiver published without provenance')
      const seq = provenance.value.shipSeq
      if (p.request.id !== events[seq - 1]?.id) throw new Error(`receiver wrote id ${p.request.id} as position ${seq}`)
      if (p.outcome === 'ok' || p.outcome === 'refused-durable') commit(seq)
      const r = receivers.get(p.node)
      if (r === undefined || r.life !== p.life || p.outcome === 'lost') continue
      r.receiver.published(p.request.publishId, p.outcome === 'ok')
    }
    for (const [node, r] of receivers) {
      if (chance(faults ? 0.05 : 0.3)) {
        r.delivered = committedPrefix
        r.receiver.deliveredThrough(committedPrefix)
      }
      r.receiver.tick(nowMs)
      const ready = r.receiver.ready()
      for (const request of ready.publishes) {
        const roll = random()
        const outcome = !faults || roll < 0.85 ? 'ok' : roll < 0.9 ? 'refused-durable' : roll < 0.95 ? 'refused' : 'lost'
        publishes.push({ atStep: step + 1 + Math.floor(random() * 5), node, life: r.life, request, outcome })
      }
      for (const out of ready.messages) send(step, node, out.to, out.message)
      // A receiver vouches only for what is committed.
      if (r.receiver.ackedThrough > committedPrefix) throw new Error(`${node} vouches for ${r.receiver.ackedThrough}, B committed ${committedPrefix}`)
    }
    for (const [node, s] of shippers) {
      if (s.stopAtStep !== null && step >= s.stopAtStep) s.shipper.stop('designation lost')
      s.shipper.tick(nowMs)
      const ready = s.shipper.ready(source, nowMs)
      for (const out of ready.messages) {
        if (out.message.kind === 'batch') {
          sent += out.message.events.length
          for (const e of out.message.events) if (e.id !== events[out.message.fromSeq - 1 + out.message.events.indexOf(e)]?.id) throw new Error('a batch holds events out of place')
        }
        send(step, node, out.to, out.message)
      }
      const cursor = s.shipper.cursor
      if (cursor < s.lastCursor) throw new Error(`${node}@${s.shipper.term}: cursor went back from ${s.lastCursor} to ${cursor}`)
      if (cursor > committedPrefix) throw new Error(`${node}@${s.shipper.term}: cursor ${cursor} past B's committed prefix ${committedPrefix}`)
      s.lastCursor = cursor
    }
    const latest = [...shippers.values()].find((s) => s.shipper.term === term)
    if (!faults && latest !== undefined && latest.shipper.cursor === total && committedPrefix === total) break
  }
  const latest = [...shippers.values()].find((s) => s.shipper.term === term)
  if (committedPrefix !== total) throw new Error(`seed ${seed}: B committed ${committedPrefix} of ${total} positions after the faults stopped (step ${step})`)
  if (latest?.shipper.cursor !== total) throw new Error(`seed ${seed}: the last shipper's cursor is ${latest?.shipper.cursor}, head ${total}`)
  for (const s of shippers.values()) resent += s.shipper.stats.eventsResent
  return { sent, resent, takeovers, steps: step }
}

t.test('lossy link, takeovers, receiver restarts and failing publishes: no gap, cursor never back nor ahead of B', async (t) => {
  let sent = 0
  let takeovers = 0
  let runs = 0
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
      const stats = runLink(seed)
      sent += stats.sent
      takeovers += stats.takeovers
      runs++
    }),
    { numRuns: 60 },
  )
  t.ok(takeovers > runs, `${runs} runs, ${takeovers} takeovers, ${sent} events sent`)
})

const makeShipper = (termValue: number, receivers = ['b1', 'b2']): Shipper =>
  new Shipper({ stream, sourceRegion: 'east', destRegion: 'west', term: termValue, receivers, batchEventsMax: 3, windowBatches: 2, timing: { ackTimeoutMs: 100, resolveTimeoutMs: 50, backoffMsMin: 10, backoffMsMax: 40 } })
const sourceOf = (events: readonly StreamEvent[]): ShipSource => ({ head: events.length, event: (seq) => events[seq - 1] as StreamEvent })

t.test('scenario: resolve, ship in a window, resume after takeover at B’s answer', async (t) => {
  const events = sourceEvents(10)
  const source = sourceOf(events)
  const shipper = makeShipper(1)
  const first = shipper.ready(source, 0).messages
  t.same(first.map((m) => [m.to, m.message.kind]), [['b1', 'resolve']], 'asks b1 where B stands first')
  shipper.step('b1', { kind: 'resolved', stream, sourceRegion: 'east', term: 1, requestId: 1, cursor: 4 }, 1)
  const batches = shipper.ready(source, 2).messages.map((m) => m.message).filter((m) => m.kind === 'batch')
  t.same(batches.map((b) => [b.fromSeq, b.events.length]), [[5, 3], [8, 3]], 'ships from the answer + 1, two batches of three in flight')
  shipper.step('b1', { kind: 'batch-ack', stream, sourceRegion: 'east', term: 1, batchId: 1, cursor: 7 }, 3)
  t.equal(shipper.cursor, 7)
  const lag = shipper.lag(source, events[7]?.hlc.wallMs as number)
  t.same(lag, { events: 3, ms: 0 }, 'lag: three events behind, the oldest is event 8')
  // A new shipper (term 2) on another node: B answers 5 (its delivered prefix lags its commits).
  const next = makeShipper(2, ['b2', 'b1'])
  next.ready(source, 10)
  next.step('b2', { kind: 'resolved', stream, sourceRegion: 'east', term: 2, requestId: 1, cursor: 5 }, 11)
  const resumed = next.ready(source, 12).messages.map((m) => m.message).filter((m) => m.kind === 'batch')
  t.same(resumed[0]?.kind === 'batch' ? resumed[0].fromSeq : 0, 6, 'the new shipper resumes at B’s answer + 1 (a bounded resend, no gap)')
  // The old shipper learns of the new term and stops for good.
  shipper.step('b1', { kind: 'refused', stream, sourceRegion: 'east', term: 2, batchId: 2, reason: 'stale-term', cursor: 7, expected: 8 }, 13)
  t.equal(shipper.phase, 'stopped')
  t.same(shipper.ready(source, 14).messages, [], 'a stopped shipper sends nothing')
})

t.test('scenario: receiver refuses a gap, skips what it wrote, acks once committed, fences terms', async (t) => {
  const events = sourceEvents(6)
  const r = new Receiver({ stream, sourceRegion: 'east', destRegion: 'west', publishTimeoutMs: 100 })
  const batch = (term: number, batchId: number, fromSeq: number, n: number): ToReceiver => ({ kind: 'batch', stream, sourceRegion: 'east', term, batchId, fromSeq, events: events.slice(fromSeq - 1, fromSeq - 1 + n) })
  r.step('s1', { kind: 'resolve', stream, sourceRegion: 'east', term: 1, requestId: 1 }, 0, true)
  t.same(r.ready().messages.map((m) => m.message), [{ kind: 'resolved', stream, sourceRegion: 'east', term: 1, requestId: 1, cursor: 0 }])
  r.step('s1', batch(1, 1, 3, 2), 1, true)
  const gap = r.ready().messages[0]?.message
  t.same(gap?.kind === 'refused' ? [gap.reason, gap.expected] : [], ['gap', 1], 'a batch starting at 3 is refused: it expects 1')
  r.step('s1', batch(1, 2, 1, 3), 2, true)
  const written = r.ready()
  t.same(written.publishes.map((p) => [p.id, p.ackLevel]), [['e1', 'majority'], ['e2', 'majority'], ['e3', 'majority']], 'same ids, acked at majority')
  t.same(written.messages, [], 'no ack before B acks the writes')
  r.step('s1', batch(1, 3, 2, 3), 3, true)
  t.same(r.ready().publishes.map((p) => p.id), ['e4'], 'an overlapping resend writes only what is new')
  for (const p of written.publishes) r.published(p.publishId, true)
  t.same(r.ready().messages.map((m) => m.message.kind === 'batch-ack' ? [m.message.batchId, m.message.cursor] : []), [[2, 3]], 'batch 2 acked with cursor 3')
  r.step('s0', { kind: 'resolve', stream, sourceRegion: 'east', term: 0, requestId: 9 }, 4, true)
  t.same(r.ready().messages.map((m) => (m.message.kind === 'refused' ? m.message.reason : '')), ['stale-term'], 'a lower term is refused')
  r.tick(200)
  const failed = r.ready()
  t.same(failed.messages.map((m) => (m.message.kind === 'refused' ? [m.message.batchId, m.message.reason] : [])), [[3, 'unavailable']], 'e4 not acked in time: the run fails, the waiting batch is refused')
  t.equal(r.publishedThrough, 3, 'it will take e4 again')
  r.step('s1', batch(1, 4, 4, 3), 201, false)
  t.same(r.ready().messages.map((m) => (m.message.kind === 'refused' ? m.message.reason : '')), ['unavailable'], 'without an origin slot it refuses')
  r.deliveredThrough(5)
  t.equal(r.ackedThrough, 5, 'delivery in B raises what it vouches for')
  const loop = { ...batch(1, 5, 6, 1), events: [{ ...events[5] as StreamEvent, headers: [['Rg-Source', '1;west;1;1;0;w1;1;1'] as const] }] }
  r.step('s1', loop, 202, true)
  t.same(r.ready().messages.map((m) => (m.message.kind === 'refused' ? m.message.reason : '')), ['malformed'], 'a shipped copy is never shipped on (no loops)')
})

t.test('scenario: an unanswered batch fails the run: back off, next receiver, resolve again', async (t) => {
  const source = sourceOf(sourceEvents(5))
  const shipper = makeShipper(1)
  shipper.ready(source, 0)
  shipper.step('b1', { kind: 'resolved', stream, sourceRegion: 'east', term: 1, requestId: 1, cursor: 0 }, 0)
  shipper.ready(source, 1)
  shipper.tick(150)
  t.equal(shipper.phase, 'resolving')
  t.equal(shipper.receiver, 'b2', 'tries the next receiver')
  t.same(shipper.ready(source, 151).messages, [], 'backs off first')
  t.same(shipper.ready(source, 170).messages.map((m) => [m.to, m.message.kind]), [['b2', 'resolve']])
  t.equal(shipper.stats.failures, 1)
})

t.test('lag accounting and refused configurations', async (t) => {
  t.same(replicationLag(10, 10, 0, 5_000), noLag, 'caught up: no lag whatever the times')
  t.same(replicationLag(10, 12, 0, 5_000), noLag, 'a cursor past the local head (a lagging holder): no lag')
  t.same(replicationLag(15, 10, 4_000, 5_000), { events: 5, ms: 1_000 }, 'five behind, the oldest waiting for 1 s')
  t.same(replicationLag(15, 10, 6_000, 5_000), { events: 5, ms: 0 }, 'a source clock ahead never gives negative ms')
  t.throws(() => new Shipper({ stream, sourceRegion: 'east', destRegion: 'west', term: 1, receivers: [] }), /no receiver/)
  t.throws(() => new Shipper({ stream, sourceRegion: 'east', destRegion: 'west', term: 0, receivers: ['b1'] }), /term/)
  t.throws(() => new Shipper({ stream, sourceRegion: 'east', destRegion: 'west', term: 1, receivers: ['b1'], batchEventsMax: shippingLimits.shipBatchEventsMax + 1 }), /batchEventsMax/)
  t.throws(() => new Shipper({ stream, sourceRegion: 'east', destRegion: 'west', term: 1, receivers: ['b1'], windowBatches: 0 }), /windowBatches/)
  t.throws(() => new Receiver({ stream, sourceRegion: 'east', destRegion: 'east' }), /both east/)
  // A batch is bounded by bytes too, but always carries at least one event.
  const big = sourceEvents(3).map((e) => ({ ...e, payload: new Uint8Array(600) }))
  const shipper = new Shipper({ stream, sourceRegion: 'east', destRegion: 'west', term: 1, receivers: ['b1'], batchBytesMax: 1_000, windowBatches: 8 })
  shipper.ready(sourceOf(big), 0)
  shipper.step('b1', { kind: 'resolved', stream, sourceRegion: 'east', term: 1, requestId: 1, cursor: 0 }, 0)
  const sizes = shipper.ready(sourceOf(big), 1).messages.map((m) => (m.message.kind === 'batch' ? m.message.events.length : 0))
  t.same(sizes, [1, 1, 1], 'events of ~650 bytes under a 1,000-byte budget: one per batch')
})
