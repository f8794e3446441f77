// Inputs and outputs of the stream replica (stream-replica.ts), in the style of a Raft `Ready`.
import type { EventHeader, EventPosition, StreamEvent } from '../event.js'
import type { PersistentRejection } from '../errors.js'
import type { DedupWindow } from '../event-set.js'
import type { Hlc } from '../hlc.js'
import type { CloseDecision, Delivery } from '../order.js'
import type { SeqRange } from '../version-vector.js'
import type { ReplicaMessage } from './messages.js'

export const ackLevels = ['write', 'majority', 'all'] as const
export type AckLevel = (typeof ackLevels)[number]

export interface PublishRequest {
  /** The driver's handle for the ack (unique among this replica's pending publishes). */
  readonly publishId: string
  /** The producer id (`Rg-Msg-Id`), or a nuid the driver generated: the dedup identity. */
  readonly id: string
  readonly headers: readonly EventHeader[]
  readonly payload: Uint8Array
  readonly ackLevel: AckLevel
}

/**
 * The answer to a publish. `position` is the copy this publish wrote: its key in the stream's
 * order, final from the moment of the ack (its delivery index is known only once stable).
 *
 * `duplicate` / `survivor` are the dedup verdict on what this replica held when the copy was
 * written: `duplicate: true` names an earlier copy of the same id inside the window. What the
 * ack promises before stability: exactly one copy of the id per window is delivered, and at
 * least one is (the written copy is durable at `level`, and either it or an earlier copy
 * survives). The verdict can still change in two cases: a copy of the id with a lower
 * (hlc, origin) written concurrently on another origin and not yet replicated here (that copy is
 * then delivered instead), or `survivor` is cut off by a close (its origin died before a majority
 * held it: this copy is then delivered). A producer that retries after its previous attempt was
 * acked at `majority` or `all`, inside the window, always gets the final verdict.
 */
export type PublishAck =
  | {
      readonly ok: true
      readonly publishId: string
      readonly level: AckLevel
      readonly position: EventPosition
      readonly duplicate: boolean
      readonly survivor: EventPosition | null
    }
  | { readonly ok: false; readonly publishId: string; readonly error: PersistentRejection }

/** A fence this replica promised: it never vouches for more than `frozenSeq` of that incarnation. */
export interface FenceRecord {
  readonly origin: string
  readonly incarnation: number
  readonly controllerTerm: number
  readonly frozenSeq: number
}

/**
 * What the driver must write and sync, then report with `persisted(id)` (ids grow; one call
 * may cover several batches). Records are independent: a crash may keep any prefix of batches.
 */
export interface PersistBatch {
  readonly id: number
  readonly events: readonly StreamEvent[]
  /** A new HLC ceiling in ms (the highest persisted one is restored on restart). */
  readonly clockCeilingMs: number | null
  readonly fences: readonly FenceRecord[]
  /** Close decisions applied (restatements under a newer term included), in order. */
  readonly closes: readonly CloseDecision[]
}

export interface OutgoingMessage {
  readonly to: string
  readonly message: ReplicaMessage
}

export const replicaNoticeKinds = ['clock-skew', 'refused-events', 'close-refused', 'stale-fence', 'unexpected-message'] as const
export type ReplicaNoticeKind = (typeof replicaNoticeKinds)[number]

/** Something worth a log line (never needed for correctness). */
export interface ReplicaNotice {
  readonly kind: ReplicaNoticeKind
  readonly detail: string
  readonly code?: string
}

/**
 * Copies this replica no longer keeps in memory: read them from the store (held durable copies
 * of `range`, in sequence order, at most `limit`) and hand them back with `readDone(id, events)`.
 * Two uses, one shape: anti-entropy (copies a peer lacks; the replica sends them on — a read
 * that fails or is never answered only delays it, at most `readsInFlightMax` at a time), and a
 * delivered survivor's id for the dedup window (one sequence, limit 1: its fingerprint matched
 * the next copy's or a publish's; delivery or that publish waits for the answer, asked again
 * after `idReadRetryMs`; an answer without the copy means the store no longer holds it).
 */
export interface ReadRequest {
  readonly id: number
  readonly range: SeqRange
  readonly limit: number
}

export interface ReplicaReady {
  /** Write and sync this, then call `persisted(persist.id)`. Messages may be sent at once. */
  readonly persist: PersistBatch | null
  /** Reads of older copies for anti-entropy (answer with `readDone`). */
  readonly reads: readonly ReadRequest[]
  readonly messages: readonly OutgoingMessage[]
  readonly acks: readonly PublishAck[]
  /** Stable events in the region's order, duplicates skipped; indexes continue from the last. */
  readonly deliveries: readonly Delivery[]
  readonly notices: readonly ReplicaNotice[]
}

export interface StreamReplicaTiming {
  readonly heartbeatIntervalMs: number
  readonly antiEntropyIntervalMs: number
  readonly clockCeilingLeaseMs: number
  readonly ackTimeoutMs: number
}

/** What a replica holds in memory now (the bounded part of its state). */
export interface ReplicaMemory {
  /** Copies held in memory (unsettled or not yet durable). */
  readonly events: number
  /** Copies the orderer waits to deliver. */
  readonly waiting: number
  /** Survivors in the dedup window. */
  readonly dedupIds: number
  /** Bytes of the dedup window's arrays (fingerprints and positions: ~40–60 per survivor). */
  readonly dedupBytes: number
  /** Anti-entropy reads waiting for the store. */
  readonly readsInFlight: number
  /** Reads of delivered survivors' ids waiting for the store (delivery or a publish waits for them). */
  readonly idReadsInFlight: number
}

/** Where delivery resumes after a restart (the driver persisted its deliveries). */
export interface RestoredResume {
  readonly lastDelivered: EventPosition
  readonly deliveredCount: number
  /**
   * The dedup window at that point: the delivered survivors whose wallMs is within
   * `dedupWindowMs` of `lastDelivered` (more is harmless), built while reading them so a window
   * of a million ids never exists as a million objects. The replica's orderer adopts it.
   */
  readonly window: DedupWindow
}

/**
 * What a restarted node reads back from its disk — its metadata and the few copies above the
 * resume point, never the whole history (`restoreFromHistory` computes it from a full history,
 * the event store's `readReplicaRestore` from its indexes).
 */
export interface RestoredReplicaState {
  /** Per origin key (`origin#incarnation`): the contiguous prefix held durably and the sequences held above it. */
  readonly held: ReadonlyMap<string, { readonly contiguous: number; readonly gaps: readonly number[] }>
  /**
   * Per origin key, its SETTLED prefix: the highest sequence whose copy is at or below
   * `resume.lastDelivered` in delivery order (capped at the incarnation's close point), with its
   * hlc. Everything there was committed and taken by the orderer before the restart.
   */
  readonly settled: ReadonlyMap<string, { readonly seq: number; readonly hlc: Hlc }>
  /** The held copies above each settled prefix (up to the close point of a closed incarnation), any order. */
  readonly events: readonly StreamEvent[]
  /** null: nothing was delivered (then `settled` is empty and `events` is everything held). */
  readonly resume: RestoredResume | null
  /** Highest persisted HLC ceiling (0 = none). */
  readonly clockCeilingMs: number
  readonly fences: readonly FenceRecord[]
  readonly closes: readonly CloseDecision[]
}

export interface StreamReplicaOptions {
  readonly stream: string
  /** This node's id: the origin name of the events it accepts. */
  readonly node: string
  /** This life of the node (persisted by the driver; +1 on every start after the first). */
  readonly incarnation: number
  /** The region's replica set (this node included); their incarnation 1 are the stream's first origins. */
  readonly replicas: readonly string[]
  readonly dedupWindowMs: number
  readonly maxSkewMs?: number
  readonly timing?: Partial<StreamReplicaTiming>
  readonly restored?: RestoredReplicaState
}
