// Messages between the replicas of one stream (and from the controller that closes origins).
// They travel on the peer transport's `data` channel, encoded by codec.ts. Tagged union.
//
// Every message names its stream (one channel carries every stream of a node pair).
// Facts in these messages are monotone and safe to repeat, drop, reorder or relay: a held or
// durable prefix only grows, a commit only grows, a heartbeat is a promise by its origin, and a
// close decision is final once committed by the control plane.
import type { StreamEvent } from '../event.js'
import type { Heartbeat, CloseDecision } from '../order.js'

/** One entry of a version vector on the wire: an origin incarnation and a sequence. */
export interface VectorEntry {
  readonly origin: string
  readonly incarnation: number
  readonly seq: number
}

export const replicaMessageKinds = ['push', 'durable', 'heartbeat', 'digest', 'closes', 'closes-applied', 'fence', 'fenced'] as const
export type ReplicaMessageKind = (typeof replicaMessageKinds)[number]

/** Events from their origin (or re-sent by anti-entropy). `commit`: the origin's committed prefix. */
export interface PushMessage {
  readonly kind: 'push'
  readonly stream: string
  readonly events: readonly StreamEvent[]
  /** Sequences of the sender's own incarnation known durable on a majority (0 = none / unknown). */
  readonly commit: VectorEntry | null
}

/** "I hold these prefixes durably" — sent to an origin after its events were synced. */
export interface DurableMessage {
  readonly kind: 'durable'
  readonly stream: string
  readonly entries: readonly VectorEntry[]
}

/** An origin's heartbeat (Orderer contract) plus its committed prefix. */
export interface HeartbeatMessage {
  readonly kind: 'heartbeat'
  readonly stream: string
  readonly heartbeat: Heartbeat
  readonly commitSeq: number
}

/** Anti-entropy: what the sender holds, holds durably, knows committed, last heard, and how many closes it applied. */
export interface DigestMessage {
  readonly kind: 'digest'
  readonly stream: string
  readonly held: readonly VectorEntry[]
  readonly durable: readonly VectorEntry[]
  readonly commits: readonly VectorEntry[]
  readonly heartbeats: readonly Heartbeat[]
  readonly closesKnown: number
}

/**
 * Close decisions, oldest first. From the controller (requestId > 0, answered with
 * `closes-applied` once durable) or relayed by a replica (requestId 0, no answer).
 */
export interface ClosesMessage {
  readonly kind: 'closes'
  readonly stream: string
  readonly requestId: number
  readonly decisions: readonly CloseDecision[]
}

export interface ClosesAppliedMessage {
  readonly kind: 'closes-applied'
  readonly stream: string
  readonly requestId: number
  /** Decisions of the request now applied (new or unchanged) and durable. */
  readonly applied: number
  /** The `RG_ERR_*` code that stopped the rest, or '' when all applied. */
  readonly errorCode: string
  readonly controllerTerm: number
}

/**
 * From the controller before it closes an origin incarnation: stop vouching for more of its
 * events, and say how far you hold it durably (like a Paxos prepare). Answered once durable.
 */
export interface FenceMessage {
  readonly kind: 'fence'
  readonly stream: string
  readonly requestId: number
  readonly origin: string
  readonly incarnation: number
  readonly controllerTerm: number
}

export interface FencedMessage {
  readonly kind: 'fenced'
  readonly stream: string
  readonly requestId: number
  readonly origin: string
  readonly incarnation: number
  /** false: the fence's term is below one this replica has seen (`controllerTerm` says which). */
  readonly ok: boolean
  /** The durable contiguous prefix this replica will vouch for, forever. */
  readonly durableSeq: number
  readonly controllerTerm: number
}

export type ReplicaMessage =
  | PushMessage
  | DurableMessage
  | HeartbeatMessage
  | DigestMessage
  | ClosesMessage
  | ClosesAppliedMessage
  | FenceMessage
  | FencedMessage
