// kill -9 of the origin a client publishes through (issue #5 write path, order, failover; DESIGN
// §3.2, §4 invariants 1, 2, 4). Three real nodes hold a persistent stream (3 replicas, `majority`
// acks). Producer A publishes through n1 (so n1 is the origin of its events), producer B through
// n2; both are official NATS clients that retry a failed attempt through the other node with the
// same `Rg-Msg-Id`. The origin is a node that does not hold the stream controller (found in the
// logs), so the controller survives the kill. It is killed with SIGKILL in the middle of the load
// and restarted at once. Afterwards every acked id is delivered exactly once on every node (so on
// a majority), and the delivered order is identical on all three. The restarted node gets its
// origin slot back through its successor claim when it is back within the controller's grace
// (5 s; the test prints which happened), otherwise its old incarnation was closed as unreachable
// and it forwards its clients' publishes to a replica: both are correct and checked the same way.
// RAILGUN_STREAM_FAULTS_HEAVY=1: more messages and three kill/restart rounds.
import t from 'tap'
import type { NatsConnection } from '@nats-io/transport-node'
import { startRailgunCluster } from '../harness/index.js'
import { checkConverged, connectTo, failoverSummary, newLog, startProducer, untilReplicaOpen } from '../streams/stream-workload.js'

const heavy = process.env.RAILGUN_STREAM_FAULTS_HEAVY === '1'
const messagesPerProducer = heavy ? 600 : 120
const rounds = heavy ? 3 : 1

t.test('kill -9 of the origin under load: nothing acked is lost, one order, one event per id', { timeout: heavy ? 600_000 : 150_000 }, async (t) => {
  // Nodes are marked dead after 15 s: a quick restart is closed through its successor claim.
  const cluster = await startRailgunCluster(t, { nodes: 3, tickMs: 50, electionTicks: 10, deadAfterMs: 15_000 })
  await cluster.waitForLeader()
  const connections = new Map<string, NatsConnection>()
  for (const id of cluster.nodeIds) connections.set(id, await connectTo(t, cluster, id))
  const nc = (id: string): NatsConnection => connections.get(id) as NatsConnection
  const ensured = (await nc('n1').request('$RG.API.STREAM.ENSURE', JSON.stringify({ name: 'orders', kind: 'persistent', ackDefault: 'majority' }), { timeout: 10_000 })).json<Record<string, unknown>>()
  t.equal(ensured.ok, true, 'stream ensured')
  for (const id of cluster.nodeIds) await untilReplicaOpen(nc(id), 'orders', id)
  const holder = async (): Promise<string> => {
    for (let i = 0; i < 200; i++) {
      const found = failoverSummary(cluster).controllers.get('default/orders')?.holder
      if (found !== undefined) return found
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw new Error('no stream controller found in the logs')
  }
  // The origin the clients publish through: the first node that does not hold the controller.
  // (Heavy rounds then go round the other nodes, the controller's included: a node whose slot
  // was closed as unreachable forwards, so later rounds may kill a forwarder or the controller.)
  const controller = await holder()
  let victim = cluster.nodeIds.find((id) => id !== controller) as string
  const log = newLog()
  const producerA = startProducer({ subject: 'orders.a', prefix: 'A', count: messagesPerProducer, via: () => [nc(victim), nc(cluster.nodeIds.find((id) => id !== victim) as string)], log })
  const producerB = startProducer({ subject: 'orders.b', prefix: 'B', count: messagesPerProducer, via: () => [nc(controller), nc(cluster.nodeIds.find((id) => id !== controller && id !== victim) as string)], log })
  for (let round = 0; round < rounds; round++) {
    const aAcked = (): number => [...log.acked.keys()].filter((id) => id.startsWith('A-')).length
    const before = aAcked()
    while (aAcked() < before + 20) await new Promise((resolve) => setTimeout(resolve, 50))
    if (round === 0) {
      const written = [...log.acked.values()].filter((ack) => ack.origin === victim).length
      t.ok(written > 0, `${victim} is an origin before the kill (${written} acks written there)`)
    }
    t.comment(`round ${round}: kill -9 ${victim} (controller on ${(await holder())}) after ${log.acked.size} acks`)
    const killedAt = Date.now()
    await cluster.kill9(victim)
    await cluster.start(victim)
    await untilReplicaOpen(nc(victim), 'orders', `${victim} after its restart`, 45_000)
    t.comment(`round ${round}: ${victim} serves the stream again ${Date.now() - killedAt} ms after the kill (${log.acked.size} acks)`)
    victim = cluster.nodeIds[(cluster.nodeIds.indexOf(victim) + 1) % cluster.nodeIds.length] as string
  }
  await Promise.all([producerA.done, producerB.done])
  t.same([...log.unacked], [], 'every logical message was acked in the end (retries through another node)')
  t.ok(log.retries > 0, `the kill made producers retry (${log.retries} failed attempts)`)
  await checkConverged(t, connections, 'orders', log)
  const summary = failoverSummary(cluster)
  for (const line of summary.lines) t.comment(line)
  t.same(summary.refusals, [], 'no replica refused a committed close decision')
})
