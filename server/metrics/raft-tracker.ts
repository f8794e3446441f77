// Counts Raft elections this node started and leader changes it saw, from samples of its Raft
// status (the driver exposes no such counters). Pure: no timers, no clock.
//
// Elections started: a node votes for itself only when it campaigns, so a sample whose `vote` is
// the node itself, at a term not counted yet, is one election it started in that term (whether
// it won or lost). Leader changes: a sample that names a leader other than the last one seen, or
// the same leader at a new term (re-elected). Both are exact as long as at least one sample
// falls inside every term (a term shorter than the sampling interval can be missed).
import type { NodeId, Role } from '../../control-plane/raft/index.js'

export interface RaftSample {
  readonly id: NodeId
  readonly term: number
  readonly vote: NodeId | null
  readonly lead: NodeId | null
  readonly role: Role
}

export class RaftTracker {
  electionsStarted = 0
  leaderChanges = 0
  #countedElectionTerm = -1
  #lastLeader: NodeId | null = null
  #lastLeaderTerm = -1
  #sampled = false

  observe(sample: RaftSample): void {
    const first = !this.#sampled
    this.#sampled = true
    if (sample.vote === sample.id && sample.term > this.#countedElectionTerm) {
      // The first sample after a restart may show a vote cast before it: count it only when the
      // node is campaigning or leading now (an election of this process).
      if (!first || sample.role === 'candidate' || sample.role === 'leader') this.electionsStarted += 1
      this.#countedElectionTerm = sample.term
    }
    if (sample.lead !== null && (sample.lead !== this.#lastLeader || sample.term !== this.#lastLeaderTerm)) {
      this.leaderChanges += 1
      this.#lastLeader = sample.lead
      this.#lastLeaderTerm = sample.term
    }
  }
}
