// The messages between a shipper (in the source region A) and a receiver (any replica of the
// destination region B), one tagged union. Every message names the stream, the source region and
// the shipper's controller term (the designation `ship:<B>` of stream's A, which only grows).
//
//   shipper → receiver   resolve    "where do you stand?" (after a takeover, a failure, a timeout)
//   receiver → shipper   resolved   cursor = highest shipSeq from A that is committed in B, as far
//                                   as this receiver knows (a contiguous prefix)
//   shipper → receiver   batch      A-originated events with shipSeq fromSeq .. fromSeq+n−1
//   receiver → shipper   batch-ack  cursor after the batch's events are acked at `majority` in B
//   receiver → shipper   refused    why a resolve or batch was not taken (see RefusalReason)
import type { StreamEvent } from '../event.js'

export const shipMessageKinds = ['resolve', 'resolved', 'batch', 'batch-ack', 'refused'] as const
export type ShipMessageKind = (typeof shipMessageKinds)[number]

export const shipRefusalReasons = [
  /** A newer shipper term was seen: the sender must stop (`term` carries the newer one). */
  'stale-term',
  /** The batch starts past what this receiver has (`expected` = the next shipSeq it takes). */
  'gap',
  /** This receiver cannot write now (no origin slot, publishes failing or timing out): try another. */
  'unavailable',
  /** Too much in flight at the receiver: back off, resend from `expected`. */
  'busy',
  /** A message that breaks the protocol (not contiguous, re-shipped copy, wrong stream): a bug. */
  'malformed',
] as const
export type ShipRefusalReason = (typeof shipRefusalReasons)[number]

interface ShipBase {
  readonly stream: string
  readonly sourceRegion: string
  readonly term: number
}

export interface ResolveMessage extends ShipBase {
  readonly kind: 'resolve'
  readonly requestId: number
}

export interface ResolvedMessage extends ShipBase {
  readonly kind: 'resolved'
  readonly requestId: number
  readonly cursor: number
}

export interface BatchMessage extends ShipBase {
  readonly kind: 'batch'
  readonly batchId: number
  /** shipSeq of `events[0]`; the events are consecutive. */
  readonly fromSeq: number
  readonly events: readonly StreamEvent[]
}

export interface BatchAckMessage extends ShipBase {
  readonly kind: 'batch-ack'
  readonly batchId: number
  readonly cursor: number
}

export interface RefusedMessage extends ShipBase {
  readonly kind: 'refused'
  /** The refused batch, or 0 for a refused resolve. */
  readonly batchId: number
  readonly reason: ShipRefusalReason
  /** The receiver's cursor (committed prefix it knows). */
  readonly cursor: number
  /** The next shipSeq this receiver would take. */
  readonly expected: number
}

export type ShipMessage = ResolveMessage | ResolvedMessage | BatchMessage | BatchAckMessage | RefusedMessage
export type ToReceiver = ResolveMessage | BatchMessage
export type ToShipper = ResolvedMessage | BatchAckMessage | RefusedMessage

export interface OutgoingShipMessage<M extends ShipMessage = ShipMessage> {
  readonly to: string
  readonly message: M
}
