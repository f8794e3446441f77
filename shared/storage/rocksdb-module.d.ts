// Types for the parts of `@nxtedition/rocksdb` (no bundled typings) that storage/rocksdb.ts uses.
declare module '@nxtedition/rocksdb' {
  /** An opaque column family handle, passed back as `{ column }` in options. */
  export type ColumnHandle = { readonly __columnHandle: unique symbol }

  export interface RocksIterator {
    nextv(size: number): Promise<Array<[Buffer, Buffer]>>
    close(): Promise<void>
  }

  export interface RocksBatchOperation {
    readonly type: 'put' | 'del'
    readonly key: Buffer
    readonly value?: Buffer
    readonly column?: ColumnHandle
  }

  export interface RocksChainedBatch {
    put(key: Buffer, value: Buffer, options?: { readonly column?: ColumnHandle }): RocksChainedBatch
    del(key: Buffer, options?: { readonly column?: ColumnHandle }): RocksChainedBatch
    write(options?: { readonly sync?: boolean }): Promise<void>
    close(): Promise<void>
  }

  /**
   * The binding's own (underscore) methods of a chained batch, used to reuse one native
   * WriteBatch (shared/storage/rocksdb.ts says why). Pinned by package-lock.json.
   */
  export interface RocksReusableBatch {
    _put(key: Buffer, value: Buffer, options: { readonly column?: ColumnHandle }): void
    _del(key: Buffer, options: { readonly column?: ColumnHandle }): void
    /** DB::Write on the calling thread; throws on failure. */
    _writeSync(options: { readonly sync?: boolean }): void
    _clear(): void
  }

  export class RocksLevel {
    constructor(location: string, options?: Record<string, unknown>)
    readonly status: 'opening' | 'open' | 'closing' | 'closed'
    readonly columns: Readonly<Record<string, ColumnHandle>>
    open(options: {
      readonly createIfMissing?: boolean
      readonly columns?: Readonly<Record<string, Record<string, unknown>>>
      readonly [option: string]: unknown
    }): Promise<void>
    close(): Promise<void>
    getMany(
      keys: readonly Buffer[],
      options: { readonly column?: ColumnHandle; readonly keyEncoding: 'buffer'; readonly valueEncoding: 'buffer' },
    ): Promise<Array<Buffer | undefined>>
    /** The chained form: write() applies and closes it (detaching it from the database). */
    batch(): RocksChainedBatch
    batch(
      operations: readonly RocksBatchOperation[],
      options?: { readonly sync?: boolean; readonly keyEncoding: 'buffer'; readonly valueEncoding: 'buffer' },
    ): Promise<void>
    clear(options: {
      readonly column?: ColumnHandle
      readonly gte?: Buffer
      readonly lt?: Buffer
      readonly keyEncoding: 'buffer'
    }): Promise<void>
    iterator(options: {
      readonly column?: ColumnHandle
      readonly gt?: Buffer
      readonly gte?: Buffer
      readonly lt?: Buffer
      readonly lte?: Buffer
      readonly reverse?: boolean
      readonly limit?: number
      /** false: rows carry no key (`nextv` yields undefined in its place). */
      readonly keys?: boolean
      /** Bytes one `nextv` returns at most (at least one entry). */
      readonly highWaterMarkBytes?: number
      readonly keyEncoding: 'buffer'
      readonly valueEncoding: 'buffer'
    }): RocksIterator
  }
}
