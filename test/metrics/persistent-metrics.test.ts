// Persistent-stream and consumer-group figures on a real node (issue #8), read at scrape time from
// the node's persistent streams and group controllers: publishes with majority and write acks, a
// duplicate producer id, a refused publish (bad Rg-Ack); a group member that acks most, nacks two
// (acked on their second delivery) and terms two (moved to the dead-letter stream). /metrics then
// shows the exact counts — acked{level}, dedup hits, failed, written, group deliveries,
// redelivered, dead-lettered, the group's head/outstanding/lag/members and its totals — and so do
// the key metrics ($RG.metrics) and the dashboard snapshot (the group's row, the stream's acks).
import t from 'tap'
import { headers as natsHeaders } from '@nats-io/transport-node'
import { WireMember, connectTo, ensureGroup, ensureStream, publish, startStreamNode, tempDir, untilController } from '../consumers/node-helpers.js'
import { metric, scrape } from './helpers.js'
import type { Scrape } from './helpers.js'

const stream = 'default/tasks'
const dlq = 'default/tasks-dlq'
const group = { stream, group: 'workers' }
/** Events published with majority acks (the stream's default here), and with `Rg-Ack: write`. */
const majorityCount = 12
const writeCount = 2
const total = majorityCount + writeCount

async function scrapeUntil(adminUrl: string, what: string, predicate: (values: Scrape) => boolean, timeoutMs = 30_000): Promise<Scrape> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const values = await scrape(adminUrl)
    if (predicate(values)) return values
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

t.test('acks by level, duplicates, failures, group progress, redeliveries and dead letters on /metrics', { timeout: 120_000 }, async (t) => {
  const node = await startStreamNode(t, tempDir(t))
  const nc = await connectTo(t, node)
  await ensureStream(nc, 'tasks', { ackDefault: 'majority' })
  await ensureGroup(nc, { stream: 'tasks', name: 'workers', mode: 'load-balanced', maxInFlight: 100, ackWaitMs: 60_000 })
  await untilController(node, 'default/tasks/workers')

  const zero = await scrape(node.adminUrl)
  t.equal(metric(zero, 'railgun_stream_acked_total', { stream, level: 'majority' }), 0, 'series exist at zero')
  t.equal(metric(zero, 'railgun_group_head', group), 0)

  for (let i = 0; i < majorityCount; i++) t.match(await publish(nc, 'tasks', `task-${i}`, `t-${i}`), { ok: true, level: 'majority', duplicate: false })
  const writeHeaders = natsHeaders()
  writeHeaders.set('Rg-Ack', 'write')
  for (let i = 0; i < writeCount; i++) {
    writeHeaders.set('Rg-Msg-Id', `w-${i}`)
    t.match((await nc.request('tasks', `write-${i}`, { timeout: 10_000, headers: writeHeaders })).json(), { ok: true, level: 'write' })
  }
  t.match(await publish(nc, 'tasks', 'task-3 again', 't-3'), { ok: true, duplicate: true }, 'a duplicate id inside the window')
  const bad = natsHeaders()
  bad.set('Rg-Ack', 'bogus')
  t.match((await nc.request('tasks', 'x', { timeout: 10_000, headers: bad })).json(), { ok: false }, 'a publish refused')

  const published = await scrape(node.adminUrl)
  t.equal(metric(published, 'railgun_stream_acked_total', { stream, level: 'majority' }), majorityCount + 1, 'majority acks (the duplicate included)')
  t.equal(metric(published, 'railgun_stream_acked_total', { stream, level: 'write' }), writeCount)
  t.equal(metric(published, 'railgun_stream_acked_total', { stream, level: 'all' }), 0)
  t.equal(metric(published, 'railgun_stream_dedup_hits_total', { stream }), 1)
  t.equal(metric(published, 'railgun_stream_publish_failed_total', { stream }), 1)
  t.equal(metric(published, 'railgun_stream_forwarded_total', { stream }), 0, 'the lone replica writes itself')
  t.equal(metric(published, 'railgun_stream_written_total', { stream }), total + 1, 'taken by the engine here (the duplicate too)')

  // The member: ack all but two nacks (acked on redelivery) and two terms (to the DLQ).
  const member = new WireMember(nc, 'tasks.workers')
  t.teardown(() => member.unsubscribe())
  await member.join()
  await member.until(`${total} first deliveries`, () => member.received.filter((r) => r.deliveries === 1).length >= total)
  const first = member.received.filter((r) => r.deliveries === 1)
  const nacked = new Set([first[1]?.index, first[2]?.index])
  const termed = new Set([first[4]?.index, first[5]?.index])
  for (const received of first) {
    const body = nacked.has(received.index) ? 'nack' : termed.has(received.index) ? 'term not wanted' : 'ack'
    t.same(await member.settle(received, body), { ok: true })
  }
  await member.until('the nacked ones again', () => member.received.filter((r) => r.deliveries === 2).length >= 2)
  for (const again of member.received.filter((r) => r.deliveries === 2)) t.same(await member.settle(again), { ok: true })

  const settled = await scrapeUntil(node.adminUrl, 'nothing outstanding and both dead letters moved', (values) => metric(values, 'railgun_group_outstanding', group) === 0 && metric(values, 'railgun_group_dead_lettered_total', group) === 2)
  t.equal(metric(settled, 'railgun_group_head', group), total, 'head')
  t.equal(metric(settled, 'railgun_group_outstanding', group), 0)
  t.equal(metric(settled, 'railgun_group_lag_events', group), 0)
  t.equal(metric(settled, 'railgun_group_members', group), 1)
  t.equal(metric(settled, 'railgun_group_delivered_total', group), total, 'first deliveries')
  t.equal(metric(settled, 'railgun_group_redelivered_total', group), 2)
  t.equal(metric(settled, 'railgun_group_acked_total', group), total - 2, 'acks (the termed ones are not acks)')
  t.equal(metric(settled, 'railgun_group_dead_lettered_total', group), 2)
  t.ok((metric(settled, 'railgun_group_term', group) ?? 0) >= 1, 'the controller term')
  t.equal(metric(settled, 'railgun_stream_group_delivered_total', { stream }), total)
  t.equal(metric(settled, 'railgun_stream_redelivered_total', { stream }), 2)
  t.equal(metric(settled, 'railgun_stream_dead_lettered_total', { stream }), 2)
  t.equal(metric(settled, 'railgun_stream_acked_total', { stream: dlq, level: 'majority' }), 2, 'the dead letters were acked into the DLQ stream (in-process publishes)')

  // The key metrics ($RG.metrics) carry the same.
  const key = node.metrics.keyMetrics()
  const tasks = key.persistent?.streams.find((figures) => figures.stream === stream)
  t.match(tasks, { role: 'replica', writable: true, acked: { write: writeCount, majority: majorityCount + 1, all: 0 }, duplicates: 1, failed: 1, delivered: total, redelivered: 2, deadLettered: 2, stored: { events: total + 1, delivered: total } })
  // (The duplicate's copy is stored — the event set is grow-only — and delivered once.)
  t.match(key.persistent?.groups, [{ stream, group: 'workers', head: total, outstanding: 0, lag: 0, members: 1, acked: total - 2, redelivered: 2, deadLettered: 2 }])
  t.match(key.persistent?.totals, { streams: 2, replicas: 2, groups: 1, outstanding: 0, groupLag: 0, redelivered: 2, deadLettered: 2 })
  t.same(key.persistent?.replicationLag, [], 'no cross-region link (one region)')
  t.match(key.routing, { peers: 0 })

  // The dashboard: the group's row and the stream's acks.
  const snapshot = (await (await fetch(`${node.adminUrl}/api/v1/dashboard`)).json()) as { streams: Array<Record<string, unknown>>; groups: Array<Record<string, unknown>> }
  t.match(snapshot.groups.find((row) => row['group'] === 'default/tasks/workers'), { regions: [{ status: 'live', controller: node.nodeId, head: total, outstanding: 0, lag: 0, members: 1, acked: total - 2, redeliveries: 2, deadLettered: 2 }] })
  t.match(snapshot.streams.find((row) => row['stream'] === stream), { cluster: { ackedTotal: majorityCount + 1 + writeCount, acked: { write: writeCount, majority: majorityCount + 1 }, duplicates: 1, failed: 1, redelivered: 2, deadLettered: 2 }, perRegion: [{ status: 'live', node: node.nodeId, events: total + 1, delivered: total }] })
})
