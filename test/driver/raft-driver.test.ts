// The Raft driver on the in-memory transport and storage adapter: elections, proposals applied
// in the same order everywhere, reads after writes, forwarding, a partitioned leader, and a
// storage failure that stops a node before it sends anything.
import t from 'tap'
import { RaftRequestError } from '../../control-plane/driver/driver-errors.js'
import type { DriverStop } from '../../control-plane/driver/driver-options.js'
import type { Applied } from '../../control-plane/driver/pending-requests.js'
import { encodeMessage } from '../../control-plane/driver/message-codec.js'
import { makeMessage } from '../../control-plane/raft/index.js'
import { bytes, startGroup, waitForLeader, waitUntil } from './helpers.js'

t.test('a 3-node group elects one leader; proposals apply in the same order on every node', async (t) => {
  const group = await startGroup(3)
  t.teardown(() => group.close())
  const leader = await waitForLeader(group.members)
  const results = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((text) => leader.driver.propose(bytes(text))))
  const indexes = results.map((r) => r.index)
  t.same([...indexes].sort((x, y) => x - y), indexes, 'indexes increase in proposal order')
  t.same(results.map((r) => r.result), indexes, "each proposal resolves with the application's result for its own entry")
  const lastIndex = Math.max(...indexes)
  await waitUntil('every node applied the writes', () => group.members.every((m) => m.driver.appliedIndex() >= lastIndex))
  const sequences = group.members.map((m) => m.app.items.join(','))
  t.same(group.members[0]?.app.texts(), ['a', 'b', 'c', 'd', 'e'])
  t.equal(new Set(sequences).size, 1, 'every node applied the same sequence (index:text)')
  for (const member of group.members) {
    t.equal(member.log.sendsDuringBatch, 0, `node ${member.id} never sent while a batch was being written`)
    t.same(member.log.violations, [], `node ${member.id} never sent a message promising what was not yet durable`)
    t.ok(member.log.events.some((e) => e.startsWith('batch sync=true')), `node ${member.id} wrote synced batches`)
    // etcd's MustSync: only a batch that moves nothing but the commit index may skip the sync
    // (term and vote changes are checked against the durable view by \`violations\` above).
    t.same(
      member.log.events.filter((e) => e.startsWith('batch sync=false') && e !== 'batch sync=false hard-state-only'),
      [],
      `node ${member.id} never skipped the sync on a batch holding entries or a snapshot`,
    )
  }
})

t.test('reads after writes see the writes, on the leader and on followers', async (t) => {
  const group = await startGroup(3)
  t.teardown(() => group.close())
  const leader = await waitForLeader(group.members)
  for (let i = 0; i < 5; i += 1) {
    const written = await leader.driver.propose(bytes(`w${i}`))
    for (const member of group.members) {
      const { readIndex } = await member.driver.readIndex()
      t.ok(readIndex >= written.index, `node ${member.id}: read index ${readIndex} covers write ${written.index}`)
      t.ok(member.app.texts().includes(`w${i}`), `node ${member.id} sees w${i} after its read barrier`)
    }
  }
})

t.test('a proposal on a follower is forwarded to the leader and resolves on the follower', async (t) => {
  const group = await startGroup(3)
  t.teardown(() => group.close())
  const leader = await waitForLeader(group.members)
  const follower = group.members.find((m) => m.id !== leader.id)!
  const applied = await follower.driver.propose(bytes('from-follower'))
  t.ok(applied.index > 0)
  t.ok(follower.app.items.includes(`${applied.index}:from-follower`), 'applied on the follower when its promise resolves')
  await waitUntil('the leader applied it', () => leader.app.items.includes(`${applied.index}:from-follower`))
})

t.test('partitioned leader: the majority elects a new leader and serves writes; the old leader\'s pending proposals reject', async (t) => {
  const group = await startGroup(3)
  t.teardown(() => group.close())
  const oldLeader = await waitForLeader(group.members)
  await oldLeader.driver.propose(bytes('before'))
  group.hub.isolate(oldLeader.id)
  const stranded = oldLeader.driver.propose(bytes('stranded'))
  const rest = group.members.filter((m) => m.id !== oldLeader.id)
  const newLeader = await waitForLeader(rest)
  t.not(newLeader.id, oldLeader.id)
  const after = await newLeader.driver.propose(bytes('after'))
  t.ok(after.index > 0, 'the new leader serves writes')
  const failure = await stranded.then(
    (value: Applied<number>) => value,
    (error: unknown) => error,
  )
  t.ok(failure instanceof RaftRequestError, 'the stranded proposal rejects')
  if (failure instanceof RaftRequestError) {
    t.match(failure.reason, /^(leadershipLost|overwritten)$/, `reason ${failure.reason}`)
    t.equal(failure.code, 'RG_ERR_RAFT_PROPOSAL_DROPPED')
  }
  group.hub.heal()
  await waitUntil('the old leader caught up', () => oldLeader.app.texts().includes('after'), 5_000)
  t.notOk(oldLeader.app.texts().includes('stranded'), 'the stranded entry was overwritten, never applied')
  await waitUntil('same sequences', () => new Set(group.members.map((m) => m.app.items.join(','))).size === 1)
  t.pass('all nodes converge')
  for (const member of group.members) t.same(member.log.violations, [], `node ${member.id}: every message promised only durable state`)
})

t.test('a storage failure stops the node: nothing is sent after it, pending proposals reject RG_ERR_RAFT_STOPPED', async (t) => {
  const group = await startGroup(3)
  t.teardown(() => group.close())
  const leader = await waitForLeader(group.members)
  await leader.driver.propose(bytes('ok'))
  const stops: DriverStop[] = []
  leader.driver.stopped$.subscribe((stop) => stops.push(stop))
  leader.location.failWith = new Error('disk on fire')
  const sentBefore = leader.log.events.length
  const doomed = leader.driver.propose(bytes('doomed'))
  await t.rejects(doomed, { name: 'RaftRequestError', reason: 'stopped', code: 'RG_ERR_RAFT_STOPPED' })
  t.equal(stops.length, 1, 'stopped$ reported once')
  t.equal(stops[0]?.kind, 'storage')
  if (stops[0] !== undefined && stops[0].kind !== 'requested') {
    t.equal(stops[0].error.code, 'RG_ERR_RAFT_STOPPED')
    t.match(stops[0].error.message, /storage write failed/)
  }
  // Let ticks (heartbeats) pass: a stopped node sends nothing more.
  await new Promise((resolve) => setTimeout(resolve, 150))
  const after = leader.log.events.slice(sentBefore)
  t.same(after.filter((e) => e.startsWith('send')), [], 'no message was sent after the failed batch')
  await t.rejects(leader.driver.propose(bytes('later')), { name: 'RaftRequestError', reason: 'stopped' }, 'later proposals reject at once')
  await t.rejects(leader.driver.readIndex(), { name: 'RaftRequestError', reason: 'stopped' })
  const rest = group.members.filter((m) => m.id !== leader.id)
  const newLeader = await waitForLeader(rest)
  t.ok((await newLeader.driver.propose(bytes('survivors'))).index > 0, 'the others elect a leader and go on')
})

t.test('undecodable or misaddressed frames are dropped and counted; the node keeps working', async (t) => {
  const group = await startGroup(3)
  t.teardown(() => group.close())
  const leader = await waitForLeader(group.members)
  const victim = group.members.find((m) => m.id !== leader.id)!
  const sender = group.members.find((m) => m.id !== leader.id && m.id !== victim.id)!
  const before = victim.driver.counters.framesDropped
  t.ok(sender.transport.send(victim.id, 'raft', new Uint8Array([1, 2, 3])), 'garbage queued')
  t.ok(sender.transport.send(victim.id, 'raft', new Uint8Array([])), 'empty frame queued')
  const heartbeat = { ...makeMessage({ type: 'heartbeat', from: sender.id, to: '9' }), term: 1 }
  t.ok(sender.transport.send(victim.id, 'raft', encodeMessage(heartbeat)), 'a frame addressed to another node queued')
  t.ok(sender.transport.send(victim.id, 'raft', encodeMessage({ ...heartbeat, to: victim.id, from: leader.id })), 'a frame claiming another sender queued')
  await waitUntil('frames dropped', () => victim.driver.counters.framesDropped >= before + 4)
  t.equal(victim.driver.stoppedBy(), undefined, 'the node did not stop')
  const applied = await victim.driver.propose(bytes('still-alive'))
  t.ok(applied.index > 0)
})

t.test('leadership transfer moves the leader', async (t) => {
  const group = await startGroup(3)
  t.teardown(() => group.close())
  const leader = await waitForLeader(group.members)
  await leader.driver.propose(bytes('x'))
  const target = group.members.find((m) => m.id !== leader.id)!
  leader.driver.transferLeadership(target.id)
  await waitUntil('target leads', () => target.driver.status().role === 'leader')
  t.equal((await waitForLeader(group.members)).id, target.id)
})

t.test('a transfer asked on a third node (neither leader nor target) is forwarded and moves the leader', async (t) => {
  const group = await startGroup(3)
  t.teardown(() => group.close())
  const leader = await waitForLeader(group.members)
  await leader.driver.propose(bytes('x'))
  const [asked, target] = group.members.filter((m) => m.id !== leader.id)
  if (asked === undefined || target === undefined) throw new Error('expected two followers')
  asked.driver.transferLeadership(target.id)
  await waitUntil('target leads', () => target.driver.status().role === 'leader')
  t.equal((await waitForLeader(group.members)).id, target.id)
})

t.test('snapshots: compaction every N entries; a lagging follower catches up by snapshot', async (t) => {
  const group = await startGroup(3, { snapshotEveryEntries: 5 })
  t.teardown(() => group.close())
  const leader = await waitForLeader(group.members)
  const lagging = group.members.find((m) => m.id !== leader.id)!
  group.hub.isolate(lagging.id)
  const rest = group.members.filter((m) => m.id !== lagging.id)
  const writer = await waitForLeader(rest)
  for (let i = 0; i < 20; i += 1) await writer.driver.propose(bytes(`s${i}`))
  t.ok(writer.driver.counters.snapshotsTaken >= 3, `leader took ${writer.driver.counters.snapshotsTaken} snapshots`)
  t.ok(writer.driver.status().firstIndex > lagging.driver.status().lastIndex + 1, 'the leader compacted past the lagging log')
  group.hub.heal()
  await waitUntil('lagging node caught up', () => lagging.app.texts().includes('s19'))
  t.ok(lagging.driver.counters.snapshotsRestored >= 1, 'it restored a snapshot')
  await waitUntil('same sequences', () => new Set(group.members.map((m) => m.app.items.join(','))).size === 1)
  t.same(lagging.app.texts().filter((x) => x.startsWith('s')), Array.from({ length: 20 }, (_, i) => `s${i}`))
  for (const member of group.members) t.same(member.log.violations, [], `node ${member.id}: every message promised only durable state`)
})
