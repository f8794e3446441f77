// StreamReplica memory (issue #5; replica/README.md "Memory"), on the scenario stage: what a
// replica keeps in memory does not grow with the stream — copies stay only until settled and
// durable, the dedup window holds one small entry per id delivered in the last window — and
// what the protocol still needs of older copies comes from the disk: a restart restores
// metadata, the dedup window and the few unsettled copies (never the history), a lagging
// replica catches up with copies its peers read back from their disks, and dedup holds across
// a restart inside the window.
import t from 'tap'
import { compareEventOrder } from '../../data-plane/persistent/index.js'
import type { EventPosition, PublishAck } from '../../data-plane/persistent/index.js'
import { isUnresolved } from '../../data-plane/persistent/dedup-window.js'
import { Stage } from './replica-harness.js'

const ids = (stage: Stage, name: string): string[] => (stage.delivered.get(name) ?? []).map((d) => d.event.id)

/** Publishes `count` events, `perTick` every 10 ms on rotating origins; returns the highest memory seen per replica. */
function fill(stage: Stage, count: number, perTick: number, origins: readonly string[], prefix = 'e'): Map<string, { events: number; dedupIds: number }> {
  const peak = new Map<string, { events: number; dedupIds: number }>()
  for (let i = 0; i < count; ) {
    for (let k = 0; k < perTick && i < count; k++, i++) stage.publish(origins[i % origins.length] as string, `${prefix}${i}`)
    stage.advance(10)
    for (const [name, replica] of stage.replicas) {
      const was = peak.get(name) ?? { events: 0, dedupIds: 0 }
      peak.set(name, { events: Math.max(was.events, replica.memory.events), dedupIds: Math.max(was.dedupIds, replica.memory.dedupIds) })
    }
  }
  return peak
}

/** Closes `node`'s previous incarnation naming the running one its successor (what the stream controller does). */
function giveSlot(stage: Stage, node: string, term: number): void {
  const claim = stage.get(node).successorClaim()
  if (claim === null) throw new Error(`${node} has no claim`)
  const incarnation = claim.incarnation - 1
  const answers = stage.fence(node, incarnation, term)
  const atSeq = Math.max(...answers.map((m) => (m.kind === 'fenced' ? m.durableSeq : 0)))
  stage.close([{ origin: node, incarnation, atSeq, controllerTerm: term, successor: { incarnation: claim.incarnation, fromHlc: claim.fromHlc } }])
  stage.advance(claim.fromHlc.wallMs - stage.nowMs + 20)
}

t.test('memory does not grow with the stream: copies stay until settled and durable; the dedup window holds the last window of ids', async (t) => {
  const stage = new Stage(['a', 'b', 'c'], { dedupWindowMs: 200 })
  const short = fill(stage, 600, 5, ['a', 'b', 'c'], 's')
  const long = fill(stage, 3000, 5, ['a', 'b', 'c'], 'l')
  stage.advance(300)
  for (const name of ['a', 'b', 'c']) {
    t.equal(ids(stage, name).length, 3600, `${name} delivered all 3,600`)
    const peakShort = short.get(name)?.events ?? 0
    const peakLong = long.get(name)?.events ?? 0
    // 5 events per 10 ms and a frontier ~one heartbeat behind: a few dozen copies wait.
    t.ok(peakLong <= 100, `${name}: at most 100 copies in memory while writing (saw ${peakLong})`)
    t.ok(peakLong <= peakShort * 2 + 20, `${name}: 5× the stream, not 5× the memory (${peakShort} → ${peakLong})`)
    t.equal(stage.get(name).memory.events, 0, `${name}: none once everything is settled and synced`)
    // 200 ms window × 5 events per 10 ms = 100 ids, plus the part of the window still being filled.
    t.ok((long.get(name)?.dedupIds ?? 0) <= 130, `${name}: dedup window ≤ 130 ids (saw ${long.get(name)?.dedupIds})`)
  }
  t.same(ids(stage, 'a'), ids(stage, 'b'))
  t.same(ids(stage, 'a'), ids(stage, 'c'))
})

t.test('restart of a stream with many events reads back O(window) copies, not the history', async (t) => {
  const stage = new Stage(['a', 'b', 'c'], { dedupWindowMs: 300, timing: { clockCeilingLeaseMs: 100 } })
  fill(stage, 4000, 5, ['a', 'b', 'c'])
  stage.advance(200)
  const before = ids(stage, 'b')
  t.equal(before.length, 4000)
  stage.crash('b')
  const b2 = stage.start('b')
  const restored = stage.restored.get('b')
  if (restored === undefined || restored.resume === null) throw new Error('b restored nothing')
  t.equal(restored.resume.deliveredCount, 4000, 'the delivery log is durable')
  t.equal(b2.deliveredCount, 4000, 'delivery resumes at index 4000')
  t.ok(restored.events.length <= 20, `unsettled copies reloaded: ${restored.events.length} of 4,000`)
  // 300 ms window at 500 events/s: ~150 delivered ids, never the whole log.
  t.ok(restored.resume.window.size <= 200 && restored.resume.window.size >= 100, `the dedup window: ${restored.resume.window.size} survivors`)
  t.same([...restored.held.values()].reduce((n, h) => n + h.contiguous, 0), 4000, 'yet it knows it holds all 4,000 (version vector)')
  t.equal(b2.memory.events, restored.events.length)
  giveSlot(stage, 'b', 1)
  fill(stage, 300, 5, ['a', 'b', 'c'], 'after')
  stage.advance(200)
  t.same(ids(stage, 'b'), ids(stage, 'a'), 'the same order as a replica that never restarted')
  t.equal(ids(stage, 'b').length, 4300)
  t.same(ids(stage, 'b').slice(0, 4000), before, 'the first 4,000 are not delivered again')
  t.same((stage.delivered.get('b') ?? []).map((d) => d.index), Array.from({ length: 4300 }, (_, i) => i), 'indexes contiguous across the restart')
})

t.test('a lagging replica catches up with old copies its peers read back from their disks', async (t) => {
  const stage = new Stage(['a', 'b', 'c'], { dedupWindowMs: 300 })
  // c hears nothing (its heartbeats still reach a and b, so it does not hold their frontier).
  stage.cut.add('a>c')
  stage.cut.add('b>c')
  fill(stage, 2000, 5, ['a', 'b'])
  stage.advance(200)
  t.equal(ids(stage, 'a').length, 2000, 'a majority (a, b) delivers without c')
  t.equal(stage.get('a').memory.events, 0, 'and keeps none of the 2,000 in memory')
  t.equal(ids(stage, 'c').length, 0)
  // c's digests reached a and b all along: their answers (reads of the disk) were lost on the cut links.
  const readsBefore = stage.readsServed
  const copiesBefore = stage.readEventsServed
  stage.cut.clear()
  for (let i = 0; i < 300 && ids(stage, 'c').length < 2000; i++) stage.advance(10)
  t.same(ids(stage, 'c'), ids(stage, 'a'), 'c delivers the same 2,000 in the same order')
  t.ok(stage.readsServed > readsBefore && stage.readEventsServed - copiesBefore >= 2000, `served from the disks after the heal: ${stage.readsServed - readsBefore} reads, ${stage.readEventsServed - copiesBefore} copies`)
  for (const name of ['a', 'b', 'c']) t.equal(stage.get(name).memory.readsInFlight, 0, `${name}: no read left waiting`)
  t.same(stage.get('c').heldVector(), stage.get('a').heldVector(), 'the same version vector')
  t.ok(stage.get('c').memory.events <= 10, `c does not keep what it caught up with (${stage.get('c').memory.events})`)
})

t.test('dedup across a restart inside the window: the restored window judges the retry', async (t) => {
  const stage = new Stage(['a', 'b', 'c'], { dedupWindowMs: 3000, timing: { clockCeilingLeaseMs: 100 } })
  stage.publish('a', 'K')
  fill(stage, 300, 3, ['a', 'c'], 'x')
  stage.advance(100)
  const first = stage.acks.find((a) => a.ok) as Extract<PublishAck, { ok: true }>
  stage.crash('b')
  stage.start('b')
  const restored = stage.restored.get('b')
  // The window keeps K's fingerprint, not K: a match names the survivor whose id must be read.
  const kept = restored?.resume?.window.survivorOf('K', () => undefined) ?? null
  t.ok(isUnresolved(kept) && kept.unresolved.length === 1 && compareEventOrder(kept.unresolved[0] as EventPosition, first.position) === 0, 'K\'s fingerprint is in the restored dedup window, at the copy delivered before the restart')
  t.same(restored?.resume?.window.survivorOf('K', () => 'K'), first.position, 'confirmed by its id')
  t.notOk(restored?.events.some((e) => e.id === 'K'), 'but its copy is not reloaded (settled)')
  giveSlot(stage, 'b', 1)
  const retry = stage.publish('b', 'K', 'write')
  stage.advance(200)
  const ack = stage.acks.find((a) => a.publishId === retry)
  t.ok(ack?.ok === true && ack.duplicate, 'the retry on the restarted replica is acked as a duplicate')
  if (ack?.ok === true) t.same(ack.survivor, first.position, 'of the copy delivered before the restart')
  for (const name of ['a', 'b', 'c']) t.equal(ids(stage, name).filter((id) => id === 'K').length, 1, `${name} delivers K once`)
  t.same(ids(stage, 'b'), ids(stage, 'a'))
  // Past the window the same id is a new message again (the window expired, across the restart too).
  stage.advance(3000)
  const late = stage.publish('b', 'K', 'write')
  stage.advance(200)
  const lateAck = stage.acks.find((a) => a.publishId === late)
  t.ok(lateAck?.ok === true && !lateAck.duplicate, 'a window later it survives')
  for (const name of ['a', 'b', 'c']) t.equal(ids(stage, name).filter((id) => id === 'K').length, 2, `${name} delivers the late K`)
})

t.test('a retry after its survivor left memory: the window matches its fingerprint, the id is read from the disk, the ack and delivery wait for it', async (t) => {
  const stage = new Stage(['a', 'b', 'c'], { dedupWindowMs: 3000 })
  stage.publish('a', 'K')
  fill(stage, 300, 3, ['a', 'b', 'c'], 'x')
  stage.advance(100)
  const first = stage.acks.find((a) => a.ok) as Extract<PublishAck, { ok: true }>
  for (const name of ['a', 'b', 'c']) t.equal(stage.get(name).memory.events, 0, `${name}: K's copy (and every other) left memory`)
  const readsBefore = stage.readsServed
  const retry = stage.publish('b', 'K', 'majority')
  stage.advance(200)
  const ack = stage.acks.find((a) => a.publishId === retry)
  t.ok(ack?.ok === true && ack.duplicate, 'the retry is acked as a duplicate')
  if (ack?.ok === true) t.same(ack.survivor, first.position, 'of the copy delivered first')
  for (const name of ['a', 'b', 'c']) {
    t.equal(ids(stage, name).filter((id) => id === 'K').length, 1, `${name} delivers K once`)
    t.equal(stage.get(name).memory.idReadsInFlight, 0, `${name}: no id read left waiting`)
  }
  t.same(ids(stage, 'b'), ids(stage, 'a'))
  t.same(ids(stage, 'c'), ids(stage, 'a'))
  // b reads K's id once for the ack (and then knows it); a and c once each when their orderer takes b's copy.
  t.equal(stage.readsServed - readsBefore, 3, 'three reads of one copy each, nothing else read')
})
