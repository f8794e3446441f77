// The configuration (voters, learners, outgoing voters of a joint config) plus the leader's
// per-peer Progress and a candidate's vote tally.
import type { ConfState, NodeId } from './types.js'
import { Progress } from './progress.js'
import type { VoteResult } from './quorum.js'
import { jointCommittedIndex, jointVoteResult } from './quorum.js'
import { assert } from './errors.js'

function sortedIds(ids: Iterable<NodeId>): NodeId[] {
  return [...ids].sort((a, b) => (a.length - b.length) || (a < b ? -1 : a > b ? 1 : 0))
}

export class ProgressTracker {
  voters = new Set<NodeId>()
  votersOutgoing = new Set<NodeId>()
  learners = new Set<NodeId>()
  readonly progress = new Map<NodeId, Progress>()
  readonly votes = new Map<NodeId, boolean>()

  constructor(
    private readonly maxInflightMsgs: number,
    private readonly maxInflightBytes: number,
  ) {}

  /** Replaces the configuration; keeps the progress of peers that stay, creates the new ones. */
  setConfig(confState: ConfState, nextIndex: number): void {
    this.voters = new Set(confState.voters)
    this.votersOutgoing = new Set(confState.votersOutgoing)
    this.learners = new Set(confState.learners)
    for (const id of this.learners) {
      assert(!this.voters.has(id) && !this.votersOutgoing.has(id), `node ${id} is both a voter and a learner`)
    }
    const members = new Set([...this.voters, ...this.votersOutgoing, ...this.learners])
    for (const id of [...this.progress.keys()]) if (!members.has(id)) this.progress.delete(id)
    for (const id of members) {
      const existing = this.progress.get(id)
      if (existing === undefined) {
        const pr = new Progress(nextIndex, this.maxInflightMsgs, this.maxInflightBytes, this.learners.has(id))
        // A new member is presumed alive so that check-quorum does not fire at once.
        pr.recentActive = true
        this.progress.set(id, pr)
      } else {
        existing.isLearner = this.learners.has(id)
      }
    }
  }

  confState(): ConfState {
    return {
      voters: sortedIds(this.voters),
      learners: sortedIds(this.learners),
      votersOutgoing: sortedIds(this.votersOutgoing),
    }
  }

  isVoter(id: NodeId): boolean {
    return this.voters.has(id) || this.votersOutgoing.has(id)
  }

  /** Every member (voters and learners), sorted so that iteration is deterministic. */
  memberIds(): NodeId[] {
    return sortedIds(this.progress.keys())
  }

  voterIds(): NodeId[] {
    return sortedIds(new Set([...this.voters, ...this.votersOutgoing]))
  }

  /** One voter, no outgoing config: that voter alone is a quorum. */
  isSingleton(): boolean {
    return this.voters.size === 1 && this.votersOutgoing.size === 0
  }

  /** The largest index acknowledged by a quorum (learners never count). */
  committed(): number {
    const index = jointCommittedIndex({ incoming: this.voters, outgoing: this.votersOutgoing }, (id) => {
      return this.progress.get(id)?.match ?? 0
    })
    return Number.isFinite(index) ? index : 0
  }

  /** Whether a quorum of voters was recently active (check-quorum). */
  quorumActive(): boolean {
    const active = new Map<NodeId, boolean>()
    for (const [id, pr] of this.progress) if (!pr.isLearner) active.set(id, pr.recentActive)
    return jointVoteResult({ incoming: this.voters, outgoing: this.votersOutgoing }, active) === 'won'
  }

  resetVotes(): void {
    this.votes.clear()
  }

  /** Records `id`'s first answer; later answers from the same node are ignored. */
  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted)
  }

  tally(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0
    let rejected = 0
    for (const id of this.voterIds()) {
      const vote = this.votes.get(id)
      if (vote === true) granted++
      else if (vote === false) rejected++
    }
    return { granted, rejected, result: this.voteResult(this.votes) }
  }

  voteResult(votes: ReadonlyMap<NodeId, boolean>): VoteResult {
    return jointVoteResult({ incoming: this.voters, outgoing: this.votersOutgoing }, votes)
  }
}
