// The materialized state of one CRDT KV bucket on one replica: fed by operations in any order,
// any number of times, it reaches the same visible state on every replica that holds the same
// operations (tested: any permutation with duplicates of one operation set gives one state).
// Pure: no I/O, no timers; physical time comes in as an argument.
//
// Rules (README.md has them with the reasons):
// - Idempotence: each operation id (origin#incarnation, originSeq) is applied once; a version
//   tracker (contiguous prefix + bounded gap buffer) remembers which.
// - Last-writer-wins: a key's reset is the greatest put/delete by (hlc, origin, incarnation,
//   originSeq). A new greatest reset starts a new epoch: the old epoch's merges and increments go.
// - Bases: an accumulative operation counts in the epoch of its base. Base `reset X`: counts when
//   X is the current reset, is superseded when the current reset is greater, waits (pending) when
//   X has not arrived. Base `floor F` (the writer held no reset): counts when there is no reset or
//   the reset's hlc ≤ F (a tombstone the writer had already collected), else is superseded.
// - Garbage collection of tombstones (`collectGarbage`), safe under its contract: a delete with
//   nothing on top is marked when it becomes stable (every replica applied it) with the clock
//   ceiling of that moment (above every operation any replica had made), and removed once that
//   ceiling is stable too — by then every operation made before its writer saw the delete has
//   been applied here, so whatever arrives later was made on top of the delete (or of a later
//   reset), and a base naming a collected tombstone (hlc ≤ this replica's purge floor) counts as
//   "no reset".
import type { Observable } from 'rxjs'
import { VersionTracker, compareHlc, failure, hlcNow, hlcZero, isValidHlc, isValidIncarnation, isValidOrigin, maxHlc, originKey, originKeyOf, success } from '../persistent/index.js'
import type { Hlc, Outcome } from '../persistent/index.js'
import { KvWriteRejection } from './errors.js'
import { JsonDoc, actorOf, jsonPatchProblem } from './json-doc.js'
import { applyBatchOpsMax, counterDeltaMax, counterDeltaMin, jsonChangeBytesMax, jsonDocsLoadedMaxDefault, jsonMergesPerValueMax, keysPerBucketMax, pendingOpsMax, valueBytesMax, watchersMax } from './limits.js'
import { compareOpId, isResetOp, keyProblem } from './op.js'
import type { JsonObject, KvAccumulativeOp, KvDeleteOp, KvIncrementOp, KvMergeOp, KvOp, KvOpBase, KvOpId, KvPutOp, KvResetOp } from './op.js'
import { Epoch, KeyRecord } from './record.js'
import type { KvEntry } from './record.js'
import { selectorMatches, watchState } from './watch.js'
import type { KvChange, KvSelector, KvWatchEvent, KvWatchOptions, WatchSource } from './watch.js'

export interface CrdtKvStateOptions {
  /** The bucket's name (messages only). */
  readonly bucket: string
  /** This replica as a writer: node id and incarnation (a restart is a new incarnation). */
  readonly origin: string
  readonly incarnation: number
  readonly jsonDocsLoadedMax?: number
  readonly pendingOpsMax?: number
  readonly keysPerBucketMax?: number
  readonly jsonMergesPerValueMax?: number
  /** Out-of-order sequences held per writer beyond its contiguous prefix. */
  readonly gapMax?: number
}

export type ApplyOutcome =
  /** Recorded; `changed` when the key's visible value changed. */
  | { readonly status: 'applied'; readonly changed: boolean }
  /** Already applied: nothing changed. */
  | { readonly status: 'duplicate' }
  /** Not recorded (bring it again later): too far ahead of its writer's prefix, or too many pending. */
  | { readonly status: 'refused'; readonly reason: 'gap-buffer-full' | 'pending-full' }

/** Input of `collectGarbage`; see the contract in README.md § Garbage collection. */
export interface GcInput {
  /** Every operation with hlc ≤ this has been applied by every replica of every region, and none will be made. */
  readonly stableHlc: Hlc
  /** ≥ every hlc any replica has issued or seen so far. */
  readonly clockCeiling: Hlc
}

/** Everything held for one key, canonical (tests compare replicas with it). */
export interface KvRecordView {
  readonly key: string
  readonly reset: string | null
  readonly value: string | null
  readonly conflicts: number
  readonly updatedHlc: string | null
  readonly pending: number
}

type Resolution = 'contribute' | 'superseded' | 'pending'

/** Where an accumulative operation counts, given the key's current reset (module header). */
export function resolveBase(base: KvOpBase, reset: KvResetOp | undefined, purgeFloor: Hlc): Resolution {
  if (base.kind === 'reset') {
    if (reset !== undefined) {
      const order = compareOpId(base.id, reset.id)
      if (order === 0) return 'contribute'
      if (order < 0) return 'superseded'
    } else if (compareHlc(base.id.hlc, purgeFloor) <= 0) {
      return 'contribute' // the base was a tombstone collected here
    }
    return 'pending'
  }
  if (reset === undefined) return 'contribute'
  return compareHlc(reset.id.hlc, base.hlc) <= 0 ? 'contribute' : 'superseded'
}

const formatId = (id: KvOpId): string => `${id.hlc.wallMs}.${id.hlc.logical}/${id.origin}#${id.incarnation}/${id.originSeq}`

/** An entry's value as one canonical string. */
export function describeValue(entry: KvEntry): string {
  switch (entry.value.type) {
    case 'bytes':
      return `bytes:${[...entry.value.bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`
    case 'json':
      return `json:${JSON.stringify(entry.value.json)}`
    case 'counter':
      return `counter:${entry.value.count}`
  }
}

interface Listener {
  readonly selector: KvSelector
  readonly deliver: (change: KvChange) => void
}

const reject = (code: ConstructorParameters<typeof KvWriteRejection>[0], message: string, details: Readonly<Record<string, unknown>> = {}) =>
  failure(new KvWriteRejection(code, message, details))

export class CrdtKvState implements WatchSource {
  readonly bucket: string
  readonly origin: string
  readonly incarnation: number
  readonly actor: string
  readonly jsonDocsLoadedMax: number
  readonly pendingOpsMax: number
  readonly keysPerBucketMax: number
  readonly jsonMergesPerValueMax: number
  readonly #records = new Map<string, KeyRecord>()
  readonly #tracker: VersionTracker
  readonly #ownKey: string
  #lastHlc: Hlc = hlcZero
  #revision = 0
  #purgedThroughRevision = 0
  #purgeFloor: Hlc = hlcZero
  readonly #tombstones = new Set<string>()
  #pendingCount = 0
  #visibleKeys = 0
  /** Loaded JSON documents, least recently used first. */
  readonly #loadedDocs = new Set<JsonDoc>()
  readonly #listeners = new Set<Listener>()
  readonly #queue: Array<{ readonly change: KvChange; readonly listeners: readonly Listener[] }> = []
  #draining = false

  constructor(options: CrdtKvStateOptions) {
    if (!isValidOrigin(options.origin)) throw new RangeError(`kv-crdt: invalid origin '${options.origin}'`)
    if (!isValidIncarnation(options.incarnation)) throw new RangeError(`kv-crdt: invalid incarnation ${options.incarnation}`)
    this.bucket = options.bucket
    this.origin = options.origin
    this.incarnation = options.incarnation
    this.actor = actorOf(options.origin, options.incarnation)
    this.jsonDocsLoadedMax = options.jsonDocsLoadedMax ?? jsonDocsLoadedMaxDefault
    this.pendingOpsMax = options.pendingOpsMax ?? pendingOpsMax
    this.keysPerBucketMax = options.keysPerBucketMax ?? keysPerBucketMax
    this.jsonMergesPerValueMax = options.jsonMergesPerValueMax ?? jsonMergesPerValueMax
    for (const [name, value] of Object.entries({ jsonDocsLoadedMax: this.jsonDocsLoadedMax, pendingOpsMax: this.pendingOpsMax, keysPerBucketMax: this.keysPerBucketMax, jsonMergesPerValueMax: this.jsonMergesPerValueMax })) {
      if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`kv-crdt: ${name} must be an integer >= 1, got ${value}`)
    }
    this.#tracker = new VersionTracker(options.gapMax === undefined ? {} : { gapMax: options.gapMax })
    this.#ownKey = originKey(options.origin, options.incarnation)
  }

  // ---- reads ----

  /** This replica's revision: bumped by every visible change. */
  get revision(): number {
    return this.#revision
  }

  get purgedThroughRevision(): number {
    return this.#purgedThroughRevision
  }

  /** The greatest `stableHlc` garbage collection has run with. */
  get purgeFloor(): Hlc {
    return this.#purgeFloor
  }

  /** The greatest hlc made or applied here. */
  get lastHlc(): Hlc {
    return this.#lastHlc
  }

  /** Keys with a value. */
  get size(): number {
    return this.#visibleKeys
  }

  /** Records held, tombstones included. */
  get recordCount(): number {
    return this.#records.size
  }

  get tombstoneCount(): number {
    return this.#tombstones.size
  }

  get pendingCount(): number {
    return this.#pendingCount
  }

  get watcherCount(): number {
    return this.#listeners.size
  }

  get loadedDocCount(): number {
    return this.#loadedDocs.size
  }

  /** Applied operations per writer incarnation (contiguous prefix): what anti-entropy advertises. */
  appliedVector(): Map<string, number> {
    return this.#tracker.vector()
  }

  hasApplied(id: KvOpId): boolean {
    return this.#tracker.has(originKeyOf(id), id.originSeq)
  }

  get(key: string): KvEntry | undefined {
    return this.#records.get(key)?.entry()
  }

  /** Entries with a value, in key order (all, or those a selector picks). */
  entriesMatching(selector: KvSelector = { prefix: '' }): KvEntry[] {
    if ('key' in selector) {
      const entry = this.get(selector.key)
      return entry === undefined ? [] : [entry]
    }
    const out: KvEntry[] = []
    for (const record of this.#records.values()) {
      if (!record.key.startsWith(selector.prefix)) continue
      const entry = record.entry()
      if (entry !== undefined) out.push(entry)
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  changedSince(selector: KvSelector, revision: number): KvChange[] {
    const out: KvChange[] = []
    for (const record of this.#records.values()) {
      if (record.revision > revision && selectorMatches(selector, record.key)) out.push({ key: record.key, revision: record.revision, entry: record.entry() })
    }
    return out.sort((a, b) => a.revision - b.revision)
  }

  /** Every record, canonical and sorted by key: equal on replicas that hold the same operations. */
  view(): KvRecordView[] {
    return [...this.#records.values()]
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map((record) => {
        const entry = record.entry()
        const updated = record.updatedHlc()
        return {
          key: record.key,
          reset: record.reset === undefined ? null : `${record.reset.kind}@${formatId(record.reset.id)}`,
          value: entry === undefined ? null : describeValue(entry),
          conflicts: record.conflicts(),
          updatedHlc: updated === undefined ? null : `${updated.wallMs}.${updated.logical}`,
          pending: record.pending.length,
        }
      })
  }

  watch(selector: KvSelector | string, options: KvWatchOptions = {}): Observable<KvWatchEvent> {
    return watchState(this, typeof selector === 'string' ? { key: selector } : selector, options)
  }

  listen(selector: KvSelector, deliver: (change: KvChange) => void): () => void {
    if (this.#listeners.size >= watchersMax) throw new KvWriteRejection('RG_ERR_LIMIT_EXCEEDED', `bucket ${this.bucket}: more than ${watchersMax} watchers`, { limit: 'watchersMax' })
    const listener: Listener = { selector, deliver }
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  // ---- writes (this replica is the writer; each returns the operation to replicate) ----

  #checkKey(key: string): KvWriteRejection | undefined {
    const problem = keyProblem(key)
    return problem === null ? undefined : new KvWriteRejection('RG_ERR_INVALID_ARGUMENT', `bucket ${this.bucket}: ${problem}`, { field: 'key' })
  }

  /** A write that would give `key` a value when it has none: the keys limit. */
  #checkRoom(key: string): KvWriteRejection | undefined {
    if (this.#records.get(key)?.visibleType() !== undefined || this.#visibleKeys < this.keysPerBucketMax) return undefined
    return new KvWriteRejection('RG_ERR_LIMIT_EXCEEDED', `bucket ${this.bucket} holds ${this.#visibleKeys} keys (max ${this.keysPerBucketMax})`, { limit: 'keysPerBucketMax' })
  }

  #nextId(physicalMs: number): KvOpId {
    const hlc = hlcNow(this.#lastHlc, physicalMs)
    const originSeq = this.#tracker.contiguous(this.#ownKey) + 1
    // Invariant: this writer's own operations are applied as they are made, so they are contiguous.
    if (this.#tracker.has(this.#ownKey, originSeq)) throw new Error(`kv-crdt: own sequence ${originSeq} already applied`)
    return { hlc, origin: this.origin, incarnation: this.incarnation, originSeq }
  }

  #applyOwn<T extends KvOp>(op: T): Outcome<T, KvWriteRejection> {
    const outcome = this.apply(op)
    if (outcome.status !== 'applied') throw new Error(`kv-crdt: own operation not applied (${outcome.status})`)
    return success(op)
  }

  /** Writes a plain value (last writer wins). */
  put(key: string, value: Uint8Array, physicalMs: number): Outcome<KvPutOp, KvWriteRejection> {
    const refusal = this.#checkKey(key) ?? this.#checkRoom(key)
    if (refusal !== undefined) return failure(refusal)
    if (value.length > valueBytesMax) return reject('RG_ERR_VALUE_TOO_LARGE', `bucket ${this.bucket}: a value of ${value.length} bytes is over ${valueBytesMax}`, { limit: 'valueBytesMax' })
    return this.#applyOwn<KvPutOp>({ kind: 'put', id: this.#nextId(physicalMs), key, value: value.slice() })
  }

  /** Deletes the key (a tombstone; also wins over concurrent writes with a lower id). */
  delete(key: string, physicalMs: number): Outcome<KvDeleteOp, KvWriteRejection> {
    const refusal = this.#checkKey(key)
    if (refusal !== undefined) return failure(refusal)
    return this.#applyOwn<KvDeleteOp>({ kind: 'delete', id: this.#nextId(physicalMs), key })
  }

  #baseOf(record: KeyRecord | undefined): KvOpBase {
    return record?.reset === undefined ? { kind: 'floor', hlc: this.#purgeFloor } : { kind: 'reset', id: record.reset.id }
  }

  #checkType(record: KeyRecord | undefined, wanted: 'json' | 'counter', key: string): KvWriteRejection | undefined {
    const type = record?.epochType()
    if (type === undefined || type === wanted) return undefined
    return new KvWriteRejection('RG_ERR_KV_TYPE_MISMATCH', `bucket ${this.bucket}: key '${key}' holds a ${type} value, not ${wanted}; delete it first`, { key, type })
  }

  /** Merges a JSON merge patch (RFC 7386) into the key's JSON document. */
  merge(key: string, patch: JsonObject, physicalMs: number): Outcome<KvMergeOp, KvWriteRejection> {
    const refusal = this.#checkKey(key)
    if (refusal !== undefined) return failure(refusal)
    const patchIssue = jsonPatchProblem(patch)
    if (patchIssue !== null) return reject(patchIssue.tooLarge ? 'RG_ERR_VALUE_TOO_LARGE' : 'RG_ERR_INVALID_ARGUMENT', `bucket ${this.bucket}: ${patchIssue.message}`, { field: 'patch' })
    let record = this.#records.get(key)
    const typeIssue = this.#checkType(record, 'json', key) ?? this.#checkRoom(key)
    if (typeIssue !== undefined) return failure(typeIssue)
    if (record !== undefined && record.epoch.merges >= this.jsonMergesPerValueMax) {
      return reject('RG_ERR_LIMIT_EXCEEDED', `bucket ${this.bucket}: key '${key}' took ${this.jsonMergesPerValueMax} merges; delete and re-create it`, { limit: 'jsonMergesPerValueMax' })
    }
    const id = this.#nextId(physicalMs)
    const base = this.#baseOf(record)
    if (record === undefined) {
      record = new KeyRecord(key)
      this.#records.set(key, record)
    }
    const before = record.signature()
    const doc = (record.epoch.json ??= new JsonDoc(this.actor))
    const change = doc.write(patch, Math.floor(id.hlc.wallMs / 1000))
    // Invariant: a patch within jsonPatchBytesMax makes a change within jsonChangeBytesMax (tested).
    if (change.length > jsonChangeBytesMax) throw new Error(`kv-crdt: a change of ${change.length} bytes from a bounded patch`)
    const op: KvMergeOp = { kind: 'merge', id, key, base, change }
    this.#touch(doc)
    record.epoch.note(op)
    this.#record(op)
    this.#settle(record, before)
    return success(op)
  }

  /** Adds `delta` (≠ 0, signed 64-bit) to the key's counter. */
  increment(key: string, delta: bigint, physicalMs: number): Outcome<KvIncrementOp, KvWriteRejection> {
    const refusal = this.#checkKey(key)
    if (refusal !== undefined) return failure(refusal)
    if (delta === 0n || delta < counterDeltaMin || delta > counterDeltaMax) return reject('RG_ERR_INVALID_ARGUMENT', `bucket ${this.bucket}: a delta must be a non-zero signed 64-bit integer`, { field: 'delta' })
    const record = this.#records.get(key)
    const typeIssue = this.#checkType(record, 'counter', key) ?? this.#checkRoom(key)
    if (typeIssue !== undefined) return failure(typeIssue)
    return this.#applyOwn<KvIncrementOp>({ kind: 'increment', id: this.#nextId(physicalMs), key, base: this.#baseOf(record), delta })
  }

  // ---- replication ----

  /** Applies one operation (from this replica's log or a peer). */
  apply(op: KvOp): ApplyOutcome {
    const writer = originKeyOf(op.id)
    if (this.#tracker.has(writer, op.id.originSeq)) return { status: 'duplicate' }
    if (this.#tracker.canRecord(writer, op.id.originSeq) !== null) return { status: 'refused', reason: 'gap-buffer-full' }
    let record = this.#records.get(op.key)
    const resolution = isResetOp(op) ? undefined : resolveBase(op.base, record?.reset, this.#purgeFloor)
    if (resolution === 'pending' && this.#pendingCount >= this.pendingOpsMax) return { status: 'refused', reason: 'pending-full' }
    if (record === undefined) {
      record = new KeyRecord(op.key)
      this.#records.set(op.key, record)
    }
    const before = record.signature()
    if (isResetOp(op)) this.#applyReset(record, op)
    else if (resolution === 'contribute') this.#contribute(record, op)
    else if (resolution === 'pending') {
      record.pending.push(op)
      this.#pendingCount++
    }
    this.#record(op)
    return { status: 'applied', changed: this.#settle(record, before) }
  }

  applyBatch(ops: readonly KvOp[]): ApplyOutcome[] {
    if (ops.length > applyBatchOpsMax) throw new RangeError(`kv-crdt: a batch of ${ops.length} operations is over ${applyBatchOpsMax}`)
    return ops.map((op) => this.apply(op))
  }

  #record(op: KvOp): void {
    const recorded = this.#tracker.record(originKeyOf(op.id), op.id.originSeq)
    if (typeof recorded !== 'number') throw new Error(`kv-crdt: version tracker refused ${formatId(op.id)} after canRecord`)
    this.#lastHlc = maxHlc(this.#lastHlc, op.id.hlc)
  }

  #applyReset(record: KeyRecord, op: KvResetOp): void {
    if (record.reset !== undefined && compareOpId(op.id, record.reset.id) < 0) return // an older write loses
    this.#dropDoc(record)
    record.epoch = new Epoch()
    record.reset = op
    record.gcMark = undefined
    const waiting: KvAccumulativeOp[] = []
    for (const pending of record.pending) {
      // Pending operations always have a reset base (a floor base never waits).
      const order = compareOpId((pending.base as { id: KvOpId }).id, op.id)
      if (order === 0) this.#contribute(record, pending)
      else if (order > 0) waiting.push(pending)
    }
    this.#pendingCount -= record.pending.length - waiting.length
    record.pending = waiting
  }

  #contribute(record: KeyRecord, op: KvAccumulativeOp): void {
    // In a put's epoch merges are conflicts: counted, no document kept.
    if (op.kind === 'merge' && record.reset?.kind !== 'put') {
      const doc = (record.epoch.json ??= new JsonDoc(this.actor))
      doc.apply(op.change)
      this.#touch(doc)
    }
    record.epoch.note(op)
  }

  /** After a change to `record`: revision, counters, tombstone set, watchers. Returns whether the visible value changed. */
  #settle(record: KeyRecord, before: string): boolean {
    const after = record.signature()
    const changed = after !== before
    if (changed) {
      this.#revision++
      record.revision = this.#revision
      this.#visibleKeys += (after === '' ? 0 : 1) - (before === '' ? 0 : 1)
    }
    if (record.isTombstone) this.#tombstones.add(record.key)
    else this.#tombstones.delete(record.key)
    if (record.isEmpty) this.#records.delete(record.key)
    if (changed) this.#notify(record)
    return changed
  }

  // ---- JSON documents: bounded number loaded ----

  #touch(doc: JsonDoc): void {
    this.#loadedDocs.delete(doc)
    this.#loadedDocs.add(doc)
    if (this.#loadedDocs.size <= this.jsonDocsLoadedMax) return
    for (const candidate of this.#loadedDocs) {
      if (this.#loadedDocs.size <= this.jsonDocsLoadedMax) break
      if (candidate !== doc && candidate.hibernate()) this.#loadedDocs.delete(candidate)
    }
  }

  #dropDoc(record: KeyRecord): void {
    const doc = record.epoch.json
    if (doc === undefined) return
    this.#loadedDocs.delete(doc)
    doc.free()
  }

  // ---- garbage collection ----

  /** Marks and removes tombstones under the contract of `GcInput` (README.md § Garbage collection). */
  collectGarbage(input: GcInput): { readonly marked: number; readonly purged: number } {
    if (!isValidHlc(input.stableHlc) || !isValidHlc(input.clockCeiling)) throw new RangeError('kv-crdt: collectGarbage needs valid hlcs')
    if (compareHlc(input.clockCeiling, input.stableHlc) < 0) throw new RangeError('kv-crdt: the clock ceiling is below the stable hlc')
    this.#purgeFloor = maxHlc(this.#purgeFloor, input.stableHlc)
    let marked = 0
    let purged = 0
    for (const key of [...this.#tombstones]) {
      const record = this.#records.get(key) as KeyRecord
      if (record.gcMark === undefined) {
        if (compareHlc((record.reset as KvDeleteOp).id.hlc, input.stableHlc) <= 0) {
          record.gcMark = input.clockCeiling
          marked++
        }
      } else if (compareHlc(record.gcMark, input.stableHlc) <= 0) {
        this.#records.delete(key)
        this.#tombstones.delete(key)
        this.#purgedThroughRevision = Math.max(this.#purgedThroughRevision, record.revision)
        purged++
      }
    }
    return { marked, purged }
  }

  // ---- watchers ----

  #notify(record: KeyRecord): void {
    if (this.#listeners.size === 0) return
    const listeners = [...this.#listeners].filter((listener) => selectorMatches(listener.selector, record.key))
    if (listeners.length === 0) return
    this.#queue.push({ change: { key: record.key, revision: record.revision, entry: record.entry() }, listeners })
    if (this.#draining) return // a listener applied an operation: delivered in order after the current one
    this.#draining = true
    try {
      for (let item = this.#queue.shift(); item !== undefined; item = this.#queue.shift()) {
        for (const listener of item.listeners) if (this.#listeners.has(listener)) listener.deliver(item.change)
      }
    } finally {
      this.#draining = false
    }
  }

  /** Frees every JSON document (the state must not be used afterwards). */
  dispose(): void {
    for (const record of this.#records.values()) this.#dropDoc(record)
    this.#records.clear()
    this.#loadedDocs.clear()
    this.#listeners.clear()
  }
}
