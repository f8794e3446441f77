// Reconciling the Raft configuration with the cluster state, as a pure decision: given the state
// (which nodes exist, which are master-eligible), the current Raft configuration and the
// leader's progress view, what is the ONE next step? Single-server changes only (no joint
// consensus); the runtime proposes the step, waits until it is applied, and asks again.
//
// Order of business: removals first (a removed node stops counting), then new learners, then
// promotions of caught-up master-eligible learners, then demotions of voters that are no longer
// master-eligible. Never remove or demote the last voter; never remove or demote the leader
// itself: transfer leadership first.
import type { ClusterState } from '../../control-plane/cluster/index.js'
import type { ConfChange, ConfState, NodeId, ProgressStatus } from '../../control-plane/raft/index.js'

/** A learner is caught up when its match index is at most this many entries behind the leader's last index. */
export const promotionLagEntriesMax = 16

export interface MembershipView {
  readonly state: ClusterState
  readonly confState: ConfState
  /** The leader's progress per member (RaftStatus.progress). */
  readonly progress: Readonly<Record<NodeId, ProgressStatus>>
  readonly leaderId: NodeId
  /** The leader's last log index. */
  readonly lastIndex: number
}

export type MembershipStep =
  | { readonly kind: 'none' }
  | { readonly kind: 'change'; readonly change: ConfChange; readonly why: string }
  | { readonly kind: 'transfer'; readonly to: NodeId; readonly why: string }

const none: MembershipStep = { kind: 'none' }

function sorted(ids: Iterable<NodeId>): NodeId[] {
  return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
}

function caughtUp(view: MembershipView, id: NodeId): boolean {
  const progress = view.progress[id]
  return progress !== undefined && progress.state === 'replicate' && progress.match + promotionLagEntriesMax >= view.lastIndex
}

/** Another voter to hand leadership to: caught up, active in the state when known; undefined if none. */
function transferTarget(view: MembershipView, leaving: NodeId): NodeId | undefined {
  return sorted(view.confState.voters).find((id) => {
    if (id === leaving || !caughtUp(view, id)) return false
    const record = view.state.nodes.get(id)
    return record === undefined || record.state === 'active'
  })
}

/** Takes `id` out of the voters (remove or demote), guarding the last voter and the leader. */
function leaveVoters(view: MembershipView, id: NodeId, change: ConfChange, why: string): MembershipStep | undefined {
  if (!view.confState.voters.includes(id)) return { kind: 'change', change, why }
  if (view.confState.voters.length <= 1) return undefined // never the last voter
  if (id === view.leaderId) {
    const to = transferTarget(view, id)
    return to === undefined ? undefined : { kind: 'transfer', to, why: `leader ${id} must hand over first: ${why}` }
  }
  return { kind: 'change', change, why }
}

/** The next single-server change (or leadership transfer) that brings Raft closer to the state. */
export function nextMembershipStep(view: MembershipView): MembershipStep {
  const { state, confState } = view
  const voters = new Set(confState.voters)
  const learners = new Set(confState.learners)
  // A joint configuration is never entered by this system; do nothing rather than guess.
  if (confState.votersOutgoing.length > 0) return none
  // 1. Removals: members whose record says `removed`. A member without a record is kept (the
  //    bootstrap voters are members before their `addNode` records arrive).
  for (const id of sorted([...voters, ...learners])) {
    if (state.nodes.get(id)?.state !== 'removed') continue
    const step = leaveVoters(view, id, { kind: 'removeNode', nodeId: id }, `node ${id} was removed from the cluster`)
    if (step !== undefined) return step
  }
  // 2. New learners: active nodes that are not members yet.
  for (const id of sorted(state.nodes.keys())) {
    const record = state.nodes.get(id)
    if (record === undefined || record.state !== 'active' || voters.has(id) || learners.has(id)) continue
    return { kind: 'change', change: { kind: 'addLearner', nodeId: id }, why: `node ${id} joined (region ${record.region})` }
  }
  // 3. Promotions: caught-up, active, master-eligible learners.
  for (const id of sorted(learners)) {
    const record = state.nodes.get(id)
    if (record === undefined || record.state !== 'active' || !record.masterEligible || !caughtUp(view, id)) continue
    return { kind: 'change', change: { kind: 'addVoter', nodeId: id }, why: `master-eligible node ${id} caught up` }
  }
  // 4. Demotions: voters whose record says they are not master-eligible.
  for (const id of sorted(voters)) {
    const record = state.nodes.get(id)
    if (record === undefined || record.masterEligible || record.state === 'removed') continue
    const step = leaveVoters(view, id, { kind: 'addLearner', nodeId: id }, `node ${id} is not master-eligible`)
    if (step !== undefined) return step
  }
  return none
}
