// One simulated Raft server: a RawNode driven exactly as the Ready contract (types.ts) says,
// over a simulated disk, network and clock, serving a replicated KV store to clients.
//
// Persistence is a write-ahead journal on a SimDisk: each Ready's snapshot, entries and hard
// state are written, then fsynced (taking simulated time), and only then are its messages sent,
// its committed entries applied and `advance` called. Work arriving meanwhile waits in a bounded
// inbox. A crash wipes everything volatile (RawNode, KV state, inbox, pending requests) and the
// disk keeps only synced records (plus, maybe, a torn prefix of unsynced ones); a restart
// replays the journal into a fresh MemoryStorage and builds a new RawNode from it.

import { MemoryStorage, ProposalDropped, RawNode, StorageError, decodeConfChange } from '../../control-plane/raft/index.js'
import type { ConfChange, ConfState, Entry, Message, NodeId, RaftStatus, Ready, Snapshot } from '../../control-plane/raft/index.js'
import type { KvInput, KvOutput } from '../lincheck/index.js'
import type { VirtualClock } from './clock.js'
import { SimDisk } from './disk.js'
import { KvStateMachine, decodeCommand, encodeCommand } from './kv-state-machine.js'
import type { DropReason, SimNetwork } from './network.js'
import type { SimRandom } from './random.js'
import type { DurableLogView, RaftInvariants } from './raft-invariants.js'
import { journalOf, logView, replayJournal } from './raft-journal.js'
import type { WalRecord } from './raft-journal.js'
import type { SimWireMessage } from './raft-wire.js'
import { SimViolation } from './raft-invariants.js'
import type { TraceRecorder } from './trace.js'



type InboxItem =
  | { readonly kind: 'tick' }
  | { readonly kind: 'raft'; readonly message: Message }
  | { readonly kind: 'request'; readonly clientId: string; readonly requestId: number; readonly op: KvInput }
  | { readonly kind: 'transferLeadership'; readonly to: NodeId }
  | { readonly kind: 'confChange'; readonly change: ConfChange }
  /** What the transport learned about a message this node sent (etcd's ReportSnapshot / ReportUnreachable). */
  | { readonly kind: 'reportSnapshot'; readonly to: NodeId; readonly ok: boolean }
  | { readonly kind: 'reportUnreachable'; readonly to: NodeId }

export interface SimNodeConfig {
  readonly tickMs: number
  readonly electionTicks: number
  readonly heartbeatTicks: number
  readonly syncDelayMsMax: number
  /** Take a snapshot and compact the log every this many applied entries (0 = never). */
  readonly snapshotEveryEntries: number
  /** Also snapshot right after applying a conf change (if snapshots are on). */
  readonly snapshotAfterConfChange: boolean
  readonly inboxMax: number
  readonly pendingRequestsMax: number
  readonly bugs: {
    /** Followers answer reads from local state without ReadIndex (stale reads). */
    readonly followerStaleReads: boolean
    /** Send a Ready's messages before its records are fsynced (breaks the Ready contract). */
    readonly sendBeforeSync: boolean
  }
}

export interface SimNodeEnvironment {
  readonly seed: number
  readonly clock: VirtualClock
  readonly network: SimNetwork<SimWireMessage>
  readonly trace: TraceRecorder
  readonly invariants: RaftInvariants
  readonly random: SimRandom
  readonly initialConfState: ConfState
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()



export class SimRaftNode {
  private readonly disk: SimDisk<WalRecord>
  private storage: MemoryStorage
  private raw: RawNode | null = null
  private kv = new KvStateMachine()
  private appliedIndex = 0
  private snapshotIndex = 0
  private incarnation = 0
  private busy = false
  private inbox: InboxItem[] = []
  private readonly pendingWrites = new Map<string, { clientId: string; requestId: number }>()
  private readonly pendingReads = new Map<string, { clientId: string; requestId: number; key: string; readIndex: number | null }>()
  private lastRole = ''
  /** Armed by crashAtNextSync: called once the crash has happened. */
  private crashAtSync: (() => void) | null = null
  private appliedConfChange = false

  constructor(
    readonly id: NodeId,
    private readonly config: SimNodeConfig,
    private readonly env: SimNodeEnvironment,
  ) {
    this.disk = new SimDisk<WalRecord>(`disk-${id}`, env.random.fork('disk'), env.trace, () => env.clock.nowMs)
    this.storage = new MemoryStorage(env.initialConfState)
  }

  get isUp(): boolean {
    return this.raw !== null
  }

  /** The log this node would recover from right now (durable records only when down). */
  durableLog(): DurableLogView {
    return logView(this.storage)
  }

  status(): RaftStatus | null {
    return this.raw?.status() ?? null
  }

  start(): void {
    if (this.raw !== null) throw new Error(`node ${this.id} is already up`)
    const snapshot = this.storage.snapshot()
    this.kv = KvStateMachine.fromSnapshot(snapshot.data)
    this.appliedIndex = snapshot.metadata.index
    this.snapshotIndex = snapshot.metadata.index
    this.env.invariants.resetApplied(this.id, this.appliedIndex)
    this.raw = this.guard(
      () =>
        new RawNode({
          id: this.id,
          electionTicks: this.config.electionTicks,
          heartbeatTicks: this.config.heartbeatTicks,
          storage: this.storage,
          random: this.env.random.fork(`raft-${this.incarnation}`),
          applied: this.appliedIndex,
          preVote: true,
          checkQuorum: true,
        }),
    )
    this.lastRole = ''
    this.env.trace.record(this.env.clock.nowMs, 'start', `${this.id} inc=${this.incarnation} applied=${this.appliedIndex}`)
    this.env.network.register(this.id, (from, wire) => this.onWire(from, wire))
    const incarnation = this.incarnation
    const tick = (): void => {
      if (incarnation !== this.incarnation) return
      this.env.trace.record(this.env.clock.nowMs, 'tick', this.id)
      this.enqueue({ kind: 'tick' })
      this.env.clock.schedule(this.config.tickMs, tick)
    }
    this.env.clock.schedule(1 + this.env.random.int(this.config.tickMs), tick)
  }

  /** An operator asks this node (if leader) to hand leadership to `to`. */
  transferLeadership(to: NodeId): void {
    if (this.raw === null) return
    this.env.trace.record(this.env.clock.nowMs, 'transferLeadership', `${this.id}>${to}`)
    this.enqueue({ kind: 'transferLeadership', to })
  }

  /** An operator proposes a membership change through this node. */
  proposeConfChange(change: ConfChange): void {
    if (this.raw === null) return
    this.env.trace.record(this.env.clock.nowMs, 'proposeConfChange', `${this.id} ${change.kind} ${change.nodeId}`)
    this.enqueue({ kind: 'confChange', change })
  }

  /** Crash at the next fsync, with that Ready's records written but not synced (torn-tail bait). */
  crashAtNextSync(onCrashed: () => void): void {
    this.crashAtSync = onCrashed
  }

  /** Cancel a pending crashAtNextSync. */
  disarm(): void {
    this.crashAtSync = null
  }

  /** Power loss: all volatile state goes; the disk keeps what was synced. */
  crash(): void {
    if (this.raw === null) return
    this.raw = null
    this.incarnation++
    this.busy = false
    this.inbox = []
    this.pendingWrites.clear()
    this.pendingReads.clear()
    this.env.network.unregister(this.id)
    this.env.trace.record(this.env.clock.nowMs, 'crash', this.id)
    this.disk.crash()
    this.storage = replayJournal(this.disk.read(), this.env.initialConfState)
  }


  private onWire(from: string, wire: SimWireMessage): void {
    if (wire.kind === 'raft') this.enqueue({ kind: 'raft', message: wire.message })
    else if (wire.kind === 'request') this.enqueue({ kind: 'request', clientId: from, requestId: wire.requestId, op: wire.op })
  }

  private enqueue(item: InboxItem): void {
    if (this.inbox.length >= this.config.inboxMax) {
      this.env.trace.record(this.env.clock.nowMs, 'inboxFull', `${this.id} ${item.kind}`)
      return
    }
    this.inbox.push(item)
    this.pump()
  }

  /** Core errors are bugs in the Raft core: stop the run with the seed. ProposalDropped is expected. */
  private guard<T>(action: () => T): T {
    try {
      return action()
    } catch (error) {
      if (error instanceof SimViolation || error instanceof ProposalDropped) throw error
      const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
      throw new SimViolation(this.env.seed, 'raft core raised an error', `node ${this.id}: ${detail}`, this.env.clock.nowMs)
    }
  }

  private pump(): void {
    while (this.raw !== null && !this.busy) {
      const item = this.inbox.shift()
      if (item !== undefined) {
        this.handle(this.raw, item)
        continue
      }
      const raw = this.raw
      if (!this.guard(() => raw.hasReady())) break
      this.handleReady(raw, this.guard(() => raw.ready()))
    }
  }

  private handle(raw: RawNode, item: InboxItem): void {
    switch (item.kind) {
      case 'tick':
        this.guard(() => raw.tick())
        return
      case 'raft':
        this.guard(() => raw.step(item.message))
        return
      case 'request':
        this.onRequest(raw, item.clientId, item.requestId, item.op)
        return
      case 'transferLeadership':
        this.guard(() => raw.transferLeadership(item.to))
        return
      case 'reportSnapshot':
        this.guard(() => raw.reportSnapshot(item.to, item.ok))
        return
      case 'reportUnreachable':
        this.guard(() => raw.reportUnreachable(item.to))
        return
      case 'confChange':
        try {
          this.guard(() => raw.proposeConfChange(item.change))
        } catch (error) {
          if (!(error instanceof ProposalDropped)) throw error
          this.env.trace.record(this.env.clock.nowMs, 'confChangeDropped', `${this.id} ${error.reason}`)
        }
        return
    }
  }

  private onRequest(raw: RawNode, clientId: string, requestId: number, op: KvInput): void {
    const key = `${clientId}:${requestId}`
    if (this.pendingReads.size + this.pendingWrites.size >= this.config.pendingRequestsMax) {
      this.env.trace.record(this.env.clock.nowMs, 'overloaded', `${this.id} ${key}`)
      return
    }
    if (op.kind === 'get') {
      if (this.config.bugs.followerStaleReads && raw.status().role !== 'leader') {
        // Injected bug: answer from local state without asking the leader.
        this.respond(clientId, requestId, { kind: 'get', value: this.kv.read(op.key) })
        return
      }
      this.pendingReads.set(key, { clientId, requestId, key: op.key, readIndex: null })
      try {
        this.guard(() => raw.readIndex(encoder.encode(key)))
      } catch (error) {
        if (!(error instanceof ProposalDropped)) throw error
        this.pendingReads.delete(key)
        this.env.trace.record(this.env.clock.nowMs, 'readIndexDropped', `${this.id} ${key} ${error.reason}`)
        this.env.network.send(this.id, clientId, { kind: 'rejected', requestId, reason: error.reason }, { connection: true })
      }
      return
    }
    this.pendingWrites.set(key, { clientId, requestId })
    try {
      this.guard(() => raw.propose(encodeCommand({ clientId, requestId, op })))
      this.env.trace.record(this.env.clock.nowMs, 'propose', `${this.id} ${key}`)
    } catch (error) {
      if (!(error instanceof ProposalDropped)) throw error
      this.pendingWrites.delete(key)
      this.env.trace.record(this.env.clock.nowMs, 'proposalDropped', `${this.id} ${key} ${error.reason}`)
      this.env.network.send(this.id, clientId, { kind: 'rejected', requestId, reason: error.reason }, { connection: true })
    }
  }

  private respond(clientId: string, requestId: number, output: KvOutput): void {
    this.env.network.send(this.id, clientId, { kind: 'response', requestId, output }, { connection: true })
  }

  private handleReady(raw: RawNode, ready: Ready): void {
    const { trace, clock, invariants } = this.env
    let becameLeaderInTerm: number | null = null
    if (ready.softState && ready.softState.role !== this.lastRole) {
      this.lastRole = ready.softState.role
      const term = raw.status().term
      trace.record(clock.nowMs, 'role', `${this.id} ${ready.softState.role} term=${term} leader=${ready.softState.leader ?? '-'}`)
      if (ready.softState.role === 'leader') {
        invariants.observeLeader(this.id, term)
        becameLeaderInTerm = term
      }
    }
    const records: WalRecord[] = []
    if (ready.snapshot) records.push({ kind: 'snapshot', snapshot: ready.snapshot })
    if (ready.entries.length > 0) {
      const first = ready.entries[0]!
      invariants.observePersistedEntries(this.id, ready.entries, this.termBefore(first.index, ready.snapshot))
      // One record per entry: a torn write can keep a prefix of the batch.
      for (const entry of ready.entries) records.push({ kind: 'entries', entries: [entry] })
    }
    if (ready.hardState) records.push({ kind: 'hardState', hardState: ready.hardState })
    if (records.length === 0) return this.finishReady(raw, ready, becameLeaderInTerm)
    this.disk.write(records)
    if (this.config.bugs.sendBeforeSync) this.send(ready.messages)
    const onCrashed = this.crashAtSync
    if (onCrashed !== null) {
      this.crashAtSync = null
      this.env.trace.record(clock.nowMs, 'crashAtSync', `${this.id} unsynced=${this.disk.unsyncedCount}`)
      this.crash()
      onCrashed()
      return
    }
    this.busy = true
    const incarnation = this.incarnation
    this.env.clock.schedule(this.env.random.int(this.config.syncDelayMsMax + 1), () => {
      if (incarnation !== this.incarnation) return // crashed while syncing
      this.disk.sync()
      this.finishReady(raw, ready, becameLeaderInTerm)
      this.busy = false
      this.pump()
    })
  }

  private termBefore(index: number, snapshot: Snapshot | undefined): number | undefined {
    if (index === 1) return 0
    if (snapshot && snapshot.metadata.index === index - 1) return snapshot.metadata.term
    try {
      if (index - 1 < this.storage.firstIndex() - 1 || index - 1 > this.storage.lastIndex()) return undefined
      return this.storage.term(index - 1)
    } catch (error) {
      if (error instanceof StorageError) return undefined
      throw error
    }
  }

  private finishReady(raw: RawNode, ready: Ready, becameLeaderInTerm: number | null): void {
    const { trace, clock, invariants } = this.env
    // 1. The records are durable: expose them to the core through its storage.
    this.guard(() => {
      if (ready.snapshot) this.storage.applySnapshot(ready.snapshot)
      if (ready.entries.length > 0) this.storage.append(ready.entries)
      if (ready.hardState) this.storage.setHardState(ready.hardState)
    })
    if (becameLeaderInTerm !== null) invariants.checkLeaderCompleteness(this.id, becameLeaderInTerm, logView(this.storage))
    // 2. Send (unless the injected bug already did, before the fsync).
    if (!this.config.bugs.sendBeforeSync || !this.sentEarly(ready)) this.send(ready.messages)
    // 3. Apply.
    if (ready.snapshot) {
      invariants.observeApplySnapshot(this.id, ready.snapshot)
      this.kv = KvStateMachine.fromSnapshot(ready.snapshot.data)
      this.appliedIndex = ready.snapshot.metadata.index
      this.snapshotIndex = ready.snapshot.metadata.index
      trace.record(clock.nowMs, 'applySnapshot', `${this.id} index=${this.appliedIndex}`)
    }
    for (const entry of ready.committedEntries) this.apply(entry)
    // 4. Reads that became safe.
    for (const readState of ready.readStates) {
      const key = decoder.decode(readState.requestContext)
      const pending = this.pendingReads.get(key)
      if (pending !== undefined) pending.readIndex = readState.index
      trace.record(clock.nowMs, 'readState', `${this.id} ${key} index=${readState.index}`)
    }
    this.serveReads()
    // 5. Done.
    this.guard(() => raw.advance(ready))
    this.maybeSnapshot(raw)
  }

  private send(messages: readonly Message[]): void {
    const incarnation = this.incarnation
    const report = (item: InboxItem): void => {
      if (incarnation === this.incarnation && this.raw !== null) this.enqueue(item)
    }
    const hardState = this.storage.initialState().hardState
    const durable = { term: hardState.term, vote: hardState.vote, lastIndex: this.storage.lastIndex() }
    for (const message of messages) {
      this.env.invariants.checkMessagePersisted(this.id, message, durable)
      const to = message.to
      let onOutcome: ((dropped: DropReason | null) => void) | undefined
      if (message.type === 'snap') {
        // A snapshot streams over its own connection: the sender learns whether it arrived.
        onOutcome = (dropped) => report({ kind: 'reportSnapshot', to, ok: dropped === null })
      } else if (message.type === 'app') {
        // A broken connection (not a lost packet) is noticed: the peer is unreachable.
        onOutcome = (dropped) => {
          if (dropped === 'nodeDown' || dropped === 'partition' || dropped === 'linkCut') report({ kind: 'reportUnreachable', to })
        }
      }
      this.env.network.send(this.id, to, { kind: 'raft', message }, onOutcome === undefined ? {} : { onOutcome })
    }
  }

  /** Whether handleReady sent this Ready's messages before syncing (it does when it wrote records). */
  private sentEarly(ready: Ready): boolean {
    return ready.snapshot !== undefined || ready.entries.length > 0 || ready.hardState !== undefined
  }

  private apply(entry: Entry): void {
    const { trace, clock, invariants } = this.env
    invariants.observeApply(this.id, entry)
    this.appliedIndex = entry.index
    if (entry.type === 'confChange') {
      this.appliedConfChange = true
      const change = decodeConfChange(entry.data)
      trace.record(clock.nowMs, 'apply', `${this.id} ${entry.index}/${entry.term} confChange ${change.kind} ${change.nodeId}`)
      return
    }
    if (entry.data.length === 0) {
      trace.record(clock.nowMs, 'apply', `${this.id} ${entry.index}/${entry.term} noop`)
      return
    }
    const command = decodeCommand(entry.data)
    const outcome = this.kv.apply(command)
    const key = `${command.clientId}:${command.requestId}`
    trace.record(clock.nowMs, 'apply', `${this.id} ${entry.index}/${entry.term} ${key} ${outcome.kind}`)
    const pending = this.pendingWrites.get(key)
    if (pending === undefined) return
    this.pendingWrites.delete(key)
    if (outcome.kind !== 'stale') this.respond(pending.clientId, pending.requestId, outcome.output)
  }

  private serveReads(): void {
    for (const [key, pending] of this.pendingReads) {
      if (pending.readIndex === null || pending.readIndex > this.appliedIndex) continue
      this.pendingReads.delete(key)
      this.respond(pending.clientId, pending.requestId, { kind: 'get', value: this.kv.read(pending.key) })
    }
  }

  /** Snapshot the KV state and compact the log; rewrite the journal atomically to match. */
  private maybeSnapshot(raw: RawNode): void {
    const every = this.config.snapshotEveryEntries
    const confChanged = this.appliedConfChange
    this.appliedConfChange = false
    if (every <= 0 || this.appliedIndex === this.snapshotIndex) return
    // After a conf change, snapshot at once (when enabled): before ec79b13 the core refused a
    // snapshot whose ConfState did not list the receiver, so a voter added after the latest
    // snapshot could never catch up from a compacted log (see README, "Findings").
    const dueToConfChange = confChanged && this.config.snapshotAfterConfChange
    if (!dueToConfChange && this.appliedIndex - this.snapshotIndex < every) return
    const index = this.appliedIndex
    this.guard(() => {
      this.storage.createSnapshot(index, raw.status().confState, this.kv.snapshot())
      this.storage.compact(index)
    })
    this.snapshotIndex = index
    this.disk.replaceDurably(journalOf(this.storage))
    this.env.trace.record(this.env.clock.nowMs, 'snapshot', `${this.id} index=${index} first=${this.storage.firstIndex()} last=${this.storage.lastIndex()}`)
  }
}
