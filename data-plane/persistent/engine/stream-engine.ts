// StreamEngine: drives one StreamReplica (one persistent stream on this node) against the
// EventStore — the driver contract of replica/README.md: publish → ready() → persist through the
// store's group commit → persisted(id) → acks; deliveries recorded in the store's delivery index;
// tick every `tickMs`. Single node only: the replica set must be exactly this node (a region of
// several replicas needs the peer transport and a controller: the next step).
//
// Restart: the incarnation in the engine record goes up by one and is synced before the replica
// exists; the replica is restored from the store's events; since this node is the whole replica
// set (the majority, and the holder of its previous lives' disk), the engine is its own
// controller and closes its previous incarnation at the highest sequence it holds, naming the new
// one successor (persisted in the engine record before the stream takes publishes).
import { nuid } from '@nats-io/nuid'
import type { Storage } from '../../../shared/storage/index.js'
import { PersistentRejection } from '../errors.js'
import type { EventHeader, StreamEvent } from '../event.js'
import type { CloseDecision, Delivery } from '../order.js'
import { StreamReplica } from '../replica/stream-replica.js'
import type { AckLevel, PublishAck, ReplicaReady, StreamReplicaTiming } from '../replica/types.js'
import type { EventStore } from '../store/event-store.js'
import type { RetentionPolicy } from '../store/stream-meta.js'
import { readEngineRecord, writeEngineRecord } from './engine-record.js'
import { engineTickMsDefault, fetchEventsMax, restoreBatchEventsMax } from './limits.js'

export interface StreamEngineOptions {
  readonly store: EventStore
  /** The storage the store runs on (the engine record lives in `ps-engine`). */
  readonly storage: Storage
  readonly stream: string
  readonly node: string
  readonly replicas: readonly string[]
  readonly dedupWindowMs: number
  readonly retention?: Partial<RetentionPolicy>
  /** This node's physical clock in ms (default Date.now). */
  readonly nowMs?: () => number
  readonly tickMs?: number
  readonly timing?: Partial<StreamReplicaTiming>
  /** Log lines (replica notices, storage failure). */
  readonly onNotice?: (kind: string, detail: string) => void
}

export interface EnginePublish {
  /** Producer id (`Rg-Msg-Id`): the dedup identity; a nuid when absent. */
  readonly id?: string
  readonly headers: readonly EventHeader[]
  readonly payload: Uint8Array
  readonly ackLevel: AckLevel
}

export type EngineAck = PublishAck

interface Pending {
  resolve(ack: PublishAck): void
}

export class StreamEngine {
  readonly stream: string
  readonly incarnation: number
  readonly #options: StreamEngineOptions
  readonly #replica: StreamReplica
  readonly #pending = new Map<string, Pending>()
  readonly #nowMs: () => number
  #timer: NodeJS.Timeout | undefined
  #pumpQueued = false
  #stopped: Error | null = null
  /** What publishes are answered once stopped: a storage failure, or a stop (node draining, stream removed). */
  #stoppedCode: 'RG_ERR_STORAGE_IO' | 'RG_ERR_NOT_READY' = 'RG_ERR_STORAGE_IO'
  /** Deliveries at or above this index are not yet handed to the store. */
  #recordedUpTo: number
  #publishCounter = 0
  #persistedUpTo = 0
  /** Chains the store writes of deliveries so they stay contiguous. */
  #deliveryChain: Promise<void> = Promise.resolve()

  private constructor(options: StreamEngineOptions, replica: StreamReplica, recordedUpTo: number) {
    this.#options = options
    this.stream = options.stream
    this.incarnation = replica.incarnation
    this.#replica = replica
    this.#nowMs = options.nowMs ?? Date.now
    this.#recordedUpTo = recordedUpTo
  }

  /** Ensures the stream in the store, restores it, bumps the incarnation; ready to publish once resolved. */
  static async open(options: StreamEngineOptions): Promise<StreamEngine> {
    if (options.replicas.length !== 1 || options.replicas[0] !== options.node) {
      throw new PersistentRejection('RG_ERR_INVALID_STATE', `stream ${options.stream}: only a replica set of this node alone is driven yet (got ${options.replicas.join(',')})`)
    }
    const { store, storage, stream } = options
    const nowMs = options.nowMs ?? Date.now
    await store.ensureStream(stream, { dedupWindowMs: options.dedupWindowMs, ...(options.retention === undefined ? {} : { retention: options.retention }) })
    const record = await readEngineRecord(storage, stream)
    const incarnation = (record?.incarnation ?? 0) + 1
    const closes: CloseDecision[] = [...(record?.closes ?? [])]
    // The new life is on disk before it stamps anything.
    await writeEngineRecord(storage, stream, { incarnation, closes })
    const events: StreamEvent[] = []
    if (record !== undefined) {
      for (;;) {
        const after = events.at(-1)
        let read = 0
        for await (const event of store.events(stream, { ...(after === undefined ? {} : { after }), limit: restoreBatchEventsMax })) {
          events.push(event)
          read += 1
        }
        if (read < restoreBatchEventsMax) break
      }
    }
    const replica = new StreamReplica({
      stream,
      node: options.node,
      incarnation,
      replicas: options.replicas,
      dedupWindowMs: options.dedupWindowMs,
      ...(options.timing === undefined ? {} : { timing: options.timing }),
      ...(record === undefined ? {} : { restored: { events, clockCeilingMs: store.clockCeiling(stream), fences: [], closes } }),
    })
    if (incarnation > 1) {
      // Own controller of a one-node replica set: close the previous life at what it holds.
      const claim = replica.successorClaim()
      if (claim === null) throw new Error(`stream ${stream}: a restarted replica made no successor claim`)
      const previous = incarnation - 1
      const atSeq = store.versionVector(stream).get(`${options.node}#${previous}`) ?? 0
      const decision: CloseDecision = { origin: options.node, incarnation: previous, atSeq, controllerTerm: closes.length + 1, successor: { incarnation, fromHlc: claim.fromHlc } }
      replica.step(options.node, { kind: 'closes', stream, requestId: 0, decisions: [decision] }, nowMs())
      if (!replica.writable) throw new Error(`stream ${stream}: closing incarnation ${previous} did not open incarnation ${incarnation}`)
      await writeEngineRecord(storage, stream, { incarnation, closes: [...closes, decision] })
    }
    const engine = new StreamEngine(options, replica, store.info(stream).deliveredCount)
    engine.#timer = setInterval(() => engine.#tick(), options.tickMs ?? engineTickMsDefault)
    engine.#timer.unref()
    engine.#pump()
    return engine
  }

  /** Publishes one event; resolves with the ack once it is synced at `ackLevel` (or a refusal). */
  publish(request: EnginePublish): Promise<PublishAck> {
    const publishId = `p${++this.#publishCounter}`
    if (this.#stopped !== null) return Promise.resolve({ ok: false, publishId, error: new PersistentRejection(this.#stoppedCode, `stream ${this.stream} stopped: ${this.#stopped.message}`) })
    return new Promise<PublishAck>((resolve) => {
      this.#pending.set(publishId, { resolve })
      this.#replica.publish([{ publishId, id: request.id ?? nuid.next(), headers: request.headers, payload: request.payload, ackLevel: request.ackLevel }], this.#nowMs())
      this.#schedulePump()
    })
  }

  /** Up to `max` delivered events from delivery index `from` (each with its index). */
  fetch(from: number, max: number): Promise<Array<{ readonly index: number; readonly event: StreamEvent }>> {
    return this.#options.store.readByIndex(this.stream, Math.max(0, from), Math.min(Math.max(0, max), fetchEventsMax))
  }

  /** Events delivered so far (stable and recorded in the store's index). */
  get deliveredCount(): number {
    return this.#options.store.info(this.stream).deliveredCount
  }

  get pendingPublishes(): number {
    return this.#pending.size
  }

  /** Stops ticking; pending and later publishes are answered RG_ERR_NOT_READY (their events may still be written). */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    this.#fail(new Error('engine stopped'), 'RG_ERR_NOT_READY')
  }

  #tick(): void {
    if (this.#stopped !== null) return
    this.#replica.tick(this.#nowMs())
    this.#pump()
  }

  #schedulePump(): void {
    if (this.#pumpQueued) return
    this.#pumpQueued = true
    queueMicrotask(() => {
      this.#pumpQueued = false
      this.#pump()
    })
  }

  #pump(): void {
    if (this.#stopped !== null) return
    const ready: ReplicaReady = this.#replica.ready()
    for (const notice of ready.notices) this.#options.onNotice?.(notice.kind, notice.detail)
    for (const ack of ready.acks) {
      const pending = this.#pending.get(ack.publishId)
      if (pending === undefined) continue
      this.#pending.delete(ack.publishId)
      pending.resolve(ack)
    }
    if (ready.deliveries.length > 0) this.#record(ready.deliveries)
    const persist = ready.persist
    if (persist !== null) {
      const { store } = this.#options
      const write = persist.events.length > 0
        ? store.append(this.stream, persist.events, persist.clockCeilingMs === null ? {} : { clockCeilingMs: persist.clockCeilingMs }).then(() => undefined)
        : persist.clockCeilingMs !== null
          ? store.setClockCeiling(this.stream, persist.clockCeilingMs)
          : Promise.resolve()
      write.then(
        () => {
          if (this.#stopped !== null) return
          this.#persistedUpTo = Math.max(this.#persistedUpTo, persist.id)
          this.#replica.persisted(this.#persistedUpTo)
          this.#schedulePump()
        },
        (error: unknown) => this.#fail(error as Error),
      )
    }
  }

  #record(deliveries: readonly Delivery[]): void {
    const fresh = deliveries.filter((d) => d.index >= this.#recordedUpTo)
    if (fresh.length === 0) return
    this.#recordedUpTo = (fresh.at(-1) as Delivery).index + 1
    const { store } = this.#options
    this.#deliveryChain = this.#deliveryChain.then(() => store.recordDeliveries(this.stream, fresh.map((d) => ({ index: d.index, position: d.event })))).catch((error: unknown) => this.#fail(error as Error))
  }

  #fail(error: Error, code: 'RG_ERR_STORAGE_IO' | 'RG_ERR_NOT_READY' = 'RG_ERR_STORAGE_IO'): void {
    if (this.#stopped !== null) return
    this.#stopped = error
    this.#stoppedCode = code
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    this.#options.onNotice?.('stopped', error.message)
    for (const [publishId, pending] of this.#pending) pending.resolve({ ok: false, publishId, error: new PersistentRejection(code, `stream ${this.stream}: ${error.message}`) })
    this.#pending.clear()
  }
}
