// The durable event store of persistent streams: events, their indexes and per-stream metadata
// on the storage adapter (RocksDB column families), with group commit (group-commit.ts).
//
// Writes (append, deliveries, group progress, config) go through one GroupCommitter: each
// promise resolves only after the batch holding it is synced. Every batch ends with the
// metadata record of each stream it touched, so events and metadata change atomically.
// Two copies of each stream's metadata live in memory: `staged` (what the next batch will
// say; changed when an item is built) and `durable` (what the last synced batch said; what
// reads answer). Nothing per event is kept in memory: reopen reads one record per stream and
// the gap buffer of each origin (see README).
import { StorageClosedError, StorageKeySpaceError } from '../../../shared/errors.js'
import type { BatchOperation, Storage } from '../../../shared/storage/index.js'
import { PersistentRejection } from '../errors.js'
import { encodeEvent, eventProblem, isValidOrigin, originKeyOf } from '../event.js'
import type { EventPosition, StreamEvent } from '../event.js'
import { MalformedEventError } from '../errors.js'
import type { Hlc } from '../hlc.js'
import { GroupCommitter } from './group-commit.js'
import type { GroupCommitOptions, GroupCommitStats, SyncedBatch } from './group-commit.js'
import { notifyObservers } from './observer.js'
import type { AppendedToStream, EventStoreObserver, MaintenanceCallReport, MaintenanceStepReport } from './observer.js'
import type { AppendKeys } from './keys.js'
import {
  appendIdKey,
  appendIndexKey,
  appendIndexValue,
  appendKeys,
  encodeStreamNo,
  eventStoreKeySpaces,
  eventsKeySpace,
  groupKey,
  groupsKeySpace,
  idsKeySpace,
  indexKeySpace,
  metaKeySpace,
  originSeqKey,
  originSeqsKeySpace,
  recordKey,
  recordsKeySpace,
  seqOfOriginSeqKey,
  streamMetaKey,
  streamMetaKeyPrefix,
  storageKeyBytes,
  storageKeyOfEventKey,
  streamNameKey,
  utf8,
} from './keys.js'
import { appendEventsMax, recordBytesMax, recordsPerAppendMax, groupNameBytesMax, groupRecordBytesMax, idIndexWindowsDefault, originIncarnationsPerStreamMax, storeGapSeqsPerOriginMax, streamsMax } from './limits.js'
import { StoreReader } from './reads.js'
import { decodeStreamMeta, encodeStreamMeta, noRetention, StreamState } from './stream-meta.js'
import type { RetentionPolicy, StreamConfig } from './stream-meta.js'
import { reissueRangeDeletes, runMaintenance } from './maintenance.js'
import type { MaintenanceResult } from './maintenance.js'

export interface EventStoreOptions extends GroupCommitOptions {
  /** Out-of-order sequences tracked per origin incarnation (defaults to storeGapSeqsPerOriginMax). */
  readonly gapMax?: number
  /** The id index keeps copies for this many dedup windows of log time (default 2). */
  readonly idIndexWindows?: number
  /** Told of every synced batch and maintenance step (more with `observe`). */
  readonly observer?: EventStoreObserver
}

export interface EnsureStreamOptions {
  readonly dedupWindowMs: number
  readonly retention?: Partial<RetentionPolicy>
}

export interface AppendOptions {
  /** A new HLC clock ceiling for the stream (replica `PersistBatch.clockCeilingMs`). */
  readonly clockCeilingMs?: number | null
  /**
   * Decision records written atomically with the events, in order (the replica's
   * `PersistBatch.fences` and `closes`, encoded by the caller); read back with `records()`.
   */
  readonly records?: readonly Uint8Array[]
}

export interface AppendResult {
  /** Copies written by this append. */
  readonly appended: number
  /** Copies the store already held (same origin, incarnation and sequence): skipped. */
  readonly alreadyHeld: number
  /** Copies at or below what retention deleted: never written back. */
  readonly belowHead: number
  /** Copies more than `gapMax` past their origin's contiguous prefix: not written (pull later). */
  readonly gapBufferFull: number
}

export interface StreamInfo {
  readonly stream: string
  readonly config: StreamConfig
  /** Events stored (after retention). */
  readonly count: number
  /** Bytes of stored events (keys + values). */
  readonly bytes: number
  /** Highest hlc of any event ever appended. */
  readonly highHlc: Hlc
  /** Highest clock ceiling ever persisted (ms). */
  readonly clockCeilingMs: number
  /** Delivery indexes recorded so far (the next index to record). */
  readonly deliveredCount: number
  /** Lowest delivery index still stored (retention moves it up). */
  readonly firstIndex: number
  /** Events deleted by retention so far. */
  readonly deletedCount: number
}

export interface RecordedDelivery {
  readonly index: number
  readonly position: EventPosition
  /** The event's id, kept in the index so a restarted replica reads its dedup window without the events. */
  readonly id?: string
}

const splitOriginKey = (key: string): { origin: string; incarnation: number } => {
  const at = key.lastIndexOf('#')
  return { origin: key.slice(0, at), incarnation: Number(key.slice(at + 1)) }
}

function checkConfig(options: EnsureStreamOptions): StreamConfig {
  const retention = { ...noRetention, ...options.retention }
  for (const [name, value] of Object.entries({ dedupWindowMs: options.dedupWindowMs, ...retention })) {
    if (!(Number.isSafeInteger(value) && value >= 0)) throw new PersistentRejection('RG_ERR_INVALID_ARGUMENT', `event store: ${name} must be an integer >= 0`, { field: name })
  }
  return { dedupWindowMs: options.dedupWindowMs, retention }
}

const sameConfig = (a: StreamConfig, b: StreamConfig): boolean =>
  a.dedupWindowMs === b.dedupWindowMs && a.retention.maxAgeMs === b.retention.maxAgeMs && a.retention.maxBytes === b.retention.maxBytes && a.retention.maxCount === b.retention.maxCount

const emptyValue = new Uint8Array(0)

export class EventStore {
  readonly storage: Storage
  readonly gapMax: number
  readonly idIndexWindows: number
  readonly #committer: GroupCommitter
  readonly #staged = new Map<string, StreamState>()
  readonly #durable = new Map<string, StreamState>()
  readonly #dirty = new Set<string>()
  readonly #reader: StoreReader
  readonly #observers = new Set<EventStoreObserver>()
  /** Events appended per stream by the batch being built (handed to observers once synced). */
  #batchAppended = new Map<string, { events: number; bytes: number }>()
  #nextStreamNo: number
  #closed = false
  #maintaining: Promise<unknown> = Promise.resolve()

  private constructor(storage: Storage, streams: readonly StreamState[], options: EventStoreOptions) {
    this.storage = storage
    this.gapMax = options.gapMax ?? storeGapSeqsPerOriginMax
    this.idIndexWindows = options.idIndexWindows ?? idIndexWindowsDefault
    if (!(Number.isInteger(this.idIndexWindows) && this.idIndexWindows >= 1)) throw new RangeError('event store: idIndexWindows must be an integer >= 1')
    let highest = 0
    for (const state of streams) {
      this.#staged.set(state.name, state)
      this.#durable.set(state.name, state.clone())
      highest = Math.max(highest, state.streamNo)
    }
    this.#nextStreamNo = highest + 1
    if (options.observer !== undefined) this.#observers.add(options.observer)
    this.#committer = new GroupCommitter(storage, { seal: () => this.#seal() }, options)
    this.#reader = new StoreReader(storage, (stream) => this.#durableState(stream), this.idIndexWindows)
  }

  /**
   * Opens the store over an open storage holding `eventStoreKeySpaces`, rebuilding the
   * in-memory metadata (one record per stream, plus each origin's gap buffer) without reading
   * events. The store never closes the storage: its owner does, after `close()`.
   */
  static async open(storage: Storage, options: EventStoreOptions = {}): Promise<EventStore> {
    for (const keySpace of eventStoreKeySpaces) if (!storage.keySpaces.includes(keySpace)) throw new StorageKeySpaceError(keySpace)
    const gapMax = options.gapMax ?? storeGapSeqsPerOriginMax
    const streams: StreamState[] = []
    const end = Uint8Array.of(streamMetaKeyPrefix[0] as number, 0xff, 0xff, 0xff, 0xff, 0xff)
    for await (const [, value] of storage.range(metaKeySpace, { gte: streamMetaKeyPrefix, lt: end })) streams.push(decodeStreamMeta(value))
    for (const state of streams) {
      // Gaps: sequences held above each origin's contiguous prefix (bounded by gapMax).
      for (const [key, contiguous] of state.vector) {
        const { origin, incarnation } = splitOriginKey(key)
        const gaps = new Set<number>()
        const range = storage.range(originSeqsKeySpace, { gt: originSeqKey(state.streamNo, origin, incarnation, contiguous), lte: originSeqKey(state.streamNo, origin, incarnation, contiguous + gapMax) })
        for await (const [seqKey] of range) gaps.add(seqOfOriginSeqKey(seqKey))
        if (gaps.size > 0) state.gaps.set(key, gaps)
      }
      // A crash may have come between a retention batch and its range deletes: do them again.
      await reissueRangeDeletes(storage, state)
    }
    return new EventStore(storage, streams, options)
  }

  #durableState(stream: string): StreamState {
    const state = this.#durable.get(stream)
    if (state === undefined) throw new PersistentRejection('RG_ERR_NOT_FOUND', `event store: unknown stream '${stream}'`, { stream })
    return state
  }

  #stagedState(stream: string): StreamState {
    if (this.#closed) throw new StorageClosedError('use the event store')
    const state = this.#staged.get(stream)
    if (state === undefined) throw new PersistentRejection('RG_ERR_NOT_FOUND', `event store: unknown stream '${stream}' (ensureStream first)`, { stream })
    return state
  }

  #seal(): { operations: BatchOperation[]; durable(batch: SyncedBatch): void } {
    const operations: BatchOperation[] = []
    const snapshots: StreamState[] = []
    for (const name of this.#dirty) {
      const state = this.#staged.get(name) as StreamState
      const snapshot = state.clone()
      operations.push({ type: 'put', keySpace: metaKeySpace, key: streamNameKey(name), value: encodeStreamNo(state.streamNo) })
      operations.push({ type: 'put', keySpace: metaKeySpace, key: streamMetaKey(state.streamNo), value: encodeStreamMeta(snapshot) })
      snapshots.push(snapshot)
    }
    this.#dirty.clear()
    const appended: ReadonlyMap<string, AppendedToStream> = this.#batchAppended
    if (appended.size > 0) this.#batchAppended = new Map()
    return {
      operations,
      durable: (batch) => {
        for (const snapshot of snapshots) this.#durable.set(snapshot.name, snapshot)
        // Observers hear of synced batches (an unsynced one holds delivery records only).
        if (this.#observers.size > 0 && batch.synced && batch.operations > 0) notifyObservers(this.#observers, (observer) => observer.committed?.({ ...batch, appended }))
      },
    }
  }

  /** Creates a stream, or updates its configuration. Resolves once durable. */
  async ensureStream(stream: string, options: EnsureStreamOptions): Promise<StreamInfo> {
    if (this.#closed) throw new StorageClosedError('use the event store')
    const config = checkConfig(options)
    const problem = eventProblem({ stream, id: 'x', hlc: { wallMs: 0, logical: 0 }, origin: 'o', incarnation: 1, originSeq: 1, headers: [], payload: new Uint8Array() })
    if (problem !== null) throw new PersistentRejection('RG_ERR_INVALID_NAME', `event store: stream name: ${problem}`, { field: 'stream' })
    let state = this.#staged.get(stream)
    if (state === undefined) {
      if (this.#staged.size >= streamsMax) throw new PersistentRejection('RG_ERR_LIMIT_EXCEEDED', `event store: more than ${streamsMax} streams`, { limit: 'streamsMax' })
      state = new StreamState(this.#nextStreamNo++, stream, config)
      this.#staged.set(stream, state)
    } else if (sameConfig(state.config, config)) {
      await this.#committer.drain()
      return this.info(stream)
    }
    const target = state
    await this.#committer.submit({
      bytes: 256,
      build: () => {
        target.config = config
        this.#dirty.add(stream)
        return { operations: [], result: undefined }
      },
    })
    return this.info(stream)
  }

  /**
   * Appends copies (any order; already-held copies are skipped). Resolves after the batch
   * holding them is synced; rejects with the storage error if that write fails (then nothing
   * of that batch is acknowledged and the store is stopped), or with RG_ERR_LIMIT_EXCEEDED when
   * the queue is full (nothing written; `whenWritable()` then retry).
   */
  append(stream: string, events: readonly StreamEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    let state: StreamState
    try {
      state = this.#stagedState(stream)
      if (events.length > appendEventsMax) throw new PersistentRejection('RG_ERR_LIMIT_EXCEEDED', `event store: ${events.length} events in one append (appendEventsMax ${appendEventsMax})`, { limit: 'appendEventsMax' })
      const ceiling = options.clockCeilingMs ?? null
      if (ceiling !== null && !(Number.isSafeInteger(ceiling) && ceiling >= 0)) throw new PersistentRejection('RG_ERR_INVALID_ARGUMENT', 'event store: clockCeilingMs must be an integer >= 0', { field: 'clockCeilingMs' })
      const records = options.records ?? []
      if (records.length > recordsPerAppendMax) throw new PersistentRejection('RG_ERR_LIMIT_EXCEEDED', `event store: ${records.length} records in one append (recordsPerAppendMax ${recordsPerAppendMax})`, { limit: 'recordsPerAppendMax' })
      if (records.some((record) => record.length > recordBytesMax)) throw new PersistentRejection('RG_ERR_LIMIT_EXCEEDED', `event store: a record over ${recordBytesMax} bytes`, { limit: 'recordBytesMax' })
    } catch (error) {
      return Promise.reject(error)
    }
    // Encode up front (validation, and the bytes the queue bounds count); state changes wait for the batch.
    const prepared: Array<{ readonly event: StreamEvent; readonly keys: AppendKeys; readonly value: Uint8Array }> = []
    let bytes = 0
    for (const event of events) {
      if (event.stream !== stream) return Promise.reject(new MalformedEventError(`event of stream '${event.stream}' appended to '${stream}'`))
      let value: Uint8Array
      try {
        // encodeEvent validates (eventProblem) and throws MalformedEventError on a bad event.
        value = encodeEvent(event)
      } catch (error) {
        return Promise.reject(error)
      }
      const keys = appendKeys(state.streamNo, event)
      bytes += keys.eventKey.length * 3 + value.length + 40
      prepared.push({ event, keys, value })
    }
    const ceiling = options.clockCeilingMs ?? null
    const records = options.records ?? []
    for (const record of records) bytes += record.length + 16
    return this.#committer.submit({
      bytes,
      build: () => {
        const operations: BatchOperation[] = []
        let appended = 0
        let alreadyHeld = 0
        let belowHead = 0
        let gapBufferFull = 0
        let appendedBytes = 0
        const streamNo = state.streamNo
        const withIds = state.config.dedupWindowMs > 0
        for (const { event, keys, value } of prepared) {
          const key = originKeyOf(event)
          if (state.holds(key, event.originSeq)) {
            alreadyHeld++
            continue
          }
          if (state.head.throughKey !== null && state.belowHead(storageKeyOfEventKey(keys.eventKey))) {
            belowHead++
            continue
          }
          if (!state.vector.has(key) && state.vector.size >= originIncarnationsPerStreamMax) {
            throw new PersistentRejection('RG_ERR_LIMIT_EXCEEDED', `event store: stream '${stream}' holds ${originIncarnationsPerStreamMax} origin incarnations`, { limit: 'originIncarnationsPerStreamMax' })
          }
          if (!state.record(key, event.originSeq, this.gapMax)) {
            gapBufferFull++
            continue
          }
          operations.push({ type: 'put', keySpace: eventsKeySpace, key: keys.eventKey, value })
          operations.push({ type: 'put', keySpace: originSeqsKeySpace, key: keys.originSeqKey, value: keys.hlc })
          if (withIds) operations.push({ type: 'put', keySpace: idsKeySpace, key: appendIdKey(streamNo, event.id, keys.eventKey), value: emptyValue })
          state.count++
          state.bytes += keys.eventKey.length + value.length
          appendedBytes += keys.eventKey.length + value.length
          state.noteHlc(event.hlc)
          appended++
        }
        if (appended > 0) {
          const counted = this.#batchAppended.get(stream)
          if (counted === undefined) this.#batchAppended.set(stream, { events: appended, bytes: appendedBytes })
          else {
            counted.events += appended
            counted.bytes += appendedBytes
          }
        }
        if (ceiling !== null && ceiling > state.clockCeilingMs) state.clockCeilingMs = ceiling
        for (const record of records) operations.push({ type: 'put', keySpace: recordsKeySpace, key: recordKey(streamNo, state.recordCount++), value: record })
        if (appended > 0 || ceiling !== null || records.length > 0) this.#dirty.add(stream)
        return { operations, result: { appended, alreadyHeld, belowHead, gapBufferFull } }
      },
    })
  }

  /**
   * Records delivery indexes (Orderer deliveries: index → event position), in order and
   * contiguous from `info().deliveredCount`; each event must be held. Resolves once durable —
   * or, with `{sync: false}`, once written: in the storage's log, made durable by the next synced
   * write (group-commit.ts), so it costs no fsync of its own. That is safe for what the index
   * holds: a replica delivers the same order again after a restart, and the engine records what
   * the store lost again. This is what `resumePoint` and `readByIndex` answer from.
   */
  recordDeliveries(stream: string, deliveries: readonly RecordedDelivery[], options: { readonly sync?: boolean } = {}): Promise<void> {
    let state: StreamState
    try {
      state = this.#stagedState(stream)
    } catch (error) {
      return Promise.reject(error)
    }
    // Each value is the event's storage key then its id, built in one allocation (the key is its prefix).
    let values: Buffer[]
    try {
      values = deliveries.map((d) => appendIndexValue(d.position, d.id))
    } catch (error) {
      return Promise.reject(error)
    }
    return this.#committer.submit({
      bytes: deliveries.length * 48,
      sync: options.sync !== false,
      build: () => {
        // Check everything before changing anything: a bad call rejects whole.
        let expected = state.deliveredCount
        const last = state.lastDeliveredKey
        let lastValue: Buffer | null = null
        let lastKeyBytes = 0
        for (let i = 0; i < deliveries.length; i++) {
          const d = deliveries[i] as RecordedDelivery
          const value = values[i] as Buffer
          const keyBytes = storageKeyBytes(d.position)
          if (d.index !== expected) throw new PersistentRejection('RG_ERR_INVALID_STATE', `event store: delivery index ${d.index}, expected ${expected}`, { stream })
          // value[0, keyBytes) is this delivery's storage key; it must sort after the previous one.
          const afterLast = lastValue !== null ? value.compare(lastValue, 0, lastKeyBytes, 0, keyBytes) > 0 : last === null || value.compare(last, 0, last.length, 0, keyBytes) > 0
          if (!afterLast) throw new PersistentRejection('RG_ERR_INVALID_STATE', `event store: delivery ${d.index} is not after the previous one in storage order`, { stream })
          if (!state.holds(originKeyOf(d.position), d.position.originSeq)) throw new PersistentRejection('RG_ERR_INVALID_STATE', `event store: delivery ${d.index} names an event the store does not hold`, { stream })
          expected++
          lastValue = value
          lastKeyBytes = keyBytes
        }
        const streamNo = state.streamNo
        const operations: BatchOperation[] = new Array<BatchOperation>(deliveries.length)
        for (let i = 0; i < deliveries.length; i++) operations[i] = { type: 'put', keySpace: indexKeySpace, key: appendIndexKey(streamNo, (deliveries[i] as RecordedDelivery).index), value: values[i] as Buffer }
        state.deliveredCount = expected
        if (lastValue !== null) state.lastDeliveredKey = lastValue.subarray(0, lastKeyBytes)
        if (deliveries.length > 0) this.#dirty.add(stream)
        return { operations, result: undefined }
      },
    })
  }

  /** Persists a new clock ceiling for the stream (kept if higher). Resolves once durable. */
  setClockCeiling(stream: string, clockCeilingMs: number): Promise<void> {
    return this.append(stream, [], { clockCeilingMs }).then(() => undefined)
  }

  /** Stores a consumer group's progress record (the caller's bytes). Resolves once durable. */
  putGroupProgress(stream: string, group: string, record: Uint8Array): Promise<void> {
    return this.#groupWrite(stream, group, record)
  }

  deleteGroupProgress(stream: string, group: string): Promise<void> {
    return this.#groupWrite(stream, group, null)
  }

  #groupWrite(stream: string, group: string, record: Uint8Array | null): Promise<void> {
    let state: StreamState
    try {
      state = this.#stagedState(stream)
      const nameBytes = utf8(group).length
      if (nameBytes === 0 || nameBytes > groupNameBytesMax) throw new PersistentRejection('RG_ERR_INVALID_NAME', `event store: group name must be 1..${groupNameBytesMax} bytes`, { field: 'group' })
      if (record !== null && record.length > groupRecordBytesMax) throw new PersistentRejection('RG_ERR_LIMIT_EXCEEDED', `event store: group record over ${groupRecordBytesMax} bytes`, { limit: 'groupRecordBytesMax' })
    } catch (error) {
      return Promise.reject(error)
    }
    const key = groupKey(state.streamNo, group)
    const operation: BatchOperation = record === null ? { type: 'delete', keySpace: groupsKeySpace, key } : { type: 'put', keySpace: groupsKeySpace, key, value: record }
    return this.#committer.submit({ bytes: key.length + (record?.length ?? 0), build: () => ({ operations: [operation], result: undefined }) })
  }

  /** Resolves when the append queue has room (after an RG_ERR_LIMIT_EXCEEDED). */
  whenWritable(): Promise<void> {
    return this.#committer.whenWritable()
  }

  /** The storage error that stopped the store, or null. */
  get stoppedWith(): Error | null {
    return this.#committer.stoppedWith
  }

  get commitStats(): GroupCommitStats {
    return this.#committer.stats
  }

  /** The group commit's settings in force (the node's `streams.lingerMs`, `streams.batchBytesMax`). */
  get commitSettings(): { readonly lingerMs: number; readonly batchBytesMax: number } {
    return { lingerMs: this.#committer.lingerMs, batchBytesMax: this.#committer.batchBytesMax }
  }

  /** Submitted work for the committer (used by maintenance). @internal */
  submitOperations(build: () => readonly BatchOperation[], bytes: number): Promise<void> {
    return this.#committer.submit({ bytes, build: () => ({ operations: build(), result: undefined }) })
  }

  /** The staged state of a stream (maintenance changes it inside `submitOperations`). @internal */
  stagedState(stream: string): StreamState {
    const state = this.#staged.get(stream)
    if (state === undefined) throw new PersistentRejection('RG_ERR_NOT_FOUND', `event store: unknown stream '${stream}'`, { stream })
    return state
  }

  /** The durable state of a stream (what the last synced batch said). @internal */
  durableState(stream: string): StreamState {
    return this.#durableState(stream)
  }

  /** @internal */
  markDirty(stream: string): void {
    this.#dirty.add(stream)
  }

  /**
   * Adds an observer of synced batches and maintenance (see observer.ts); returns its removal.
   * Cheap to hold: observers are told once per batch or step, never per event.
   */
  observe(observer: EventStoreObserver): () => void {
    this.#observers.add(observer)
    return () => {
      this.#observers.delete(observer)
    }
  }

  /** Reports a maintenance step to the observers. @internal */
  reportMaintenanceStep(step: MaintenanceStepReport): void {
    if (this.#observers.size > 0) notifyObservers(this.#observers, (observer) => observer.maintenanceStep?.(step))
  }

  // Reads: from storage, bounded by the durable metadata.

  streams(): string[] {
    return [...this.#durable.keys()].sort()
  }

  hasStream(stream: string): boolean {
    return this.#durable.has(stream)
  }

  info(stream: string): StreamInfo {
    const s = this.#durableState(stream)
    return {
      stream,
      config: s.config,
      count: s.count,
      bytes: s.bytes,
      highHlc: s.highHlc,
      clockCeilingMs: s.clockCeilingMs,
      deliveredCount: s.deliveredCount,
      firstIndex: s.head.firstIndex,
      deletedCount: s.head.deletedCount,
    }
  }

  /** `{origin#incarnation → highest contiguous sequence}` of what is durable. */
  versionVector(stream: string): Map<string, number> {
    return new Map([...this.#durableState(stream).vector].filter(([, seq]) => seq > 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  }

  /** Sequences held above each origin's contiguous prefix. */
  gaps(stream: string, originKey: string): number[] {
    return [...(this.#durableState(stream).gaps.get(originKey) ?? [])].sort((a, b) => a - b)
  }

  /** origin → incarnations seen in this stream (sorted). */
  incarnations(stream: string): Map<string, number[]> {
    const out = new Map<string, number[]>()
    for (const key of this.#durableState(stream).vector.keys()) {
      const { origin, incarnation } = splitOriginKey(key)
      if (!isValidOrigin(origin)) continue
      const list = out.get(origin) ?? []
      list.push(incarnation)
      out.set(origin, list.sort((a, b) => a - b))
    }
    return out
  }

  /**
   * The ceiling a restarted node starts its clock above (ms): the highest persisted clock
   * ceiling, or the highest event wallMs if that is higher.
   */
  clockCeiling(stream: string): number {
    const s = this.#durableState(stream)
    return Math.max(s.clockCeilingMs, s.highHlc.wallMs)
  }

  /** For `Orderer` `resumeAfter`: the last delivered position and how many were delivered. */
  resumePoint(stream: string): { readonly lastDelivered: EventPosition; readonly deliveredCount: number } | null {
    const s = this.#durableState(stream)
    if (s.lastDeliveredKey === null) return null
    return { lastDelivered: this.#reader.positionOf(s.lastDeliveredKey), deliveredCount: s.deliveredCount }
  }

  get reader(): StoreReader {
    return this.#reader
  }

  readByIndex(stream: string, fromIndex: number, limit: number): Promise<Array<{ readonly index: number; readonly event: StreamEvent }>> {
    return this.#reader.readByIndex(stream, fromIndex, limit)
  }

  readByOriginRange(stream: string, range: { readonly originKey: string; readonly fromSeq: number; readonly toSeq: number }, limit: number): Promise<StreamEvent[]> {
    return this.#reader.readByOriginRange(stream, range, limit)
  }

  /** Copies of `id` inside the id index's horizon, in delivery order. */
  copiesOf(stream: string, id: string): Promise<StreamEvent[]> {
    return this.#reader.copiesOf(stream, id)
  }

  /** Stored events in delivery (storage-key) order, after `after` when given. */
  events(stream: string, options: { readonly after?: EventPosition; readonly limit?: number } = {}): AsyncIterable<StreamEvent> {
    return this.#reader.events(stream, options)
  }

  /** The first delivery index whose event's hlc is at or after `hlc` (deliveredCount if none). */
  indexAtOrAfter(stream: string, hlc: Hlc): Promise<number> {
    return this.#reader.indexAtOrAfter(stream, hlc)
  }

  /** Decision records from sequence `fromSeq` (0 = the first), in append order, at most `limit`. */
  records(stream: string, fromSeq = 0, limit = Number.MAX_SAFE_INTEGER): Promise<Array<{ readonly seq: number; readonly record: Uint8Array }>> {
    return this.#reader.records(stream, fromSeq, limit)
  }

  getGroupProgress(stream: string, group: string): Promise<Uint8Array | undefined> {
    return this.storage.get(groupsKeySpace, groupKey(this.#durableState(stream).streamNo, group))
  }

  groups(stream: string): Promise<string[]> {
    return this.#reader.groups(stream)
  }

  /**
   * Retention (age against `nowMs`, bytes, count; from the head, delivered events only) and id
   * index expiry (by the log's own highest hlc), in bounded steps. One maintenance at a time.
   * Stops between steps (`done: false`) once `signal` aborts or the store is closing, so a
   * shutdown never waits for a whole call.
   */
  maintain(stream: string, nowMs: number, options: { readonly signal?: AbortSignal } = {}): Promise<MaintenanceResult> {
    const stop = (): boolean => this.#closed || options.signal?.aborted === true
    const run = this.#maintaining.then(async () => {
      const call: MaintenanceCallReport = await runMaintenance(this, stream, nowMs, stop)
      if (this.#observers.size > 0) notifyObservers(this.#observers, (observer) => observer.maintained?.(call))
      const { deletedEvents, deletedBytes, expiredIds, done } = call
      return { deletedEvents, deletedBytes, expiredIds, done }
    })
    this.#maintaining = run.catch(() => undefined)
    return run
  }

  /** Waits for queued writes, then refuses new ones (StorageClosedError). Leaves the storage open. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#maintaining
    await this.#committer.drain()
    this.#committer.stop(new StorageClosedError('append to a closed event store'))
  }
}

