// A cluster of real `railgun server` processes on 127.0.0.1 for fault tests and benchmarks: every
// node is a ProcessController (kill -9, SIGSTOP/SIGCONT, restart), every peer link goes through a
// ProxyMesh proxy (each node gets `cluster.peerRoutes` naming the proxy of each of its links), so
// partitions are blackholes on those proxies. Client, admin and peer ports are fixed per node (a
// restarted node keeps its addresses and its record in the cluster state). Logs are one file per
// node under the cluster's directory; the directory is kept when a test fails.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect } from '../../client/index.js'
import { configDefaults } from '../../shared/config/index.js'
import type { ClientOptions, RailgunClient } from '../../client/index.js'
import { reservePort } from '../../server/cluster/reserve-port.js'
import { ProcessController } from './process-controller.js'
import { ProxyMesh } from './proxy-mesh.js'

/** Nodes per harness cluster at most (each is a process; this machine has 2 cores). */
export const railgunClusterNodesMax = 9
/** How long one node may take to print its ready line (tsx start-up, RocksDB, joining). */
export const nodeReadyTimeoutMsDefault = 60_000
/** One admin-API status probe. */
const statusProbeTimeoutMs = 1_500
const pollIntervalMs = 50

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))

export interface RailgunClusterOptions {
  /** Node ids, default `n1..n<nodes>`. */
  readonly nodeIds?: readonly string[]
  /** Default 3 (ignored when `nodeIds` is given). */
  readonly nodes?: number
  /** node id → region; default: the server's default region (`cluster.region`). */
  readonly regions?: Readonly<Record<string, string>>
  /** Raft timings and compaction, passed as `RAILGUN_CLUSTER_*`. Defaults: 50 ms × 10 ticks, snapshots every 10,000. */
  readonly tickMs?: number
  readonly electionTicks?: number
  readonly snapshotEveryEntries?: number
  readonly deadAfterMs?: number
  /** Default `info` (the fault tests read role changes and snapshot lines). */
  readonly logLevel?: string
  /** Directory for data and logs; default a fresh temp directory. */
  readonly dir?: string
  /** Seeds the proxies' jitter. */
  readonly seed?: number
  /** Default true. False: nodes dial each other directly (benchmarks); `partition` then throws. */
  readonly peerProxies?: boolean
  /** The command that runs the CLI: default `node --import tsx <repo>/server/cli.ts`. */
  readonly cli?: { readonly command: string; readonly args: readonly string[] }
  readonly env?: Readonly<Record<string, string>>
  readonly readyTimeoutMs?: number
}

export interface RailgunNode {
  readonly id: string
  readonly region: string
  readonly clientPort: number
  readonly httpPort: number
  readonly peerPort: number
  readonly clientUrl: string
  readonly adminUrl: string
  readonly dataDir: string
  readonly logFile: string
  readonly process: ProcessController
}

/** `GET /api/v1/cluster` as one node sees it (CLUSTER.STATUS). */
export interface NodeClusterView {
  readonly nodeId: string
  readonly role: string
  readonly leader: string | null
  readonly term: number
  readonly commit: number
  readonly applied: number
  readonly ready: boolean
  readonly members: readonly { readonly id: string; readonly region: string; readonly role: string; readonly state: string; readonly voter: boolean }[]
}

export interface WaitForLeaderOptions {
  /** Nodes that must agree on the leader; default every running, unpaused node. */
  readonly among?: readonly string[]
  /** The leader must not be one of these (e.g. the node just killed or isolated). */
  readonly excluding?: readonly string[]
  readonly timeoutMs?: number
}

/** The minimal tap surface `startRailgunCluster` needs. */
export interface TestLike {
  teardown(fn: () => unknown): void
  passing(): boolean
  comment(...message: unknown[]): void
}

/** A free loopback port from below the ephemeral range (see server/cluster/reserve-port.ts). */
export async function freeLoopbackPort(): Promise<number> {
  return reservePort('127.0.0.1')
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export class RailgunCluster {
  readonly nodeIds: readonly string[]
  readonly dir: string
  readonly mesh: ProxyMesh
  private readonly nodes = new Map<string, RailgunNode>()
  private readonly clients = new Set<RailgunClient>()
  private readonly ownsDir: boolean
  private closed = false

  private constructor(
    private readonly options: RailgunClusterOptions,
    nodeIds: readonly string[],
  ) {
    this.nodeIds = nodeIds
    this.ownsDir = options.dir === undefined
    this.dir = options.dir ?? mkdtempSync(join(tmpdir(), 'railgun-faults-'))
    this.mesh = new ProxyMesh({ seed: options.seed ?? 1 })
  }

  /** Plans ports, starts the proxies, then every node, and waits until each is ready. */
  static async start(options: RailgunClusterOptions = {}): Promise<RailgunCluster> {
    const nodeIds = options.nodeIds ?? Array.from({ length: options.nodes ?? 3 }, (_, i) => `n${i + 1}`)
    if (nodeIds.length === 0 || nodeIds.length > railgunClusterNodesMax) throw new Error(`railgun cluster: 1 to ${railgunClusterNodesMax} nodes, not ${nodeIds.length}`)
    const cluster = new RailgunCluster(options, nodeIds)
    try {
      await cluster.plan()
      await Promise.all(nodeIds.map((id) => cluster.start(id)))
    } catch (error) {
      await cluster.close({ keepDir: true })
      throw new Error(`railgun cluster: start failed (logs kept in ${cluster.dir}): ${(error as Error).message}`, { cause: error })
    }
    return cluster
  }

  node(id: string): RailgunNode {
    const node = this.nodes.get(id)
    if (node === undefined) throw new Error(`railgun cluster: unknown node '${id}'`)
    return node
  }

  /** Nodes whose process runs and is not paused. */
  live(): string[] {
    return this.nodeIds.filter((id) => this.node(id).process.running && !this.node(id).process.paused)
  }

  /** Starts a stopped node (same ports, data and routes) and waits for its ready line. */
  async start(id: string): Promise<void> {
    const node = this.node(id)
    await node.process.start()
    await this.waitReady(node)
  }

  /** Polls `/readyz` (any log level works) until 200; fails at once if the process exits. */
  private async waitReady(node: RailgunNode): Promise<void> {
    const timeoutMs = this.options.readyTimeoutMs ?? nodeReadyTimeoutMsDefault
    const deadline = Date.now() + timeoutMs
    for (;;) {
      if (!node.process.running) throw new Error(`${node.id}: exited before it was ready (log: ${node.logFile})`)
      try {
        const response = await fetch(`${node.adminUrl}/readyz`, { signal: AbortSignal.timeout(statusProbeTimeoutMs) })
        await response.body?.cancel()
        if (response.status === 200) return
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${node.id}: not ready after ${timeoutMs} ms (log: ${node.logFile})`)
      await sleep(pollIntervalMs * 2)
    }
  }

  async kill9(id: string): Promise<void> {
    await this.node(id).process.kill9()
  }

  /** SIGTERM (drain), SIGKILL after the grace. */
  async stop(id: string, graceMs = 5_000): Promise<void> {
    await this.node(id).process.stop(graceMs)
  }

  /** kill -9 (default) or stop, then start again and wait until ready. */
  async restart(id: string, options: { readonly kill?: boolean } = { kill: true }): Promise<void> {
    if (options.kill === false) await this.stop(id)
    else await this.kill9(id)
    await this.start(id)
  }

  pause(id: string): void {
    this.node(id).process.pause()
  }

  resume(id: string): void {
    this.node(id).process.resume()
  }

  /** Blackholes every peer link between the groups (client links are untouched). */
  partition(...groups: readonly (readonly string[])[]): void {
    if (this.options.peerProxies === false) throw new Error('railgun cluster: started with peerProxies: false, so links cannot be partitioned')
    this.mesh.partition(...groups)
  }

  /** Heals every peer link; connections held by the blackhole get their bytes in order. */
  heal(): void {
    this.mesh.heal()
  }

  /** CLUSTER.STATUS from one node's admin API, or undefined if it does not answer in time. */
  async status(id: string): Promise<NodeClusterView | undefined> {
    try {
      const response = await fetch(`${this.node(id).adminUrl}/api/v1/cluster`, { signal: AbortSignal.timeout(statusProbeTimeoutMs) })
      const body = (await response.json()) as NodeClusterView & { ok: boolean }
      return body.ok ? body : undefined
    } catch {
      return undefined
    }
  }

  /**
   * The leader as the admin APIs see it now: a node among `among` (default the live ones) that
   * reports itself leader, with the highest term if several do (a deposed one may not know yet).
   */
  async leader(among: readonly string[] = this.live()): Promise<string | null> {
    const views = await Promise.all(among.map((id) => this.status(id)))
    let best: NodeClusterView | undefined
    for (const view of views) if (view !== undefined && view.role === 'leader' && (best === undefined || view.term > best.term)) best = view
    return best?.nodeId ?? null
  }

  /** Waits until every node of `among` names the same leader, which is one of them, not excluded, and says it leads. */
  async waitForLeader(options: WaitForLeaderOptions = {}): Promise<string> {
    const timeoutMs = options.timeoutMs ?? 30_000
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const among = options.among ?? this.live()
      const views = await Promise.all(among.map((id) => this.status(id)))
      const leader = views[0]?.leader ?? null
      const agreed = leader !== null && views.every((view) => view !== undefined && view.leader === leader)
      const leaderView = views.find((view) => view?.nodeId === leader)
      if (agreed && leaderView?.role === 'leader' && !(options.excluding ?? []).includes(leader)) return leader
      const last = views.map((view, i) => `${among[i]}: ${view === undefined ? 'no answer' : `${view.role}, leader ${view.leader ?? '-'}, term ${view.term}`}`).join('; ')
      if (Date.now() > deadline) throw new Error(`railgun cluster: no agreed leader within ${timeoutMs} ms (${last})`)
      await sleep(pollIntervalMs)
    }
  }

  /** A Railgun client connected to one node (closed with the cluster). */
  async client(id: string, options: ClientOptions = {}): Promise<RailgunClient> {
    const client = await connect(this.node(id).clientUrl, { name: `harness-${id}`, ...options })
    this.clients.add(client)
    return client
  }

  /** Stops clients, nodes (kill -9: data is thrown away unless kept) and proxies; removes the directory unless `keepDir`. */
  async close(options: { readonly keepDir?: boolean } = {}): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.all([...this.clients].map((client) => client.close().catch(() => undefined)))
    this.clients.clear()
    // SIGKILL ends a paused (SIGSTOP) process too.
    await Promise.all(
      [...this.nodes.values()].map(async (node) => {
        await node.process.kill9()
        await node.process.cleanup()
      }),
    )
    await this.mesh.stop()
    if (this.ownsDir && options.keepDir !== true) rmSync(this.dir, { recursive: true, force: true })
  }

  private async plan(): Promise<void> {
    const planned: { id: string; clientPort: number; httpPort: number; peerPort: number }[] = []
    for (const id of this.nodeIds) planned.push({ id, clientPort: await freeLoopbackPort(), httpPort: await freeLoopbackPort(), peerPort: await freeLoopbackPort() })
    const proxied = this.options.peerProxies !== false
    if (proxied) for (const plan of planned) await this.mesh.addNode(plan.id, { host: '127.0.0.1', port: plan.peerPort })
    const seeds = planned.map((plan) => `${plan.id}@127.0.0.1:${plan.peerPort}`).join(',')
    const cli = this.options.cli ?? { command: process.execPath, args: ['--import', 'tsx', join(repoRoot, 'server/cli.ts')] }
    for (const plan of planned) {
      const region = this.options.regions?.[plan.id] ?? configDefaults.cluster.region
      const dataDir = join(this.dir, plan.id)
      const logFile = join(this.dir, `${plan.id}.log`)
      const routes = proxied ? planned.filter((other) => other.id !== plan.id).map((other) => `${other.id}=127.0.0.1:${this.mesh.addressFor(plan.id, other.id).port}`) : []
      const env: Record<string, string> = {
        RAILGUN_LOG_LEVEL: this.options.logLevel ?? 'info',
        ...(routes.length === 0 ? {} : { RAILGUN_CLUSTER_PEER_ROUTES: routes.join(',') }),
        ...(this.options.tickMs === undefined ? {} : { RAILGUN_CLUSTER_TICK_MS: String(this.options.tickMs) }),
        ...(this.options.electionTicks === undefined ? {} : { RAILGUN_CLUSTER_ELECTION_TICKS: String(this.options.electionTicks) }),
        ...(this.options.snapshotEveryEntries === undefined ? {} : { RAILGUN_CLUSTER_SNAPSHOT_EVERY_ENTRIES: String(this.options.snapshotEveryEntries) }),
        ...(this.options.deadAfterMs === undefined ? {} : { RAILGUN_CLUSTER_DEAD_AFTER_MS: String(this.options.deadAfterMs) }),
        ...this.options.env,
      }
      const args = [
        ...cli.args,
        'server',
        '--host', '127.0.0.1',
        '--port', String(plan.clientPort),
        '--http-port', String(plan.httpPort),
        '--peer-port', String(plan.peerPort),
        '--data', dataDir,
        '--name', plan.id,
        '--node-id', plan.id,
        ...(this.options.regions?.[plan.id] === undefined ? [] : ['--region', region]),
        '--seeds', seeds,
      ]
      const process = new ProcessController({ name: plan.id, command: cli.command, args, env, cwd: repoRoot, logFile })
      this.nodes.set(plan.id, {
        id: plan.id,
        region,
        clientPort: plan.clientPort,
        httpPort: plan.httpPort,
        peerPort: plan.peerPort,
        clientUrl: `nats://127.0.0.1:${plan.clientPort}`,
        adminUrl: `http://127.0.0.1:${plan.httpPort}`,
        dataDir,
        logFile,
        process,
      })
    }
  }
}

/** Starts a cluster whose teardown closes it; a failing test keeps the directory (logs, data) and prints its path. */
export async function startRailgunCluster(t: TestLike, options: RailgunClusterOptions = {}): Promise<RailgunCluster> {
  const cluster = await RailgunCluster.start(options).catch((error: unknown) => {
    t.comment(`railgun cluster failed to start: ${(error as Error).message}`)
    throw error
  })
  t.teardown(async () => {
    const keep = !t.passing()
    if (keep) t.comment(`railgun cluster kept for inspection: ${cluster.dir} (node logs: ${cluster.nodeIds.map((id) => `${id}.log`).join(', ')})`)
    await cluster.close({ keepDir: keep })
  })
  return cluster
}
