// Test machinery for real clusters in one process: `railgun server` nodes started with
// `startNode` on 127.0.0.1, RocksDB in temp directories, reserved peer ports (so every node can
// be given the same seed list before any starts), short Raft timings. Bounded waits only.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { configWith } from '../../shared/config/index.js'
import type { NodeConfig } from '../../shared/config/index.js'
import { startNode } from '../../server/node.js'
import type { RunningNode } from '../../server/node.js'
import type { ClusterRuntime, ResolveSrv } from '../../server/cluster/index.js'
import { reservePort } from '../../server/cluster/reserve-port.js'

/** Short timings: elections after 300-600 ms, so a busy machine does not depose leaders too often. */
export const testClusterTimings = { tickMs: 20, electionTicks: 15, snapshotEveryEntries: 0, deadAfterMs: 10_000 } as const

export interface NodePlan {
  readonly name: string
  readonly dataDir: string
  readonly peerPort: number
  /** Fixed client and admin ports, so a restarted node publishes the same addresses. */
  readonly clientPort: number
  readonly httpPort: number
  readonly cluster: Partial<NodeConfig['cluster']>
}

export class TestCluster {
  readonly running = new Map<string, RunningNode>()

  constructor(readonly root: string) {}

  async plan(name: string, cluster: Partial<NodeConfig['cluster']> = {}): Promise<NodePlan> {
    const [peerPort, clientPort, httpPort] = [await reservePort('127.0.0.1'), await reservePort('127.0.0.1'), await reservePort('127.0.0.1')]
    return { name, dataDir: join(this.root, name), peerPort, clientPort, httpPort, cluster }
  }

  async start(plan: NodePlan, overrides: Partial<NodeConfig['cluster']> = {}, resolveSrv?: ResolveSrv): Promise<RunningNode> {
    const config = configWith({
      server: { host: '127.0.0.1', port: plan.clientPort, httpPort: plan.httpPort, name: plan.name },
      storage: { dataDir: plan.dataDir },
      cluster: { ...testClusterTimings, peerPort: plan.peerPort, ...plan.cluster, ...overrides },
    })
    const node = await startNode({ config, ...(resolveSrv === undefined ? {} : { resolveSrv }) })
    this.running.set(plan.name, node)
    return node
  }

  async stop(name: string): Promise<void> {
    const node = this.running.get(name)
    this.running.delete(name)
    await node?.close()
  }

  async closeAll(): Promise<void> {
    for (const name of [...this.running.keys()]) await this.stop(name).catch(() => undefined)
    rmSync(this.root, { recursive: true, force: true })
  }
}

export function testCluster(t: Test): TestCluster {
  const cluster = new TestCluster(mkdtempSync(join(tmpdir(), 'railgun-cluster-')))
  t.teardown(() => cluster.closeAll())
  return cluster
}

export function runtimeOf(node: RunningNode): ClusterRuntime {
  const runtime = node.cluster()
  if (runtime === undefined) throw new Error(`node ${node.config.server.name} has no control plane`)
  return runtime
}

export async function waitFor(what: string, predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Waits until exactly one of `nodes` leads and all of them name it; returns it. */
export async function waitForLeader(nodes: readonly RunningNode[], timeoutMs = 15_000): Promise<RunningNode> {
  let leader: RunningNode | undefined
  await waitFor(
    'one leader known to all',
    () => {
      const leaders = nodes.filter((node) => runtimeOf(node).isLeader())
      leader = leaders[0]
      return leaders.length === 1 && nodes.every((node) => runtimeOf(node).leader() === runtimeOf(leaders[0] as RunningNode).nodeId)
    },
    timeoutMs,
  )
  return leader as RunningNode
}
