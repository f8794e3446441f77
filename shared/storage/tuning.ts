// RocksDB memory budget → engine tuning. The node's configuration names two numbers (storage
// .memtableBudgetBytes, storage.blockCacheBytes, both per column family); this turns them into the
// binding's open options. Pure: no I/O, no config import (shared/config maps onto it).
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
  /** Memtable budget per column family (bytes). A family's memtables stay under ~1.5 × this. */
  readonly memtableBudgetBytes: number
  /** Block cache per column family (bytes); 0 = no block cache. */
  readonly blockCacheBytes: number
}

/** Largest block cache the binding accepts (a 32-bit byte count). */
export const blockCacheBytesMax = 2 ** 32 - 1
/** Smallest memtable budget accepted (below it a family flushes tiny files constantly). */
export const memtableBudgetBytesMin = 1024 * 1024
/** How many write buffers of budget/4 a family may hold (the binding's level-compaction setting). */
export const memtableBudgetPeakFactor = 1.5

export function rocksTuningOf(budget: RocksMemoryBudget): RocksTuning {
  const { memtableBudgetBytes, blockCacheBytes } = budget
  if (!(Number.isSafeInteger(memtableBudgetBytes) && memtableBudgetBytes >= memtableBudgetBytesMin)) {
    throw new RangeError(`rocksdb tuning: memtableBudgetBytes must be an integer >= ${memtableBudgetBytesMin}`)
  }
  if (!(Number.isSafeInteger(blockCacheBytes) && blockCacheBytes >= 0 && blockCacheBytes <= blockCacheBytesMax)) {
    throw new RangeError(`rocksdb tuning: blockCacheBytes must be an integer from 0 to ${blockCacheBytesMax}`)
  }
  return {
    columnOptions: {
      compaction: 'level',
      memtableMemoryBudget: memtableBudgetBytes,
      cacheSize: blockCacheBytes,
      ...(blockCacheBytes > 0 ? { cacheIndexAndFilterBlocks: true } : {}),
    },
    dbOptions: { walCompression: false },
  }
}

/** The most memory RocksDB's memtables and block caches may hold for `families` column families. */
export function rocksMemoryCeilingBytes(budget: RocksMemoryBudget, families: number): number {
  return families * (budget.memtableBudgetBytes * memtableBudgetPeakFactor + budget.blockCacheBytes)
}
