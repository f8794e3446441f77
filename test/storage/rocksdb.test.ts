// The RocksDB storage passes the shared conformance suite, plus RocksDB-specific failures.
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openRocksStorage } from '../../shared/storage/index.js'
import { runStorageConformance } from './conformance.js'

runStorageConformance(t, async () => {
  const directory = mkdtempSync(join(tmpdir(), 'railgun-rocks-'))
  return {
    open: (keySpaces) => openRocksStorage(join(directory, 'db'), { keySpaces }),
    cleanup: async () => rmSync(directory, { recursive: true, force: true }),
  }
})

t.test('a data path that is a file is a StorageIoError naming the path', async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'railgun-rocks-'))
  t.teardown(() => rmSync(directory, { recursive: true, force: true }))
  const file = join(directory, 'not-a-directory')
  writeFileSync(file, 'x')
  await t.rejects(openRocksStorage(file, { keySpaces: [] }), { name: 'StorageIoError', message: new RegExp(`open ${file}`) })
})
