// What a leader does with messages: replicate (with flow control), count acknowledgements,
// commit, answer reads, transfer leadership, and step down when it lost its quorum.
import type { Entry, Message, NodeId } from './types.js'
import { StorageError } from './types.js'
import type { Raft } from './raft.js'
import { ProposalDropped, assert } from './errors.js'
import { entriesPayloadBytes } from './messages.js'
import { decodeConfChange, nextConfState } from './conf-change.js'

/** Advances the commit index to what a quorum matched, if that entry is from our term. */
export function maybeCommit(r: Raft): boolean {
  return r.raftLog.maybeCommit(r.tracker.committed(), r.term)
}

/**
 * Sends `to` the entries it lacks, or a snapshot when they are compacted. Returns whether a
 * message was sent. With `sendIfEmpty` false, nothing is sent when there are no new entries.
 */
export function maybeSendAppend(r: Raft, to: NodeId, sendIfEmpty: boolean): boolean {
  assert(to !== r.id, 'a leader never appends to itself through messages')
  const pr = r.tracker.progress.get(to)
  if (pr === undefined || pr.isPaused()) return false
  let prevTerm: number
  let entries: Entry[]
  try {
    prevTerm = r.raftLog.term(pr.next - 1)
    entries = r.raftLog.entries(pr.next, r.config.maxSizePerMsg)
  } catch (error) {
    if (!(error instanceof StorageError) || (error.kind !== 'compacted' && error.kind !== 'unavailable')) throw error
    return sendSnapshot(r, to)
  }
  if (entries.length === 0 && !sendIfEmpty) return false
  r.send({ type: 'app', to, index: pr.next - 1, logTerm: prevTerm, entries, commit: r.raftLog.committed })
  const last = entries[entries.length - 1]
  if (last !== undefined) {
    if (pr.state === 'replicate') {
      pr.optimisticUpdate(last.index)
      pr.inflights.add(last.index, entriesPayloadBytes(entries))
    } else if (pr.state === 'probe') {
      // Probe: one append, then wait for its answer or the next heartbeat response.
      pr.probeSent = true
    }
  }
  return true
}

function sendSnapshot(r: Raft, to: NodeId): boolean {
  const pr = r.tracker.progress.get(to)
  assert(pr !== undefined, `no progress for ${to}`)
  // Do not ship a snapshot to a peer that may well be down.
  if (!pr.recentActive) return false
  let snapshot
  try {
    snapshot = r.raftLog.snapshot()
  } catch (error) {
    if (error instanceof StorageError && error.kind === 'snapshotTemporarilyUnavailable') return false
    throw error
  }
  assert(snapshot.metadata.index > 0, 'the log is compacted, so a snapshot must exist')
  r.send({ type: 'snap', to, snapshot })
  pr.becomeSnapshot(snapshot.metadata.index)
  return true
}

export function sendAppend(r: Raft, to: NodeId): void {
  maybeSendAppend(r, to, true)
}

export function bcastAppend(r: Raft): void {
  for (const id of r.tracker.memberIds()) if (id !== r.id) sendAppend(r, id)
}

function sendHeartbeat(r: Raft, to: NodeId, context: Uint8Array | undefined): void {
  const pr = r.tracker.progress.get(to)
  assert(pr !== undefined, `no progress for ${to}`)
  // Never tell a follower to commit beyond what it is known to hold.
  const commit = Math.min(pr.match, r.raftLog.committed)
  r.send({ type: 'heartbeat', to, commit, ...(context === undefined ? {} : { context }) })
}

export function bcastHeartbeat(r: Raft, context: Uint8Array | undefined): void {
  for (const id of r.tracker.memberIds()) if (id !== r.id) sendHeartbeat(r, id, context)
}

function sendTimeoutNow(r: Raft, to: NodeId): void {
  r.send({ type: 'timeoutNow', to })
}

function respondToReadIndex(r: Raft, request: Message, index: number): void {
  if (request.from === '' || request.from === r.id) {
    r.readStates.push({ index, requestContext: request.context ?? new Uint8Array(0) })
  } else {
    r.send({ type: 'readIndexResp', to: request.from, index, ...(request.context === undefined ? {} : { context: request.context }) })
  }
}

function startReadIndex(r: Raft, request: Message): void {
  r.readOnly.addRequest(r.raftLog.committed, request)
  r.readOnly.recvAck(r.id, request.context)
  bcastHeartbeat(r, request.context)
}

function releasePendingReadIndexMessages(r: Raft): void {
  if (!r.committedEntryInCurrentTerm()) return
  const pending = r.pendingReadIndexMessages
  r.pendingReadIndexMessages = []
  for (const request of pending) startReadIndex(r, request)
}

function stepProposal(r: Raft, m: Message): void {
  if (m.entries.length === 0) throw new ProposalDropped('emptyProposal', 'a proposal needs at least one entry')
  if (!r.tracker.progress.has(r.id)) throw new ProposalDropped('notInConfig', `leader ${r.id} was removed from the configuration`)
  if (r.leadTransferee !== null) {
    throw new ProposalDropped('transferring', `leadership is being transferred from ${r.id} to ${r.leadTransferee}`)
  }
  const lastIndex = r.raftLog.lastIndex()
  let confChangeIndex = 0
  for (const [i, entry] of m.entries.entries()) {
    if (entry.type !== 'confChange') continue
    if (confChangeIndex !== 0 || r.pendingConfIndex > r.raftLog.applied) {
      throw new ProposalDropped(
        'pendingConfChange',
        `conf change at ${Math.max(confChangeIndex, r.pendingConfIndex)} is not applied yet (applied ${r.raftLog.applied})`,
      )
    }
    let cc
    try {
      cc = decodeConfChange(entry.data)
    } catch (error) {
      throw new ProposalDropped('invalidConfChange', `undecodable conf change: ${String(error)}`)
    }
    const next = nextConfState(r.tracker.confState(), cc)
    if (next.voters.length === 0) throw new ProposalDropped('invalidConfChange', `removing ${cc.nodeId} would leave no voters`)
    confChangeIndex = lastIndex + i + 1
  }
  if (!r.appendEntries(m.entries)) {
    throw new ProposalDropped(
      'uncommittedSizeLimit',
      `${r.uncommittedBytes} uncommitted bytes; limit ${r.config.maxUncommittedEntriesSize}`,
    )
  }
  if (confChangeIndex !== 0) r.pendingConfIndex = confChangeIndex
  bcastAppend(r)
}

function stepReadIndex(r: Raft, m: Message): void {
  if (r.tracker.isSingleton()) {
    // Alone, the leader's commit index is linearizable as it stands.
    respondToReadIndex(r, m, r.raftLog.committed)
    return
  }
  if (r.readOnly.size + r.pendingReadIndexMessages.length >= r.readOnly.maxPendingRequests) return
  if (!r.committedEntryInCurrentTerm()) {
    // Raft thesis §6.4: until an entry of its term commits, the leader's commit index may be stale.
    r.pendingReadIndexMessages.push(m)
    return
  }
  startReadIndex(r, m)
}

function stepTransferLeader(r: Raft, m: Message): void {
  const transferee = m.from
  const pr = r.tracker.progress.get(transferee)
  if (pr === undefined || pr.isLearner) return // unknown peers and learners cannot lead
  if (r.leadTransferee !== null) {
    if (r.leadTransferee === transferee) return
    r.leadTransferee = null
  }
  if (transferee === r.id) return // already the leader
  // The transfer must finish within one election timeout (tickHeartbeat aborts it).
  r.electionElapsedTicks = 0
  r.leadTransferee = transferee
  if (pr.match === r.raftLog.lastIndex()) sendTimeoutNow(r, transferee)
  else sendAppend(r, transferee)
}

function stepAppendResponse(r: Raft, m: Message): void {
  const pr = r.tracker.progress.get(m.from)
  if (pr === undefined) return
  pr.recentActive = true
  if (m.reject) {
    // Fast back-off: skip straight to where the follower's log can match.
    let nextProbeIndex = m.rejectHint
    if (m.rejectHintTerm > 0) nextProbeIndex = r.raftLog.findConflictByTerm(m.rejectHint, m.rejectHintTerm).index
    if (pr.maybeDecrTo(m.index, nextProbeIndex)) {
      if (pr.state === 'replicate') pr.becomeProbe()
      sendAppend(r, m.from)
    }
    return
  }
  const wasPaused = pr.isPaused()
  if (!pr.maybeUpdate(m.index)) return
  if (pr.state === 'probe') {
    pr.becomeReplicate()
  } else if (pr.state === 'snapshot' && (pr.match >= pr.pendingSnapshot || pr.match + 1 >= r.raftLog.firstIndex())) {
    pr.becomeProbe()
    pr.becomeReplicate()
  } else if (pr.state === 'replicate') {
    pr.inflights.freeLE(m.index)
  }
  if (maybeCommit(r)) {
    releasePendingReadIndexMessages(r)
    bcastAppend(r)
  } else if (wasPaused) {
    sendAppend(r, m.from)
  }
  while (maybeSendAppend(r, m.from, false)) {
    // keep streaming while the in-flight window has room
  }
  if (m.from === r.leadTransferee && pr.match === r.raftLog.lastIndex()) sendTimeoutNow(r, m.from)
}

function stepHeartbeatResponse(r: Raft, m: Message): void {
  const pr = r.tracker.progress.get(m.from)
  if (pr === undefined) return
  pr.recentActive = true
  pr.probeSent = false
  if (pr.match < r.raftLog.lastIndex()) sendAppend(r, m.from)
  if (m.context === undefined || m.context.length === 0) return
  const acks = r.readOnly.recvAck(m.from, m.context)
  if (acks === undefined) return
  const votes = new Map<NodeId, boolean>()
  for (const id of acks) votes.set(id, true)
  if (r.tracker.voteResult(votes) !== 'won') return
  for (const status of r.readOnly.advance(m.context)) respondToReadIndex(r, status.request, status.index)
}

export function stepLeader(r: Raft, m: Message): void {
  switch (m.type) {
    case 'beat':
      bcastHeartbeat(r, r.readOnly.lastPendingRequestContext())
      return
    case 'checkQuorum':
      if (!r.tracker.quorumActive()) {
        r.becomeFollower(r.term, null)
        return
      }
      for (const [id, pr] of r.tracker.progress) if (id !== r.id) pr.recentActive = false
      return
    case 'prop':
      stepProposal(r, m)
      return
    case 'readIndex':
      stepReadIndex(r, m)
      return
    case 'transferLeader':
      stepTransferLeader(r, m)
      return
    case 'appResp':
      stepAppendResponse(r, m)
      return
    case 'heartbeatResp':
      stepHeartbeatResponse(r, m)
      return
    case 'snapStatus': {
      const pr = r.tracker.progress.get(m.from)
      if (pr === undefined || pr.state !== 'snapshot') return
      if (m.reject) pr.pendingSnapshot = 0
      pr.becomeProbe()
      // Wait for an append response or heartbeat response before probing again.
      pr.probeSent = true
      return
    }
    case 'unreachable': {
      const pr = r.tracker.progress.get(m.from)
      // Optimistic streaming to an unreachable peer is wasted; probe instead.
      if (pr !== undefined && pr.state === 'replicate') pr.becomeProbe()
      return
    }
    default:
      return
  }
}
