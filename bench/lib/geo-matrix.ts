// The latency matrix of the geo benchmark: round trips between regions (and inside one), read
// from the defaults of issue #6, a JSON file, inline JSON or `a:b=80,a:c=190` pairs, checked to
// cover every pair of the regions a run uses. Each directed link gets half the round trip one way
// plus a jitter of `jitterPercent` of that (the proxy adds a uniform [0, jitter) per chunk, from
// its seeded PRNG), so the same seed replays the same delays. Pure but for `applyLatencyMatrix`,
// which sets the proxies of a test/harness ProxyMesh.
import type { ProxyMesh } from '../../test/harness/index.js'

/** The regions of the default matrix, in the order `--regions N` picks them. */
export const defaultRegionNames = ['us-east', 'eu-west', 'ap-south'] as const

/** Issue #6 defaults: round trips between the default regions, ms. */
export const defaultRoundTripsMs: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  'us-east': { 'eu-west': 80, 'ap-south': 190 },
  'eu-west': { 'ap-south': 130 },
}
/** Round trip between two nodes of one region (issue #6: 0.5 ms). */
export const defaultIntraRegionRoundTripMs = 0.5
/** Jitter per link, as a share of its one-way delay. */
export const defaultJitterPercent = 10
/** A round trip above this is a typo (a minute), not a network. */
export const roundTripMsMax = 60_000
export const jitterPercentMax = 100

export interface LatencyMatrix {
  /** Round trip between two regions, looked up both ways. */
  readonly roundTripsMs: Readonly<Record<string, Readonly<Record<string, number>>>>
  readonly intraRegionRoundTripMs: number
  readonly jitterPercent: number
}

export interface LinkDelay {
  readonly oneWayMs: number
  readonly jitterMs: number
}

export const defaultLatencyMatrix: LatencyMatrix = {
  roundTripsMs: defaultRoundTripsMs,
  intraRegionRoundTripMs: defaultIntraRegionRoundTripMs,
  jitterPercent: defaultJitterPercent,
}

function checkRoundTrip(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > roundTripMsMax) throw new Error(`latency matrix: ${what} must be a round trip in ms from 0 to ${roundTripMsMax}, not ${JSON.stringify(value)}`)
  return value
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * The matrix from JSON: either `{"roundTripsMs": {a: {b: 80}}, "intraRegionRoundTripMs"?, "jitterPercent"?}`
 * or the bare `{a: {b: 80}}`. Missing fields take the defaults.
 */
export function latencyMatrixFromJson(json: unknown): LatencyMatrix {
  if (!isRecord(json)) throw new Error('latency matrix: expected a JSON object')
  const wrapped = 'roundTripsMs' in json
  const table = wrapped ? json.roundTripsMs : json
  if (!isRecord(table)) throw new Error('latency matrix: roundTripsMs must be an object of objects')
  const roundTripsMs: Record<string, Record<string, number>> = {}
  for (const [from, row] of Object.entries(table)) {
    if (!isRecord(row)) throw new Error(`latency matrix: the row of '${from}' must be an object {region: roundTripMs}`)
    roundTripsMs[from] = {}
    for (const [to, value] of Object.entries(row)) roundTripsMs[from][to] = checkRoundTrip(`${from}↔${to}`, value)
  }
  const intra = wrapped && json.intraRegionRoundTripMs !== undefined ? checkRoundTrip('intraRegionRoundTripMs', json.intraRegionRoundTripMs) : defaultIntraRegionRoundTripMs
  const jitter = wrapped && json.jitterPercent !== undefined ? json.jitterPercent : defaultJitterPercent
  if (typeof jitter !== 'number' || !Number.isFinite(jitter) || jitter < 0 || jitter > jitterPercentMax) throw new Error(`latency matrix: jitterPercent must be 0..${jitterPercentMax}, not ${JSON.stringify(jitter)}`)
  return { roundTripsMs, intraRegionRoundTripMs: intra, jitterPercent: jitter }
}

/** `us-east:eu-west=80,us-east:ap-south=190` (round trips, ms); `intra=0.5` and `jitter=10` (%) too. */
export function latencyMatrixFromPairs(text: string): LatencyMatrix {
  const roundTripsMs: Record<string, Record<string, number>> = {}
  let intra = defaultIntraRegionRoundTripMs
  let jitter = defaultJitterPercent
  for (const part of text.split(',').map((item) => item.trim()).filter((item) => item !== '')) {
    const match = /^([^=:\s]+)(?::([^=:\s]+))?=([0-9.]+)$/.exec(part)
    if (match === null) throw new Error(`latency matrix: '${part}' is not regionA:regionB=roundTripMs (or intra=ms, jitter=percent)`)
    const [, first, second, valueText] = match as unknown as [string, string, string | undefined, string]
    const value = Number(valueText)
    if (second === undefined) {
      if (first === 'intra') intra = checkRoundTrip('intra', value)
      else if (first === 'jitter') {
        if (!Number.isFinite(value) || value > jitterPercentMax) throw new Error(`latency matrix: jitter must be 0..${jitterPercentMax} (%), not ${valueText}`)
        jitter = value
      } else throw new Error(`latency matrix: '${part}' is not regionA:regionB=roundTripMs (or intra=ms, jitter=percent)`)
      continue
    }
    roundTripsMs[first] ??= {}
    roundTripsMs[first][second] = checkRoundTrip(`${first}↔${second}`, value)
  }
  return { roundTripsMs, intraRegionRoundTripMs: intra, jitterPercent: jitter }
}

/** `--matrix`: inline JSON (starts with `{`), inline pairs (holds `=`), else a JSON file read with `readFile`. */
export function parseLatencyMatrix(value: string, readFile: (path: string) => string): LatencyMatrix {
  const text = value.trim()
  if (text.startsWith('{')) return latencyMatrixFromJson(JSON.parse(text) as unknown)
  if (text.includes('=')) return latencyMatrixFromPairs(text)
  let content: string
  try {
    content = readFile(text)
  } catch (error) {
    throw new Error(`latency matrix: cannot read '${text}': ${(error as Error).message}`, { cause: error })
  }
  return latencyMatrixFromJson(JSON.parse(content) as unknown)
}

/** The round trip between two regions (the intra-region one for a region with itself); undefined when the matrix lacks the pair. */
export function roundTripMs(matrix: LatencyMatrix, a: string, b: string): number | undefined {
  if (a === b) return matrix.roundTripsMs[a]?.[a] ?? matrix.intraRegionRoundTripMs
  return matrix.roundTripsMs[a]?.[b] ?? matrix.roundTripsMs[b]?.[a]
}

/** Throws naming every pair of `regions` the matrix lacks. */
export function checkMatrixCovers(matrix: LatencyMatrix, regions: readonly string[]): void {
  const missing: string[] = []
  for (let i = 0; i < regions.length; i++) for (let j = i + 1; j < regions.length; j++) if (roundTripMs(matrix, regions[i]!, regions[j]!) === undefined) missing.push(`${regions[i]!}↔${regions[j]!}`)
  if (missing.length > 0) throw new Error(`latency matrix: no round trip for ${missing.join(', ')}`)
}

/** One direction of the link between two regions: half the round trip, plus the jitter share. */
export function linkDelay(matrix: LatencyMatrix, from: string, to: string): LinkDelay {
  const rtt = roundTripMs(matrix, from, to)
  if (rtt === undefined) throw new Error(`latency matrix: no round trip for ${from}↔${to}`)
  const oneWayMs = rtt / 2
  return { oneWayMs, jitterMs: (oneWayMs * matrix.jitterPercent) / 100 }
}

/** The matrix restricted to `regions`, every pair written out (for the result file). */
export function matrixForRegions(matrix: LatencyMatrix, regions: readonly string[]): LatencyMatrix {
  const roundTripsMs: Record<string, Record<string, number>> = {}
  for (let i = 0; i < regions.length; i++) {
    const row: Record<string, number> = {}
    for (let j = i + 1; j < regions.length; j++) row[regions[j]!] = roundTripMs(matrix, regions[i]!, regions[j]!) as number
    if (Object.keys(row).length > 0) roundTripsMs[regions[i]!] = row
  }
  return { roundTripsMs, intraRegionRoundTripMs: matrix.intraRegionRoundTripMs, jitterPercent: matrix.jitterPercent }
}

/**
 * Sets every directed link of the mesh (`mesh.proxy(from, to)`, both directions of its
 * connections) to the one-way delay between the regions of its ends.
 */
export function applyLatencyMatrix(mesh: ProxyMesh, regionOf: Readonly<Record<string, string>>, matrix: LatencyMatrix): void {
  for (const from of mesh.nodes()) {
    for (const to of mesh.nodes()) {
      if (from === to) continue
      const regionFrom = regionOf[from]
      const regionTo = regionOf[to]
      if (regionFrom === undefined || regionTo === undefined) throw new Error(`latency matrix: no region for node '${regionFrom === undefined ? from : to}'`)
      const delay = linkDelay(matrix, regionFrom, regionTo)
      mesh.proxy(from, to).setLatency(delay.oneWayMs, delay.jitterMs, 'both')
    }
  }
}
