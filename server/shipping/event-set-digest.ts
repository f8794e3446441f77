// The event-set digest of a multi-region stream on one replica: an order-independent sum of one
// hash per logical event (issue #6 "every replica in every region reports the same event set
// digest"; DESIGN §4 invariant 3). Pure.
//
// A region's log holds its own copies of remote events (its origin, its HLC, plus `Rg-Source`),
// so the digest is not over the stored copies but over what every region agrees on:
//   - the event's region-independent name `region/origin#incarnation#originSeq` of its first copy
//     (`globalKeyOf`: the copy key in the region where it was published),
//   - its id, its headers without `Rg-Source`, and its payload.
// Each logical copy counts once: a copy written twice in a region by a receiver (a resend,
// RegionDedup's verdict `resend`) is not added again. Copies of the same id published in two
// regions are two events (two names) in every region; RegionDedup may keep a different one for
// the groups of each region, but both are in every region's set. The sum of 128-bit hashes
// (lane-wise mod 2^32) does not depend on the order, so replicas that delivered the same set in
// different orders (the regions' orders differ) report the same digest.
import { addHash, globalKeyOf, hash128, hashHex, sourceHeader, zeroHash } from '../../data-plane/persistent/index.js'
import type { Hash128, StreamEvent } from '../../data-plane/persistent/index.js'

export interface EventSetDigestView {
  /** Logical events counted. */
  readonly events: number
  /** 32 hex characters (the lane-wise sum); equal sets give equal digests. */
  readonly hash: string
}

const encoder = new TextEncoder()
const separator = 0

/** The bytes hashed for one logical event (name, id, headers but Rg-Source, payload). */
export function digestBytesOf(event: StreamEvent, holdingRegion: string): Uint8Array {
  const key = globalKeyOf(event, holdingRegion)
  // A copy whose Rg-Source does not parse is named like a local one (RegionDedup treats it so too).
  const name = key.ok ? key.value : `${holdingRegion}/${event.origin}#${event.incarnation}#${event.originSeq}`
  const parts: Uint8Array[] = [encoder.encode(name), encoder.encode(event.id)]
  for (const [header, value] of event.headers) if (header !== sourceHeader) parts.push(encoder.encode(`${header}:${value}`))
  parts.push(event.payload)
  let size = 0
  for (const part of parts) size += part.length + 1
  const bytes = new Uint8Array(size)
  let offset = 0
  for (const part of parts) {
    bytes.set(part, offset)
    offset += part.length
    bytes[offset++] = separator
  }
  return bytes
}

export class EventSetDigest {
  #hash: Hash128 = zeroHash
  #events = 0

  constructor(readonly region: string) {}

  add(event: StreamEvent): void {
    this.#hash = addHash(this.#hash, hash128(digestBytesOf(event, this.region)))
    this.#events++
  }

  view(): EventSetDigestView {
    return { events: this.#events, hash: hashHex(this.#hash) }
  }
}
