// A live origin cut off from the rest of the region past the stream controller's grace (issue #5
// failover; DESIGN §3.2.4, §4 invariants 1, 2, 4). Three real nodes, a persistent stream on all
// three, `majority` acks; producer A publishes through n-victim (a node that does not hold the
// controller), producer B through the controller's node; both retry through another node with
// the same `Rg-Msg-Id`. The victim's peer links are blackholed (TCP proxies) for 8 s: longer than
// the 5 s grace, shorter than the 15 s after which the control plane would mark it dead. The
// victim's own publishes cannot reach a majority meanwhile (they time out and are retried
// elsewhere); the controller fences and closes the victim's origin without a successor and the
// two others go on delivering. After the heal the victim learns the close, fails what it still
// held pending, and from then on forwards; every acked id is delivered once, in one order, on all
// three.
import t from 'tap'
import type { NatsConnection } from '@nats-io/transport-node'
import { startRailgunCluster } from '../harness/index.js'
import { checkConverged, connectTo, deliveredCount, failoverSummary, newLog, startProducer, untilReplicaOpen } from '../streams/stream-workload.js'

const messagesPerProducer = 100
const partitionMs = 8_000

t.test('an origin cut off past the grace is closed; the rest delivers; after the heal it forwards', { timeout: 150_000 }, async (t) => {
  const cluster = await startRailgunCluster(t, { nodes: 3, tickMs: 50, electionTicks: 10, deadAfterMs: 15_000 })
  await cluster.waitForLeader()
  const connections = new Map<string, NatsConnection>()
  for (const id of cluster.nodeIds) connections.set(id, await connectTo(t, cluster, id))
  const nc = (id: string): NatsConnection => connections.get(id) as NatsConnection
  const ensured = (await nc('n1').request('$RG.API.STREAM.ENSURE', JSON.stringify({ name: 'events', kind: 'persistent', ackDefault: 'majority' }), { timeout: 10_000 })).json<Record<string, unknown>>()
  t.equal(ensured.ok, true, 'stream ensured')
  for (const id of cluster.nodeIds) await untilReplicaOpen(nc(id), 'events', id)
  let controller: string | undefined
  for (let i = 0; i < 200 && controller === undefined; i++) {
    controller = failoverSummary(cluster).controllers.get('default/events')?.holder
    if (controller === undefined) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  if (controller === undefined) throw new Error('no stream controller found in the logs')
  const holder = controller
  const victim = cluster.nodeIds.find((id) => id !== holder) as string
  const third = cluster.nodeIds.find((id) => id !== holder && id !== victim) as string
  const others = [holder, third]

  const log = newLog()
  const producerA = startProducer({ subject: 'events.a', prefix: 'A', count: messagesPerProducer, via: () => [nc(victim), nc(third)], log })
  const producerB = startProducer({ subject: 'events.b', prefix: 'B', count: messagesPerProducer, via: () => [nc(holder), nc(third)], log })
  while (log.acked.size < 40) await new Promise((resolve) => setTimeout(resolve, 50))
  t.ok([...log.acked.values()].some((ack) => ack.origin === victim), `${victim} is an origin before the partition`)
  t.comment(`partition ${victim} | ${others.join(',')} after ${log.acked.size} acks (controller on ${holder})`)
  cluster.partition([victim], others)
  const deliveredAtCut = await deliveredCount(nc(holder), 'events')
  await new Promise((resolve) => setTimeout(resolve, partitionMs))
  const deliveredInCut = await deliveredCount(nc(holder), 'events')
  t.ok(deliveredInCut > deliveredAtCut, `the majority side went on delivering while ${victim} was cut off (${deliveredAtCut} → ${deliveredInCut})`)
  cluster.heal()
  t.comment(`healed after ${log.acked.size} acks`)
  await Promise.all([producerA.done, producerB.done])
  t.same([...log.unacked], [], 'every logical message was acked in the end')
  await checkConverged(t, connections, 'events', log)
  const summary = failoverSummary(cluster)
  for (const line of summary.lines) t.comment(line)
  t.ok(summary.lines.some((line) => line.includes(`committed close ${victim}#1`)), `${victim}#1 was closed`)
  t.same(summary.refusals, [], 'no replica refused a committed close decision')
})
