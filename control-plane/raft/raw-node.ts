// The driver's handle on one Raft node. Every input is a method call; every output comes out of
// ready(). See README.md for the Ready contract. Errors:
// - propose/proposeConfChange throw ProposalDropped when the proposal was not appended;
// - misuse (stepping a local-only message, a message for another node) throws RaftUsageError;
// - anything else (a storage error, a broken invariant) throws RaftFatalError: the node has
//   stopped, and every later call throws the same error.
import type { ConfChange, ConfState, HardState, Message, NodeId, RaftConfig, Ready, Role, SoftState } from './types.js'
import { confChangeKinds } from './types.js'
import type { ProgressState } from './progress.js'
import { Raft } from './raft.js'
import { ProposalDropped, RaftFatalError, RaftUsageError, assert } from './errors.js'
import { isLocalMessage, isResponseMessage, makeMessage } from './messages.js'
import { decodeConfChange, encodeConfChange } from './conf-change.js'

export interface ProgressStatus {
  readonly match: number
  readonly next: number
  readonly state: ProgressState
}

export interface RaftStatus {
  readonly id: NodeId
  readonly term: number
  readonly vote: NodeId | null
  readonly commit: number
  readonly applied: number
  readonly lead: NodeId | null
  readonly role: Role
  /** Leader only: each member's replication progress (including the leader's own). */
  readonly progress?: Record<NodeId, ProgressStatus>
  readonly confState: ConfState
  /** Extensions beyond the brief: handy for drivers, dashboards and tests. */
  readonly lastIndex: number
  readonly firstIndex: number
  readonly leadTransferee: NodeId | null
  readonly isLearner: boolean
}

function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit
}

export class RawNode {
  private readonly raft: Raft
  private prevSoftState: SoftState
  private prevHardState: HardState
  private stopped: RaftFatalError | undefined = undefined
  private outstandingReady = false

  /** Throws RaftConfigError for a bad config, RaftFatalError when storage cannot be read. */
  constructor(config: RaftConfig) {
    try {
      this.raft = new Raft(config)
    } catch (error) {
      if (error instanceof Error && error.name === 'RaftConfigError') throw error
      throw new RaftFatalError(String(config.id), `cannot start: ${describe(error)}`, { cause: error })
    }
    this.prevSoftState = this.softState()
    this.prevHardState = this.hardState()
  }

  get id(): NodeId {
    return this.raft.id
  }

  /** Advances logical time by one tick (elections, heartbeats, check-quorum, transfer timeout). */
  tick(): void {
    this.guard(() => this.raft.tick())
  }

  /** Starts an election now (pre-vote first when enabled). */
  campaign(): void {
    this.guard(() => this.raft.step(makeMessage({ type: 'hup', from: this.raft.id })))
  }

  /**
   * Proposes `data` for the log. Throws ProposalDropped when it cannot be appended (no leader
   * and forwarding disabled, transfer in progress, uncommitted bytes over the limit...). A
   * forwarded proposal can still be lost on the way: only a committed entry is a promise.
   */
  propose(data: Uint8Array): void {
    this.guard(() => this.raft.step(makeMessage({ type: 'prop', entries: [{ term: 0, index: 0, type: 'normal', data }] })))
  }

  /** Proposes one single-server membership change; it takes effect when applied (advance). */
  proposeConfChange(cc: ConfChange): void {
    if (!confChangeKinds.includes(cc.kind) || typeof cc.nodeId !== 'string' || cc.nodeId.length === 0) {
      throw new ProposalDropped('invalidConfChange', `malformed conf change ${JSON.stringify(cc)}`)
    }
    const data = encodeConfChange(cc)
    this.guard(() => this.raft.step(makeMessage({ type: 'prop', entries: [{ term: 0, index: 0, type: 'confChange', data }] })))
  }

  /** Feeds a message received from a peer. */
  step(m: Message): void {
    if (isLocalMessage(m.type)) throw new RaftUsageError(`cannot step local message type ${m.type} from the network`)
    if (m.to !== this.raft.id) throw new RaftUsageError(`message for ${m.to} stepped into node ${this.raft.id}`)
    // Only forwarded proposals and reads travel without a term; anything else would bypass the
    // term rules.
    if (m.term === 0 && m.type !== 'prop' && m.type !== 'readIndex') {
      throw new RaftUsageError(`message ${m.type} from ${m.from} carries no term`)
    }
    this.guard(() => {
      // Responses from nodes we do not track (e.g. removed ones) are ignored.
      if (isResponseMessage(m.type) && !this.raft.tracker.progress.has(m.from) && this.raft.role === 'leader') return
      try {
        this.raft.step(m)
      } catch (error) {
        // A forwarded proposal the leader refuses is the forwarder's loss, not ours.
        if (!(error instanceof ProposalDropped)) throw error
      }
    })
  }

  /**
   * Requests a linearizable read; a ReadState with this context appears in a later Ready.
   * Contexts must be non-empty and unique among the reads in flight.
   */
  readIndex(context: Uint8Array): void {
    if (context.length === 0) throw new RaftUsageError('readIndex needs a non-empty context')
    this.guard(() => this.raft.step(makeMessage({ type: 'readIndex', context })))
  }

  /** Asks the leader to hand over to `to`. Ignored for learners, unknown nodes and self. */
  transferLeadership(to: NodeId): void {
    this.guard(() => this.raft.step(makeMessage({ type: 'transferLeader', from: to })))
  }

  reportUnreachable(id: NodeId): void {
    this.guard(() => this.raft.step(makeMessage({ type: 'unreachable', from: id })))
  }

  /** Reports that sending a snapshot to `id` finished (`ok`) or failed. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    this.guard(() => this.raft.step(makeMessage({ type: 'snapStatus', from: id, reject: !ok })))
  }

  hasReady(): boolean {
    return this.guard(() => {
      const r = this.raft
      if (!softStateEqual(this.softState(), this.prevSoftState)) return true
      if (!hardStateEqual(this.hardState(), this.prevHardState)) return true
      if (r.raftLog.hasPendingSnapshot()) return true
      if (r.msgs.length > 0 || r.readStates.length > 0) return true
      if (r.raftLog.unstable.entries.length > 0) return true
      return r.raftLog.hasNextCommittedEntries()
    })
  }

  /** Takes the pending work. Call advance(ready) before the next ready(). */
  ready(): Ready {
    return this.guard(() => {
      if (this.outstandingReady) throw new RaftUsageError('ready() called again before advance()')
      const r = this.raft
      const softState = this.softState()
      const hardState = this.hardState()
      const snapshot = r.raftLog.unstable.snapshot
      const rd: Ready = {
        ...(softStateEqual(softState, this.prevSoftState) ? {} : { softState }),
        ...(hardStateEqual(hardState, this.prevHardState) ? {} : { hardState }),
        ...(snapshot === undefined ? {} : { snapshot }),
        entries: r.raftLog.unstableEntries(),
        committedEntries: r.raftLog.nextCommittedEntries(r.config.maxSizePerMsg),
        messages: r.msgs,
        readStates: r.readStates,
      }
      for (const m of rd.messages) assert(m.to !== r.id, () => `node ${r.id} would message itself (${m.type})`)
      // Invariant: the persisted term and commit index never go back.
      assert(hardState.term >= this.prevHardState.term, () => `term went back from ${this.prevHardState.term} to ${hardState.term}`)
      assert(hardState.commit >= this.prevHardState.commit, () => `commit went back from ${this.prevHardState.commit} to ${hardState.commit}`)
      r.msgs = []
      r.readStates = []
      this.outstandingReady = true
      return rd
    })
  }

  /** The driver persisted, sent and applied `rd`. Applies committed conf changes to the config. */
  advance(rd: Ready): void {
    this.guard(() => {
      if (!this.outstandingReady) throw new RaftUsageError('advance() without a matching ready()')
      this.outstandingReady = false
      const r = this.raft
      if (rd.softState !== undefined) this.prevSoftState = rd.softState
      if (rd.hardState !== undefined) this.prevHardState = rd.hardState
      const lastEntry = rd.entries[rd.entries.length - 1]
      if (lastEntry !== undefined) r.raftLog.stableTo(lastEntry.index, lastEntry.term)
      if (rd.snapshot !== undefined) {
        r.raftLog.stableSnapTo(rd.snapshot.metadata.index)
        r.raftLog.appliedTo(rd.snapshot.metadata.index)
      }
      for (const entry of rd.committedEntries) {
        r.raftLog.appliedTo(entry.index)
        if (entry.type === 'confChange') r.applyConfChange(decodeConfChange(entry.data))
      }
      r.reduceUncommittedBytes(rd.committedEntries)
    })
  }

  status(): RaftStatus {
    const r = this.raft
    let progress: Record<NodeId, ProgressStatus> | undefined
    if (r.role === 'leader') {
      progress = {}
      for (const [id, pr] of r.tracker.progress) progress[id] = { match: pr.match, next: pr.next, state: pr.state }
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.raftLog.committed,
      applied: r.raftLog.applied,
      lead: r.lead,
      role: r.role,
      ...(progress === undefined ? {} : { progress }),
      confState: r.tracker.confState(),
      lastIndex: r.raftLog.lastIndex(),
      firstIndex: r.raftLog.firstIndex(),
      leadTransferee: r.leadTransferee,
      isLearner: r.isLearner,
    }
  }

  /** The fatal error that stopped this node, if any. */
  stoppedBy(): RaftFatalError | undefined {
    return this.stopped
  }

  private softState(): SoftState {
    return { leader: this.raft.lead, role: this.raft.role }
  }

  private hardState(): HardState {
    return { term: this.raft.term, vote: this.raft.vote, commit: this.raft.raftLog.committed }
  }

  private guard<T>(action: () => T): T {
    if (this.stopped !== undefined) throw this.stopped
    try {
      return action()
    } catch (error) {
      if (error instanceof ProposalDropped || error instanceof RaftUsageError) throw error
      this.stopped = new RaftFatalError(this.raft.id, describe(error), { cause: error })
      throw this.stopped
    }
  }
}

function softStateEqual(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}
