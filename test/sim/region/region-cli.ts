// `npm run sim -- region ...`: the region simulation's command line (test/sim/cli.ts hands over
// when its first argument is `region`).
//   npm run sim -- region --seed N [--replicas 5] [--trace]      replay one seed exactly
//   npm run sim -- region --seeds 10000 [--replicas 5] [--start S] many seeds, with the rate
// Options: --duration-ms MS, --no-faults, and bug switches that the checker must catch:
// --bug-ack-before-sync, --bug-close-any-answer, --bug-stale-progress-wins.
// Exit status 1 on any violation, each printed with its one-line reproduction.
import { parseArgs } from 'node:util'
import { integerArg, replaySeed, runSeeds } from '../seed-runner.js'
import type { SeedRun } from '../seed-runner.js'
import { runRegionSimulation } from './region-sim.js'
import type { RegionBugs, RegionSimOptions, RegionSimResult } from './region-sim.js'

const usage = `usage:
  npm run sim -- region --seed N [--replicas 3|5] [--trace]
  npm run sim -- region --seeds COUNT [--start S] [--replicas 3|5]
options: --duration-ms MS  --no-faults  --bug-ack-before-sync  --bug-close-any-answer  --bug-stale-progress-wins`

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
  const integer = (name: string, text: string | undefined, fallback: number): number => integerArg(usage, name, text, fallback)
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
  let delivered = 0
  let diskReads = 0
  let diskReadCopies = 0
  const spec: SeedRun<RegionSimResult> = {
    name: 'region',
    shape: `${replicas} replicas`,
    flags,
    run: (seed, keepTrace) => runRegionSimulation({ ...shared, seed, keepTrace }),
    describe: (r) => {
      const s = r.stats
      return `messages=${s.logicalMessages} acked write/majority/all=${s.acked.write}/${s.acked.majority}/${s.acked.all} delivered=${s.delivered} crashes=${s.crashes} partitions=${s.partitions} closes=${s.closes} sccTerms=${s.sccTerms} closerTerms=${s.closerTerms} staleProposals=${s.staleProposals} diskReads=${s.readsServed}/${s.readCopiesServed} notices=${JSON.stringify(s.notices)}`
    },
    totals: {
      add: (r) => {
        delivered += r.stats.delivered
        diskReads += r.stats.readsServed
        diskReadCopies += r.stats.readCopiesServed
      },
      summary: () => `${delivered} events delivered, ${diskReads} anti-entropy reads from disk (${diskReadCopies} copies)`,
    },
  }
  if (values.seed !== undefined) return replaySeed(spec, integer('seed', values.seed, 0), values.trace)
  return runSeeds(spec, integer('seeds', values.seeds, 0), integer('start', values.start, 1))
}
