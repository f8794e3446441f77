// What every verb handler gets, and the two ways it reaches the control plane: `mutate`
// (through Raft: ensure) and `readState` (ReadIndex-linearizable, or local with `stale`).
import type { ClusterState, Command, JsonObject } from '../../control-plane/cluster/index.js'
import type { Logger } from '../../shared/log.js'
import type { ApiVerb, ParsedApiRequest } from '../../shared/api/index.js'
import type { ApiNodeInfo, ControlPlane } from './control-plane-port.js'
import type { ApiReply } from './replies.js'
import { fromApplyResult, fromThrown } from './replies.js'

export interface HandlerContext {
  readonly controlPlane: ControlPlane
  readonly nodeInfo: ApiNodeInfo
  readonly logger: Logger
  /** Persistent streams' data on this node (STREAM.FETCH); undefined where there is none. */
  readonly streamData?: () => StreamDataPort | undefined
}

/** One stored event as the data verbs see it. */
export interface StoredEventView {
  readonly index: number
  readonly event: {
    readonly id: string
    readonly origin: string
    readonly incarnation: number
    readonly originSeq: number
    readonly hlc: { readonly wallMs: number; readonly logical: number }
    readonly headers: ReadonlyArray<readonly [string, string]>
    readonly payload: Uint8Array
  }
}

/** What the data verbs need of server/streams (kept narrow: no import of the data plane here). */
export interface StreamDataPort {
  /** Delivered events of `namespace/name` from index `from`, at most `max`; undefined if the stream has no engine here. */
  fetch(key: string, from: number, max: number): Promise<readonly StoredEventView[]> | undefined
  /** Events delivered so far, or undefined if the stream has no engine here. */
  deliveredCount(key: string): number | undefined
  /**
   * STREAM.INFO's `shipping` section of a stream placed in several regions, as this node knows it
   * (replication lag per link, this replica's event-set digest; server/shipping `info`); undefined
   * for a single-region stream.
   */
  shipping?(key: string): object | undefined
}

export type VerbHandler<V extends ApiVerb> = (context: HandlerContext, request: ParsedApiRequest<V>) => Promise<ApiReply>
export type VerbHandlers = { readonly [V in ApiVerb]: VerbHandler<V> }

/**
 * Proposes `command` and answers with the cluster's result. A follower's proposal is forwarded
 * to the leader by Raft and resolves when the entry is applied here, so a mutation sent to any
 * node's API applies once, cluster-wide.
 */
export async function mutate(context: HandlerContext, command: Command, definition?: JsonObject): Promise<ApiReply> {
  try {
    return fromApplyResult(await context.controlPlane.ensure(command), definition)
  } catch (error) {
    return fromThrown(error)
  }
}

/** Linearizable read (ReadIndex) unless `stale`: then this node's applied state, at once. */
export async function readState(context: HandlerContext, stale: boolean | undefined, read: (state: ClusterState) => ApiReply): Promise<ApiReply> {
  if (stale === true) return read(context.controlPlane.state)
  try {
    return await context.controlPlane.read(read)
  } catch (error) {
    return fromThrown(error)
  }
}
