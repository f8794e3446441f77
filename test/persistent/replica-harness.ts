// A tiny synchronous driver for StreamReplica scenario tests: every message goes through the
// binary codec, disks sync when told, the network delivers in FIFO order unless a link is cut
// or a message is held back. Not a simulator (that is test/sim/region/); a readable stage.
// A disk holds the persist batches and the delivery log (synced together, as the event store's
// one write stream); a restart restores what a store restore reads (`restoreFromHistory`) and
// delivery continues after the durable log; anti-entropy reads are answered from the durable
// batches at once.
import { StreamReplica, decodeReplicaMessage, encodeReplicaMessage, restoreFromHistory } from '../../data-plane/persistent/index.js'
import type { AckLevel, CloseDecision, Delivery, PersistBatch, PublishAck, ReplicaMessage, RestoredReplicaState, StreamEvent, StreamReplicaOptions } from '../../data-plane/persistent/index.js'

export const stream = 'default/orders'
const encoder = new TextEncoder()

export interface Disk {
  durable: PersistBatch[]
  unsynced: PersistBatch[]
  deliveries: Delivery[]
  unsyncedDeliveries: Delivery[]
}

export class Stage {
  readonly replicas = new Map<string, StreamReplica>()
  readonly disks = new Map<string, Disk>()
  readonly incarnations = new Map<string, number>()
  readonly acks: PublishAck[] = []
  /** Each node's delivery log: the durable part read back at a restart, then what its replica delivers. */
  readonly delivered = new Map<string, Delivery[]>()
  /** The restored state each node's latest life started from. */
  readonly restored = new Map<string, RestoredReplicaState>()
  readonly inbox: { from: string; to: string; bytes: Uint8Array }[] = []
  /** Controller replies (fenced, closes-applied) addressed to `controller`. */
  readonly controllerInbox: ReplicaMessage[] = []
  readonly cut = new Set<string>()
  /** Nodes whose persist batches stay unsynced until `sync(node)`. */
  readonly manualSync = new Set<string>()
  nowMs = 1000
  /** Anti-entropy reads answered from the disks, and the copies they returned. */
  readsServed = 0
  readEventsServed = 0
  #nextPublish = 1

  constructor(readonly names: readonly string[], readonly options: Partial<StreamReplicaOptions> = {}) {
    for (const name of names) this.start(name)
  }

  start(name: string): StreamReplica {
    const incarnation = (this.incarnations.get(name) ?? 0) + 1
    this.incarnations.set(name, incarnation)
    const disk = this.disks.get(name) ?? { durable: [], unsynced: [], deliveries: [], unsyncedDeliveries: [] }
    this.disks.set(name, disk)
    const dedupWindowMs = this.options.dedupWindowMs ?? 1000
    const restored = incarnation === 1 ? undefined : restoreFromHistory({
      events: disk.durable.flatMap((b) => b.events),
      deliveries: disk.deliveries.map((d) => d.event),
      clockCeilingMs: Math.max(0, ...disk.durable.map((b) => b.clockCeilingMs ?? 0)),
      fences: disk.durable.flatMap((b) => b.fences),
      closes: disk.durable.flatMap((b) => b.closes),
      dedupWindowMs,
    })
    const replica = new StreamReplica({ stream, node: name, incarnation, replicas: this.names, dedupWindowMs, ...this.options, ...(restored ? { restored } : {}) })
    if (restored !== undefined) this.restored.set(name, restored)
    this.replicas.set(name, replica)
    this.delivered.set(name, [...disk.deliveries])
    return replica
  }

  crash(name: string): void {
    this.replicas.delete(name)
    const disk = this.disks.get(name) as Disk
    disk.unsynced = []
    disk.unsyncedDeliveries = []
  }

  get(name: string): StreamReplica {
    const r = this.replicas.get(name)
    if (r === undefined) throw new Error(`${name} is down`)
    return r
  }

  publish(name: string, id: string, ackLevel: AckLevel = 'majority'): string {
    const publishId = `p${this.#nextPublish++}`
    this.get(name).publish([{ publishId, id, headers: [], payload: encoder.encode(id), ackLevel }], this.nowMs)
    return publishId
  }

  sync(name: string): void {
    const disk = this.disks.get(name) as Disk
    const last = disk.unsynced[disk.unsynced.length - 1]
    disk.durable.push(...disk.unsynced)
    disk.unsynced = []
    disk.deliveries.push(...disk.unsyncedDeliveries)
    disk.unsyncedDeliveries = []
    if (last !== undefined) this.replicas.get(name)?.persisted(last.id)
  }

  /** Drains every replica's Ready and delivers messages until nothing moves. */
  run(stepsMax = 10_000): void {
    for (let step = 0; step < stepsMax; step++) {
      let moved = false
      for (const [name, replica] of this.replicas) {
        const ready = replica.ready()
        const disk = this.disks.get(name) as Disk
        if (ready.persist !== null) {
          moved = true
          disk.unsynced.push(ready.persist)
        }
        disk.unsyncedDeliveries.push(...ready.deliveries)
        if ((ready.persist !== null || ready.deliveries.length > 0) && !this.manualSync.has(name)) this.sync(name)
        for (const read of ready.reads) {
          moved = true
          const events = this.durableEvents(name).filter((e) => `${e.origin}#${e.incarnation}` === read.range.originKey && e.originSeq >= read.range.fromSeq && e.originSeq <= read.range.toSeq).sort((a, b) => a.originSeq - b.originSeq).slice(0, read.limit)
          this.readsServed++
          this.readEventsServed += events.length
          replica.readDone(read.id, events)
        }
        this.acks.push(...ready.acks)
        ;(this.delivered.get(name) as Delivery[]).push(...ready.deliveries)
        for (const out of ready.messages) {
          moved = true
          this.inbox.push({ from: name, to: out.to, bytes: encodeReplicaMessage(out.message) })
        }
        if (ready.acks.length > 0 || ready.deliveries.length > 0) moved = true
      }
      const batch = this.inbox.splice(0)
      for (const m of batch) {
        const decoded = decodeReplicaMessage(m.bytes)
        if (!decoded.ok) throw decoded.error
        if (m.to === 'controller') {
          this.controllerInbox.push(decoded.value)
          continue
        }
        if (this.cut.has(`${m.from}>${m.to}`) || this.cut.has(m.to) || this.cut.has(m.from)) continue
        this.replicas.get(m.to)?.step(m.from, decoded.value, this.nowMs)
      }
      if (!moved && batch.length === 0) return
    }
    throw new Error('stage did not settle')
  }

  /** Advances time by `ms` in ticks of `tickMs`, running after each tick. */
  advance(ms: number, tickMs = 10): void {
    for (let t = 0; t < ms; t += tickMs) {
      this.nowMs += tickMs
      for (const replica of this.replicas.values()) replica.tick(this.nowMs)
      this.run()
    }
  }

  /** The controller fences an incarnation on `on` (default: every replica up and not cut off). */
  fence(origin: string, incarnation: number, controllerTerm: number, on: readonly string[] = [...this.replicas.keys()], requestId = 1): ReplicaMessage[] {
    this.controllerInbox.length = 0
    for (const name of on) if (!this.cut.has(name)) this.get(name).step('controller', { kind: 'fence', stream, requestId, origin, incarnation, controllerTerm }, this.nowMs)
    this.run()
    return this.controllerInbox.splice(0)
  }

  /** The controller distributes decisions to `on`; returns the replies. */
  close(decisions: readonly CloseDecision[], on: readonly string[] = [...this.replicas.keys()], requestId = 2): ReplicaMessage[] {
    this.controllerInbox.length = 0
    for (const name of on) if (!this.cut.has(name)) this.get(name).step('controller', { kind: 'closes', stream, requestId, decisions }, this.nowMs)
    this.run()
    return this.controllerInbox.splice(0)
  }

  /** The copies on a node's disk, synced. */
  durableEvents(name: string): StreamEvent[] {
    return (this.disks.get(name)?.durable ?? []).flatMap((b) => b.events)
  }

  /** The copies a node wrote (synced or not): what its replica holds. */
  writtenEvents(name: string): StreamEvent[] {
    const disk = this.disks.get(name)
    return [...(disk?.durable ?? []), ...(disk?.unsynced ?? [])].flatMap((b) => b.events)
  }

  deliveredKeys(name: string): string[] {
    return (this.delivered.get(name) as Delivery[]).map((d) => `${d.event.id}@${d.event.origin}#${d.event.incarnation}:${d.event.originSeq}`)
  }
}

export const idsOf = (events: readonly StreamEvent[]): string[] => events.map((e) => e.id)
