// The seed loop the simulations' command lines share (region/region-cli.ts,
// multi-region/multi-region-cli.ts): replay one seed (optionally printing its trace) or run many
// with a progress line every 5 %, print each violation with its one-line reproduction, and end
// with the rate. Exit status 1 on any violation. Wall-clock time is read here only, for the rate.
import { SimViolation } from './raft-invariants.js'

/** What every simulation run returns that the runner reads. */
export interface SeedResult {
  readonly traceHash: string
  readonly traceLines: readonly string[] | null
  readonly traceEvents: number
  readonly simulatedMs: number
}

export interface SeedRun<R extends SeedResult> {
  /** `region`, `multi-region`: the simulation's name in `npm run sim -- <name>` and in the output. */
  readonly name: string
  /** The shape run, e.g. `3 replicas` (printed in the lines). */
  readonly shape: string
  /** The options that differ from the defaults, as flags (` --replicas 5`), for reproductions. */
  readonly flags: string
  readonly run: (seed: number, keepTrace: boolean) => R
  /** One seed's figures, printed after its trace hash. */
  readonly describe: (result: R) => string
  /** Totals over many seeds: `add` each result, `summary` ends the last line. */
  readonly totals: { add(result: R): void; summary(): string }
}

type Outcome<R> = { readonly kind: 'ok'; readonly result: R } | { readonly kind: 'violation'; readonly message: string }

/** A non-negative integer argument, or `fallback` when absent; a clear error with the usage otherwise. */
export function integerArg(usage: string, name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback
  const value = Number(text)
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`--${name} must be a non-negative integer, got ${text}\n${usage}`)
  return value
}

function runOne<R extends SeedResult>(spec: SeedRun<R>, seed: number, keepTrace: boolean): Outcome<R> {
  try {
    return { kind: 'ok', result: spec.run(seed, keepTrace) }
  } catch (error) {
    if (error instanceof SimViolation) return { kind: 'violation', message: error.summary }
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error)
    return { kind: 'violation', message: `seed ${seed}: simulation raised an exception: ${detail}` }
  }
}

const reproduction = (spec: { readonly name: string; readonly flags: string }, seed: number): string => `npm run sim -- ${spec.name} --seed ${seed}${spec.flags}`

/** Replays one seed; prints its trace when asked. */
export function replaySeed<R extends SeedResult>(spec: SeedRun<R>, seed: number, trace: boolean): number {
  const outcome = runOne(spec, seed, trace)
  if (outcome.kind === 'ok') {
    if (trace && outcome.result.traceLines !== null) for (const line of outcome.result.traceLines) console.log(line)
    console.log(`${spec.name} seed ${seed} (${spec.shape}): trace hash ${outcome.result.traceHash} (${outcome.result.traceEvents} events), ${spec.describe(outcome.result)}`)
    return 0
  }
  console.error(`VIOLATION ${outcome.message}\n  reproduce: ${reproduction(spec, seed)}`)
  return 1
}

/** Runs `count` seeds from `start`. */
export function runSeeds<R extends SeedResult>(spec: SeedRun<R>, count: number, start: number): number {
  const startedMs = performance.now()
  let violations = 0
  let simulatedMs = 0
  const progressEvery = Math.max(1, Math.floor(count / 20))
  for (let i = 0; i < count; i++) {
    const seed = start + i
    const outcome = runOne(spec, seed, false)
    if (outcome.kind === 'violation') {
      violations++
      console.error(`VIOLATION ${outcome.message}\n  reproduce: ${reproduction(spec, seed)}`)
    } else {
      simulatedMs += outcome.result.simulatedMs
      spec.totals.add(outcome.result)
    }
    if ((i + 1) % progressEvery === 0 || i + 1 === count) {
      console.log(`${i + 1}/${count} seeds (${start}..${seed}), ${violations} violation(s), ${((performance.now() - startedMs) / 1000).toFixed(1)} s`)
    }
  }
  const realS = (performance.now() - startedMs) / 1000
  console.log(
    `done: ${spec.name}, ${count} seeds from ${start}, ${spec.shape}: ${violations} violation(s); ` +
      `${(count / realS).toFixed(2)} seeds/s, ${(simulatedMs / 1000 / realS).toFixed(1)} simulated s per real s, ${spec.totals.summary()}`,
  )
  return violations > 0 ? 1 : 0
}
