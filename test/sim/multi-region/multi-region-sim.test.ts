// The multi-region simulation in `npm test`: fixed seeds with 3 and 2 regions must pass every
// check (each region's DESIGN §4 invariants and group sequence; across regions: no gap in
// shipping, convergence, once per group in each region), a seed must replay exactly, every bug
// switch must be caught, and the CLI must print the reproduction of a violation. Bounded: a few
// seeds (each ~1–2 s on this machine); MULTI_REGION_SEEDS=N runs N seeds per region count instead.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { SimViolation } from '../raft-invariants.js'
import type { MultiRegionBugs } from './context.js'
import { runMultiRegionSimulation } from './multi-region-sim.js'
import type { MultiRegionSimResult } from './multi-region-sim.js'

const extraSeeds = Number(process.env.MULTI_REGION_SEEDS ?? 0)
const seeds3 = extraSeeds > 0 ? extraSeeds : 3
const seeds2 = extraSeeds > 0 ? extraSeeds : 2

t.test(`${seeds3} seeds with 3 regions and ${seeds2} with 2 hold every check, doing real work`, async (t) => {
  const results: MultiRegionSimResult[] = []
  for (const [regions, count, start] of [[3, seeds3, 1], [2, seeds2, 101]] as const) {
    for (let seed = start; seed < start + count; seed++) {
      try {
        results.push(runMultiRegionSimulation({ seed, regions }))
      } catch (error) {
        if (!(error instanceof SimViolation)) throw error
        t.fail(`${error.summary} (regions ${regions})`)
      }
    }
  }
  const sum = (f: (r: MultiRegionSimResult) => number): number => results.reduce((n, r) => n + f(r), 0)
  const work = {
    shipped: sum((r) => r.stats.eventsShipped),
    resent: sum((r) => r.stats.eventsResent),
    duplicatesDropped: sum((r) => r.stats.duplicatesDropped),
    resendsDropped: sum((r) => r.stats.resendsDropped),
    twinsAckedInBoth: sum((r) => r.stats.twinsAckedInBoth),
    crashes: sum((r) => r.stats.crashes),
    interRegionPartitions: sum((r) => r.stats.interRegionPartitions),
    shipperFailovers: sum((r) => r.stats.shipperFailovers),
  }
  t.ok(work.shipped > 1000 && work.duplicatesDropped > 50 && work.resendsDropped > 0 && work.twinsAckedInBoth > 5, `shipping and dedup did real work: ${JSON.stringify(work)}`)
  t.ok(work.crashes > 0 && work.interRegionPartitions > 0 && work.shipperFailovers > 0, 'faults and shipper failovers happened')
})

t.test('a seed replays exactly (same trace hash)', async (t) => {
  const first = runMultiRegionSimulation({ seed: 7, regions: 2 })
  const second = runMultiRegionSimulation({ seed: 7, regions: 2 })
  t.equal(first.traceHash, second.traceHash)
  t.not(runMultiRegionSimulation({ seed: 8, regions: 2, durationMs: 5_000, settleMs: 3_000 }).traceHash, first.traceHash)
})

t.test('the checker catches each deliberate bug', async (t) => {
  const cases: [keyof MultiRegionBugs, RegExp][] = [
    ['shipOffByOne', /no gap in shipping/],
    ['receiverNewIds', /3 convergence across regions|4 once per group in each region/],
    ['dedupReceiptTime', /4 once per group in each region/],
  ]
  for (const [bug, expected] of cases) {
    let caught: SimViolation | null = null
    for (let seed = 1; seed <= 5 && caught === null; seed++) {
      try {
        runMultiRegionSimulation({ seed, regions: 3, bugs: { [bug]: true } })
      } catch (error) {
        if (!(error instanceof SimViolation)) throw error
        caught = error
      }
    }
    t.ok(caught !== null, `${bug} is caught within 5 seeds`)
    t.match(caught?.summary ?? '', expected, `${bug}: ${caught?.summary.slice(0, 300) ?? ''}`)
  }
})

t.test('CLI: `multi-region --seed N` replays, a violation exits 1 with its reproduction', async (t) => {
  const cli = fileURLToPath(new URL('../cli.ts', import.meta.url))
  const tsx = fileURLToPath(new URL('../../../node_modules/.bin/tsx', import.meta.url))
  const sim = (...args: string[]) => spawnSync(tsx, [cli, 'multi-region', ...args], { encoding: 'utf8', timeout: 120_000 })
  const run = sim('--seed', '3', '--regions', '2', '--duration-ms', '6000')
  t.equal(run.status, 0, run.stderr)
  const hash = /trace hash ([0-9a-f]{16})/.exec(run.stdout)?.[1]
  t.ok(hash, 'prints a trace hash')
  t.equal(runMultiRegionSimulation({ seed: 3, regions: 2, durationMs: 6_000 }).traceHash, hash ?? 'none', 'the same run in and out of process')
  const bad = sim('--seeds', '1', '--start', '2', '--regions', '2', '--duration-ms', '6000', '--bug-ship-off-by-one')
  t.equal(bad.status, 1)
  t.match(bad.stderr, /VIOLATION seed 2: no gap in shipping violated/)
  t.match(bad.stderr, 'reproduce: npm run sim -- multi-region --seed 2 --regions 2 --duration-ms 6000 --bug-ship-off-by-one')
  t.match(bad.stdout, /done: multi-region, 1 seeds from 2, 2 regions × 3 replicas: 1 violation\(s\); [\d.]+ seeds\/s/)
})
