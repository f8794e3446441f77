// The Raft state machine: terms, roles, elections, and the rules every message passes before
// the role-specific handlers (leader.ts, follower.ts) see it. Synchronous and deterministic:
// output accumulates in `msgs` and `readStates` until RawNode hands it out in a Ready.
import type { ConfChange, Entry, Message, NodeId, RaftConfig, ReadState, Role } from './types.js'
import type { ResolvedRaftConfig } from './config.js'
import type { MessageFields } from './messages.js'
import { validateConfig } from './config.js'
import { RaftLog } from './raft-log.js'
import { ProgressTracker } from './tracker.js'
import { ReadOnly } from './read-only.js'
import { assert } from './errors.js'
import {
  bytesEqual,
  campaignTransferContext,
  entriesPayloadBytes,
  makeMessage,
  voteResponseType,
} from './messages.js'
import { bcastAppend, maybeCommit, stepLeader } from './leader.js'
import { decodeConfChange, nextConfState } from './conf-change.js'
import { stepCandidate, stepFollower } from './follower.js'
import type { VoteResult } from './quorum.js'

/** Bounds the queues a misbehaving client could grow (house style: a limit on everything). */
export const maxPendingReadIndexRequests = 4096

export const campaignKinds = ['preElection', 'election', 'transfer'] as const
export type CampaignKind = (typeof campaignKinds)[number]

export class Raft {
  readonly id: NodeId
  readonly config: ResolvedRaftConfig
  term = 0
  vote: NodeId | null = null
  lead: NodeId | null = null
  role: Role = 'follower'
  isLearner = false
  readonly raftLog: RaftLog
  readonly tracker: ProgressTracker
  msgs: Message[] = []
  readStates: ReadState[] = []
  leadTransferee: NodeId | null = null
  /** Index of the last conf change the leader appended; a new one waits until it is applied. */
  pendingConfIndex = 0
  /** Leader: payload bytes appended but not yet committed (bounded by maxUncommittedEntriesSize). */
  uncommittedBytes = 0
  readOnly = new ReadOnly(maxPendingReadIndexRequests)
  /** Leader: reads that arrived before it committed an entry of its own term. */
  pendingReadIndexMessages: Message[] = []
  electionElapsedTicks = 0
  heartbeatElapsedTicks = 0
  randomizedElectionTicks = 0

  constructor(rawConfig: RaftConfig) {
    this.config = validateConfig(rawConfig)
    this.id = this.config.id
    this.raftLog = new RaftLog(this.config.storage)
    this.tracker = new ProgressTracker(this.config.maxInflightMsgs, this.config.maxInflightBytes)
    const { hardState, confState } = this.config.storage.initialState()
    this.tracker.setConfig(confState, this.raftLog.lastIndex() + 1)
    if (hardState.term !== 0 || hardState.vote !== null || hardState.commit !== 0) {
      assert(hardState.commit <= this.raftLog.lastIndex(), () => {
        return `stored commit ${hardState.commit} is beyond the stored last index ${this.raftLog.lastIndex()}`
      })
      this.raftLog.commitTo(hardState.commit)
      this.term = hardState.term
      this.vote = hardState.vote
    }
    if (this.config.applied > this.raftLog.applied) {
      assert(this.config.applied <= this.raftLog.committed, () => {
        return `config.applied ${this.config.applied} is beyond the stored commit ${this.raftLog.committed}`
      })
      // Conf changes the application already applied are replayed into the configuration.
      const replay = this.raftLog.slice(this.raftLog.applied + 1, this.config.applied + 1, Number.POSITIVE_INFINITY)
      for (const entry of replay) {
        if (entry.type !== 'confChange') continue
        const next = nextConfState(this.tracker.confState(), decodeConfChange(entry.data))
        this.tracker.setConfig(next, this.raftLog.lastIndex() + 1)
      }
      this.raftLog.appliedTo(this.config.applied)
    }
    this.isLearner = this.tracker.learners.has(this.id)
    this.becomeFollower(this.term, null)
  }

  // ---- sending ----------------------------------------------------------------------------

  send(fields: MessageFields): void {
    const message = makeMessage({ ...fields, from: fields.from === undefined || fields.from === '' ? this.id : fields.from })
    // Invariant: a node never addresses itself; self-acks are applied directly.
    assert(message.to !== this.id && message.to !== '', () => `message ${message.type} addressed to ${JSON.stringify(message.to)}`)
    const voteFamily = message.type === 'vote' || message.type === 'voteResp' || message.type === 'preVote' || message.type === 'preVoteResp'
    if (voteFamily) {
      assert(message.term !== 0, `${message.type} must carry a term`)
      this.msgs.push(message)
      return
    }
    // Proposals and read requests are forwarded without a term: they act as local messages.
    const forwarded = message.type === 'prop' || message.type === 'readIndex'
    this.msgs.push(forwarded ? { ...message, term: 0 } : { ...message, term: this.term })
  }

  // ---- role transitions -------------------------------------------------------------------

  private reset(term: number): void {
    if (term !== this.term) {
      assert(term > this.term, () => `term must not go back (${this.term} -> ${term})`)
      this.term = term
      this.vote = null
    }
    this.lead = null
    this.electionElapsedTicks = 0
    this.heartbeatElapsedTicks = 0
    this.resetRandomizedElectionTimeout()
    this.leadTransferee = null
    this.tracker.resetVotes()
    const lastIndex = this.raftLog.lastIndex()
    for (const [id, pr] of this.tracker.progress) pr.resetTo(lastIndex + 1, id === this.id ? lastIndex : 0)
    this.pendingConfIndex = 0
    this.uncommittedBytes = 0
    this.readOnly = new ReadOnly(maxPendingReadIndexRequests)
    this.pendingReadIndexMessages = []
  }

  private resetRandomizedElectionTimeout(): void {
    const jitter = this.config.random.int(this.config.electionTicks)
    assert(Number.isInteger(jitter) && jitter >= 0 && jitter < this.config.electionTicks, () => {
      return `RandomSource.int(${this.config.electionTicks}) returned ${jitter}`
    })
    this.randomizedElectionTicks = this.config.electionTicks + jitter
  }

  becomeFollower(term: number, lead: NodeId | null): void {
    this.reset(term)
    this.lead = lead
    this.role = 'follower'
  }

  becomePreCandidate(): void {
    assert(this.role !== 'leader', 'invalid transition leader -> preCandidate')
    // Pre-vote changes neither term nor vote: a node that cannot win disturbs nobody.
    this.tracker.resetVotes()
    this.lead = null
    this.role = 'preCandidate'
  }

  becomeCandidate(): void {
    assert(this.role !== 'leader', 'invalid transition leader -> candidate')
    this.reset(this.term + 1)
    this.vote = this.id
    this.role = 'candidate'
  }

  becomeLeader(): void {
    assert(this.role === 'candidate' || this.role === 'preCandidate', `invalid transition ${this.role} -> leader`)
    this.reset(this.term)
    this.lead = this.id
    this.role = 'leader'
    const self = this.tracker.progress.get(this.id)
    assert(self !== undefined, 'a leader is in its own configuration')
    self.becomeReplicate()
    self.recentActive = true
    // Conservative: any conf change in the uncommitted tail counts as pending.
    this.pendingConfIndex = this.raftLog.lastIndex()
    // Raft §8: an empty entry of the new term lets the leader commit (and learn) what is committed.
    const appended = this.appendEntries([{ term: 0, index: 0, type: 'normal', data: new Uint8Array(0) }])
    assert(appended, 'the empty leader entry must always fit')
  }

  // ---- ticks ------------------------------------------------------------------------------

  tick(): void {
    if (this.role === 'leader') this.tickHeartbeat()
    else this.tickElection()
  }

  private tickElection(): void {
    this.electionElapsedTicks++
    if (this.promotable() && this.electionElapsedTicks >= this.randomizedElectionTicks) {
      this.electionElapsedTicks = 0
      this.step(makeMessage({ type: 'hup', from: this.id }))
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsedTicks++
    this.electionElapsedTicks++
    if (this.electionElapsedTicks >= this.config.electionTicks) {
      this.electionElapsedTicks = 0
      if (this.config.checkQuorum) this.step(makeMessage({ type: 'checkQuorum', from: this.id }))
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.role === 'leader' && this.leadTransferee !== null) this.leadTransferee = null
    }
    if (this.role !== 'leader') return
    if (this.heartbeatElapsedTicks >= this.config.heartbeatTicks) {
      this.heartbeatElapsedTicks = 0
      this.step(makeMessage({ type: 'beat', from: this.id }))
    }
  }

  /** May this node campaign? Voters only, and not while a received snapshot is unpersisted. */
  promotable(): boolean {
    return this.tracker.isVoter(this.id) && !this.raftLog.hasPendingSnapshot()
  }

  // ---- the common step --------------------------------------------------------------------

  step(m: Message): void {
    if (m.term === 0) {
      // Local message (or a forwarded proposal / read request): no term rules.
    } else if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        const force = bytesEqual(m.context, campaignTransferContext)
        const inLease = this.config.checkQuorum && this.lead !== null && this.electionElapsedTicks < this.config.electionTicks
        // Raft thesis §4.2.3: a node that recently heard from a leader ignores vote requests,
        // unless the leader itself asked the candidate to campaign (leadership transfer).
        if (!force && inLease) return
      }
      if (m.type === 'preVote') {
        // A pre-vote never changes our term.
      } else if (m.type === 'preVoteResp' && !m.reject) {
        // The granted pre-vote carries the term the candidate will campaign at; keep ours.
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from)
      } else {
        this.becomeFollower(m.term, null)
      }
    } else if (m.term < this.term) {
      if ((this.config.checkQuorum || this.config.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // A stale leader (e.g. after a partition) would otherwise never learn it was replaced;
        // with check-quorum or pre-vote our term would not reach it through votes.
        this.send({ type: 'appResp', to: m.from })
      } else if (m.type === 'preVote') {
        this.send({ type: 'preVoteResp', to: m.from, term: this.term, reject: true })
      }
      return
    }

    switch (m.type) {
      case 'hup':
        this.hup(false)
        return
      case 'vote':
      case 'preVote':
        this.handleVoteRequest(m, m.type)
        return
      default:
        break
    }
    switch (this.role) {
      case 'leader':
        stepLeader(this, m)
        return
      case 'candidate':
      case 'preCandidate':
        stepCandidate(this, m)
        return
      case 'follower':
        stepFollower(this, m)
        return
    }
  }

  private handleVoteRequest(m: Message, type: 'vote' | 'preVote'): void {
    const canVote =
      this.vote === m.from || (this.vote === null && this.lead === null) || (type === 'preVote' && m.term > this.term)
    // Raft §5.4.1: grant only to a candidate whose log is at least as up to date as ours.
    if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
      // The vote reply depends on `vote` being persisted: the Ready contract persists first.
      this.send({ type: voteResponseType(type), to: m.from, term: m.term, reject: false })
      if (type === 'vote') {
        this.electionElapsedTicks = 0
        this.vote = m.from
      }
    } else {
      this.send({ type: voteResponseType(type), to: m.from, term: this.term, reject: true })
    }
  }

  /** Starts an election if allowed. `transfer`: asked by the leader (TimeoutNow). */
  hup(transfer: boolean): void {
    if (this.role === 'leader') return
    if (!this.promotable()) return
    if (this.hasUnappliedConfChanges()) return
    this.campaign(transfer ? 'transfer' : this.config.preVote ? 'preElection' : 'election')
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.raftLog.committed <= this.raftLog.applied) return false
    const lo = Math.max(this.raftLog.applied + 1, this.raftLog.firstIndex())
    const entries = this.raftLog.slice(lo, this.raftLog.committed + 1, Number.POSITIVE_INFINITY)
    return entries.some((entry) => entry.type === 'confChange')
  }

  campaign(kind: CampaignKind): void {
    if (!this.promotable()) return
    let voteType: 'vote' | 'preVote'
    let term: number
    if (kind === 'preElection') {
      this.becomePreCandidate()
      voteType = 'preVote'
      term = this.term + 1
    } else {
      this.becomeCandidate()
      voteType = 'vote'
      term = this.term
    }
    if (this.poll(this.id, true) === 'won') {
      // A single-voter configuration wins at once.
      if (kind === 'preElection') this.campaign('election')
      else this.becomeLeader()
      return
    }
    const lastIndex = this.raftLog.lastIndex()
    const lastTerm = this.raftLog.lastTerm()
    for (const id of this.tracker.voterIds()) {
      if (id === this.id) continue
      this.send({
        type: voteType,
        to: id,
        term,
        index: lastIndex,
        logTerm: lastTerm,
        ...(kind === 'transfer' ? { context: campaignTransferContext } : {}),
      })
    }
  }

  poll(from: NodeId, granted: boolean): VoteResult {
    this.tracker.recordVote(from, granted)
    return this.tracker.tally().result
  }

  // ---- appending --------------------------------------------------------------------------

  /** Leader: stamps and appends entries; false when the uncommitted-size bound refuses them. */
  appendEntries(entries: readonly Entry[]): boolean {
    const lastIndex = this.raftLog.lastIndex()
    const stamped = entries.map((entry, i) => ({ ...entry, term: this.term, index: lastIndex + 1 + i }))
    if (!this.increaseUncommittedBytes(stamped)) return false
    const newLast = this.raftLog.append(stamped)
    // The leader acknowledges its own entries; persistence happens in parallel (thesis §10.2.1).
    this.tracker.progress.get(this.id)?.maybeUpdate(newLast)
    maybeCommit(this)
    return true
  }

  private increaseUncommittedBytes(entries: readonly Entry[]): boolean {
    const bytes = entriesPayloadBytes(entries)
    // Empty entries never count; a single entry is always allowed into an empty window.
    if (this.uncommittedBytes > 0 && bytes > 0 && this.uncommittedBytes + bytes > this.config.maxUncommittedEntriesSize) {
      return false
    }
    this.uncommittedBytes += bytes
    return true
  }

  reduceUncommittedBytes(entries: readonly Entry[]): void {
    if (this.role !== 'leader') return
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes - entriesPayloadBytes(entries))
  }

  committedEntryInCurrentTerm(): boolean {
    return this.raftLog.termOrZero(this.raftLog.committed) === this.term
  }

  // ---- configuration ----------------------------------------------------------------------

  /** Applies a committed conf change (called when the driver advances past its entry). */
  applyConfChange(cc: ConfChange): void {
    this.tracker.setConfig(nextConfState(this.tracker.confState(), cc), this.raftLog.lastIndex() + 1)
    this.isLearner = this.tracker.learners.has(this.id)
    if (this.role !== 'leader') return
    if (!this.tracker.isVoter(this.id)) {
      // Removed (or demoted): tell the others what is committed, then step down.
      bcastAppend(this)
      this.becomeFollower(this.term, null)
      return
    }
    if (this.leadTransferee !== null && !this.tracker.progress.has(this.leadTransferee)) this.leadTransferee = null
    // The quorum changed: more may be committed, and new members need the log.
    maybeCommit(this)
    bcastAppend(this)
  }
}
