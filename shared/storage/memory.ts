// The in-memory twin of the RocksDB storage: same contract, same conformance suite. A
// `MemoryLocation` plays the part of a data directory, so data survives close and reopen, and
// it holds a lock like RocksDB's LOCK file. `failWith` injects I/O failures for tests.
import { StorageClosedError, StorageIoError, StorageKeySpaceError } from '../errors.js'
import { compareBytes, copyBytes } from './bytes.js'
import { checkStorageReadiness } from './readiness.js'
import { internalKeySpace, keySpaceNamePattern } from './types.js'
import type { BatchOperation, KeyRange, OpenStorageOptions, RangeOptions, Storage, StorageEntry, WriteOptions } from './types.js'

interface Entry {
  readonly key: Uint8Array
  value: Uint8Array
}

export interface MemoryLocation {
  /** Sorted entries per key space; persists across handles. */
  readonly spaces: Map<string, Entry[]>
  locked: boolean
  /** When set, every engine operation rejects with a `StorageIoError` caused by this. */
  failWith: Error | undefined
}

export function createMemoryLocation(): MemoryLocation {
  return { spaces: new Map(), locked: false, failWith: undefined }
}

function findIndex(entries: readonly Entry[], key: Uint8Array): { index: number; found: boolean } {
  let low = 0
  let high = entries.length
  while (low < high) {
    const middle = (low + high) >>> 1
    const entry = entries[middle] as Entry
    const order = compareBytes(entry.key, key)
    if (order === 0) return { index: middle, found: true }
    if (order < 0) low = middle + 1
    else high = middle
  }
  return { index: low, found: false }
}

function inRange(key: Uint8Array, options: RangeOptions): boolean {
  if (options.gt !== undefined && compareBytes(key, options.gt) <= 0) return false
  if (options.gte !== undefined && compareBytes(key, options.gte) < 0) return false
  if (options.lt !== undefined && compareBytes(key, options.lt) >= 0) return false
  if (options.lte !== undefined && compareBytes(key, options.lte) > 0) return false
  return true
}

class MemoryStorage implements Storage {
  readonly keySpaces: readonly string[]
  #open = true
  readonly #location: MemoryLocation

  constructor(location: MemoryLocation, keySpaces: readonly string[]) {
    this.#location = location
    this.keySpaces = keySpaces
  }

  get isOpen(): boolean {
    return this.#open
  }

  #entries(operation: string, keySpace: string): Entry[] {
    if (!this.#open) throw new StorageClosedError(operation)
    if (this.#location.failWith !== undefined) {
      throw new StorageIoError(`memory storage: ${operation} failed`, { cause: this.#location.failWith })
    }
    const entries = this.#location.spaces.get(keySpace)
    if (entries === undefined) throw new StorageKeySpaceError(keySpace)
    return entries
  }

  async get(keySpace: string, key: Uint8Array): Promise<Uint8Array | undefined> {
    const entries = this.#entries('get', keySpace)
    const { index, found } = findIndex(entries, key)
    return found ? copyBytes((entries[index] as Entry).value) : undefined
  }

  async put(keySpace: string, key: Uint8Array, value: Uint8Array, options?: WriteOptions): Promise<void> {
    await this.batch([{ type: 'put', keySpace, key, value }], options)
  }

  async delete(keySpace: string, key: Uint8Array, options?: WriteOptions): Promise<void> {
    await this.batch([{ type: 'delete', keySpace, key }], options)
  }

  async batch(operations: readonly BatchOperation[], _options?: WriteOptions): Promise<void> {
    if (!this.#open) throw new StorageClosedError('write')
    // Resolve every key space first, so a bad operation rejects the batch before anything applies.
    const targets = operations.map((operation) => this.#entries('write', operation.keySpace))
    operations.forEach((operation, position) => {
      const entries = targets[position] as Entry[]
      const { index, found } = findIndex(entries, operation.key)
      if (operation.type === 'put') {
        if (found) (entries[index] as Entry).value = copyBytes(operation.value)
        else entries.splice(index, 0, { key: copyBytes(operation.key), value: copyBytes(operation.value) })
      } else if (found) {
        entries.splice(index, 1)
      }
    })
  }

  async deleteRange(keySpace: string, range: KeyRange): Promise<void> {
    const entries = this.#entries('delete range', keySpace)
    if (compareBytes(range.gte, range.lt) >= 0) return
    const from = findIndex(entries, range.gte).index
    const to = findIndex(entries, range.lt).index
    entries.splice(from, to - from)
  }

  range(keySpace: string, options: RangeOptions = {}): AsyncIterable<StorageEntry> {
    const check = (): Entry[] => this.#entries('range', keySpace)
    return {
      [Symbol.asyncIterator]: async function* (): AsyncGenerator<StorageEntry> {
        // A consistent view: the matching entries as they are when iteration starts.
        const view = check().filter((entry) => inRange(entry.key, options))
        if (options.reverse === true) view.reverse()
        const limit = options.limit ?? Number.POSITIVE_INFINITY
        let count = 0
        for (const entry of view) {
          if (count >= limit) return
          count += 1
          yield [copyBytes(entry.key), copyBytes(entry.value)]
        }
      },
    }
  }

  async close(): Promise<void> {
    if (!this.#open) return
    this.#open = false
    this.#location.locked = false
  }
}

/** Open (creating key spaces as needed), then run the readiness check. */
export async function openMemoryStorage(location: MemoryLocation, options: OpenStorageOptions): Promise<Storage> {
  for (const name of options.keySpaces) {
    if (!keySpaceNamePattern.test(name) || name === internalKeySpace) throw new StorageKeySpaceError(name)
  }
  if (location.failWith !== undefined) {
    throw new StorageIoError('memory storage: open failed', { cause: location.failWith })
  }
  if (location.locked) throw new StorageIoError('memory storage: location is locked by another handle')
  const wanted = new Set([internalKeySpace, ...options.keySpaces])
  const missing = [...location.spaces.keys()].filter((name) => !wanted.has(name))
  if (missing.length > 0) {
    throw new StorageIoError(`memory storage: key spaces not opened: ${missing.join(', ')}`)
  }
  for (const name of wanted) if (!location.spaces.has(name)) location.spaces.set(name, [])
  location.locked = true
  const storage = new MemoryStorage(location, [...options.keySpaces])
  try {
    await checkStorageReadiness(storage)
  } catch (error) {
    await storage.close()
    throw error
  }
  return storage
}
