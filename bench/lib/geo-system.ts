// What the geo benchmark needs from a system under test (Railgun, stretched JetStream): one
// publish function per region that resolves on the durable ack, and readers that report when an
// event is delivered to the region's consumer group and when it is visible in a region. Both
// systems are driven through this shape by the same open loop and recorder (bench/geo.ts).
import { createSeededRandom } from '../../test/harness/index.js'
import type { GeoRecorder } from './geo-recorder.js'
import type { RegionPublish } from './geo-load.js'

export interface GeoSystem {
  /** e.g. `railgun 3×3 ack=majority`, `jetstream R3 stretched`. */
  readonly label: string
  readonly system: 'railgun' | 'jetstream'
  /** What a reader should know beside the figures (replicas, when an ack is sent, the leader…). */
  readonly details: Readonly<Record<string, string | number | boolean | null>>
  /** Index as in the plan's regions. */
  publisher(regionIndex: number): RegionPublish
  /** Starts the readers; resolves once they receive. Sightings go to `recorder.observe` with `now()`. */
  startReaders(recorder: GeoRecorder, now: () => number): Promise<void>
  /** Reader errors so far, per region (failed requests, deliveries without an id). */
  readerErrors(): readonly { readonly region: string; readonly count: number; readonly first: string | null }[]
  /** Stops readers, clients, processes and proxies; removes temporary directories. Idempotent. */
  stop(): Promise<void>
}

export const geoStreamName = 'geo'
/** The consumer group of region `region` (each region's member joins its own: see geo-railgun-readers.ts). */
export const geoGroupName = (region: string): string => `geo-${region}`
/** Unacked deliveries a group member may hold. */
export const geoGroupMaxInFlight = 1_000

/**
 * The payload every event carries: `bytes` from the seed (mulberry32, as the proxies' jitter), not
 * zeros — cross-region shipping compresses, and zeros would flatter it.
 */
export function geoPayload(bytes: number, seed: number): Uint8Array {
  const random = createSeededRandom(seed)
  const payload = new Uint8Array(bytes)
  for (let i = 0; i < bytes; i++) payload[i] = random.int(256)
  return payload
}
