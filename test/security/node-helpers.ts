// Test machinery for security end to end through `startNode` (in-memory storage, 127.0.0.1,
// port 0, a captured logger) and through a real `railgun server` child process (stopped by its
// own PID when the test ends).
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { configWith } from '../../shared/config/index.js'
import type { NodeConfig } from '../../shared/config/index.js'
import type { Logger } from '../../shared/log.js'
import { createMemoryLocation, openMemoryStorage } from '../../shared/storage/index.js'
import { nodeKeySpaces, startNode } from '../../server/node.js'
import type { RunningNode, StartNodeOptions } from '../../server/node.js'
import { until } from './helpers.js'

export type ConfigOverrides = { readonly [S in keyof NodeConfig]?: Partial<NodeConfig[S]> }

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url))

/** A node alone (its own control plane) on in-memory storage; closed when the test ends. */
export async function startSecureNode(
  t: Test,
  overrides: ConfigOverrides,
  options: { readonly logger?: Logger; readonly adminPassword?: string; readonly peerTransport?: StartNodeOptions['peerTransport'] } = {},
): Promise<RunningNode> {
  const config = configWith({
    ...overrides,
    server: { host: '127.0.0.1', port: 0, httpPort: 0, name: 'secure-node', ...overrides.server },
    cluster: { peerPort: 0, ...overrides.cluster },
  })
  const node = await startNode({
    config,
    openStorage: () => openMemoryStorage(createMemoryLocation(), { keySpaces: nodeKeySpaces }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.adminPassword === undefined ? {} : { adminPassword: options.adminPassword }),
    ...(options.peerTransport === undefined ? {} : { peerTransport: options.peerTransport }),
  })
  t.teardown(() => node.close())
  return node
}

export interface ServerProcess {
  readonly child: ChildProcess
  output(): string
  readonly clientUrl: string
  readonly adminUrl: string
  readonly clientPort: number
}

/** Runs `railgun server` with `args` (plus loopback, port 0, info logs); resolves when it logs ready. */
export async function spawnServer(t: Test, args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'server/cli.ts', 'server', '--host', '127.0.0.1', '--port', '0', '--http-port', '0', '--peer-port', '0', '--log-level', 'info', ...args],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  )
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  })
  const readyPattern = /railgun ready client=(nats:\/\/127\.0\.0\.1:(\d+)) admin=(http:\/\/127\.0\.0\.1:\d+)/
  await until(() => readyPattern.test(output) || child.exitCode !== null, 60_000, 'railgun server ready')
  const match = readyPattern.exec(output)
  if (match === null) throw new Error(`railgun server did not become ready:\n${output}`)
  return { child, output: () => output, clientUrl: match[1] as string, clientPort: Number(match[2]), adminUrl: match[3] as string }
}
