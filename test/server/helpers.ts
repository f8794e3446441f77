// Test machinery for server tests: an in-process node on 127.0.0.1 with port 0, and a raw TCP
// client that records what the server writes. Everything here is bounded in time.
import { connect as netConnect } from 'node:net'
import type { Socket } from 'node:net'
import type { Test } from 'tap'
import { configWith } from '../../shared/config/index.js'
import type { NodeConfig } from '../../shared/config/index.js'
import { createMemoryLocation, openMemoryStorage } from '../../shared/storage/index.js'
import type { Storage } from '../../shared/storage/index.js'
import { nodeKeySpaces, startNode } from '../../server/node.js'
import type { RunningNode } from '../../server/node.js'

export type ConfigOverrides = { readonly [S in keyof NodeConfig]?: Partial<NodeConfig[S]> }

/** Start a node (with its control plane, alone) on in-memory storage; it is closed when the test ends. */
export async function startTestNode(
  t: Test,
  overrides: ConfigOverrides = {},
  openStorage?: (config: NodeConfig) => Promise<Storage>,
  nodeOptions: { readonly notReadyHoldMs?: number } = {},
): Promise<RunningNode> {
  const config = configWith({
    ...overrides,
    server: { host: '127.0.0.1', port: 0, httpPort: 0, name: 'test-node', ...overrides.server },
    cluster: { peerPort: 0, ...overrides.cluster },
  })
  const node = await startNode({
    config,
    openStorage: openStorage ?? (() => openMemoryStorage(createMemoryLocation(), { keySpaces: nodeKeySpaces })),
    ...nodeOptions,
  })
  t.teardown(() => node.close())
  return node
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Poll `predicate` until true or fail after `timeoutMs`. */
export async function until(predicate: () => boolean, timeoutMs = 5_000, what: string | (() => string) = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`)
    }
    await delay(5)
  }
}

export interface RawClient {
  readonly socket: Socket
  /** Everything received so far, as latin1 text (byte-exact). */
  text(): string
  write(data: string | Uint8Array): void
  /** Wait until the received text matches. */
  waitFor(pattern: RegExp | string, timeoutMs?: number): Promise<void>
  /** Resolves when the server closed the connection. */
  readonly closed: Promise<void>
  isClosed(): boolean
  destroy(): void
}

export async function rawClient(t: Test | undefined, port: number): Promise<RawClient> {
  const socket = netConnect({ host: '127.0.0.1', port })
  const chunks: Buffer[] = []
  let received = ''
  let dirty = false
  let isClosed = false
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk)
    dirty = true
  })
  socket.on('error', () => undefined)
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      isClosed = true
      resolve()
    }),
  )
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve())
    socket.once('error', reject)
  })
  const text = (): string => {
    if (dirty) {
      received = Buffer.concat(chunks).toString('latin1')
      dirty = false
    }
    return received
  }
  const client: RawClient = {
    socket,
    text,
    write: (data) => {
      if (!socket.destroyed) socket.write(data)
    },
    waitFor: async (pattern, timeoutMs = 5_000) => {
      const test = (): boolean => (typeof pattern === 'string' ? text().includes(pattern) : pattern.test(text()))
      await until(test, timeoutMs, () => `${String(pattern)} in ${JSON.stringify(text().slice(-300))}`)
    },
    closed,
    isClosed: () => isClosed,
    destroy: () => socket.destroy(),
  }
  t?.teardown(() => socket.destroy())
  return client
}

/** A raw client that has sent CONNECT (and waited for the PONG proving it was processed). */
export async function connectedRawClient(t: Test | undefined, port: number, connect: Record<string, unknown> = {}): Promise<RawClient> {
  const client = await rawClient(t, port)
  client.write(`CONNECT ${JSON.stringify({ verbose: false, pedantic: false, headers: true, ...connect })}\r\nPING\r\n`)
  await client.waitFor('PONG\r\n')
  return client
}
