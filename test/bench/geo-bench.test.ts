// The geo benchmark (bench/geo.ts, issue #6): its pure pieces (latency matrix, options, the
// recorder's per-event timeout and missing counts, the target checks, the SVG chart) against
// hand-worked cases, then a smoke run — `--quick` (2 regions × 1 node, from source) must finish,
// write a JSON file with sane fields and an SVG that is balanced XML. Never asserts a timing.
// Without nats-server the JetStream part must be skipped with its reason printed.
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { goDurationMs } from '../../bench/lib/geo-jetstream.js'
import { checkMatrixCovers, defaultLatencyMatrix, latencyMatrixFromPairs, linkDelay, parseLatencyMatrix, roundTripMs } from '../../bench/lib/geo-matrix.js'
import { parseGeoOptions } from '../../bench/lib/geo-options.js'
import { GeoRecorder } from '../../bench/lib/geo-recorder.js'
import { checkTargets, quantileWithMissing, type SystemFigures } from '../../bench/lib/geo-report.js'
import { cdfPoints, renderGeoChart } from '../../bench/lib/geo-svg.js'

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
/** Liveness only: a quick run takes ~30 s here; a loaded machine may take longer. */
const benchTimeoutMs = 100_000
/** After SIGTERM (the bench then stops its processes), SIGKILL this much later. */
const killGraceMs = 10_000

/** Tags open and close in order, one root `<svg>`; returns the reason when not. */
function balancedSvg(text: string): true | string {
  if (!text.startsWith('<svg')) return `does not start with <svg: ${text.slice(0, 40)}`
  const stack: string[] = []
  let roots = 0
  for (const match of text.matchAll(/<(\/?)([A-Za-z][\w:-]*)(?:\s[^<>]*?)?(\/?)>/g)) {
    const [, closing, name, selfClosing] = match as unknown as [string, string, string, string]
    if (selfClosing === '/') continue
    if (closing === '/') {
      const open = stack.pop()
      if (open !== name) return `</${name}> closes <${open ?? 'nothing'}>`
    } else {
      if (stack.length === 0) roots += 1
      stack.push(name)
    }
  }
  if (stack.length > 0) return `unclosed: ${stack.join(', ')}`
  if (roots !== 1) return `${roots} root elements`
  if (text.replace(/<\/?[A-Za-z][^<>]*>/g, '').includes('<')) return 'a stray <'
  return true
}

t.test('latency matrix: defaults, pairs, JSON, file, coverage, one-way delays', async (t) => {
  t.equal(roundTripMs(defaultLatencyMatrix, 'eu-west', 'us-east'), 80, 'looked up both ways')
  t.equal(roundTripMs(defaultLatencyMatrix, 'ap-south', 'us-east'), 190)
  t.equal(roundTripMs(defaultLatencyMatrix, 'ap-south', 'ap-south'), 0.5, 'inside a region')
  t.same(linkDelay(defaultLatencyMatrix, 'us-east', 'ap-south'), { oneWayMs: 95, jitterMs: 9.5 }, 'half the round trip, 10 % jitter')
  const pairs = latencyMatrixFromPairs('a:b=40, b:c=60,intra=2,jitter=0')
  t.equal(roundTripMs(pairs, 'b', 'a'), 40)
  t.same(linkDelay(pairs, 'c', 'c'), { oneWayMs: 1, jitterMs: 0 })
  t.throws(() => checkMatrixCovers(pairs, ['a', 'b', 'c']), /no round trip for a↔c/, 'a missing pair is named')
  t.throws(() => latencyMatrixFromPairs('a-b=40'), /not regionA:regionB=roundTripMs/)
  t.throws(() => latencyMatrixFromPairs('a:b=99999999'), /round trip in ms/)
  const inline = parseLatencyMatrix('{"roundTripsMs":{"x":{"y":12}},"jitterPercent":5}', () => '')
  t.same(linkDelay(inline, 'x', 'y'), { oneWayMs: 6, jitterMs: 0.3 })
  const dir = mkdtempSync(join(tmpdir(), 'railgun-geo-matrix-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'm.json'), JSON.stringify({ p: { q: 300 } }))
  const fromFile = parseLatencyMatrix(join(dir, 'm.json'), (path) => readFileSync(path, 'utf8'))
  t.equal(roundTripMs(fromFile, 'q', 'p'), 300, 'a file holding the bare table')
  t.throws(() => parseLatencyMatrix(join(dir, 'absent.json'), (path) => readFileSync(path, 'utf8')), /cannot read/)
})

t.test('options: defaults, --quick, bounds', async (t) => {
  const full = parseGeoOptions([], () => '')
  t.same(full.regions, ['us-east', 'eu-west', 'ap-south'])
  t.equal(full.nodesPerRegion, 3)
  t.equal(full.ack, 'majority')
  t.equal(full.jetstream, true)
  const quick = parseGeoOptions(['--quick', '--no-jetstream', '--ack', 'write', '--seed', '7'], () => '')
  t.same(quick.regions, ['us-east', 'eu-west'])
  t.equal(quick.nodesPerRegion, 1)
  t.equal(quick.jetstream, false)
  t.equal(quick.seed, 7)
  t.equal(quick.ack, 'write')
  t.throws(() => parseGeoOptions(['--regions', 'us-east,mars'], () => ''), /no round trip for us-east↔mars/, 'a region outside the matrix')
  t.same(parseGeoOptions(['--regions', 'us-east,mars', '--matrix', 'us-east:mars=900'], () => '').regions, ['us-east', 'mars'])
  t.throws(() => parseGeoOptions(['--regions', '3', '--nodes-per-region', '4'], () => ''), /more than the harness's 9 processes/)
  t.throws(() => parseGeoOptions(['--ack', 'some'], () => ''), /--ack/)
  t.throws(() => parseGeoOptions(['--rate', '20000', '--duration-s', '3600'], () => ''), /kept in memory/)
  t.throws(() => parseGeoOptions(['--bogus'], () => ''), /bogus/)
})

t.test('recorder: per-event timeout, missing and late, local deliveries only', async (t) => {
  const recorder = new GeoRecorder(['a', 'b'], 100)
  const e1 = recorder.publish(0, 0) // a.0
  const e2 = recorder.publish(0, 10) // a.1
  const e3 = recorder.publish(1, 20) // b.0
  const e4 = recorder.publish(1, 30) // b.1: refused
  t.equal(e1.id, 'a.0')
  t.equal(e3.id, 'b.0')
  recorder.observe('visible', 0, 'a.0', 3) // seen before its ack arrives
  recorder.acked(e1, 5)
  recorder.acked(e2, 14)
  recorder.acked(e3, 28)
  recorder.refused(e4, 'RG_ERR_REQUEST_TIMEOUT')
  t.equal(recorder.outstanding(), 8, '3 acked events × (1 delivery + 2 regions) less the sighting already made')
  recorder.observe('delivered', 0, 'a.0', 6)
  recorder.observe('delivered', 0, 'a.0', 9) // a redelivery: a repeat
  recorder.observe('delivered', 1, 'a.0', 7) // another region's member: not a local delivery
  recorder.observe('visible', 1, 'a.0', 50) // a → b in 50 ms
  recorder.observe('visible', 1, 'a.1', 500) // a → b after the 100 ms timeout: late
  recorder.observe('visible', 1, 'b.0', 25)
  recorder.observe('delivered', 1, 'b.0', 26)
  recorder.observe('visible', 0, 'nobody', 1)
  t.equal(recorder.unknownSightings(), 1)
  t.notOk(recorder.complete())
  const { regions, samples } = recorder.figures(1_000, 100)
  const [a, b] = regions as [(typeof regions)[0], (typeof regions)[0]]
  t.equal(a.published, 2)
  t.equal(a.acked, 2)
  t.same(samples[0]!.ackMs, [5, 4])
  t.equal(a.ackedPerSecond, 2)
  t.equal(a.deliver.count, 1, 'a.1 was never delivered')
  t.equal(a.deliverMissing, 1)
  t.equal(a.repeats, 1)
  t.equal(a.otherRegionDeliveries, 0)
  t.equal(b.otherRegionDeliveries, 1, "a.0 delivered to b's member is counted apart")
  t.equal(b.failed, 1)
  t.equal(b.firstError, 'RG_ERR_REQUEST_TIMEOUT')
  t.equal(b.acked, 1)
  // a sees: a.0 (3 ms), a.1 never, b.0 never → missing here 2; b sees a.0 (50), a.1 late, b.0 (5).
  t.equal(a.missingHere, 2)
  t.equal(a.convergenceExpected, 1)
  t.equal(a.convergenceMissing, 1)
  t.equal(b.missingHere, 1)
  const fromA = b.convergenceFrom[0]!
  t.same({ from: fromA.from, expected: fromA.expected, seen: fromA.seen, missing: fromA.missing, late: fromA.late }, { from: 'a', expected: 2, seen: 1, missing: 1, late: 1 })
  t.equal(b.convergence.p50Ms, 50)
  t.same(samples[1]!.convergenceFrom, [{ from: 'a', to: 'b', latenciesMs: [50], missing: 1 }])
  t.throws(() => {
    for (let i = 0; i < 200; i++) recorder.publish(0, i)
  }, /more than 100 events/, 'bounded')
})

t.test('targets: met, not met, and not measured when nothing crossed regions', async (t) => {
  t.equal(quantileWithMissing([1, 2, 3], 1, 0.5), 2)
  t.equal(quantileWithMissing([1, 2, 3], 1, 0.99), Number.POSITIVE_INFINITY, 'a missing event is an infinite latency')
  const recorder = new GeoRecorder(['us-east', 'eu-west'], 100)
  for (let r = 0; r < 2; r++) {
    const record = recorder.publish(r, 0)
    recorder.acked(record, r === 0 ? 4 : 12)
    recorder.observe('visible', r, record.id, 5)
  }
  const figures = recorder.figures(1_000, 1_000)
  const railgun: SystemFigures = { label: 'railgun', system: 'railgun', details: {}, regions: figures.regions, convergenceByPair: figures.samples.flatMap((s) => s.convergenceFrom) }
  const checks = checkTargets([railgun], defaultLatencyMatrix, 1_000)
  t.equal(checks.length, 4)
  t.equal(checks[0]!.verdict, 'not met', 'eu-west ack p99 12 ms > 10 ms')
  t.equal(checks[1]!.verdict, 'not measured', 'no jetstream')
  t.equal(checks[2]!.verdict, 'not measured')
  t.match(checks[2]!.measured, /cross-region shipping not wired/)
  t.equal(checks[3]!.verdict, 'not met')
  t.match(checks[3]!.measured, /us-east 1, eu-west 1/)
  const jetstream: SystemFigures = { ...railgun, label: 'js', system: 'jetstream', details: { streamLeaderRegion: 'us-east' } }
  const withJs = checkTargets([railgun, jetstream], defaultLatencyMatrix, 1_000)
  t.equal(withJs[1]!.verdict, 'not met', 'eu-west p50 12 ms < the 80 ms round trip to the leader')
  // Convergence within one-way + 100 ms: 40 + 100.
  recorder.observe('visible', 1, 'us-east.0', 100)
  recorder.observe('visible', 0, 'eu-west.0', 100)
  const after = recorder.figures(1_000, 1_000)
  const converged = checkTargets([{ ...railgun, regions: after.regions, convergenceByPair: after.samples.flatMap((s) => s.convergenceFrom) }], defaultLatencyMatrix, 1_000)
  t.equal(converged[2]!.verdict, 'met')
  t.equal(converged[3]!.verdict, 'met')
})

t.test('chart: balanced SVG, CDF points bounded, empty panels say so', async (t) => {
  t.same(cdfPoints([3, 1, 2]), [
    { ms: 1, share: 1 / 3 },
    { ms: 2, share: 2 / 3 },
    { ms: 3, share: 1 },
  ])
  t.equal(cdfPoints(Array.from({ length: 10_000 }, (_, i) => i)).length, 200)
  const svg = renderGeoChart('title <&>', 'sub', [
    { title: 'ack', series: [{ system: 'railgun', label: 'r', region: 'a', samplesMs: [0.5, 2, 40] }, { system: 'jetstream', label: 'j', region: 'a', samplesMs: [90, 100] }] },
    { title: 'lag', series: [{ system: 'railgun', label: 'r', region: 'a', samplesMs: [] }] },
  ])
  t.equal(balancedSvg(svg), true)
  t.match(svg, /title &lt;&amp;&gt;/, 'text is escaped')
  t.match(svg, /stroke-dasharray/, 'jetstream dashed')
  t.match(svg, />not measured</)
  t.not(balancedSvg('<svg><g></svg>'), true, 'the checker catches an unclosed tag')
})

t.test('nats-server route round trips (Go durations)', async (t) => {
  t.equal(goDurationMs('88.5ms'), 88.5)
  t.equal(goDurationMs('850µs'), 0.85)
  t.equal(goDurationMs('1m2.5s'), 62_500)
  t.ok(Number.isNaN(goDurationMs('soon')))
})

interface LatencyFigures {
  readonly count: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly p999Ms: number
}
interface RegionResult {
  readonly region: string
  readonly published: number
  readonly acked: number
  readonly ackedPerSecond: number
  readonly ack: LatencyFigures
  readonly deliver: LatencyFigures
  readonly convergenceExpected: number
  readonly missingHere: number
}
interface ResultFile {
  readonly bench: string
  readonly natsServer: string | null
  readonly plan: { readonly regions: readonly string[]; readonly nodesPerRegion: number; readonly quick: boolean }
  readonly systems: readonly { readonly system: string; readonly label: string; readonly regions: readonly RegionResult[]; readonly details: Record<string, unknown> }[]
  readonly skipped: readonly { readonly label: string; readonly reason: string }[]
  readonly targets: readonly { readonly target: string; readonly verdict: string; readonly measured: string }[]
  readonly svg: string
}

function runBench(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'bench/geo.ts'), ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    let killTimer: NodeJS.Timeout | undefined
    const timer = setTimeout(() => {
      child.kill('SIGTERM')
      killTimer = setTimeout(() => child.kill('SIGKILL'), killGraceMs)
    }, benchTimeoutMs)
    child.once('error', reject)
    child.once('exit', (code) => {
      clearTimeout(timer)
      if (killTimer !== undefined) clearTimeout(killTimer)
      resolve({ code, stdout, stderr })
    })
  })
}

t.test('bench/geo.ts --quick: completes, JSON with sane fields, a balanced SVG', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'railgun-geo-bench-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const run = await runBench(['--quick', '--from-source', '--results-dir', dir])
  t.equal(run.code, 0, `the bench exits 0 (stdout: ${run.stdout.slice(-1500)} stderr: ${run.stderr.slice(-1500)})`)
  const files = readdirSync(dir)
  const jsonFiles = files.filter((name) => /^geo-.*\.json$/.test(name))
  const svgFiles = files.filter((name) => /^geo-.*\.svg$/.test(name))
  t.equal(jsonFiles.length, 1, 'one JSON file')
  t.equal(svgFiles.length, 1, 'one SVG file')
  if (jsonFiles.length !== 1 || svgFiles.length !== 1) return
  const result = JSON.parse(readFileSync(join(dir, jsonFiles[0]!), 'utf8')) as ResultFile
  t.equal(result.bench, 'geo')
  t.same(result.plan.regions, ['us-east', 'eu-west'])
  t.equal(result.plan.nodesPerRegion, 1)
  t.equal(result.plan.quick, true)
  t.equal(result.targets.length, 4, 'the four targets of the issue, each with a verdict')
  for (const target of result.targets) t.match(target.verdict, /^(met|not met|not measured)$/)
  t.equal(result.svg, join(dir, svgFiles[0]!))

  const railgun = result.systems.find((system) => system.system === 'railgun')
  t.ok(railgun, `railgun measured (skipped: ${JSON.stringify(result.skipped)})`)
  t.equal(railgun?.regions.length, 2)
  for (const region of railgun?.regions ?? []) {
    t.ok(region.published > 0, `${region.region}: published`)
    t.ok(region.acked > 0 && region.acked <= region.published, `${region.region}: acked ${region.acked} of ${region.published}`)
    t.equal(region.ack.count, region.acked, `${region.region}: one ack latency per acked event`)
    t.ok(region.ack.p50Ms > 0 && region.ack.p50Ms <= region.ack.p99Ms, `${region.region}: ack p50 ≤ p99`)
    t.ok(region.deliver.count > 0, `${region.region}: the local group delivered`)
    t.equal(region.convergenceExpected, railgun!.regions.find((other) => other.region !== region.region)!.acked, `${region.region}: every acked event of the other region is awaited`)
  }
  t.match(run.stdout, /targets \(reported, never asserted\)/)

  if (result.natsServer === null) {
    t.match(run.stdout, /jetstream: skipped — nats-server is not installed/, 'the skip is printed with its reason')
    t.ok(result.skipped.some((skip) => skip.label === 'jetstream'), 'and recorded')
    t.comment('nats-server absent: JetStream not measured')
  } else {
    const jetstream = result.systems.find((system) => system.system === 'jetstream')
    t.ok(jetstream, `jetstream measured (skipped: ${JSON.stringify(result.skipped)})`)
    for (const region of jetstream?.regions ?? []) t.ok(region.acked > 0, `jetstream ${region.region}: acked ${region.acked}`)
    t.equal(jetstream?.details.routesThroughProxies, true, `routes through the proxies (${String(jetstream?.details.routesCheck)})`)
  }

  t.equal(balancedSvg(readFileSync(join(dir, svgFiles[0]!), 'utf8')), true, 'the SVG is balanced XML with one <svg> root')
})
