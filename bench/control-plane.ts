// Control-plane benchmark: a 3-node cluster of real `railgun server` processes on this machine
// (test/harness RailgunCluster, peers linked directly, RocksDB in a temp directory), driven over
// the control API with the Railgun client:
//   - STREAM.ENSURE (each call creates a new stream), KV.PUT, and linearizable KV.GET (ReadIndex),
//     sequentially (one client) and with N concurrent clients, through the leader and through a
//     follower (which forwards proposals and asks the leader for the read index): ops/s, p50/p99;
//   - failover: kill -9 of the leader → first acknowledged KV write (attempts every 25 ms from
//     clients on the survivors), over `--trials` trials: min / median / max.
// Prints a table and writes JSON to bench/results/control-plane-<time>.json.
//
//   npx tsx bench/control-plane.ts [--ops 500] [--concurrency 16] [--trials 10] [--tick-ms 50] [--election-ticks 10]
import { mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus } from 'node:os'
import { parseArgs } from 'node:util'
import type { RailgunClient } from '../client/index.js'
import { RailgunCluster } from '../test/harness/index.js'
import { runLoad } from './lib/load.js'
import type { LoadFigures } from './lib/load.js'
import { median } from './lib/stats.js'

const { values } = parseArgs({
  options: {
    ops: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '16' },
    trials: { type: 'string', default: '10' },
    'tick-ms': { type: 'string', default: '50' },
    'election-ticks': { type: 'string', default: '10' },
  },
})
const ops = Number(values.ops)
const concurrency = Number(values.concurrency)
const trials = Number(values.trials)
const tickMs = Number(values['tick-ms'])
const electionTicks = Number(values['election-ticks'])
const electionTimeoutMs = tickMs * electionTicks
const failoverAttemptEveryMs = 25
const failoverGiveUpMs = 30_000
const opTimeoutMs = 15_000

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function clientsOn(cluster: RailgunCluster, id: string, count: number): Promise<RailgunClient[]> {
  return Promise.all(Array.from({ length: count }, () => cluster.client(id)))
}

/** Sequential (1 client) and concurrent (`concurrency` clients) rows for one operation through one node. */
async function measure(cluster: RailgunCluster, via: string, role: string, name: string, operation: (client: RailgunClient, worker: number, sequence: number) => Promise<unknown>): Promise<LoadFigures[]> {
  const clients = await clientsOn(cluster, via, concurrency)
  const sequential = await runLoad(`${name} via ${role}`, (worker, sequence) => operation(clients[0]!, worker, sequence), { workers: 1, opsPerWorker: ops, warmUpPerWorker: 20 })
  const perWorker = Math.max(1, Math.ceil(ops / concurrency) * 2)
  const concurrent = await runLoad(`${name} via ${role}`, (worker, sequence) => operation(clients[worker]!, worker, sequence), { workers: concurrency, opsPerWorker: perWorker, warmUpPerWorker: 2 })
  for (const client of clients) await client.close()
  return [sequential, concurrent]
}

/** kill -9 the leader; resolves with ms from the kill to the first acknowledged write from a survivor. */
async function failoverTrial(cluster: RailgunCluster, trial: number): Promise<{ leader: string; ms: number; newLeader: string }> {
  const leader = await cluster.waitForLeader({ timeoutMs: 60_000 })
  const survivors = cluster.nodeIds.filter((id) => id !== leader)
  const clients = await Promise.all(survivors.map((id) => cluster.client(id)))
  for (const client of clients) await client.kv('bench').get('warm', { timeoutMs: opTimeoutMs })
  const killedAt = performance.now()
  await cluster.kill9(leader)
  let acknowledgedAt: number | undefined
  const attempts: Promise<unknown>[] = []
  for (let attempt = 0; acknowledgedAt === undefined && performance.now() - killedAt < failoverGiveUpMs; attempt += 1) {
    attempts.push(
      clients[attempt % clients.length]!.kv('bench')
        .put(`failover-${trial}`, String(attempt), { timeoutMs: 5_000 })
        .then(() => {
          acknowledgedAt ??= performance.now()
        })
        .catch(() => undefined),
    )
    await sleep(failoverAttemptEveryMs)
  }
  await Promise.all(attempts)
  const newLeader = await cluster.waitForLeader({ excluding: [leader], among: survivors, timeoutMs: 60_000 })
  await cluster.start(leader)
  await cluster.waitForLeader({ timeoutMs: 60_000 })
  for (const client of clients) await client.close()
  if (acknowledgedAt === undefined) throw new Error(`trial ${trial}: no write acknowledged within ${failoverGiveUpMs} ms`)
  return { leader, ms: acknowledgedAt - killedAt, newLeader }
}

function formatRow(row: LoadFigures): string {
  const cells = [row.label.padEnd(34), String(row.workers).padStart(7), String(row.count).padStart(6), row.opsPerSecond.toFixed(0).padStart(8), row.p50Ms.toFixed(2).padStart(8), row.p99Ms.toFixed(2).padStart(8), row.maxMs.toFixed(1).padStart(8), String(row.failed).padStart(6)]
  return cells.join('  ') + (row.firstError === undefined ? '' : `  (${row.firstError})`)
}

async function main(): Promise<void> {
  process.stdout.write(`control-plane bench: 3 nodes, tick ${tickMs} ms × ${electionTicks} (election timeout ${electionTimeoutMs} ms), ${ops} ops per row, ${concurrency} concurrent clients, ${trials} failover trials\n`)
  const cluster = await RailgunCluster.start({ nodes: 3, tickMs, electionTicks, peerProxies: false, logLevel: 'warn' })
  try {
    const leader = await cluster.waitForLeader({ timeoutMs: 60_000 })
    const follower = cluster.nodeIds.find((id) => id !== leader)!
    const setup = await cluster.client(leader)
    await setup.buckets.ensure({ name: 'bench' })
    await setup.kv('bench').put('warm', 'yes')
    await setup.close()
    const rows: LoadFigures[] = []
    let streamCount = 0
    for (const [via, role] of [
      [leader, 'leader'],
      [follower, 'follower'],
    ] as const) {
      rows.push(...(await measure(cluster, via, role, 'STREAM.ENSURE (create)', (client) => client.streams.ensure({ name: `bench-${role}-${(streamCount += 1)}` }, { timeoutMs: opTimeoutMs }))))
      rows.push(...(await measure(cluster, via, role, 'KV.PUT', (client, worker, sequence) => client.kv('bench').put(`key-${worker}-${sequence % 64}`, `value-${sequence}`, { timeoutMs: opTimeoutMs }))))
      rows.push(...(await measure(cluster, via, role, 'KV.GET (linearizable)', (client, worker, sequence) => client.kv('bench').get(`key-${worker}-${sequence % 64}`, { timeoutMs: opTimeoutMs }))))
    }
    process.stdout.write(`\n${'operation'.padEnd(34)}  ${'clients'.padStart(7)}  ${'ops'.padStart(6)}  ${'ops/s'.padStart(8)}  ${'p50 ms'.padStart(8)}  ${'p99 ms'.padStart(8)}  ${'max ms'.padStart(8)}  ${'failed'.padStart(6)}\n`)
    for (const row of rows) process.stdout.write(`${formatRow(row)}\n`)

    const failovers: { leader: string; ms: number; newLeader: string }[] = []
    for (let trial = 1; trial <= trials; trial += 1) {
      const result = await failoverTrial(cluster, trial)
      failovers.push(result)
      process.stdout.write(`failover trial ${trial}: killed ${result.leader}, ${result.newLeader} leads; first write acknowledged after ${result.ms.toFixed(0)} ms\n`)
    }
    const times = failovers.map((result) => result.ms)
    const failover = { trials, minMs: Math.min(...times), medianMs: median(times), maxMs: Math.max(...times), electionTimeoutMs, boundMs: 3 * electionTimeoutMs }
    process.stdout.write(`\nleader kill -9 → first acknowledged write: min ${failover.minMs.toFixed(0)} ms, median ${failover.medianMs.toFixed(0)} ms, max ${failover.maxMs.toFixed(0)} ms (election timeout ${electionTimeoutMs} ms; 3× = ${failover.boundMs} ms)\n`)

    mkdirSync('bench/results', { recursive: true })
    const file = `bench/results/control-plane-${new Date().toISOString().replace(/[:.]/g, '-')}.json`
    const machine = { node: process.version, cpus: availableParallelism(), cpuModel: cpus()[0]?.model ?? 'unknown' }
    writeFileSync(file, JSON.stringify({ machine, settings: { ops, concurrency, trials, tickMs, electionTicks }, rows, failover: { ...failover, samplesMs: times } }, null, 2))
    process.stdout.write(`written ${file}\n`)
  } finally {
    await cluster.close()
  }
}

await main()
