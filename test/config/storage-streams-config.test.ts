// The `storage` memory budget and the `streams` section: defaults, every source, bounds with
// errors naming the source and field, and the RocksDB tuning the budget turns into.
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { configBounds, configDefaults, configWith, loadConfig } from '../../shared/config/index.js'
import { rocksMemoryCeilingBytes, rocksTuningOf } from '../../shared/storage/index.js'

const mebibyte = 1024 * 1024

t.test('defaults: 8 MiB memtable budget and block cache per family; the store\'s group commit; retention every 10 s', async (t) => {
  const config = loadConfig({ env: {} })
  t.same(config.storage, { ...config.storage, memtableBudgetBytes: 8 * mebibyte, blockCacheBytes: 8 * mebibyte })
  t.same(config.streams, { lingerMs: 0, batchBytesMax: mebibyte, maintenanceIntervalMs: 10_000, deadOriginGraceMs: 5_000 })
  t.same(configDefaults.streams, config.streams)
})

t.test('YAML, environment and configWith set them', async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'railgun-config-streams-'))
  t.teardown(() => rmSync(directory, { recursive: true, force: true }))
  const path = join(directory, 'railgun.yaml')
  writeFileSync(path, 'storage:\n  memtableBudgetBytes: 16777216\n  blockCacheBytes: 0\nstreams:\n  lingerMs: 2\n  batchBytesMax: 65536\n  maintenanceIntervalMs: 0\n')
  const fromFile = loadConfig({ configPath: path, env: {} })
  t.equal(fromFile.storage.memtableBudgetBytes, 16 * mebibyte)
  t.equal(fromFile.storage.blockCacheBytes, 0, '0 = no block cache')
  t.same(fromFile.streams, { lingerMs: 2, batchBytesMax: 65_536, maintenanceIntervalMs: 0, deadOriginGraceMs: 5_000 })

  const fromEnv = loadConfig({
    configPath: path,
    env: { RAILGUN_STREAMS_LINGER_MS: '5', RAILGUN_STREAMS_BATCH_BYTES_MAX: '262144', RAILGUN_STREAMS_MAINTENANCE_INTERVAL_MS: '250', RAILGUN_STORAGE_BLOCK_CACHE_BYTES: '1048576' },
  })
  t.same(fromEnv.streams, { lingerMs: 5, batchBytesMax: 262_144, maintenanceIntervalMs: 250, deadOriginGraceMs: 5_000 }, 'env beats the file')
  t.equal(fromEnv.storage.blockCacheBytes, mebibyte)
  t.equal(fromEnv.storage.memtableBudgetBytes, 16 * mebibyte, 'the file\'s value where env is silent')

  const embedded = configWith({ streams: { lingerMs: 1 }, storage: { dataDir: '/tmp/x' } })
  t.equal(embedded.streams.lingerMs, 1)
  t.equal(embedded.streams.batchBytesMax, mebibyte, 'untouched fields keep their defaults')
  t.equal(embedded.storage.memtableBudgetBytes, 8 * mebibyte)
})

t.test('out-of-range values are errors naming the source, the field and the range', async (t) => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ RAILGUN_STREAMS_LINGER_MS: '1001' }, `config env RAILGUN_STREAMS_LINGER_MS: streams.lingerMs: expected an integer from 0 to ${configBounds.lingerMs.max}`],
    [{ RAILGUN_STREAMS_LINGER_MS: '-1' }, 'config env RAILGUN_STREAMS_LINGER_MS: streams.lingerMs: expected an integer from 0 to 1000'],
    [{ RAILGUN_STREAMS_LINGER_MS: '0.5' }, 'config env RAILGUN_STREAMS_LINGER_MS: streams.lingerMs: expected an integer from 0 to 1000'],
    [{ RAILGUN_STREAMS_BATCH_BYTES_MAX: '100' }, 'config env RAILGUN_STREAMS_BATCH_BYTES_MAX: streams.batchBytesMax: expected an integer from 4096 to 67108864'],
    [{ RAILGUN_STREAMS_BATCH_BYTES_MAX: String(64 * mebibyte + 1) }, 'config env RAILGUN_STREAMS_BATCH_BYTES_MAX: streams.batchBytesMax: expected an integer from 4096 to 67108864'],
    [{ RAILGUN_STREAMS_MAINTENANCE_INTERVAL_MS: '50' }, 'config env RAILGUN_STREAMS_MAINTENANCE_INTERVAL_MS: streams.maintenanceIntervalMs: expected 0 (off) or an integer from 100 to 86400000'],
    [{ RAILGUN_STREAMS_MAINTENANCE_INTERVAL_MS: 'often' }, 'config env RAILGUN_STREAMS_MAINTENANCE_INTERVAL_MS: streams.maintenanceIntervalMs: expected 0 (off) or an integer from 100 to 86400000'],
    [{ RAILGUN_STORAGE_MEMTABLE_BUDGET_BYTES: '65536' }, 'config env RAILGUN_STORAGE_MEMTABLE_BUDGET_BYTES: storage.memtableBudgetBytes: expected an integer from 1048576 to 1073741824'],
    [{ RAILGUN_STORAGE_BLOCK_CACHE_BYTES: String(2 ** 32) }, 'config env RAILGUN_STORAGE_BLOCK_CACHE_BYTES: storage.blockCacheBytes: expected an integer from 0 to 4294967295'],
  ]
  for (const [env, message] of cases) t.throws(() => loadConfig({ env }), { name: 'ConfigError', code: 'RG_ERR_CONFIG', message }, Object.keys(env).join(','))
  const directory = mkdtempSync(join(tmpdir(), 'railgun-config-streams-'))
  t.teardown(() => rmSync(directory, { recursive: true, force: true }))
  const unknown = join(directory, 'unknown.yaml')
  writeFileSync(unknown, 'streams:\n  lingerMillis: 3\n')
  t.throws(() => loadConfig({ configPath: unknown, env: {} }), { message: `config ${unknown}: streams.lingerMillis: unknown field` })
})

t.test('the memory budget becomes level compaction, the budget, a bounded block cache and no WAL compression', async (t) => {
  const tuning = rocksTuningOf({ memtableBudgetBytes: 8 * mebibyte, blockCacheBytes: 4 * mebibyte })
  t.same(tuning, {
    columnOptions: { compaction: 'level', memtableMemoryBudget: 8 * mebibyte, cacheSize: 4 * mebibyte, cacheIndexAndFilterBlocks: true },
    dbOptions: { walCompression: false },
  })
  t.same(rocksTuningOf({ memtableBudgetBytes: mebibyte, blockCacheBytes: 0 }).columnOptions, { compaction: 'level', memtableMemoryBudget: mebibyte, cacheSize: 0 }, 'no cache: index and filter blocks stay with the table readers')
  t.throws(() => rocksTuningOf({ memtableBudgetBytes: 1000, blockCacheBytes: 0 }), RangeError)
  t.throws(() => rocksTuningOf({ memtableBudgetBytes: mebibyte, blockCacheBytes: 2 ** 32 }), RangeError)
  t.equal(rocksMemoryCeilingBytes({ memtableBudgetBytes: 8 * mebibyte, blockCacheBytes: 8 * mebibyte }, 14), 14 * 20 * mebibyte)
  // Every value the config accepts is one the tuning accepts.
  t.doesNotThrow(() => rocksTuningOf({ memtableBudgetBytes: configBounds.memtableBudgetBytes.min, blockCacheBytes: configBounds.blockCacheBytes.max }))
  t.doesNotThrow(() => rocksTuningOf({ memtableBudgetBytes: configBounds.memtableBudgetBytes.max, blockCacheBytes: configBounds.blockCacheBytes.min }))
})
