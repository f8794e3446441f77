// The readiness check every storage passes before a node serves clients: write a fresh marker
// with `sync: true`, read it back, and compare. A node that cannot do this is not ready.
import { randomBytes } from 'node:crypto'
import { StorageNotReadyError } from '../errors.js'
import { internalKeySpace } from './types.js'
import type { Storage } from './types.js'

const markerKey = Buffer.from('readiness-marker', 'utf8')

export async function checkStorageReadiness(storage: Storage): Promise<void> {
  const marker = Buffer.concat([Buffer.from(`${Date.now()}:`, 'utf8'), randomBytes(16)])
  try {
    await storage.put(internalKeySpace, markerKey, marker, { sync: true })
    const readBack = await storage.get(internalKeySpace, markerKey)
    if (readBack === undefined || Buffer.compare(Buffer.from(readBack), marker) !== 0) {
      throw new StorageNotReadyError('readiness marker read back differs from what was written')
    }
  } catch (error) {
    if (error instanceof StorageNotReadyError) throw error
    throw new StorageNotReadyError(`readiness check failed: ${(error as Error).message}`, { cause: error })
  }
}
