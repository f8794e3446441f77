// The control plane of one node: a durable Raft driver whose application is the cluster state
// machine (control-plane/cluster). `ensure(command)` proposes the command stamped with the
// proposer's wall clock and resolves with the state machine's answer for that entry;
// `read(fn)` runs `fn` on the state after a ReadIndex barrier (linearizable).
import { Subject } from 'rxjs'
import type { Observable } from 'rxjs'
import type { Logger } from '../../shared/log.js'
import type { Storage } from '../../shared/storage/index.js'
import type { Transport } from '../../shared/transport/index.js'
import { applyEntry, deserialize, emptyState, encodeCommand, serialize } from '../cluster/index.js'
import type { ApplyResult, ClusterEvent, ClusterState, Command } from '../cluster/index.js'
import { ProposalDropped } from '../raft/index.js'
import type { ConfChange, ConfState, Entry, NodeId, RaftStatus, SnapshotMetadata } from '../raft/index.js'
import { driverDefaults } from './driver-options.js'
import type { DriverStop, RaftApplication, RaftDriverOptions } from './driver-options.js'
import { RaftRequestError } from './driver-errors.js'
import { DurableRaftStorage } from './durable-raft-storage.js'
import { confStateKey, raftStateKeySpace } from './raft-records.js'
import type { Applied } from './pending-requests.js'
import type { RequestOptions } from './raft-driver.js'
import { RaftDriver } from './raft-driver.js'

const noData = new Uint8Array(0)

/** The cluster state machine as a Raft application; publishes the events of what it applies. */
export class ClusterApplication implements RaftApplication<ApplyResult> {
  private current: ClusterState = emptyState()
  private readonly eventSubject = new Subject<ClusterEvent>()
  readonly events$: Observable<ClusterEvent> = this.eventSubject.asObservable()

  get state(): ClusterState {
    return this.current
  }

  apply(entry: Entry): ApplyResult {
    // A membership entry is Raft's business; it still takes its index in the state machine.
    const data = entry.type === 'confChange' ? noData : entry.data
    const output = applyEntry(this.current, { index: entry.index, data })
    this.current = output.state
    for (const event of output.events) this.eventSubject.next(event)
    return output.result
  }

  snapshot(): Uint8Array {
    return serialize(this.current)
  }

  restore(data: Uint8Array, metadata: SnapshotMetadata): void {
    const restored = deserialize(data)
    // A snapshot that does not check out stops the node (the driver turns the throw into a stop).
    if (!restored.ok) throw new Error(`cluster snapshot at ${metadata.index} is invalid: ${restored.message}`)
    if (restored.state.lastAppliedIndex !== metadata.index) {
      throw new Error(`cluster snapshot at ${metadata.index} holds state applied up to ${restored.state.lastAppliedIndex}`)
    }
    this.current = restored.state
  }

  complete(): void {
    this.eventSubject.complete()
  }
}

export type ClusterDriverTuning = Partial<Omit<RaftDriverOptions<ApplyResult>, 'id' | 'storage' | 'transport' | 'application' | 'logger'>>

export interface ClusterNodeOptions {
  readonly id: NodeId
  /** The node's storage adapter, opened with (at least) `raftKeySpaces`. Owned by the caller. */
  readonly storage: Storage
  /**
   * Started by the caller (best created not ready); the node uses its `raft` channel and calls
   * `markReady()` once its Raft storage is open and checked. Owned by the caller.
   */
  readonly transport: Transport
  /** The bootstrap voters (used only when the storage is empty). */
  readonly voters: readonly NodeId[]
  /** The bootstrap learners (used only when the storage is empty); default none. */
  readonly learners?: readonly NodeId[]
  readonly logger: Logger
  /** Stamped into every proposed command (the state machine never reads a clock). Default Date.now. */
  readonly wallClockMs?: () => number
  readonly driver?: ClusterDriverTuning
}

/** Drop reasons that mean "not applied, and a leader may soon take it": retried within the budget. */
const retriableDropReasons: ReadonlySet<string> = new Set(['noLeader', 'transferring'])

function isRetriableDrop(error: unknown): boolean {
  return error instanceof RaftRequestError && error.reason === 'dropped' && error.cause instanceof ProposalDropped && retriableDropReasons.has(error.cause.reason)
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export class ClusterNode {
  private constructor(
    private readonly driver: RaftDriver<ApplyResult>,
    private readonly application: ClusterApplication,
    private readonly wallClockMs: () => number,
    private readonly tickMs: number,
    private readonly electionTimeoutMs: number,
    private readonly proposalTimeoutMs: number,
    private readonly readTimeoutMs: number,
  ) {}

  /** Loads and checks the Raft storage, restores the last snapshot, starts the driver, marks the transport ready. */
  static async open(options: ClusterNodeOptions): Promise<ClusterNode> {
    const storage = await DurableRaftStorage.open(options.storage, { bootstrap: { voters: [...options.voters], learners: [...(options.learners ?? [])] } })
    const application = new ClusterApplication()
    const driver = new RaftDriver<ApplyResult>({
      ...options.driver,
      id: options.id,
      storage,
      transport: options.transport,
      application,
      logger: options.logger,
    })
    driver.start()
    // DESIGN §3.3: peers are accepted only once the storage is open and checked.
    options.transport.markReady()
    // A lone voter needs nobody's vote: lead at once instead of after an election timeout.
    const { voters } = driver.status().confState
    if (voters.length === 1 && voters[0] === options.id) driver.campaign()
    const tickMs = options.driver?.tickMs ?? driverDefaults.tickMs
    return new ClusterNode(
      driver,
      application,
      options.wallClockMs ?? Date.now,
      tickMs,
      tickMs * (options.driver?.electionTicks ?? driverDefaults.electionTicks),
      options.driver?.proposalTimeoutMs ?? driverDefaults.proposalTimeoutMs,
      options.driver?.readTimeoutMs ?? driverDefaults.readTimeoutMs,
    )
  }

  /** True when `storage` already holds a Raft configuration (a restart: bootstrap options are ignored). */
  static async hasRaftState(storage: Storage): Promise<boolean> {
    return (await storage.get(raftStateKeySpace, confStateKey)) !== undefined
  }

  get id(): NodeId {
    return this.driver.id
  }

  /** The state as applied on this node (may lag the leader; use `read` for a linearizable view). */
  get state(): ClusterState {
    return this.application.state
  }

  get events$(): Observable<ClusterEvent> {
    return this.application.events$
  }

  get stopped$(): Observable<DriverStop> {
    return this.driver.stopped$
  }

  /**
   * Proposes `command`; resolves with the state machine's result once applied on this node.
   * While no leader is known (an election, a transfer) the proposal is retried within the
   * request's budget: such a drop is definitely not applied, so retrying cannot apply it twice.
   */
  async ensure(command: Command, options: RequestOptions = {}): Promise<ApplyResult> {
    const deadlineMs = Date.now() + (options.timeoutMs ?? this.proposalTimeoutMs)
    for (;;) {
      await this.awaitLeader(deadlineMs)
      try {
        const applied: Applied<ApplyResult> = await this.driver.propose(encodeCommand(command, this.wallClockMs()), { timeoutMs: Math.max(1, deadlineMs - Date.now()) })
        return applied.result
      } catch (error) {
        if (!isRetriableDrop(error) || Date.now() + this.tickMs >= deadlineMs) throw error
        await sleep(this.tickMs)
      }
    }
  }

  /**
   * Runs `read` on the state once everything committed before this call is applied here. A read
   * sent while no leader is known, or to a leader that died, is lost by Raft; reads are safe to
   * repeat, so each attempt gets about two election timeouts and is retried within the budget.
   */
  async read<T>(read: (state: ClusterState) => T, options: RequestOptions = {}): Promise<T> {
    const deadlineMs = Date.now() + (options.timeoutMs ?? this.readTimeoutMs)
    for (;;) {
      await this.awaitLeader(deadlineMs)
      const remainingMs = deadlineMs - Date.now()
      const attemptMs = Math.max(1, Math.min(remainingMs, 2 * this.electionTimeoutMs))
      try {
        await this.driver.readIndex({ timeoutMs: attemptMs })
        return read(this.application.state)
      } catch (error) {
        const retriable = error instanceof RaftRequestError && (error.reason === 'timeout' || error.reason === 'leadershipLost' || isRetriableDrop(error))
        if (!retriable || Date.now() + this.tickMs >= deadlineMs) throw error
      }
    }
  }

  /** Waits (tick by tick) until this node knows a leader, or the deadline passes (then the request itself reports). */
  private async awaitLeader(deadlineMs: number): Promise<void> {
    while (this.driver.status().lead === null && this.driver.stoppedBy() === undefined && Date.now() + this.tickMs < deadlineMs) {
      await sleep(this.tickMs)
    }
  }

  /**
   * Proposes one single-server membership change (`addLearner`, `addVoter`, `removeNode`);
   * resolves once it is applied on this node (the configuration then includes it).
   */
  async proposeConfChange(change: ConfChange, options: RequestOptions = {}): Promise<{ readonly index: number; readonly confState: ConfState }> {
    const applied = await this.driver.proposeConfChange(change, options)
    return { index: applied.index, confState: this.driver.status().confState }
  }

  transferLeadership(to: NodeId): void {
    this.driver.transferLeadership(to)
  }

  status(): RaftStatus {
    return this.driver.status()
  }

  appliedIndex(): number {
    return this.driver.appliedIndex()
  }

  /** Snapshot and restore counters of the driver (for tests and dashboards). */
  counters(): RaftDriver<ApplyResult>['counters'] {
    return this.driver.counters
  }

  /** Stops the driver (the caller closes the transport and the storage afterwards). */
  async stop(): Promise<void> {
    await this.driver.stop()
    this.application.complete()
  }
}
