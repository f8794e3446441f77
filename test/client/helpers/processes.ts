// Live-test servers: nats-server (when installed) and, once it lands, the Railgun server. Every
// process is started on 127.0.0.1 with a free port, bounded in time, and stopped by its own PID.
import { reservePort } from '../../../server/cluster/reserve-port.js'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { connect as netConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface LiveServer {
  readonly label: string
  readonly url: string
  readonly port: number
  readonly pid: number
  /** Kills the process (SIGKILL when `hard`), waits for its exit. */
  stop(hard?: boolean): Promise<void>
  /** Starts it again on the same port (after `stop`). */
  restart(): Promise<void>
  /** Stops for good and removes what it left on disk. */
  dispose(): Promise<void>
}

export interface ServerKind {
  readonly label: string
  /** Why this server cannot be used here, or undefined when it can. */
  readonly unavailableReason: string | undefined
  start(options?: { readonly extraArgs?: readonly string[] }): Promise<LiveServer>
}

export const natsServerPath = '/usr/sbin/nats-server'
const startTimeoutMs = 30_000
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))
const railgunCli = join(repoRoot, 'server/cli.ts')
const stopTimeoutMs = 5_000

/** A free loopback port from below the ephemeral range (see server/cluster/reserve-port.ts). */
export async function freePort(): Promise<number> {
  return reservePort('127.0.0.1')
}

/** Resolves once the port answers with a first byte (INFO), bounded by `timeoutMs`. */
export async function waitForInfo(port: number, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before listening`)
    const ready = await new Promise<boolean>((resolve) => {
      const socket = netConnect(port, '127.0.0.1')
      const done = (value: boolean): void => {
        socket.destroy()
        resolve(value)
      }
      socket.once('data', () => done(true))
      socket.once('error', () => done(false))
      socket.setTimeout(500, () => done(false))
    })
    if (ready) return
    await new Promise((r) => setTimeout(r, 30))
  }
  throw new Error(`port ${port} not ready after ${timeoutMs} ms`)
}

export async function stopChild(child: ChildProcess, hard: boolean): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill(hard ? 'SIGKILL' : 'SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs)
  await exited
  clearTimeout(timer)
}

/** Resolves once the child's output matches `pattern` (a readiness line), bounded. */
export function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => finish(new Error(`no ${pattern} after ${timeoutMs} ms; output: ${output.slice(-2000)}`)), timeoutMs)
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8')
      if (pattern.test(output)) finish(undefined)
    }
    const onExit = (code: number | null): void => finish(new Error(`exited with ${code} before ready; output: ${output.slice(-2000)}`))
    const finish = (error: Error | undefined): void => {
      clearTimeout(timer)
      child.stdout?.off('data', onData)
      child.stderr?.off('data', onData)
      child.off('exit', onExit)
      // Keep draining the pipes so the child never blocks on a full pipe.
      child.stdout?.resume()
      child.stderr?.resume()
      if (error === undefined) resolve()
      else reject(error)
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', onExit)
  })
}

/** A server process that can be stopped and started again on the same port. */
export async function startProcess(
  label: string,
  port: number,
  spawnChild: () => ChildProcess,
  waitReady: (child: ChildProcess) => Promise<void> = (child) => waitForInfo(port, startTimeoutMs, child),
  cleanup: () => void = () => undefined,
): Promise<LiveServer> {
  let child = spawnChild()
  await waitReady(child).catch(async (error: unknown) => {
    await stopChild(child, true)
    cleanup()
    throw error
  })
  const server: LiveServer = {
    label,
    url: `nats://127.0.0.1:${port}`,
    port,
    get pid() {
      return child.pid ?? -1
    },
    stop: async (hard = false) => {
      await stopChild(child, hard)
    },
    restart: async () => {
      await stopChild(child, true)
      child = spawnChild()
      await waitReady(child)
    },
    dispose: async () => {
      await stopChild(child, true)
      cleanup()
    },
  }
  return server
}

export const natsServerKind: ServerKind = {
  label: 'nats-server',
  unavailableReason: existsSync(natsServerPath) ? undefined : `${natsServerPath} is not installed (scripts/install-peers.sh)`,
  async start(options = {}) {
    const port = await freePort()
    const args = ['-p', String(port), '-a', '127.0.0.1', ...(options.extraArgs ?? [])]
    return startProcess('nats-server', port, () => spawn(natsServerPath, args, { stdio: 'ignore' }))
  },
}

/** `railgun server` from source (tsx), in-memory-free: a temporary data directory per server. */
export const railgunKind: ServerKind = {
  label: 'railgun',
  unavailableReason: existsSync(railgunCli) ? undefined : 'server/cli.ts is not there yet',
  async start(options = {}) {
    const port = await freePort()
    // A fixed peer port too, so a restart keeps the node's advertised address.
    const peerPort = await freePort()
    const dataDir = mkdtempSync(join(tmpdir(), 'railgun-client-test-'))
    const args = [
      '--import',
      'tsx',
      railgunCli,
      'server',
      '--port',
      String(port),
      '--http-port',
      '0',
      '--peer-port',
      String(peerPort),
      '--host',
      '127.0.0.1',
      '--data',
      dataDir,
      '--name',
      'client-test',
      ...(options.extraArgs ?? []),
    ]
    return startProcess(
      'railgun',
      port,
      () =>
        spawn(process.execPath, args, {
          cwd: repoRoot,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, RAILGUN_LOG_LEVEL: 'info' },
        }),
      (child) => waitForOutput(child, /railgun ready client=/, startTimeoutMs),
      () => rmSync(dataDir, { recursive: true, force: true }),
    )
  },
}

/** The servers every live test runs against. */
export function serverKinds(): ServerKind[] {
  return [natsServerKind, railgunKind]
}
