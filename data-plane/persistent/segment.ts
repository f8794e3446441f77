// Sealed segment summaries for cheap anti-entropy confirmation (DESIGN §3.2.3): two replicas
// that hold the same events of an origin's sequence range compute equal summaries, so a
// matching summary confirms a whole segment without sending it. Pure.
//
// The digest hashes the copies sorted by sequence (storage key, then the hash of the encoded
// copy), so it does not depend on the order the events are given in, and it differs when any
// copy is missing, extra or different (but for negligible chance; not adversarial-proof).
import { hash128, hashHex } from './hash.js'
import { encodeEvent, encodeStorageKey, originKey } from './event.js'
import type { StreamEvent } from './event.js'
import type { EventSet } from './event-set.js'

export interface SegmentSummary {
  readonly origin: string
  readonly incarnation: number
  /** Inclusive sequence range the segment covers. */
  readonly fromSeq: number
  readonly toSeq: number
  /** Copies held in the range (toSeq − fromSeq + 1 when complete). */
  readonly count: number
  /** 32 hex digits. */
  readonly digest: string
}

/** Summarizes the copies of one origin incarnation in [fromSeq, toSeq]; any order of `events`. */
export function summarizeSegment(origin: string, incarnation: number, fromSeq: number, toSeq: number, events: readonly StreamEvent[]): SegmentSummary {
  if (!(Number.isInteger(fromSeq) && Number.isInteger(toSeq) && fromSeq >= 1 && toSeq >= fromSeq - 1)) throw new RangeError(`segment: bad range ${fromSeq}..${toSeq}`)
  const sorted = [...events].sort((a, b) => a.originSeq - b.originSeq)
  const parts: Uint8Array[] = []
  let bytes = 0
  let previous = 0
  for (const event of sorted) {
    // Caller bugs: a segment holds one origin incarnation's copies, each sequence once.
    if (event.origin !== origin || event.incarnation !== incarnation) throw new RangeError(`segment: event of ${originKey(event.origin, event.incarnation)} in a segment of ${originKey(origin, incarnation)}`)
    if (event.originSeq < fromSeq || event.originSeq > toSeq) throw new RangeError(`segment: sequence ${event.originSeq} outside ${fromSeq}..${toSeq}`)
    if (event.originSeq === previous) throw new RangeError(`segment: sequence ${event.originSeq} twice`)
    previous = event.originSeq
    const key = encodeStorageKey(event)
    const content = hash128(encodeEvent(event))
    const part = new Uint8Array(key.length + 17)
    part[0] = key.length
    part.set(key, 1)
    const view = new DataView(part.buffer)
    for (let lane = 0; lane < 4; lane++) view.setUint32(1 + key.length + lane * 4, content[lane] as number)
    parts.push(part)
    bytes += part.length
  }
  const all = new Uint8Array(bytes + 16)
  const header = new DataView(all.buffer)
  header.setUint32(0, incarnation)
  header.setFloat64(4, fromSeq)
  header.setUint32(12, toSeq - fromSeq + 1)
  let offset = 16
  for (const part of parts) {
    all.set(part, offset)
    offset += part.length
  }
  return { origin, incarnation, fromSeq, toSeq, count: sorted.length, digest: hashHex(hash128(all)) }
}

/** The summary this replica computes for the same range as `theirs`. */
export function summarizeHeld(set: EventSet, theirs: Pick<SegmentSummary, 'origin' | 'incarnation' | 'fromSeq' | 'toSeq'>): SegmentSummary {
  const events = set.eventsInRange({ originKey: originKey(theirs.origin, theirs.incarnation), fromSeq: theirs.fromSeq, toSeq: theirs.toSeq })
  return summarizeSegment(theirs.origin, theirs.incarnation, theirs.fromSeq, theirs.toSeq, events)
}

export function segmentsEqual(a: SegmentSummary, b: SegmentSummary): boolean {
  return a.origin === b.origin && a.incarnation === b.incarnation && a.fromSeq === b.fromSeq && a.toSeq === b.toSeq && a.count === b.count && a.digest === b.digest
}

/** Whether this replica holds exactly the segment a peer summarized (nothing to pull for it). */
export function confirmsSegment(set: EventSet, theirs: SegmentSummary): boolean {
  return segmentsEqual(summarizeHeld(set, theirs), theirs)
}
