// kill -9 of a replica no client publishes through (issue #5; DESIGN §3.2.4, §4 invariants 1, 2,
// 4). Three real nodes, a persistent stream on all three, producers through n1 and n2 with
// `majority` acks (official NATS clients, retries through another node with the same
// `Rg-Msg-Id`). n3 is killed with SIGKILL under load and stays down past the controller's
// grace, so the region closes its origin and keeps delivering without it (the stream controller
// moves if n3 held it); n3 restarts, catches up by anti-entropy and delivers the same order.
// Then producers re-send ids that were already acked, through n3 (which forwards them if its
// slot is gone): each is acked as a duplicate and every id is still delivered once.
import t from 'tap'
import { headers as natsHeaders } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import { startRailgunCluster } from '../harness/index.js'
import { checkConverged, connectTo, failoverSummary, deliveredCount, newLog, startProducer, untilReplicaOpen } from '../streams/stream-workload.js'

const messagesPerProducer = 100

t.test('kill -9 of a non-origin replica: the others go on delivering; it catches up; retries stay one event', { timeout: 150_000 }, async (t) => {
  const cluster = await startRailgunCluster(t, { nodes: 3, tickMs: 50, electionTicks: 10, deadAfterMs: 4_000 })
  await cluster.waitForLeader()
  const connections = new Map<string, NatsConnection>()
  for (const id of cluster.nodeIds) connections.set(id, await connectTo(t, cluster, id))
  const nc = (id: string): NatsConnection => connections.get(id) as NatsConnection
  const ensured = (await nc('n1').request('$RG.API.STREAM.ENSURE', JSON.stringify({ name: 'ledger', kind: 'persistent', ackDefault: 'majority' }), { timeout: 10_000 })).json<Record<string, unknown>>()
  t.equal(ensured.ok, true, 'stream ensured')
  for (const id of cluster.nodeIds) await untilReplicaOpen(nc(id), 'ledger', id)

  const log = newLog()
  const producerA = startProducer({ subject: 'ledger.a', prefix: 'A', count: messagesPerProducer, via: () => [nc('n1'), nc('n2')], log })
  const producerB = startProducer({ subject: 'ledger.b', prefix: 'B', count: messagesPerProducer, via: () => [nc('n2'), nc('n1')], log })
  while (log.acked.size < 40) await new Promise((resolve) => setTimeout(resolve, 50))
  t.comment(`kill -9 n3 after ${log.acked.size} acks`)
  await cluster.kill9('n3')
  const survivors = new Map([...connections].filter(([id]) => id !== 'n3'))
  // The region keeps acking at majority and, once n3's origin is closed, keeps delivering.
  const ackedAtKill = log.acked.size
  await Promise.all([producerA.done, producerB.done])
  t.ok(log.acked.size > ackedAtKill, 'acks went on with n3 down')
  await checkConverged(t, survivors, 'ledger', log)
  t.comment('restart n3')
  await cluster.start('n3')
  await untilReplicaOpen(nc('n3'), 'ledger', 'n3 after its restart', 45_000)
  const order = await checkConverged(t, connections, 'ledger', log)

  // A producer that lost its ack retries with the same id, through another node: one event.
  const retried = order.slice(0, 5)
  for (const id of retried) {
    const h = natsHeaders()
    h.set('Rg-Msg-Id', id)
    h.set('Rg-Ack', 'majority')
    const ack = (await nc('n3').request('ledger.retry', `payload of ${id}`, { timeout: 10_000, headers: h })).json<Record<string, unknown>>()
    t.equal(ack.ok, true, `retry of ${id} acked`)
    t.equal(ack.duplicate, true, `retry of ${id} is a duplicate`)
  }
  const before = await deliveredCount(nc('n1'), 'ledger')
  await checkConverged(t, connections, 'ledger', log)
  t.equal(await deliveredCount(nc('n1'), 'ledger'), before, 'the retries delivered nothing new')
  const summary = failoverSummary(cluster)
  for (const line of summary.lines) t.comment(line)
  t.same(summary.refusals, [], 'no replica refused a committed close decision')
})
