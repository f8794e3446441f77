// Live-test servers: nats-server (when installed) and, once it lands, the Railgun server. Every
// process is started on 127.0.0.1 with a free port, bounded in time, and stopped by its own PID.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer, connect as netConnect } from 'node:net'

export interface LiveServer {
  readonly label: string
  readonly url: string
  readonly port: number
  readonly pid: number
  /** Kills the process (SIGKILL when `hard`), waits for its exit. */
  stop(hard?: boolean): Promise<void>
  /** Starts it again on the same port (after `stop`). */
  restart(): Promise<void>
}

export interface ServerKind {
  readonly label: string
  /** Why this server cannot be used here, or undefined when it can. */
  readonly unavailableReason: string | undefined
  start(options?: { readonly extraArgs?: readonly string[] }): Promise<LiveServer>
}

export const natsServerPath = '/usr/sbin/nats-server'
const startTimeoutMs = 10_000
const stopTimeoutMs = 5_000

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
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

/** A server process that can be stopped and started again on the same port. */
export async function startProcess(
  label: string,
  port: number,
  spawnChild: () => ChildProcess,
): Promise<LiveServer> {
  let child = spawnChild()
  await waitForInfo(port, startTimeoutMs, child).catch(async (error: unknown) => {
    await stopChild(child, true)
    throw error
  })
  const server: LiveServer = {
    label,
    url: `nats://127.0.0.1:${port}`,
    port,
    get pid() {
      return child.pid ?? -1
    },
    stop: (hard = false) => stopChild(child, hard),
    restart: async () => {
      await stopChild(child, true)
      child = spawnChild()
      await waitForInfo(port, startTimeoutMs, child)
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

/** The servers every live test runs against. */
export function serverKinds(): ServerKind[] {
  return [natsServerKind]
}
