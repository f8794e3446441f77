// Quorum arithmetic, pure: the commit index a set of voters agrees on, and the outcome of a
// vote. A joint configuration (incoming + outgoing voters) needs a majority of each half.
import type { NodeId } from './types.js'

export const voteResults = ['pending', 'lost', 'won'] as const
export type VoteResult = (typeof voteResults)[number]

/**
 * The highest index that a majority of `voters` has acknowledged. `acked(id)` returns a voter's
 * acknowledged index (0 when unknown). An empty voter set imposes no constraint: +Infinity, so
 * that it is neutral in a joint configuration's minimum.
 */
export function majorityCommittedIndex(voters: ReadonlySet<NodeId>, acked: (id: NodeId) => number): number {
  const count = voters.size
  if (count === 0) return Number.POSITIVE_INFINITY
  const indexes: number[] = []
  for (const id of voters) indexes.push(acked(id))
  // Sorted descending, the element at position floor(n/2) is acknowledged by n/2+1 voters.
  indexes.sort((a, b) => b - a)
  return indexes[Math.floor(count / 2)] as number
}

/** The outcome of a vote among `voters`; `votes` holds the answers received so far. */
export function majorityVoteResult(voters: ReadonlySet<NodeId>, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.size === 0) return 'won'
  let granted = 0
  let missing = 0
  for (const id of voters) {
    const vote = votes.get(id)
    if (vote === undefined) missing++
    else if (vote) granted++
  }
  const quorum = Math.floor(voters.size / 2) + 1
  if (granted >= quorum) return 'won'
  if (granted + missing >= quorum) return 'pending'
  return 'lost'
}

export interface JointVoters {
  readonly incoming: ReadonlySet<NodeId>
  readonly outgoing: ReadonlySet<NodeId>
}

export function jointCommittedIndex(config: JointVoters, acked: (id: NodeId) => number): number {
  return Math.min(majorityCommittedIndex(config.incoming, acked), majorityCommittedIndex(config.outgoing, acked))
}

export function jointVoteResult(config: JointVoters, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const first = majorityVoteResult(config.incoming, votes)
  const second = majorityVoteResult(config.outgoing, votes)
  if (first === second) return first
  if (first === 'lost' || second === 'lost') return 'lost'
  return 'pending'
}
