// The storage adapter contract. Two implementations (RocksDB, in-memory) pass one conformance
// suite (test/storage/conformance.ts). Keys and values are bytes; keys order byte-wise.

/** Writes with `sync: true` are on disk (fsync'd WAL) when the promise resolves. */
export interface WriteOptions {
  readonly sync?: boolean
}

export type BatchOperation =
  | { readonly type: 'put'; readonly keySpace: string; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly type: 'delete'; readonly keySpace: string; readonly key: Uint8Array }

/** Bounds of an ordered range; keys compare byte-wise (unsigned, shorter prefix first). */
export interface RangeOptions {
  readonly gt?: Uint8Array
  readonly gte?: Uint8Array
  readonly lt?: Uint8Array
  readonly lte?: Uint8Array
  readonly reverse?: boolean
  /** At most this many entries. */
  readonly limit?: number
  /**
   * false: the caller reads values only, and an implementation may yield empty keys (the RocksDB
   * adapter then skips copying each key out of the engine: a scan of a million small entries
   * makes a million Buffers instead of two million).
   */
  readonly keys?: boolean
}

/** A half-open key range `[gte, lt)`. */
export interface KeyRange {
  readonly gte: Uint8Array
  readonly lt: Uint8Array
}

export type StorageEntry = readonly [key: Uint8Array, value: Uint8Array]

export interface Storage {
  /** The key spaces this handle was opened with (each is a RocksDB column family). */
  readonly keySpaces: readonly string[]
  /** False once `close()` has begun. */
  readonly isOpen: boolean
  get(keySpace: string, key: Uint8Array): Promise<Uint8Array | undefined>
  put(keySpace: string, key: Uint8Array, value: Uint8Array, options?: WriteOptions): Promise<void>
  delete(keySpace: string, key: Uint8Array, options?: WriteOptions): Promise<void>
  /** All operations apply or none do. */
  batch(operations: readonly BatchOperation[], options?: WriteOptions): Promise<void>
  /**
   * Removes every key in `[gte, lt)` of one key space (RocksDB `DeleteRange`: one tombstone,
   * however many keys). Not atomic with `batch` and not synced by itself: it becomes durable
   * with the next synced write, so callers make it idempotent (redo it after a restart).
   * Optional: wrappers and test doubles may leave it out; callers then delete key by key.
   */
  deleteRange?(keySpace: string, range: KeyRange): Promise<void>
  /** Entries in key order (or reverse), read from a consistent view taken when iteration starts. */
  range(keySpace: string, options?: RangeOptions): AsyncIterable<StorageEntry>
  /** Flushes and releases the engine; later calls reject with `StorageClosedError`. Idempotent. */
  close(): Promise<void>
}

export interface OpenStorageOptions {
  /** Key spaces to open. Must include every key space that already exists in the location. */
  readonly keySpaces: readonly string[]
}

/** Reserved for the readiness marker; callers cannot name it. */
export const internalKeySpace = 'railgun-internal'

/** Key space names: lower-case words, digits and dashes. */
export const keySpaceNamePattern = /^[a-z][a-z0-9-]{0,63}$/
