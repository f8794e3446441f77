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
      readonly keyEncoding: 'buffer'
      readonly valueEncoding: 'buffer'
    }): RocksIterator
  }
}
