// Persistent-stream benchmark against NATS JetStream (issue #5), same harness and the official
// NATS client for both sides, in the same run. 128 B events:
//   - publish throughput with `--window` (1000) acknowledged publishes in flight;
//   - consume+ack throughput with a group (Railgun) / a durable pull consumer (JetStream);
//   - sequential publish latency p50/p99 (one at a time).
// Setups: `single` = one Railgun node vs JetStream R1 (file storage); `replicated` = three Railgun
// nodes in one region, stream replicasPerRegion 3, vs three clustered nats-servers, stream R3.
// JetStream runs twice per setup: default sync (acks before fsync) and `sync_interval: always`
// (fsync per write: the like-for-like of Railgun's acks, which always follow an fsync) when the
// nats-server binary supports it (2.10+). Prints a table and ratios, never passes or fails on a
// figure; writes JSON to bench/results/streams-<time>.json.
//
//   npm run build && npx tsx bench/streams.ts [--quick] [--events 100000] [--sequential 2000]
//     [--window 1000] [--runs 3] [--setups single,replicated] [--only railgun|jetstream]
//     [--from-source] [--no-consume] [--ack majority|write|all] [--group-mode load-balanced|exclusive]
//     [--results-dir bench/results] [--parts publish,consume,sequential] [--cpu-prof-dir DIR]
//   NATS_SERVER_BIN=/path/to/nats-server picks another nats-server than the one on the PATH.
import { mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { findNatsServer, jetStreamSyncAlwaysSupport, startJetStreamTarget, type JetStreamSync } from './lib/streams-jetstream.js'
import { startRailgunTarget } from './lib/streams-railgun.js'
import { formatRatios, formatTable, ratios, summarize, type TargetSummary } from './lib/streams-report.js'
import { runRounds, type RoundPlan, type TargetRuns } from './lib/streams-run.js'
import type { StreamTarget } from './lib/streams-target.js'

/** `--quick`: a smoke run that finishes in seconds (figures meaningless). */
const quickPlan = { events: 300, sequential: 50, runs: 1, warmUpEvents: 100, sequentialWarmUp: 10 } as const
const fullWarmUpEvents = 5_000
const fullSequentialWarmUp = 200

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    events: { type: 'string' },
    sequential: { type: 'string' },
    window: { type: 'string', default: '1000' },
    'payload-bytes': { type: 'string', default: '128' },
    runs: { type: 'string' },
    setups: { type: 'string', default: 'single,replicated' },
    only: { type: 'string' },
    'from-source': { type: 'boolean', default: false },
    'no-consume': { type: 'boolean', default: false },
    'group-mode': { type: 'string', default: 'load-balanced' },
    ack: { type: 'string', default: 'majority' },
    'results-dir': { type: 'string', default: 'bench/results' },
    parts: { type: 'string', default: 'publish,consume,sequential' },
    'cpu-prof-dir': { type: 'string' },
  },
})

function positiveInteger(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, not '${value}'`)
  return n
}

const partNames = ['publish', 'consume', 'sequential'] as const
const parts = new Set((args.parts ?? '').split(',').filter((p) => p !== ''))
for (const part of parts) if (!(partNames as readonly string[]).includes(part)) throw new Error(`--parts: some of ${partNames.join(',')}, not '${part}'`)
if (parts.has('consume') && !parts.has('publish')) throw new Error('--parts: consume reads the stream the publish part fills; list publish too')
/** `--cpu-prof-dir`: every Railgun node runs with `--cpu-prof` into DIR/<setup> (profiles written when the nodes drain at the end). */
const cpuProfDir = args['cpu-prof-dir']

const quick = args.quick === true
const events = positiveInteger('events', args.events, quick ? quickPlan.events : 100_000)
const plan: RoundPlan = {
  events,
  sequential: positiveInteger('sequential', args.sequential, quick ? quickPlan.sequential : 2_000),
  window: positiveInteger('window', args.window, 1_000),
  payloadBytes: positiveInteger('payload-bytes', args['payload-bytes'], 128),
  runs: positiveInteger('runs', args.runs, quick ? quickPlan.runs : 3),
  warmUpEvents: Math.min(events, quick ? quickPlan.warmUpEvents : fullWarmUpEvents),
  sequentialWarmUp: quick ? quickPlan.sequentialWarmUp : fullSequentialWarmUp,
  consume: args['no-consume'] !== true && parts.has('consume'),
  publishPart: parts.has('publish'),
  sequentialPart: parts.has('sequential'),
}
const setups = (args.setups ?? '').split(',').filter((s) => s !== '')
for (const setup of setups) if (setup !== 'single' && setup !== 'replicated') throw new Error(`--setups: 'single' and/or 'replicated', not '${setup}'`)
const only = args.only
if (only !== undefined && only !== 'railgun' && only !== 'jetstream') throw new Error(`--only: 'railgun' or 'jetstream', not '${only}'`)
function parseGroupMode(value: string | undefined): 'exclusive' | 'load-balanced' {
  if (value === 'exclusive' || value === 'load-balanced') return value
  throw new Error(`--group-mode: 'exclusive' or 'load-balanced', not '${value ?? ''}'`)
}
const groupMode = parseGroupMode(args['group-mode'])
function parseAckLevel(value: string | undefined): 'write' | 'majority' | 'all' {
  if (value === 'write' || value === 'majority' || value === 'all') return value
  throw new Error(`--ack: 'write', 'majority' or 'all', not '${value ?? ''}'`)
}
const ackLevel = parseAckLevel(args.ack)

const log = (line: string): void => {
  process.stdout.write(`${line}\n`)
}

/** Targets running now: a SIGINT/SIGTERM stops them (their processes and temp data) before exiting. */
const running = new Set<StreamTarget>()
const interruptedExitCode = 130
let interrupted = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true
    log(`\n${signal}: stopping ${running.size} target(s)`)
    void Promise.all([...running].map((target) => target.stop().catch(() => undefined))).then(() => process.exit(interruptedExitCode))
  })
}

interface SetupResult {
  readonly setup: string
  readonly summaries: TargetSummary[]
  /** When each part ran per target (monotonic µs: cuts a `--cpu-prof` profile by part). */
  readonly phases: { readonly label: string; readonly phases: TargetRuns['phases'] }[]
  readonly skipped: { readonly label: string; readonly reason: string }[]
}

/** Starts what can start for one setup; a target that cannot is listed with its reason. */
async function startTargets(setup: string, skipped: SetupResult['skipped']): Promise<StreamTarget[]> {
  const replicas = setup === 'single' ? 1 : 3
  const targets: StreamTarget[] = []
  const attempt = async (label: string, start: () => Promise<StreamTarget>): Promise<void> => {
    try {
      const target = await start()
      running.add(target)
      targets.push(target)
    } catch (error) {
      skipped.push({ label, reason: (error as Error).message })
      log(`${label}: skipped — ${(error as Error).message}`)
    }
  }
  const nodeArgs = cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${resolve(cpuProfDir, setup)}`]
  if (only !== 'jetstream') await attempt(`railgun R${replicas}`, () => startRailgunTarget({ nodes: replicas, fromBuild: args['from-source'] !== true, groupMode, ackLevel, nodeArgs }))
  if (only !== 'railgun') {
    const nats = findNatsServer()
    if (typeof nats === 'string') {
      skipped.push({ label: 'jetstream', reason: nats })
      log(`jetstream: skipped — ${nats}`)
    } else {
      const syncs: JetStreamSync[] = ['default', 'always']
      for (const sync of syncs) {
        const label = `jetstream R${replicas} sync=${sync}`
        const support = sync === 'always' ? jetStreamSyncAlwaysSupport(nats.binary) : true
        if (support !== true) {
          skipped.push({ label, reason: support })
          log(`${label}: skipped — ${support}`)
          continue
        }
        await attempt(label, () => startJetStreamTarget({ binary: nats.binary, replicas, sync }))
      }
    }
  }
  return targets
}

async function runSetup(setup: string): Promise<SetupResult> {
  log(`\n== ${setup === 'single' ? 'single node / R1' : 'one region of 3 nodes / R3'}`)
  const skipped: SetupResult['skipped'] = []
  const targets = await startTargets(setup, skipped)
  try {
    const runs = await runRounds(targets, plan, log)
    return { setup, summaries: runs.map(summarize), phases: runs.map((run) => ({ label: run.label, phases: run.phases })), skipped }
  } finally {
    await Promise.all(
      targets.map(async (target) => {
        await target.stop().catch((error: unknown) => log(`${target.label}: stop failed: ${(error as Error).message}`))
        running.delete(target)
      }),
    )
  }
}

async function main(): Promise<void> {
  const nats = findNatsServer()
  const loadBefore = loadavg()
  log(`streams bench: node ${process.version}, ${availableParallelism()} cpus (${cpus()[0]?.model ?? '?'}), load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`)
  log(`  ${plan.events} events × ${plan.payloadBytes} B, ${plan.window} in flight; ${plan.sequential} sequential; ${plan.runs} round(s) after a warm-up; railgun from ${args['from-source'] === true ? 'source (tsx)' : 'the build (dist/)'}; nats-server: ${typeof nats === 'string' ? nats : `${nats.version} (${nats.binary})`}`)
  const results: SetupResult[] = []
  for (const setup of setups) results.push(await runSetup(setup))
  if (interrupted) return // the signal handler exits once the targets are stopped; no result file
  const loadAfter = loadavg()
  const allRatios = results.flatMap((result) => ratios(result.summaries))
  for (const result of results) {
    log(`\n${result.setup}`)
    log(formatTable(result.summaries))
    for (const skip of result.skipped) log(`  ${skip.label}: skipped — ${skip.reason}`)
  }
  log('\nratios (railgun / jetstream; for latency lower is better)')
  log(formatRatios(allRatios))
  log(`load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`)
  const dir = args['results-dir'] ?? 'bench/results'
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `streams-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  writeFileSync(
    file,
    JSON.stringify(
      {
        node: process.version,
        cpus: availableParallelism(),
        natsServer: typeof nats === 'string' ? null : nats.version,
        loadAverage: { before: loadBefore, after: loadAfter },
        quick,
        plan,
        groupMode,
        ackLevel,
        results,
        ratios: allRatios,
      },
      null,
      2,
    ),
  )
  log(`\nwrote ${file}`)
}

await main()
