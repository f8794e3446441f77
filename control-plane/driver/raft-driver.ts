// Runs one RawNode on real I/O: ticks on a timer, steps frames from the transport's `raft`
// channel, and processes each Ready in the order the core's contract demands:
//   1. persist snapshot + entries + hard state as ONE synced batch, and wait for it;
//   2. only then send the messages (a `false` from the transport → reportUnreachable; a `snap`
//      message → reportSnapshot);
//   3. apply the snapshot, then the committed entries, through the application;
//   4. serve reads whose index is applied;
//   5. advance; then maybe snapshot + compact.
// A failed write stops the node: nothing of that Ready (or later) is sent, pending requests
// reject with RG_ERR_RAFT_STOPPED, and `stopped$` / `onStopped` say why.
import { ReplaySubject } from 'rxjs'
import type { Observable, Subscription } from 'rxjs'
import type { Clock } from '../../shared/clock.js'
import { systemClock } from '../../shared/clock.js'
import type { Logger } from '../../shared/log.js'
import type { Transport } from '../../shared/transport/index.js'
import type { ConfChange, Entry, Message, NodeId, RaftStatus, Ready } from '../raft/index.js'
import { ProposalDropped, RaftFatalError, RaftUsageError, RawNode, decodeConfChange } from '../raft/index.js'
import { RaftRequestError } from './driver-errors.js'
import type { DriverSettings, DriverStop, DriverTimers, RaftApplication, RaftDriverOptions } from './driver-options.js'
import { resolveDriverSettings, systemRandom, systemTimers } from './driver-options.js'
import type { WritableRaftStorage } from './durable-raft-storage.js'
import { decodeMessage, encodeMessage } from './message-codec.js'
import type { Applied } from './pending-requests.js'
import { PendingRequests, RequestIds, idKey, requestIdBytes, withRequestId } from './pending-requests.js'

/** Dropped frames are logged one by one up to this many, then every `droppedFramesLogEvery`th. */
export const droppedFramesLoggedMax = 20
export const droppedFramesLogEvery = 1_000

export interface RequestOptions {
  /** Overrides the driver's default time budget for this request. */
  readonly timeoutMs?: number
}

/** Counters for dashboards and tests. */
export interface DriverCounters {
  readies: number
  persistedBatches: number
  messagesSent: number
  sendsRefused: number
  framesDropped: number
  snapshotsTaken: number
  snapshotsRestored: number
}

export class RaftDriver<R> {
  readonly id: NodeId
  private readonly raw: RawNode
  private readonly storage: WritableRaftStorage
  private readonly transport: Transport
  private readonly application: RaftApplication<R>
  private readonly logger: Logger
  private readonly clock: Clock
  private readonly timers: DriverTimers
  private readonly settings: DriverSettings
  private readonly pending: PendingRequests<R>
  private readonly ids: RequestIds
  private readonly stoppedSubject = new ReplaySubject<DriverStop>(1)
  /** Publishes once, when the driver stops (replayed to late subscribers). */
  readonly stopped$: Observable<DriverStop> = this.stoppedSubject.asObservable()
  readonly counters: DriverCounters = { readies: 0, persistedBatches: 0, messagesSent: 0, sendsRefused: 0, framesDropped: 0, snapshotsTaken: 0, snapshotsRestored: 0 }
  private stopReason: DriverStop | undefined
  private loop: Promise<void> | undefined
  private tickHandle: unknown
  private frames: Subscription | undefined
  private applied: number
  private snapshotIndex: number
  private lastTerm = 0
  private lastWasLeader = false

  constructor(private readonly options: RaftDriverOptions<R>) {
    this.id = options.id
    this.storage = options.storage
    this.transport = options.transport
    this.application = options.application
    this.logger = options.logger
    this.clock = options.clock ?? systemClock
    this.timers = options.timers ?? systemTimers
    this.settings = resolveDriverSettings(options)
    const random = options.random ?? systemRandom
    this.pending = new PendingRequests<R>({ proposalsMax: this.settings.pendingProposalsMax, readsMax: this.settings.pendingReadsMax })
    this.ids = new RequestIds(random.int(0x1_0000_0000))
    // The stored snapshot is the application's durable state: restore it, start after it.
    const snapshot = this.storage.snapshot()
    if (snapshot.metadata.index > 0) this.application.restore(snapshot.data, snapshot.metadata)
    this.applied = this.storage.appliedIndex()
    this.snapshotIndex = snapshot.metadata.index
    this.raw = new RawNode({
      id: options.id,
      storage: this.storage,
      random,
      applied: this.applied,
      electionTicks: this.settings.electionTicks,
      heartbeatTicks: this.settings.heartbeatTicks,
      preVote: this.settings.preVote,
      checkQuorum: this.settings.checkQuorum,
      ...(options.maxSizePerMsg === undefined ? {} : { maxSizePerMsg: options.maxSizePerMsg }),
      ...(options.maxInflightMsgs === undefined ? {} : { maxInflightMsgs: options.maxInflightMsgs }),
      ...(options.maxUncommittedEntriesSize === undefined ? {} : { maxUncommittedEntriesSize: options.maxUncommittedEntriesSize }),
    })
  }

  /** Subscribes to the transport and starts ticking. */
  start(): void {
    if (this.tickHandle !== undefined || this.stopReason !== undefined) throw new Error(`raft driver ${this.id}: start() called twice or after stop`)
    this.frames = this.transport.frames$.subscribe((frame) => {
      if (frame.channel === 'raft') this.onFrame(frame.from, frame.payload)
    })
    this.tickHandle = this.timers.setInterval(() => this.onTick(), this.settings.tickMs)
    this.logger.info({ applied: this.applied, firstIndex: this.storage.firstIndex(), lastIndex: this.storage.lastIndex() }, 'raft driver started')
    this.kick()
  }

  /** Resolves with the entry's index, term and the application's result once it is applied here. */
  propose(data: Uint8Array, options: RequestOptions = {}): Promise<Applied<R>> {
    return this.submitProposal(options, (id) => this.raw.propose(withRequestId(id, data)))
  }

  /**
   * Proposes one single-server membership change (no joint consensus). Resolves once the change
   * is applied on this node: the core has then switched to the new configuration. The request id
   * travels in the change's `context` (a caller's context is replaced). Refusals as for `propose`
   * (`dropped` with the core's reason, e.g. `pendingConfChange` while another change is unapplied).
   */
  proposeConfChange(change: ConfChange, options: RequestOptions = {}): Promise<Applied<R>> {
    return this.submitProposal(options, (id) => this.raw.proposeConfChange({ kind: change.kind, nodeId: change.nodeId, context: id }))
  }

  /** Steps a proposal carrying a fresh request id into the core and tracks it until applied (or refused). */
  private submitProposal(options: RequestOptions, step: (id: Uint8Array) => void): Promise<Applied<R>> {
    const refused = this.refuse<Applied<R>>(this.pending.hasRoomForProposal(), 'proposals')
    if (refused !== undefined) return refused
    const id = this.ids.next()
    try {
      step(id)
    } catch (error) {
      return this.refuseWith<Applied<R>>(error)
    }
    const status = this.raw.status()
    const isLeader = status.role === 'leader'
    const promise = this.pending.trackProposal(idKey(id), this.context(status, options.timeoutMs ?? this.settings.proposalTimeoutMs), isLeader ? status.lastIndex : undefined)
    this.kick()
    return promise
  }

  /** Linearizable read barrier: resolves once this node has applied everything committed before the call. */
  readIndex(options: RequestOptions = {}): Promise<{ readonly readIndex: number }> {
    const refused = this.refuse<{ readonly readIndex: number }>(this.pending.hasRoomForRead(), 'reads')
    if (refused !== undefined) return refused
    const id = this.ids.next()
    try {
      this.raw.readIndex(id)
    } catch (error) {
      return this.refuseWith<{ readonly readIndex: number }>(error)
    }
    const promise = this.pending.trackRead(idKey(id), this.context(this.raw.status(), options.timeoutMs ?? this.settings.readTimeoutMs))
    this.kick()
    return promise
  }

  transferLeadership(to: NodeId): void {
    this.input(() => this.raw.transferLeadership(to))
  }

  /** Starts an election now (operators, tests). */
  campaign(): void {
    this.input(() => this.raw.campaign())
  }

  status(): RaftStatus {
    return this.raw.status()
  }

  appliedIndex(): number {
    return this.applied
  }

  stoppedBy(): DriverStop | undefined {
    return this.stopReason
  }

  /** Stops ticking and stepping, rejects what waits, and waits for a write in flight to finish. */
  async stop(): Promise<void> {
    this.halt({ kind: 'requested' })
    await this.loop
  }

  private context(status: RaftStatus, timeoutMs: number): { term: number; wasLeader: boolean; deadlineMs: number } {
    return { term: status.term, wasLeader: status.role === 'leader', deadlineMs: this.clock.nowMs() + timeoutMs }
  }

  private refuse<T>(hasRoom: boolean, what: string): Promise<T> | undefined {
    if (this.stopReason !== undefined) return Promise.reject(this.stoppedError())
    if (!hasRoom) return Promise.reject(new RaftRequestError('tooManyPending', `too many ${what} waiting on node ${this.id}`))
    return undefined
  }

  private refuseWith<T>(error: unknown): Promise<T> {
    if (error instanceof ProposalDropped) return Promise.reject(new RaftRequestError('dropped', error.message, { cause: error }))
    this.fail('fatal', error)
    return Promise.reject(this.stoppedError())
  }

  private stoppedError(): RaftRequestError {
    const stop = this.stopReason
    const cause = stop !== undefined && stop.kind !== 'requested' ? stop.error : undefined
    return new RaftRequestError('stopped', `raft node ${this.id} stopped (${stop?.kind ?? 'unknown'})`, cause === undefined ? undefined : { cause })
  }

  /** Runs one input of the core; a fatal error stops the driver. */
  private input(action: () => void): void {
    if (this.stopReason !== undefined) return
    try {
      action()
    } catch (error) {
      if (error instanceof ProposalDropped) return
      this.fail('fatal', error)
      return
    }
    this.kick()
  }

  private onTick(): void {
    this.input(() => this.raw.tick())
    if (this.stopReason === undefined) this.pending.expire(this.clock.nowMs())
  }

  private onFrame(from: string, payload: Uint8Array): void {
    if (this.stopReason !== undefined) return
    const decoded = decodeMessage(payload)
    if (!decoded.ok) {
      this.dropFrame({ from, error: decoded.error.message }, 'raft frame dropped: undecodable')
      return
    }
    const message = decoded.message
    // A forwarded transfer request names the transferee as its sender (as etcd's does): a
    // follower passes an operator's "transfer to X" on to the leader that way.
    const forwardedTransfer = message.type === 'transferLeader'
    if (message.to !== this.id || (message.from !== from && !forwardedTransfer)) {
      this.dropFrame({ from, to: message.to, claimedFrom: message.from, type: message.type }, 'raft frame dropped: wrong addressee or sender')
      return
    }
    try {
      this.raw.step(message)
    } catch (error) {
      if (error instanceof RaftUsageError) {
        this.dropFrame({ from, type: message.type, error: error.message }, 'raft frame dropped: refused by the core')
        return
      }
      this.fail('fatal', error)
      return
    }
    this.kick()
  }

  /** Counts a dropped frame; logs it unless a flood of them would flood the log too. */
  private dropFrame(details: Record<string, unknown>, why: string): void {
    this.counters.framesDropped += 1
    const dropped = this.counters.framesDropped
    if (dropped <= droppedFramesLoggedMax || dropped % droppedFramesLogEvery === 0) this.logger.warn({ ...details, dropped }, why)
  }

  /** Starts the Ready loop unless it runs (it re-checks hasReady after each Ready). */
  private kick(): void {
    if (this.stopReason !== undefined || this.loop !== undefined) return
    this.loop = this.readyLoop().finally(() => {
      this.loop = undefined
      if (this.stopReason === undefined && this.raw.hasReady()) this.kick()
    })
  }

  private async readyLoop(): Promise<void> {
    // Let the inputs of this turn (frames delivered together, several proposals) join one Ready.
    await Promise.resolve()
    try {
      while (this.stopReason === undefined && this.raw.hasReady()) await this.handleReady(this.raw.ready())
    } catch (error) {
      this.fail('fatal', error)
    }
  }

  private async handleReady(ready: Ready): Promise<void> {
    this.counters.readies += 1
    if (ready.softState !== undefined) this.logger.info({ role: ready.softState.role, leader: ready.softState.leader, term: this.raw.status().term }, 'raft role')
    // 1. Persist (Ready contract): nothing below runs unless the batch is synced.
    if (ready.snapshot !== undefined || ready.entries.length > 0 || ready.hardState !== undefined) {
      try {
        await this.storage.persist({ snapshot: ready.snapshot, entries: ready.entries, hardState: ready.hardState })
      } catch (error) {
        this.fail('storage', error)
        return
      }
      this.counters.persistedBatches += 1
    }
    if (this.stopReason !== undefined) return // stopped while writing: send nothing
    // 2. Send.
    this.send(ready.messages)
    // 3. Apply.
    if (ready.snapshot !== undefined) {
      this.application.restore(ready.snapshot.data, ready.snapshot.metadata)
      this.applied = ready.snapshot.metadata.index
      this.snapshotIndex = ready.snapshot.metadata.index
      this.counters.snapshotsRestored += 1
      this.logger.info({ index: this.applied }, 'raft snapshot restored')
    }
    for (const entry of ready.committedEntries) this.applyEntry(entry)
    // 4. Reads.
    this.pending.readStates(ready.readStates)
    this.pending.serveReads(this.applied)
    // 5. Advance, then settle what a leadership change made hopeless.
    this.raw.advance(ready)
    const status = this.raw.status()
    const isLeader = status.role === 'leader'
    if (status.term !== this.lastTerm || isLeader !== this.lastWasLeader) {
      this.lastTerm = status.term
      this.lastWasLeader = isLeader
      this.pending.leadershipChanged(status.term, isLeader)
    }
    await this.maybeSnapshot()
  }

  private send(messages: readonly Message[]): void {
    for (const message of messages) {
      const sent = this.transport.send(message.to, 'raft', encodeMessage(message))
      if (sent) this.counters.messagesSent += 1
      else {
        this.counters.sendsRefused += 1
        this.raw.reportUnreachable(message.to)
      }
      // The transport queues whole frames: a queued snapshot counts as sent.
      if (message.type === 'snap') this.raw.reportSnapshot(message.to, sent)
    }
  }

  private applyEntry(entry: Entry): void {
    let key: string | undefined
    let data = entry.data
    if (entry.type === 'normal' && entry.data.length > 0) {
      // Invariant: every non-empty normal entry was proposed through a driver (id prefix).
      if (entry.data.length < requestIdBytes) throw new Error(`entry ${entry.index} has ${entry.data.length} bytes: no request id`)
      key = idKey(entry.data.subarray(0, requestIdBytes))
      data = entry.data.subarray(requestIdBytes)
    } else if (entry.type === 'confChange') {
      // A change proposed through `proposeConfChange` carries its request id as the context.
      const context = decodeConfChange(entry.data).context
      if (context !== undefined && context.length === requestIdBytes) key = idKey(context)
    }
    if (entry.index !== this.applied + 1) throw new Error(`applying entry ${entry.index} after ${this.applied}`)
    const result = this.application.apply({ ...entry, data })
    this.applied = entry.index
    this.pending.applied(entry, key, result)
  }

  private async maybeSnapshot(): Promise<void> {
    const every = this.settings.snapshotEveryEntries
    if (every <= 0 || this.applied - this.snapshotIndex < every) return
    const index = this.applied
    try {
      await this.storage.createSnapshot(index, this.raw.status().confState, this.application.snapshot())
    } catch (error) {
      this.fail('storage', error)
      return
    }
    this.snapshotIndex = index
    this.counters.snapshotsTaken += 1
    this.logger.info({ index, firstIndex: this.storage.firstIndex() }, 'raft snapshot taken, log compacted')
  }

  private fail(kind: 'storage' | 'fatal', error: unknown): void {
    if (this.stopReason !== undefined) return
    const fatal =
      error instanceof RaftFatalError && kind === 'fatal'
        ? error
        : new RaftFatalError(this.id, `${kind === 'storage' ? 'storage write failed' : 'driver failed'}: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
    this.logger.error({ kind, error: fatal.message }, 'raft node stopped')
    this.halt({ kind, error: fatal })
  }

  private halt(stop: DriverStop): void {
    if (this.stopReason !== undefined) return
    this.stopReason = stop
    if (this.tickHandle !== undefined) this.timers.clearInterval(this.tickHandle)
    this.frames?.unsubscribe()
    const error = this.stoppedError()
    this.pending.failAll('stopped', error.message, error.cause)
    if (stop.kind === 'requested') this.logger.info('raft driver stopped')
    this.stoppedSubject.next(stop)
    this.stoppedSubject.complete()
    this.options.onStopped?.(stop)
  }
}
