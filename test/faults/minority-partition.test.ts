// Fault: in a 5-node cluster, the leader and one follower are cut off from the other three (a
// blackhole on every peer link between the groups; clients still reach every node). While the
// partition lasts, no write sent to the minority side is acknowledged (it cannot reach 3 of 5),
// and the majority elects a new leader and acknowledges writes. After the heal, the whole
// recorded history (clients on all five nodes, put / get / delete) must be linearizable.
import t from 'tap'
import { createSeededRandom, HistoryRecorder, startRailgunCluster } from '../harness/index.js'
import type { KvInput, KvOutput } from '../lincheck/index.js'
import { checkKvHistory, runKvWorkload } from './kv-workload.js'
import type { KvWorker } from './kv-workload.js'

const seed = Number(process.env.RAILGUN_FAULT_SEED ?? 7)
const tickMs = 50
const electionTicks = 10
const partitionMs = 8_000
const opTimeoutMs = 2_000

t.test('minority partition with the leader: no acknowledged write on the minority, the majority moves on, linearizable after heal', async (t) => {
  t.comment(`seed ${seed} (RAILGUN_FAULT_SEED=${seed} replays the workload's choices)`)
  const cluster = await startRailgunCluster(t, { nodes: 5, tickMs, electionTicks, seed })
  const leader = await cluster.waitForLeader()
  const follower = cluster.nodeIds.find((id) => id !== leader)!
  const minority = [leader, follower]
  const majority = cluster.nodeIds.filter((id) => !minority.includes(id))
  const setup = await cluster.client(leader)
  await setup.buckets.ensure({ name: 'faults' })
  const workers: KvWorker[] = await Promise.all(cluster.nodeIds.map(async (id) => ({ id, client: await cluster.client(id) })))
  const history = new HistoryRecorder<KvInput, KvOutput>()
  let stopped = false
  const workload = runKvWorkload(workers, { bucket: 'faults', keys: ['a', 'b', 'c'], history, random: createSeededRandom(seed), opTimeoutMs, thinkMs: 20 }, () => stopped)

  await new Promise((resolve) => setTimeout(resolve, 1_000))
  const partitionedAt = performance.now()
  cluster.partition(minority, majority)
  t.comment(`partitioned: minority ${minority.join(',')} (leader ${leader}) | majority ${majority.join(',')}`)
  const newLeader = await cluster.waitForLeader({ among: majority, excluding: minority, timeoutMs: partitionMs })
  t.ok(majority.includes(newLeader), `the majority elected ${newLeader}`)
  // Writes sent to the minority after the partition: none may be acknowledged while it lasts.
  const minorityWrites = (): { ok: number; total: number } => {
    let ok = 0
    let total = 0
    const opened = new Map<number, boolean>()
    for (const event of history.allEvents()) {
      if (event.type === 'invoke') {
        const input = event.input!
        opened.set(event.opId, minority.includes(String(event.clientId)) && input.kind !== 'get' && event.timeMs > partitionedAt)
        if (opened.get(event.opId) === true) total += 1
      } else if (event.type === 'ok' && opened.get(event.opId) === true && event.timeMs < healedAt) ok += 1
    }
    return { ok, total }
  }
  let healedAt = Number.POSITIVE_INFINITY
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, partitionMs - (performance.now() - partitionedAt))))
  healedAt = performance.now()
  cluster.heal()
  t.comment('healed')

  const majorityAcks = history.allEvents().filter((event) => event.type === 'ok' && majority.includes(String(event.clientId)) && event.timeMs > partitionedAt && event.timeMs < healedAt)
  const minorityCount = minorityWrites()
  t.ok(minorityCount.total > 0, `writes were sent to the minority during the partition (${minorityCount.total})`)
  t.equal(minorityCount.ok, 0, 'no write sent to the minority was acknowledged during the partition')
  t.ok(majorityAcks.length > 0, `the majority acknowledged ${majorityAcks.length} operations during the partition`)

  await cluster.waitForLeader({ timeoutMs: 30_000 })
  await new Promise((resolve) => setTimeout(resolve, 2_000))
  stopped = true
  await workload
  checkKvHistory(t, history, cluster.dir, 'minority-partition')
})
