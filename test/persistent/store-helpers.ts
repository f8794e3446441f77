// Helpers for the event-store tests: both storage adapters behind one harness, a storage
// wrapper that holds or fails synced batches, and event builders.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createMemoryLocation, openMemoryStorage, openRocksStorage } from '../../shared/storage/index.js'
import type { BatchOperation, KeyRange, RangeOptions, Storage, StorageEntry, WriteOptions } from '../../shared/storage/index.js'
import { eventStoreKeySpaces } from '../../data-plane/persistent/index.js'
import type { StreamEvent } from '../../data-plane/persistent/index.js'

export interface StoreLocation {
  readonly name: string
  open(): Promise<Storage>
  cleanup(): Promise<void>
}

/** One location per adapter; each can be opened again and again (reopen tests). */
export function storeLocations(): Array<() => StoreLocation> {
  return [
    () => {
      const location = createMemoryLocation()
      return { name: 'memory', open: () => openMemoryStorage(location, { keySpaces: eventStoreKeySpaces }), cleanup: async () => undefined }
    },
    () => {
      const directory = mkdtempSync(join(tmpdir(), 'railgun-store-'))
      return {
        name: 'rocksdb',
        open: () => openRocksStorage(join(directory, 'db'), { keySpaces: eventStoreKeySpaces }),
        cleanup: async () => rmSync(directory, { recursive: true, force: true }),
      }
    },
  ]
}

export const stream = 'default/orders'
const encoder = new TextEncoder()

export function makeEvent(fields: { origin: string; originSeq: number; wallMs: number; id?: string; incarnation?: number; logical?: number; payload?: string; stream?: string }): StreamEvent {
  const id = fields.id ?? `${fields.origin}-${fields.incarnation ?? 1}-${fields.originSeq}`
  return {
    stream: fields.stream ?? stream,
    id,
    hlc: { wallMs: fields.wallMs, logical: fields.logical ?? 0 },
    origin: fields.origin,
    incarnation: fields.incarnation ?? 1,
    originSeq: fields.originSeq,
    headers: [['k', 'v']],
    payload: encoder.encode(fields.payload ?? `payload of ${id}`),
  }
}

/** One origin's run of events: seq `from..to`, wallMs = base + seq × step. */
export function originRun(origin: string, from: number, to: number, baseMs: number, stepMs = 10, incarnation = 1): StreamEvent[] {
  const out: StreamEvent[] = []
  for (let seq = from; seq <= to; seq++) out.push(makeEvent({ origin, originSeq: seq, wallMs: baseMs + seq * stepMs, incarnation }))
  return out
}

/**
 * Wraps a storage: every synced batch is counted, may wait for `release()` (`hold = true`),
 * and fails with `failWith` when set (nothing of a failed batch is applied).
 */
export class GatedStorage implements Storage {
  readonly inner: Storage
  hold = false
  failWith: Error | null = null
  syncedBatches = 0
  /** Operations per synced batch. */
  readonly batchSizes: number[] = []
  #waiting: Array<() => void> = []
  omitDeleteRange = false
  /** Range deletes are accepted and dropped (a crash right after the retention batch). */
  dropRangeDeletes = false

  constructor(inner: Storage) {
    this.inner = inner
  }

  get keySpaces(): readonly string[] {
    return this.inner.keySpaces
  }

  get isOpen(): boolean {
    return this.inner.isOpen
  }

  get waiting(): number {
    return this.#waiting.length
  }

  release(): void {
    const waiting = this.#waiting
    this.#waiting = []
    for (const go of waiting) go()
  }

  get(keySpace: string, key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.inner.get(keySpace, key)
  }

  put(keySpace: string, key: Uint8Array, value: Uint8Array, options?: WriteOptions): Promise<void> {
    return this.batch([{ type: 'put', keySpace, key, value }], options)
  }

  delete(keySpace: string, key: Uint8Array, options?: WriteOptions): Promise<void> {
    return this.batch([{ type: 'delete', keySpace, key }], options)
  }

  async batch(operations: readonly BatchOperation[], options?: WriteOptions): Promise<void> {
    if (options?.sync === true) {
      if (this.hold) await new Promise<void>((resolve) => this.#waiting.push(resolve))
      if (this.failWith !== null) throw this.failWith
      await this.inner.batch(operations, options)
      this.syncedBatches++
      this.batchSizes.push(operations.length)
      return
    }
    await this.inner.batch(operations, options)
  }

  get deleteRange(): ((keySpace: string, range: KeyRange) => Promise<void>) | undefined {
    if (this.omitDeleteRange || this.inner.deleteRange === undefined) return undefined
    const inner = this.inner
    if (this.dropRangeDeletes) return async () => undefined
    return (keySpace, range) => (inner.deleteRange as (keySpace: string, range: KeyRange) => Promise<void>).call(inner, keySpace, range)
  }

  range(keySpace: string, options?: RangeOptions): AsyncIterable<StorageEntry> {
    return this.inner.range(keySpace, options)
  }

  close(): Promise<void> {
    return this.inner.close()
  }
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of iterable) out.push(item)
  return out
}

export const keyOf = (e: StreamEvent): string => `${e.origin}#${e.incarnation}#${e.originSeq}`

/** Lets pending promise callbacks and timers run. */
export const settle = (ms = 5): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
