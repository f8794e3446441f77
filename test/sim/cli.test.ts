// The command line end to end: replay prints the same trace hash every time, a violation exits
// non-zero with its one-line reproduction, and a sweep reports its speed.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const cli = fileURLToPath(new URL('./cli.ts', import.meta.url))
const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url))

function sim(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(tsx, [cli, ...args], { encoding: 'utf8', timeout: 60_000 })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

t.test('--seed replays exactly: same trace hash in two processes', async (t) => {
  const first = sim('--seed', '31')
  const second = sim('--seed', '31')
  t.equal(first.status, 0, first.stderr)
  const hash = /trace hash ([0-9a-f]{16})/.exec(first.stdout)?.[1]
  t.ok(hash, 'prints a trace hash')
  t.match(second.stdout, `trace hash ${hash}`)
})

t.test('--trace prints the events before the summary', async (t) => {
  const run = sim('--seed', '31', '--trace')
  t.equal(run.status, 0)
  t.match(run.stdout, /^0 start 1 inc=0/m)
  t.match(run.stdout, / deliver /)
})

t.test('a violation exits 1 and prints its reproduction command', async (t) => {
  const run = sim('--seed', '500', '--bug-follower-stale-reads')
  t.equal(run.status, 1)
  t.match(run.stderr, /VIOLATION seed 500: history is not linearizable/)
  t.match(run.stderr, 'reproduce: npm run sim -- --seed 500 --bug-follower-stale-reads')
})

t.test('--seeds sweeps and reports simulated seconds per real second', async (t) => {
  const run = sim('--seeds', '3', '--start', '7', '--nodes', '5')
  t.equal(run.status, 0, run.stderr)
  t.match(run.stdout, /3\/3 seeds \(7\.\.9\), 0 violation\(s\)/)
  t.match(run.stdout, /done: 3 seeds from 7, 5 nodes: 0 violation\(s\).* simulated s per real s/)
})
