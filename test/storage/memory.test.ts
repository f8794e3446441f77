// The in-memory storage passes the shared conformance suite, plus injected I/O failures.
import t from 'tap'
import { createMemoryLocation, openMemoryStorage } from '../../shared/storage/index.js'
import { runStorageConformance } from './conformance.js'

runStorageConformance(t, async () => {
  const location = createMemoryLocation()
  return { open: (keySpaces) => openMemoryStorage(location, { keySpaces }), cleanup: async () => undefined }
})

t.test('injected failures are StorageIoError, and a failed readiness check refuses to open', async (t) => {
  const location = createMemoryLocation()
  const storage = await openMemoryStorage(location, { keySpaces: ['k'] })
  location.failWith = new Error('disk on fire')
  await t.rejects(storage.put('k', Buffer.from('a'), Buffer.from('b')), { name: 'StorageIoError', cause: { message: 'disk on fire' } })
  await storage.close()
  await t.rejects(openMemoryStorage(location, { keySpaces: ['k'] }), { code: 'RG_ERR_STORAGE_IO' })
  location.failWith = undefined
  const reopened = await openMemoryStorage(location, { keySpaces: ['k'] })
  await reopened.close()
})
