// A node restart (RocksDB in a temp dir) with a consumer group (DESIGN §4.4): messages acked
// before the stop (the ack answer says durable) are not delivered again; the un-acked ones are
// redelivered first with their delivery count carried over (Rg-Deliveries 2); new messages
// continue after the old head.
import t from 'tap'
import { connect } from '@nats-io/transport-node'
import { WireMember, ensureGroup, ensureStream, publish, startStreamNode, tempDir, untilController } from './node-helpers.js'

t.test('restart: acked ones stay acked, un-acked ones are redelivered, the head continues', { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t)
  let node = await startStreamNode(t, dir)
  let nc = await connect({ servers: node.clientUrl })
  await ensureStream(nc, 'events')
  await ensureGroup(nc, { stream: 'events', name: 'proc', mode: 'load-balanced', maxInFlight: 10, ackWaitMs: 60_000 })
  await untilController(node, 'default/events/proc')
  const before = new WireMember(nc, 'events.proc', 'before')
  await before.join()
  for (let i = 0; i < 6; i++) await publish(nc, 'events', `ev-${i}`, `ev-${i}`)
  await before.until('6 messages', () => before.received.length >= 6)
  for (const r of before.received.slice(0, 3)) t.same(await before.settle(r), { ok: true }, `ack ${r.index} (durable when answered)`)
  before.unsubscribe()
  await nc.close()
  await node.close()

  node = await startStreamNode(t, dir)
  nc = await connect({ servers: node.clientUrl })
  t.teardown(() => nc.close())
  await untilController(node, 'default/events/proc')
  const after = new WireMember(nc, 'events.proc', 'after')
  await after.join()
  await after.until('the 3 un-acked', () => after.received.length >= 3, 20_000)
  t.same(after.received.map((r) => [r.index, r.data, r.deliveries]), [[3, 'ev-3', 2], [4, 'ev-4', 2], [5, 'ev-5', 2]], 'only the un-acked, Rg-Deliveries carried over')
  for (const r of after.received) t.same(await after.settle(r), { ok: true })
  await publish(nc, 'events', 'ev-6', 'ev-6')
  await after.until('the next one', () => after.received.some((r) => r.index === 6))
  t.same(after.received.map((r) => r.index), [3, 4, 5, 6], 'nothing acked before the restart came back')
  after.unsubscribe()
})
