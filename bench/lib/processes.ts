// Starting and stopping the servers a benchmark drives: Railgun (the compiled build) and,
// when installed, nats-server. Every process started here is stopped by its own PID.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from './ports.js'

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))

export interface RunningServer {
  readonly label: string
  readonly url: string
  readonly port: number
  readonly pid: number
  /** Resident set size of the server process in bytes (Linux /proc). */
  rssBytes(): number
  stop(): Promise<void>
}

export function whichBinary(name: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' })
  const path = found.stdout.trim()
  return found.status === 0 && path !== '' ? path : undefined
}

async function waitForPort(port: number, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`process exited with ${child.exitCode} before listening`)
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('data', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
      socket.setTimeout(500, () => {
        socket.destroy()
        resolve(false)
      })
    })
    if (open) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`port ${port} not ready after ${timeoutMs} ms`)
}

function readRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /VmRSS:\s+(\d+) kB/.exec(status)
  return match ? Number(match[1]) * 1024 : Number.NaN
}

function stopper(child: ChildProcess, cleanup: () => void): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
    cleanup()
  }
}

/** Starts `railgun server` from the compiled build (run `npm run build` first). */
export async function startRailgun(extraArgs: readonly string[] = []): Promise<RunningServer> {
  const port = await freePort()
  const httpPort = await freePort()
  const dataDir = mkdtempSync(join(tmpdir(), 'railgun-bench-'))
  const child = spawn(
    process.execPath,
    [join(repoRoot, 'bin/railgun.js'), 'server', '--port', String(port), '--http-port', String(httpPort), '--data', dataDir, ...extraArgs],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, RAILGUN_LOG_LEVEL: 'warn' } },
  )
  await waitForPort(port, 20_000, child)
  const pid = child.pid as number
  return {
    label: 'railgun',
    url: `nats://127.0.0.1:${port}`,
    port,
    pid,
    rssBytes: () => readRss(pid),
    stop: stopper(child, () => rmSync(dataDir, { recursive: true, force: true })),
  }
}

/** Starts nats-server (core only) when installed; undefined with a reason otherwise. */
export async function startNatsServer(extraArgs: readonly string[] = []): Promise<RunningServer | string> {
  const binary = whichBinary('nats-server')
  if (binary === undefined) return 'nats-server is not installed (run scripts/install-peers.sh)'
  const port = await freePort()
  const child = spawn(binary, ['-a', '127.0.0.1', '-p', String(port), ...extraArgs], { stdio: ['ignore', 'ignore', 'ignore'] })
  await waitForPort(port, 10_000, child)
  const pid = child.pid as number
  return {
    label: 'nats-server',
    url: `nats://127.0.0.1:${port}`,
    port,
    pid,
    rssBytes: () => readRss(pid),
    stop: stopper(child, () => undefined),
  }
}
