// One persistent stream on one node of a region: an I/O-free state machine in the style of a
// Raft `RawNode` (DESIGN §3.2). Inputs: `publish`, `step` (a peer's or the controller's
// message), `tick`, `persisted`. Output: `ready()` → what to persist, messages to send, publish
// acks and stable deliveries. No clocks, timers, randomness or I/O: time comes in as `nowMs`
// (this node's physical clock), ids come in with publishes.
//
// THE RULES (proved in README.md):
//  - Write: the origin stamps (hlc, origin, incarnation, originSeq), persists, pushes to every
//    other replica. A replica reports its durable contiguous prefix of each origin incarnation
//    back to that origin once synced. Acks: `write` / `majority` / `all` as in ack-tracker.ts.
//  - COMMIT GATE: an origin's *committed* prefix is what a majority holds durably; origins
//    announce it (pushes, heartbeats, digests relay it). Replicas deliver an origin's events
//    only up to its committed prefix (or its close point): the Orderer runs over a second
//    EventSet fed only with committed events. So anything delivered anywhere is on a majority
//    of disks, and a close that gathers a majority cannot cut below it.
//  - FENCE then CLOSE: before closing a dead incarnation the controller fences it on a majority
//    (each fenced replica persists "never vouch for more than my durable prefix now" and
//    answers that prefix); `atSeq` = the highest answer. Every majority-acked or committed
//    event is ≤ atSeq (the fenced majority meets the acking majority).
//  - Clock ceiling (clock-ceiling.ts): a restarted node starts above everything it emitted.
//  - Anti-entropy: periodic digests (held/durable/commit vectors, latest heartbeats, count of
//    closes); the receiver answers with the events and closes the sender lacks — from memory,
//    or through a read of the driver's store (`ready().reads` → `readDone`) for older copies.
//  - MEMORY (README "Memory"): copies stay in memory only until settled (taken by the orderer)
//    and durable; the dedup window keeps each delivered id's survivor while a window behind, as
//    a fingerprint (a match is confirmed against the survivor's id, read through `ready().reads`
//    when it is no longer in memory: delivery or the publish waits for it); a restart reads
//    metadata and the few unsettled copies back, never the whole history.
import { compareEventOrder, copyKeyOf, encodeEvent, eventProblem, originKey, originKeyOf } from '../event.js'
import type { EventPosition, StreamEvent } from '../event.js'
import { PersistentRejection } from '../errors.js'
import { compareHlc, hlcZero } from '../hlc.js'
import type { Hlc } from '../hlc.js'
import { hlcMaxSkewMsDefault, insertBatchEventsMax } from '../limits.js'
import { isUnresolved } from '../dedup-window.js'
import { Orderer } from '../order.js'
import type { CloseDecision, Delivery, Heartbeat } from '../order.js'
import { VersionTracker, missing } from '../version-vector.js'
import { AckTracker } from './ack-tracker.js'
import { CeilingClock } from './clock-ceiling.js'
import { CommittedView } from './committed-view.js'
import { HeldEvents, atOrBelow } from './held-events.js'
import {
  ackTimeoutMsDefault,
  antiEntropyEventsMax,
  antiEntropyIntervalMsDefault,
  clockCeilingLeaseMsDefault,
  deferredRepliesMax,
  heartbeatIntervalMsDefault,
  idReadRetryMs,
  messageEventsMax,
  pendingPublishesMax,
  readsInFlightMax,
} from './limits.js'
import type { DigestMessage, FenceMessage, ReplicaMessage, VectorEntry } from './messages.js'
import type {
  FenceRecord,
  OutgoingMessage,
  PersistBatch,
  PublishAck,
  PublishRequest,
  ReadRequest,
  ReplicaMemory,
  ReplicaNotice,
  ReplicaReady,
  RestoredReplicaState,
  StreamReplicaOptions,
  StreamReplicaTiming,
} from './types.js'

interface InFlightBatch {
  readonly id: number
  readonly events: readonly StreamEvent[]
  readonly clockCeilingMs: number | null
}

interface Deferred {
  readonly afterId: number
  readonly out: OutgoingMessage
}

interface Queued {
  readonly request: PublishRequest
  readonly deadlineMs: number
}

/** `origin#incarnation` back into its parts (origins never hold '#'). */
export function parseOriginKey(key: string): { readonly origin: string; readonly incarnation: number } {
  const at = key.lastIndexOf('#')
  return { origin: key.slice(0, at), incarnation: Number(key.slice(at + 1)) }
}

const entriesOf = (vector: ReadonlyMap<string, number>): VectorEntry[] => [...vector].map(([key, seq]) => ({ ...parseOriginKey(key), seq }))

export class StreamReplica {
  readonly stream: string
  readonly node: string
  readonly incarnation: number
  readonly replicas: readonly string[]
  readonly peers: readonly string[]
  readonly timing: StreamReplicaTiming
  readonly #ownKey: string
  readonly #clock: CeilingClock
  /** Which copies this replica holds (all of its history); the copies themselves while unsettled. */
  readonly #held: HeldEvents
  /** How far each origin is known committed and fed to the orderer, in sequence order. */
  readonly #committed: CommittedView
  readonly #orderer: Orderer
  readonly #dedupWindowMs: number
  readonly #durable = new VersionTracker({ gapMax: Number.MAX_SAFE_INTEGER })
  readonly #fences = new Map<string, FenceRecord>()
  readonly #commitKnown = new Map<string, number>()
  readonly #heartbeats = new Map<string, Heartbeat>()
  readonly #closes: CloseDecision[] = []
  readonly #closedAt = new Map<string, number>()
  #controllerTerm = 0
  #slotOpen: boolean
  #ownSeq = 0
  readonly #acks: AckTracker
  readonly #queued: Queued[] = []
  // Persistence.
  #nextPersistId = 1
  #batchEvents: StreamEvent[] = []
  #batchFences: FenceRecord[] = []
  #batchCloses: CloseDecision[] = []
  readonly #inFlight: InFlightBatch[] = []
  readonly #deferred: Deferred[] = []
  // Outputs.
  #messages: OutgoingMessage[] = []
  #acksOut: PublishAck[] = []
  #notices: ReplicaNotice[] = []
  #pushOut: StreamEvent[] = []
  #reads: ReadRequest[] = []
  /** Anti-entropy reads handed to the driver: read id → the peer to answer. */
  readonly #readsInFlight = new Map<number, string>()
  /** Reads of delivered survivors' ids (dedup window matches): read id → which survivor, when asked. */
  readonly #idReads = new Map<number, { readonly position: EventPosition; readonly copyKey: string; readonly askedMs: number }>()
  /** The same by survivor (`copyKeyOf`) → read id: one read per survivor at a time. */
  readonly #idReadOf = new Map<string, number>()
  #nextReadId = 1
  readonly #dirty = new Set<string>()
  readonly #durableChanged = new Set<string>()
  #nowMs = 0
  #lastHeartbeatMs = Number.NEGATIVE_INFINITY
  #lastDigestMs = Number.NEGATIVE_INFINITY
  #heartbeatDue = false
  /** Something that can move an ack level or the own commit changed since the last `ready`. */
  #acksDirty = false

  constructor(options: StreamReplicaOptions) {
    if (!options.replicas.includes(options.node)) throw new RangeError(`stream replica: ${options.node} is not in the replica set`)
    if (new Set(options.replicas).size !== options.replicas.length) throw new RangeError('stream replica: a replica is listed twice')
    this.stream = options.stream
    this.node = options.node
    this.incarnation = options.incarnation
    this.replicas = [...options.replicas]
    this.peers = this.replicas.filter((r) => r !== this.node)
    this.timing = {
      heartbeatIntervalMs: options.timing?.heartbeatIntervalMs ?? heartbeatIntervalMsDefault,
      antiEntropyIntervalMs: options.timing?.antiEntropyIntervalMs ?? antiEntropyIntervalMsDefault,
      clockCeilingLeaseMs: options.timing?.clockCeilingLeaseMs ?? clockCeilingLeaseMsDefault,
      ackTimeoutMs: options.timing?.ackTimeoutMs ?? ackTimeoutMsDefault,
    }
    this.#ownKey = originKey(this.node, this.incarnation)
    const restored = options.restored
    if (!(Number.isInteger(options.dedupWindowMs) && options.dedupWindowMs >= 0)) throw new RangeError(`stream replica: dedupWindowMs must be an integer >= 0, got ${options.dedupWindowMs}`)
    this.#dedupWindowMs = options.dedupWindowMs
    this.#clock = new CeilingClock({ ceilingMs: restored?.clockCeilingMs ?? 0, leaseMs: this.timing.clockCeilingLeaseMs, maxSkewMs: options.maxSkewMs ?? hlcMaxSkewMsDefault })
    this.#held = new HeldEvents({ stream: this.stream })
    this.#committed = new CommittedView(this.#held, options.dedupWindowMs)
    if (restored !== undefined) this.#restoreHeld(restored)
    const resume = restored?.resume ?? null
    this.#orderer = new Orderer(this.#committed, {
      origins: this.replicas.map((origin) => ({ origin, incarnation: 1 })),
      ...(resume === null ? {} : { resumeAfter: { ...resume, settledSeqs: new Map([...(restored?.settled ?? [])].map(([key, s]) => [key, s.seq] as const)) } }),
    })
    this.#acks = new AckTracker(this.node, this.replicas)
    this.#slotOpen = this.incarnation === 1
    if (restored !== undefined) this.#restore(restored)
  }

  /** What the held copies, the durable prefixes and the committed view start from after a restart. */
  #restoreHeld(restored: RestoredReplicaState): void {
    this.#held.restore(restored)
    for (const [key, { contiguous, gaps }] of restored.held) this.#durable.restore(key, contiguous, gaps)
    for (const [key, { seq, hlc }] of restored.settled) {
      // Invariant: a settled prefix is held (it was taken by the orderer, so it was held then).
      if (seq > (restored.held.get(key)?.contiguous ?? 0)) throw new Error(`stream replica: settled ${key}:${seq} is past what is held`)
      this.#committed.restore(key, seq, hlc)
      // It was committed: nothing may be closed below it (checked as the closes reapply).
      this.#commitKnown.set(key, seq)
    }
  }

  #restore(restored: RestoredReplicaState): void {
    // Closes first: their terms never decrease in persisted order, while a fence persisted
    // between them may carry a later term than an earlier close.
    const outcome = this.#applyCloses(restored.closes, false)
    // Invariant: decisions this replica persisted apply again to what it persisted.
    if (outcome.errorCode !== '') throw new Error(`stream replica: persisted close decisions do not reapply (${outcome.errorCode})`)
    for (const fence of restored.fences) {
      const key = originKey(fence.origin, fence.incarnation)
      const kept = this.#fences.get(key)
      this.#fences.set(key, { ...fence, frozenSeq: kept?.frozenSeq ?? fence.frozenSeq, controllerTerm: Math.max(fence.controllerTerm, kept?.controllerTerm ?? 0) })
      this.#controllerTerm = Math.max(this.#controllerTerm, fence.controllerTerm)
    }
    this.#durableChanged.clear()
    for (const key of this.#held.versionVector().keys()) this.#dirty.add(key)
  }

  // ---- what the driver and the simulator may read ----

  get controllerTerm(): number {
    return this.#controllerTerm
  }

  /** Whether this incarnation may accept writes (it holds an origin slot, not closed). */
  get writable(): boolean {
    return this.#slotOpen
  }

  /** A restarted incarnation asks the controller for its slot with this (null once it has one). */
  successorClaim(): { readonly origin: string; readonly incarnation: number; readonly fromHlc: Hlc } | null {
    if (this.#slotOpen || this.incarnation === 1 || this.#closedAt.has(this.#ownKey)) return null
    return { origin: this.node, incarnation: this.incarnation, fromHlc: this.#clock.fromHlc }
  }

  /** The held version vector `{origin#incarnation → contiguous sequence}` (all of the history). */
  heldVector(): Map<string, number> {
    return this.#held.versionVector()
  }

  /** Highest contiguous sequence held of one origin incarnation. */
  heldContiguous(origin: string, incarnation: number): number {
    return this.#held.contiguous(origin, incarnation)
  }

  /** Whether this replica holds that copy (in memory or only on its disk). */
  holds(p: EventPosition): boolean {
    return this.#held.has(p.origin, p.incarnation, p.originSeq)
  }

  /** What this replica keeps in memory now: bounded by what is unsettled and by the dedup window, not by the stream's length. */
  get memory(): ReplicaMemory {
    return {
      events: this.#held.inMemory,
      waiting: this.#orderer.waiting,
      dedupIds: this.#orderer.dedupWindowSize,
      dedupBytes: this.#orderer.dedupWindowBytes,
      readsInFlight: this.#readsInFlight.size,
      idReadsInFlight: this.#idReads.size,
    }
  }

  get closes(): readonly CloseDecision[] {
    return this.#closes
  }

  /** The durable contiguous prefix this replica vouches for (fences freeze it). */
  durableReported(origin: string, incarnation: number): number {
    const key = originKey(origin, incarnation)
    return this.#fences.get(key)?.frozenSeq ?? this.#durable.contiguous(key)
  }

  commitKnown(origin: string, incarnation: number): number {
    return this.#commitKnown.get(originKey(origin, incarnation)) ?? 0
  }

  get deliveredCount(): number {
    return this.#orderer.deliveredCount
  }

  get waiting(): number {
    return this.#orderer.waiting
  }

  get pendingPublishes(): number {
    return this.#acks.pendingCount + this.#queued.length
  }

  // ---- inputs ----

  publish(requests: readonly PublishRequest[], nowMs: number): void {
    this.#advanceTime(nowMs)
    for (const request of requests) {
      const fail = (code: 'RG_ERR_INVALID_ARGUMENT' | 'RG_ERR_INVALID_STATE' | 'RG_ERR_LIMIT_EXCEEDED', message: string): void => {
        this.#acksOut.push({ ok: false, publishId: request.publishId, error: new PersistentRejection(code, message) })
      }
      const problem = eventProblem({ stream: this.stream, id: request.id, hlc: hlcZero, origin: this.node, incarnation: this.incarnation, originSeq: 1, headers: request.headers, payload: request.payload })
      if (problem !== null) fail('RG_ERR_INVALID_ARGUMENT', `publish ${request.publishId}: ${problem}`)
      else if (!this.#slotOpen) fail('RG_ERR_INVALID_STATE', `publish ${request.publishId}: ${this.#ownKey} holds no origin slot (restarted, waiting for the controller)`)
      else if (this.pendingPublishes >= pendingPublishesMax) fail('RG_ERR_LIMIT_EXCEEDED', `publish ${request.publishId}: pendingPublishesMax (${pendingPublishesMax}) reached`)
      else if (this.#acks.has(request.publishId) || this.#queued.some((q) => q.request.publishId === request.publishId)) fail('RG_ERR_INVALID_ARGUMENT', `publish ${request.publishId}: publishId already pending`)
      else this.#queued.push({ request, deadlineMs: nowMs + this.timing.ackTimeoutMs })
    }
    this.#stampQueued()
  }

  step(from: string, message: ReplicaMessage, nowMs: number): void {
    this.#advanceTime(nowMs)
    if (message.stream !== this.stream) {
      this.#notice('unexpected-message', `${message.kind} from ${from} for stream ${message.stream}`)
      return
    }
    switch (message.kind) {
      case 'push':
        if (!this.#receiveHlcs(from, message.events.map((e) => e.hlc))) return
        this.#receiveEvents(from, message.events)
        if (message.commit !== null) this.#learnCommit(message.commit)
        return
      case 'durable':
        for (const entry of message.entries) this.#peerDurable(from, entry)
        return
      case 'heartbeat':
        if (!this.#receiveHlcs(from, [message.heartbeat.hlc])) return
        this.#learnHeartbeat(message.heartbeat)
        this.#learnCommit({ origin: message.heartbeat.origin, incarnation: message.heartbeat.incarnation, seq: message.commitSeq })
        return
      case 'digest':
        this.#onDigest(from, message)
        return
      case 'closes': {
        const outcome = this.#applyCloses(message.decisions, true)
        if (message.requestId > 0) {
          this.#defer({ to: from, message: { kind: 'closes-applied', stream: this.stream, requestId: message.requestId, applied: outcome.applied, errorCode: outcome.errorCode, controllerTerm: this.#controllerTerm } })
        }
        return
      }
      case 'fence':
        this.#onFence(from, message)
        return
      case 'closes-applied':
      case 'fenced':
        this.#notice('unexpected-message', `${message.kind} from ${from} (controller replies are not for replicas)`)
        return
    }
  }

  tick(nowMs: number): void {
    this.#advanceTime(nowMs)
    this.#acksOut.push(...this.#acks.expire(nowMs))
    while (this.#queued.length > 0 && (this.#queued[0] as Queued).deadlineMs <= nowMs) {
      const { request } = this.#queued.shift() as Queued
      this.#acksOut.push({ ok: false, publishId: request.publishId, error: new PersistentRejection('RG_ERR_REQUEST_TIMEOUT', `publish ${request.publishId}: not written in time (clock ceiling not durable, or a dedup id read not answered)`) })
    }
    // An id read the driver never answered (a failed or lost read): ask again at the next need.
    for (const [id, read] of this.#idReads) {
      if (nowMs - read.askedMs < idReadRetryMs) continue
      this.#idReads.delete(id)
      this.#idReadOf.delete(read.copyKey)
    }
    if (this.#slotOpen && nowMs - this.#lastHeartbeatMs >= this.timing.heartbeatIntervalMs) this.#heartbeatDue = true
    if (nowMs - this.#lastDigestMs >= this.timing.antiEntropyIntervalMs) {
      this.#lastDigestMs = nowMs
      const digest = this.#digest()
      for (const peer of this.peers) this.#messages.push({ to: peer, message: digest })
    }
    this.#stampQueued()
  }

  /** The driver synced every batch with id ≤ `upTo`. */
  persisted(upTo: number): void {
    while (this.#inFlight.length > 0 && (this.#inFlight[0] as InFlightBatch).id <= upTo) {
      const batch = this.#inFlight.shift() as InFlightBatch
      for (const event of batch.events) this.#recordDurable(event)
      this.#acksDirty = true
      if (batch.clockCeilingMs !== null) this.#clock.ceilingPersisted(batch.clockCeilingMs)
    }
    while (this.#deferred.length > 0 && (this.#deferred[0] as Deferred).afterId <= upTo) this.#messages.push((this.#deferred.shift() as Deferred).out)
    this.#stampQueued()
  }

  ready(): ReplicaReady {
    this.#stampQueued()
    this.#flushPushes()
    // Own commit: what a majority holds durably of this incarnation.
    if (this.#acksDirty && (this.#slotOpen || this.#acks.pendingCount > 0)) {
      this.#acksDirty = false
      const selfDurable = this.durableReported(this.node, this.incarnation)
      this.#acksOut.push(...this.#acks.take(selfDurable))
      if (this.#learnCommit({ origin: this.node, incarnation: this.incarnation, seq: this.#acks.committed(selfDurable) })) this.#heartbeatDue = true
    }
    this.#tellOrigins()
    if (this.#heartbeatDue && this.#slotOpen) this.#sendHeartbeat()
    this.#feedCommitted()
    const deliveries: Delivery[] = [...this.#orderer.takeStable().delivered]
    this.#askIds(this.#orderer.idsToRead)
    this.#evictSettled()
    const ceiling = this.#clock.takeCeilingRequest()
    let persist: PersistBatch | null = null
    if (this.#batchEvents.length > 0 || this.#batchFences.length > 0 || this.#batchCloses.length > 0 || ceiling !== null) {
      persist = { id: this.#nextPersistId++, events: this.#batchEvents, clockCeilingMs: ceiling, fences: this.#batchFences, closes: this.#batchCloses }
      this.#inFlight.push({ id: persist.id, events: persist.events, clockCeilingMs: ceiling })
      this.#batchEvents = []
      this.#batchFences = []
      this.#batchCloses = []
    }
    const ready: ReplicaReady = { persist, reads: this.#reads, messages: this.#messages, acks: this.#acksOut, deliveries, notices: this.#notices }
    this.#reads = []
    this.#messages = []
    this.#acksOut = []
    this.#notices = []
    return ready
  }

  /**
   * The answer to `ready().reads` entry `id`: the stored copies of its range (in sequence
   * order; fewer or none is fine). They go to the peer that lacked them.
   */
  readDone(id: number, events: readonly StreamEvent[]): void {
    const to = this.#readsInFlight.get(id)
    const idRead = this.#idReads.get(id)
    if (to === undefined && idRead === undefined) return
    this.#readsInFlight.delete(id)
    for (const event of events) {
      // Invariant: the driver answers with this stream's held copies.
      if (event.stream !== this.stream || !this.#held.has(event.origin, event.incarnation, event.originSeq)) throw new Error(`stream replica: read ${id} answered with ${originKeyOf(event)}:${event.originSeq}, not a held copy of ${this.stream}`)
    }
    if (idRead !== undefined) {
      this.#idReads.delete(id)
      this.#idReadOf.delete(idRead.copyKey)
      // The store no longer holding a delivered survivor (retention) is learned as null.
      const copy = events.find((e) => compareEventOrder(e, idRead.position) === 0)
      this.#orderer.learnId(idRead.position, copy?.id ?? null)
      return
    }
    if (to === undefined) return
    for (let i = 0; i < events.length; i += messageEventsMax) {
      this.#messages.push({ to, message: { kind: 'push', stream: this.stream, events: events.slice(i, i + messageEventsMax), commit: null } })
    }
  }

  // ---- internals ----

  /**
   * Asks the driver for the ids of delivered survivors the dedup window matched by fingerprint
   * (`ready().reads` of one sequence each, answered through `readDone`), once per survivor.
   */
  #askIds(positions: readonly EventPosition[]): void {
    for (const position of positions) {
      const copyKey = copyKeyOf(position)
      if (this.#idReadOf.has(copyKey)) continue
      const id = this.#nextReadId++
      this.#idReads.set(id, { position, copyKey, askedMs: this.#nowMs })
      this.#idReadOf.set(copyKey, id)
      this.#reads.push({ id, range: { originKey: originKey(position.origin, position.incarnation), fromSeq: position.originSeq, toSeq: position.originSeq }, limit: 1 })
    }
  }

  /** Forgets copies the protocol no longer needs in memory: settled by the orderer and durable here. */
  #evictSettled(): void {
    const settled = this.#orderer.settledThrough
    if (settled === null) return
    this.#held.evict((event) => atOrBelow(event, settled) && this.#durable.has(originKeyOf(event), event.originSeq))
  }

  /**
   * The dedup verdict on `event` (just stamped here) given what this replica knows: the last
   * survivor of its id delivered here (the orderer's dedup window), then the unsettled copies
   * held in memory, walked in delivery order (the rule of event-set.ts). Null: it survives.
   */
  #survivorFor(event: StreamEvent, delivered: EventPosition | null): EventPosition | null {
    if (this.#dedupWindowMs === 0) return null
    const settled = this.#orderer.settledThrough
    let survivor: EventPosition | null = delivered
    for (const copy of this.#held.copiesInMemory(event.id)) {
      if (atOrBelow(copy, settled)) continue
      const folds = survivor !== null && copy.hlc.wallMs - survivor.hlc.wallMs < this.#dedupWindowMs
      if (compareEventOrder(copy, event) === 0) return folds ? survivor : null
      if (!folds) survivor = copy
    }
    throw new Error(`stream replica: ${originKeyOf(event)}:${event.originSeq} is not among the copies of its id`)
  }

  #advanceTime(nowMs: number): void {
    if (!Number.isFinite(nowMs) || nowMs < 0) throw new RangeError(`stream replica: nowMs must be a finite number >= 0, got ${nowMs}`)
    this.#nowMs = Math.max(this.#nowMs, nowMs)
  }

  #notice(kind: ReplicaNotice['kind'], detail: string, code?: string): void {
    this.#notices.push(code === undefined ? { kind, detail } : { kind, detail, code })
  }

  /** The batch id that covers everything applied so far (0 = all of it is durable already). */
  #coveringPersistId(): number {
    if (this.#batchEvents.length > 0 || this.#batchFences.length > 0 || this.#batchCloses.length > 0) return this.#nextPersistId
    return this.#inFlight.length > 0 ? (this.#inFlight[this.#inFlight.length - 1] as InFlightBatch).id : 0
  }

  /** Sends `out` once everything applied so far is durable (a reply that vouches for it). */
  #defer(out: OutgoingMessage): void {
    const afterId = this.#coveringPersistId()
    if (afterId === 0) {
      this.#messages.push(out)
      return
    }
    if (this.#deferred.length >= deferredRepliesMax) {
      this.#notice('unexpected-message', `reply to ${out.to} dropped: deferredRepliesMax (${deferredRepliesMax}) reached (the requester retries)`)
      return
    }
    this.#deferred.push({ afterId, out })
  }

  #receiveHlcs(from: string, hlcs: readonly Hlc[]): boolean {
    let highest: Hlc | null = null
    for (const h of hlcs) if (highest === null || compareHlc(h, highest) > 0) highest = h
    if (highest === null) return true
    const result = this.#clock.receive(highest, this.#nowMs)
    if (!result.ok) this.#notice('clock-skew', `message from ${from} refused: ${result.error.message}`, result.error.code)
    return result.ok
  }

  #stampQueued(): void {
    while (this.#queued.length > 0 && this.#slotOpen) {
      // The verdict needs the id's last delivered survivor: if the dedup window matched
      // survivors whose ids are not in memory, this publish (and those behind it) waits for them.
      const delivered = this.#dedupWindowMs === 0 ? null : this.#orderer.deliveredSurvivorOf((this.#queued[0] as Queued).request.id)
      if (isUnresolved(delivered)) {
        this.#askIds(delivered.unresolved)
        return
      }
      const hlc = this.#clock.emit(this.#nowMs)
      if (hlc === null) return // waits for a durable ceiling
      const { request } = this.#queued.shift() as Queued
      const event: StreamEvent = { stream: this.stream, id: request.id, hlc, origin: this.node, incarnation: this.incarnation, originSeq: ++this.#ownSeq, headers: request.headers, payload: request.payload }
      // Encoded once here (checked once): the set's check, the store and the pushes reuse it (event.ts).
      encodeEvent(event)
      const result = this.#held.insert([event])
      // Invariant: a fresh sequence of this incarnation with a rising hlc is always new here.
      if (result.added.length !== 1) throw new Error(`stream replica: own event ${this.#ownKey}:${event.originSeq} refused (${result.refused[0]?.reason ?? 'already held'})`)
      this.#batchEvents.push(event)
      this.#pushOut.push(event)
      const survivor = this.#survivorFor(event, delivered)
      this.#acks.add({ publishId: request.publishId, seq: event.originSeq, level: request.ackLevel, position: positionOf(event), survivor: survivor === null ? null : positionOf(survivor), deadlineMs: this.#nowMs + this.timing.ackTimeoutMs })
    }
  }

  #flushPushes(): void {
    if (this.#pushOut.length === 0) return
    const commit = { origin: this.node, incarnation: this.incarnation, seq: this.commitKnown(this.node, this.incarnation) }
    for (let i = 0; i < this.#pushOut.length; i += messageEventsMax) {
      const message: ReplicaMessage = { kind: 'push', stream: this.stream, events: this.#pushOut.slice(i, i + messageEventsMax), commit }
      for (const peer of this.peers) this.#messages.push({ to: peer, message })
    }
    this.#pushOut = []
  }

  #receiveEvents(from: string, events: readonly StreamEvent[]): void {
    const result = this.#held.insert(events)
    if (result.refused.length > 0) {
      const reasons = [...new Set(result.refused.map((r) => r.reason))].join(', ')
      this.#notice('refused-events', `${result.refused.length} event(s) from ${from} refused: ${reasons}`)
    }
    for (const event of result.added) {
      this.#batchEvents.push(event)
      this.#dirty.add(originKey(event.origin, event.incarnation))
    }
  }

  #recordDurable(event: StreamEvent): void {
    const key = originKey(event.origin, event.incarnation)
    if (this.#durable.has(key, event.originSeq)) return
    const before = this.#durable.contiguous(key)
    this.#durable.record(key, event.originSeq)
    if (this.#durable.contiguous(key) > before) this.#durableChanged.add(key)
  }

  /** Tells each origin how far this replica now holds it durably (fenced ones stay frozen). */
  #tellOrigins(): void {
    const byOrigin = new Map<string, VectorEntry[]>()
    for (const key of this.#durableChanged) {
      if (this.#fences.has(key)) continue
      const { origin, incarnation } = parseOriginKey(key)
      if (origin === this.node || !this.peers.includes(origin)) continue
      let entries = byOrigin.get(origin)
      if (entries === undefined) byOrigin.set(origin, (entries = []))
      entries.push({ origin, incarnation, seq: this.#durable.contiguous(key) })
    }
    this.#durableChanged.clear()
    for (const [origin, entries] of byOrigin) this.#messages.push({ to: origin, message: { kind: 'durable', stream: this.stream, entries } })
  }

  #peerDurable(from: string, entry: VectorEntry): void {
    if (entry.origin !== this.node || entry.incarnation !== this.incarnation) return
    if (this.#acks.reported(from, entry.seq)) this.#acksDirty = true
  }

  /** Returns whether the known commit of that incarnation grew. */
  #learnCommit(entry: VectorEntry): boolean {
    const key = originKey(entry.origin, entry.incarnation)
    if (entry.seq <= (this.#commitKnown.get(key) ?? 0)) return false
    const closedAt = this.#closedAt.get(key)
    // Invariant (the fence argument): a committed prefix never passes the close point.
    if (closedAt !== undefined && entry.seq > closedAt) throw new Error(`stream replica: ${key} committed up to ${entry.seq} but closed at ${closedAt}`)
    this.#commitKnown.set(key, entry.seq)
    this.#dirty.add(key)
    return true
  }

  #learnHeartbeat(hb: Heartbeat): void {
    const key = originKey(hb.origin, hb.incarnation)
    this.#orderer.heartbeat(hb)
    const latest = this.#heartbeats.get(key)
    if (latest === undefined || hb.seq > latest.seq || (hb.seq === latest.seq && compareHlc(hb.hlc, latest.hlc) > 0)) this.#heartbeats.set(key, hb)
  }

  #sendHeartbeat(): void {
    const hlc = this.#clock.emit(this.#nowMs)
    if (hlc === null) return // the ceiling is being raised; the next tick tries again
    this.#heartbeatDue = false
    this.#lastHeartbeatMs = this.#nowMs
    const heartbeat: Heartbeat = { origin: this.node, incarnation: this.incarnation, seq: this.#ownSeq, hlc }
    this.#learnHeartbeat(heartbeat)
    const message: ReplicaMessage = { kind: 'heartbeat', stream: this.stream, heartbeat, commitSeq: this.commitKnown(this.node, this.incarnation) }
    for (const peer of this.peers) this.#messages.push({ to: peer, message })
  }

  /** Moves newly committed events (per origin, in sequence order) into the orderer's set. */
  #feedCommitted(): void {
    for (const key of this.#dirty) {
      const { origin, incarnation } = parseOriginKey(key)
      const target = Math.min(this.#commitKnown.get(key) ?? 0, this.#held.contiguous(origin, incarnation))
      const from = this.#committed.contiguous(origin, incarnation) + 1
      if (target < from) continue
      for (let start = from; start <= target; start += insertBatchEventsMax) {
        const toSeq = Math.min(target, start + insertBatchEventsMax - 1)
        const events = this.#held.memoryRun({ originKey: key, fromSeq: start, toSeq }, toSeq - start + 1)
        // Invariant: uncommitted copies are unsettled, so still in memory (eviction never takes them).
        if (events.length !== toSeq - start + 1) throw new Error(`stream replica: committed copies ${key}:${start}..${toSeq} are not all in memory`)
        for (const event of events) this.#committed.advance(key, event)
        this.#orderer.add(events)
      }
    }
    this.#dirty.clear()
  }

  #digest(): DigestMessage {
    const durable = new Map<string, number>()
    for (const key of this.#durable.vector().keys()) {
      const { origin, incarnation } = parseOriginKey(key)
      durable.set(key, this.durableReported(origin, incarnation))
    }
    const heartbeats = [...this.#heartbeats.entries()].filter(([key]) => !this.#closedAt.has(key)).map(([, hb]) => hb)
    return {
      kind: 'digest',
      stream: this.stream,
      held: entriesOf(this.#held.versionVector()),
      durable: entriesOf(durable),
      commits: entriesOf(this.#commitKnown),
      heartbeats,
      closesKnown: this.#closes.length,
    }
  }

  #onDigest(from: string, m: DigestMessage): void {
    for (const entry of m.durable) this.#peerDurable(from, entry)
    for (const entry of m.commits) this.#learnCommit(entry)
    for (const hb of m.heartbeats) if (this.#receiveHlcs(from, [hb.hlc])) this.#learnHeartbeat(hb)
    // What the sender lacks (contiguous prefixes only), up to a budget per answer: from memory,
    // and what reaches below it through reads of the driver's store — not while reads of an
    // earlier answer to this peer are still out (the next digest asks again), and at most
    // readsInFlightMax in all.
    const theirs = new Map(m.held.map((e) => [originKey(e.origin, e.incarnation), e.seq] as const))
    let budget = antiEntropyEventsMax
    const events: StreamEvent[] = []
    const readsOut = [...this.#readsInFlight.values()].includes(from)
    for (const range of missing(theirs, this.#held.versionVector())) {
      if (budget <= 0) break
      const found = this.#held.memoryRun(range, budget)
      events.push(...found)
      budget -= found.length
      const next = range.fromSeq + found.length
      if (next > range.toSeq || budget <= 0 || readsOut) continue
      if (this.#readsInFlight.size >= readsInFlightMax) break
      const limit = Math.min(budget, range.toSeq - next + 1)
      const id = this.#nextReadId++
      this.#readsInFlight.set(id, from)
      this.#reads.push({ id, range: { originKey: range.originKey, fromSeq: next, toSeq: range.toSeq }, limit })
      budget -= limit
    }
    for (let i = 0; i < events.length; i += messageEventsMax) {
      this.#messages.push({ to: from, message: { kind: 'push', stream: this.stream, events: events.slice(i, i + messageEventsMax), commit: null } })
    }
    if (m.closesKnown < this.#closes.length) {
      const decisions = this.#closes.map((d) => ({ ...d, controllerTerm: Math.max(d.controllerTerm, this.#controllerTerm) }))
      this.#messages.push({ to: from, message: { kind: 'closes', stream: this.stream, requestId: 0, decisions } })
    }
  }

  #onFence(from: string, m: FenceMessage): void {
    const reply = (ok: boolean, durableSeq: number): ReplicaMessage => ({ kind: 'fenced', stream: this.stream, requestId: m.requestId, origin: m.origin, incarnation: m.incarnation, ok, durableSeq, controllerTerm: this.#controllerTerm })
    if (m.controllerTerm < this.#controllerTerm) {
      this.#notice('stale-fence', `fence of ${originKey(m.origin, m.incarnation)} at term ${m.controllerTerm} from ${from}: this replica saw term ${this.#controllerTerm}`, 'RG_ERR_STALE_TERM')
      this.#messages.push({ to: from, message: reply(false, 0) })
      return
    }
    this.#controllerTerm = m.controllerTerm
    const key = originKey(m.origin, m.incarnation)
    const record: FenceRecord = { origin: m.origin, incarnation: m.incarnation, controllerTerm: m.controllerTerm, frozenSeq: this.durableReported(m.origin, m.incarnation) }
    this.#fences.set(key, record)
    this.#batchFences.push(record)
    this.#defer({ to: from, message: reply(true, record.frozenSeq) })
  }

  /** Applies decisions in order; stops at the first refusal. `persist`: false when restoring. */
  #applyCloses(decisions: readonly CloseDecision[], persist: boolean): { applied: number; errorCode: string } {
    let applied = 0
    for (const d of decisions) {
      if (d.controllerTerm < this.#controllerTerm) return { applied, errorCode: 'RG_ERR_STALE_TERM' }
      const key = originKey(d.origin, d.incarnation)
      const result = this.#orderer.close(d, { replay: !persist })
      if (!result.ok) {
        // NOT_FOUND: an earlier decision of the chain has not arrived yet (the sender resends).
        if (result.error.code !== 'RG_ERR_NOT_FOUND') this.#notice('close-refused', `close of ${key} at ${d.atSeq}: ${result.error.message}`, result.error.code)
        return { applied, errorCode: result.error.code }
      }
      const raised = d.controllerTerm > this.#controllerTerm
      this.#controllerTerm = Math.max(this.#controllerTerm, d.controllerTerm)
      if (result.value === 'closed') {
        this.#closes.push(d)
        this.#closedAt.set(key, d.atSeq)
        const commit = this.#commitKnown.get(key) ?? 0
        // Invariant (the fence argument): nothing committed lies past the close point.
        if (commit > d.atSeq) throw new Error(`stream replica: ${key} closed at ${d.atSeq} below its committed ${commit}`)
        this.#commitKnown.set(key, d.atSeq)
        this.#dirty.add(key)
        if (key === this.#ownKey) this.#closeOwnSlot(d.atSeq)
        if (d.successor !== undefined && d.origin === this.node && d.successor.incarnation === this.incarnation) {
          this.#slotOpen = true
          this.#lastHeartbeatMs = Number.NEGATIVE_INFINITY
        }
        if (persist) this.#batchCloses.push(d)
      } else if (raised && persist) {
        this.#batchCloses.push(d) // a restatement under a newer term: persist the term
      }
      applied++
    }
    return { applied, errorCode: '' }
  }

  #closeOwnSlot(atSeq: number): void {
    this.#slotOpen = false
    const error = new PersistentRejection('RG_ERR_INVALID_STATE', `${this.#ownKey} was closed at ${atSeq} by the controller`, { atSeq })
    this.#acksOut.push(...this.#acks.failAll(error))
    for (const q of this.#queued.splice(0)) this.#acksOut.push({ ok: false, publishId: q.request.publishId, error })
  }
}

function positionOf(e: EventPosition): EventPosition {
  return { hlc: e.hlc, origin: e.origin, incarnation: e.incarnation, originSeq: e.originSeq }
}
