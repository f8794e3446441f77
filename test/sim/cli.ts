// The simulator's command line:
//   npm run sim -- --seed N [--trace]                 replay one seed exactly
//   npm run sim -- --seeds 10000 [--nodes 5] [--start S]  run many seeds
//   npm run sim -- region --seeds 10000 [--replicas 5]   the region simulation (region/region-cli.ts)
//   npm run sim -- multi-region --seeds 5000 [--regions 2]  regions joined by shipping (multi-region/multi-region-cli.ts)
// Options: --duration-ms, --membership, --snapshot-after-conf-change, --bug-follower-stale-reads,
// --no-faults.
// Exits non-zero on any violation (a broken Raft invariant, a non-linearizable history, or an
// exception inside the simulation). Wall-clock time is read here only, for the speed report.

import { parseArgs } from 'node:util'
import { runRaftSimulation } from './raft-cluster.js'
import type { RaftSimOptions, RaftSimResult } from './raft-cluster.js'
import { SimViolation } from './raft-invariants.js'

// `npm run sim -- region ...` runs the region simulation of persistent streams (region/region-cli.ts).
if (process.argv[2] === 'region') {
  const { regionCli } = await import('./region/region-cli.js')
  process.exit(regionCli(process.argv.slice(3)))
}
// `npm run sim -- multi-region ...`: regions joined by cross-region shipping (multi-region/multi-region-cli.ts).
if (process.argv[2] === 'multi-region') {
  const { multiRegionCli } = await import('./multi-region/multi-region-cli.js')
  process.exit(multiRegionCli(process.argv.slice(3)))
}

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    seeds: { type: 'string' },
    start: { type: 'string', default: '1' },
    nodes: { type: 'string', default: '3' },
    'duration-ms': { type: 'string' },
    trace: { type: 'boolean', default: false },
    'bug-follower-stale-reads': { type: 'boolean', default: false },
    'no-faults': { type: 'boolean', default: false },
    membership: { type: 'boolean', default: false },
    'snapshot-after-conf-change': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
  strict: true,
})

const usage = `usage:
  npm run sim -- --seed N [--trace]
  npm run sim -- --seeds COUNT [--start S] [--nodes 3|5]
options: --duration-ms MS  --membership  --snapshot-after-conf-change  --bug-follower-stale-reads  --no-faults`

function integer(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback
  const value = Number(text)
  if (!Number.isSafeInteger(value) || value < 0) {
    console.error(`--${name} must be a non-negative integer, got ${text}\n${usage}`)
    process.exit(2)
  }
  return value
}

if (values.help || (values.seed === undefined && values.seeds === undefined)) {
  // No arguments is not an error: `npx tap test/sim/` runs every file here, this one included.
  console.log(usage)
  process.exit(0)
}

const nodes = integer('nodes', values.nodes, 3)
const durationMs = values['duration-ms'] === undefined ? undefined : integer('duration-ms', values['duration-ms'], 0)
const shared: Omit<RaftSimOptions, 'seed'> = {
  nodes,
  ...(durationMs === undefined ? {} : { durationMs }),
  faults: !values['no-faults'],
  membershipChanges: values.membership,
  snapshotAfterConfChange: values['snapshot-after-conf-change'],
  bugs: { followerStaleReads: values['bug-follower-stale-reads'] },
}

function reproduction(seed: number): string {
  const extra = [
    nodes !== 3 ? ` --nodes ${nodes}` : '',
    durationMs !== undefined ? ` --duration-ms ${durationMs}` : '',
    values['bug-follower-stale-reads'] ? ' --bug-follower-stale-reads' : '',
    values['no-faults'] ? ' --no-faults' : '',
    values.membership ? ' --membership' : '',
    values['snapshot-after-conf-change'] ? ' --snapshot-after-conf-change' : '',
  ].join('')
  return `npm run sim -- --seed ${seed}${extra}`
}

type Outcome = { readonly kind: 'ok'; readonly result: RaftSimResult } | { readonly kind: 'violation'; readonly message: string; readonly result?: RaftSimResult }

function runOne(seed: number, keepTrace: boolean): Outcome {
  try {
    const result = runRaftSimulation({ ...shared, seed, keepTrace })
    if (result.linearizability.result === 'illegal') {
      return { kind: 'violation', message: `seed ${seed}: history is not linearizable\n${result.linearizability.explanation}`, result }
    }
    return { kind: 'ok', result }
  } catch (error) {
    if (error instanceof SimViolation) return { kind: 'violation', message: error.summary }
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error)
    return { kind: 'violation', message: `seed ${seed}: simulation raised an exception: ${detail}` }
  }
}

function describeStats(result: RaftSimResult): string {
  const s = result.stats
  return `ops ok=${s.operationsOk} unknown=${s.operationsUnknown} committed=${s.committedEntries} leaderTerms=${s.leaderTerms} crashes=${s.crashes} partitions=${s.partitions} converged=${s.converged} lincheck=${result.linearizability.result}`
}

if (values.seed !== undefined) {
  const seed = integer('seed', values.seed, 0)
  const outcome = runOne(seed, values.trace)
  if (values.trace && outcome.result?.traceLines) for (const line of outcome.result.traceLines) console.log(line)
  if (outcome.result) {
    console.log(`seed ${seed}: trace hash ${outcome.result.traceHash} (${outcome.result.traceEvents} events), ${describeStats(outcome.result)}`)
  }
  if (outcome.kind === 'violation') {
    console.error(`VIOLATION ${outcome.message}\n  reproduce: ${reproduction(seed)}`)
    process.exit(1)
  }
  process.exit(0)
}

const count = integer('seeds', values.seeds, 0)
const start = integer('start', values.start, 1)
const startedMs = performance.now()
let simulatedMs = 0
let violations = 0
let uncheckable = 0
const notConverged: number[] = []
const progressEvery = Math.max(1, Math.floor(count / 20))
for (let i = 0; i < count; i++) {
  const seed = start + i
  const outcome = runOne(seed, false)
  if (outcome.result) simulatedMs += outcome.result.simulatedMs
  if (outcome.kind === 'violation') {
    violations++
    console.error(`VIOLATION ${outcome.message}\n  reproduce: ${reproduction(seed)}`)
  } else if (!outcome.result.stats.converged) {
    notConverged.push(seed)
    console.warn(`seed ${seed}: did not converge after the heal (liveness): ${reproduction(seed)}`)
  }
  if (outcome.kind === 'ok' && outcome.result.linearizability.result === 'unknown') {
    uncheckable++
    console.warn(`seed ${seed}: linearizability check ran out of budget (${outcome.result.linearizability.reason})`)
  }
  if ((i + 1) % progressEvery === 0 || i + 1 === count) {
    const elapsedS = (performance.now() - startedMs) / 1000
    console.log(`${i + 1}/${count} seeds (${start}..${seed}), ${violations} violation(s), ${elapsedS.toFixed(1)} s`)
  }
}
const realS = (performance.now() - startedMs) / 1000
const simulatedS = simulatedMs / 1000
console.log(
  `done: ${count} seeds from ${start}, ${nodes} nodes: ${violations} violation(s), ${uncheckable} unchecked (budget), ` +
    `${notConverged.length} not converged; ` +
    `${simulatedS.toFixed(0)} simulated s in ${realS.toFixed(1)} real s = ${(simulatedS / realS).toFixed(1)} simulated s per real s`,
)
process.exit(violations > 0 ? 1 : 0)
