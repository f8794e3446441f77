// The pure pieces of cross-region shipping on a node (server/shipping): the run index behind the
// group sequence and the shipping source (against a plain array), the intake rules (Rg-Source
// stripped in any case; a multi-region stream keeps one header slot), the shipment guard of issue
// #7 (sender region = source region, stream placed in both), the `ship` channel envelope (round
// trips; garbage, truncation and bad lag reports refused without a throw), the refusal log's rate
// limit, and the event-set digest (order-independent, a resend not counted twice, the same for a
// copy shipped to another region), and `railgun stream info`'s lag table.
import fc from 'fast-check'
import t from 'tap'
import { apply, emptyState } from '../../control-plane/cluster/index.js'
import type { ClusterState, Command } from '../../control-plane/cluster/index.js'
import { persistentLimits, shippedHeaders, sourceHeader } from '../../data-plane/persistent/index.js'
import type { StreamEvent } from '../../data-plane/persistent/index.js'
import { EventSetDigest, OncePer, SubsequenceIndex, decodeShipEnvelope, encodeLagReport, encodeShipEnvelope, intakeHeaders, judgeShipment, multiRegionHeadersMax } from '../../server/shipping/index.js'
import type { LagReport } from '../../server/shipping/index.js'
import { describeStreamInfo } from '../../server/commands/admin-verbs.js'

t.test('SubsequenceIndex agrees with a plain array of log indexes', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(3)), { maxLength: 300 }), fc.array(fc.tuple(fc.nat(320), fc.nat(40)), { maxLength: 20 }), (steps, queries) => {
      const index = new SubsequenceIndex()
      const reference: number[] = []
      let log = 0
      for (const [take, skip] of steps) {
        log += skip
        if (take) {
          index.push(log)
          reference.push(log)
        }
        log++
      }
      if (index.length !== reference.length) throw new Error(`length ${index.length} vs ${reference.length}`)
      reference.forEach((value, position) => {
        if (index.at(position) !== value) throw new Error(`at(${position}) = ${index.at(position)}, expected ${value}`)
      })
      for (let value = 0; value <= log + 1; value++) {
        const expected = reference.findIndex((v) => v >= value)
        const got = index.firstAtOrAfter(value)
        if (got !== (expected < 0 ? reference.length : expected)) throw new Error(`firstAtOrAfter(${value}) = ${got}, expected ${expected}`)
      }
      for (const [from, count] of queries) {
        const flat = index.slice(from, from + count).flatMap((run) => Array.from({ length: run.length }, (_, i) => [run.position + i, run.value + i]))
        const expected = reference.slice(from, from + count).map((value, i) => [from + i, value])
        if (JSON.stringify(flat) !== JSON.stringify(expected)) throw new Error(`slice(${from}, ${from + count}) = ${JSON.stringify(flat)}, expected ${JSON.stringify(expected)}`)
      }
    }),
    { numRuns: 300 },
  )
  const runs = new SubsequenceIndex()
  for (let i = 0; i < 10_000; i++) runs.push(i)
  t.equal(runs.runs, 1, 'consecutive log indexes make one run')
  t.throws(() => runs.push(5), /after/, 'a value that does not grow is a bug')
})

t.test('intake: Rg-Source is stripped in any letter case; a multi-region stream keeps one header slot', async (t) => {
  const forged: Array<[string, string]> = [['Rg-Subject', 'orders'], ['rg-source', '1;eu;1;1;0;n1;1;1'], ['RG-SOURCE', 'x'], ['a', 'b']]
  const one = intakeHeaders('default/orders', forged, 1)
  t.same(one.ok ? one.headers : undefined, [['Rg-Subject', 'orders'], ['a', 'b']], 'stripped on a single-region stream too')
  const full = Array.from({ length: persistentLimits.eventHeadersMax }, (_, i): [string, string] => [`h${i}`, 'v'])
  t.equal(intakeHeaders('default/orders', full, 1).ok, true, `${persistentLimits.eventHeadersMax} headers fit a single-region stream`)
  const refused = intakeHeaders('default/orders', full, 2)
  t.equal(refused.ok, false)
  t.match(refused.ok ? '' : refused.message, new RegExp(`at most ${multiRegionHeadersMax} headers`))
  t.equal(refused.ok ? '' : refused.code, 'RG_ERR_INVALID_ARGUMENT')
  t.equal(intakeHeaders('default/orders', full.slice(1), 2).ok, true, `${multiRegionHeadersMax} headers fit a multi-region stream`)
  t.equal(intakeHeaders('default/orders', [...full.slice(1), [sourceHeader, 'forged']], 2).ok, true, 'a forged Rg-Source does not count: it is stripped first')
})

function stateOf(commands: Command[]): ClusterState {
  let state = emptyState()
  commands.forEach((command, i) => {
    const out = apply(state, command, { index: i + 1, timeMs: 1_700_000_000_000 + i })
    if (!out.result.ok) throw new Error(`${command.type}: ${out.result.message}`)
    state = out.state
  })
  return state
}

const node = (nodeId: string, region: string): Command => ({ type: 'addNode', nodeId, clientAddress: `${nodeId}:4222`, peerAddress: `${nodeId}:6222`, adminAddress: `http://${nodeId}:8222`, region, masterEligible: true, tags: {} })
const stream = (name: string, regions: string[]): Command => ({
  type: 'ensureStream',
  namespace: 'default',
  name,
  kind: 'persistent',
  regions,
  replicasPerRegion: 1,
  dedupWindowMs: 1_000,
  retention: { maxAgeMs: 0, maxBytes: 0, maxEvents: 0 },
  ackDefault: 'majority',
  deadLetter: { maxDeliveries: 0, maxLag: 0 },
})

t.test('issue #7: a shipment is taken only from a node of its source region, for a stream placed in both regions', async (t) => {
  const state = stateOf([node('e1', 'eu'), node('u1', 'us'), node('a1', 'ap'), stream('both', ['eu', 'us']), stream('eu-only', ['eu']), stream('eu-ap', ['eu', 'ap'])])
  t.same(judgeShipment(state, 'us', 'e1', 'default/both', 'eu'), { ok: true }, 'e1 (eu) ships eu → us')
  t.match(judgeShipment(state, 'us', 'a1', 'default/both', 'eu'), { ok: false, reason: 'wrong-region' }, 'a node of ap cannot claim eu')
  t.match(judgeShipment(state, 'us', 'x9', 'default/both', 'eu'), { ok: false, reason: 'unknown-peer' })
  t.match(judgeShipment(state, 'us', 'u1', 'default/both', 'us'), { ok: false, reason: 'own-region' })
  t.match(judgeShipment(state, 'us', 'e1', 'default/eu-only', 'eu'), { ok: false, reason: 'not-placed' }, 'the stream is not placed here')
  t.match(judgeShipment(state, 'us', 'e1', 'default/eu-ap', 'eu'), { ok: false, reason: 'not-placed' }, 'placed in eu and ap, not us')
  t.match(judgeShipment(state, 'us', 'e1', 'default/missing', 'eu'), { ok: false, reason: 'not-placed' })
})

t.test('OncePer: once per key per interval, bounded keys', async (t) => {
  const once = new OncePer(1_000, 2)
  t.same([once.take('a', 0), once.take('a', 500), once.take('a', 1_000), once.take('b', 1_000), once.take('c', 1_000), once.take('a', 1_001)], [true, false, true, true, true, true], 'the oldest key is forgotten at the bound')
})

t.test('ship envelope: messages and lag reports round-trip; garbage is refused, never thrown', async (t) => {
  const bytes = Uint8Array.of(1, 2, 3)
  const message = decodeShipEnvelope(encodeShipEnvelope(bytes))
  t.same(message.ok && message.value.kind === 'message' ? [...message.value.bytes] : undefined, [1, 2, 3])
  const report: LagReport = { stream: 'default/orders', from: 'eu', to: 'us', events: 3, ms: 120, head: 10, cursor: 7, term: 5, holder: 'e1' }
  const frame = encodeLagReport(report) as Uint8Array
  const decoded = decodeShipEnvelope(frame)
  t.same(decoded.ok && decoded.value.kind === 'lag' ? decoded.value.report : undefined, report)
  for (let cut = 1; cut < frame.length; cut++) t.equal(decodeShipEnvelope(frame.subarray(0, cut)).ok, false, `a lag report cut at ${cut} is refused`)
  t.equal(decodeShipEnvelope(new Uint8Array(0)).ok, false, 'empty')
  t.equal(decodeShipEnvelope(Uint8Array.of(9, 1)).ok, false, 'unknown kind')
  const bad = new TextEncoder().encode(JSON.stringify({ ...report, events: -1 }))
  t.equal(decodeShipEnvelope(Uint8Array.of(2, ...bad)).ok, false, 'a negative count')
  const extra = new TextEncoder().encode(JSON.stringify({ ...report, extra: 1 }))
  t.equal(decodeShipEnvelope(Uint8Array.of(2, ...extra)).ok, false, 'an unknown field')
  t.equal(encodeLagReport({ ...report, stream: 'x'.repeat(5_000) }), undefined, 'over the frame bound: not encoded')
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (garbage) => {
      decodeShipEnvelope(garbage)
    }),
  )
})

function event(id: string, origin: string, seq: number, wallMs: number, headers: Array<[string, string]> = []): StreamEvent {
  return { stream: 'default/orders', id, hlc: { wallMs, logical: 0 }, origin, incarnation: 1, originSeq: seq, headers, payload: new TextEncoder().encode(`payload-${id}`) }
}

t.test('event-set digest: order-independent, equal for a copy shipped to another region', async (t) => {
  const local = [event('a', 'e1', 1, 100), event('b', 'e1', 2, 110), event('a', 'e2', 1, 120)]
  const east = new EventSetDigest('eu')
  for (const e of local) east.add(e)
  const reversed = new EventSetDigest('eu')
  for (const e of [...local].reverse()) reversed.add(e)
  t.same(east.view(), reversed.view(), 'same set, any order')
  // The same three as copies in us: us origins and HLCs, the same id, headers and payload, plus Rg-Source.
  const west = new EventSetDigest('us')
  local.forEach((e, i) => west.add({ ...e, origin: 'u1', originSeq: i + 1, hlc: { wallMs: 5_000 + i, logical: 0 }, headers: shippedHeaders(e, 'eu', i + 1) }))
  t.same(west.view(), east.view(), 'a region holding the shipped copies reports the same digest')
  const other = new EventSetDigest('eu')
  for (const e of [local[0], local[1]] as StreamEvent[]) other.add(e)
  other.add({ ...(local[2] as StreamEvent), payload: new TextEncoder().encode('changed') })
  t.not(other.view().hash, east.view().hash, 'a different payload changes the digest')
})

t.test('railgun stream info prints every link’s lag and the node’s digest under the definition', async (t) => {
  const view = {
    namespace: 'default',
    name: 'orders',
    kind: 'persistent' as const,
    regions: ['eu', 'us'],
    replicasPerRegion: 2,
    dedupWindowMs: 60_000,
    retention: { maxAgeMs: 0, maxBytes: 0, maxEvents: 0 },
    ackDefault: 'majority' as const,
    deadLetter: { maxDeliveries: 0, maxLag: 0 },
    placement: {},
    createdIndex: 5,
    updatedIndex: 5,
    shipping: {
      node: 'us-1',
      region: 'us',
      digest: { events: 71, hash: '6267f59dfceb2cb8890e94463d24a86a' },
      lag: [
        { from: 'eu', to: 'us', events: 12, ms: 340, holder: 'eu-2', term: 6, ageMs: 15_000, stale: true },
        { from: 'us', to: 'eu', events: 0, ms: 0, holder: 'us-2', term: 6, ageMs: 200, stale: false },
      ],
    },
  }
  const text = describeStreamInfo(view)
  t.match(text, /"name": "orders"/, 'the definition as JSON first')
  t.match(text, /replication lag as us-1 \(us\) knows it:/)
  t.match(text, /FROM\s+TO\s+LAG EVENTS\s+LAG MS\s+MEASURED BY\s+AGE MS/)
  t.match(text, /eu\s+us\s+12\s+340\s+eu-2\s+15000 \(stale\)/)
  t.match(text, /us\s+eu\s+0\s+0\s+us-2\s+200/)
  t.match(text, /event-set digest on us-1: 71 events, 6267f59dfceb2cb8890e94463d24a86a/)
  const { shipping: _shipping, ...single } = view
  t.notMatch(describeStreamInfo(single), /replication lag/, 'a single-region stream prints its definition only')
})
