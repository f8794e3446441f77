// GroupHost: drives one GroupController (data-plane/persistent/consumer) on the node holding the
// group's controller designation at one term — the I/O edge of the pure core:
//
//   start    subscribe `$RG.C.<ns>.<stream>.<group>.>` cluster-wide (requests wait while
//            starting), gather the progress copies (this node's store + the other replicas over the
//            `consumer` channel, up to gatherTimeoutMs), restore at this term, resolve the start
//            position, build the controller (what was outstanding is redelivered first)
//   requests JOIN / HB / LEAVE / FETCH / ACKS / ACK.<index>.<deliveries> / INFO (docs/api.md
//            § Consuming); an answer to an ack waits until the progress change is durable
//   ready()  once per turn of requests and engine deliveries (a burst of acks makes one pass,
//            one save, one publish run); deliveries published in order with
//            `router.publishLocal(to, ackSubject, headers, payload)` — from the engine's delivery
//            cache at once when it holds them, else read in index runs; status messages; dead
//            letters moved through the driver's `moveDeadLetter` (then `deadLettered(index, ok)`)
//   progress saved through the GroupStore (group commit, deltas), replicated whole to the other
//            replicas at most every replicateIntervalMs when it changed
//   timers   one timeout at the controller's next deadline or the next housekeeping: the stream's
//            delivered count, members whose deliver subject lost all interest (gone), replication
//   stop     unsubscribe, timers off; fenced when a newer term exists (nothing more is sent or
//            written); a node closing saves first.
// Regions (issue #6): every region's controller of a group receives the group's requests; a
// request another region's controller serves (serving-region.ts: the region of the node the
// member is connected to) is dropped here unanswered, before anything else — every verb alike.
import { nuid } from '@nats-io/nuid'
import type { ConsumerStart } from '../../control-plane/cluster/index.js'
import { GroupController, ProgressState } from '../../data-plane/persistent/consumer/index.js'
import type { ControllerSend, ControllerSnapshot, DeadLetterOrder, GroupSettings } from '../../data-plane/persistent/consumer/index.js'
import type { StreamEvent } from '../../data-plane/persistent/index.js'
import type { GroupStore } from '../../data-plane/persistent/store/group-store.js'
import {
  ackSubject,
  acksRequestSchema,
  consumerGroupWildcard,
  consumerInfoSubject,
  fetchRequestSchema,
  heartbeatRequestSchema,
  joinRequestSchema,
  leaveRequestSchema,
  parseAckBody,
  parseConsumerSubject,
} from '../../shared/api/consumer-wire.js'
import type { GroupAddress } from '../../shared/api/consumer-wire.js'
import type { Logger } from '../../shared/log.js'
import type { LocalMessage, Router } from '../router.js'
import { groupSequenceOf } from '../shipping/index.js'
import type { ConsumerFrame } from './peer-frames.js'
import { eventReadBatchMax, gatherTimeoutMsDefault, housekeepingMsDefault, interestGraceMsDefault, replicateIntervalMsDefault } from './limits.js'
import { servesRequest } from './serving-region.js'
import { deliveryHeaderBlock, failureBody, jsonBytes, statusHeaderBlock } from './wire-out.js'

/** Requests held while the controller starts (beyond it: RG_ERR_NOT_READY). */
export const startingRequestsMax = 1_024
/** Replication waits at least this many times what the last snapshot encode took. */
export const replicateCostFactor = 10

/** What the host needs of the stream's engine on this node. */
export interface ConsumerEnginePort {
  fetch(from: number, max: number): Promise<ReadonlyArray<{ readonly index: number; readonly event: StreamEvent }>>
  /** `fetch` from memory: the whole range when the engine holds it, else undefined. */
  cached?(from: number, max: number): ReadonlyArray<{ readonly index: number; readonly event: StreamEvent }> | undefined
  readonly deliveredCount: number
  onDelivered?(listener: (deliveredCount: number) => void): () => void
  /** A view that renumbers the deliveries (a multi-region stream's group sequence) maps a delivery index (a start by time) to its first position at or after it. */
  positionAtOrAfterDelivery?(deliveryIndex: number): number
}

export interface GroupHostTiming {
  readonly gatherTimeoutMs: number
  readonly housekeepingMs: number
  readonly replicateIntervalMs: number
  readonly interestGraceMs: number
}

export const groupHostTimingDefaults: GroupHostTiming = {
  gatherTimeoutMs: gatherTimeoutMsDefault,
  housekeepingMs: housekeepingMsDefault,
  replicateIntervalMs: replicateIntervalMsDefault,
  interestGraceMs: interestGraceMsDefault,
}

export interface GroupHostDeps {
  readonly router: Router
  readonly store: GroupStore
  readonly logger: Logger
  readonly nodeId: string
  readonly nowMs: () => number
  readonly timing: GroupHostTiming
  readonly engine: () => ConsumerEnginePort | undefined
  /** Delivery index of the first event at or after `timeMs` (group start `time`). */
  readonly indexAtTime: (timeMs: number) => Promise<number>
  /** This node's copy of the group's progress (cached or stored), for the gather. */
  readonly ownCopy: () => Promise<ProgressState | undefined>
  /** The stream's other replicas in this region. */
  readonly peers: () => readonly string[]
  /** Sends a frame on the `consumer` channel; false when it could not be queued. */
  readonly sendFrame: (to: string, frame: ConsumerFrame) => boolean
  /** Sends one frame (encoded once) to several peers; how many took it (-1: over the frame limit). */
  readonly broadcastFrame: (to: readonly string[], frame: ConsumerFrame) => number
  /** Publishes a dead letter to `<stream>-dlq`; true once it is stored. */
  readonly moveDeadLetter: (order: DeadLetterOrder, event: StreamEvent) => Promise<boolean>
  /** The region this controller serves (its designation's; this node's region). */
  readonly region: string
  /** The regions of the stream's definition, as applied here (empty once it is gone). */
  readonly streamRegions: () => readonly string[]
  /** A node's region in the applied cluster state; undefined when the state does not know it. */
  readonly regionOfNode: (nodeId: string) => string | undefined
}

type HostState = 'starting' | 'running' | 'stopped'

interface Gather {
  readonly requestId: string
  readonly waiting: Set<string>
  readonly gathered: ProgressState[]
  done(): void
}

const emptyPayload = new Uint8Array(0)
const decoder = new TextDecoder()

export class GroupHost {
  /** `namespace/stream/group`. */
  readonly key: string
  /** The progress's name in the store and on the consumer channel (`progressKey`). */
  readonly progressKey: string
  readonly address: GroupAddress
  readonly term: number
  readonly #deps: GroupHostDeps
  #settings: GroupSettings
  readonly #start: ConsumerStart
  #state: HostState = 'starting'
  #controller: GroupController | undefined
  #unsubscribe: (() => void) | undefined
  #unsubscribeDelivered: (() => void) | undefined
  #timer: NodeJS.Timeout | undefined
  #gather: Gather | undefined
  #held: LocalMessage[] = []
  #publishing: Promise<void> = Promise.resolve()
  /** Publish runs waiting for reads (later runs queue behind them, so order holds). */
  #publishesPending = 0
  #lastSave: Promise<void> = Promise.resolve()
  /** A `#drive` is queued for the end of this turn. */
  #driveQueued = false
  /** Answers that wait for the save of changes made before the queued drive. */
  #awaitingSave: Array<{ readonly replyTo: string; readonly body: Record<string, unknown> }> = []
  readonly #joinedAt = new Map<string, number>()
  #fetchSeq = 0
  #replicatedVersion = -1
  #lastReplicateMs = Number.NEGATIVE_INFINITY
  #lastHousekeepingMs = Number.NEGATIVE_INFINITY
  #warnedOversize = false
  #replicateEveryMs: number

  constructor(deps: GroupHostDeps, address: GroupAddress, progressKey: string, term: number, settings: GroupSettings, start: ConsumerStart) {
    // A multi-region stream's groups read its group sequence (RegionDedup's output, server/shipping), not the delivery log.
    this.#deps = { ...deps, engine: () => groupView(deps.engine()) }
    this.address = address
    this.key = `${address.namespace}/${address.stream}/${address.group}`
    this.progressKey = progressKey
    this.term = term
    this.#settings = settings
    this.#start = start
    this.#replicateEveryMs = deps.timing.replicateIntervalMs
  }

  get state(): HostState {
    return this.#state
  }

  /** The live progress (undefined while starting). */
  get progress(): ProgressState | undefined {
    return this.#controller?.progress
  }

  snapshot(): ControllerSnapshot | undefined {
    return this.#controller?.snapshot(this.#deps.nowMs())
  }

  async start(): Promise<void> {
    const { router } = this.#deps
    this.#unsubscribe = router.subscribeLocal(consumerGroupWildcard(this.address), (message) => this.#onMessage(message), { cluster: true })
    const own = await this.#deps.ownCopy()
    const gathered = await this.#gatherFromPeers()
    if (this.#state !== 'starting') return
    const restored = ProgressState.restore(this.term, [...(own === undefined ? [] : [own]), ...gathered])
    if (!restored.ok) {
      this.#deps.logger.warn({ group: this.key, term: this.term, err: restored.error.message }, 'consumer group: a newer controller term exists; not starting')
      this.stop({ fenceTerm: Number(restored.error.details['currentTerm'] ?? this.term + 1) })
      return
    }
    const engine = this.#deps.engine()
    if (engine === undefined) {
      this.#deps.logger.warn({ group: this.key }, 'consumer group: the stream engine closed while the controller started')
      this.stop({})
      return
    }
    const startIndex = await this.#startIndex(engine)
    if (this.#state !== 'starting') return
    const nowMs = this.#deps.nowMs()
    this.#controller = new GroupController({
      term: this.term,
      writer: `${this.#deps.nodeId}:${nuid.next()}`,
      settings: this.#settings,
      progress: restored.value.state,
      startIndex,
      available: engine.deliveredCount,
      nowMs,
    })
    this.#state = 'running'
    this.#unsubscribeDelivered = engine.onDelivered?.((count) => {
      if (this.#state !== 'running') return
      this.#controller?.available(count, this.#deps.nowMs())
      this.#requestDrive()
    })
    this.#deps.logger.info({ group: this.key, term: this.term, head: this.#controller.head, redeliver: restored.value.redeliver.length, gathered: gathered.length + (own === undefined ? 0 : 1) }, 'consumer group controller running')
    const held = this.#held
    this.#held = []
    for (const message of held) this.#onMessage(message)
    this.#drive()
  }

  update(settings: GroupSettings): void {
    this.#settings = settings
    if (this.#state === 'running') {
      this.#controller?.updateSettings(settings, this.#deps.nowMs())
      this.#drive()
    }
  }

  /** Stops; `fenceTerm` (a newer term) fences the controller first: nothing more is sent or saved. */
  stop(options: { readonly fenceTerm?: number }): void {
    if (this.#state === 'stopped') return
    // Acks applied this turn and not saved yet: saved now (unless fenced), answered after it.
    if (this.#awaitingSave.length > 0) {
      if (options.fenceTerm === undefined && this.#state === 'running') this.#persist()
      else for (const { replyTo } of this.#awaitingSave.splice(0)) this.#reply(replyTo, failureBody('RG_ERR_NOT_READY', 'consumer group: the controller stopped before the ack was saved'))
      this.#answerAfterSave()
    }
    if (options.fenceTerm !== undefined) this.#controller?.fence(options.fenceTerm)
    this.#state = 'stopped'
    this.#unsubscribe?.()
    this.#unsubscribeDelivered?.()
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#gather?.done()
    for (const message of this.#held) this.#reply(message.replyTo, failureBody('RG_ERR_NOT_READY', 'consumer group: the controller stopped'))
    this.#held = []
  }

  /** Saves what changed, then stops (the node is closing). */
  async close(): Promise<void> {
    if (this.#state === 'running') this.#persist()
    this.stop({})
    await this.#lastSave.catch(() => undefined)
    await this.#publishing.catch(() => undefined)
  }

  /** A replica's answer to this host's gather. */
  onGathered(from: string, frame: Extract<ConsumerFrame, { kind: 'gathered' }>): void {
    const gather = this.#gather
    if (gather === undefined || frame.requestId !== gather.requestId || !gather.waiting.delete(from)) return
    if (frame.state !== undefined) gather.gathered.push(frame.state)
    if (gather.waiting.size === 0) gather.done()
  }

  // ---- start ----------------------------------------------------------------------------------

  #gatherFromPeers(): Promise<ProgressState[]> {
    const requestId = nuid.next()
    const waiting = new Set<string>()
    for (const peer of this.#deps.peers()) {
      if (this.#deps.sendFrame(peer, { kind: 'gather', group: this.progressKey, term: this.term, requestId })) waiting.add(peer)
    }
    if (waiting.size === 0) return Promise.resolve([])
    return new Promise((resolve) => {
      const gathered: ProgressState[] = []
      const timer = setTimeout(() => gather.done(), this.#deps.timing.gatherTimeoutMs)
      const gather: Gather = {
        requestId,
        waiting,
        gathered,
        done: () => {
          clearTimeout(timer)
          this.#gather = undefined
          resolve(gathered)
        },
      }
      this.#gather = gather
    })
  }

  async #startIndex(engine: ConsumerEnginePort): Promise<number> {
    switch (this.#start.from) {
      case 'beginning':
        return 0
      case 'end':
        return engine.deliveredCount
      case 'index':
        return this.#start.index
      case 'time': {
        const index = await this.#deps.indexAtTime(this.#start.timeMs)
        return engine.positionAtOrAfterDelivery?.(index) ?? index
      }
    }
  }

  // ---- requests -------------------------------------------------------------------------------

  #reply(replyTo: string | undefined, body: Record<string, unknown>): void {
    if (replyTo === undefined || replyTo.length === 0) return
    this.#deps.router.publishLocal(replyTo, undefined, undefined, jsonBytes(body))
  }

  #json(message: LocalMessage): unknown {
    try {
      return message.payload.length === 0 ? {} : (JSON.parse(decoder.decode(message.payload)) as unknown)
    } catch {
      return undefined
    }
  }

  /**
   * Whether this region's controller serves `message`: one from this node's own clients and
   * services always (this node is in the region); one a peer forwarded by the region of that
   * peer — the node its publisher is connected to (serving-region.ts).
   */
  #serves(message: LocalMessage): boolean {
    const from = message.fromNode
    if (from === undefined) return true
    const streamRegions = this.#deps.streamRegions()
    if (streamRegions.length <= 1) return true
    return servesRequest({ streamRegions, controllerRegion: this.#deps.region, senderRegion: this.#deps.regionOfNode(from) })
  }

  #onMessage(message: LocalMessage): void {
    if (this.#state === 'stopped') return
    // Another region's controller answers it (a multi-region stream): not held, not answered.
    if (!this.#serves(message)) return
    if (this.#state === 'starting') {
      if (this.#held.length < startingRequestsMax) this.#held.push(message)
      else this.#reply(message.replyTo, failureBody('RG_ERR_NOT_READY', 'consumer group: the controller is starting; retry'))
      return
    }
    const controller = this.#controller as GroupController
    const nowMs = this.#deps.nowMs()
    if (message.subject === consumerInfoSubject(this.address)) {
      this.#reply(message.replyTo, { ok: true, group: { ...controller.snapshot(nowMs), stream: `${this.address.namespace}/${this.address.stream}`, name: this.address.group } })
      return
    }
    const parsed = parseConsumerSubject(message.subject)
    if (parsed === undefined) {
      this.#reply(message.replyTo, failureBody('RG_ERR_INVALID_ARGUMENT', `consumer group: unknown subject ${message.subject}`))
      return
    }
    if (parsed.verb === 'ACK') {
      const body = parseAckBody(decoder.decode(message.payload))
      if (body === undefined) {
        this.#reply(message.replyTo, failureBody('RG_ERR_INVALID_ARGUMENT', 'consumer group: an ack body is empty, ack, nack [delayMs], progress or term [reason]'))
        return
      }
      const outcome = controller.ack({ index: parsed.index, deliveries: parsed.deliveries, ...body }, nowMs)
      this.#requestDrive()
      if (message.replyTo === undefined) return
      if (!outcome.ok) this.#reply(message.replyTo, failureBody(outcome.error.code, outcome.error.message, outcome.error.details))
      else this.#afterDurable(message.replyTo, { ok: true })
      return
    }
    const invalid = (issues: string): void => this.#reply(message.replyTo, failureBody('RG_ERR_INVALID_ARGUMENT', `consumer group ${parsed.verb}: ${issues}`))
    const body = this.#json(message)
    if (body === undefined) return invalid('the body is not JSON')
    switch (parsed.verb) {
      case 'JOIN': {
        const request = joinRequestSchema.safeParse(body)
        if (!request.success) return invalid(request.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '))
        const joined = controller.join(request.data, nowMs)
        if (joined.ok) this.#joinedAt.set(request.data.member, nowMs)
        this.#reply(message.replyTo, joined.ok ? { ok: true, ...joined.value } : failureBody(joined.error.code, joined.error.message, joined.error.details))
        break
      }
      case 'HB': {
        const request = heartbeatRequestSchema.safeParse(body)
        if (!request.success) return invalid('member is required')
        const beat = controller.heartbeat(request.data.member, nowMs)
        this.#reply(message.replyTo, beat.ok ? { ok: true, ...beat.value } : failureBody(beat.error.code, beat.error.message, beat.error.details))
        break
      }
      case 'LEAVE': {
        const request = leaveRequestSchema.safeParse(body)
        if (!request.success) return invalid('member is required')
        controller.leave(request.data.member, nowMs)
        this.#joinedAt.delete(request.data.member)
        this.#reply(message.replyTo, { ok: true })
        break
      }
      case 'FETCH': {
        const request = fetchRequestSchema.safeParse(body)
        if (!request.success) return invalid(request.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '))
        if (message.replyTo === undefined) return
        const fetched = controller.fetch({ requestId: `f${++this.#fetchSeq}`, replyTo: message.replyTo, ...request.data }, nowMs)
        if (!fetched.ok) this.#reply(message.replyTo, failureBody(fetched.error.code, fetched.error.message, fetched.error.details))
        break
      }
      case 'ACKS': {
        const request = acksRequestSchema.safeParse(body)
        if (!request.success) return invalid(request.error.issues.slice(0, 5).map((i) => `${i.path.join('.')}: ${i.message}`).join('; '))
        let applied = 0
        for (const entry of request.data.acks) {
          const outcome = controller.ack(entry, nowMs)
          if (outcome.ok) applied += 1
        }
        this.#requestDrive()
        this.#afterDurable(message.replyTo, { ok: true, applied })
        return
      }
    }
    this.#requestDrive()
  }

  /**
   * Answers once the progress change just made is durable (or the failure if the write failed):
   * the queued drive saves it, then the answer waits for that save.
   */
  #afterDurable(replyTo: string | undefined, body: Record<string, unknown>): void {
    if (replyTo === undefined) return
    this.#awaitingSave.push({ replyTo, body })
    this.#requestDrive()
  }

  /** Answers the waiting acks after the latest save (it holds every change made before it). */
  #answerAfterSave(): void {
    if (this.#awaitingSave.length === 0) return
    const replies = this.#awaitingSave
    this.#awaitingSave = []
    this.#lastSave.then(
      () => {
        for (const { replyTo, body } of replies) this.#reply(replyTo, body)
      },
      (error: unknown) => {
        for (const { replyTo } of replies) this.#reply(replyTo, failureBody('RG_ERR_STORAGE_IO', `consumer group: the progress was not saved: ${(error as Error).message}`))
      },
    )
  }

  // ---- the ready loop -------------------------------------------------------------------------

  /** One `#drive` at the end of this turn's requests and deliveries. */
  #requestDrive(): void {
    if (this.#driveQueued) return
    this.#driveQueued = true
    queueMicrotask(() => {
      this.#driveQueued = false
      this.#drive()
    })
  }

  #drive(): void {
    const controller = this.#controller
    if (this.#state !== 'running' || controller === undefined) return
    const nowMs = this.#deps.nowMs()
    if (nowMs - this.#lastHousekeepingMs >= this.#deps.timing.housekeepingMs) this.#housekeeping(nowMs)
    const ready = controller.ready(nowMs)
    if (ready.sends.length > 0) this.#publishSends(ready.sends)
    for (const order of ready.deadLetters) void this.#deadLetter(order)
    this.#persist()
    this.#answerAfterSave()
    this.#replicate(nowMs)
    this.#schedule(nowMs)
  }

  /** Publishes at once when nothing waits for reads and the engine's cache holds the events; else in order after the reads. */
  #publishSends(sends: readonly ControllerSend[]): void {
    if (this.#publishesPending === 0) {
      const events = this.#cachedEvents(sends)
      if (events !== undefined) {
        try {
          this.#publishWith(sends, events)
        } catch (error) {
          // As on the asynchronous path: logged; what was not sent comes back after its ack wait.
          this.#deps.logger.error({ group: this.key, err: (error as Error).message }, 'consumer group: publishing failed')
        }
        return
      }
    }
    this.#publishesPending += 1
    this.#publishing = this.#publishing
      .then(() => this.#publish(sends))
      .catch((error: unknown) => this.#deps.logger.error({ group: this.key, err: (error as Error).message }, 'consumer group: publishing failed'))
      .finally(() => {
        this.#publishesPending -= 1
      })
  }

  #persist(): void {
    const progress = this.#controller?.progress
    if (progress === undefined || !progress.isDirty) return
    const saving = this.#deps.store.save(this.progressKey, progress)
    this.#lastSave = saving
    saving.catch((error: unknown) => {
      this.#deps.logger.error({ group: this.key, err: (error as Error).message }, 'consumer group: saving the progress failed')
    })
  }

  /**
   * Sends the whole progress to the other replicas when it changed, at most every
   * replicateIntervalMs — and never more often than ten times the last encode took, so a large
   * outstanding set cannot take more than about a tenth of the event loop.
   */
  #replicate(nowMs: number): void {
    const progress = this.#controller?.progress
    if (progress === undefined || progress.version === this.#replicatedVersion || nowMs - this.#lastReplicateMs < this.#replicateEveryMs) return
    this.#lastReplicateMs = nowMs
    this.#replicatedVersion = progress.version
    const peers = this.#deps.peers()
    if (peers.length === 0) return
    const taken = this.#deps.broadcastFrame(peers, { kind: 'progress', group: this.progressKey, term: this.term, state: progress })
    const encodeMs = this.#deps.nowMs() - nowMs
    this.#replicateEveryMs = Math.max(this.#deps.timing.replicateIntervalMs, encodeMs * replicateCostFactor)
    if (taken < peers.length && !this.#warnedOversize) {
      this.#warnedOversize = true
      this.#deps.logger.warn({ group: this.key, peers, taken }, 'consumer group: progress not replicated to every replica (peer down, queue full, or over consumerFrameBytesMax)')
    }
  }

  #schedule(nowMs: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    const wake = Math.min(this.#controller?.nextWakeMs() ?? Number.POSITIVE_INFINITY, nowMs + this.#deps.timing.housekeepingMs)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      if (this.#state !== 'running') return
      this.#controller?.tick(this.#deps.nowMs())
      this.#drive()
    }, Math.max(0, wake - nowMs))
    this.#timer.unref()
  }

  #housekeeping(nowMs: number): void {
    const controller = this.#controller as GroupController
    this.#lastHousekeepingMs = nowMs
    const engine = this.#deps.engine()
    if (engine !== undefined) controller.available(engine.deliveredCount, nowMs)
    for (const { member, deliver } of controller.members()) {
      if (nowMs - (this.#joinedAt.get(member) ?? 0) < this.#deps.timing.interestGraceMs) continue
      if (!this.#deps.router.hasInterest(deliver)) {
        controller.gone(member, nowMs)
        this.#joinedAt.delete(member)
      }
    }
  }

  async #publish(sends: readonly ControllerSend[]): Promise<void> {
    const events = await this.#readEvents(sends)
    // No engine here right now (the stream is reopening or moving): nothing is published; the
    // messages stay in flight and come back after their ack wait (never dropped for this).
    if (events === undefined) return
    this.#publishWith(sends, events)
  }

  #publishWith(sends: readonly ControllerSend[], events: ReadonlyMap<number, StreamEvent>): void {
    const controller = this.#controller as GroupController
    const { router } = this.#deps
    let dropped = false
    for (const send of sends) {
      if (this.#state !== 'running' || controller.fenced) return
      if (send.kind === 'status') {
        router.publishLocal(send.to, undefined, statusHeaderBlock(this.address, this.term, send.status), emptyPayload)
        continue
      }
      const event = events.get(send.index)
      if (event === undefined) {
        // Gone from the stream (retention) or unreadable: it leaves the group.
        controller.dropped(send.index, this.#deps.nowMs())
        dropped = true
        continue
      }
      router.publishLocal(send.to, ackSubject(this.address, send.index, send.deliveries), deliveryHeaderBlock(this.address, this.term, send.index, send.deliveries, event), event.payload)
    }
    if (dropped) this.#drive()
  }

  /** The events of the messages in `sends` from the engine's cache, or undefined when it lacks one. */
  #cachedEvents(sends: readonly ControllerSend[]): Map<number, StreamEvent> | undefined {
    const engine = this.#deps.engine()
    if (engine?.cached === undefined) return undefined
    const events = new Map<number, StreamEvent>()
    for (const [from, to] of indexRuns(sends)) {
      const hits = engine.cached(from, to - from + 1)
      // A miss, or a run reaching below the stream's retained head (the store read decides: dropped).
      if (hits === undefined || hits.length !== to - from + 1) return undefined
      for (const { index, event } of hits) events.set(index, event)
    }
    return events
  }

  /** The events of the messages in `sends`, read in runs of consecutive indexes. */
  async #readEvents(sends: readonly ControllerSend[]): Promise<Map<number, StreamEvent> | undefined> {
    const events = new Map<number, StreamEvent>()
    const engine = this.#deps.engine()
    if (engine === undefined) return undefined
    for (const [from, to] of indexRuns(sends)) {
      for (const { index, event } of await engine.fetch(from, to - from + 1)) if (index >= from && index <= to) events.set(index, event)
    }
    return events
  }

  async #deadLetter(order: DeadLetterOrder): Promise<void> {
    let moved = false
    try {
      const engine = this.#deps.engine()
      const found = engine === undefined ? [] : await engine.fetch(order.index, 1)
      const hit = found[0]
      if (engine !== undefined && (hit === undefined || hit.index !== order.index)) {
        this.#controller?.dropped(order.index, this.#deps.nowMs())
        this.#drive()
        return
      }
      if (hit !== undefined) moved = await this.#deps.moveDeadLetter(order, hit.event)
    } catch (error) {
      this.#deps.logger.warn({ group: this.key, index: order.index, err: (error as Error).message }, 'consumer group: dead-letter move failed; retried')
    }
    if (this.#state !== 'running') return
    this.#controller?.deadLettered(order.index, moved, this.#deps.nowMs())
    this.#drive()
  }
}

/** The engine's group sequence when its stream is placed in several regions, else the engine itself. */
function groupView(engine: ConsumerEnginePort | undefined): ConsumerEnginePort | undefined {
  return engine === undefined ? undefined : (groupSequenceOf(engine) ?? engine)
}

/** The message indexes of `sends` as runs [from, to] of consecutive indexes, each at most eventReadBatchMax long. */
function indexRuns(sends: readonly ControllerSend[]): Array<readonly [number, number]> {
  const indexes = [...new Set(sends.flatMap((s) => (s.kind === 'message' ? [s.index] : [])))].sort((a, b) => a - b)
  const runs: Array<readonly [number, number]> = []
  let i = 0
  while (i < indexes.length) {
    const from = indexes[i] as number
    let to = from
    while (i + 1 < indexes.length && indexes[i + 1] === to + 1 && to - from + 1 < eventReadBatchMax) {
      i += 1
      to += 1
    }
    i += 1
    runs.push([from, to])
  }
  return runs
}
