// Geo-latency benchmark (issue #6, `npm run bench:geo`): R regions × N real `railgun server`
// processes on this machine, every peer link through the user-space latency proxy set from a
// latency matrix (default: us-east↔eu-west 80 ms RTT, us-east↔ap-south 190, eu-west↔ap-south 130,
// 0.5 inside a region, 10 % jitter), one persistent stream placed in every region. Each region
// publishes at `--rate` (open loop) with `Rg-Ack`; measured per region: publish → ack
// p50/p99/p999, publish → delivery to the region's consumer group, cross-region convergence
// (published in A → visible in B, per event, by id) p50/p99, acked events per second, and acked
// events missing from each region at the end. Then, when nats-server is installed, the same load
// on a JetStream stream stretched over one nats-server per region, the same proxies on its routes.
// Prints a table and the issue's targets (reported, never asserted), writes
// bench/results/geo-<time>.json and geo-<time>.svg (latency CDFs); a progress bar on stderr when
// it is a terminal. Every process is stopped (by PID) and every temp directory removed at the end
// and on SIGINT/SIGTERM.
//
//   npm run build && npx tsx bench/geo.ts [options]   (options: bench/lib/geo-options.ts, --help)
//   NATS_SERVER_BIN=/path/to/nats-server picks another nats-server than the one on the PATH.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { startGeoJetStream } from './lib/geo-jetstream.js'
import { runOpenLoop } from './lib/geo-load.js'
import { matrixForRegions } from './lib/geo-matrix.js'
import { geoBounds, geoUsage, parseGeoOptions, type GeoPlan } from './lib/geo-options.js'
import { createProgress } from './lib/geo-progress.js'
import { startGeoRailgun } from './lib/geo-railgun.js'
import { GeoRecorder, type RegionSamples } from './lib/geo-recorder.js'
import { checkTargets, formatTable, formatTargets, type SystemFigures } from './lib/geo-report.js'
import { renderGeoChart, type ChartPanel } from './lib/geo-svg.js'
import type { GeoSystem } from './lib/geo-system.js'
import { findNatsServer } from './lib/streams-jetstream.js'

/** How often the drain checks whether every sighting arrived. */
const drainPollMs = 100
/**
 * Sampling period of this process's event-loop delay (every latency measured here includes it).
 * Node's histogram records the whole interval between two samples, so the delay is a value
 * minus this period (an idle loop reads ~10 ms, not 0: see `loopDelayBeyondSamplingMs`).
 */
const loopDelayResolutionMs = 10
const nsPerMs = 1e6
const interruptedExitCode = 130
/** A value of `monitorEventLoopDelay` (ns, sampling period included) → the delay beyond the period, ms. */
const loopDelayBeyondSamplingMs = (ns: number): number => Math.max(0, ns / nsPerMs - loopDelayResolutionMs)
const usageExitCode = 2

const progress = createProgress(process.stderr)
const log = (line: string): void => {
  progress.clear()
  process.stdout.write(`${line}\n`)
}
const now = (): number => performance.now()
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

if (process.argv.includes('--help')) {
  process.stdout.write(`${geoUsage}\n`)
  process.exit(0)
}
let plan: GeoPlan
try {
  plan = parseGeoOptions(process.argv.slice(2), (path) => readFileSync(path, 'utf8'))
} catch (error) {
  process.stderr.write(`geo bench: ${(error as Error).message}\n${geoUsage}\n`)
  process.exit(usageExitCode)
}

/**
 * Stop functions of the systems started or starting now: a signal calls them (processes, proxies,
 * temp directories) before exiting. A process still starting is also SIGKILLed by the harness's
 * exit hook (ProcessController) when this process exits.
 */
const running = new Set<() => Promise<void>>()
const stopAll = (): Promise<unknown> => Promise.all([...running].map((stop) => stop().catch(() => undefined)))
let interrupted = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true
    log(`\n${signal}: stopping ${running.size} system(s)`)
    void stopAll().then(() => process.exit(interruptedExitCode))
  })
}
const registerStop = (stop: () => Promise<void>): void => {
  running.add(stop)
}

interface SystemRun {
  readonly figures: SystemFigures
  readonly samples: RegionSamples[]
  readonly readerErrors: ReturnType<GeoSystem['readerErrors']>
  readonly unknownSightings: number
  readonly phasesMs: { readonly start: number; readonly publish: number; readonly drain: number }
  /** This process's event-loop delay while publishing and draining: how late its clients saw what arrived. */
  readonly benchLoopDelayMs: { readonly p50: number; readonly p99: number; readonly max: number }
}

async function measure(label: string, start: () => Promise<GeoSystem>): Promise<SystemRun> {
  const startedMs = now()
  log(`\n== ${label}: starting`)
  const system = await start()
  try {
    const readyMs = now()
    log(`${system.label}: ready in ${((readyMs - startedMs) / 1000).toFixed(1)} s (${Object.entries(system.details).map(([key, value]) => `${key}: ${String(value)}`).join('; ')})`)
    const recorder = new GeoRecorder(plan.regions, geoBounds.eventsMax)
    await system.startReaders(recorder, now)
    const loopDelay = monitorEventLoopDelay({ resolution: loopDelayResolutionMs })
    loopDelay.enable()
    const durationMs = plan.durationS * 1000
    const acked = (): string => plan.regions.map((region, r) => `${region} ${recorder.count(r).acked}`).join(' ')
    const load = await runOpenLoop({
      recorder,
      publishers: plan.regions.map((_, r) => system.publisher(r)),
      ratePerRegion: plan.ratePerRegion,
      durationMs,
      now,
      onProgress: (elapsedMs) => progress.update(`${system.system} publish`, elapsedMs / durationMs, () => `${(elapsedMs / 1000).toFixed(1)}/${plan.durationS} s  acked ${acked()}`),
    })
    const eventTimeoutMs = plan.drainS * 1000
    const drainEndMs = load.sendEndedMs + eventTimeoutMs
    while (!recorder.complete() && now() < drainEndMs && !interrupted) {
      progress.update(`${system.system} drain  `, (now() - load.sendEndedMs) / eventTimeoutMs, () => `waiting for ${recorder.outstanding()} sightings (deliveries, other regions)`)
      await sleep(drainPollMs)
    }
    const drainedMs = now()
    loopDelay.disable()
    const benchLoopDelayMs = { p50: loopDelayBeyondSamplingMs(loopDelay.percentile(50)), p99: loopDelayBeyondSamplingMs(loopDelay.percentile(99)), max: loopDelayBeyondSamplingMs(loopDelay.max) }
    log(`${system.label}: this process's event-loop delay (included in every latency) p50 ${benchLoopDelayMs.p50.toFixed(1)} ms, p99 ${benchLoopDelayMs.p99.toFixed(1)} ms, max ${benchLoopDelayMs.max.toFixed(1)} ms`)
    // The rate over first publish → last ack: a system that falls behind shows it here.
    const { regions, samples } = recorder.figures(load.settledMs - load.startedMs, eventTimeoutMs)
    const readerErrors = system.readerErrors()
    for (const entry of readerErrors) if (entry.count > 0) log(`${system.label} ${entry.region}: ${entry.count} reader errors (first: ${entry.first ?? '?'})`)
    return {
      figures: {
        label: system.label,
        system: system.system,
        details: system.details,
        regions,
        convergenceByPair: samples.flatMap((sample) => sample.convergenceFrom),
      },
      samples,
      readerErrors,
      unknownSightings: recorder.unknownSightings(),
      phasesMs: { start: readyMs - startedMs, publish: load.settledMs - load.startedMs, drain: drainedMs - load.settledMs },
      benchLoopDelayMs,
    }
  } finally {
    progress.clear()
    await system.stop()
    running.delete(system.stop)
  }
}

async function main(): Promise<void> {
  const loadBefore = loadavg()
  const nats = plan.jetstream ? findNatsServer() : 'not asked for (--no-jetstream or --only railgun)'
  const regionsText = plan.regions.join(', ')
  log(`geo bench: node ${process.version}, ${availableParallelism()} cpus (${cpus()[0]?.model ?? '?'}), load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`)
  log(`  ${plan.regions.length} regions (${regionsText}) × ${plan.nodesPerRegion} node(s); ${plan.ratePerRegion} events/s per region × ${plan.durationS} s, ${plan.eventBytes} B, Rg-Ack ${plan.ack}, seed ${plan.seed}, events count as missing ${plan.drainS} s after their publish${plan.quick ? ' (--quick: figures meaningless)' : ''}`)
  const matrix = matrixForRegions(plan.matrix, plan.regions)
  log(`  round trips (ms): ${Object.entries(matrix.roundTripsMs).flatMap(([a, row]) => Object.entries(row).map(([b, rtt]) => `${a}↔${b} ${rtt}`)).join(', ') || '-'}; inside a region ${matrix.intraRegionRoundTripMs}; jitter +0..${matrix.jitterPercent} % of each one-way delay`)
  log(`  railgun from ${plan.fromSource ? 'source (tsx)' : 'the build (dist/: npm run build first)'}; nats-server: ${typeof nats === 'string' ? nats : `${nats.version} (${nats.binary})`}`)

  const runs: SystemRun[] = []
  const skipped: { label: string; reason: string }[] = []
  const attempt = async (label: string, start: () => Promise<GeoSystem>): Promise<void> => {
    try {
      runs.push(await measure(label, start))
    } catch (error) {
      if (interrupted) return
      skipped.push({ label, reason: (error as Error).message })
      log(`${label}: not measured — ${(error as Error).message}`)
    }
  }
  if (plan.railgun) await attempt('railgun', () => startGeoRailgun({ plan, log, registerStop }))
  if (interrupted) return
  if (!plan.jetstream) skipped.push({ label: 'jetstream', reason: 'not asked for (--no-jetstream or --only railgun)' })
  else if (typeof nats === 'string') {
    skipped.push({ label: 'jetstream', reason: nats })
    log(`\njetstream: skipped — ${nats}`)
  } else await attempt('jetstream', () => startGeoJetStream({ plan, binary: nats.binary, log, registerStop }))
  if (interrupted) return // the signal handler exits once the systems are stopped; no result file

  const loadAfter = loadavg()
  const eventTimeoutMs = plan.drainS * 1000
  const systems = runs.map((run) => run.figures)
  log('\n== results (latencies in ms; indicative: one shared, loaded machine)')
  log(formatTable(systems, eventTimeoutMs))
  for (const skip of skipped) log(`  ${skip.label}: not measured — ${skip.reason}`)
  const targets = checkTargets(systems, matrix, eventTimeoutMs)
  log('\ntargets (reported, never asserted)')
  log(formatTargets(targets))
  log(`load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`)

  mkdirSync(plan.resultsDir, { recursive: true })
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const svgFile = join(plan.resultsDir, `geo-${stamp}.svg`)
  const panel = (title: string, pick: (sample: RegionSamples) => readonly number[]): ChartPanel => ({
    title,
    series: runs.flatMap((run) => run.samples.map((sample) => ({ system: run.figures.system, label: run.figures.label, region: sample.region, samplesMs: pick(sample) }))),
  })
  writeFileSync(
    svgFile,
    renderGeoChart(
      `geo bench: ${plan.regions.length} regions × ${plan.nodesPerRegion} node(s), ${plan.ratePerRegion}/s per region, ${plan.eventBytes} B, ack ${plan.ack}`,
      `latency CDFs; railgun solid, jetstream dashed; ${new Date().toISOString()}${plan.quick ? ' (--quick: meaningless)' : ''}`,
      [panel('publish → ack', (sample) => sample.ackMs), panel('publish → local group delivery', (sample) => sample.deliverMs), panel('publish → visible in another region', (sample) => sample.convergenceMs)],
    ),
  )
  const jsonFile = join(plan.resultsDir, `geo-${stamp}.json`)
  writeFileSync(
    jsonFile,
    JSON.stringify(
      {
        bench: 'geo',
        node: process.version,
        cpus: availableParallelism(),
        natsServer: typeof nats === 'string' ? null : nats.version,
        loadAverage: { before: loadBefore, after: loadAfter },
        plan: { ...plan, matrix, eventTimeoutMs },
        systems: runs.map((run) => ({
          label: run.figures.label,
          system: run.figures.system,
          details: run.figures.details,
          phasesMs: run.phasesMs,
          benchLoopDelayMs: run.benchLoopDelayMs,
          regions: run.figures.regions,
          readerErrors: run.readerErrors,
          unknownSightings: run.unknownSightings,
        })),
        skipped,
        targets,
        svg: svgFile,
      },
      null,
      2,
    ),
  )
  log(`\nwrote ${jsonFile}\n      ${svgFile}`)
}

try {
  await main()
} catch (error) {
  progress.clear()
  process.stderr.write(`geo bench failed: ${(error as Error).stack ?? String(error)}\n`)
  await stopAll()
  process.exitCode = 1
}
