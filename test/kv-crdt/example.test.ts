// examples/flow-state.ts (load balancers in two datacenters sharing flow state through a CRDT
// bucket, in-process on the replicated harness) runs to completion and reports convergence.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const root = fileURLToPath(new URL('../../', import.meta.url))
const runTimeoutMs = 60_000

t.test('examples/flow-state.ts converges', { timeout: runTimeoutMs + 10_000 }, async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'examples/flow-state.ts')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  const timer = setTimeout(() => child.kill('SIGKILL'), runTimeoutMs)
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  clearTimeout(timer)
  t.equal(code, 0, output)
  t.match(output, /converged: dc-east and dc-west hold the same state/)
  t.match(output, /flow 3 \(closed in dc-west, updated meanwhile in dc-east\): closed everywhere/)
  t.match(output, /active\/backend-a = 1\n\s+active\/backend-b = 1\n\s+active\/backend-c = 2/)
})
