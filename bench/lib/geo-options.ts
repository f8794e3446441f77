// Command-line options of the geo benchmark (bench/geo.ts) → a checked plan. Pure but for the
// file read a `--matrix path.json` needs, which is passed in. Every figure has a named default
// and a named bound (this machine has 2 cores: a run beyond the bounds is refused, not tried).
import { parseArgs } from 'node:util'
import { railgunClusterNodesMax } from '../../test/harness/index.js'
import { checkMatrixCovers, defaultLatencyMatrix, defaultRegionNames, parseLatencyMatrix, type LatencyMatrix } from './geo-matrix.js'

export const ackLevels = ['write', 'majority', 'all'] as const
export type AckLevel = (typeof ackLevels)[number]

export const geoDefaults = {
  regions: 3,
  nodesPerRegion: 3,
  eventBytes: 256,
  /** Publishes per second from each region (open loop). */
  ratePerRegion: 200,
  durationS: 30,
  ack: 'majority' as AckLevel,
  seed: 1,
  /** After the last publish, how long an event may take to show up (delivered / visible) before it counts as missing. */
  drainS: 10,
  resultsDir: 'bench/results',
} as const

/** `--quick`: 2 regions × 1 node, a few seconds (a smoke run: figures meaningless). */
export const geoQuick = { regions: 2, nodesPerRegion: 1, ratePerRegion: 50, durationS: 3, drainS: 3 } as const

export const geoBounds = {
  regionsMax: 6,
  eventBytesMax: 1024 * 1024,
  ratePerRegionMax: 20_000,
  durationSMax: 3_600,
  drainSMax: 600,
  /** Every event is kept with its times until the end: bounds the run's memory. */
  eventsMax: 2_000_000,
} as const

export interface GeoPlan {
  readonly regions: readonly string[]
  readonly nodesPerRegion: number
  readonly matrix: LatencyMatrix
  readonly eventBytes: number
  readonly ratePerRegion: number
  readonly durationS: number
  readonly drainS: number
  readonly ack: AckLevel
  readonly seed: number
  readonly quick: boolean
  readonly jetstream: boolean
  readonly railgun: boolean
  /** Run Railgun from the sources through tsx instead of the build (`dist/`). */
  readonly fromSource: boolean
  readonly resultsDir: string
}

function positiveInteger(name: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n <= 0 || n > max) throw new Error(`--${name} must be an integer from 1 to ${max}, not '${value}'`)
  return n
}

function positiveNumber(name: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0 || n > max) throw new Error(`--${name} must be a number above 0 and at most ${max}, not '${value}'`)
  return n
}

/** `--regions 3` (the first N default regions) or `--regions us-east,eu-west` (names; the matrix must hold them). */
function parseRegions(value: string | undefined, fallback: number): string[] {
  const text = value ?? String(fallback)
  if (/^\d+$/.test(text)) {
    const count = Number(text)
    if (count < 1 || count > defaultRegionNames.length) throw new Error(`--regions ${text}: a count picks from the default regions (${defaultRegionNames.join(', ')}), 1 to ${defaultRegionNames.length}; name more with a matrix`)
    return defaultRegionNames.slice(0, count)
  }
  const names = text.split(',').map((name) => name.trim()).filter((name) => name !== '')
  for (const name of names) if (!/^[a-z0-9][a-z0-9-]{0,31}$/.test(name)) throw new Error(`--regions: '${name}' is not a region name (lower-case letters, digits, '-')`)
  if (new Set(names).size !== names.length) throw new Error(`--regions: a region is named twice in '${text}'`)
  if (names.length < 1 || names.length > geoBounds.regionsMax) throw new Error(`--regions: 1 to ${geoBounds.regionsMax} regions, not ${names.length}`)
  return names
}

function parseAck(value: string | undefined): AckLevel {
  const found = ackLevels.find((level) => level === value)
  if (found === undefined) throw new Error(`--ack: ${ackLevels.join(', ')}, not '${value ?? ''}'`)
  return found
}

export const geoUsage = `npx tsx bench/geo.ts [--quick] [--regions 3 | us-east,eu-west,ap-south] [--nodes-per-region 3]
  [--matrix file.json | '{"us-east":{"eu-west":80}}' | us-east:eu-west=80,intra=0.5,jitter=10]
  [--event-bytes 256] [--rate 200 (per region, events/s)] [--duration-s 30] [--drain-s 10]
  [--ack write|majority|all] [--seed 1] [--no-jetstream] [--only railgun|jetstream]
  [--from-source] [--results-dir bench/results]`

export function parseGeoOptions(argv: readonly string[], readFile: (path: string) => string): GeoPlan {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      regions: { type: 'string' },
      'nodes-per-region': { type: 'string' },
      matrix: { type: 'string' },
      'event-bytes': { type: 'string' },
      rate: { type: 'string' },
      'duration-s': { type: 'string' },
      'drain-s': { type: 'string' },
      ack: { type: 'string', default: geoDefaults.ack },
      seed: { type: 'string' },
      'no-jetstream': { type: 'boolean', default: false },
      only: { type: 'string' },
      'from-source': { type: 'boolean', default: false },
      'results-dir': { type: 'string', default: geoDefaults.resultsDir },
    },
    strict: true,
    allowPositionals: false,
  })
  const quick = values.quick === true
  const regions = parseRegions(values.regions, quick ? geoQuick.regions : geoDefaults.regions)
  const nodesPerRegion = positiveInteger('nodes-per-region', values['nodes-per-region'], quick ? geoQuick.nodesPerRegion : geoDefaults.nodesPerRegion, railgunClusterNodesMax)
  if (regions.length * nodesPerRegion > railgunClusterNodesMax) throw new Error(`${regions.length} regions × ${nodesPerRegion} nodes is more than the harness's ${railgunClusterNodesMax} processes`)
  const matrix = values.matrix === undefined ? defaultLatencyMatrix : parseLatencyMatrix(values.matrix, readFile)
  checkMatrixCovers(matrix, regions)
  const ratePerRegion = positiveNumber('rate', values.rate, quick ? geoQuick.ratePerRegion : geoDefaults.ratePerRegion, geoBounds.ratePerRegionMax)
  const durationS = positiveNumber('duration-s', values['duration-s'], quick ? geoQuick.durationS : geoDefaults.durationS, geoBounds.durationSMax)
  const events = ratePerRegion * durationS * regions.length
  if (events > geoBounds.eventsMax) throw new Error(`--rate × --duration-s × regions = ${Math.round(events)} events, more than ${geoBounds.eventsMax} kept in memory`)
  const seedText = values.seed ?? String(geoDefaults.seed)
  const seed = Number(seedText)
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) throw new Error(`--seed must be an integer from 0 to ${0xffff_ffff}, not '${seedText}'`)
  const only = values.only
  if (only !== undefined && only !== 'railgun' && only !== 'jetstream') throw new Error(`--only: 'railgun' or 'jetstream', not '${only}'`)
  return {
    regions,
    nodesPerRegion,
    matrix,
    eventBytes: positiveInteger('event-bytes', values['event-bytes'], geoDefaults.eventBytes, geoBounds.eventBytesMax),
    ratePerRegion,
    durationS,
    drainS: positiveNumber('drain-s', values['drain-s'], quick ? geoQuick.drainS : geoDefaults.drainS, geoBounds.drainSMax),
    ack: parseAck(values.ack),
    seed,
    quick,
    jetstream: values['no-jetstream'] !== true && only !== 'railgun',
    railgun: only !== 'jetstream',
    fromSource: values['from-source'] === true,
    resultsDir: values['results-dir'] ?? geoDefaults.resultsDir,
  }
}
