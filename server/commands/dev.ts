// `railgun dev`: a local cluster of real `railgun server` processes for development. Free ports
// are allocated, one child per node is started with the same executable and CLI entry this
// process runs from (`node bin/railgun.js` from the build, `tsx server/cli.ts` from source),
// every node is seeded with all nodes (all master-eligible: they form the cluster together), and
// once every node is ready and a leader is elected a table of nodes and URLs is printed.
// Ctrl-C / SIGTERM stops every child (SIGTERM, SIGKILL after a grace) and exits 0; a child that
// dies on its own is reported. `--leader-rotation-ms N` moves leadership to the next node every N
// ms (the Rocinante notes' rotation), through the admin REST API.
//
//   railgun dev [--nodes 3 | --regions us-east:3,eu-west:2] [--dir DIR] [--keep] [--verbose] [--leader-rotation-ms N]
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import type { WriteStream } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { InvalidArgumentError } from 'commander'
import type { Command } from 'commander'
import { checkName } from '../../control-plane/cluster/index.js'
import { configDefaults } from '../../shared/config/index.js'
import { reservePort } from '../cluster/reserve-port.js'
import { createDevCertificates } from '../../shared/security/index.js'

/** Nodes `railgun dev` starts at most (each is a process). */
export const devNodesMax = 16
/** How long every node has to print its ready line, then to agree on a leader. */
export const devReadyTimeoutMs = 60_000
/** SIGTERM first; SIGKILL for a child still running after this. */
export const devStopGraceMs = 5_000
/** The smallest `--leader-rotation-ms` (a transfer needs an election's worth of time). */
export const leaderRotationMsMin = 500
const statusProbeTimeoutMs = 1_000
const readyLinePattern = /railgun ready client=/

export interface DevNodePlan {
  readonly id: string
  readonly region: string
  /** Only regions given with `--regions` are passed to the node (else its default region). */
  readonly regionFlag: boolean
}

export interface DevFlags {
  readonly nodes?: number
  readonly regions?: string
  readonly dir?: string
  readonly keep?: boolean
  readonly verbose?: boolean
  readonly leaderRotationMs?: number
  /** Client TLS and peer mutual TLS from a throw-away CA written to `<dir>/tls` (docs/security.md). */
  readonly tls?: boolean
}

interface DevNode extends DevNodePlan {
  readonly clientPort: number
  readonly httpPort: number
  readonly peerPort: number
  readonly logFile: string
  child?: ChildProcess
  log?: WriteStream
  stopping: boolean
}

function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) throw new InvalidArgumentError('expected a positive integer')
  return Number(value)
}

/** `--nodes N` → n1..nN; `--regions us-east:3,eu-west:2` → us-east-1.. eu-west-1.. (errors are usage errors). */
export function planDevNodes(flags: Pick<DevFlags, 'nodes' | 'regions'>): DevNodePlan[] {
  if (flags.regions === undefined) {
    const count = flags.nodes ?? 3
    if (count < 1 || count > devNodesMax) throw new InvalidArgumentError(`--nodes: 1 to ${devNodesMax}`)
    return Array.from({ length: count }, (_, i) => ({ id: `n${i + 1}`, region: configDefaults.cluster.region, regionFlag: false }))
  }
  if (flags.nodes !== undefined) throw new InvalidArgumentError('give --nodes or --regions, not both')
  const plans: DevNodePlan[] = []
  for (const part of flags.regions.split(',').map((item) => item.trim()).filter((item) => item.length > 0)) {
    const match = /^([^:\s]+):(\d+)$/.exec(part)
    if (match === null) throw new InvalidArgumentError(`--regions: "${part}" is not region:count`)
    const region = match[1]!
    const problem = checkName('region', 'region', region)
    if (problem !== undefined) throw new InvalidArgumentError(`--regions: ${problem.message}`)
    if (plans.some((plan) => plan.region === region)) throw new InvalidArgumentError(`--regions: region ${region} appears twice`)
    const count = Number(match[2])
    if (count < 1) throw new InvalidArgumentError(`--regions: region ${region} needs at least one node`)
    for (let i = 1; i <= count; i += 1) plans.push({ id: `${region}-${i}`, region, regionFlag: true })
  }
  if (plans.length === 0) throw new InvalidArgumentError('--regions: expected region:count[,region:count…]')
  if (plans.length > devNodesMax) throw new InvalidArgumentError(`--regions: ${plans.length} nodes; at most ${devNodesMax}`)
  return plans
}

/** How to run this CLI again: the same Node executable, its flags (e.g. tsx's loader) and entry script. */
export function selfCommand(): { command: string; args: string[] } {
  const entry = process.argv[1]
  if (entry === undefined) throw new Error('railgun dev: cannot tell which script runs the CLI')
  return { command: process.execPath, args: [...process.execArgv, resolve(entry)] }
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? []
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('  ')).join('\n') + '\n'
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms))
}

interface StatusView {
  readonly ok: boolean
  readonly nodeId: string
  readonly role: string
  readonly leader: string | null
  readonly term: number
}

async function statusOf(node: DevNode): Promise<StatusView | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${node.httpPort}/api/v1/cluster`, { signal: AbortSignal.timeout(statusProbeTimeoutMs) })
    const body = (await response.json()) as StatusView
    return body.ok ? body : undefined
  } catch {
    return undefined
  }
}

/** The leader every running node names, once they agree and it says so itself; undefined if not (yet). */
async function agreedLeader(nodes: readonly DevNode[]): Promise<string | undefined> {
  const running = nodes.filter((node) => node.child !== undefined && node.child.exitCode === null && node.child.signalCode === null)
  const views = await Promise.all(running.map(statusOf))
  const leader = views[0]?.leader ?? null
  if (leader === null || !views.every((view) => view?.leader === leader)) return undefined
  return views.find((view) => view?.nodeId === leader)?.role === 'leader' ? leader : undefined
}

class DevCluster {
  private readonly nodes: DevNode[] = []
  private rotationTimer: NodeJS.Timeout | undefined
  private stopped = false
  /** Set at once on SIGINT/SIGTERM: a terminal's Ctrl-C reaches the children too, and their exit is then expected. */
  signalled = false

  constructor(
    private readonly flags: DevFlags,
    private readonly dir: string,
    private readonly removeDir: boolean,
  ) {}

  async plan(plans: readonly DevNodePlan[]): Promise<void> {
    for (const plan of plans) {
      const [clientPort, httpPort, peerPort] = [await reservePort('127.0.0.1'), await reservePort('127.0.0.1'), await reservePort('127.0.0.1')]
      this.nodes.push({ ...plan, clientPort, httpPort, peerPort, logFile: join(this.dir, `${plan.id}.log`), stopping: false })
    }
  }

  start(): void {
    const self = selfCommand()
    const seeds = this.nodes.map((node) => `${node.id}@127.0.0.1:${node.peerPort}`).join(',')
    const certs = this.flags.tls === true ? createDevCertificates({ dir: join(this.dir, 'tls') }) : undefined
    const tlsArgs =
      certs === undefined
        ? []
        : ['--tls-cert', certs.server.certFile, '--tls-key', certs.server.keyFile, '--peer-tls-cert', certs.peer.certFile, '--peer-tls-key', certs.peer.keyFile, '--peer-tls-ca', certs.caFile]
    for (const node of this.nodes) {
      const args = [
        ...self.args,
        'server',
        ...['--host', '127.0.0.1', '--port', String(node.clientPort), '--http-port', String(node.httpPort), '--peer-port', String(node.peerPort)],
        ...['--data', join(this.dir, node.id), '--name', node.id, '--node-id', node.id, '--seeds', seeds],
        ...(node.regionFlag ? ['--region', node.region] : []),
        ...tlsArgs,
      ]
      const child = spawn(self.command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: process.env })
      node.child = child
      if (this.flags.verbose !== true) node.log = createWriteStream(node.logFile, { flags: 'a' })
      for (const stream of [child.stdout, child.stderr]) {
        let partial = ''
        stream?.on('data', (chunk: Buffer) => {
          node.log?.write(chunk)
          if (this.flags.verbose !== true) return
          const lines = (partial + chunk.toString('utf8')).split('\n')
          partial = lines.pop() ?? ''
          for (const line of lines) process.stdout.write(`[${node.id}] ${line}\n`)
        })
      }
      child.once('exit', (code, signal) => {
        if (node.stopping || this.stopped || this.signalled) return
        process.stderr.write(`railgun dev: node ${node.id} (pid ${child.pid}) exited unexpectedly (code ${code}, signal ${signal})${this.flags.verbose === true ? '' : `; log: ${node.logFile}`}\n`)
      })
    }
  }

  /** Resolves once every child printed its ready line; rejects naming the first that exited or timed out. */
  async waitReady(): Promise<void> {
    await Promise.all(
      this.nodes.map(
        (node) =>
          new Promise<void>((done, fail) => {
            const child = node.child!
            let seen = ''
            const finish = (error?: Error): void => {
              clearTimeout(timer)
              child.stdout?.off('data', onData)
              child.stderr?.off('data', onData)
              child.off('exit', onExit)
              if (error === undefined) done()
              else fail(error)
            }
            const onData = (chunk: Buffer): void => {
              seen = (seen + chunk.toString('utf8')).slice(-64 * 1024)
              if (readyLinePattern.test(seen)) finish()
            }
            const onExit = (code: number | null): void => finish(new Error(`node ${node.id} exited (code ${code}) before it was ready; log: ${node.logFile}`))
            const timer = setTimeout(() => finish(new Error(`node ${node.id} not ready after ${devReadyTimeoutMs} ms; log: ${node.logFile}`)), devReadyTimeoutMs)
            child.stdout?.on('data', onData)
            child.stderr?.on('data', onData)
            child.once('exit', onExit)
          }),
      ),
    )
  }

  async waitForLeader(): Promise<string> {
    const deadline = Date.now() + devReadyTimeoutMs
    for (;;) {
      if (this.stopped) throw new Error('stopped before a leader was elected')
      const leader = await agreedLeader(this.nodes)
      if (leader !== undefined) return leader
      if (Date.now() > deadline) throw new Error(`no leader agreed on after ${devReadyTimeoutMs} ms`)
      await sleep(100)
    }
  }

  describe(leader: string): string {
    const rows = [['NODE', 'REGION', 'CLIENT', 'ADMIN', 'PID', 'ROLE']]
    for (const node of this.nodes) {
      rows.push([node.id, node.region, `nats://127.0.0.1:${node.clientPort}`, `http://127.0.0.1:${node.httpPort}`, String(node.child?.pid ?? '-'), node.id === leader ? 'leader' : 'follower'])
    }
    const logs = this.flags.verbose === true ? 'logs: on this terminal, prefixed by node' : `logs: ${join(this.dir, '<node>.log')}`
    const tls = this.flags.tls === true ? `tls: clients and peers; CA ${join(this.dir, 'tls', 'ca.pem')} (railgun … --tls-ca it; nats.js tls: { caFile })\n` : ''
    return `${table(rows)}leader: ${leader}\n${tls}${logs}\ndata: ${this.dir}${this.removeDir ? ' (removed at exit; --keep keeps it)' : ''}\nCtrl-C stops the cluster.\n`
  }

  /** Every `periodMs`: ask the leader to hand over to the next node (in plan order). */
  startRotation(periodMs: number): void {
    this.rotationTimer = setInterval(() => void this.rotate(), periodMs)
  }

  private rotating = false
  private async rotate(): Promise<void> {
    if (this.rotating || this.stopped) return
    this.rotating = true
    try {
      const leader = await agreedLeader(this.nodes)
      if (leader === undefined) return
      const index = this.nodes.findIndex((node) => node.id === leader)
      const from = this.nodes[index]!
      const to = this.nodes[(index + 1) % this.nodes.length]!
      if (to.id === leader) return
      const response = await fetch(`http://127.0.0.1:${from.httpPort}/api/v1/leader/transfer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ to: to.id }),
        signal: AbortSignal.timeout(10_000),
      })
      const body = (await response.json()) as { ok: boolean; leader?: string | null; error?: { message: string } }
      if (body.ok) process.stdout.write(`railgun dev: leader rotated ${leader} → ${body.leader ?? to.id}\n`)
      else process.stderr.write(`railgun dev: leader rotation ${leader} → ${to.id} failed: ${body.error?.message ?? response.status}\n`)
    } catch (error) {
      if (!this.stopped) process.stderr.write(`railgun dev: leader rotation failed: ${(error as Error).message}\n`)
    } finally {
      this.rotating = false
    }
  }

  /** SIGTERM every child, SIGKILL after the grace; then close the log files and remove the directory unless kept. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    clearInterval(this.rotationTimer)
    await Promise.all(
      this.nodes.map(async (node) => {
        const child = node.child
        node.stopping = true
        if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
        const exited = new Promise<void>((done) => child.once('exit', () => done()))
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), devStopGraceMs)
        await exited
        clearTimeout(timer)
      }),
    )
    await Promise.all(this.nodes.map((node) => new Promise<void>((done) => (node.log === undefined ? done() : node.log.end(() => done())))))
    if (this.removeDir) rmSync(this.dir, { recursive: true, force: true })
  }
}

/** Runs the dev cluster until SIGINT/SIGTERM; exit code 0 after a clean stop, 1 if it could not start. */
export async function runDev(flags: DevFlags): Promise<void> {
  const plans = planDevNodes(flags)
  const removeDir = flags.dir === undefined && flags.keep !== true
  const dir = flags.dir === undefined ? mkdtempSync(join(tmpdir(), 'railgun-dev-')) : resolve(flags.dir)
  mkdirSync(dir, { recursive: true })
  const cluster = new DevCluster(flags, dir, removeDir)
  let signalled: (signal: string) => void = () => undefined
  const untilSignal = new Promise<string>((done) => {
    signalled = done
  })
  const onSignal = (signal: NodeJS.Signals): void => {
    cluster.signalled = true
    signalled(signal)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    process.stdout.write(`railgun dev: starting ${plans.length} nodes in ${dir}\n`)
    await cluster.plan(plans)
    cluster.start()
    const started = Promise.all([cluster.waitReady(), cluster.waitForLeader()]).then(([, leader]) => leader)
    const first = await Promise.race([started.then((leader) => ({ leader })), untilSignal.then((signal) => ({ signal }))])
    if ('signal' in first) {
      started.catch(() => undefined)
      process.stdout.write(`railgun dev: ${first.signal} before the cluster was ready; stopping\n`)
    } else {
      process.stdout.write(cluster.describe(first.leader))
      if (flags.leaderRotationMs !== undefined) {
        process.stdout.write(`railgun dev: rotating leadership every ${flags.leaderRotationMs} ms\n`)
        cluster.startRotation(flags.leaderRotationMs)
      }
      const signal = await untilSignal
      process.stdout.write(`railgun dev: ${signal}; stopping the cluster\n`)
    }
    await cluster.stop()
    process.stdout.write('railgun dev: stopped\n')
    process.exitCode = 0
  } catch (error) {
    process.stderr.write(`railgun dev: ${(error as Error).message}\n`)
    await cluster.stop()
    process.exitCode = 1
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description('run a local cluster of railgun server processes (free ports, temporary data) until Ctrl-C')
    .option('--nodes <n>', `nodes in one region (default 3, at most ${devNodesMax})`, positiveInteger)
    .option('--regions <list>', 'nodes per region, e.g. us-east:3,eu-west:2 (node ids us-east-1, …)')
    .option('--dir <dir>', 'data and log directory (default: a fresh temporary directory, removed at exit)')
    .option('--keep', 'keep the temporary directory at exit')
    .option('--verbose', 'print node logs on this terminal, prefixed by node, instead of log files')
    .option('--tls', 'client TLS and peer mutual TLS with a throw-away CA in <dir>/tls (development only)')
    .option('--leader-rotation-ms <ms>', `transfer leadership to the next node every ms (at least ${leaderRotationMsMin})`, (value: string) => {
      const ms = positiveInteger(value)
      if (ms < leaderRotationMsMin) throw new InvalidArgumentError(`at least ${leaderRotationMsMin}`)
      return ms
    })
    .action(async (flags: DevFlags) => {
      try {
        planDevNodes(flags)
      } catch (error) {
        if (!(error instanceof InvalidArgumentError)) throw error
        process.stderr.write(`railgun dev: ${error.message}\n`)
        process.exitCode = 2
        return
      }
      await runDev(flags)
    })
}
