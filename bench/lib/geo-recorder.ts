// What the geo benchmark records about every event, and the figures it draws from that. Pure:
// times come in as arguments (the bench passes `performance.now()` of its one process, so every
// region's clients share one clock and a lag between regions needs no clock sync).
//
// An event is published in one region with a known id; then it may be acked (or refused),
// delivered to the local group of its region, and seen (visible) in any region. Each first
// sighting is kept; repeats are counted. An observation more than `eventTimeoutMs` after the
// publish does not count as seen (it is "late"): the timeout is per event, so a region that
// never receives events (shipping stalled, a region cut off) reads as missing, not as slow.
import { summarizeLatencies, type LatencySummary } from './stats.js'

export interface GeoEventRecord {
  readonly id: string
  readonly regionIndex: number
  readonly sentMs: number
  ackMs: number | undefined
  failed: string | undefined
  /** First delivery to the group member of the event's own region. */
  deliveredMs: number | undefined
  /** First sighting per region (index as in `regions`), NaN when not seen. */
  readonly visibleMs: Float64Array
}

export type ObservationKind = 'delivered' | 'visible'

export interface PairFigures {
  readonly from: string
  readonly to: string
  /** Acked events of `from`. */
  readonly expected: number
  readonly seen: number
  /** Not seen within the per-event timeout (late ones included). */
  readonly missing: number
  readonly late: number
  readonly latency: LatencySummary
}

export interface RegionFigures {
  readonly region: string
  readonly published: number
  readonly acked: number
  readonly failed: number
  readonly firstError: string | null
  /** Publishes the load generator could not send (its in-flight bound was full). */
  readonly notSent: number
  /** Acked events per second over the publishing window. */
  readonly ackedPerSecond: number
  readonly ack: LatencySummary
  /** Publish → first delivery to this region's group member, for this region's acked events. */
  readonly deliver: LatencySummary
  readonly deliverMissing: number
  /** Publish → visible in this region, from every other region (all sources together). */
  readonly convergence: LatencySummary
  readonly convergenceExpected: number
  readonly convergenceMissing: number
  /** Per source region. */
  readonly convergenceFrom: readonly PairFigures[]
  /** Acked events of any region (this one included) not visible here within the timeout. */
  readonly missingHere: number
  /** Sightings beyond the first (deliveries and reads), for information. */
  readonly repeats: number
  /** Deliveries to this region's group member of events published in another region. */
  readonly otherRegionDeliveries: number
}

/** The raw latencies behind the figures (for the chart; not written to the JSON). */
export interface RegionSamples {
  readonly region: string
  readonly ackMs: number[]
  readonly deliverMs: number[]
  readonly convergenceMs: number[]
  /** Per source region: latencies seen in time, and how many acked events were not. */
  readonly convergenceFrom: { readonly from: string; readonly to: string; readonly latenciesMs: number[]; readonly missing: number }[]
}

export class GeoRecorder {
  readonly regions: readonly string[]
  private readonly events = new Map<string, GeoEventRecord>()
  private readonly byRegion: GeoEventRecord[][]
  private readonly nextSeq: number[]
  private readonly notSent: number[]
  private readonly repeats: number[]
  private readonly otherRegionDeliveries: number[]
  private readonly ackedCount: number[]
  private unknownIds = 0
  /** First sightings still awaited for acked events (delivered + visible in every region). */
  private remaining = 0

  constructor(regions: readonly string[], private readonly eventsMax: number) {
    this.regions = regions
    this.byRegion = regions.map(() => [])
    this.nextSeq = regions.map(() => 0)
    this.notSent = regions.map(() => 0)
    this.repeats = regions.map(() => 0)
    this.otherRegionDeliveries = regions.map(() => 0)
    this.ackedCount = regions.map(() => 0)
  }

  /** A new event about to be published from `regionIndex` at `nowMs`. */
  publish(regionIndex: number, nowMs: number): GeoEventRecord {
    if (this.events.size >= this.eventsMax) throw new Error(`geo recorder: more than ${this.eventsMax} events`)
    const seq = this.nextSeq[regionIndex]!
    this.nextSeq[regionIndex] = seq + 1
    const record: GeoEventRecord = {
      id: `${this.regions[regionIndex]!}.${seq}`,
      regionIndex,
      sentMs: nowMs,
      ackMs: undefined,
      failed: undefined,
      deliveredMs: undefined,
      visibleMs: new Float64Array(this.regions.length).fill(Number.NaN),
    }
    this.events.set(record.id, record)
    this.byRegion[regionIndex]!.push(record)
    return record
  }

  skipped(regionIndex: number): void {
    this.notSent[regionIndex] = this.notSent[regionIndex]! + 1
  }

  acked(record: GeoEventRecord, nowMs: number): void {
    if (record.ackMs !== undefined || record.failed !== undefined) return
    record.ackMs = nowMs
    this.ackedCount[record.regionIndex] = this.ackedCount[record.regionIndex]! + 1
    this.remaining += (record.deliveredMs === undefined ? 1 : 0) + record.visibleMs.filter((ms) => Number.isNaN(ms)).length
  }

  refused(record: GeoEventRecord, error: string): void {
    if (record.ackMs !== undefined || record.failed !== undefined) return
    record.failed = error
  }

  /** A sighting of `id` in `regionIndex` (a delivery to its group member, or a read of its copy). */
  observe(kind: ObservationKind, regionIndex: number, id: string, nowMs: number): void {
    const record = this.events.get(id)
    if (record === undefined) {
      this.unknownIds += 1
      return
    }
    if (kind === 'delivered') {
      // Only the group of the event's own region counts here (publish → local deliver); another
      // region's event delivered to this member is counted apart (see geo-railgun-readers.ts).
      if (regionIndex !== record.regionIndex) {
        this.otherRegionDeliveries[regionIndex] = this.otherRegionDeliveries[regionIndex]! + 1
        return
      }
      if (record.deliveredMs !== undefined) {
        this.repeats[regionIndex] = this.repeats[regionIndex]! + 1
        return
      }
      record.deliveredMs = nowMs
    } else {
      if (!Number.isNaN(record.visibleMs[regionIndex]!)) {
        this.repeats[regionIndex] = this.repeats[regionIndex]! + 1
        return
      }
      record.visibleMs[regionIndex] = nowMs
    }
    if (record.ackMs !== undefined) this.remaining -= 1
  }

  /** True once every acked event has been delivered locally and seen in every region. */
  complete(): boolean {
    return this.remaining === 0
  }

  outstanding(): number {
    return this.remaining
  }

  unknownSightings(): number {
    return this.unknownIds
  }

  /** Counters kept as they go (cheap enough for a progress line). */
  count(regionIndex: number): { readonly published: number; readonly acked: number } {
    return { published: this.byRegion[regionIndex]!.length, acked: this.ackedCount[regionIndex]! }
  }

  /**
   * Figures per region. `publishWindowMs` is how long publishing lasted (for the rates);
   * `eventTimeoutMs` is how long after its publish an event may take to be seen.
   */
  figures(publishWindowMs: number, eventTimeoutMs: number): { readonly regions: RegionFigures[]; readonly samples: RegionSamples[] } {
    const within = (record: GeoEventRecord, atMs: number | undefined): number | undefined => {
      if (atMs === undefined || Number.isNaN(atMs)) return undefined
      const latency = atMs - record.sentMs
      return latency <= eventTimeoutMs ? latency : undefined
    }
    const regions: RegionFigures[] = []
    const samples: RegionSamples[] = []
    for (let r = 0; r < this.regions.length; r++) {
      const own = this.byRegion[r]!
      const ackMs: number[] = []
      const deliverMs: number[] = []
      let failed = 0
      let firstError: string | null = null
      for (const record of own) {
        if (record.failed !== undefined) {
          failed += 1
          firstError ??= record.failed
        }
        if (record.ackMs === undefined) continue
        ackMs.push(record.ackMs - record.sentMs)
        const deliver = within(record, record.deliveredMs)
        if (deliver !== undefined) deliverMs.push(deliver)
      }
      const convergenceMs: number[] = []
      const convergenceFrom: PairFigures[] = []
      const pairSamples: RegionSamples['convergenceFrom'] = []
      let missingHere = 0
      for (let source = 0; source < this.regions.length; source++) {
        const latencies: number[] = []
        let expected = 0
        let late = 0
        for (const record of this.byRegion[source]!) {
          if (record.ackMs === undefined) continue
          expected += 1
          const seenAt = record.visibleMs[r]!
          const latency = within(record, seenAt)
          if (latency !== undefined) latencies.push(latency)
          else if (!Number.isNaN(seenAt)) late += 1
        }
        missingHere += expected - latencies.length
        if (source === r) continue
        for (const latency of latencies) convergenceMs.push(latency)
        pairSamples.push({ from: this.regions[source]!, to: this.regions[r]!, latenciesMs: latencies, missing: expected - latencies.length })
        convergenceFrom.push({ from: this.regions[source]!, to: this.regions[r]!, expected, seen: latencies.length, missing: expected - latencies.length, late, latency: summarizeLatencies(latencies) })
      }
      const convergenceExpected = convergenceFrom.reduce((sum, pair) => sum + pair.expected, 0)
      regions.push({
        region: this.regions[r]!,
        published: own.length,
        acked: ackMs.length,
        failed,
        firstError,
        notSent: this.notSent[r]!,
        ackedPerSecond: publishWindowMs > 0 ? (ackMs.length * 1000) / publishWindowMs : 0,
        ack: summarizeLatencies(ackMs),
        deliver: summarizeLatencies(deliverMs),
        deliverMissing: ackMs.length - deliverMs.length,
        convergence: summarizeLatencies(convergenceMs),
        convergenceExpected,
        convergenceMissing: convergenceExpected - convergenceMs.length,
        convergenceFrom,
        missingHere,
        repeats: this.repeats[r]!,
        otherRegionDeliveries: this.otherRegionDeliveries[r]!,
      })
      samples.push({ region: this.regions[r]!, ackMs, deliverMs, convergenceMs, convergenceFrom: pairSamples })
    }
    return { regions, samples }
  }
}
