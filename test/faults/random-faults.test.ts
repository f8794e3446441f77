// Fault: five rounds of random faults on a 5-node cluster of real processes while a KV workload
// (one client per node: put / get / delete on a few keys) runs, recorded with HistoryRecorder
// (timeouts and lost connections are `info`: unknown outcome) and checked for linearizability
// (DESIGN §4 invariant 5). Each round picks one fault, holds it, and undoes it:
//   kill      — kill -9 a random node, start it again later;
//   killLeader— kill -9 the current leader, start it again later;
//   pause     — SIGSTOP a random node (or the leader), SIGCONT later;
//   partition — blackhole the peer links between a random group of 1-2 nodes and the rest
//               (sometimes the group holds the leader).
// The schedule comes from a seeded PRNG: the seed is printed, `RAILGUN_FAULT_SEED=N` replays the
// same schedule and workload choices (not the same timings). A failure keeps the cluster's
// directory: node logs and the history as JSON lines.
import t from 'tap'
import type { SeededRandom } from '../harness/index.js'
import { createSeededRandom, HistoryRecorder, startRailgunCluster } from '../harness/index.js'
import type { RailgunCluster } from '../harness/index.js'
import type { KvInput, KvOutput } from '../lincheck/index.js'
import { checkKvHistory, runKvWorkload } from './kv-workload.js'

const seed = Number(process.env.RAILGUN_FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31))
const rounds = 5
const faultKinds = ['kill', 'killLeader', 'pause', 'partition'] as const
type FaultKind = (typeof faultKinds)[number]
const reconnect = { delayMsMin: 50, delayMsMax: 500, attemptsMax: 10_000 }

function pick<T>(random: SeededRandom, items: readonly T[]): T {
  return items[random.int(items.length)]!
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Applies one fault; resolves with a description and the function that undoes it. */
async function inject(cluster: RailgunCluster, random: SeededRandom, kind: FaultKind): Promise<{ what: string; undo: () => Promise<void> }> {
  const leader = (await cluster.leader()) ?? pick(random, cluster.nodeIds)
  switch (kind) {
    case 'kill':
    case 'killLeader': {
      const victim = kind === 'killLeader' ? leader : pick(random, cluster.nodeIds)
      await cluster.kill9(victim)
      return { what: `kill -9 ${victim}${victim === leader ? ' (leader)' : ''}`, undo: () => cluster.start(victim) }
    }
    case 'pause': {
      const victim = random.next() < 0.5 ? leader : pick(random, cluster.nodeIds)
      cluster.pause(victim)
      return { what: `pause ${victim}${victim === leader ? ' (leader)' : ''}`, undo: async () => cluster.resume(victim) }
    }
    case 'partition': {
      const size = 1 + random.int(2)
      const shuffled = [...cluster.nodeIds].sort(() => random.next() - 0.5)
      const group = random.next() < 0.5 ? [leader, ...shuffled.filter((id) => id !== leader)].slice(0, size) : shuffled.slice(0, size)
      const rest = cluster.nodeIds.filter((id) => !group.includes(id))
      cluster.partition(group, rest)
      return { what: `partition ${group.join(',')} | ${rest.join(',')}${group.includes(leader) ? ' (leader in the small side)' : ''}`, undo: async () => cluster.heal() }
    }
  }
}

t.test(`${rounds} rounds of random kills, pauses and partitions under a KV workload: the history is linearizable`, async (t) => {
  t.comment(`seed ${seed} (replay the schedule with RAILGUN_FAULT_SEED=${seed})`)
  const random = createSeededRandom(seed)
  const cluster = await startRailgunCluster(t, { nodes: 5, tickMs: 50, electionTicks: 10, seed })
  const leader = await cluster.waitForLeader()
  const setup = await cluster.client(leader)
  await setup.buckets.ensure({ name: 'chaos' })
  const workers = await Promise.all(cluster.nodeIds.map(async (id) => ({ id, client: await cluster.client(id, { reconnect }) })))
  const history = new HistoryRecorder<KvInput, KvOutput>()
  let stopped = false
  const workload = runKvWorkload(workers, { bucket: 'chaos', keys: ['a', 'b', 'c', 'd'], history, random: createSeededRandom(seed + 1), opTimeoutMs: 2_000, thinkMs: 30 }, () => stopped)

  try {
    await sleep(1_000)
    for (let round = 1; round <= rounds; round += 1) {
      const kind = pick(random, faultKinds)
      const holdMs = 1_500 + random.int(2_000)
      const fault = await inject(cluster, random, kind)
      t.comment(`round ${round}: ${fault.what} for ${holdMs} ms (${JSON.stringify(history.summary())})`)
      await sleep(holdMs)
      await fault.undo()
      // Let the cluster settle before the next fault (bounded: a leader among the live nodes).
      await cluster.waitForLeader({ timeoutMs: 30_000 })
      await sleep(500 + random.int(1_000))
    }
    await sleep(1_500)
  } finally {
    stopped = true
    await workload
  }
  const summary = history.summary()
  t.ok(summary.ok > 100, `the workload made progress (${summary.ok} operations acknowledged)`)
  checkKvHistory(t, history, cluster.dir, `random-faults-seed-${seed}`)
})
