// NATS-core benchmark: drives Railgun and nats-server with the official NATS client, the same
// way, in the same run. Prints figures and ratios; never passes or fails on a timing.
//
//   npm run bench                      # both servers (nats-server when installed)
//   npm run bench -- --runs 5 --messages 200000
//
// Both servers run side by side; after a warm-up, rounds alternate between them.
//
// Measures: pub/sub 1→1 throughput (128 B payloads), sequential request/reply latency, and the
// server's resident memory holding idle connections with subscriptions.
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { mkdirSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { measurePubSub, measureRequestLatencies } from './lib/nats-measures.js'
import { startNatsServer, startRailgun, type RunningServer } from './lib/processes.js'
import { median, summarizeLatencies, type LatencySummary } from './lib/stats.js'

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    messages: { type: 'string', default: '100000' },
    'payload-bytes': { type: 'string', default: '128' },
    requests: { type: 'string', default: '10000' },
    'idle-connections': { type: 'string', default: '1000' },
    'subs-per-connection': { type: 'string', default: '10' },
    only: { type: 'string' },
  },
})
const runs = Number(args.runs)
const messageCount = Number(args.messages)
const payloadBytes = Number(args['payload-bytes'])
const requestCount = Number(args.requests)
const idleConnections = Number(args['idle-connections'])
const subsPerConnection = Number(args['subs-per-connection'])

/** Publisher and subscriber on separate connections; time from first publish to last delivery. */
function pubSubThroughput(url: string): Promise<number> {
  return measurePubSub(() => connect({ servers: url }), { messages: messageCount, payloadBytes, timeoutMs: 60_000 })
}

/** One responder, one requester; `count` sequential requests; latency of each in ms. */
function requestReplySamples(url: string, count: number): Promise<number[]> {
  return measureRequestLatencies(() => connect({ servers: url }), count, payloadBytes)
}

/** Server RSS after idle connections each hold a few subscriptions. */
async function idleMemory(server: RunningServer): Promise<{ baselineBytes: number; loadedBytes: number }> {
  const baselineBytes = server.rssBytes()
  const connections: NatsConnection[] = []
  for (let i = 0; i < idleConnections; i++) {
    const nc = await connect({ servers: server.url, reconnect: false, pingInterval: 120_000 })
    for (let s = 0; s < subsPerConnection; s++) nc.subscribe(`idle.${i}.${s}.>`)
    connections.push(nc)
  }
  await Promise.all(connections.map((nc) => nc.flush()))
  await new Promise((r) => setTimeout(r, 500))
  const loadedBytes = server.rssBytes()
  await Promise.all(connections.map((nc) => nc.close()))
  return { baselineBytes, loadedBytes }
}

interface ServerFigures {
  readonly label: string
  readonly pubSubMsgsPerSecond: number
  readonly pubSubRuns: readonly number[]
  readonly requestReply: LatencySummary
  readonly idle: { baselineBytes: number; loadedBytes: number }
}

/**
 * Both servers stay up for the whole run; each gets a discarded warm-up (JIT, connection pools),
 * then measurement rounds alternate between them (order flipped every round), so drift in the
 * machine's state lands on both sides instead of on whichever ran second.
 */
async function measureAll(servers: readonly RunningServer[]): Promise<ServerFigures[]> {
  for (const server of servers) {
    await pubSubThroughput(server.url)
    await requestReplySamples(server.url, 500)
  }
  const pubSubRuns = servers.map(() => [] as number[])
  const samples = servers.map(() => [] as number[])
  const requestsPerRound = Math.ceil(requestCount / runs)
  for (let round = 0; round < runs; round++) {
    const order = servers.map((_, i) => i)
    if (round % 2 === 1) order.reverse()
    for (const i of order) (pubSubRuns[i] as number[]).push(await pubSubThroughput((servers[i] as RunningServer).url))
    for (const i of order) (samples[i] as number[]).push(...(await requestReplySamples((servers[i] as RunningServer).url, requestsPerRound)))
  }
  const figures: ServerFigures[] = []
  for (const [i, server] of servers.entries()) {
    const runsOf = pubSubRuns[i] as number[]
    figures.push({
      label: server.label,
      pubSubMsgsPerSecond: median(runsOf),
      pubSubRuns: runsOf,
      requestReply: summarizeLatencies(samples[i] as number[]),
      idle: await idleMemory(server),
    })
  }
  return figures
}

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`
const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits })

function print(figures: ServerFigures): void {
  console.log(`\n${figures.label}`)
  console.log(`  pub/sub 1→1 ${payloadBytes} B x ${fmt(messageCount)}: ${fmt(figures.pubSubMsgsPerSecond)} msgs/s (median of ${figures.pubSubRuns.map((r) => fmt(r)).join(', ')})`)
  const rr = figures.requestReply
  console.log(`  request/reply sequential x ${fmt(rr.count)}: p50 ${rr.p50Ms.toFixed(3)} ms, p99 ${rr.p99Ms.toFixed(3)} ms, max ${rr.maxMs.toFixed(3)} ms`)
  console.log(`  RSS: ${mib(figures.idle.baselineBytes)} idle, ${mib(figures.idle.loadedBytes)} with ${fmt(idleConnections)} connections x ${subsPerConnection} subscriptions`)
}

async function main(): Promise<void> {
  console.log(`node ${process.version}; runs=${runs} (alternating rounds after a warm-up); client @nats-io/transport-node`)
  const servers: RunningServer[] = []
  let results: ServerFigures[]
  try {
    if (args.only === undefined || args.only === 'railgun') servers.push(await startRailgun())
    if (args.only === undefined || args.only === 'nats') {
      const nats = await startNatsServer()
      if (typeof nats === 'string') console.log(`nats-server: skipped — ${nats}`)
      else servers.push(nats)
    }
    results = await measureAll(servers)
  } finally {
    await Promise.all(servers.map((server) => server.stop()))
  }
  for (const figures of results) print(figures)
  const railgun = results.find((r) => r.label === 'railgun')
  const nats = results.find((r) => r.label === 'nats-server')
  if (railgun && nats) {
    console.log('\nratios (railgun / nats-server)')
    console.log(`  pub/sub throughput: ${(railgun.pubSubMsgsPerSecond / nats.pubSubMsgsPerSecond).toFixed(2)}x  (target >= 0.8x)`)
    console.log(`  request/reply p50: ${(railgun.requestReply.p50Ms / nats.requestReply.p50Ms).toFixed(2)}x  (target <= 1.25x)`)
    console.log(`  request/reply p99: ${(railgun.requestReply.p99Ms / nats.requestReply.p99Ms).toFixed(2)}x`)
  }
  mkdirSync('bench/results', { recursive: true })
  const file = `bench/results/nats-core-${new Date().toISOString().replace(/[:.]/g, '-')}.json`
  writeFileSync(file, JSON.stringify({ node: process.version, payloadBytes, messageCount, requestCount, results }, null, 2))
  console.log(`\nwrote ${file}`)
}

await main()
