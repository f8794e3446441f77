// Fault: kill -9 and restart, one node at a time (a follower, then the leader) and then the
// whole cluster at once, while clients on every node write. An acknowledged KV put is committed
// (applied after a majority persisted it), so after all of that every acknowledged put must be
// readable, with its value, on every node: a restart replays the Raft log from RocksDB and loses
// nothing committed. Each put writes its own key, so "readable" is exact; puts whose outcome is
// unknown may or may not be there.
import t from 'tap'
import type { RailgunClient } from '../../client/index.js'
import { startRailgunCluster } from '../harness/index.js'
import { definitelyNotApplied } from './kv-workload.js'

const tickMs = 50
const electionTicks = 10
const opTimeoutMs = 3_000
const reconnect = { delayMsMin: 50, delayMsMax: 500, attemptsMax: 1_000 }

t.test('kill -9 and restart (one node, the leader, the whole cluster) lose no acknowledged KV put', async (t) => {
  const cluster = await startRailgunCluster(t, { nodes: 3, tickMs, electionTicks })
  const leader = await cluster.waitForLeader()
  const setup = await cluster.client(leader)
  await setup.buckets.ensure({ name: 'durable' })

  const acknowledged = new Map<string, string>()
  let unknown = 0
  let refused = 0
  let stopped = false
  const writer = async (id: string, client: RailgunClient): Promise<void> => {
    for (let sequence = 1; !stopped && sequence <= 20_000; sequence += 1) {
      const key = `k-${id}-${sequence}`
      const value = `v-${id}-${sequence}`
      try {
        await client.kv('durable').put(key, value, { timeoutMs: opTimeoutMs })
        acknowledged.set(key, value)
      } catch (error) {
        if (definitelyNotApplied(error)) refused += 1
        else unknown += 1
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
  }
  const clients = await Promise.all(cluster.nodeIds.map(async (id) => [id, await cluster.client(id, { reconnect })] as const))
  const writers = Promise.all(clients.map(([id, client]) => writer(id, client)))
  const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
  const progress = (step: string): void => void t.comment(`${step}: ${acknowledged.size} acknowledged, ${unknown} unknown, ${refused} refused`)

  await pause(1_500)
  const follower = cluster.nodeIds.find((id) => id !== leader)!
  await cluster.kill9(follower)
  await pause(1_000)
  await cluster.start(follower)
  progress(`follower ${follower} killed and restarted`)

  const currentLeader = await cluster.waitForLeader()
  await cluster.kill9(currentLeader)
  await cluster.waitForLeader({ excluding: [currentLeader] })
  await pause(1_000)
  await cluster.start(currentLeader)
  progress(`leader ${currentLeader} killed and restarted`)

  await pause(1_500)
  const acknowledgedBeforeWholeKill = acknowledged.size
  // The whole cluster at once, with writes in flight.
  await Promise.all(cluster.nodeIds.map((id) => cluster.kill9(id)))
  progress('whole cluster killed')
  await Promise.all(cluster.nodeIds.map((id) => cluster.start(id)))
  await cluster.waitForLeader()
  await pause(1_000)
  stopped = true
  await writers
  progress('whole cluster restarted')
  t.ok(acknowledgedBeforeWholeKill > 0, `puts were acknowledged before the whole-cluster kill (${acknowledgedBeforeWholeKill})`)

  for (const id of cluster.nodeIds) {
    const reader = await cluster.client(id)
    const entries = await reader.kv('durable').list('k-', { timeoutMs: 15_000 })
    const stored = new Map(entries.map((entry) => [entry.key, entry.string()]))
    const missing = [...acknowledged].filter(([key, value]) => stored.get(key) !== value)
    t.same(missing, [], `${id}: all ${acknowledged.size} acknowledged puts are there (${stored.size} keys stored)`)
  }
})
