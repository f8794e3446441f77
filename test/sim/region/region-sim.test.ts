// The region simulation in `npm test`: a fixed set of seeds for 3 and 5 replicas must pass the
// checker (DESIGN §4: 1, 2, 3, 4, 7), a seed must replay exactly, every bug switch must be
// caught, and the CLI must print the reproduction of a violation. Bounded: a few dozen seeds.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { SimViolation } from '../raft-invariants.js'
import { runRegionSimulation } from './region-sim.js'
import type { RegionBugs } from './region-sim.js'

const seeds3 = 30
const seeds5 = 10

function violationOf(seed: number, replicas: number, bugs: RegionBugs = {}): SimViolation | null {
  try {
    runRegionSimulation({ seed, replicas, bugs })
    return null
  } catch (error) {
    if (error instanceof SimViolation) return error
    throw error
  }
}

t.test(`${seeds3} seeds with 3 replicas and ${seeds5} with 5 hold every invariant`, async (t) => {
  let delivered = 0
  let acked = 0
  let closes = 0
  for (const [replicas, count, start] of [[3, seeds3, 1], [5, seeds5, 1001]] as const) {
    for (let seed = start; seed < start + count; seed++) {
      const violation = violationOf(seed, replicas)
      if (violation !== null) t.fail(`${violation.summary} (replicas ${replicas})`)
    }
  }
  // The runs did real work: events acked at every level, delivered, origins closed.
  for (let seed = 1; seed <= 5; seed++) {
    const r = runRegionSimulation({ seed })
    delivered += r.stats.delivered
    acked += (r.stats.acked.write ?? 0) + (r.stats.acked.majority ?? 0) + (r.stats.acked.all ?? 0)
    closes += r.stats.closes
  }
  t.ok(delivered > 500 && acked > 400 && closes > 0, `work done: ${delivered} delivered, ${acked} acked, ${closes} closes`)
})

t.test('a seed replays exactly (same trace hash)', async (t) => {
  const first = runRegionSimulation({ seed: 7, replicas: 3 })
  const second = runRegionSimulation({ seed: 7, replicas: 3 })
  t.equal(first.traceHash, second.traceHash)
  t.not(runRegionSimulation({ seed: 8, replicas: 3 }).traceHash, first.traceHash)
})

t.test('the checker catches each deliberate bug', async (t) => {
  const cases: [keyof RegionBugs, RegExp][] = [
    ['ackBeforeSync', /1 acked is durable/],
    ['closeAnyAnswer', /closed at \d+ below its committed|committed up to \d+ but closed|acked is never lost|every stored event delivered/],
    ['staleProgressWins', /7 stale holder/],
  ]
  for (const [bug, expected] of cases) {
    let caught: SimViolation | null = null
    for (let seed = 1; seed <= 40 && caught === null; seed++) {
      try {
        runRegionSimulation({ seed, replicas: 3, bugs: { [bug]: true } })
      } catch (error) {
        // The replica's own assertions (commit beyond a close) surface as plain errors.
        caught = error instanceof SimViolation ? error : new SimViolation(seed, 'replica assertion', String(error), 0)
      }
    }
    t.ok(caught !== null, `${bug} is caught within 40 seeds`)
    t.match(caught?.summary ?? '', expected, `${bug}: ${caught?.summary ?? ''}`)
  }
})

t.test('CLI: `region --seed N` replays, a violation exits 1 with its reproduction', async (t) => {
  const cli = fileURLToPath(new URL('../cli.ts', import.meta.url))
  const tsx = fileURLToPath(new URL('../../../node_modules/.bin/tsx', import.meta.url))
  const sim = (...args: string[]) => spawnSync(tsx, [cli, 'region', ...args], { encoding: 'utf8', timeout: 60_000 })
  const run = sim('--seed', '3')
  t.equal(run.status, 0, run.stderr)
  const hash = /trace hash ([0-9a-f]{16})/.exec(run.stdout)?.[1]
  t.ok(hash, 'prints a trace hash')
  t.match(runRegionSimulation({ seed: 3 }).traceHash, hash ?? 'none', 'the same run in and out of process')
  const bad = sim('--seed', '1', '--bug-ack-before-sync')
  t.equal(bad.status, 1)
  t.match(bad.stderr, /VIOLATION seed 1: 1 acked is durable violated/)
  t.match(bad.stderr, 'reproduce: npm run sim -- region --seed 1 --bug-ack-before-sync')
  const sweep = sim('--seeds', '2', '--start', '5', '--replicas', '5')
  t.equal(sweep.status, 0, sweep.stderr)
  t.match(sweep.stdout, /done: region, 2 seeds from 5, 5 replicas: 0 violation\(s\); [\d.]+ seeds\/s/)
})
