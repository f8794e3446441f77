// examples/flow-state.ts (load balancers in two datacenters sharing flow state through a CRDT
// bucket) runs to completion and reports convergence: in-process on the replicated harness, and
// against a real node (RAILGUN_SERVER), twice in a row (the second run finds the first's bucket).
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { startStreamNode, tempDir } from '../streams/helpers.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const runTimeoutMs = 60_000

/** Runs the example with `env` on top of this process's (without its own RAILGUN_* choices). */
async function runExample(env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('RAILGUN_')))
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'examples/flow-state.ts')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...inherited, ...env } })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  const timer = setTimeout(() => child.kill('SIGKILL'), runTimeoutMs)
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  clearTimeout(timer)
  return { code, output }
}

t.test('examples/flow-state.ts converges', { timeout: runTimeoutMs + 10_000 }, async (t) => {
  const { code, output } = await runExample()
  t.equal(code, 0, output)
  t.match(output, /converged: dc-east and dc-west hold the same state/)
  t.match(output, /flow 3 \(closed in dc-west, updated meanwhile in dc-east\): closed everywhere/)
  t.match(output, /active\/backend-a = 1\n\s+active\/backend-b = 1\n\s+active\/backend-c = 2/)
})

t.test('examples/flow-state.ts against a real node converges', { timeout: 2 * runTimeoutMs + 30_000 }, async (t) => {
  const node = await startStreamNode(t, tempDir(t))
  for (const run of ['first', 'second']) {
    const { code, output } = await runExample({ RAILGUN_SERVER: node.clientUrl })
    t.equal(code, 0, `${run} run: ${output}`)
    t.match(output, /real nodes: east nats:/)
    t.match(output, /converged: dc-east and dc-west hold the same state/)
    t.match(output, /flow 3 \(updated in dc-east, then closed in dc-west\): closed everywhere/)
    t.match(output, /active\/backend-a = 1\n\s+active\/backend-b = 1\n\s+active\/backend-c = 2/)
  }
})
