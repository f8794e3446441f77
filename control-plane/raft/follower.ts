// What followers and candidates do with messages: accept the leader's log, votes tallies,
// forwarding of proposals and reads, snapshots.
import type { Message } from './types.js'
import type { Raft } from './raft.js'
import { ProposalDropped, assert } from './errors.js'
import { bcastAppend } from './leader.js'

function handleAppendEntries(r: Raft, m: Message): void {
  // Invariant: a leader never truncates its own log; only followers accept appends.
  assert(r.role === 'follower', `append handled in role ${r.role}`)
  if (m.index < r.raftLog.committed) {
    r.send({ type: 'appResp', to: m.from, index: r.raftLog.committed })
    return
  }
  const lastNew = r.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries)
  if (lastNew !== undefined) {
    r.send({ type: 'appResp', to: m.from, index: lastNew })
    return
  }
  // Our log does not contain (index, logTerm). Hint the largest index whose term is at most
  // logTerm: the leader can skip every index in between (Raft §5.3, the optimisation).
  const hint = r.raftLog.findConflictByTerm(Math.min(m.index, r.raftLog.lastIndex()), m.logTerm)
  r.send({ type: 'appResp', to: m.from, index: m.index, reject: true, rejectHint: hint.index, rejectHintTerm: hint.term })
}

function handleHeartbeat(r: Raft, m: Message): void {
  r.raftLog.commitTo(m.commit)
  r.send({ type: 'heartbeatResp', to: m.from, ...(m.context === undefined ? {} : { context: m.context }) })
}

function handleSnapshot(r: Raft, m: Message): void {
  const snapshot = m.snapshot
  if (snapshot === undefined) return
  if (restore(r, m)) r.send({ type: 'appResp', to: m.from, index: r.raftLog.lastIndex() })
  else r.send({ type: 'appResp', to: m.from, index: r.raftLog.committed })
}

function restore(r: Raft, m: Message): boolean {
  const snapshot = m.snapshot
  assert(snapshot !== undefined, 'snap message without snapshot')
  assert(r.role === 'follower', `snapshot restored in role ${r.role}`)
  const { index, term, confState } = snapshot.metadata
  if (index <= r.raftLog.committed) return false
  // A snapshot whose configuration lacks us is accepted: it predates our addition (the leader only
  // sends to current members), and the conf change adding us follows in the log.
  if (r.raftLog.matchTerm(index, term)) {
    // We already hold that prefix: just fast-forward the commit index.
    r.raftLog.commitTo(index)
    return false
  }
  r.raftLog.restore(snapshot)
  r.tracker.setConfig(confState, r.raftLog.lastIndex() + 1)
  r.isLearner = r.tracker.learners.has(r.id)
  return true
}

export function stepFollower(r: Raft, m: Message): void {
  switch (m.type) {
    case 'prop':
      if (r.lead === null) throw new ProposalDropped('noLeader', `node ${r.id} knows no leader at term ${r.term}`)
      if (r.config.disableProposalForwarding) {
        throw new ProposalDropped('forwardingDisabled', `node ${r.id} is not the leader (${r.lead}) and forwarding is disabled`)
      }
      r.send({ ...m, to: r.lead })
      return
    case 'app':
      r.electionElapsedTicks = 0
      r.lead = m.from
      handleAppendEntries(r, m)
      return
    case 'heartbeat':
      r.electionElapsedTicks = 0
      r.lead = m.from
      handleHeartbeat(r, m)
      return
    case 'snap':
      r.electionElapsedTicks = 0
      r.lead = m.from
      handleSnapshot(r, m)
      return
    case 'transferLeader':
      if (r.lead !== null) r.send({ ...m, to: r.lead })
      return
    case 'timeoutNow':
      // The leader asked us to take over: campaign at once, skipping pre-vote.
      r.hup(true)
      return
    case 'readIndex':
      if (r.lead !== null) r.send({ ...m, to: r.lead })
      return
    case 'readIndexResp':
      r.readStates.push({ index: m.index, requestContext: m.context ?? new Uint8Array(0) })
      return
    default:
      return
  }
}

export function stepCandidate(r: Raft, m: Message): void {
  const myResponseType = r.role === 'preCandidate' ? 'preVoteResp' : 'voteResp'
  switch (m.type) {
    case 'prop':
      throw new ProposalDropped('noLeader', `node ${r.id} is campaigning at term ${r.term}`)
    case 'app':
      r.becomeFollower(m.term, m.from)
      handleAppendEntries(r, m)
      return
    case 'heartbeat':
      r.becomeFollower(m.term, m.from)
      handleHeartbeat(r, m)
      return
    case 'snap':
      r.becomeFollower(m.term, m.from)
      handleSnapshot(r, m)
      return
    case 'voteResp':
    case 'preVoteResp': {
      if (m.type !== myResponseType) return
      const result = r.poll(m.from, !m.reject)
      if (result === 'won') {
        if (r.role === 'preCandidate') {
          r.campaign('election')
        } else {
          r.becomeLeader()
          bcastAppend(r)
        }
      } else if (result === 'lost') {
        // A lost pre-vote or vote: back to follower at our (unchanged or current) term.
        r.becomeFollower(r.term, null)
      }
      return
    }
    default:
      return
  }
}
