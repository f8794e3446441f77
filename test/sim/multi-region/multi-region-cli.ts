// `npm run sim -- multi-region ...`: the multi-region simulation's command line (test/sim/cli.ts
// hands over when its first argument is `multi-region`).
//   npm run sim -- multi-region --seed N [--regions 2|3] [--replicas 3|5] [--trace]   replay one seed
//   npm run sim -- multi-region --seeds 5000 [--start S] [--regions 2|3]              many seeds, with the rate
// Options: --duration-ms MS, --no-faults, and bug switches the checker must catch:
// --bug-ship-off-by-one, --bug-receiver-new-ids, --bug-dedup-receipt-time.
// Exit status 1 on any violation, each printed with its one-line reproduction.
import { parseArgs } from 'node:util'
import { integerArg, replaySeed, runSeeds } from '../seed-runner.js'
import type { SeedRun } from '../seed-runner.js'
import type { MultiRegionBugs } from './context.js'
import { runMultiRegionSimulation } from './multi-region-sim.js'
import type { MultiRegionSimOptions, MultiRegionSimResult } from './multi-region-sim.js'

const usage = `usage:
  npm run sim -- multi-region --seed N [--regions 2|3] [--replicas 3|5] [--trace]
  npm run sim -- multi-region --seeds COUNT [--start S] [--regions 2|3] [--replicas 3|5]
options: --duration-ms MS  --no-faults  --bug-ship-off-by-one  --bug-receiver-new-ids  --bug-dedup-receipt-time`

export function multiRegionCli(args: readonly string[]): number {
  const { values } = parseArgs({
    args: [...args],
    options: {
      seed: { type: 'string' },
      seeds: { type: 'string' },
      start: { type: 'string', default: '1' },
      regions: { type: 'string', default: '3' },
      replicas: { type: 'string', default: '3' },
      'duration-ms': { type: 'string' },
      trace: { type: 'boolean', default: false },
      'no-faults': { type: 'boolean', default: false },
      'bug-ship-off-by-one': { type: 'boolean', default: false },
      'bug-receiver-new-ids': { type: 'boolean', default: false },
      'bug-dedup-receipt-time': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (values.help || (values.seed === undefined && values.seeds === undefined)) {
    console.log(usage)
    return 0
  }
  const integer = (name: string, text: string | undefined, fallback: number): number => integerArg(usage, name, text, fallback)
  const regions = integer('regions', values.regions, 3)
  const replicas = integer('replicas', values.replicas, 3)
  const durationMs = values['duration-ms'] === undefined ? undefined : integer('duration-ms', values['duration-ms'], 0)
  const bugs: MultiRegionBugs = {
    shipOffByOne: values['bug-ship-off-by-one'],
    receiverNewIds: values['bug-receiver-new-ids'],
    dedupReceiptTime: values['bug-dedup-receipt-time'],
  }
  const shared: Omit<MultiRegionSimOptions, 'seed'> = { regions, replicas, faults: !values['no-faults'], bugs, ...(durationMs === undefined ? {} : { durationMs }) }
  const flags = [
    regions !== 3 ? ` --regions ${regions}` : '',
    replicas !== 3 ? ` --replicas ${replicas}` : '',
    durationMs !== undefined ? ` --duration-ms ${durationMs}` : '',
    values['no-faults'] ? ' --no-faults' : '',
    bugs.shipOffByOne === true ? ' --bug-ship-off-by-one' : '',
    bugs.receiverNewIds === true ? ' --bug-receiver-new-ids' : '',
    bugs.dedupReceiptTime === true ? ' --bug-dedup-receipt-time' : '',
  ].join('')
  let shipped = 0
  let groupDeliveries = 0
  const spec: SeedRun<MultiRegionSimResult> = {
    name: 'multi-region',
    shape: `${regions} regions × ${replicas} replicas`,
    flags,
    run: (seed, keepTrace) => runMultiRegionSimulation({ ...shared, seed, keepTrace }),
    describe: (r) => {
      const s = r.stats
      const lag = Object.entries(s.lagMax)
        .map(([link, l]) => `${link}:${l.events}ev/${l.ms}ms`)
        .join(' ')
      return (
        `messages=${s.logicalMessages} acked=${s.acked} events=${s.logicalEvents} group=${JSON.stringify(s.groupDeliveries)} twins=${s.twinMessages} (acked in both ${s.twinsAckedInBoth}) ` +
        `shipped=${s.eventsShipped} resent=${s.eventsResent} dropped dup/resend=${s.duplicatesDropped}/${s.resendsDropped} crashes=${s.crashes} partitions region/inter=${s.regionPartitions}/${s.interRegionPartitions} shipperTerms=${s.shipperTerms} (failovers ${s.shipperFailovers}) lagMax ${lag}`
      )
    },
    totals: {
      add: (r) => {
        shipped += r.stats.eventsShipped
        groupDeliveries += Object.values(r.stats.groupDeliveries).reduce((a, b) => a + b, 0)
      },
      summary: () => `${shipped} events shipped, ${groupDeliveries} group deliveries`,
    },
  }
  if (values.seed !== undefined) return replaySeed(spec, integer('seed', values.seed, 0), values.trace)
  return runSeeds(spec, integer('seeds', values.seeds, 0), integer('start', values.start, 1))
}
