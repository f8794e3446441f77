// Consumer groups on one real node with the official NATS client speaking the raw wire
// (docs/api.md § Consuming): join + receive (headers) + ack; nack → Rg-Deliveries 2; ack wait →
// redelivery; term → in `<stream>-dlq` with the Rg-Dlq-* headers; maxDeliveries → dead letter;
// FETCH batch + 204 + ACKS; INFO; a duplicate producer id is delivered once (the stream dedups,
// end to end); an ack answer after the ack is durable; unknown member HB → RG_ERR_NOT_FOUND.
import t from 'tap'
import { createInbox } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import { streamFetchResponseSchema } from '../../shared/api/index.js'
import type { RunningNode } from '../../server/node.js'
import { WireMember, connectTo, ensureGroup, ensureStream, publish, request, startStreamNode, tempDir, until, untilController } from './node-helpers.js'

let node: RunningNode
let nc: NatsConnection

t.before(async () => {
  node = await startStreamNode(t, tempDir(t))
  nc = await connectTo(t, node)
})

t.test('join, receive with the group headers in stream order, ack (confirmed), nothing redelivered', { timeout: 60_000 }, async (t) => {
  await ensureStream(nc, 'orders')
  await ensureGroup(nc, { stream: 'orders', name: 'billing', mode: 'load-balanced', maxInFlight: 100, ackWaitMs: 2_000 })
  await untilController(node, 'default/orders/billing')
  const member = new WireMember(nc, 'orders.billing')
  const joined = await member.join()
  t.match(joined, { ok: true, member: member.id, mode: 'load-balanced', active: true, heartbeatMs: 500 })
  t.type(joined['term'], 'number')
  for (let i = 0; i < 5; i++) await publish(nc, `orders.eu`, `order-${i}`, `o-${i}`)
  await member.until('5 messages', () => member.received.length >= 5)
  t.same(member.received.map((r) => r.index), [0, 1, 2, 3, 4])
  t.same(member.received.map((r) => r.data), ['order-0', 'order-1', 'order-2', 'order-3', 'order-4'])
  const first = member.received[0]
  t.equal(first?.header('Rg-Stream'), 'default/orders')
  t.equal(first?.header('Rg-Group'), 'billing')
  t.equal(first?.header('Rg-Deliveries'), '1')
  t.equal(first?.header('Rg-Msg-Id'), 'o-0')
  t.equal(first?.header('Rg-Subject'), 'orders.eu')
  t.equal(first?.header('Rg-Term'), String(joined['term']))
  t.ok(Number(first?.header('Rg-Time')) > 1_600_000_000_000, 'Rg-Time is wall-clock ms')
  t.equal(first?.msg.reply, '$RG.C.default.orders.billing.ACK.0.1')
  for (const received of member.received) t.same(await member.settle(received), { ok: true })
  t.match(await member.settle(first as never), { ok: false, error: { code: 'RG_ERR_NOT_FOUND' } }, 'acking again: not outstanding')
  const info = await request(nc, '$RG.C.default.orders.billing.INFO', {})
  t.match(info, { ok: true, group: { outstanding: 0, head: 5, counters: { delivered: 5, acked: 5 } } })
  await new Promise((resolve) => setTimeout(resolve, 2_500))
  t.equal(member.received.length, 5, 'nothing redelivered after the ack wait')
  t.match(await request(nc, member.subject('HB'), { member: 'nobody' }), { ok: false, error: { code: 'RG_ERR_NOT_FOUND' } }, 'HB of an unknown member')
  t.match(await request(nc, member.subject('JOIN'), { member: 'bad id!', deliver: 'x' }), { ok: false, error: { code: 'RG_ERR_INVALID_ARGUMENT' } })
  member.unsubscribe()
  await request(nc, member.subject('LEAVE'), { member: member.id })
})

t.test('nack → redelivered with Rg-Deliveries 2; ack wait → redelivered; progress extends', { timeout: 60_000 }, async (t) => {
  await ensureStream(nc, 'jobs')
  await ensureGroup(nc, { stream: 'jobs', name: 'workers', mode: 'load-balanced', maxInFlight: 10, ackWaitMs: 1_500 })
  await untilController(node, 'default/jobs/workers')
  const member = new WireMember(nc, 'jobs.workers')
  await member.join()
  await publish(nc, 'jobs', 'job-a', 'a')
  await publish(nc, 'jobs', 'job-b', 'b')
  await member.until('2 messages', () => member.received.length >= 2)
  const [a, b] = member.received as [never, never]
  t.same(await member.settle(a, 'nack'), { ok: true })
  await member.until('a redelivered', () => member.received.some((r) => r.data === 'job-a' && r.deliveries === 2))
  const again = member.received.find((r) => r.data === 'job-a' && r.deliveries === 2)
  t.equal(again?.msg.reply, '$RG.C.default.jobs.workers.ACK.0.2')
  t.same(await member.settle(again as never), { ok: true })
  // b: never answered → redelivered after the ack wait.
  await member.until('b after the ack wait', () => member.received.some((r) => r.data === 'job-b' && r.deliveries === 2), 15_000)
  const bAgain = member.received.find((r) => r.data === 'job-b' && r.deliveries === 2) as never
  t.same(await member.settle(bAgain, 'progress'), { ok: true }, 'progress extends the deadline')
  t.same(await member.settle(b), { ok: true }, 'the ack of the first delivery still counts')
  const info = await request(nc, '$RG.C.default.jobs.workers.INFO', {})
  t.match(info, { ok: true, group: { outstanding: 0, counters: { nacked: 1, ackWaitExpired: 1, redelivered: 2, acked: 2 } } })
  member.unsubscribe()
})

t.test('term → moved to <stream>-dlq with the headers; maxDeliveries → moved too', { timeout: 90_000 }, async (t) => {
  await ensureStream(nc, 'payments', { deadLetter: { maxDeliveries: 2, maxLag: 0 } })
  await ensureGroup(nc, { stream: 'payments', name: 'ledger', mode: 'load-balanced', maxInFlight: 10, ackWaitMs: 30_000 })
  await untilController(node, 'default/payments/ledger')
  const member = new WireMember(nc, 'payments.ledger')
  await member.join()
  await publish(nc, 'payments.card', 'pay-1', 'p1')
  await publish(nc, 'payments.card', 'pay-2', 'p2')
  await member.until('2 messages', () => member.received.length >= 2)
  const [p1, p2] = member.received as [never, never]
  t.same(await member.settle(p1, 'term card declined'), { ok: true })
  t.same(await member.settle(p2, 'nack'), { ok: true })
  await member.until('p2 again', () => member.received.some((r) => r.data === 'pay-2' && r.deliveries === 2))
  t.same(await member.settle(member.received.find((r) => r.data === 'pay-2' && r.deliveries === 2) as never, 'nack'), { ok: true }, 'second nack: at maxDeliveries (the stream default, 2)')
  // Both end up in payments-dlq.
  type Events = ReturnType<typeof streamFetchResponseSchema.parse>['events']
  let events: Events = []
  const deadline = Date.now() + 30_000
  while (events.length < 2 && Date.now() < deadline) {
    const answer = await request(nc, '$RG.API.STREAM.FETCH', { name: 'payments-dlq', max: 10 })
    if (answer['ok'] === true) events = streamFetchResponseSchema.parse(answer).events
    if (events.length < 2) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.equal(events.length, 2, 'two dead letters')
  const byReason = new Map(events.map((e) => [new Map(e.headers).get('Rg-Dlq-Reason'), e]))
  const termed = byReason.get('term')
  t.equal(termed?.id, 'default/payments/ledger/p1', 'Rg-Msg-Id = ns/stream/group/eventId')
  t.equal(Buffer.from(termed?.data ?? '', 'base64').toString(), 'pay-1')
  t.same(
    Object.fromEntries((termed?.headers ?? []).filter(([k]) => k.startsWith('Rg-Dlq-'))),
    { 'Rg-Dlq-Reason': 'term', 'Rg-Dlq-Deliveries': '1', 'Rg-Dlq-Group': 'ledger', 'Rg-Dlq-Stream': 'default/payments', 'Rg-Dlq-Index': '0', 'Rg-Dlq-Detail': 'card declined' },
  )
  t.equal(termed?.subject, 'payments.card', 'the original subject is kept')
  const maxed = byReason.get('max-deliveries')
  t.equal(new Map(maxed?.headers).get('Rg-Dlq-Deliveries'), '2')
  t.equal(maxed?.id, 'default/payments/ledger/p2')
  const info = await request(nc, '$RG.C.default.payments.ledger.INFO', {})
  t.match(info, { ok: true, group: { outstanding: 0, counters: { deadLettered: 2 } } })
  t.equal(member.received.filter((r) => r.data === 'pay-2').length, 2, 'not delivered a third time')
  member.unsubscribe()
})

t.test('FETCH: a batch to the reply inbox, ended by Rg-Status 204; ACKS acks a batch; a duplicate producer id is delivered once', { timeout: 60_000 }, async (t) => {
  await ensureStream(nc, 'audit')
  await ensureGroup(nc, { stream: 'audit', name: 'batch', mode: 'load-balanced', maxInFlight: 100, ackWaitMs: 30_000 })
  await untilController(node, 'default/audit/batch')
  for (let i = 0; i < 6; i++) await publish(nc, 'audit', `entry-${i}`, `e-${i}`)
  const dup = await publish(nc, 'audit', 'entry-3 again', 'e-3')
  t.equal(dup['duplicate'], true)
  await until('6 delivered in the stream', () => (node.persistentStreams()?.engine('default/audit')?.deliveredCount ?? 0) >= 6)
  const fetchBatch = async (max: number, expiresMs: number): Promise<Array<{ index: number; deliveries: number; id: string; data: string; reply: string }>> => {
    const inbox = createInbox()
    const got: Array<{ index: number; deliveries: number; id: string; data: string; reply: string }> = []
    const done = new Promise<void>((resolve) => {
      nc.subscribe(inbox, {
        callback: (_error, msg) => {
          if (msg.headers?.get('Rg-Status') === '204') return resolve()
          got.push({ index: Number(msg.headers?.get('Rg-Index')), deliveries: Number(msg.headers?.get('Rg-Deliveries')), id: msg.headers?.get('Rg-Msg-Id') ?? '', data: msg.string(), reply: msg.reply ?? '' })
        },
      })
    })
    await nc.flush()
    nc.publish('$RG.C.default.audit.batch.FETCH', JSON.stringify({ max, expiresMs }), { reply: inbox })
    await done
    return got
  }
  const first = await fetchBatch(4, 5_000)
  t.same(first.map((m) => m.index), [0, 1, 2, 3], 'max 4')
  const second = await fetchBatch(10, 2_000)
  t.same(second.map((m) => m.index), [4, 5], 'what is left, then 204 (idle) — not held to max')
  const ids = [...first, ...second].map((m) => m.id)
  t.equal(new Set(ids).size, ids.length, 'no producer id twice')
  t.equal(ids.filter((id) => id === 'e-3').length, 1, 'the duplicate publish is not delivered')
  const empty = await fetchBatch(3, 200)
  t.same(empty, [], 'nothing left: 204 after expiresMs')
  const acks = [...first, ...second].map((m) => ({ index: m.index, deliveries: m.deliveries, kind: 'ack' }))
  t.same(await request(nc, '$RG.C.default.audit.batch.ACKS', { acks: [...acks, { index: 99, deliveries: 1, kind: 'ack' }] }), { ok: true, applied: 6 }, 'the unknown index is not applied')
  t.match(await request(nc, '$RG.C.default.audit.batch.INFO', {}), { ok: true, group: { outstanding: 0, head: 6 } })
})

t.test('a group deleted and created again starts over (its old progress is not inherited)', { timeout: 60_000 }, async (t) => {
  await ensureStream(nc, 'again')
  await ensureGroup(nc, { stream: 'again', name: 'g', mode: 'load-balanced', maxInFlight: 10, ackWaitMs: 30_000 })
  await untilController(node, 'default/again/g')
  const before = new WireMember(nc, 'again.g')
  await before.join()
  await publish(nc, 'again', 'x0', 'x0')
  await publish(nc, 'again', 'x1', 'x1')
  await before.until('2 messages', () => before.received.length >= 2)
  for (const r of before.received) t.same(await before.settle(r), { ok: true })
  before.unsubscribe()
  t.match(await request(nc, '$RG.API.GROUP.DELETE', { stream: 'again', name: 'g' }), { ok: true })
  await until('the controller stopped', () => node.consumerGroups()?.snapshot('default/again/g') === undefined)
  await ensureGroup(nc, { stream: 'again', name: 'g', mode: 'load-balanced', maxInFlight: 10, ackWaitMs: 30_000 })
  await untilController(node, 'default/again/g')
  const after = new WireMember(nc, 'again.g')
  await after.join()
  await after.until('both again, from the beginning', () => after.received.length >= 2)
  t.same(after.received.map((r) => [r.index, r.deliveries]), [[0, 1], [1, 1]], 'a new group: first deliveries')
  after.unsubscribe()
})
