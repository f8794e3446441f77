// `npm run sim -- region ...`: the region simulation's command line (test/sim/cli.ts hands over
// when its first argument is `region`).
//   npm run sim -- region --seed N [--replicas 5] [--trace]      replay one seed exactly
//   npm run sim -- region --seeds 10000 [--replicas 5] [--start S] many seeds, with the rate
// Options: --duration-ms MS, --no-faults, and bug switches that the checker must catch:
// --bug-ack-before-sync, --bug-close-any-answer, --bug-stale-progress-wins.
// Exit status 1 on any violation, each printed with its one-line reproduction.
import { parseArgs } from 'node:util'
import { SimViolation } from '../raft-invariants.js'
import { runRegionSimulation } from './region-sim.js'
import type { RegionBugs, RegionSimOptions, RegionSimResult } from './region-sim.js'

const usage = `usage:
  npm run sim -- region --seed N [--replicas 3|5] [--trace]
  npm run sim -- region --seeds COUNT [--start S] [--replicas 3|5]
options: --duration-ms MS  --no-faults  --bug-ack-before-sync  --bug-close-any-answer  --bug-stale-progress-wins`

type Outcome = { readonly kind: 'ok'; readonly result: RegionSimResult } | { readonly kind: 'violation'; readonly message: string }

export function regionCli(args: readonly string[]): number {
  const { values } = parseArgs({
    args: [...args],
    options: {
      seed: { type: 'string' },
      seeds: { type: 'string' },
      start: { type: 'string', default: '1' },
      replicas: { type: 'string', default: '3' },
      'duration-ms': { type: 'string' },
      trace: { type: 'boolean', default: false },
      'no-faults': { type: 'boolean', default: false },
      'bug-ack-before-sync': { type: 'boolean', default: false },
      'bug-close-any-answer': { type: 'boolean', default: false },
      'bug-stale-progress-wins': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (values.help || (values.seed === undefined && values.seeds === undefined)) {
    console.log(usage)
    return 0
  }
  const integer = (name: string, text: string | undefined, fallback: number): number => {
    if (text === undefined) return fallback
    const value = Number(text)
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`--${name} must be a non-negative integer, got ${text}\n${usage}`)
    return value
  }
  const replicas = integer('replicas', values.replicas, 3)
  const durationMs = values['duration-ms'] === undefined ? undefined : integer('duration-ms', values['duration-ms'], 0)
  const bugs: RegionBugs = {
    ackBeforeSync: values['bug-ack-before-sync'],
    closeAnyAnswer: values['bug-close-any-answer'],
    staleProgressWins: values['bug-stale-progress-wins'],
  }
  const shared: Omit<RegionSimOptions, 'seed'> = { replicas, faults: !values['no-faults'], bugs, ...(durationMs === undefined ? {} : { durationMs }) }
  const flags = [
    replicas !== 3 ? ` --replicas ${replicas}` : '',
    durationMs !== undefined ? ` --duration-ms ${durationMs}` : '',
    values['no-faults'] ? ' --no-faults' : '',
    bugs.ackBeforeSync ? ' --bug-ack-before-sync' : '',
    bugs.closeAnyAnswer ? ' --bug-close-any-answer' : '',
    bugs.staleProgressWins ? ' --bug-stale-progress-wins' : '',
  ].join('')
  const reproduction = (seed: number): string => `npm run sim -- region --seed ${seed}${flags}`
  const runOne = (seed: number, keepTrace: boolean): Outcome => {
    try {
      return { kind: 'ok', result: runRegionSimulation({ ...shared, seed, keepTrace }) }
    } catch (error) {
      if (error instanceof SimViolation) return { kind: 'violation', message: error.summary }
      const detail = error instanceof Error ? (error.stack ?? error.message) : String(error)
      return { kind: 'violation', message: `seed ${seed}: simulation raised an exception: ${detail}` }
    }
  }
  const describe = (r: RegionSimResult): string => {
    const s = r.stats
    return `messages=${s.logicalMessages} acked write/majority/all=${s.acked.write}/${s.acked.majority}/${s.acked.all} delivered=${s.delivered} crashes=${s.crashes} partitions=${s.partitions} closes=${s.closes} sccTerms=${s.sccTerms} closerTerms=${s.closerTerms} staleProposals=${s.staleProposals} diskReads=${s.readsServed}/${s.readCopiesServed} notices=${JSON.stringify(s.notices)}`
  }

  if (values.seed !== undefined) {
    const seed = integer('seed', values.seed, 0)
    const outcome = runOne(seed, values.trace)
    if (outcome.kind === 'ok') {
      if (values.trace && outcome.result.traceLines !== null) for (const line of outcome.result.traceLines) console.log(line)
      console.log(`region seed ${seed} (${replicas} replicas): trace hash ${outcome.result.traceHash} (${outcome.result.traceEvents} events), ${describe(outcome.result)}`)
      return 0
    }
    console.error(`VIOLATION ${outcome.message}\n  reproduce: ${reproduction(seed)}`)
    return 1
  }

  const count = integer('seeds', values.seeds, 0)
  const start = integer('start', values.start, 1)
  const startedMs = performance.now()
  let violations = 0
  let simulatedMs = 0
  let delivered = 0
  let diskReads = 0
  let diskReadCopies = 0
  const progressEvery = Math.max(1, Math.floor(count / 20))
  for (let i = 0; i < count; i++) {
    const seed = start + i
    const outcome = runOne(seed, false)
    if (outcome.kind === 'violation') {
      violations++
      console.error(`VIOLATION ${outcome.message}\n  reproduce: ${reproduction(seed)}`)
    } else {
      simulatedMs += outcome.result.simulatedMs
      delivered += outcome.result.stats.delivered
      diskReads += outcome.result.stats.readsServed
      diskReadCopies += outcome.result.stats.readCopiesServed
    }
    if ((i + 1) % progressEvery === 0 || i + 1 === count) {
      console.log(`${i + 1}/${count} seeds (${start}..${seed}), ${violations} violation(s), ${((performance.now() - startedMs) / 1000).toFixed(1)} s`)
    }
  }
  const realS = (performance.now() - startedMs) / 1000
  console.log(
    `done: region, ${count} seeds from ${start}, ${replicas} replicas: ${violations} violation(s); ` +
      `${(count / realS).toFixed(1)} seeds/s, ${(simulatedMs / 1000 / realS).toFixed(1)} simulated s per real s, ${delivered} events delivered, ${diskReads} anti-entropy reads from disk (${diskReadCopies} copies)`,
  )
  return violations > 0 ? 1 : 0
}
