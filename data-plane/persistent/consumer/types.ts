// What goes into and out of the group controller core (group-controller.ts): settings, the
// inputs' arguments, and the `ready()` value the driver acts on. Plain data, no behaviour.

export const controllerModes = ['exclusive', 'load-balanced'] as const
export type ControllerMode = (typeof controllerModes)[number]

export const deadLetterReasons = ['max-deliveries', 'term', 'max-lag'] as const
export type DeadLetterReason = (typeof deadLetterReasons)[number]

export interface GroupSettings {
  readonly mode: ControllerMode
  /** Per-member window: default and cap of what a member asks for at JOIN. */
  readonly maxInFlight: number
  readonly ackWaitMs: number
  /** Deliveries after which an unacked message is dead-lettered; 0 = unlimited. */
  readonly maxDeliveries: number
  /** Messages further than this behind the head are dead-lettered when they come up again; 0 = off. */
  readonly maxLag: number
  readonly heartbeatMsDefault: number
  /** A member is dropped after this many heartbeat periods without one. */
  readonly missedHeartbeatsMax: number
  /** FETCH without `expiresMs` waits this long. */
  readonly fetchExpiresMsDefault: number
  /** A FETCH with at least one message ends once nothing more was sent for this long. */
  readonly fetchIdleMs: number
  readonly deadLetterRetryMs: number
}

export interface ControllerIdentity {
  /** The controller term (the designation's): every progress operation carries it. */
  readonly term: number
  /** This controller life's writer name in the progress CRDT (node id + a per-life nonce). */
  readonly writer: string
}

export interface JoinInput {
  readonly member: string
  readonly deliver: string
  readonly maxInFlight?: number
  readonly heartbeatMs?: number
}

export interface JoinResult {
  readonly member: string
  readonly term: number
  readonly mode: ControllerMode
  readonly active: boolean
  readonly heartbeatMs: number
  readonly maxInFlight: number
}

export interface FetchInput {
  /** The driver's id for this request (unique while it waits). */
  readonly requestId: string
  readonly replyTo: string
  readonly max: number
  readonly expiresMs?: number
  readonly member?: string
}

export const ackInputKinds = ['ack', 'nack', 'progress', 'term'] as const
export type AckInputKind = (typeof ackInputKinds)[number]

export interface AckInput {
  readonly index: number
  /** Rg-Deliveries of the delivery being answered. */
  readonly deliveries: number
  readonly kind: AckInputKind
  readonly delayMs?: number
  readonly reason?: string
}

/** What happened to an ack (all are answered ok except `not-found`). */
export type AckVerdict = 'acked' | 'nacked' | 'extended' | 'terminated' | 'settling'

/** One thing to publish, in order. */
export type ControllerSend =
  | { readonly kind: 'message'; readonly to: string; readonly index: number; readonly deliveries: number; readonly member: string | undefined }
  | { readonly kind: 'status'; readonly to: string; readonly status: 'active' | 'batch-complete' }

export interface DeadLetterOrder {
  readonly index: number
  readonly reason: DeadLetterReason
  readonly deliveries: number
  readonly detail?: string
}

export interface ControllerReady {
  /** Deliveries and status messages, in the order they must be published. */
  readonly sends: readonly ControllerSend[]
  /** Messages to move to the dead-letter stream; answer each with `deadLettered(index, ok)`. */
  readonly deadLetters: readonly DeadLetterOrder[]
  /** Members dropped since the last ready (left, gone, missed heartbeats). */
  readonly droppedMembers: readonly string[]
}

export interface ControllerCounters {
  /** First deliveries. */
  delivered: number
  /** Deliveries after the first (nack, ack wait, member gone, failover). */
  redelivered: number
  acked: number
  nacked: number
  /** Ack waits that expired. */
  ackWaitExpired: number
  deadLettered: number
  /** Outstanding messages whose event was gone from the stream (retention). */
  dropped: number
}

export interface MemberSnapshot {
  readonly member: string
  readonly deliver: string
  readonly active: boolean
  readonly inFlight: number
  readonly maxInFlight: number
  readonly heartbeatMs: number
  readonly lastSeenAgoMs: number
}

export interface ControllerSnapshot {
  readonly term: number
  readonly mode: ControllerMode
  /** The next index to dispatch for the first time. */
  readonly head: number
  /** Events delivered in the stream (what can be dispatched). */
  readonly available: number
  readonly outstanding: number
  readonly inFlight: number
  /** Outstanding, waiting for a member (redeliveries). */
  readonly waiting: number
  /** Nacked with a delay, not due yet. */
  readonly delayed: number
  readonly fetches: number
  readonly members: readonly MemberSnapshot[]
  readonly counters: Readonly<ControllerCounters>
  readonly fenced: boolean
}
