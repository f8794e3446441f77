// A persistent stream of 10 million events on a real node (issue #5: "a node holding 10 M events
// stays under 512 MB RSS; reopen < 10 s"). One `railgun server` process (from source through tsx,
// or a compiled cli.js), one persistent stream, N × 128 B events published through NATS with the
// official client (`Rg-Ack: write`, each ack awaited, `--window` in flight); the server's RSS is
// sampled from /proc/<pid>/status (VmRSS every `--sample-ms`, and VmHWM: the kernel's peak) during
// the fill and after it; then SIGTERM, a restart on the same data directory, and the time until
// /readyz is 200, until the stream answers STREAM.FETCH with the full delivered count, and until
// one new publish is acked (writable again).
// Prints a table and writes JSON to bench/results/stream-node-memory-<time>.json.
//
// `--maintenance` runs a different measure, in this process (no server): retention on a stream
// of `--maintenance-events` (1 M) delivered events in the event store on RocksDB with the node's
// default tuning and group commit, driven by server/streams/maintenance.ts down to a tenth of
// the events, while one appender appends one event at a time (each awaited): the maintenance
// steps' durations (longest, p50/p99), the appender's latency before and during maintenance, and
// the event-loop delay. Writes bench/results/stream-maintenance-<time>.json.
//
//   npx tsx bench/stream-node-memory.ts [--events 10000000] [--quick] [--window 4096]
//     [--payload-bytes 128] [--cli path/to/cli.js] [--server-node-options '…'] [--rss-limit-mb 6144]
//     [--dir DIR --keep]
//
// --quick: 20,000 events (a smoke run). --cli: run a compiled build (`dist/server/cli.js`)
// instead of `node --import tsx server/cli.ts` (tsx adds its own memory: compare both).
// --server-node-options='--cpu-prof --cpu-prof-dir=/tmp/p' (with '='): node options for the server process.
// The server also runs a small preloaded probe (written to the run directory, `--import`):
// process.memoryUsage() every second and GC pauses by kind, so the RSS splits into V8 heap,
// external (typed arrays, Buffers) and the rest (RocksDB, malloc, code); summarized per life.
// --rss-limit-mb: stop publishing when the server passes it (a runaway must not take the shared
// machine down); the run then reports how far it got. STREAM.INFO carries the definition only,
// so the count is read with STREAM.FETCH (`delivered`) and from /metrics.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { connect, createInbox, headers as natsHeaders } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import { eventStoreKeySpaces, openEventStore } from '../data-plane/persistent/index.js'
import type { StreamEvent } from '../data-plane/persistent/index.js'
import { attachStreamMaintenance } from '../server/streams/maintenance.js'
import { apiDefaults } from '../shared/api/index.js'
import { configDefaults } from '../shared/config/index.js'
import { createSilentLogger } from '../shared/log.js'
import { openRocksStorage, rocksTuningOf } from '../shared/storage/index.js'
import { freePort } from './lib/ports.js'

const repoRoot = fileURLToPath(new URL('../', import.meta.url))
const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '10000000' },
    quick: { type: 'boolean', default: false },
    window: { type: 'string', default: '4096' },
    'payload-bytes': { type: 'string', default: '128' },
    cli: { type: 'string' },
    'server-node-options': { type: 'string', default: '' },
    'rss-limit-mb': { type: 'string', default: '6144' },
    'sample-ms': { type: 'string', default: '1000' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    maintenance: { type: 'boolean', default: false },
    'maintenance-events': { type: 'string', default: '1000000' },
  },
})
const events = args.quick ? 20_000 : Number(args.events)
const window = Number(args.window)
const payloadBytes = Number(args['payload-bytes'])
const rssLimitBytes = Number(args['rss-limit-mb']) * 1024 * 1024
const sampleMs = Number(args['sample-ms'])
/** Named limits of the run (generous: the machine is shared). */
const readyTimeoutMs = 10 * 60_000
const ackStallMs = 120_000
const progressEveryMs = 10_000
const stopTimeoutMs = 60_000
const streamName = 'memory'
const streamKey = `default/${streamName}`
const mebibyte = 1024 * 1024

for (const [name, value] of Object.entries({ events, window, payloadBytes, sampleMs })) {
  if (!(Number.isInteger(value) && value > 0)) throw new Error(`--${name}: expected a positive integer, got ${value}`)
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

interface ProcessMemory {
  readonly rssBytes: number
  /** Peak RSS of the process so far (VmHWM). */
  readonly peakBytes: number
}

function processMemory(pid: number): ProcessMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const field = (name: string): number => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN) * 1024
  return { rssBytes: field('VmRSS'), peakBytes: field('VmHWM') }
}

const mb = (bytes: number): string => (bytes / mebibyte).toFixed(0)

/** Samples a process's RSS every `sampleMs` until stopped; keeps the maximum and the series. */
class RssSampler {
  maxBytes = 0
  readonly series: Array<{ readonly atMs: number; readonly rssBytes: number }> = []
  readonly #timer: NodeJS.Timeout
  readonly #startedMs = performance.now()

  constructor(readonly pid: number) {
    this.sample()
    this.#timer = setInterval(() => this.sample(), sampleMs)
  }

  sample(): number {
    try {
      const { rssBytes } = processMemory(this.pid)
      this.maxBytes = Math.max(this.maxBytes, rssBytes)
      this.series.push({ atMs: Math.round(performance.now() - this.#startedMs), rssBytes })
      return rssBytes
    } catch {
      return Number.NaN // the process has gone
    }
  }

  stop(): void {
    clearInterval(this.#timer)
  }
}

interface Server {
  readonly child: ChildProcess
  readonly pid: number
  readonly clientUrl: string
  readonly adminUrl: string
  exited(): boolean
}

/** Preloaded into the server: one JSON line per second (memory) with the GC pauses so far. */
const probeSource = `import { appendFileSync } from 'node:fs'
import { PerformanceObserver } from 'node:perf_hooks'
const file = process.env.RAILGUN_BENCH_PROBE_FILE
const gc = { minor: 0, minorMs: 0, major: 0, majorMs: 0 }
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (entry.detail?.kind === 1) { gc.minor++; gc.minorMs += entry.duration } else { gc.major++; gc.majorMs += entry.duration }
  }
}).observe({ entryTypes: ['gc'] })
setInterval(() => {
  const m = process.memoryUsage()
  appendFileSync(file, JSON.stringify({ rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, gc }) + '\\n')
}, 1000).unref()
`

interface ProbeSummary {
  readonly samples: number
  readonly heapTotalMaxBytes: number
  readonly heapUsedMaxBytes: number
  readonly externalMaxBytes: number
  /** RSS − heap total − external: RocksDB, malloc, code. */
  readonly restMaxBytes: number
  readonly gc: { readonly minor: number; readonly minorMs: number; readonly major: number; readonly majorMs: number }
}

function summarizeProbe(file: string): ProbeSummary | null {
  let lines: string[]
  try {
    lines = readFileSync(file, 'utf8').split('\n').filter((line) => line !== '')
  } catch {
    return null
  }
  if (lines.length === 0) return null
  const rows = lines.map((line) => JSON.parse(line) as { rss: number; heapTotal: number; heapUsed: number; external: number; gc: ProbeSummary['gc'] })
  const max = (pick: (row: (typeof rows)[number]) => number): number => Math.max(...rows.map(pick))
  return {
    samples: rows.length,
    heapTotalMaxBytes: max((r) => r.heapTotal),
    heapUsedMaxBytes: max((r) => r.heapUsed),
    externalMaxBytes: max((r) => r.external),
    restMaxBytes: max((r) => r.rss - r.heapTotal - r.external),
    gc: (rows.at(-1) as (typeof rows)[number]).gc,
  }
}

function startServer(dataDir: string, ports: { client: number; http: number }, logPath: string, probeFile: string): Server {
  const cliArgs = ['server', '--host', '127.0.0.1', '--port', String(ports.client), '--http-port', String(ports.http), '--peer-port', '0', '--data', dataDir, '--name', 'memory-bench']
  const nodeOptions = args['server-node-options'].split(' ').filter((option) => option !== '')
  const probePath = join(dirname(probeFile), 'probe.mjs')
  writeFileSync(probePath, probeSource)
  const command = [...nodeOptions, `--import=${probePath}`, ...(args.cli === undefined ? ['--import', 'tsx', join(repoRoot, 'server/cli.ts')] : [args.cli]), ...cliArgs]
  const log = createWriteStream(logPath, { flags: 'a' })
  const child = spawn(process.execPath, command, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RAILGUN_LOG_LEVEL: 'warn', RAILGUN_BENCH_PROBE_FILE: probeFile } })
  child.stdout?.pipe(log)
  child.stderr?.pipe(log)
  if (child.pid === undefined) throw new Error('railgun server did not start')
  return { child, pid: child.pid, clientUrl: `nats://127.0.0.1:${ports.client}`, adminUrl: `http://127.0.0.1:${ports.http}`, exited: () => child.exitCode !== null || child.signalCode !== null }
}

async function untilReady(server: Server, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (server.exited()) throw new Error(`railgun server exited (${server.child.exitCode ?? server.child.signalCode}) before ready`)
    try {
      const response = await fetch(`${server.adminUrl}/readyz`)
      if (response.status === 200) return
    } catch {
      // not listening yet
    }
    await sleep(20)
  }
  throw new Error(`not ready after ${timeoutMs} ms`)
}

async function stopServer(server: Server): Promise<{ readonly ms: number; readonly code: number | null; readonly signal: string | null }> {
  const startedMs = performance.now()
  if (!server.exited()) {
    const exited = new Promise<void>((resolve) => server.child.once('exit', () => resolve()))
    server.child.kill('SIGTERM')
    const timer = setTimeout(() => server.child.kill('SIGKILL'), stopTimeoutMs)
    await exited
    clearTimeout(timer)
  }
  return { ms: Math.round(performance.now() - startedMs), code: server.child.exitCode, signal: server.child.signalCode }
}

interface FetchAnswer {
  readonly ok: boolean
  readonly delivered?: number
  readonly events?: ReadonlyArray<{ readonly index: number }>
  readonly error?: { readonly code: string }
}

async function fetchDelivered(nc: NatsConnection, from: number): Promise<FetchAnswer> {
  const reply = await nc.request('$RG.API.STREAM.FETCH', JSON.stringify({ name: streamName, from, max: 1 }), { timeout: 30_000 })
  return reply.json<FetchAnswer>()
}

/** Polls STREAM.FETCH until the stream is open here and has delivered `count` events. */
async function untilDelivered(nc: NatsConnection, count: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs
  let last = -1
  while (Date.now() < deadline) {
    try {
      const answer = await fetchDelivered(nc, Math.max(0, count - 1))
      if (answer.ok && (answer.delivered ?? -1) >= count) return answer.delivered ?? count
      if (answer.ok) last = answer.delivered ?? -1
    } catch {
      // a timeout while the node is busy: ask again
    }
    await sleep(50)
  }
  throw new Error(`stream ${streamKey}: ${last} delivered after ${timeoutMs} ms, expected ${count}`)
}

async function scrapeMetric(adminUrl: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text()
  for (const line of text.split('\n')) if (line.startsWith(name)) return Number(line.slice(line.lastIndexOf(' ') + 1))
  return undefined
}

interface FillResult {
  readonly acked: number
  readonly failed: number
  readonly failureCodes: Record<string, number>
  readonly seconds: number
  readonly eventsPerSec: number
  readonly stoppedForRss: boolean
}

/** Publishes until `events` are acked (failed publishes are counted and sent again), `window` in flight. */
async function fill(nc: NatsConnection, server: Server, sampler: RssSampler): Promise<FillResult> {
  const inbox = createInbox()
  const h = natsHeaders()
  h.set('Rg-Ack', 'write')
  const payload = new Uint8Array(payloadBytes).fill(0x61)
  let sent = 0
  let acked = 0
  let failed = 0
  let inFlight = 0
  let stoppedForRss = false
  let lastAckMs = performance.now()
  const failureCodes: Record<string, number> = {}
  const startedMs = performance.now()
  let wake: (() => void) | undefined
  const subscription = nc.subscribe(inbox, {
    callback: (error, message) => {
      if (error !== null) return
      inFlight -= 1
      lastAckMs = performance.now()
      const answer = message.json<{ ok: boolean; error?: { code: string } }>()
      if (answer.ok) acked += 1
      else {
        failed += 1
        const code = answer.error?.code ?? 'unknown'
        failureCodes[code] = (failureCodes[code] ?? 0) + 1
      }
      wake?.()
    },
  })
  let lastProgressMs = startedMs
  while (acked < events) {
    if (server.exited()) throw new Error(`railgun server exited (${server.child.exitCode ?? server.child.signalCode}) after ${acked} acked events`)
    // Keep `window` in flight; failed publishes are sent again (the target is `events` acked).
    while (inFlight < window && sent - failed < events) {
      nc.publish(streamName, payload, { reply: inbox, headers: h })
      sent += 1
      inFlight += 1
    }
    await new Promise<void>((resolve) => {
      wake = resolve
      setTimeout(resolve, 100)
    })
    wake = undefined
    const nowMs = performance.now()
    if (nowMs - lastAckMs > ackStallMs) throw new Error(`no ack for ${ackStallMs} ms (${acked} acked, ${inFlight} in flight)`)
    if (nowMs - lastProgressMs >= progressEveryMs) {
      lastProgressMs = nowMs
      const rss = sampler.sample()
      const seconds = (nowMs - startedMs) / 1000
      console.log(`  ${acked.toLocaleString('en')} acked (${Math.round(acked / seconds).toLocaleString('en')}/s), RSS ${mb(rss)} MB, max ${mb(sampler.maxBytes)} MB, failed ${failed}`)
      if (rss > rssLimitBytes) {
        stoppedForRss = true
        console.log(`  RSS passed --rss-limit-mb (${mb(rssLimitBytes)} MB): stopping the fill`)
        break
      }
    }
  }
  // Let what is in flight land (bounded), so the count after the restart is exact.
  const drainDeadline = Date.now() + ackStallMs
  while (inFlight > 0 && Date.now() < drainDeadline) await sleep(20)
  subscription.unsubscribe()
  const seconds = (performance.now() - startedMs) / 1000
  return { acked, failed, failureCodes, seconds, eventsPerSec: Math.round(acked / seconds), stoppedForRss }
}

async function main(): Promise<void> {
  const dir = args.dir ?? mkdtempSync(join(tmpdir(), 'railgun-stream-memory-'))
  mkdirSync(dir, { recursive: true })
  const dataDir = join(dir, 'data')
  const logPath = join(dir, 'server.log')
  const ports = { client: await freePort(), http: await freePort() }
  console.log(`stream-node-memory: ${new Date().toISOString()}, node ${process.version}, ${availableParallelism()} × ${cpus()[0]?.model ?? 'cpu'}`)
  console.log(`  ${events.toLocaleString('en')} events × ${payloadBytes} B, window ${window}, runner ${args.cli ?? 'tsx server/cli.ts'}, dir ${dir}`)

  // 1. Start, create the stream, fill it.
  const probeFill = join(dir, 'probe-fill.jsonl')
  const probeReopen = join(dir, 'probe-reopen.jsonl')
  let server = startServer(dataDir, ports, logPath, probeFill)
  let startedMs = performance.now()
  await untilReady(server, readyTimeoutMs)
  const firstReadyMs = Math.round(performance.now() - startedMs)
  const idle = processMemory(server.pid)
  let nc = await connect({ servers: server.clientUrl })
  const ensured = (await nc.request('$RG.API.STREAM.ENSURE', JSON.stringify({ name: streamName, kind: 'persistent', ackDefault: 'write' }), { timeout: 30_000 })).json<{ ok: boolean }>()
  if (!ensured.ok) throw new Error(`STREAM.ENSURE: ${JSON.stringify(ensured)}`)
  await untilDelivered(nc, 0, 60_000)
  const sampler = new RssSampler(server.pid)
  const filled = await fill(nc, server, sampler)
  const delivered = await untilDelivered(nc, filled.acked, readyTimeoutMs)
  sampler.sample()
  const fillPeak = processMemory(server.pid).peakBytes
  await sleep(5_000)
  const afterFill = processMemory(server.pid)
  sampler.stop()
  const storedEvents = await scrapeMetric(server.adminUrl, `railgun_stream_stored_events{stream="${streamKey}"}`)
  const heapUsed = await scrapeMetric(server.adminUrl, 'railgun_process_heap_used_bytes')
  await nc.close()
  const stopped = await stopServer(server)
  console.log(`  filled: ${filled.acked.toLocaleString('en')} acked in ${filled.seconds.toFixed(1)} s (${filled.eventsPerSec.toLocaleString('en')}/s), delivered ${delivered.toLocaleString('en')}, RSS max ${mb(sampler.maxBytes)} MB (peak ${mb(fillPeak)}), after ${mb(afterFill.rssBytes)} MB; SIGTERM → exit in ${stopped.ms} ms`)

  // 2. Restart on the same directory: ready, then the stream open with the full count.
  server = startServer(dataDir, ports, logPath, probeReopen)
  startedMs = performance.now()
  const reopenSampler = new RssSampler(server.pid)
  await untilReady(server, readyTimeoutMs)
  const readyMs = Math.round(performance.now() - startedMs)
  nc = await connect({ servers: server.clientUrl })
  const reopened = await untilDelivered(nc, filled.acked, readyTimeoutMs)
  const streamOpenMs = Math.round(performance.now() - startedMs)
  // Writable again: one publish (a new id) acked after the restart.
  const ackHeaders = natsHeaders()
  ackHeaders.set('Rg-Ack', 'write')
  const firstAck = (await nc.request(streamName, new Uint8Array(payloadBytes).fill(0x63), { headers: ackHeaders, timeout: 60_000 })).json<{ ok: boolean }>()
  if (!firstAck.ok) throw new Error(`first publish after the restart: ${JSON.stringify(firstAck)}`)
  const firstAckMs = Math.round(performance.now() - startedMs)
  reopenSampler.sample()
  const reopenPeak = processMemory(server.pid).peakBytes
  await sleep(5_000)
  const afterReopen = processMemory(server.pid)
  reopenSampler.stop()
  await nc.close()
  await stopServer(server)

  const result = {
    timeIso: new Date().toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    runner: args.cli ?? 'tsx',
    events,
    payloadBytes,
    window,
    firstReadyMs,
    idleRssBytes: idle.rssBytes,
    fill: { ...filled, delivered, rssMaxSampledBytes: sampler.maxBytes, rssPeakBytes: fillPeak, rssAfterBytes: afterFill.rssBytes, storedEventsMetric: storedEvents ?? null, heapUsedBytes: heapUsed ?? null },
    stop: stopped,
    reopen: { readyMs, streamOpenMs, firstAckMs, delivered: reopened, rssMaxSampledBytes: reopenSampler.maxBytes, rssPeakBytes: reopenPeak, rssAfterBytes: afterReopen.rssBytes },
    probe: { fill: summarizeProbe(probeFill), reopen: summarizeProbe(probeReopen) },
    targets: { rssBytes: 512 * mebibyte, reopenMs: 10_000 },
  }
  console.log('')
  console.log('| measure | value | target |')
  console.log('|---|---:|---:|')
  console.log(`| events acked (Rg-Ack: write) | ${filled.acked.toLocaleString('en')}${filled.stoppedForRss ? ' (stopped: RSS limit)' : ''} | ${events.toLocaleString('en')} |`)
  console.log(`| publish rate | ${filled.eventsPerSec.toLocaleString('en')} events/s | |`)
  console.log(`| RSS idle / max during fill (VmHWM) / 5 s after | ${mb(idle.rssBytes)} / ${mb(Math.max(sampler.maxBytes, fillPeak))} / ${mb(afterFill.rssBytes)} MB | < 512 MB |`)
  console.log(`| restart: /readyz 200 | ${readyMs} ms | |`)
  console.log(`| restart: stream open, ${reopened.toLocaleString('en')} delivered | ${streamOpenMs} ms | < 10,000 ms |`)
  console.log(`| restart: first publish acked | ${firstAckMs} ms | |`)
  console.log(`| RSS during reopen (VmHWM) / 5 s after | ${mb(Math.max(reopenSampler.maxBytes, reopenPeak))} / ${mb(afterReopen.rssBytes)} MB | < 512 MB |`)
  for (const [life, probe] of Object.entries(result.probe)) {
    if (probe === null) continue
    console.log(`| ${life}: max heap total / heap used / external / rest (RocksDB, malloc, code) | ${mb(probe.heapTotalMaxBytes)} / ${mb(probe.heapUsedMaxBytes)} / ${mb(probe.externalMaxBytes)} / ${mb(probe.restMaxBytes)} MB | |`)
    console.log(`| ${life}: GC pauses minor / major | ${probe.gc.minor} (${(probe.gc.minorMs / 1000).toFixed(1)} s) / ${probe.gc.major} (${(probe.gc.majorMs / 1000).toFixed(1)} s) | |`)
  }
  mkdirSync(join(repoRoot, 'bench/results'), { recursive: true })
  const file = join(repoRoot, `bench/results/stream-node-memory-${result.timeIso.replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`)
  console.log(`\nwrote ${file}`)
  if (!args.keep && args.dir === undefined) rmSync(dir, { recursive: true, force: true })
}

/** Retention of a 1 M-event stream while appends go on (see the header). */
async function maintenanceMain(): Promise<void> {
  const total = args.quick ? 50_000 : Number(args['maintenance-events'])
  if (!(Number.isInteger(total) && total > 0)) throw new Error('--maintenance-events: expected a positive integer')
  const keep = Math.floor(total / 10)
  const dir = args.dir ?? mkdtempSync(join(tmpdir(), 'railgun-stream-maintenance-'))
  const storage = await openRocksStorage(join(dir, 'db'), { keySpaces: eventStoreKeySpaces, tuning: rocksTuningOf(configDefaults.storage) })
  const store = await openEventStore(storage, configDefaults.streams)
  const stream = 'default/retained'
  const dedupWindowMs = apiDefaults.dedupWindowMs
  await store.ensureStream(stream, { dedupWindowMs })
  console.log(`stream maintenance: ${new Date().toISOString()}, node ${process.version}, ${total.toLocaleString('en')} events × ${payloadBytes} B, keep ${keep.toLocaleString('en')}, dedup window ${dedupWindowMs} ms, dir ${dir}`)
  const payload = new Uint8Array(payloadBytes).fill(0x62)
  const baseMs = Date.now() - total - 60_000
  const event = (seq: number): StreamEvent => ({
    stream,
    id: `bench-${String(seq).padStart(16, '0')}`,
    hlc: { wallMs: baseMs + seq, logical: 0 },
    origin: 'n1',
    incarnation: 1,
    originSeq: seq,
    headers: [],
    payload,
  })
  // Fill: 8 appenders × 2,000 events per append (synced), then every event delivered in order.
  const chunk = 2_000
  const fillStartedMs = performance.now()
  let nextSeq = 1
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (nextSeq <= total) {
        const from = nextSeq
        const to = Math.min(total, from + chunk - 1)
        nextSeq = to + 1
        const batch: StreamEvent[] = []
        for (let seq = from; seq <= to; seq++) batch.push(event(seq))
        await store.append(stream, batch)
      }
    }),
  )
  for (let from = 1; from <= total; from += 10_000) {
    const deliveries = []
    for (let seq = from; seq < Math.min(total + 1, from + 10_000); seq++) deliveries.push({ index: seq - 1, position: event(seq) })
    await store.recordDeliveries(stream, deliveries)
  }
  const fillSeconds = (performance.now() - fillStartedMs) / 1000
  console.log(`  filled and delivered in ${fillSeconds.toFixed(1)} s`)

  // One appender, one event at a time, each awaited: its latency is what a publisher would wait.
  let appending = true
  let seq = total + 1
  const latencies: { before: number[]; during: number[] } = { before: [], during: [] }
  let phase: 'before' | 'during' = 'before'
  const appender = (async () => {
    while (appending) {
      const startedMs = performance.now()
      await store.append(stream, [event(seq++)])
      latencies[phase].push(performance.now() - startedMs)
    }
  })()
  const loop = monitorEventLoopDelay({ resolution: 1 })
  loop.enable()
  await sleep(5_000)
  const loopBefore = { p99Ms: loop.percentile(99) / 1e6, maxMs: loop.max / 1e6 }
  loop.reset()

  await store.ensureStream(stream, { dedupWindowMs, retention: { maxCount: keep } })
  const steps: Array<{ kind: string; entries: number; ms: number }> = []
  const unobserve = store.observe({ maintenanceStep: (step) => steps.push({ kind: step.kind, entries: step.entries, ms: step.durationMs }) })
  phase = 'during'
  const maintenanceStartedMs = performance.now()
  const maintenance = attachStreamMaintenance({ store, streams: () => [stream], intervalMs: 100, logger: createSilentLogger() })
  while (store.info(stream).deletedCount < total - keep) await sleep(50)
  const maintenanceSeconds = (performance.now() - maintenanceStartedMs) / 1000
  const loopDuring = { p99Ms: loop.percentile(99) / 1e6, maxMs: loop.max / 1e6 }
  loop.disable()
  await maintenance.close()
  appending = false
  await appender
  unobserve()
  const info = store.info(stream)
  await store.close()
  await storage.close()
  if (!args.keep && args.dir === undefined) rmSync(dir, { recursive: true, force: true })

  const stepMs = (kind: string): number[] => steps.filter((step) => step.kind === kind).map((step) => step.ms)
  const summary = (values: number[]): { count: number; p50Ms: number; p99Ms: number; maxMs: number } => {
    const sorted = [...values].sort((a, b) => a - b)
    const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN
    return { count: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted.at(-1) ?? Number.NaN }
  }
  const result = {
    timeIso: new Date().toISOString(),
    node: process.version,
    events: total,
    kept: info.count,
    deleted: info.deletedCount,
    fillSeconds,
    maintenanceSeconds,
    deletedPerSec: Math.round(info.deletedCount / maintenanceSeconds),
    passes: maintenance.counters.passes,
    calls: maintenance.counters.calls,
    expiredIds: maintenance.counters.expiredIds,
    retentionSteps: summary(stepMs('retention')),
    idSteps: summary(stepMs('ids')),
    longestStepMs: maintenance.counters.longestStepMs,
    appendBefore: summary(latencies.before),
    appendDuring: summary(latencies.during),
    eventLoopBefore: loopBefore,
    eventLoopDuring: loopDuring,
  }
  const f = (ms: number): string => ms.toFixed(1)
  console.log('')
  console.log('| measure | value |')
  console.log('|---|---:|')
  console.log(`| deleted | ${info.deletedCount.toLocaleString('en')} events in ${maintenanceSeconds.toFixed(1)} s (${result.deletedPerSec.toLocaleString('en')}/s), ${result.calls} calls, ${result.expiredIds.toLocaleString('en')} ids expired |`)
  console.log(`| retention step (≤ 4,096 events) p50 / p99 / max | ${f(result.retentionSteps.p50Ms)} / ${f(result.retentionSteps.p99Ms)} / ${f(result.retentionSteps.maxMs)} ms (${result.retentionSteps.count} steps) |`)
  console.log(`| id-expiry step p50 / p99 / max | ${f(result.idSteps.p50Ms)} / ${f(result.idSteps.p99Ms)} / ${f(result.idSteps.maxMs)} ms (${result.idSteps.count} steps) |`)
  console.log(`| one-at-a-time append before: p50 / p99 / max | ${f(result.appendBefore.p50Ms)} / ${f(result.appendBefore.p99Ms)} / ${f(result.appendBefore.maxMs)} ms (${result.appendBefore.count}) |`)
  console.log(`| … during maintenance: p50 / p99 / max | ${f(result.appendDuring.p50Ms)} / ${f(result.appendDuring.p99Ms)} / ${f(result.appendDuring.maxMs)} ms (${result.appendDuring.count}) |`)
  console.log(`| event-loop delay p99 / max, before → during | ${f(loopBefore.p99Ms)} / ${f(loopBefore.maxMs)} → ${f(loopDuring.p99Ms)} / ${f(loopDuring.maxMs)} ms |`)
  mkdirSync(join(repoRoot, 'bench/results'), { recursive: true })
  const file = join(repoRoot, `bench/results/stream-maintenance-${result.timeIso.replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`)
  console.log(`\nwrote ${file}`)
}

await (args.maintenance ? maintenanceMain() : main())
