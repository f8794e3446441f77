// Group members on one real node, raw wire with the official NATS client (docs/api.md
// § Consuming): an exclusive group's second member stays inactive until the first unsubscribes
// its inbox or its connection closes — then it gets `Rg-Status: active` and the first one's
// in-flight messages at once; a load-balanced group spreads across two members and never has more
// than a member's maxInFlight unacked with it; a consumer killed mid-batch (connection closed)
// has its messages redelivered to the other member.
import t from 'tap'
import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import type { RunningNode } from '../../server/node.js'
import { WireMember, connectTo, ensureGroup, ensureStream, publish, request, sleep, startStreamNode, tempDir, untilController } from './node-helpers.js'

let node: RunningNode
let nc: NatsConnection

t.before(async () => {
  node = await startStreamNode(t, tempDir(t))
  nc = await connectTo(t, node)
})

for (const how of ['unsubscribes its inbox', 'closes its connection'] as const) {
  t.test(`exclusive: the second member is activated when the first ${how}, and gets its in-flight at once`, { timeout: 60_000 }, async (t) => {
    const name = how === 'unsubscribes its inbox' ? 'excl-unsub' : 'excl-close'
    await ensureStream(nc, name)
    await ensureGroup(nc, { stream: name, name: 'solo', mode: 'exclusive', maxInFlight: 10, ackWaitMs: 60_000 })
    await untilController(node, `default/${name}/solo`)
    const ncA = await connect({ servers: node.clientUrl })
    const first = new WireMember(ncA, `${name}.solo`, 'first')
    const second = new WireMember(nc, `${name}.solo`, 'second')
    t.match(await first.join(), { ok: true, active: true, mode: 'exclusive' })
    t.match(await second.join(), { ok: true, active: false })
    for (let i = 0; i < 4; i++) await publish(nc, name, `m${i}`, `${name}-${i}`)
    await first.until('4 messages', () => first.received.length >= 4)
    t.same(first.received.map((r) => r.index), [0, 1, 2, 3], 'in stream order, all to the active member')
    t.same(await first.settle(first.received[0] as never), { ok: true })
    await sleep(300)
    t.equal(second.received.length, 0, 'the inactive member gets nothing')
    // The first member's interest goes away (its heartbeats too): no LEAVE.
    if (how === 'unsubscribes its inbox') {
      first.unsubscribe()
      await ncA.flush()
    } else {
      first.stopHeartbeats()
      await ncA.close()
    }
    await second.until('activated with the held messages', () => second.statuses.includes('active') && second.received.length >= 3, 15_000)
    t.same(second.received.map((r) => [r.index, r.deliveries]), [[1, 2], [2, 2], [3, 2]], 'what the first held, in order, Rg-Deliveries 2')
    for (const r of second.received) t.same(await second.settle(r), { ok: true })
    await publish(nc, name, 'm4', `${name}-4`)
    await second.until('new messages go to the second', () => second.received.some((r) => r.index === 4))
    t.match(await request(nc, `$RG.C.default.${name}.solo.INFO`, {}), { ok: true, group: { members: [{ member: 'second', active: true }] } })
    second.unsubscribe()
    if (!ncA.isClosed()) await ncA.close()
  })
}

t.test('load-balanced: spread across two members, each within its maxInFlight window', { timeout: 60_000 }, async (t) => {
  await ensureStream(nc, 'spread')
  await ensureGroup(nc, { stream: 'spread', name: 'pool', mode: 'load-balanced', maxInFlight: 100, ackWaitMs: 60_000 })
  await untilController(node, 'default/spread/pool')
  const a = new WireMember(nc, 'spread.pool', 'a')
  const b = new WireMember(nc, 'spread.pool', 'b')
  t.match(await a.join({ maxInFlight: 2 }), { ok: true, maxInFlight: 2 })
  t.match(await b.join({ maxInFlight: 3 }), { ok: true, maxInFlight: 3 })
  const total = 20
  for (let i = 0; i < total; i++) await publish(nc, 'spread', `job-${i}`, `s-${i}`)
  await a.until('a full', () => a.received.length >= 2)
  await b.until('b full', () => b.received.length >= 3)
  await sleep(500)
  t.equal(a.received.length, 2, "a's window: 2")
  t.equal(b.received.length, 3, "b's window: 3")
  // Ack one at a time; the unacked count per member never exceeds its window.
  const acked = { a: 0, b: 0 }
  let maxUnacked = { a: 0, b: 0 }
  for (let round = 0; round < 200 && acked.a + acked.b < total; round++) {
    for (const [member, key] of [[a, 'a'], [b, 'b']] as const) {
      const unacked = member.received.length - acked[key]
      maxUnacked = { ...maxUnacked, [key]: Math.max(maxUnacked[key], unacked) }
      const next = member.received[acked[key]]
      if (next !== undefined) {
        t.same(await member.settle(next), { ok: true })
        acked[key] += 1
      }
    }
    if (acked.a + acked.b < total) await sleep(20)
  }
  t.equal(acked.a + acked.b, total, 'every message acked')
  t.ok(maxUnacked.a <= 2 && maxUnacked.b <= 3, `windows respected (max unacked a=${maxUnacked.a}, b=${maxUnacked.b})`)
  t.ok(acked.a > 0 && acked.b > 0, `both members got work (a=${acked.a}, b=${acked.b})`)
  const indexes = [...a.received, ...b.received].map((r) => r.index).sort((x, y) => x - y)
  t.same(indexes, Array.from({ length: total }, (_, i) => i), 'each index once')
  a.unsubscribe()
  b.unsubscribe()
})

t.test('a consumer killed mid-batch (connection closed) has its messages redelivered to the other member', { timeout: 60_000 }, async (t) => {
  await ensureStream(nc, 'crashy')
  await ensureGroup(nc, { stream: 'crashy', name: 'pool', mode: 'load-balanced', maxInFlight: 5, ackWaitMs: 60_000 })
  await untilController(node, 'default/crashy/pool')
  const ncDoomed = await connect({ servers: node.clientUrl })
  const doomed = new WireMember(ncDoomed, 'crashy.pool', 'doomed')
  await doomed.join()
  for (let i = 0; i < 5; i++) await publish(nc, 'crashy', `c-${i}`, `c-${i}`)
  await doomed.until('its batch', () => doomed.received.length >= 5)
  t.same(await doomed.settle(doomed.received[0] as never), { ok: true }, 'it acks one, then dies')
  const survivor = new WireMember(nc, 'crashy.pool', 'survivor')
  await survivor.join()
  await sleep(200)
  t.equal(survivor.received.length, 0, 'nothing for the survivor while the doomed member holds the batch')
  doomed.stopHeartbeats()
  await ncDoomed.close()
  await survivor.until('the 4 unacked redelivered', () => survivor.received.length >= 4, 15_000)
  t.same(survivor.received.map((r) => [r.index, r.deliveries]), [[1, 2], [2, 2], [3, 2], [4, 2]])
  for (const r of survivor.received) t.same(await survivor.settle(r), { ok: true })
  t.match(await request(nc, '$RG.C.default.crashy.pool.INFO', {}), { ok: true, group: { outstanding: 0, members: [{ member: 'survivor' }] } })
  survivor.unsubscribe()
})
