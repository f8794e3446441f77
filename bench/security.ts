// Security benchmark: what TLS and RBAC cost on the client path. Four `railgun server` processes
// (from source via tsx) — clear text / TLS × access off / access on — driven with the official
// NATS client the same way: pub/sub 1→1 throughput (128 B) and sequential request/reply latency.
// With access on, the clients log in with a token of a non-admin role holding read + write on the
// streams used, so every publish and subscribe goes through the authorizer (cached decisions).
// Prints figures and ratios to the clear-text/open baseline; never passes or fails on a timing.
//
//   npx tsx bench/security.ts [--runs 3] [--messages 100000] [--requests 5000]
//
// Rounds alternate between the four servers (order rotated each round), so drift in the
// machine lands on all of them. Writes JSON to bench/results/security-*.json.
import { connect } from '@nats-io/transport-node'
import type { ConnectionOptions, NatsConnection } from '@nats-io/transport-node'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createDevCertificates } from '../shared/security/index.js'
import { measurePubSub, measureRequestLatencies } from './lib/nats-measures.js'
import { freePort } from './lib/ports.js'
import { median, summarizeLatencies } from './lib/stats.js'
import type { LatencySummary } from './lib/stats.js'

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    messages: { type: 'string', default: '100000' },
    'payload-bytes': { type: 'string', default: '128' },
    requests: { type: 'string', default: '5000' },
  },
})
const runs = Number(args.runs)
const messageCount = Number(args.messages)
const payloadBytes = Number(args['payload-bytes'])
const requestCount = Number(args.requests)
const repoRoot = fileURLToPath(new URL('../', import.meta.url))
/** Bound on one server's start (tsx compiles on the fly). */
const startTimeoutMs = 60_000
/** Bound on one pub/sub round's deliveries. */
const roundTimeoutMs = 120_000

interface Variant {
  readonly label: string
  readonly tls: boolean
  readonly rbac: boolean
}

const variants: readonly Variant[] = [
  { label: 'plain, open', tls: false, rbac: false },
  { label: 'TLS, open', tls: true, rbac: false },
  { label: 'plain, RBAC', tls: false, rbac: true },
  { label: 'TLS, RBAC', tls: true, rbac: true },
]

interface Server {
  readonly variant: Variant
  readonly url: string
  /** What a client needs: TLS CA and token. */
  readonly clientOptions: Partial<ConnectionOptions>
  stop(): Promise<void>
}

const work = mkdtempSync(join(tmpdir(), 'railgun-bench-security-'))
const certs = createDevCertificates({ dir: join(work, 'certs') })
const adminPassword = `bench-${Math.random().toString(36).slice(2)}`

async function startServer(variant: Variant): Promise<Server> {
  const port = await freePort()
  const httpPort = await freePort()
  const peerPort = await freePort()
  const dataDir = mkdtempSync(join(work, 'data-'))
  const tlsArgs = variant.tls ? ['--tls-cert', certs.server.certFile, '--tls-key', certs.server.keyFile] : []
  const accessArgs = variant.rbac ? ['--access'] : ['--no-access']
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'server/cli.ts', 'server', '--host', '127.0.0.1', '--port', String(port), '--http-port', String(httpPort), '--peer-port', String(peerPort), '--data', dataDir, '--log-level', 'info', ...tlsArgs, ...accessArgs],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, RAILGUN_ADMIN_PASSWORD: adminPassword } },
  )
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    // Only the start-up lines matter; stop collecting once ready.
    if (!output.includes('railgun ready')) output += chunk.toString('utf8')
  })
  const deadline = Date.now() + startTimeoutMs
  while (!output.includes('railgun ready')) {
    if (child.exitCode !== null) throw new Error(`${variant.label}: server exited with ${child.exitCode}`)
    if (Date.now() > deadline) throw new Error(`${variant.label}: not ready after ${startTimeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const url = `nats://127.0.0.1:${port}`
  const tls = variant.tls ? { tls: { caFile: certs.caFile } } : {}
  let token: string | undefined
  if (variant.rbac) {
    // A non-admin role, so publishes and subscriptions are judged grant by grant.
    const admin = await connect({ servers: url, user: 'admin', pass: adminPassword, ...tls })
    const call = async (verb: string, body: unknown): Promise<Record<string, unknown>> => {
      const reply = await admin.request(`$RG.API.${verb}`, JSON.stringify(body), { timeout: 15_000 })
      const answer = reply.json<Record<string, unknown>>()
      if (answer.ok !== true) throw new Error(`${verb}: ${JSON.stringify(answer)}`)
      return answer
    }
    await call('ROLE.ENSURE', { name: 'bench', grants: [{ permission: 'read', region: '*', stream: 'default/bench' }, { permission: 'write', region: '*', stream: 'default/bench' }] })
    await call('USER.ENSURE', { name: 'bencher', password: adminPassword, roles: ['bench'] })
    token = (await call('TOKEN.CREATE', { user: 'bencher' })).token as string
    await admin.close()
  }
  return {
    variant,
    url,
    clientOptions: { ...tls, ...(token === undefined ? {} : { token }) },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        await exited
        clearTimeout(timer)
      }
    },
  }
}

async function client(server: Server): Promise<NatsConnection> {
  return connect({ servers: server.url, ...server.clientOptions })
}

/** Publisher and subscriber on separate connections; from the first publish to the last delivery. */
async function pubSubThroughput(server: Server): Promise<number> {
  try {
    return await measurePubSub(() => client(server), { messages: messageCount, payloadBytes, timeoutMs: roundTimeoutMs })
  } catch (error) {
    throw new Error(`${server.variant.label}: ${(error as Error).message}`, { cause: error })
  }
}

/** One responder, one requester; sequential requests on `bench.echo`; each latency in ms. */
function requestLatencies(server: Server): Promise<number[]> {
  return measureRequestLatencies(() => client(server), requestCount, payloadBytes)
}

interface Figures {
  readonly label: string
  readonly pubSubMsgsPerSecond: number
  readonly pubSubRuns: number[]
  readonly request: LatencySummary
}

const servers: Server[] = []
try {
  for (const variant of variants) servers.push(await startServer(variant))
  const pubSub = new Map<string, number[]>(variants.map((variant) => [variant.label, []]))
  const latencies = new Map<string, number[]>(variants.map((variant) => [variant.label, []]))
  // Warm-up round (discarded), then `runs` rounds with the order rotated each time.
  for (const server of servers) {
    await pubSubThroughput(server)
    await requestLatencies(server)
  }
  for (let round = 0; round < runs; round += 1) {
    const order = servers.map((_, index) => servers[(index + round) % servers.length] as Server)
    for (const server of order) {
      ;(pubSub.get(server.variant.label) as number[]).push(await pubSubThroughput(server))
      ;(latencies.get(server.variant.label) as number[]).push(...(await requestLatencies(server)))
    }
  }
  const figures: Figures[] = variants.map((variant) => {
    const pubSubRuns = pubSub.get(variant.label) as number[]
    return { label: variant.label, pubSubMsgsPerSecond: median(pubSubRuns), pubSubRuns, request: summarizeLatencies(latencies.get(variant.label) as number[]) }
  })
  const base = figures[0] as Figures
  console.log(`\nsecurity benchmark: ${messageCount} × ${payloadBytes} B pub/sub (median of ${runs}), ${requestCount} × ${runs} sequential requests; official NATS client, railgun server via tsx\n`)
  console.log('variant        pub/sub msg/s   vs base   request p50 ms   p99 ms   vs base p50')
  for (const row of figures) {
    console.log(
      `${row.label.padEnd(14)} ${Math.round(row.pubSubMsgsPerSecond).toString().padStart(13)}   ${(row.pubSubMsgsPerSecond / base.pubSubMsgsPerSecond).toFixed(2).padStart(7)}   ${row.request.p50Ms.toFixed(3).padStart(14)}   ${row.request.p99Ms.toFixed(3).padStart(6)}   ${(row.request.p50Ms / base.request.p50Ms).toFixed(2).padStart(11)}`,
    )
  }
  const resultsDir = join(repoRoot, 'bench/results')
  mkdirSync(resultsDir, { recursive: true })
  const file = join(resultsDir, `security-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, `${JSON.stringify({ messageCount, payloadBytes, requestCount, runs, figures }, null, 2)}\n`)
  console.log(`\nwritten ${file}`)
} finally {
  for (const server of servers) await server.stop()
  rmSync(work, { recursive: true, force: true })
}
