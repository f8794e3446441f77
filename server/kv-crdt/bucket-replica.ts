// One CRDT KV bucket on one replica node: the bucket's `CrdtKvState`, fed by the events its
// internal stream delivers here, and the writes this node takes (data-plane/kv-crdt README § How
// it fits the stream layer).
//
// - Apply path. Every delivered event (in this region's order; events shipped from other regions
//   arrive the same way, with the same payload) is decoded — an operation (`decodeKvOp`, first
//   byte 1) or a stability report (JSON, first byte `{`, gc-reports.ts) — and applied. Undecodable
//   payloads are counted and logged, never fatal. Duplicates (this node's own writes coming back,
//   a redelivery) change nothing: the state is idempotent.
// - Rebuild. At start the state is empty and replays every delivered event from index 0 (a new
//   writer incarnation: `engineIncarnation × writerIncarnationFactor + rebuilds`); it serves reads
//   and takes writes once it has applied what was delivered when it started. Events delivered
//   later are applied as they come (`onDelivered`).
// - Writes. The state makes the operation (it applies it at once: read-your-writes on this node),
//   and in the same synchronous step the engine is asked to publish `encodeKvOp(op)` with event id
//   `kvc:<origin>#<incarnation>:<seq>`; the write is answered when the engine's ack holds at the
//   requested level. Only a writable engine (holding an origin slot) takes writes: every operation
//   of this writer then goes out through this node's own origin, in the order it was made (what
//   garbage collection relies on, gc-reports.ts); otherwise the service forwards the write.
// - A publish refused before it was written (the slot was closed under it, a full queue) leaves an
//   operation in the state that the stream will never carry: the state is rebuilt from the stream
//   as a new writer incarnation whose clock starts above the old one's, so this node never shows
//   (or builds on) a write that does not exist elsewhere.
// - Stability reports: before its first operation and then every `reportIntervalMs` when its
//   clock or what it has applied changed, a writable replica publishes a report; reports applied
//   here drive `collectGarbage` (gc-reports.ts says why that is safe).
import { Observable } from 'rxjs'
import { CrdtKvState, decodeKvOp, encodeKvOp } from '../../data-plane/kv-crdt/index.js'
import type { GcInput, JsonObject, KvEntry, KvOp, KvSelector, KvWatchEvent, KvWatchOptions, KvWriteRejection } from '../../data-plane/kv-crdt/index.js'
import { compareHlc, maxHlc } from '../../data-plane/persistent/index.js'
import type { AckLevel, EventHeader, Hlc, Outcome, PublishAck, StreamEvent } from '../../data-plane/persistent/index.js'
import type { ErrorCode } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import { ReportBook, decodeReport, encodeReport, isReportPayload, sameHlc } from './gc-reports.js'
import { applyFetchEventsMax, malformedLoggedMax, rebuildsPerEngineIncarnationMax, reportIntervalMsDefault, writerIncarnationFactor, writesInFlightMax } from './limits.js'

/** What a bucket replica needs of its stream's engine (`StreamEngine` has it; tests fake it). */
export interface BucketEngine {
  readonly incarnation: number
  readonly replicas: readonly string[]
  readonly writable: boolean
  readonly deliveredCount: number
  publish(request: { readonly id: string; readonly headers: readonly EventHeader[]; readonly payload: Uint8Array; readonly ackLevel: AckLevel }): Promise<PublishAck>
  fetch(from: number, max: number): Promise<ReadonlyArray<{ readonly index: number; readonly event: StreamEvent }>>
  onDelivered(listener: (deliveredCount: number) => void): () => void
}

export interface BucketReplicaOptions {
  readonly bucket: string
  readonly nodeId: string
  readonly engine: BucketEngine
  readonly logger: Logger
  /** Every replica of the bucket's stream in every region (the reports expected). */
  readonly allReplicas: () => readonly string[]
  readonly nowMs?: () => number
  readonly reportIntervalMs?: number
}

export type KvWrite =
  | { readonly op: 'put'; readonly key: string; readonly value: Uint8Array }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'merge'; readonly key: string; readonly patch: JsonObject }
  | { readonly op: 'increment'; readonly key: string; readonly delta: bigint }

export interface WriteAck {
  readonly key: string
  readonly origin: string
  readonly hlc: Hlc
  readonly level: AckLevel
  readonly replicasHolding: number
  readonly replicas: number
}

export type WriteResult =
  | { readonly status: 'acked'; readonly ack: WriteAck }
  /** Refused: nothing was written (`outcome: notApplied`) or it may still spread (`unknown`). */
  | { readonly status: 'failed'; readonly code: ErrorCode; readonly message: string; readonly details: Readonly<Record<string, unknown>> }
  /** This replica cannot take writes now (rebuilding, no origin slot, stopped): another replica may. */
  | { readonly status: 'elsewhere'; readonly reason: string }

/** What the node shows of this replica (INFO). */
export interface BucketReplicaInfo {
  readonly replica: string
  readonly ready: boolean
  readonly writable: boolean
  readonly revision: number
  readonly keys: number
  readonly tombstones: number
  readonly pending: number
  readonly appliedEvents: number
  readonly malformedEvents: number
  readonly collectedTombstones: number
}

/** A watch ended by the replica (rebuilt state, stopped). */
export class WatchEndedError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message)
    this.name = 'WatchEndedError'
  }
}

const opEventId = (op: KvOp): string => `kvc:${op.id.origin}#${op.id.incarnation}:${op.id.originSeq}`
const majorityOf = (n: number): number => Math.floor(n / 2) + 1
const noHeaders: readonly EventHeader[] = []

export class BucketReplica {
  readonly bucket: string
  readonly #options: BucketReplicaOptions
  readonly #engine: BucketEngine
  readonly #nowMs: () => number
  #state: CrdtKvState
  #rebuilds = 0
  /** Bumped by each rebuild: a fetch answered for an older state is dropped. */
  #generation = 0
  /** Delivery index of the next event to apply. */
  #applied = 0
  /** The state serves once `#applied` reaches this (what was delivered when it started). */
  #readyAt: number
  #ready = false
  #stopped = false
  #pumping = false
  #pumpAgain = false
  /** No writes from this node (too many rebuilds, or the engine stopped under a write). */
  #writesOff: string | undefined
  /** Every operation this writer makes is above this (the previous writer's clock, after a rebuild). */
  #clockFloor: Hlc | undefined
  #inFlight = 0
  #reportedThisLife = false
  #lastReport: { clock: Hlc; through: Hlc | null } | undefined
  #lastGc: GcInput | undefined
  readonly #book = new ReportBook()
  readonly #watchEnders = new Set<(error: WatchEndedError) => void>()
  readonly #unsubscribeDelivered: () => void
  readonly #reportTimer: NodeJS.Timeout
  #appliedEvents = 0
  #malformedEvents = 0
  #collected = 0

  constructor(options: BucketReplicaOptions) {
    this.#options = options
    this.bucket = options.bucket
    this.#engine = options.engine
    this.#nowMs = options.nowMs ?? Date.now
    this.#state = this.#newState()
    this.#readyAt = this.#engine.deliveredCount
    this.#unsubscribeDelivered = this.#engine.onDelivered(() => this.#pump())
    this.#reportTimer = setInterval(() => this.#maybeReport(), options.reportIntervalMs ?? reportIntervalMsDefault)
    this.#reportTimer.unref()
    this.#pump()
  }

  /** `<node>#<writer incarnation>`: the serving state (revisions are its own). */
  get replicaId(): string {
    return `${this.#options.nodeId}#${this.#state.incarnation}`
  }

  get ready(): boolean {
    return this.#ready && !this.#stopped
  }

  /** Whether a write sent here now would be taken (else the service forwards it). */
  get writable(): boolean {
    return this.ready && this.#writesOff === undefined && this.#engine.writable
  }

  get state(): CrdtKvState {
    return this.#state
  }

  info(): BucketReplicaInfo {
    const state = this.#state
    return {
      replica: this.replicaId,
      ready: this.ready,
      writable: this.writable,
      revision: state.revision,
      keys: state.size,
      tombstones: state.tombstoneCount,
      pending: state.pendingCount,
      appliedEvents: this.#appliedEvents,
      malformedEvents: this.#malformedEvents,
      collectedTombstones: this.#collected,
    }
  }

  get(key: string): KvEntry | undefined {
    return this.#state.get(key)
  }

  list(prefix: string): KvEntry[] {
    return this.#state.entriesMatching({ prefix })
  }

  /** The state's change feed; errors with `WatchEndedError` when this state goes (rebuild, stop). */
  watch(selector: KvSelector, options: KvWatchOptions): Observable<KvWatchEvent> {
    return new Observable<KvWatchEvent>((subscriber) => {
      if (!this.ready) {
        subscriber.error(new WatchEndedError('RG_ERR_NOT_READY', `bucket ${this.bucket}: the replica on ${this.#options.nodeId} is not ready`))
        return undefined
      }
      const end = (error: WatchEndedError): void => subscriber.error(error)
      this.#watchEnders.add(end)
      const inner = this.#state.watch(selector, options).subscribe(subscriber)
      return () => {
        this.#watchEnders.delete(end)
        inner.unsubscribe()
      }
    })
  }

  /** Makes and publishes one write; resolves when the ack level holds, or with why not. */
  write(write: KvWrite, ackLevel: AckLevel, timeoutMs: number): Promise<WriteResult> {
    if (!this.ready) return Promise.resolve({ status: 'elsewhere', reason: `the replica on ${this.#options.nodeId} is not ready` })
    if (this.#writesOff !== undefined) return Promise.resolve({ status: 'elsewhere', reason: this.#writesOff })
    if (!this.#engine.writable) return Promise.resolve({ status: 'elsewhere', reason: `${this.#options.nodeId} holds no origin slot of the bucket's stream` })
    if (this.#inFlight >= writesInFlightMax) {
      return Promise.resolve({ status: 'failed', code: 'RG_ERR_LIMIT_EXCEEDED', message: `bucket ${this.bucket}: ${writesInFlightMax} writes in flight on ${this.#options.nodeId}`, details: { limit: 'writesInFlightMax', outcome: 'notApplied' } })
    }
    const made = this.#make(write)
    if (!made.ok) return Promise.resolve({ status: 'failed', code: made.error.code, message: made.error.message, details: { ...made.error.details, outcome: 'notApplied' } })
    const op = made.value
    this.#firstReport()
    // Same synchronous step as the make: the engine stamps publishes in call order.
    const acked = this.#engine.publish({ id: opEventId(op), headers: noHeaders, payload: encodeKvOp(op), ackLevel })
    this.#inFlight += 1
    const state = this.#state
    const settled = acked.then((ack) => {
      this.#inFlight -= 1
      return this.#settle(op, state, ack)
    })
    return new Promise<WriteResult>((resolve) => {
      const timer = setTimeout(() => {
        resolve({ status: 'failed', code: 'RG_ERR_REQUEST_TIMEOUT', message: `bucket ${this.bucket}: ${ackLevel} not reached within ${timeoutMs} ms (the write was taken and may still spread)`, details: { outcome: 'unknown', key: op.key } })
      }, timeoutMs)
      timer.unref()
      void settled.then((result) => {
        clearTimeout(timer)
        resolve(result)
      })
    })
  }

  #make(write: KvWrite): Outcome<KvOp, KvWriteRejection> {
    // After a rebuild, the new writer's operations must be above everything the old one made.
    const physicalMs = this.#clockFloor === undefined ? this.#nowMs() : Math.max(this.#nowMs(), this.#clockFloor.wallMs + 1)
    switch (write.op) {
      case 'put':
        return this.#state.put(write.key, write.value, physicalMs)
      case 'delete':
        return this.#state.delete(write.key, physicalMs)
      case 'merge':
        return this.#state.merge(write.key, write.patch, physicalMs)
      case 'increment':
        return this.#state.increment(write.key, write.delta, physicalMs)
    }
  }

  #settle(op: KvOp, madeBy: CrdtKvState, ack: PublishAck): WriteResult {
    if (ack.ok) {
      const replicas = this.#engine.replicas.length
      const replicasHolding = ack.level === 'write' ? 1 : ack.level === 'all' ? replicas : majorityOf(replicas)
      return { status: 'acked', ack: { key: op.key, origin: op.id.origin, hlc: op.id.hlc, level: ack.level, replicasHolding, replicas } }
    }
    const { code, message, details } = ack.error
    // Stamped (it has a sequence) and waiting for its level: it is in the stream; the ack only came late.
    if (code === 'RG_ERR_REQUEST_TIMEOUT' && typeof details['seq'] === 'number') {
      return { status: 'failed', code, message: `bucket ${this.bucket}: ${message}`, details: { outcome: 'unknown', key: op.key } }
    }
    if (code === 'RG_ERR_NOT_READY' || code === 'RG_ERR_STORAGE_IO') {
      // The engine stopped (node draining, stream removed, storage failure): its events may still be written.
      this.#writesOff ??= `the stream's engine on ${this.#options.nodeId} stopped`
      return { status: 'failed', code: 'RG_ERR_NOT_READY', message: `bucket ${this.bucket}: ${message}`, details: { outcome: 'unknown', key: op.key } }
    }
    // Refused unwritten (slot closed under it, queue full, not stamped in time): the stream will never carry it.
    if (madeBy === this.#state) this.#rebuild(`a write was refused unwritten (${code}: ${message})`)
    return { status: 'failed', code: code === 'RG_ERR_INVALID_STATE' ? 'RG_ERR_NOT_READY' : code, message: `bucket ${this.bucket}: ${message}`, details: { outcome: 'notApplied', key: op.key } }
  }

  #newState(): CrdtKvState {
    const incarnation = this.#engine.incarnation * writerIncarnationFactor + this.#rebuilds
    return new CrdtKvState({ bucket: this.bucket, origin: this.#options.nodeId, incarnation })
  }

  /** Drops the state and replays the stream as a new writer (see the header). */
  #rebuild(why: string): void {
    if (this.#stopped) return
    const old = this.#state
    this.#options.logger.warn({ bucket: this.bucket, replica: this.replicaId, reason: why }, 'crdt kv: rebuilding the bucket state from its stream')
    this.#endWatches(new WatchEndedError('RG_ERR_NOT_READY', `bucket ${this.bucket}: the replica on ${this.#options.nodeId} rebuilt its state (${why}); watch again`))
    this.#clockFloor = this.#clockFloor === undefined ? old.lastHlc : maxHlc(this.#clockFloor, old.lastHlc)
    if (this.#rebuilds >= rebuildsPerEngineIncarnationMax) {
      this.#writesOff = `the replica on ${this.#options.nodeId} rebuilt ${rebuildsPerEngineIncarnationMax} times; it forwards writes until its stream reopens`
    } else {
      this.#rebuilds += 1
    }
    this.#generation += 1
    this.#state = this.#newState()
    old.dispose()
    this.#book.clear()
    this.#applied = 0
    this.#ready = false
    this.#readyAt = this.#engine.deliveredCount
    this.#reportedThisLife = false
    this.#lastReport = undefined
    this.#lastGc = undefined
    this.#pump()
  }

  #pump(): void {
    if (this.#stopped) return
    if (this.#pumping) {
      this.#pumpAgain = true
      return
    }
    this.#pumping = true
    void this.#drain()
      .catch((error: unknown) => this.#options.logger.error({ bucket: this.bucket, err: (error as Error).message }, 'crdt kv: reading the bucket stream failed'))
      .finally(() => {
        this.#pumping = false
        if (this.#pumpAgain) {
          this.#pumpAgain = false
          this.#pump()
        }
      })
  }

  async #drain(): Promise<void> {
    while (!this.#stopped && this.#applied < this.#engine.deliveredCount) {
      const generation = this.#generation
      const rows = await this.#engine.fetch(this.#applied, applyFetchEventsMax)
      if (this.#stopped || generation !== this.#generation) return
      if (rows.length === 0) break
      for (const row of rows) {
        if (row.index < this.#applied) continue
        this.#applyEvent(row.event, row.index)
        this.#applied = row.index + 1
      }
    }
    if (this.#stopped) return
    if (!this.#ready && this.#applied >= this.#readyAt) {
      this.#ready = true
      this.#options.logger.info({ bucket: this.bucket, replica: this.replicaId, events: this.#applied, keys: this.#state.size }, 'crdt kv: bucket state ready')
    }
    this.#collect()
  }

  #applyEvent(event: StreamEvent, index: number): void {
    this.#appliedEvents += 1
    if (isReportPayload(event.payload)) {
      const report = decodeReport(event.payload)
      if (typeof report === 'string') return this.#malformed(index, report)
      this.#book.record(report)
      return
    }
    const decoded = decodeKvOp(event.payload)
    if (!decoded.ok) return this.#malformed(index, decoded.error.message)
    const outcome = this.#state.apply(decoded.value)
    if (outcome.status === 'refused') {
      // Only anti-entropy of the stream could bring it again; the stream delivers each event once.
      this.#malformedEvents += 1
      this.#options.logger.error({ bucket: this.bucket, index, reason: outcome.reason }, 'crdt kv: an operation was refused by the state (over a core limit); this replica may differ until the bucket is rebuilt')
    }
  }

  #malformed(index: number, why: string): void {
    this.#malformedEvents += 1
    if (this.#malformedEvents <= malformedLoggedMax || this.#malformedEvents % 1_000 === 0) {
      this.#options.logger.warn({ bucket: this.bucket, index, count: this.#malformedEvents }, `crdt kv: an event of the bucket stream was skipped: ${why}`)
    }
  }

  /** Garbage collection whenever the reports applied here move the stable point. */
  #collect(): void {
    const input = this.#book.gcInput(this.#options.allReplicas())
    if (input === undefined) return
    if (this.#lastGc !== undefined && compareHlc(input.stableHlc, this.#lastGc.stableHlc) <= 0 && compareHlc(input.clockCeiling, this.#lastGc.clockCeiling) <= 0) return
    this.#lastGc = input
    const first = this.#state.collectGarbage(input)
    // Tombstones marked now with a ceiling the same input already covers go in a second call (the rule's step 2).
    const second = first.marked > 0 ? this.#state.collectGarbage(input) : { purged: 0 }
    this.#collected += first.purged + second.purged
  }

  #clock(): Hlc {
    return this.#clockFloor === undefined ? this.#state.lastHlc : maxHlc(this.#state.lastHlc, this.#clockFloor)
  }

  /** A writer's first report goes out before its first operation (gc-reports.ts). */
  #firstReport(): void {
    if (!this.#reportedThisLife) this.#publishReport()
  }

  /**
   * Publishes a stability report now if this replica can (ready, writable) and its clock or what
   * it has applied changed since its last one (what the timer does every `reportIntervalMs`).
   * Returns whether it published.
   */
  reportNow(): boolean {
    if (this.#stopped || !this.ready || this.#writesOff !== undefined || !this.#engine.writable) return false
    const through = this.#appliedThrough()
    if (this.#lastReport !== undefined && sameHlc(this.#lastReport.clock, this.#clock()) && sameHlc(this.#lastReport.through, through)) return false
    this.#publishReport()
    return true
  }

  #maybeReport(): void {
    this.reportNow()
  }

  #appliedThrough(): Hlc | null {
    const vector = this.#state.appliedVector()
    return this.#book.appliedThrough(this.#options.allReplicas(), (writer) => vector.get(writer) ?? 0) ?? null
  }

  #publishReport(): void {
    const clock = this.#clock()
    const through = this.#appliedThrough()
    this.#reportedThisLife = true
    this.#lastReport = { clock, through }
    const madeThrough = this.#state.appliedVector().get(this.replicaId) ?? 0
    const payload = encodeReport({ node: this.#options.nodeId, writer: this.replicaId, madeThrough, clock, appliedThrough: through })
    void this.#engine.publish({ id: `kvcr:${this.replicaId}:${clock.wallMs}.${clock.logical}:${through === null ? '-' : `${through.wallMs}.${through.logical}`}`, headers: noHeaders, payload, ackLevel: 'write' }).then((ack) => {
      if (!ack.ok) this.#options.logger.debug({ bucket: this.bucket, err: ack.error.message }, 'crdt kv: a stability report was not written')
    })
  }

  #endWatches(error: WatchEndedError): void {
    const enders = [...this.#watchEnders]
    this.#watchEnders.clear()
    for (const end of enders) end(error)
  }

  /** Stops following the stream; watches end; the state is freed. */
  stop(reason: string): void {
    if (this.#stopped) return
    this.#stopped = true
    clearInterval(this.#reportTimer)
    this.#unsubscribeDelivered()
    this.#endWatches(new WatchEndedError('RG_ERR_NOT_READY', `bucket ${this.bucket}: the replica on ${this.#options.nodeId} stopped (${reason})`))
    this.#state.dispose()
  }
}
