// The node id: configured, else a 64-bit hash of the advertised peer address (`host:port`) as 16
// lowercase hex characters (the first 8 bytes of its SHA-256). Kept in the `node-meta` key space
// on first start, so a restart keeps its id even when its address changes; a configured id that
// differs from the stored one is a fatal configuration error naming both.
import { createHash } from 'node:crypto'
import { ConfigError } from '../../shared/errors.js'
import type { Storage } from '../../shared/storage/index.js'

/** The key space of per-node facts (opened by `defaultOpenStorage`). */
export const nodeMetaKeySpace = 'node-meta'
/** Hex characters of a derived id (64 bits). */
export const derivedNodeIdHexChars = 16

const nodeIdKey = new TextEncoder().encode('node-id')
const decoder = new TextDecoder('utf-8', { fatal: true })

/** `127.0.0.1:6222` → 16 lowercase hex characters. Deterministic: every node derives the same id for one address. */
export function nodeIdFromAddress(hostPort: string): string {
  return createHash('sha256').update(hostPort, 'utf8').digest('hex').slice(0, derivedNodeIdHexChars)
}

export type NodeIdSource = 'stored' | 'configured' | 'derived'

/**
 * The node's id for this run: the stored one (checked against a configured one), else the
 * configured one, else `derive()`; a new id is stored (synced) before it is used.
 */
export async function resolveNodeId(
  storage: Storage,
  configured: string,
  derive: () => Promise<string> | string,
): Promise<{ readonly id: string; readonly source: NodeIdSource }> {
  const stored = await storage.get(nodeMetaKeySpace, nodeIdKey)
  if (stored !== undefined) {
    const id = decoder.decode(stored)
    if (configured !== '' && configured !== id) {
      throw new ConfigError(
        'cluster',
        'cluster.nodeId',
        `configured node id "${configured}" differs from the id "${id}" stored in this data directory; use --node-id ${id} or a fresh data directory`,
      )
    }
    return { id, source: 'stored' }
  }
  const id = configured !== '' ? configured : await derive()
  await storage.put(nodeMetaKeySpace, nodeIdKey, new TextEncoder().encode(id), { sync: true })
  return { id, source: configured !== '' ? 'configured' : 'derived' }
}
