// Smoke test of the persistent-stream benchmark (bench/streams.ts): `--quick` against one Railgun
// node (from source) and, when nats-server is installed, JetStream R1 — it must finish, write its
// JSON result file and hold sane figures (> 0). Never asserts a timing or a ratio.
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
/** Liveness only: a quick run takes seconds; a loaded machine may take far longer. */
const benchTimeoutMs = 100_000
/** After SIGTERM (the bench then stops its servers), SIGKILL this much later. */
const killGraceMs = 10_000

interface LatencySummary {
  readonly count: number
  readonly p50Ms: number
  readonly p99Ms: number
}
interface TargetSummary {
  readonly label: string
  readonly system: string
  readonly replicas: number
  readonly publishMsgsPerSecond: number | null
  readonly consumeMsgsPerSecond: number | null
  readonly sequential: LatencySummary | null
  readonly errors: Record<string, string>
}
interface ResultFile {
  readonly natsServer: string | null
  readonly plan: { readonly events: number; readonly sequential: number }
  readonly results: readonly { readonly setup: string; readonly summaries: readonly TargetSummary[]; readonly skipped: readonly { label: string; reason: string }[] }[]
}

function runBench(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'bench/streams.ts'), ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
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

t.test('bench/streams.ts --quick: single node, sane figures in the result file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'railgun-streams-bench-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const run = await runBench(['--quick', '--from-source', '--setups', 'single', '--results-dir', dir])
  t.equal(run.code, 0, `the bench exits 0 (stderr: ${run.stderr.slice(-2000)})`)
  const files = readdirSync(dir).filter((name) => /^streams-.*\.json$/.test(name))
  t.equal(files.length, 1, 'one result file')
  const result = JSON.parse(readFileSync(join(dir, files[0] as string), 'utf8')) as ResultFile
  t.equal(result.results.length, 1)
  const single = result.results[0]!
  t.equal(single.setup, 'single')

  const railgun = single.summaries.find((s) => s.system === 'railgun')
  t.ok(railgun, 'railgun measured')
  t.ok((railgun?.publishMsgsPerSecond ?? 0) > 0, 'railgun windowed publish > 0 msgs/s')
  t.equal(railgun?.sequential?.count, result.plan.sequential, 'every sequential publish acknowledged')
  t.ok((railgun?.sequential?.p50Ms ?? 0) > 0, 'railgun sequential p50 > 0')
  t.equal(railgun?.errors.consume, undefined, 'railgun consume+ack ran (JOIN, deliveries, acks)')
  t.ok((railgun?.consumeMsgsPerSecond ?? 0) > 0, 'railgun consume+ack > 0 msgs/s')

  if (result.natsServer === null) {
    t.match(run.stdout, /jetstream: skipped — nats-server is not installed/, 'the skip is printed with its reason')
    t.comment('nats-server absent: JetStream not measured')
  } else {
    const jetstream = single.summaries.find((s) => s.label === 'jetstream R1 sync=default')
    t.ok(jetstream, 'jetstream R1 measured')
    t.ok((jetstream?.publishMsgsPerSecond ?? 0) > 0, 'jetstream publish > 0 msgs/s')
    t.ok((jetstream?.consumeMsgsPerSecond ?? 0) > 0, 'jetstream consume+ack > 0 msgs/s')
    t.ok((jetstream?.sequential?.p50Ms ?? 0) > 0, 'jetstream sequential p50 > 0')
    t.match(run.stdout, /ratios \(railgun \/ jetstream/, 'ratios printed')
  }
})
