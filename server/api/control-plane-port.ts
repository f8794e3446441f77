// What the control API needs from the control plane: the port `ClusterNode` satisfies. Kept to
// the members the API calls, so tests and other assemblies can pass anything with this shape.
import type { Observable } from 'rxjs'
import type { ApplyResult, ClusterEvent, ClusterState, Command } from '../../control-plane/cluster/index.js'
import type { RequestOptions } from '../../control-plane/driver/index.js'
import type { RaftStatus } from '../../control-plane/raft/index.js'

export interface ControlPlane {
  readonly id: string
  /** The state as applied on this node (stale reads). */
  readonly state: ClusterState
  /** Every event of every entry this node applies (each node applies every entry). */
  readonly events$: Observable<ClusterEvent>
  /** Proposes through Raft (a follower forwards to the leader); the state machine's answer. */
  ensure(command: Command, options?: RequestOptions): Promise<ApplyResult>
  /** Runs `read` after a ReadIndex barrier (linearizable). */
  read<T>(read: (state: ClusterState) => T, options?: RequestOptions): Promise<T>
  status(): RaftStatus
  transferLeadership(to: string): void
}

/** Facts about the node serving the API. */
export interface ApiNodeInfo {
  /** The serving node's region: a stream without `regions` is placed there. */
  readonly region: string
  /** False while the node cannot serve (storage not open, draining): answers RG_ERR_NOT_READY. */
  readonly isReady?: () => boolean
}
