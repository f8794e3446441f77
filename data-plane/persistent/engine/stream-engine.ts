// StreamEngine: drives one StreamReplica (one persistent stream on this node) against the
// EventStore — the driver contract of replica/README.md: publish → ready() → persist through the
// store's group commit (events, clock ceiling, and the fences and closes as decision records, in
// one synced batch) → persisted(id) → acks; messages to the other replicas through `send`
// (the node carries them on the peer transport's `data` channel); peer and controller messages
// in through `step`; deliveries recorded in the store's delivery index, then `onDelivered`
// listeners told; tick every `tickMs`.
//
// Hot path (issue #5 figures): the delivery index is written without an fsync of its own
// (`recordDeliveries(…, {sync: false})`: it rides in the storage's log until the next synced
// write; after a crash the replica delivers the same order again and the engine records what
// was lost again), so a publish → ack cycle costs one fsync, not two; and the latest deliveries
// are kept in a bounded in-memory cache that `fetch`/`cached` answer from, so consumer groups
// reading at the head never go to the storage.
//
// Restart: the incarnation in the engine record goes up by one and is synced before the replica
// exists; the replica is restored from the store's events, clock ceiling and decision records.
// A restarted incarnation holds no origin slot until its predecessor is closed naming it
// successor. For a replica set of this node alone the engine is its own controller (this node is
// the whole majority and holds its previous lives' disk): it closes its previous incarnation at
// the highest sequence it holds. With several replicas the stream controller (the holder of the
// `psc/…` designation, server/streams/stream-controller.ts) does it, after a fence on a majority
// and the restarted node itself; the engine offers `successorClaim()` meanwhile.
import { nuid } from '@nats-io/nuid'
import type { Storage } from '../../../shared/storage/index.js'
import { PersistentRejection } from '../errors.js'
import type { EventHeader, StreamEvent } from '../event.js'
import type { Hlc } from '../hlc.js'
import type { CloseDecision, Delivery } from '../order.js'
import type { ReplicaMessage } from '../replica/messages.js'
import { StreamReplica } from '../replica/stream-replica.js'
import type { AckLevel, FenceRecord, PublishAck, ReadRequest, ReplicaReady, RestoredReplicaState, StreamReplicaTiming } from '../replica/types.js'
import type { EventStore } from '../store/event-store.js'
import { readReplicaRestore } from '../store/replica-restore.js'
import type { RetentionPolicy } from '../store/stream-meta.js'
import { decodeDecisionRecord, encodeCloseRecord, encodeFenceRecord } from './decision-records.js'
import { readEngineRecord, writeEngineRecord } from './engine-record.js'
import { deliveredListenersMax, engineTickMsDefault, fetchEventsMax, restoreBatchEventsMax } from './limits.js'

export interface StreamEngineOptions {
  readonly store: EventStore
  /** The storage the store runs on (the engine record lives in `ps-engine`). */
  readonly storage: Storage
  readonly stream: string
  readonly node: string
  /**
   * The region's replica set (this node included). A restart keeps the set recorded at the
   * stream's first open on this node (the history's origins), whatever is passed.
   */
  readonly replicas: readonly string[]
  /**
   * Carries a message to another replica (or, for a controller's reply, to this node). Required
   * when the set holds other nodes; it never throws (a lost message is repaired by the replica's
   * anti-entropy and the controller's resends).
   */
  readonly send?: (to: string, message: ReplicaMessage) => void
  readonly dedupWindowMs: number
  readonly retention?: Partial<RetentionPolicy>
  /** This node's physical clock in ms (default Date.now). */
  readonly nowMs?: () => number
  readonly tickMs?: number
  readonly timing?: Partial<StreamReplicaTiming>
  /** Delivery cache bounds (default deliveryCacheEventsMax, deliveryCacheBytesMax; tests make them small). */
  readonly deliveryCache?: { readonly eventsMax?: number; readonly bytesMax?: number }
  /** Log lines (replica notices, storage failure). */
  readonly onNotice?: (kind: string, detail: string) => void
}

/** Deliveries `fetch` answers from memory at most (the most recent ones; older ones come from the store). */
export const deliveryCacheEventsMax = 16_384
/**
 * Bytes (payloads + headers, estimated) of one engine's delivery cache at most: a node opens at
 * most persistentStreamsPerNodeMax (32) engines, so 8 MiB each bounds it at 256 MiB a node.
 */
export const deliveryCacheBytesMax = 8 * 1024 * 1024
/** Deliveries handed to the store in one `recordDeliveries` call at most (the rest follow at once). */
export const recordDeliveriesBatchMax = 4_096
/** Fixed per-event overhead counted against deliveryCacheBytesMax besides payload and headers. */
const cachedEventOverheadBytes = 128
/**
 * Below the delivery cache, a fetch that continues where an earlier store read ended (a
 * sequential reader, e.g. a consumer group catching up from the beginning) reads this many
 * events ahead and keeps them: a group dispatching one message per ack otherwise paid two store
 * iterators per message (issue #5 consume+ack).
 */
export const readAheadEventsMax = 512
/** Bytes (as the delivery cache counts them) of one read-ahead window at most. */
export const readAheadBytesMax = 1024 * 1024
/** Read-ahead windows per engine (one per sequential reader), the least recently used dropped. */
export const readAheadWindowsMax = 4

export interface EnginePublish {
  /** Producer id (`Rg-Msg-Id`): the dedup identity; a nuid when absent. */
  readonly id?: string
  readonly headers: readonly EventHeader[]
  readonly payload: Uint8Array
  readonly ackLevel: AckLevel
}

export type EngineAck = PublishAck

/** A restarted incarnation asking the stream controller for its origin slot. */
export interface SuccessorClaim {
  readonly origin: string
  readonly incarnation: number
  readonly fromHlc: Hlc
}

interface Pending {
  resolve(ack: PublishAck): void
}

/** What a restart reads back from the store's decision records (and legacy engine-record closes). */
async function readDecisions(store: EventStore, stream: string, legacyCloses: readonly CloseDecision[]): Promise<{ fences: FenceRecord[]; closes: CloseDecision[] }> {
  const fences: FenceRecord[] = []
  const closes: CloseDecision[] = [...legacyCloses]
  for (let from = 0; ; ) {
    const batch = await store.records(stream, from, restoreBatchEventsMax)
    for (const { record } of batch) {
      const decoded = decodeDecisionRecord(record)
      if (decoded.kind === 'fence') fences.push(decoded.fence)
      else closes.push(decoded.close)
    }
    if (batch.length < restoreBatchEventsMax) break
    from = (batch.at(-1) as { seq: number }).seq + 1
  }
  return { fences, closes }
}

export class StreamEngine {
  readonly stream: string
  readonly incarnation: number
  /** The replica set this engine runs with (sorted). */
  readonly replicas: readonly string[]
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
  /** Deliveries below this index are written in the store's index (fetch answers up to here). */
  #writtenUpTo: number
  /** Handed over by the replica, not yet passed to the store (one store call at a time). */
  #unrecorded: Delivery[] = []
  #recording = false
  /** The most recent deliveries, contiguous: indexes [#cacheFirst, #cacheFirst + #cache.length − #cacheHead). */
  #cache: Array<StreamEvent | undefined> = []
  #cacheHead = 0
  #cacheFirst = 0
  #cacheBytes = 0
  readonly #cacheEventsMax: number
  readonly #cacheBytesMax: number
  /** Read-ahead windows below the delivery cache: events of indexes [first, first + events.length), most recently used last. */
  #readAhead: Array<{ readonly first: number; readonly events: readonly StreamEvent[] }> = []
  #publishCounter = 0
  #persistedUpTo = 0
  readonly #deliveredListeners = new Set<(deliveredCount: number) => void>()

  private constructor(options: StreamEngineOptions, replica: StreamReplica, recordedUpTo: number) {
    this.#options = options
    this.stream = options.stream
    this.incarnation = replica.incarnation
    this.replicas = replica.replicas
    this.#replica = replica
    this.#nowMs = options.nowMs ?? Date.now
    this.#recordedUpTo = recordedUpTo
    this.#writtenUpTo = recordedUpTo
    this.#cacheFirst = recordedUpTo
    this.#cacheEventsMax = options.deliveryCache?.eventsMax ?? deliveryCacheEventsMax
    this.#cacheBytesMax = options.deliveryCache?.bytesMax ?? deliveryCacheBytesMax
    if (!(Number.isInteger(this.#cacheEventsMax) && this.#cacheEventsMax >= 0 && Number.isInteger(this.#cacheBytesMax) && this.#cacheBytesMax >= 0)) throw new RangeError('stream engine: deliveryCache bounds must be integers >= 0')
  }

  /** Ensures the stream in the store, restores it, bumps the incarnation; ready to publish once resolved (a restart of a multi-replica set: once the controller gives it a slot). */
  static async open(options: StreamEngineOptions): Promise<StreamEngine> {
    const { store, storage, stream } = options
    const nowMs = options.nowMs ?? Date.now
    const record = await readEngineRecord(storage, stream)
    const replicas = [...(record?.replicas ?? options.replicas)].sort()
    if (!replicas.includes(options.node)) {
      throw new PersistentRejection('RG_ERR_INVALID_STATE', `stream ${stream}: this node (${options.node}) is not in the replica set ${replicas.join(',')}`)
    }
    if (replicas.length > 1 && options.send === undefined) {
      throw new PersistentRejection('RG_ERR_INVALID_STATE', `stream ${stream}: a replica set of several nodes (${replicas.join(',')}) needs a send function`)
    }
    if (record?.replicas !== undefined && [...options.replicas].sort().join(',') !== replicas.join(',')) {
      options.onNotice?.('replica-set', `stream ${stream}: keeps the replica set it was opened with (${replicas.join(',')}); the placement now says ${[...options.replicas].sort().join(',')} (replica-set changes are not driven yet)`)
    }
    await store.ensureStream(stream, { dedupWindowMs: options.dedupWindowMs, ...(options.retention === undefined ? {} : { retention: options.retention }) })
    const incarnation = (record?.incarnation ?? 0) + 1
    const legacyCloses: CloseDecision[] = [...(record?.closes ?? [])]
    // The new life is on disk before it stamps anything.
    await writeEngineRecord(storage, stream, { incarnation, closes: legacyCloses, replicas })
    let decisions: { fences: FenceRecord[]; closes: CloseDecision[] } = { fences: [], closes: legacyCloses }
    let restored: RestoredReplicaState | undefined
    if (record !== undefined) {
      // Metadata and the few copies above the resume point, never the whole history (issue #5).
      decisions = await readDecisions(store, stream, legacyCloses)
      const fromStore = await readReplicaRestore(store, stream, { closes: decisions.closes, dedupWindowMs: options.dedupWindowMs })
      restored = { ...fromStore, clockCeilingMs: store.clockCeiling(stream), fences: decisions.fences, closes: decisions.closes }
    }
    const replica = new StreamReplica({
      stream,
      node: options.node,
      incarnation,
      replicas,
      dedupWindowMs: options.dedupWindowMs,
      ...(options.timing === undefined ? {} : { timing: options.timing }),
      ...(restored === undefined ? {} : { restored }),
    })
    if (incarnation > 1 && replicas.length === 1) {
      // Own controller of a one-node replica set: close the previous life at what it holds. The
      // decision is persisted as a decision record by the first batch (before any event of this life).
      const claim = replica.successorClaim()
      if (claim === null) throw new Error(`stream ${stream}: a restarted replica made no successor claim`)
      const previous = incarnation - 1
      const atSeq = store.versionVector(stream).get(`${options.node}#${previous}`) ?? 0
      const decision: CloseDecision = { origin: options.node, incarnation: previous, atSeq, controllerTerm: decisions.closes.length + 1, successor: { incarnation, fromHlc: claim.fromHlc } }
      replica.step(options.node, { kind: 'closes', stream, requestId: 0, decisions: [decision] }, nowMs())
      if (!replica.writable) throw new Error(`stream ${stream}: closing incarnation ${previous} did not open incarnation ${incarnation}`)
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

  /** A message from another replica or from the stream controller (decoded from the `data` channel). */
  step(from: string, message: ReplicaMessage): void {
    if (this.#stopped !== null) return
    this.#replica.step(from, message, this.#nowMs())
    this.#schedulePump()
  }

  /** Whether this incarnation holds an origin slot (takes publishes itself). */
  get writable(): boolean {
    return this.#stopped === null && this.#replica.writable
  }

  /** A restarted incarnation's claim for its origin slot (null once it has one, or on its first life). */
  successorClaim(): SuccessorClaim | null {
    return this.#replica.successorClaim()
  }

  /** The close decisions this replica applied, in order. */
  get closes(): readonly CloseDecision[] {
    return this.#replica.closes
  }

  /** The highest controller term this replica has seen (fences, closes). */
  get controllerTerm(): number {
    return this.#replica.controllerTerm
  }

  /**
   * Calls `listener(deliveredCount)` each time new deliveries are recorded in the store (so
   * `fetch` returns them); `deliveredCount` is the store's count after the write. Returns the
   * unsubscribe. Listeners belong to this engine: a stream reopened on the node (a restart, a
   * role change) has a new engine, and a stopped engine calls nobody. At most
   * `deliveredListenersMax` listeners (a bug past that: it throws).
   */
  onDelivered(listener: (deliveredCount: number) => void): () => void {
    if (this.#deliveredListeners.size >= deliveredListenersMax) throw new RangeError(`stream ${this.stream}: more than deliveredListenersMax (${deliveredListenersMax}) delivery listeners`)
    this.#deliveredListeners.add(listener)
    return () => {
      this.#deliveredListeners.delete(listener)
    }
  }

  /**
   * Up to `max` delivered events from delivery index `from` (each with its index): recorded
   * ones only (below `deliveredCount`), from the delivery cache or a read-ahead window when they
   * hold them, else from the store (then the cached rest of the range). A store read that
   * continues an earlier one reads up to `readAheadEventsMax` ahead and keeps them.
   */
  async fetch(from: number, max: number): Promise<Array<{ readonly index: number; readonly event: StreamEvent }>> {
    const { start, end } = this.#fetchRange(from, max)
    if (end <= start) return []
    const cached = this.cached(start, end - start)
    if (cached !== undefined) return cached
    const cacheFirst = this.#cacheFirst
    const storeEnd = Math.min(end, cacheFirst)
    const continues = this.#readAhead.some((w) => w.first <= start && start <= w.first + w.events.length)
    const readEnd = continues ? Math.max(storeEnd, Math.min(start + readAheadEventsMax, cacheFirst, this.#writtenUpTo)) : storeEnd
    const read = await this.#options.store.readByIndex(this.stream, start, readEnd - start)
    if (this.#stopped === null) this.#keepReadAhead(start, read)
    const stored = read.length > storeEnd - start ? read.filter((row) => row.index < storeEnd) : read
    if (end <= cacheFirst) return stored
    // The rest of the range from the cache, if it still holds it (it may have moved on meanwhile).
    const rest = this.cached(cacheFirst, end - cacheFirst)
    return rest === undefined ? stored : [...stored.filter((row) => row.index < cacheFirst), ...rest]
  }

  /** Keeps a store read as a read-ahead window (its contiguous prefix from `first`, within the bounds), replacing the windows it overlaps. */
  #keepReadAhead(first: number, rows: ReadonlyArray<{ readonly index: number; readonly event: StreamEvent }>): void {
    const events: StreamEvent[] = []
    let bytes = 0
    for (const row of rows) {
      if (row.index !== first + events.length || events.length >= readAheadEventsMax) break
      bytes += cachedBytes(row.event)
      if (bytes > readAheadBytesMax && events.length > 0) break
      events.push(row.event)
    }
    if (events.length === 0) return
    const last = first + events.length
    const kept = this.#readAhead.filter((w) => w.first + w.events.length <= first || w.first >= last)
    kept.push({ first, events })
    this.#readAhead = kept.length > readAheadWindowsMax ? kept.slice(kept.length - readAheadWindowsMax) : kept
  }

  /** [start, end) of a fetch: from the first index still stored (as the store reads), at most fetchEventsMax, recorded ones only. */
  #fetchRange(from: number, max: number): { readonly start: number; readonly end: number } {
    // Retention may have removed the head of the stream: a read starts at what is left.
    const start = Math.max(0, from, this.#options.store.info(this.stream).firstIndex)
    return { start, end: Math.min(start + Math.min(Math.max(0, max), fetchEventsMax), this.#writtenUpTo) }
  }

  /**
   * `fetch` without I/O: the events of [from, from + max) (capped at `fetchEventsMax` and at
   * what is recorded) when the delivery cache or one read-ahead window holds all of them, else
   * undefined.
   */
  cached(from: number, max: number): Array<{ readonly index: number; readonly event: StreamEvent }> | undefined {
    const { start, end } = this.#fetchRange(from, max)
    if (end <= start) return []
    const out: Array<{ readonly index: number; readonly event: StreamEvent }> = []
    if (start < this.#cacheFirst) {
      const windows = this.#readAhead
      for (let i = windows.length - 1; i >= 0; i--) {
        const window = windows[i] as { readonly first: number; readonly events: readonly StreamEvent[] }
        if (window.first > start || end > window.first + window.events.length) continue
        if (i !== windows.length - 1) {
          windows.splice(i, 1)
          windows.push(window)
        }
        for (let index = start; index < end; index++) out.push({ index, event: window.events[index - window.first] as StreamEvent })
        return out
      }
      return undefined
    }
    for (let index = start; index < end; index++) {
      out.push({ index, event: this.#cache[this.#cacheHead + index - this.#cacheFirst] as StreamEvent })
    }
    return out
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
    for (const out of ready.messages) this.#options.send?.(out.to, out.message)
    for (const ack of ready.acks) {
      const pending = this.#pending.get(ack.publishId)
      if (pending === undefined) continue
      this.#pending.delete(ack.publishId)
      pending.resolve(ack)
    }
    for (const read of ready.reads) this.#serveRead(read)
    const persist = ready.persist
    if (persist !== null) {
      const { store } = this.#options
      const records = [...persist.fences.map(encodeFenceRecord), ...persist.closes.map(encodeCloseRecord)]
      const write =
        persist.events.length > 0 || records.length > 0
          ? store.append(this.stream, persist.events, { ...(persist.clockCeilingMs === null ? {} : { clockCeilingMs: persist.clockCeilingMs }), records }).then((result) => {
              // Invariant: the replica's gap bound is the store's, so everything it hands over is written.
              if (result.gapBufferFull > 0) throw new Error(`stream ${this.stream}: the store left ${result.gapBufferFull} event(s) unwritten (gap buffer full)`)
            })
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
    // After the persist: a delivery may name a copy first written by this very batch (the store
    // refuses a delivery of a copy it does not hold, in submission order).
    if (ready.deliveries.length > 0) this.#record(ready.deliveries)
  }

  /** An anti-entropy read of older copies (the replica keeps only unsettled ones in memory). */
  #serveRead(read: ReadRequest): void {
    this.#options.store.readByOriginRange(this.stream, read.range, read.limit).then(
      (events) => {
        if (this.#stopped !== null) return
        this.#replica.readDone(read.id, events)
        this.#schedulePump()
      },
      (error: unknown) => this.#fail(error as Error),
    )
  }

  #record(deliveries: readonly Delivery[]): void {
    for (const delivery of deliveries) {
      // After a restart the replica delivers again from its resume point: what the store holds is skipped.
      if (delivery.index < this.#recordedUpTo) continue
      this.#recordedUpTo = delivery.index + 1
      this.#unrecorded.push(delivery)
      this.#cacheAdd(delivery.index, delivery.event)
    }
    this.#recordNext()
  }

  /** One store call at a time (the index stays contiguous); what arrives meanwhile goes next, together. */
  #recordNext(): void {
    if (this.#recording || this.#unrecorded.length === 0 || this.#stopped !== null) return
    const batch = this.#unrecorded.length <= recordDeliveriesBatchMax ? this.#unrecorded : this.#unrecorded.slice(0, recordDeliveriesBatchMax)
    this.#unrecorded = batch === this.#unrecorded ? [] : this.#unrecorded.slice(batch.length)
    const upTo = (batch.at(-1) as Delivery).index + 1
    this.#recording = true
    this.#options.store.recordDeliveries(this.stream, batch.map((d) => ({ index: d.index, position: d.event, id: d.event.id })), { sync: false }).then(
      () => {
        this.#recording = false
        this.#writtenUpTo = upTo
        this.#notifyDelivered()
        this.#recordNext()
      },
      (error: unknown) => this.#fail(error as Error),
    )
  }

  #cacheAdd(index: number, event: StreamEvent): void {
    if (index !== this.#cacheFirst + this.#cache.length - this.#cacheHead) {
      // Not contiguous (cannot happen: deliveries are handed over in index order): start over.
      this.#cache = []
      this.#cacheHead = 0
      this.#cacheBytes = 0
      this.#cacheFirst = index
    }
    this.#cache.push(event)
    this.#cacheBytes += cachedBytes(event)
    while (this.#cache.length - this.#cacheHead > this.#cacheEventsMax || (this.#cacheBytes > this.#cacheBytesMax && this.#cache.length > this.#cacheHead)) {
      this.#cacheBytes -= cachedBytes(this.#cache[this.#cacheHead] as StreamEvent)
      // Released now, not at the next compaction: the byte bound holds for what is referenced.
      this.#cache[this.#cacheHead] = undefined
      this.#cacheHead++
      this.#cacheFirst++
    }
    // Compact once the evicted slots are half the array (amortised O(1) per event).
    if (this.#cacheHead > 0 && this.#cacheHead * 2 >= this.#cache.length) {
      this.#cache = this.#cache.slice(this.#cacheHead)
      this.#cacheHead = 0
    }
  }

  #notifyDelivered(): void {
    if (this.#stopped !== null || this.#deliveredListeners.size === 0) return
    const count = this.#options.store.info(this.stream).deliveredCount
    for (const listener of [...this.#deliveredListeners]) {
      try {
        listener(count)
      } catch (error) {
        this.#options.onNotice?.('listener-error', `onDelivered listener threw: ${(error as Error).message}`)
      }
    }
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
    this.#unrecorded = []
    this.#readAhead = []
    this.#cache = []
    this.#cacheHead = 0
    this.#cacheBytes = 0
    this.#cacheFirst = this.#writtenUpTo
  }
}

function cachedBytes(event: StreamEvent): number {
  let bytes = cachedEventOverheadBytes + event.payload.length + event.id.length
  for (const [key, value] of event.headers) bytes += key.length + value.length
  return bytes
}
