// RocksDB memory budget → engine tuning. The node's configuration names two numbers (storage
// .memtableBudgetBytes, storage.blockCacheBytes, per BUSY column family) and which families are
// busy (storage.busyKeySpaces: written on every publish or ack); this turns them into the
// binding's open options. Pure: no I/O, no config import (shared/config maps onto it).
//
// One budget for the whole database would be RocksDB's WriteBufferManager and a shared block
// cache; this binding (12.x, binding.cc InitOptions) exposes neither — every family gets its own
// memtables and its own block cache. So the budget is split by role instead: busy families get
// the configured budget, every other family the least that works (`coldMemtableBudgetBytes`,
// `coldBlockCacheBytes`), and `rocksMemoryCeilingBytes` adds it up. A family written rarely
// never fills its memtables anyway; the split makes the worst case small and honest (a
// workload that makes a "cold" family busy costs it more flushes, not memory).
//
// Why these options (read in @nxtedition/rocksdb's binding.cc, InitOptions):
// - `compaction: 'level'` is what makes `memtableMemoryBudget` apply: write buffers of budget/4,
//   at most 6, two merged per flush, L0→L1 as soon as L0 holds ~the budget. Without it every
//   family gets RocksDB's 64 MiB write buffers (×2), and a reopen replays that much WAL.
// - `cacheSize` is one block cache per family (0 = none); `cacheIndexAndFilterBlocks` puts index
//   and filter blocks in it, so they are bounded by it instead of growing with the data.
// - `walCompression: false`: the binding compresses the WAL with ZSTD by default, and the batch
//   write (hence the compression) runs on the JavaScript thread; the WAL is short-lived anyway
//   (the event-store benchmark runs without it too).
import type { RocksTuning } from './rocksdb.js'

export interface RocksMemoryBudget {
  /** Memtable budget per busy column family (bytes). A family's memtables stay under ~1.5 × this. */
  readonly memtableBudgetBytes: number
  /** Block cache per busy column family (bytes); 0 = no block cache. */
  readonly blockCacheBytes: number
  /** The busy key spaces; the others get the cold budget. Absent: every family is busy. */
  readonly busyKeySpaces?: readonly string[]
}

/** Largest block cache the binding accepts (a 32-bit byte count). */
export const blockCacheBytesMax = 2 ** 32 - 1
/** Smallest memtable budget accepted (below it a family flushes tiny files constantly). */
export const memtableBudgetBytesMin = 1024 * 1024
/** How many write buffers of budget/4 a family may hold (the binding's level-compaction setting). */
export const memtableBudgetPeakFactor = 1.5
/** A cold family's memtable budget: the smallest accepted (write buffers of 256 KiB). */
export const coldMemtableBudgetBytes = memtableBudgetBytesMin
/** A cold family's block cache (its index and filter blocks are small), at most the busy families' own. */
export const coldBlockCacheBytes = 1024 * 1024
/** Families the storage adapter opens besides the caller's key spaces (`default`, the readiness marker's): cold. */
export const adapterFamilies = 2

export function rocksTuningOf(budget: RocksMemoryBudget): RocksTuning {
  const { memtableBudgetBytes, blockCacheBytes } = budget
  if (!(Number.isSafeInteger(memtableBudgetBytes) && memtableBudgetBytes >= memtableBudgetBytesMin)) {
    throw new RangeError(`rocksdb tuning: memtableBudgetBytes must be an integer >= ${memtableBudgetBytesMin}`)
  }
  if (!(Number.isSafeInteger(blockCacheBytes) && blockCacheBytes >= 0 && blockCacheBytes <= blockCacheBytesMax)) {
    throw new RangeError(`rocksdb tuning: blockCacheBytes must be an integer from 0 to ${blockCacheBytesMax}`)
  }
  const busy = familyOptions(memtableBudgetBytes, blockCacheBytes)
  if (budget.busyKeySpaces === undefined) return { columnOptions: busy, dbOptions: { walCompression: false } }
  return {
    columnOptions: familyOptions(coldMemtableBudgetBytes, Math.min(coldBlockCacheBytes, blockCacheBytes)),
    familyOptions: Object.fromEntries(budget.busyKeySpaces.map((keySpace) => [keySpace, busy])),
    dbOptions: { walCompression: false },
  }
}

function familyOptions(memtableBudgetBytes: number, blockCacheBytes: number): Record<string, unknown> {
  return {
    compaction: 'level',
    memtableMemoryBudget: memtableBudgetBytes,
    cacheSize: blockCacheBytes,
    ...(blockCacheBytes > 0 ? { cacheIndexAndFilterBlocks: true } : {}),
  }
}

/**
 * The most memory RocksDB's memtables and block caches may hold: for `families` column families
 * all busy, or for the key spaces opened (plus the adapter's own two, cold) split by the budget's
 * busy list.
 */
export function rocksMemoryCeilingBytes(budget: RocksMemoryBudget, families: number | readonly string[]): number {
  const busyBytes = budget.memtableBudgetBytes * memtableBudgetPeakFactor + budget.blockCacheBytes
  if (typeof families === 'number') return families * busyBytes
  if (budget.busyKeySpaces === undefined) return (families.length + adapterFamilies) * busyBytes
  const busy = new Set(budget.busyKeySpaces)
  const busyCount = families.filter((keySpace) => busy.has(keySpace)).length
  const coldBytes = coldMemtableBudgetBytes * memtableBudgetPeakFactor + Math.min(coldBlockCacheBytes, budget.blockCacheBytes)
  return busyCount * busyBytes + (families.length - busyCount + adapterFamilies) * coldBytes
}
