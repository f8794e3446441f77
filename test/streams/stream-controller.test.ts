// The stream controller's pure core (server/streams/stream-controller.ts), the model of
// test/sim/region/closer.ts: a successor claim is closed only after a fenced majority AND the
// claimant answered, at the highest answer; an unreachable origin (dead in the cluster state, or
// link down past the grace) is closed without a successor, never the last open slot, and not
// because this process itself was stalled; committed
// decisions are distributed under the controller's term until applied; a higher term stops it.
import t from 'tap'
import type { CloseDecision, ReplicaMessage } from '../../data-plane/persistent/index.js'
import { StreamControllerCore, slotsAfter } from '../../server/streams/index.js'
import type { ReplicaView, StreamControllerConfig } from '../../server/streams/index.js'

const replicas = ['n1', 'n2', 'n3']
// Ticks here jump in time; stall detection has its own test.
const config: StreamControllerConfig = { stream: 'default/orders', replicas, term: 7, deadOriginGraceMs: 5_000, fenceResendMs: 500, distributeResendMs: 500, fenceAllWaitMs: 300, stalledTickGapMs: Number.POSITIVE_INFINITY }
const allUp: ReplicaView = { dead: new Set(), up: new Set(replicas) }
const fromHlc = { wallMs: 1_000, logical: 0 }

function fencesIn(messages: ReadonlyArray<{ to: string; message: ReplicaMessage }>): Array<{ to: string; requestId: number; origin: string; incarnation: number; term: number }> {
  return messages.flatMap(({ to, message }) => (message.kind === 'fence' ? [{ to, requestId: message.requestId, origin: message.origin, incarnation: message.incarnation, term: message.controllerTerm }] : []))
}

function fenced(requestId: number, origin: string, incarnation: number, durableSeq: number, controllerTerm = 7) {
  return { kind: 'fenced' as const, stream: 'default/orders', requestId, origin, incarnation, ok: true, durableSeq, controllerTerm }
}

t.test('slotsAfter: a successor takes the slot; a close without one ends it', async (t) => {
  const decisions: CloseDecision[] = [
    { origin: 'n1', incarnation: 1, atSeq: 4, controllerTerm: 1, successor: { incarnation: 3, fromHlc } },
    { origin: 'n2', incarnation: 1, atSeq: 9, controllerTerm: 2 },
    { origin: 'n2', incarnation: 1, atSeq: 9, controllerTerm: 2, successor: { incarnation: 2, fromHlc } },
  ]
  const slots = slotsAfter(replicas, decisions)
  t.same(slots.get('n1'), { incarnation: 3, open: true })
  t.same(slots.get('n2'), { incarnation: 1, open: false }, 'a later decision for a closed incarnation changes nothing')
  t.same(slots.get('n3'), { incarnation: 1, open: true })
})

t.test('a successor claim: fence everyone, wait for a majority and the claimant, close at the highest answer', async (t) => {
  const core = new StreamControllerCore(config, 0)
  t.same(core.tick(10, allUp).messages, [], 'nothing to do')
  core.onClaim({ origin: 'n1', incarnation: 2, fromHlc })
  const out = core.tick(20, allUp)
  const fences = fencesIn(out.messages)
  t.same(fences.map((f) => [f.to, f.origin, f.incarnation, f.term]), [['n1', 'n1', 1, 7], ['n2', 'n1', 1, 7], ['n3', 'n1', 1, 7]], 'fence n1#1 on every replica under term 7')
  const requestId = fences[0]?.requestId as number
  core.onFenced('n2', fenced(requestId, 'n1', 1, 5))
  core.onFenced('n3', fenced(requestId, 'n1', 1, 8))
  t.equal(core.tick(30, allUp).propose, null, 'a majority is not enough without the claimant (its write acks)')
  core.onFenced('n1', fenced(requestId, 'n1', 1, 6))
  const decided = core.tick(40, allUp)
  t.same(decided.propose, { origin: 'n1', incarnation: 1, atSeq: 8, controllerTerm: 7, successor: { incarnation: 2, fromHlc } }, 'atSeq = the highest answer, successor named')
  t.equal(core.tick(50, allUp).propose, null, 'one proposal at a time')
  // Committed (by this or another controller): distributed under this term until applied.
  const committed: CloseDecision = { origin: 'n1', incarnation: 1, atSeq: 8, controllerTerm: 6, successor: { incarnation: 2, fromHlc } }
  core.setCommitted([committed])
  const sent = core.tick(60, allUp).messages.filter((m) => m.message.kind === 'closes')
  t.same(sent.map((m) => m.to), replicas)
  t.same(sent[0]?.message.kind === 'closes' ? sent[0].message.decisions : [], [{ ...committed, controllerTerm: 7 }], 'restated under the controller term')
  core.onClosesApplied('n1', { kind: 'closes-applied', stream: 'default/orders', requestId: 1, applied: 1, errorCode: '', controllerTerm: 7 })
  t.same(core.tick(600, allUp).messages.filter((m) => m.message.kind === 'closes').map((m) => m.to), ['n2', 'n3'], 'resent only to replicas that have not applied it')
  t.same(core.slot('n1'), { incarnation: 2, open: true })
  t.equal(core.tick(700, allUp).propose, null, 'the claim is satisfied')
})

t.test('an answer of another fence round or origin is ignored; fences are resent', async (t) => {
  const core = new StreamControllerCore(config, 0)
  core.onClaim({ origin: 'n2', incarnation: 4, fromHlc })
  const first = fencesIn(core.tick(0, allUp).messages)
  const requestId = first[0]?.requestId as number
  core.onFenced('n1', fenced(requestId + 99, 'n2', 1, 3))
  core.onFenced('n3', fenced(requestId, 'n3', 1, 3))
  t.same(core.fencing?.answers.size, 0)
  t.same(fencesIn(core.tick(100, allUp).messages), [], 'not before fenceResendMs')
  t.equal(fencesIn(core.tick(600, allUp).messages).length, 3, 'resent')
})

t.test('an unreachable origin is closed without a successor after the grace; a dead one at once; never the last open slot', async (t) => {
  const core = new StreamControllerCore(config, 0)
  const n3Down: ReplicaView = { dead: new Set(), up: new Set(['n1', 'n2']) }
  t.same(fencesIn(core.tick(4_000, n3Down).messages), [], 'within the grace')
  const fences = fencesIn(core.tick(5_001, n3Down).messages)
  t.same(fences.map((f) => [f.origin, f.incarnation]), [['n3', 1], ['n3', 1], ['n3', 1]])
  const requestId = fences[0]?.requestId as number
  core.onFenced('n1', fenced(requestId, 'n3', 1, 3))
  core.onFenced('n2', fenced(requestId, 'n3', 1, 4))
  t.same(core.tick(5_010, n3Down).propose, { origin: 'n3', incarnation: 1, atSeq: 4, controllerTerm: 7 }, 'no successor')
  core.setCommitted([{ origin: 'n3', incarnation: 1, atSeq: 4, controllerTerm: 7 }])
  // n2 is now dead in the cluster state: closed at once (n1 keeps the last open slot).
  const n2Dead: ReplicaView = { dead: new Set(['n2']), up: new Set(['n1', 'n2']) }
  const next = fencesIn(core.tick(5_020, n2Dead).messages)
  t.same([...new Set(next.map((f) => f.origin))], ['n2'])
  core.onFenced('n1', fenced(next[0]?.requestId as number, 'n2', 1, 9))
  core.onFenced('n2', fenced(next[0]?.requestId as number, 'n2', 1, 9))
  t.same(core.tick(5_030, n2Dead).propose, { origin: 'n2', incarnation: 1, atSeq: 9, controllerTerm: 7 })
  core.setCommitted([
    { origin: 'n3', incarnation: 1, atSeq: 4, controllerTerm: 7 },
    { origin: 'n2', incarnation: 1, atSeq: 9, controllerTerm: 7 },
  ])
  const alone: ReplicaView = { dead: new Set(['n1']), up: new Set() }
  t.same(fencesIn(core.tick(99_000, alone).messages), [], 'n1 holds the last open slot: never closed without a successor')
  core.onClaim({ origin: 'n3', incarnation: 2, fromHlc })
  t.same(fencesIn(core.tick(99_100, alone).messages), [], 'a claim for a slot closed for good is ignored')
})

t.test('after a majority, the controller waits a little for the other replicas that are up', async (t) => {
  const core = new StreamControllerCore(config, 0)
  core.onClaim({ origin: 'n1', incarnation: 2, fromHlc })
  const requestId = fencesIn(core.tick(0, allUp).messages)[0]?.requestId as number
  core.onFenced('n1', fenced(requestId, 'n1', 1, 2))
  core.onFenced('n2', fenced(requestId, 'n1', 1, 2))
  t.equal(core.tick(100, allUp).propose, null, 'n3 is up and has not answered')
  t.equal(core.tick(300, allUp).propose, null, 'still within fenceAllWaitMs of the majority')
  t.equal(core.tick(450, allUp).propose?.atSeq, 2, 'decides without it after fenceAllWaitMs')
})

t.test('a replica that saw a higher term stops the controller (it is stale)', async (t) => {
  const core = new StreamControllerCore(config, 0)
  core.onClaim({ origin: 'n1', incarnation: 2, fromHlc })
  const requestId = fencesIn(core.tick(0, allUp).messages)[0]?.requestId as number
  core.onFenced('n2', { ...fenced(requestId, 'n1', 1, 0, 8), ok: false })
  t.match(core.stopped, /term 8/)
  t.same(core.tick(10_000, allUp).messages, [], 'a stopped controller sends nothing')
})

t.test('a failed proposal fences again later; a shrinking committed list is ignored', async (t) => {
  const core = new StreamControllerCore(config, 0)
  core.onClaim({ origin: 'n1', incarnation: 2, fromHlc })
  const requestId = fencesIn(core.tick(0, allUp).messages)[0]?.requestId as number
  for (const r of replicas) core.onFenced(r, fenced(requestId, 'n1', 1, 1))
  t.ok(core.tick(10, allUp).propose !== null)
  core.proposalFailed('stale: the designation moved')
  t.equal(fencesIn(core.tick(20, allUp).messages).length, 3, 'a new fence round')
  core.setCommitted([{ origin: 'n1', incarnation: 1, atSeq: 1, controllerTerm: 7, successor: { incarnation: 2, fromHlc } }])
  core.setCommitted([])
  t.equal(core.committed.length, 1)
  t.equal(core.fencing, null, 'the fence of a closed incarnation is dropped')
})

t.test('a late tick (this process was stalled) gives every origin a fresh grace', async (t) => {
  const core = new StreamControllerCore({ ...config, stalledTickGapMs: 1_000 }, 0)
  const n3Down: ReplicaView = { dead: new Set(), up: new Set(['n1', 'n2']) }
  for (let now = 0; now <= 2_000; now += 50) core.tick(now, allUp)
  t.same(fencesIn(core.tick(9_000, n3Down).messages), [], 'after a 7 s stall nothing is judged unreachable')
  let fenced: ReturnType<typeof fencesIn> = []
  for (let now = 9_050; now <= 14_100 && fenced.length === 0; now += 50) fenced = fencesIn(core.tick(now, n3Down).messages)
  t.same([...new Set(fenced.map((f) => f.origin))], ['n3'], 'a grace counted on ticks that kept time closes it')
})
