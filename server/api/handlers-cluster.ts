// Cluster verbs: status (this node's Raft view joined with the cluster's node records), nodes,
// membership (add, drain, remove) and leadership transfer.
import type { ClusterState } from '../../control-plane/cluster/index.js'
import type { RaftStatus } from '../../control-plane/raft/index.js'
import type { HandlerContext, VerbHandlers } from './handler-context.js'
import { mutate, readState } from './handler-context.js'
import type { ApiReply } from './replies.js'
import { failure } from './replies.js'
import { nodeView, sortedValues } from './views.js'

type ClusterVerbs = Pick<VerbHandlers, 'CLUSTER.STATUS' | 'CLUSTER.NODES' | 'NODE.ADD' | 'NODE.DRAIN' | 'NODE.REMOVE' | 'LEADER.TRANSFER'>

/** How long LEADER.TRANSFER waits for the new leader to be seen here. */
export const leaderTransferWaitMs = 5_000
const leaderTransferPollMs = 20

function roleOf(status: RaftStatus, id: string): string {
  if (status.lead === id) return 'leader'
  if (status.confState.voters.includes(id) || status.confState.votersOutgoing.includes(id)) return 'follower'
  if (status.confState.learners.includes(id)) return 'learner'
  return 'none'
}

/** Status as this node sees it (no barrier: it must answer during an election too). */
export function clusterStatus(context: HandlerContext, state: ClusterState): ApiReply {
  const status = context.controlPlane.status()
  const ids = new Set<string>([...status.confState.voters, ...status.confState.votersOutgoing, ...status.confState.learners, ...state.nodes.keys()])
  const members = [...ids].sort().map((id) => {
    const node = state.nodes.get(id)
    const voter = status.confState.voters.includes(id) || status.confState.votersOutgoing.includes(id)
    return { id, region: node?.region ?? '', role: roleOf(status, id), state: node?.state ?? 'unknown', voter }
  })
  return {
    ok: true,
    nodeId: context.controlPlane.id,
    role: status.role,
    leader: status.lead,
    term: status.term,
    commit: status.commit,
    applied: status.applied,
    ready: context.nodeInfo.isReady?.() ?? true,
    members,
    regions: [...state.regions.keys()].sort(),
  }
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export const clusterHandlers: ClusterVerbs = {
  'CLUSTER.STATUS': async (context) => clusterStatus(context, context.controlPlane.state),
  'CLUSTER.NODES': (context, request) =>
    readState(context, request.stale, (state) => ({ ok: true, nodes: sortedValues(state.nodes).map(([, node]) => nodeView(node)) })),
  'NODE.ADD': (context, request) =>
    mutate(context, {
      type: 'addNode',
      nodeId: request.nodeId,
      clientAddress: request.clientAddress,
      peerAddress: request.peerAddress,
      adminAddress: request.adminAddress,
      region: request.region,
      masterEligible: request.masterEligible ?? true,
      tags: { ...request.tags },
    }),
  'NODE.DRAIN': (context, request) => mutate(context, { type: 'drainNode', nodeId: request.nodeId }),
  'NODE.REMOVE': (context, request) =>
    mutate(context, { type: 'removeNode', nodeId: request.nodeId, ...(request.force === undefined ? {} : { force: request.force }) }),
  'LEADER.TRANSFER': async (context, request) => {
    const before = context.controlPlane.status()
    const voters = [...before.confState.voters].sort()
    const to = request.to ?? voters.find((id) => id !== before.lead)
    if (to === undefined) return failure('RG_ERR_NO_ELIGIBLE_NODE', 'no other voter to transfer leadership to')
    if (!voters.includes(to)) return failure('RG_ERR_NOT_FOUND', `node ${to} is not a voter`, { voters })
    if (before.lead === null) return failure('RG_ERR_RAFT_PROPOSAL_DROPPED', 'no leader known: an election is under way, retry', { reason: 'noLeader', outcome: 'notApplied' })
    if (before.lead === to) return { ok: true, leader: to, term: before.term, transferred: true }
    // The leader steps the transfer itself; a follower forwards the request to the leader.
    context.controlPlane.transferLeadership(to)
    const deadline = Date.now() + leaderTransferWaitMs
    for (;;) {
      const now = context.controlPlane.status()
      if (now.lead === to) return { ok: true, leader: to, term: now.term, transferred: true }
      if (Date.now() >= deadline) {
        return failure('RG_ERR_REQUEST_TIMEOUT', `leadership did not move to ${to} within ${leaderTransferWaitMs} ms (leader ${now.lead ?? 'none'}, term ${now.term})`, {
          leader: now.lead,
          term: now.term,
          outcome: 'unknown',
        })
      }
      await delay(leaderTransferPollMs)
    }
  },
}
