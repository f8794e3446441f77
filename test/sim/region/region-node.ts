// One simulated node of the region: a StreamReplica driven by its Ready contract over a SimDisk
// (write, then sync after 0–3 simulated ms, then `persisted`: group commit) and the simulated
// network (replica messages as codec bytes). It also stores the consumer group's progress
// replicated by the SCC, and hosts the controller roles it is designated for (SCC, closer).
//
// Crash = lose the replica, the roles, the in-memory progress and the unsynced disk records
// (or keep a torn prefix of them). Restart = read the disk back, persist incarnation + 1, build a
// new replica from what survived, and (incarnation > 1) announce the successor claim to the
// control plane until the closer gives this incarnation its origin slot.
//
// The disk is the node's event store: persist batches, and the delivery log (each Ready's
// deliveries, written after its persist batch, so a torn tail never keeps a delivery without the
// copies below it — what the real store's single write stream gives). A restart hands the
// replica what a store restore reads (`restoreFromHistory`: metadata, the dedup window, the few
// copies above the resume point); delivery resumes after the last durable delivery, and the
// node replays its durable delivery log to the checker (and the shipping tap) first, as a real
// node's consumers read it from the store. Anti-entropy reads of older copies (`ready().reads`)
// are answered from the durable copies after 0–2 ms.
import { EventSet, GroupProgress, StreamReplica, decodeReplicaMessage, encodeReplicaMessage, restoreFromHistory } from '../../../data-plane/persistent/index.js'
import type { CloseDecision, FenceRecord, PersistBatch, ReadRequest, ReplicaMessage, StreamEvent } from '../../../data-plane/persistent/index.js'
import { SimDisk } from '../disk.js'
import type { RegionContext } from './context.js'
import type { CloserRole } from './closer.js'
import type { SccRole } from './scc.js'
import type { RegionWire } from './wire.js'

export type NodeRecord =
  | { readonly kind: 'incarnation'; readonly incarnation: number }
  | { readonly kind: 'batch'; readonly batch: PersistBatch }
  | { readonly kind: 'progress'; readonly group: string; readonly state: GroupProgress }
  /** Deliveries of one Ready, continuing the log. */
  | { readonly kind: 'delivered'; readonly events: readonly StreamEvent[] }

export const copyKeyOf = (e: { readonly origin: string; readonly incarnation: number; readonly originSeq: number }): string => `${e.origin}#${e.incarnation}#${e.originSeq}`

/** Drains of one Ready loop, at most (a runaway loop is a bug). */
const drainRoundsMax = 1000
/** An anti-entropy read of the disk answers after 0..this many ms. */
const readDelayMsMax = 2

export class RegionNode {
  readonly disk: SimDisk<NodeRecord>
  life = 0
  up = false
  replica: StreamReplica | null = null
  /** The delivery log by index: the durable part read back at start, then this life's. */
  log: StreamEvent[] = []
  /** Anti-entropy reads of older copies this node's disk answered (all lives), and the copies they returned. */
  readsServed = 0
  readCopiesServed = 0
  /** Every copy this node wrote (what its store holds, synced or not): the checker's view of the replica's set. */
  held: EventSet
  /** Copies held in synced records (what a crash cannot take). */
  readonly durableCopies = new Set<string>()
  readonly progress = new Map<string, GroupProgress>()
  scc: SccRole | null = null
  closer: CloserRole | null = null
  skewMs: number
  /** This disk's fsync latency bound (slow disks widen the window between push and sync). */
  syncDelayMsMax: number
  #crashAtNextSync: (() => void) | null = null
  #syncScheduled = false
  #writtenUpTo = 0
  readonly #publishers = new Map<string, string>()

  constructor(
    readonly name: string,
    private readonly ctx: RegionContext,
  ) {
    this.disk = new SimDisk<NodeRecord>(name, ctx.random.fork(`disk-${name}`), ctx.trace, () => ctx.clock.nowMs)
    this.skewMs = ctx.random.fork(`skew-${name}`).intBetween(-ctx.config.skewMsMax, ctx.config.skewMsMax)
    this.syncDelayMsMax = ctx.random.fork(`disk-speed-${name}`).pick(ctx.config.syncDelayMsChoices)
    this.held = new EventSet({ stream: ctx.config.stream, dedupWindowMs: ctx.config.dedupWindowMs })
  }

  /** This node's physical clock (virtual time plus its skew). */
  physical(): number {
    return this.ctx.config.epochMs + this.ctx.clock.nowMs + this.skewMs
  }

  start(): void {
    if (this.up) return
    this.life++
    this.up = true
    const records = this.disk.read()
    const incarnation = Math.max(0, ...records.filter((r) => r.kind === 'incarnation').map((r) => r.incarnation)) + 1
    // The incarnation is durable before anything else happens in this life.
    this.disk.write([{ kind: 'incarnation', incarnation }])
    this.disk.sync()
    const batches = records.flatMap((r) => (r.kind === 'batch' ? [r.batch] : []))
    const events: StreamEvent[] = batches.flatMap((b) => b.events)
    const fences: FenceRecord[] = batches.flatMap((b) => b.fences)
    const closes: CloseDecision[] = batches.flatMap((b) => b.closes)
    const clockCeilingMs = Math.max(0, ...batches.map((b) => b.clockCeilingMs ?? 0))
    const deliveries = records.flatMap((r) => (r.kind === 'delivered' ? r.events : []))
    this.progress.clear()
    for (const r of records) {
      if (r.kind !== 'progress') continue
      const local = this.progress.get(r.group) ?? new GroupProgress(0)
      local.merge(r.state)
      this.progress.set(r.group, local)
    }
    const cfg = this.ctx.config
    const restored = incarnation === 1 ? undefined : restoreFromHistory({ events, deliveries, clockCeilingMs, fences, closes, dedupWindowMs: cfg.dedupWindowMs })
    this.replica = new StreamReplica({
      stream: cfg.stream,
      node: this.name,
      incarnation,
      replicas: cfg.replicaNames,
      dedupWindowMs: cfg.dedupWindowMs,
      timing: cfg.timing,
      ...(restored === undefined ? {} : { restored }),
    })
    this.held = new EventSet({ stream: cfg.stream, dedupWindowMs: cfg.dedupWindowMs })
    for (let i = 0; i < events.length; i += 10_000) this.held.insert(events.slice(i, i + 10_000))
    this.log = []
    this.#writtenUpTo = 0
    this.#syncScheduled = false
    this.ctx.checker.onStart(this, incarnation)
    // The durable delivery log, as consumers read it from the store; the replica continues after it.
    for (const event of deliveries) {
      this.ctx.checker.onDelivery(this, this.log.length, event)
      this.log.push(event)
    }
    this.ctx.trace.record(this.ctx.clock.nowMs, 'start', `${this.name} inc=${incarnation} events=${events.length} restored=${restored?.events.length ?? 0} delivered=${deliveries.length} ceiling=${clockCeilingMs}`)
    this.ctx.network.register(this.name, (from, message) => this.#onMessage(from, message))
    const life = this.life
    const tick = (): void => {
      if (this.life !== life || !this.up) return
      this.#tick()
      this.ctx.clock.schedule(cfg.tickMs, tick)
    }
    this.ctx.clock.schedule(this.ctx.random.fork(`tick-${this.name}-${life}`).int(cfg.tickMs) + 1, tick)
  }

  crash(): void {
    if (!this.up) return
    this.up = false
    this.ctx.network.unregister(this.name)
    this.disk.crash()
    // A torn tail may have kept some unsynced records: they are durable now.
    this.#recomputeDurable()
    this.replica = null
    this.scc = null
    this.closer = null
    this.progress.clear()
    this.#crashAtNextSync = null
    this.#publishers.clear()
    this.ctx.trace.record(this.ctx.clock.nowMs, 'crash', this.name)
  }

  /** Crash at the next fsync, with its records written but not synced. */
  crashAtNextSync(then: () => void): void {
    this.#crashAtNextSync = then
  }

  disarm(): void {
    this.#crashAtNextSync = null
  }

  #recomputeDurable(): void {
    this.durableCopies.clear()
    for (const r of this.disk.read()) if (r.kind === 'batch') for (const e of r.batch.events) this.durableCopies.add(copyKeyOf(e))
  }

  #tick(): void {
    const replica = this.replica as StreamReplica
    replica.tick(this.physical())
    const claim = replica.successorClaim()
    if (claim !== null) this.ctx.controlPlane.announce(claim)
    this.drain()
    this.scc?.tick(this.ctx.clock.nowMs)
    this.closer?.tick(this.ctx.clock.nowMs)
  }

  /** Sends replica bytes (also used by the closer role on this node). */
  sendReplica(to: string, message: ReplicaMessage): void {
    this.ctx.network.send(this.name, to, { kind: 'replica', bytes: encodeReplicaMessage(message) })
  }

  #onMessage(from: string, message: RegionWire): void {
    if (!this.up) return
    const replica = this.replica as StreamReplica
    switch (message.kind) {
      case 'replica': {
        const decoded = decodeReplicaMessage(message.bytes)
        if (!decoded.ok) return this.ctx.checker.violation('codec', `${this.name}: undecodable replica message from ${from}: ${decoded.error.message}`)
        const m = decoded.value
        if (m.kind === 'fenced' || m.kind === 'closes-applied') {
          this.closer?.onReply(from, m)
          return
        }
        replica.step(from, m, this.physical())
        break
      }
      case 'publish':
        this.#publishers.set(message.publishId, from)
        replica.publish([{ publishId: message.publishId, id: message.id, headers: [], payload: message.payload, ackLevel: message.level }], this.physical())
        break
      case 'consumer-ack':
        this.scc?.onConsumerAck(message)
        return
      case 'progress':
        this.#mergeProgress(message.group, message.state)
        return
      case 'progress-gather': {
        const state = (this.progress.get(message.group) ?? new GroupProgress(0)).clone()
        this.ctx.network.send(this.name, from, { kind: 'progress-state', group: message.group, requestId: message.requestId, state })
        return
      }
      case 'progress-state':
        this.scc?.onGatherReply(message)
        return
      case 'publish-ack':
      case 'dispatch':
        return
    }
    this.drain()
  }

  #mergeProgress(group: string, incoming: GroupProgress): void {
    const local = this.progress.get(group) ?? new GroupProgress(0)
    const before = local.canonical()
    const beforeTerm = local.term
    const outcome = local.merge(incoming)
    if (outcome === 'ignored-stale-term' && this.ctx.config.bugs.staleProgressWins === true) {
      const replaced = incoming.clone()
      this.progress.set(group, replaced)
      this.ctx.checker.onProgressMerge(this, group, beforeTerm, incoming.term, 'merged', before !== replaced.canonical())
      return
    }
    this.progress.set(group, local)
    this.ctx.checker.onProgressMerge(this, group, beforeTerm, incoming.term, outcome, before !== local.canonical())
    if (outcome !== 'ignored-stale-term' && before !== local.canonical()) {
      this.disk.write([{ kind: 'progress', group, state: local.clone() }])
      this.#scheduleSync()
    }
  }

  /** Runs the Ready loop until the replica has nothing more to say. */
  drain(): void {
    for (let round = 0; round < drainRoundsMax; round++) {
      if (!this.up || this.replica === null) return
      const ready = this.replica.ready()
      if (ready.persist === null && ready.reads.length === 0 && ready.messages.length === 0 && ready.acks.length === 0 && ready.deliveries.length === 0 && ready.notices.length === 0) return
      if (ready.persist !== null) {
        this.disk.write([{ kind: 'batch', batch: ready.persist }])
        for (let i = 0; i < ready.persist.events.length; i += 10_000) this.held.insert(ready.persist.events.slice(i, i + 10_000))
        this.#writtenUpTo = ready.persist.id
        this.#scheduleSync()
        if (this.ctx.config.bugs.ackBeforeSync === true) this.replica.persisted(ready.persist.id)
      }
      if (ready.deliveries.length > 0) {
        this.disk.write([{ kind: 'delivered', events: ready.deliveries.map((d) => d.event) }])
        this.#scheduleSync()
      }
      for (const read of ready.reads) this.#serveRead(read)
      for (const out of ready.messages) {
        if (out.message.kind === 'fenced' || out.message.kind === 'closes-applied') this.ctx.checker.onVouch(this, out.message)
        this.sendReplica(out.to, out.message)
      }
      for (const ack of ready.acks) {
        if (ack.ok) this.ctx.checker.onAck(this, ack)
        const publisher = this.#publishers.get(ack.publishId)
        this.#publishers.delete(ack.publishId)
        if (publisher !== undefined) {
          this.ctx.network.send(this.name, publisher, { kind: 'publish-ack', publishId: ack.publishId, ok: ack.ok, code: ack.ok ? '' : ack.error.code }, { connection: true })
        }
      }
      for (const d of ready.deliveries) {
        if (d.index !== this.log.length) this.ctx.checker.violation('delivery', `${this.name}: delivery index ${d.index} after ${this.log.length} deliveries`)
        this.log.push(d.event)
        this.ctx.checker.onDelivery(this, d.index, d.event)
      }
      for (const notice of ready.notices) this.ctx.checker.onNotice(this, notice)
    }
    this.ctx.checker.violation('liveness', `${this.name}: the Ready loop did not settle in ${drainRoundsMax} rounds`)
  }

  /** Answers an anti-entropy read from the durable copies (as the store reads), a little later. */
  #serveRead(read: ReadRequest): void {
    const life = this.life
    this.ctx.clock.schedule(this.ctx.syncRandom.int(readDelayMsMax + 1), () => {
      if (this.life !== life || !this.up || this.replica === null) return
      const events = this.held.eventsInRange(read.range).filter((e) => this.durableCopies.has(copyKeyOf(e))).slice(0, read.limit)
      this.readsServed++
      this.readCopiesServed += events.length
      this.replica.readDone(read.id, events)
      this.drain()
    })
  }

  #scheduleSync(): void {
    if (this.#syncScheduled) return
    this.#syncScheduled = true
    const life = this.life
    this.ctx.clock.schedule(this.ctx.syncRandom.int(this.syncDelayMsMax + 1), () => {
      if (this.life !== life || !this.up) return
      this.#syncScheduled = false
      if (this.#crashAtNextSync !== null) {
        const then = this.#crashAtNextSync
        this.crash()
        then()
        return
      }
      const unsynced = this.disk.read().slice(this.disk.recordCount - this.disk.unsyncedCount)
      this.disk.sync()
      for (const r of unsynced) if (r.kind === 'batch') for (const e of r.batch.events) this.durableCopies.add(copyKeyOf(e))
      if (this.#writtenUpTo > 0) this.replica?.persisted(this.#writtenUpTo)
      this.drain()
    })
  }
}
