// Public entry of the storage adapter.
export type { Storage, BatchOperation, KeyRange, RangeOptions, StorageEntry, WriteOptions, OpenStorageOptions } from './types.js'
export { internalKeySpace, keySpaceNamePattern } from './types.js'
export { openRocksStorage } from './rocksdb.js'
export type { RocksStorageObserver } from './rocksdb.js'
export { openMemoryStorage, createMemoryLocation } from './memory.js'
export type { MemoryLocation } from './memory.js'
export { checkStorageReadiness } from './readiness.js'
export { compareBytes } from './bytes.js'
