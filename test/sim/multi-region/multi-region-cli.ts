// `npm run sim -- multi-region ...`: the multi-region simulation's command line (test/sim/cli.ts
// hands over when its first argument is `multi-region`).
//   npm run sim -- multi-region --seed N [--regions 2|3] [--replicas 3|5] [--trace]   replay one seed
//   npm run sim -- multi-region --seeds 5000 [--start S] [--regions 2|3]              many seeds, with the rate
// Options: --duration-ms MS, --no-faults, and bug switches the checker must catch:
// --bug-ship-off-by-one, --bug-receiver-new-ids, --bug-dedup-receipt-time.
// Exit status 1 on any violation, each printed with its one-line reproduction.
import { parseArgs } from 'node:util'
import { SimViolation } from '../raft-invariants.js'
import type { MultiRegionBugs } from './context.js'
import { runMultiRegionSimulation } from './multi-region-sim.js'
import type { MultiRegionSimOptions, MultiRegionSimResult } from './multi-region-sim.js'

const usage = `usage:
  npm run sim -- multi-region --seed N [--regions 2|3] [--replicas 3|5] [--trace]
  npm run sim -- multi-region --seeds COUNT [--start S] [--regions 2|3] [--replicas 3|5]
options: --duration-ms MS  --no-faults  --bug-ship-off-by-one  --bug-receiver-new-ids  --bug-dedup-receipt-time`

type Outcome = { readonly kind: 'ok'; readonly result: MultiRegionSimResult } | { readonly kind: 'violation'; readonly message: string }

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
  const integer = (name: string, text: string | undefined, fallback: number): number => {
    if (text === undefined) return fallback
    const value = Number(text)
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`--${name} must be a non-negative integer, got ${text}\n${usage}`)
    return value
  }
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
  const reproduction = (seed: number): string => `npm run sim -- multi-region --seed ${seed}${flags}`
  const runOne = (seed: number, keepTrace: boolean): Outcome => {
    try {
      return { kind: 'ok', result: runMultiRegionSimulation({ ...shared, seed, keepTrace }) }
    } catch (error) {
      if (error instanceof SimViolation) return { kind: 'violation', message: error.summary }
      const detail = error instanceof Error ? (error.stack ?? error.message) : String(error)
      return { kind: 'violation', message: `seed ${seed}: simulation raised an exception: ${detail}` }
    }
  }
  const describe = (r: MultiRegionSimResult): string => {
    const s = r.stats
    const lag = Object.entries(s.lagMax)
      .map(([link, l]) => `${link}:${l.events}ev/${l.ms}ms`)
      .join(' ')
    return (
      `messages=${s.logicalMessages} acked=${s.acked} events=${s.logicalEvents} group=${JSON.stringify(s.groupDeliveries)} twins=${s.twinMessages} (acked in both ${s.twinsAckedInBoth}) ` +
      `shipped=${s.eventsShipped} resent=${s.eventsResent} dropped dup/resend=${s.duplicatesDropped}/${s.resendsDropped} crashes=${s.crashes} partitions region/inter=${s.regionPartitions}/${s.interRegionPartitions} shipperTerms=${s.shipperTerms} (failovers ${s.shipperFailovers}) lagMax ${lag}`
    )
  }

  if (values.seed !== undefined) {
    const seed = integer('seed', values.seed, 0)
    const outcome = runOne(seed, values.trace)
    if (outcome.kind === 'ok') {
      if (values.trace && outcome.result.traceLines !== null) for (const line of outcome.result.traceLines) console.log(line)
      console.log(`multi-region seed ${seed} (${regions} regions × ${replicas} replicas): trace hash ${outcome.result.traceHash} (${outcome.result.traceEvents} events), ${describe(outcome.result)}`)
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
  let shipped = 0
  let groupDeliveries = 0
  const progressEvery = Math.max(1, Math.floor(count / 20))
  for (let i = 0; i < count; i++) {
    const seed = start + i
    const outcome = runOne(seed, false)
    if (outcome.kind === 'violation') {
      violations++
      console.error(`VIOLATION ${outcome.message}\n  reproduce: ${reproduction(seed)}`)
    } else {
      simulatedMs += outcome.result.simulatedMs
      shipped += outcome.result.stats.eventsShipped
      groupDeliveries += Object.values(outcome.result.stats.groupDeliveries).reduce((a, b) => a + b, 0)
    }
    if ((i + 1) % progressEvery === 0 || i + 1 === count) {
      console.log(`${i + 1}/${count} seeds (${start}..${seed}), ${violations} violation(s), ${((performance.now() - startedMs) / 1000).toFixed(1)} s`)
    }
  }
  const realS = (performance.now() - startedMs) / 1000
  console.log(
    `done: multi-region, ${count} seeds from ${start}, ${regions} regions × ${replicas} replicas: ${violations} violation(s); ` +
      `${(count / realS).toFixed(2)} seeds/s, ${(simulatedMs / 1000 / realS).toFixed(1)} simulated s per real s, ${shipped} events shipped, ${groupDeliveries} group deliveries`,
  )
  return violations > 0 ? 1 : 0
}
