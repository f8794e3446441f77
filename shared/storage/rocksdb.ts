// The RocksDB storage (`@nxtedition/rocksdb`). One database per node directory; each key space is
// a column family (DESIGN §3.3: column families per concern), so a key space has its own
// memtables, compaction and ordered iteration without key prefixes. Column families are declared
// at open: RocksDB refuses to open a database without naming every family it already holds, and
// that refusal surfaces as a `StorageIoError`. An optional observer (metrics) hears of every
// written batch: its operation count, bytes, whether it was synced, and how long it took.
import { RocksLevel } from '@nxtedition/rocksdb'
import type { ColumnHandle, RocksBatchOperation, RocksReusableBatch } from '@nxtedition/rocksdb'
import { StorageClosedError, StorageIoError, StorageKeySpaceError } from '../errors.js'
import { asBuffer } from './bytes.js'
import { checkStorageReadiness } from './readiness.js'
import { internalKeySpace, keySpaceNamePattern } from './types.js'
import type { BatchOperation, KeyRange, OpenStorageOptions, RangeOptions, Storage, StorageEntry, WriteOptions } from './types.js'

/** Told of every batch written (after it succeeded); must be cheap and must not throw. */
export interface RocksStorageObserver {
  onBatchWritten(batch: { readonly operations: number; readonly bytes: number; readonly sync: boolean; readonly durationMs: number }): void
}

/**
 * Engine tuning passed to `@nxtedition/rocksdb` as is (unset = the binding's defaults). E.g.
 * `columnOptions: { compaction: 'level', memtableMemoryBudget: 32 << 20, cacheSize: 8 << 20 }`
 * bounds each column family's memtables to ~1.5 × the budget; `dbOptions: { walCompression:
 * false }` keeps ZSTD off the write path (the batch write runs on the JS thread).
 */
export interface RocksTuning {
  /** Every column family's options … */
  readonly columnOptions?: Readonly<Record<string, unknown>>
  /** … but for these key spaces (by name), whose options replace them. */
  readonly familyOptions?: Readonly<Record<string, Readonly<Record<string, unknown>>>>
  readonly dbOptions?: Readonly<Record<string, unknown>>
}

export interface OpenRocksStorageOptions extends OpenStorageOptions {
  readonly observer?: RocksStorageObserver
  readonly tuning?: RocksTuning
}

/** Entries fetched per iterator step of a range without a limit: bounds memory per range read. */
const rangeChunkEntriesMax = 256
/**
 * Entries fetched per iterator step of a range with a `limit` (the caller bounded it): one trip to
 * the binding's thread pool instead of limit/256. Each trip also waits for an event-loop turn, and
 * under load a turn can hold a synced write (measured: a 4,096-event retention read took 0.3–0.8 s
 * in 16 chunks next to one-at-a-time appends).
 */
const limitedRangeChunkEntriesMax = 4096
/** The key of entries read with `keys: false` (the binding leaves it out). */
const noKey = new Uint8Array(0)
/** Bytes (keys + values) fetched per iterator step at most (at least one entry). */
const rangeChunkBytesMax = 4 * 1024 * 1024

function ioError(operation: string, error: unknown): StorageIoError {
  const cause = error as Error & { cause?: Error }
  const detail = cause.cause?.message ?? cause.message
  return new StorageIoError(`rocksdb: ${operation} failed: ${detail}`, { cause: error })
}

class RocksStorage implements Storage {
  readonly keySpaces: readonly string[]
  readonly #db: RocksLevel
  readonly #columns: ReadonlyMap<string, ColumnHandle>
  readonly #observer: RocksStorageObserver | undefined
  #open = true

  constructor(db: RocksLevel, keySpaces: readonly string[], observer?: RocksStorageObserver) {
    this.#db = db
    this.keySpaces = keySpaces
    this.#observer = observer
    const columns = new Map<string, ColumnHandle>()
    for (const name of [internalKeySpace, ...keySpaces]) {
      const handle = db.columns[name]
      if (handle === undefined) throw new StorageIoError(`rocksdb: column family '${name}' missing after open`)
      columns.set(name, handle)
    }
    this.#columns = columns
  }

  get isOpen(): boolean {
    return this.#open
  }

  #batch: RocksReusableBatch | undefined

  #reusableBatch(): RocksReusableBatch {
    this.#batch ??= this.#db.batch() as unknown as RocksReusableBatch
    return this.#batch
  }

  #column(operation: string, keySpace: string): ColumnHandle {
    if (!this.#open) throw new StorageClosedError(operation)
    const column = this.#columns.get(keySpace)
    if (column === undefined) throw new StorageKeySpaceError(keySpace)
    return column
  }

  async get(keySpace: string, key: Uint8Array): Promise<Uint8Array | undefined> {
    const column = this.#column('get', keySpace)
    try {
      // The binding defers its close until reads in flight finish.
      const [value] = await this.#db.getMany([asBuffer(key)], { column, keyEncoding: 'buffer', valueEncoding: 'buffer' })
      return value ?? undefined
    } catch (error) {
      throw ioError('get', error)
    }
  }

  async put(keySpace: string, key: Uint8Array, value: Uint8Array, options?: WriteOptions): Promise<void> {
    await this.batch([{ type: 'put', keySpace, key, value }], options)
  }

  async delete(keySpace: string, key: Uint8Array, options?: WriteOptions): Promise<void> {
    await this.batch([{ type: 'delete', keySpace, key }], options)
  }

  async batch(operations: readonly BatchOperation[], options?: WriteOptions): Promise<void> {
    // Map every operation before writing: a bad key space rejects the whole batch untouched.
    const rocksOperations: RocksBatchOperation[] = operations.map((operation) => {
      const column = this.#column('write', operation.keySpace)
      return operation.type === 'put'
        ? { type: 'put', key: asBuffer(operation.key), value: asBuffer(operation.value), column }
        : { type: 'del', key: asBuffer(operation.key), column }
    })
    if (rocksOperations.length === 0) {
      if (!this.#open) throw new StorageClosedError('write')
      return
    }
    const sync = options?.sync === true
    const startedMs = this.#observer === undefined ? 0 : performance.now()
    // One native WriteBatch, reused for every write (filled, written and cleared in one
    // synchronous section, so writes cannot interleave). Why not `db.batch(operations)`: this
    // binding's array form never closes its batch, so each native WriteBatch (a copy of all its
    // keys and values) stayed attached to the database until it closed, and even a closed one
    // is freed only when V8 collects its small wrapper, which V8 sees no reason to hurry: the
    // process grew by about the bytes ever written (measured: +220 B per 200 B value; flat
    // with this). The reused batch keeps at most the capacity of the largest batch written.
    const batch = this.#reusableBatch()
    try {
      for (const operation of rocksOperations) {
        if (operation.type === 'put') batch._put(operation.key, operation.value as Buffer, { column: operation.column })
        else batch._del(operation.key, { column: operation.column })
      }
      batch._writeSync({ sync })
    } catch (error) {
      throw ioError('write', error)
    } finally {
      batch._clear()
    }
    // The binding resolved its own batch writes on the next tick; keep callers asynchronous.
    await new Promise<void>((resolve) => process.nextTick(resolve))
    if (this.#observer !== undefined) {
      let bytes = 0
      for (const operation of operations) bytes += operation.key.length + (operation.type === 'put' ? operation.value.length : 0)
      try {
        this.#observer.onBatchWritten({ operations: operations.length, bytes, sync, durationMs: performance.now() - startedMs })
      } catch {
        // An observer's failure must not turn a durable write into a reported failure.
      }
    }
  }

  async deleteRange(keySpace: string, range: KeyRange): Promise<void> {
    const column = this.#column('delete range', keySpace)
    if (Buffer.compare(asBuffer(range.gte), asBuffer(range.lt)) >= 0) return
    try {
      // Without a limit the binding's clear is one DeleteRange (no iteration).
      await this.#db.clear({ column, gte: asBuffer(range.gte), lt: asBuffer(range.lt), keyEncoding: 'buffer' })
    } catch (error) {
      throw ioError('delete range', error)
    }
  }

  range(keySpace: string, options: RangeOptions = {}): AsyncIterable<StorageEntry> {
    return { [Symbol.asyncIterator]: () => this.#iterate(keySpace, options) }
  }

  async *#iterate(keySpace: string, options: RangeOptions): AsyncGenerator<StorageEntry> {
    const column = this.#column('range', keySpace)
    const bounds = {
      column,
      keyEncoding: 'buffer' as const,
      valueEncoding: 'buffer' as const,
      ...(options.gt === undefined ? {} : { gt: asBuffer(options.gt) }),
      ...(options.gte === undefined ? {} : { gte: asBuffer(options.gte) }),
      ...(options.lt === undefined ? {} : { lt: asBuffer(options.lt) }),
      ...(options.lte === undefined ? {} : { lte: asBuffer(options.lte) }),
      ...(options.reverse === undefined ? {} : { reverse: options.reverse }),
      ...(options.limit === undefined ? {} : { limit: options.limit }),
      ...(options.keys === false ? { keys: false } : {}),
    }
    const iterator = this.#db.iterator({ ...bounds, highWaterMarkBytes: rangeChunkBytesMax })
    const chunkEntries = options.limit === undefined ? rangeChunkEntriesMax : Math.max(1, Math.min(options.limit, limitedRangeChunkEntriesMax))
    try {
      while (true) {
        let chunk: Array<[Buffer, Buffer]>
        try {
          chunk = await iterator.nextv(chunkEntries)
        } catch (error) {
          throw ioError('range', error)
        }
        if (chunk.length === 0) return
        if (options.keys === false) for (const [, value] of chunk) yield [noKey, value]
        else for (const entry of chunk) yield entry
      }
    } finally {
      await iterator.close().catch(() => undefined)
    }
  }

  async close(): Promise<void> {
    if (!this.#open) return
    this.#open = false
    try {
      await this.#db.close()
    } catch (error) {
      throw ioError('close', error)
    }
  }
}

/** Open (creating the directory and key spaces as needed), then run the readiness check. */
export async function openRocksStorage(directory: string, options: OpenRocksStorageOptions): Promise<Storage> {
  for (const name of options.keySpaces) {
    if (!keySpaceNamePattern.test(name) || name === internalKeySpace) throw new StorageKeySpaceError(name)
  }
  const columnOptions = options.tuning?.columnOptions ?? {}
  const columns: Record<string, Record<string, unknown>> = { default: { ...columnOptions }, [internalKeySpace]: { ...columnOptions } }
  for (const name of options.keySpaces) columns[name] = { ...(options.tuning?.familyOptions?.[name] ?? columnOptions) }
  let db: RocksLevel
  try {
    // Buffer encodings everywhere: the default (utf8) would mangle binary keys and values.
    db = new RocksLevel(directory, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
    await db.open({ ...options.tuning?.dbOptions, createIfMissing: true, columns })
  } catch (error) {
    throw ioError(`open ${directory}`, error)
  }
  const storage = new RocksStorage(db, [...options.keySpaces], options.observer)
  try {
    await checkStorageReadiness(storage)
  } catch (error) {
    await storage.close().catch(() => undefined)
    throw error
  }
  return storage
}
