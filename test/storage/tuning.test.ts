// RocksDB memory by role (shared/storage/tuning.ts; issue #5): the binding has no budget shared
// between column families, so busy families (storage.busyKeySpaces) get the configured memtable
// budget and block cache and every other family the cold minimum. Checked on the options the
// tuning produces, on the worst-case arithmetic, on the configuration (default list, env), and
// on what RocksDB itself recorded in its OPTIONS file for each family.
import t from 'tap'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { busyKeySpacesDefault, configDefaults, loadConfig } from '../../shared/config/index.js'
import { coldBlockCacheBytes, coldMemtableBudgetBytes, memtableBudgetPeakFactor, openRocksStorage, rocksMemoryCeilingBytes, rocksTuningOf } from '../../shared/storage/index.js'

const mebibyte = 1024 * 1024

t.test('busy families get the budget, the others the cold minimum', async (t) => {
  const tuning = rocksTuningOf({ memtableBudgetBytes: 8 * mebibyte, blockCacheBytes: 8 * mebibyte, busyKeySpaces: ['hot-a', 'hot-b'] })
  t.same(tuning.columnOptions, { compaction: 'level', memtableMemoryBudget: coldMemtableBudgetBytes, cacheSize: coldBlockCacheBytes, cacheIndexAndFilterBlocks: true })
  t.same(Object.keys(tuning.familyOptions ?? {}), ['hot-a', 'hot-b'])
  t.same(tuning.familyOptions?.['hot-a'], { compaction: 'level', memtableMemoryBudget: 8 * mebibyte, cacheSize: 8 * mebibyte, cacheIndexAndFilterBlocks: true })
  t.same(rocksTuningOf({ memtableBudgetBytes: 8 * mebibyte, blockCacheBytes: 0, busyKeySpaces: [] }).columnOptions, { compaction: 'level', memtableMemoryBudget: coldMemtableBudgetBytes, cacheSize: 0 }, 'no block cache configured: none for cold families either')
  t.equal(rocksTuningOf({ memtableBudgetBytes: 8 * mebibyte, blockCacheBytes: 8 * mebibyte }).familyOptions, undefined, 'without a busy list every family is busy (as before)')
})

t.test('the worst case adds up by role', async (t) => {
  const budget = { memtableBudgetBytes: 8 * mebibyte, blockCacheBytes: 8 * mebibyte, busyKeySpaces: ['a', 'b', 'x'] }
  const busy = 8 * mebibyte * memtableBudgetPeakFactor + 8 * mebibyte
  const cold = coldMemtableBudgetBytes * memtableBudgetPeakFactor + coldBlockCacheBytes
  // a, b busy (x is not opened); c, d and the adapter's two families cold.
  t.equal(rocksMemoryCeilingBytes(budget, ['a', 'b', 'c', 'd']), 2 * busy + 4 * cold)
  t.equal(rocksMemoryCeilingBytes({ memtableBudgetBytes: 8 * mebibyte, blockCacheBytes: 8 * mebibyte }, ['a', 'b']), 4 * busy, 'no list: all busy')
  t.equal(rocksMemoryCeilingBytes(budget, 14), 14 * busy, 'a count: all busy')
  // The node's 13 key spaces at the defaults: 7 busy, 6 + 2 cold.
  const node = ['node-meta', 'raft-log', 'raft-state', 'raft-snapshot', 'ps-events', 'ps-origin-seqs', 'ps-ids', 'ps-index', 'ps-groups', 'ps-meta', 'ps-records', 'ps-engine', 'ps-consumer']
  const ceiling = rocksMemoryCeilingBytes(configDefaults.storage, node)
  t.equal(ceiling, 7 * busy + 8 * cold, `${(ceiling / mebibyte).toFixed(0)} MiB at the defaults (all 15 busy: ${(15 * busy / mebibyte).toFixed(0)} MiB)`)
})

t.test('configuration: the default busy list, and env replaces it', async (t) => {
  t.same(loadConfig({ env: {} }).storage.busyKeySpaces, [...busyKeySpacesDefault])
  t.same(loadConfig({ env: { RAILGUN_STORAGE_BUSY_KEY_SPACES: 'ps-events,ps-index' } }).storage.busyKeySpaces, ['ps-events', 'ps-index'])
})

t.test('RocksDB records each family\'s own write buffer size and cache', async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'railgun-tuning-'))
  t.teardown(() => rmSync(directory, { recursive: true, force: true }))
  const tuning = rocksTuningOf({ memtableBudgetBytes: 8 * mebibyte, blockCacheBytes: 4 * mebibyte, busyKeySpaces: ['hot'] })
  const storage = await openRocksStorage(join(directory, 'db'), { keySpaces: ['hot', 'cold'], tuning })
  await storage.close()
  const file = readdirSync(join(directory, 'db')).filter((name) => name.startsWith('OPTIONS-')).sort().at(-1) as string
  const text = readFileSync(join(directory, 'db', file), 'utf8')
  const section = (family: string): string => text.split(`[CFOptions "${family}"]`)[1]?.split('[TableOptions')[0] ?? ''
  const writeBuffer = (family: string): number => Number(/\bwrite_buffer_size=(\d+)/.exec(section(family))?.[1])
  t.equal(writeBuffer('hot'), (8 * mebibyte) / 4, 'busy: write buffers of budget/4')
  t.equal(writeBuffer('cold'), coldMemtableBudgetBytes / 4, 'cold: write buffers of the cold budget/4')
  t.equal(writeBuffer('default'), coldMemtableBudgetBytes / 4, 'the adapter\'s own families are cold')
})
