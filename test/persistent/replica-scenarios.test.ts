// StreamReplica scenarios (data-plane/persistent/replica/), each a short story on the
// synchronous stage (replica-harness.ts: codec on every message, disks that sync when told).
import t from 'tap'
import type { PublishAck, ReplicaMessage } from '../../data-plane/persistent/index.js'
import { Stage } from './replica-harness.js'

const okAcks = (stage: Stage): string[] => stage.acks.map((a) => (a.ok ? `${a.publishId}:${a.level}${a.duplicate ? ':dup' : ''}` : `${a.publishId}:${a.error.code}`))
const ids = (stage: Stage, name: string): string[] => (stage.delivered.get(name) ?? []).map((d) => d.event.id)

t.test('ack levels (DESIGN §3.2.1): write after the origin syncs, majority after a majority, all after all', async (t) => {
  const stage = new Stage(['a', 'b', 'c'])
  for (const name of ['a', 'b', 'c']) stage.manualSync.add(name)
  const write = stage.publish('a', 'w', 'write')
  const majority = stage.publish('a', 'm', 'majority')
  const all = stage.publish('a', 'l', 'all')
  stage.run()
  t.equal(stage.inbox.length, 0)
  t.same(okAcks(stage), [], 'nothing is stamped before the clock ceiling is durable')
  stage.sync('a') // the ceiling: now the events are stamped, written and pushed
  stage.run()
  t.same(okAcks(stage), [], 'written but not synced anywhere: no ack')
  stage.sync('a')
  stage.run()
  t.same(okAcks(stage), [`${write}:write`])
  stage.sync('b')
  stage.run()
  t.same(okAcks(stage), [`${write}:write`, `${majority}:majority`])
  stage.sync('c')
  stage.run()
  t.same(okAcks(stage), [`${write}:write`, `${majority}:majority`, `${all}:all`])
})

t.test('a cut-off replica: majority acks, all times out (RG_ERR_REQUEST_TIMEOUT)', async (t) => {
  const stage = new Stage(['a', 'b', 'c'], { timing: { ackTimeoutMs: 300 } })
  stage.cut.add('c')
  const majority = stage.publish('a', 'm', 'majority')
  const all = stage.publish('a', 'l', 'all')
  stage.advance(400)
  t.same(okAcks(stage), [`${majority}:majority`, `${all}:RG_ERR_REQUEST_TIMEOUT`])
})

t.test('a producer id twice inside the window: the second ack names the first as survivor; delivered once', async (t) => {
  const stage = new Stage(['a', 'b', 'c'])
  stage.publish('a', 'order-1')
  stage.advance(50)
  stage.publish('b', 'order-1')
  stage.advance(200)
  const [first, second] = stage.acks as [PublishAck, PublishAck]
  t.ok(first.ok && !first.duplicate)
  t.ok(second.ok && second.duplicate, 'the retry is acked as a duplicate')
  if (first.ok && second.ok) t.same(second.survivor, first.position, 'its survivor is the first copy')
  for (const name of ['a', 'b', 'c']) t.same(ids(stage, name), ['order-1'], `${name} delivers the id once`)
})

t.test('commit gate (DESIGN §4.1–4.2): a copy one peer holds is not delivered, so a close below it applies everywhere', async (t) => {
  const stage = new Stage(['a', 'b', 'c'])
  stage.publish('a', 'e1')
  stage.advance(100)
  t.same(ids(stage, 'b'), ['e1'])
  // a writes e2; only b receives it (a>c and b>c are cut: not even anti-entropy brings it to c)
  // and a crashes before its own fsync.
  stage.manualSync.add('a')
  stage.cut.add('a>c')
  stage.cut.add('b>c')
  stage.publish('a', 'e2')
  stage.advance(200) // a's heartbeats (vouching for seq 2) and c's reach b
  t.equal(stage.get('b').held.contiguous('a', 1), 2, 'b holds e2')
  t.same(ids(stage, 'b'), ['e1'], 'but does not deliver it: only b holds it durably (not committed)')
  stage.crash('a')
  stage.manualSync.delete('a')
  stage.cut.delete('a>c')
  stage.cut.delete('b>c')
  const a2 = stage.start('a')
  t.equal(a2.held.contiguous('a', 1), 1, 'a lost e2 with its unsynced write')
  // The controller fences a#1 on a majority that misses b, then closes at the highest answer.
  stage.cut.add('b')
  const answers = stage.fence('a', 1, 1, ['a', 'c']).filter((m): m is Extract<ReplicaMessage, { kind: 'fenced' }> => m.kind === 'fenced')
  t.same(answers.map((m) => m.durableSeq), [1, 1])
  stage.cut.delete('b')
  const claim = a2.successorClaim()
  if (claim === null) throw new Error('a#2 must claim a slot')
  const replies = stage.close([{ origin: 'a', incarnation: 1, atSeq: 1, controllerTerm: 1, successor: { incarnation: 2, fromHlc: claim.fromHlc } }])
  t.same(replies.map((m) => m.kind === 'closes-applied' && m.errorCode), ['', '', ''], 'the close applies on every replica, b included')
  stage.nowMs = claim.fromHlc.wallMs + 1
  stage.publish('a', 'e3')
  stage.advance(200)
  for (const name of ['a', 'b', 'c']) t.same(ids(stage, name), ['e1', 'e3'], `${name}: e2 (never acked) is cut, the order is the same everywhere`)
})

t.test('a fence freezes what a replica vouches for: the origin cannot reach a majority past it', async (t) => {
  const stage = new Stage(['a', 'b', 'c'], { timing: { ackTimeoutMs: 300 } })
  const first = stage.publish('a', 'e1')
  stage.advance(50)
  const answers = stage.fence('a', 1, 1, ['b', 'c'])
  t.same(answers.map((m) => m.kind === 'fenced' && [m.ok, m.durableSeq]), [[true, 1], [true, 1]])
  const second = stage.publish('a', 'e2')
  stage.advance(400)
  t.same(okAcks(stage), [`${first}:majority`, `${second}:RG_ERR_REQUEST_TIMEOUT`])
  t.equal(stage.get('b').held.contiguous('a', 1), 2, 'b holds e2')
  t.equal(stage.get('b').durableReported('a', 1), 1, 'but vouches only for what it held when fenced')
  const stale = stage.fence('a', 1, 0, ['b'])
  t.same(stale.map((m) => m.kind === 'fenced' && [m.ok, m.controllerTerm]), [[false, 1]], 'a fence of an older term is refused (DESIGN §4.7)')
})

t.test('clock ceiling: a restarted incarnation starts above everything its previous life emitted', async (t) => {
  const stage = new Stage(['a', 'b', 'c'])
  for (let i = 0; i < 5; i++) {
    stage.publish('a', `e${i}`)
    stage.advance(30)
  }
  const before = stage.get('a')
  const emitted = before.held.eventsInRange({ originKey: 'a#1', fromSeq: 1, toSeq: 5 }).map((e) => e.hlc.wallMs)
  stage.crash('a')
  const a2 = stage.start('a')
  const claim = a2.successorClaim()
  if (claim === null) throw new Error('a#2 must claim a slot')
  t.ok(emitted.every((ms) => ms < claim.fromHlc.wallMs), 'fromHlc is above every event of a#1')
  t.ok(claim.fromHlc.wallMs > stage.nowMs, 'the ceiling runs ahead of the clock')
  stage.publish('a', 'early')
  stage.run()
  t.same(okAcks(stage).slice(-1), [`p6:RG_ERR_INVALID_STATE`], 'no writes before the controller gives the slot')
  stage.fence('a', 1, 1)
  stage.close([{ origin: 'a', incarnation: 1, atSeq: 5, controllerTerm: 1, successor: { incarnation: 2, fromHlc: claim.fromHlc } }])
  t.ok(a2.writable)
  const late = stage.publish('a', 'late')
  stage.run()
  t.notOk(stage.acks.some((a) => a.publishId === late), 'physical time has not passed the ceiling yet: the write waits')
  stage.advance(claim.fromHlc.wallMs - stage.nowMs + 100)
  t.ok(stage.acks.some((a) => a.publishId === late && a.ok), 'then it is written and acked')
  const stamped = a2.held.eventsInRange({ originKey: 'a#2', fromSeq: 1, toSeq: 1 })[0]
  t.ok(stamped !== undefined && stamped.hlc.wallMs > claim.fromHlc.wallMs)
  for (const name of ['a', 'b', 'c']) t.same(ids(stage, name), ['e0', 'e1', 'e2', 'e3', 'e4', 'late'])
})

t.test('closes: a chain sent out of order waits for its first link; a restart replays the same deliveries', async (t) => {
  const stage = new Stage(['a', 'b', 'c'])
  stage.publish('a', 'x')
  stage.advance(100)
  stage.crash('a')
  const claim2 = stage.start('a').successorClaim()
  stage.crash('a')
  const a3 = stage.start('a')
  const claim3 = a3.successorClaim()
  if (claim2 === null || claim3 === null) throw new Error('claims expected')
  const first = { origin: 'a', incarnation: 1, atSeq: 1, controllerTerm: 1, successor: { incarnation: 2, fromHlc: claim2.fromHlc } }
  const second = { origin: 'a', incarnation: 2, atSeq: 0, controllerTerm: 2, successor: { incarnation: 3, fromHlc: claim3.fromHlc } }
  const outOfOrder = stage.close([second], ['b'])
  t.same(outOfOrder.map((m) => m.kind === 'closes-applied' && [m.applied, m.errorCode]), [[0, 'RG_ERR_NOT_FOUND']])
  const inOrder = stage.close([first, second])
  t.same(inOrder.map((m) => m.kind === 'closes-applied' && [m.applied, m.errorCode]), [[2, ''], [2, ''], [2, '']])
  t.ok(a3.writable)
  const stale = stage.close([{ ...first, controllerTerm: 1 }], ['c'])
  t.same(stale.map((m) => m.kind === 'closes-applied' && m.errorCode), ['RG_ERR_STALE_TERM'], 'a decision restated under an older term is refused')
  stage.nowMs = claim3.fromHlc.wallMs + 1
  stage.publish('a', 'y')
  stage.publish('b', 'z')
  stage.advance(200)
  const before = ids(stage, 'b')
  t.same([...before].sort(), ['x', 'y', 'z'])
  stage.crash('b')
  stage.start('b')
  stage.advance(200)
  t.same(ids(stage, 'b').slice(0, 3), before, 'b replays the same order from index 0 after its restart')
})

t.test('a copy cut off by a close does not shadow its retry (DESIGN §4.4: the id is delivered once)', async (t) => {
  // Orderer over the full held set would count a#1:1 in the dedup verdict even after the close
  // cuts it, and skip the retry forever. The replica's orderer only sees committed copies.
  const stage = new Stage(['a', 'b', 'c'])
  stage.advance(50)
  stage.manualSync.add('a')
  stage.cut.add('a>c')
  stage.cut.add('b>c')
  stage.publish('a', 'X')
  stage.run()
  t.ok(stage.get('b').held.copiesOf('X').length === 1, 'b holds the first copy')
  stage.crash('a')
  stage.manualSync.delete('a')
  const retry = stage.publish('b', 'X', 'write')
  stage.advance(50)
  const ack = stage.acks.find((a) => a.publishId === retry)
  t.ok(ack?.ok === true && ack.duplicate, 'the retry is acked as a duplicate of the copy b held (a provisional verdict)')
  stage.cut.clear()
  const a2 = stage.start('a')
  const claim = a2.successorClaim()
  if (claim === null) throw new Error('claim expected')
  const answers = stage.fence('a', 1, 1, ['a', 'c'])
  t.same(answers.map((m) => m.kind === 'fenced' && m.durableSeq), [0, 0], 'no majority ever held a#1:1')
  stage.close([{ origin: 'a', incarnation: 1, atSeq: 0, controllerTerm: 1, successor: { incarnation: 2, fromHlc: claim.fromHlc } }])
  stage.advance(200)
  for (const name of ['a', 'b', 'c']) {
    t.same((stage.delivered.get(name) ?? []).map((d) => `${d.event.id}@${d.event.origin}`), ['X@b'], `${name} delivers the retry, once`)
  }
})
