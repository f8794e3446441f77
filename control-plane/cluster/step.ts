// What each command handler returns; apply() adds the applied index and the invariant checks.
import type { ClusterEvent } from './events.js'
import type { ApplyError, ApplyResult } from './result.js'
import type { ClusterState } from './state.js'

export interface Step {
  readonly state: ClusterState
  readonly result: ApplyResult
  readonly events: readonly ClusterEvent[]
}

/** A rejected command: the state is unchanged and nothing is published. */
export function rejected(state: ClusterState, error: ApplyError): Step {
  return { state, result: error, events: [] }
}
