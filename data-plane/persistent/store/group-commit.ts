// Group commit: many callers' writes share one synced storage batch (DESIGN §3.3: an ack means
// durable; group commit keeps it fast). A caller submits a `CommitItem` and gets a promise that
// resolves only after the batch holding its operations was written with `sync: true`.
//
// - The first item into an idle queue starts a linger timer (`lingerMs`; 0 = the end of the
//   current event-loop turn); the batch is written when the timer fires, or at once when it
//   reaches `batchBytesMax` or `batchAppendsMax`.
// - One batch is in flight at a time. Items arriving meanwhile wait; when the write finishes
//   they go at once (they already waited one sync: that is where the grouping comes from).
// - An item's operations are built when its batch is sealed (`build`), in submission order, so
//   state derived from earlier items (version vectors, counters) is exact for that batch; `seal`
//   then adds the batch's trailing records (metadata) and `durable` runs after the sync.
// - An item may say it needs no sync of its own (`sync: false`: records that can be rebuilt after
//   a restart, e.g. the delivery index). A batch of such items only is written without fsync and
//   its items resolve once written — in the storage's log, so the next synced write of the
//   storage (this committer's or another's: the log is one) makes them durable too. In a batch
//   with any synced item everything is synced. This is what keeps a second fsync per cycle out
//   of the publish → ack path.
// - Bounded queue: past `queueBytesMax` or `queueAppendsMax`, `submit` rejects with
//   RG_ERR_LIMIT_EXCEEDED at once (nothing queued); `whenWritable()` resolves when there is room.
// - A failed write stops the committer: the batch's items and every queued and later item
//   reject with the storage error (RG_ERR_STORAGE_IO); nothing is acknowledged after a failed
//   sync, because after it the storage's state is unknown.
import { RailgunError, StorageIoError } from '../../../shared/errors.js'
import type { BatchOperation, Storage } from '../../../shared/storage/index.js'
import { PersistentRejection } from '../errors.js'
import { batchAppendsMaxDefault, batchBytesMaxDefault, lingerMsDefault, queueAppendsMaxDefault, queueBytesMaxDefault } from './limits.js'

export interface GroupCommitOptions {
  readonly lingerMs?: number
  readonly batchBytesMax?: number
  readonly batchAppendsMax?: number
  readonly queueBytesMax?: number
  readonly queueAppendsMax?: number
}

export interface CommitItem<T> {
  /** Bytes this item will write (for the batch and queue bounds). */
  readonly bytes: number
  /**
   * False: this item needs no fsync of its own (see the header); it resolves once written.
   * Default true: it resolves once the batch holding it is synced.
   */
  readonly sync?: boolean
  /** Called when the batch is sealed, in submission order: the operations and the result. May throw (that item alone rejects). */
  build(): { readonly operations: readonly BatchOperation[]; readonly result: T }
}

/** What a written batch carried (for observers). */
export interface SyncedBatch {
  /** Whether the write was synced (false: only `sync: false` items, written without fsync). */
  readonly synced: boolean
  readonly items: number
  readonly operations: number
  /** Key and value bytes. */
  readonly bytes: number
  /** Duration of the write (ms; with its fsync when synced). */
  readonly syncMs: number
}

export interface CommitHooks {
  /** After the items of a batch were built: trailing operations, and what to do once synced. */
  seal(): { readonly operations: readonly BatchOperation[]; durable(batch: SyncedBatch): void }
  /** The committer stopped on this error (called once). */
  stopped?(error: RailgunError): void
}

export interface GroupCommitStats {
  /** Synced batches written. */
  readonly batches: number
  /** Batches written without fsync (`sync: false` items only). */
  readonly unsyncedBatches: number
  /** Items acknowledged. */
  readonly items: number
  readonly operations: number
}

interface Pending {
  readonly item: CommitItem<unknown>
  resolve(value: unknown): void
  reject(error: unknown): void
}

function storageError(error: unknown): RailgunError {
  if (error instanceof RailgunError) return error
  return new StorageIoError(`event store: batch write failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
}

export class GroupCommitter {
  readonly lingerMs: number
  readonly batchBytesMax: number
  readonly batchAppendsMax: number
  readonly queueBytesMax: number
  readonly queueAppendsMax: number
  readonly #storage: Storage
  readonly #hooks: CommitHooks
  #queue: Pending[] = []
  #queuedBytes = 0
  #timer: { readonly immediate: ReturnType<typeof setImmediate> } | { readonly timeout: ReturnType<typeof setTimeout> } | null = null
  #writing: Promise<void> | null = null
  #stopped: RailgunError | null = null
  #writableWaiters: Array<() => void> = []
  #idleWaiters: Array<() => void> = []
  #batches = 0
  #unsyncedBatches = 0
  #items = 0
  #operations = 0

  constructor(storage: Storage, hooks: CommitHooks, options: GroupCommitOptions = {}) {
    this.#storage = storage
    this.#hooks = hooks
    this.lingerMs = options.lingerMs ?? lingerMsDefault
    this.batchBytesMax = options.batchBytesMax ?? batchBytesMaxDefault
    this.batchAppendsMax = options.batchAppendsMax ?? batchAppendsMaxDefault
    this.queueBytesMax = options.queueBytesMax ?? queueBytesMaxDefault
    this.queueAppendsMax = options.queueAppendsMax ?? queueAppendsMaxDefault
    for (const [name, value] of Object.entries({ lingerMs: this.lingerMs })) if (!(Number.isFinite(value) && value >= 0)) throw new RangeError(`group commit: ${name} must be >= 0`)
    for (const [name, value] of Object.entries({ batchBytesMax: this.batchBytesMax, batchAppendsMax: this.batchAppendsMax, queueBytesMax: this.queueBytesMax, queueAppendsMax: this.queueAppendsMax })) {
      if (!(Number.isInteger(value) && value >= 1)) throw new RangeError(`group commit: ${name} must be an integer >= 1`)
    }
  }

  /** The error that stopped the committer, or null while it runs. */
  get stoppedWith(): RailgunError | null {
    return this.#stopped
  }

  get stats(): GroupCommitStats {
    return { batches: this.#batches, unsyncedBatches: this.#unsyncedBatches, items: this.#items, operations: this.#operations }
  }

  get queuedItems(): number {
    return this.#queue.length
  }

  submit<T>(item: CommitItem<T>): Promise<T> {
    if (this.#stopped !== null) return Promise.reject(this.#stopped)
    if (this.#queue.length >= this.queueAppendsMax) return Promise.reject(this.#full('queueAppendsMax', this.queueAppendsMax))
    // An item larger than the whole queue bound is still accepted into an empty queue.
    if (this.#queue.length > 0 && this.#queuedBytes + item.bytes > this.queueBytesMax) return Promise.reject(this.#full('queueBytesMax', this.queueBytesMax))
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ item, resolve: resolve as (value: unknown) => void, reject })
      this.#queuedBytes += item.bytes
      this.#schedule()
    })
  }

  #full(limit: string, value: number): PersistentRejection {
    return new PersistentRejection('RG_ERR_LIMIT_EXCEEDED', `event store: append queue full (${limit} = ${value}); await whenWritable()`, { limit })
  }

  /** Resolves when the queue has room again (or at once); rejects when the committer stopped. */
  whenWritable(): Promise<void> {
    if (this.#stopped !== null) return Promise.reject(this.#stopped)
    if (this.#queue.length < this.queueAppendsMax && this.#queuedBytes < this.queueBytesMax) return Promise.resolve()
    return new Promise((resolve) => this.#writableWaiters.push(resolve))
  }

  /** Resolves once everything submitted so far is written (or failed). */
  drain(): Promise<void> {
    if (this.#queue.length === 0 && this.#writing === null) return Promise.resolve()
    return new Promise((resolve) => this.#idleWaiters.push(resolve))
  }

  #schedule(): void {
    if (this.#writing !== null) return
    if (this.#timer !== null && 'immediate' in this.#timer && this.#queue.length < this.batchAppendsMax && this.#queuedBytes < this.batchBytesMax) return
    if (this.#queuedBytes >= this.batchBytesMax || this.#queue.length >= this.batchAppendsMax) {
      this.#cancelTimer()
      this.#startWrite()
      return
    }
    if (this.#timer === null) {
      const fire = (): void => {
        this.#timer = null
        if (this.#writing === null && this.#queue.length > 0) this.#startWrite()
      }
      // lingerMs 0: the end of this event-loop turn (appends made in the same turn share a batch).
      this.#timer = this.lingerMs === 0 ? { immediate: setImmediate(fire) } : { timeout: setTimeout(fire, this.lingerMs) }
    }
  }

  #cancelTimer(): void {
    if (this.#timer !== null) {
      if ('immediate' in this.#timer) clearImmediate(this.#timer.immediate)
      else clearTimeout(this.#timer.timeout)
      this.#timer = null
    }
  }

  #takeBatch(): Pending[] {
    let bytes = 0
    let count = 0
    // Always at least one item; then while the bounds hold.
    while (count < this.#queue.length && count < this.batchAppendsMax) {
      const next = (this.#queue[count] as Pending).item.bytes
      if (count > 0 && bytes + next > this.batchBytesMax) break
      bytes += next
      count++
    }
    const batch = this.#queue.slice(0, count)
    this.#queue = this.#queue.slice(count)
    this.#queuedBytes -= bytes
    return batch
  }

  #startWrite(): void {
    const batch = this.#takeBatch()
    this.#wakeWritable()
    this.#writing = this.#write(batch).finally(() => {
      this.#writing = null
      if (this.#stopped === null && this.#queue.length > 0) {
        // The next batch waited one write already: no linger. But yield to the event loop first:
        // the binding's write completes through nextTick, so starting the next one from here
        // would chain writes in microtasks forever under load, starving timers and sockets.
        this.#cancelTimer()
        this.#timer = { immediate: setImmediate(() => {
          this.#timer = null
          if (this.#writing === null && this.#queue.length > 0) this.#startWrite()
        }) }
      } else if (this.#queue.length === 0) this.#wakeIdle()
    })
  }

  async #write(batch: readonly Pending[]): Promise<void> {
    const operations: BatchOperation[] = []
    const built: Array<{ readonly pending: Pending; readonly result: unknown }> = []
    // Synced unless every item said it needs no sync.
    const sync = batch.some((pending) => pending.item.sync !== false)
    for (const pending of batch) {
      try {
        const { operations: ops, result } = pending.item.build()
        for (const op of ops) operations.push(op)
        built.push({ pending, result })
      } catch (error) {
        pending.reject(error)
      }
    }
    let sealed: ReturnType<CommitHooks['seal']>
    try {
      sealed = this.#hooks.seal()
    } catch (error) {
      this.#stop(storageError(error), built.map((b) => b.pending))
      return
    }
    for (const op of sealed.operations) operations.push(op)
    const startedMs = performance.now()
    try {
      if (operations.length > 0) await this.#storage.batch(operations, { sync })
    } catch (error) {
      this.#stop(storageError(error), built.map((b) => b.pending))
      return
    }
    const syncMs = performance.now() - startedMs
    if (sync) this.#batches++
    else this.#unsyncedBatches++
    this.#operations += operations.length
    this.#items += built.length
    let bytes = 0
    for (const op of operations) bytes += op.key.length + (op.type === 'put' ? op.value.length : 0)
    sealed.durable({ synced: sync, items: built.length, operations: operations.length, bytes, syncMs })
    for (const { pending, result } of built) pending.resolve(result)
  }

  #stop(error: RailgunError, inFlight: readonly Pending[]): void {
    if (this.#stopped === null) {
      this.#stopped = error
      this.#cancelTimer()
      this.#hooks.stopped?.(error)
    }
    const queued = this.#queue
    this.#queue = []
    this.#queuedBytes = 0
    for (const pending of [...inFlight, ...queued]) pending.reject(error)
    this.#wakeWritable()
    this.#wakeIdle()
  }

  /** Stops taking work: queued items reject with `error` (used by close after a drain). */
  stop(error: RailgunError): void {
    this.#stop(error, [])
  }

  #wakeWritable(): void {
    if (this.#writableWaiters.length === 0) return
    if (this.#stopped === null && !(this.#queue.length < this.queueAppendsMax && this.#queuedBytes < this.queueBytesMax)) return
    const waiters = this.#writableWaiters
    this.#writableWaiters = []
    for (const wake of waiters) wake()
  }

  #wakeIdle(): void {
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const wake of waiters) wake()
  }
}
