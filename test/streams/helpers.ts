// Test machinery for persistent streams: a lone node (its own control plane) on RocksDB in a
// temp dir (or a given storage opener), restartable on the same dir; a persistent stream
// ensured through the control API; a storage wrapper that holds the event store's synced
// batches until released. Everything is bounded in time and removed when the test ends.
import { delegateStorage } from '../storage/delegate.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { startNode } from '../../server/node.js'
import type { RunningNode } from '../../server/node.js'
import { configWith } from '../../shared/config/index.js'
import type { NodeConfig } from '../../shared/config/index.js'
import type { BatchOperation, Storage, WriteOptions } from '../../shared/storage/index.js'

export function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'railgun-streams-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export async function startStreamNode(t: Test, dataDir: string, openStorage?: (config: NodeConfig) => Promise<Storage>): Promise<RunningNode> {
  const config = configWith({
    server: { host: '127.0.0.1', port: 0, httpPort: 0, name: 'streams-node' },
    cluster: { peerPort: 0 },
    storage: { dataDir },
  })
  const node = await startNode({ config, ...(openStorage === undefined ? {} : { openStorage }) })
  t.teardown(() => node.close())
  await node.ready
  return node
}

export async function until(what: string, predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Waits until `default/<name>` has an open engine on the node. */
export async function untilStreamOpen(node: RunningNode, name: string): Promise<void> {
  await until(`the engine of ${name}`, () => node.persistentStreams()?.engine(`default/${name}`) !== undefined)
}

/**
 * Storage whose synced batches touching `keySpace` wait while `hold()` is on; `release()` lets
 * them (and later ones) through. `heldCount` is how many are waiting.
 */
export interface GatedStorage extends Storage {
  hold(): void
  release(): void
  readonly heldCount: number
}

export function gateSyncs(inner: Storage, keySpace: string): GatedStorage {
  let holding = false
  let waiting: Array<() => void> = []
  const touches = (operations: readonly BatchOperation[]): boolean => operations.some((operation) => operation.keySpace === keySpace)
  const storage = delegateStorage(inner, {
    async batch(operations: readonly BatchOperation[], options?: WriteOptions) {
      if (holding && options?.sync === true && touches(operations)) await new Promise<void>((resolve) => waiting.push(resolve))
      return inner.batch(operations, options)
    },
    close: () => {
      holding = false
      for (const resolve of waiting) resolve()
      waiting = []
      return inner.close()
    },
  })
  const release = (): void => {
    holding = false
    const released = waiting
    waiting = []
    for (const resolve of released) resolve()
  }
  return Object.defineProperties(storage, {
    hold: { value: () => (holding = true) },
    release: { value: release },
    heldCount: { get: () => waiting.length },
  }) as GatedStorage
}
