// The real thing, in one process: three cluster nodes on RocksDB (temp directories) and
// TcpTransport on 127.0.0.1. Writes through the leader converge to byte-identical state; a node
// closed and reopened from its directory catches up from the log; with compaction set low, a node
// that was down while the log was compacted catches up by snapshot.
import t from 'tap'
import type { Test } from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClusterNode } from '../../control-plane/driver/cluster-node.js'
import type { ClusterDriverTuning } from '../../control-plane/driver/cluster-node.js'
import { raftKeySpaces } from '../../control-plane/driver/raft-records.js'
import { kvGet, serialize } from '../../control-plane/cluster/index.js'
import type { ApplyResult, Command } from '../../control-plane/cluster/index.js'
import { createSilentLogger } from '../../shared/log.js'
import { openRocksStorage } from '../../shared/storage/index.js'
import type { Storage } from '../../shared/storage/index.js'
import { TcpTransport } from '../../shared/transport/index.js'
import { streamCommand as clusterStreamCommand } from '../cluster/helpers.js'
import { waitUntil } from './helpers.js'

const ids = ['1', '2', '3'] as const

interface RealNode {
  readonly id: string
  readonly directory: string
  port: number
  storage: Storage
  transport: TcpTransport
  node: ClusterNode
}

async function openNode(id: string, directory: string, port: number, tuning: ClusterDriverTuning): Promise<RealNode> {
  const storage = await openRocksStorage(directory, { keySpaces: raftKeySpaces })
  const transport = new TcpTransport({
    nodeId: id,
    clusterName: 'driver-test',
    region: 'us-east',
    listen: { host: '127.0.0.1', port },
    // Refuses peers until the ClusterNode has opened and checked its storage (it marks it ready).
    ready: false,
    heartbeatIntervalMs: 100,
    deadAfterMs: 1_000,
    backoff: { initialDelayMs: 20, maxDelayMs: 200, multiplier: 2, jitterRatio: 0.5 },
    logger: createSilentLogger(id),
  })
  const address = await transport.start()
  const node = await ClusterNode.open({ id, storage, transport, voters: [...ids], logger: createSilentLogger(id), driver: tuning })
  return { id, directory, port: address.port, storage, transport, node }
}

function connectAll(nodes: readonly RealNode[]): void {
  for (const a of nodes) for (const b of nodes) if (a.id !== b.id) a.transport.connect({ id: b.id, host: '127.0.0.1', port: b.port })
}

async function closeNode(node: RealNode): Promise<void> {
  await node.node.stop()
  await node.transport.stop()
  await node.storage.close()
}

async function startCluster(t: Test, tuning: ClusterDriverTuning): Promise<RealNode[]> {
  const root = mkdtempSync(join(tmpdir(), 'railgun-driver-tcp-'))
  const nodes: RealNode[] = []
  for (const id of ids) nodes.push(await openNode(id, join(root, `node-${id}`), 0, tuning))
  connectAll(nodes)
  t.teardown(async () => {
    for (const node of nodes) await closeNode(node).catch(() => undefined)
    rmSync(root, { recursive: true, force: true })
  })
  return nodes
}

async function leaderOf(nodes: readonly RealNode[]): Promise<RealNode> {
  let leader: RealNode | undefined
  await waitUntil(
    'a leader known to all',
    () => {
      const leaders = nodes.filter((n) => n.node.status().role === 'leader')
      leader = leaders[0]
      return leaders.length === 1 && nodes.every((n) => n.node.status().lead === leader?.id)
    },
    10_000,
  )
  return leader as RealNode
}

async function mustEnsure(t: Test, node: RealNode, command: Command): Promise<ApplyResult> {
  const result = await node.node.ensure(command)
  t.ok(result.ok, `${command.type} ok${result.ok ? '' : `: ${result.code} ${result.message}`}`)
  return result
}

const put = (key: string, value: string): Command => ({ type: 'kvPut', bucket: 'config', key, value: new TextEncoder().encode(value) })

const streamCommand: Command = clusterStreamCommand()

async function converged(nodes: readonly RealNode[]): Promise<void> {
  await waitUntil(
    'byte-identical state on every node',
    () => {
      const images = nodes.map((n) => Buffer.from(serialize(n.node.state)).toString('base64'))
      return images.every((image) => image === images[0])
    },
    10_000,
  )
}

const tuning: ClusterDriverTuning = { tickMs: 20, electionTicks: 25, heartbeatTicks: 1, proposalTimeoutMs: 5_000, readTimeoutMs: 5_000 }

t.test('three nodes on RocksDB + TCP converge; a reopened node catches up from its directory', async (t) => {
  const nodes = await startCluster(t, { ...tuning, snapshotEveryEntries: 0 })
  const leader = await leaderOf(nodes)
  await mustEnsure(t, leader, { type: 'ensureRegion', name: 'us-east' })
  const created = await mustEnsure(t, leader, streamCommand)
  t.equal(created.ok && created.outcome, 'created')
  const again = await mustEnsure(t, leader, streamCommand)
  t.equal(again.ok && again.outcome, 'unchanged', 'the same ensure twice is a no-op')
  await mustEnsure(t, leader, { type: 'ensureBucket', name: 'config', maxValueBytes: 1024 })
  for (let i = 0; i < 5; i += 1) await mustEnsure(t, leader, put(`k${i}`, `v${i}`))
  await converged(nodes)
  t.pass('converged after the first writes')

  const follower = nodes.find((n) => n.id !== leader.id)!
  const followerIndex = nodes.indexOf(follower)
  const appliedBefore = follower.node.appliedIndex()
  await closeNode(follower)
  for (let i = 5; i < 10; i += 1) await mustEnsure(t, leader, put(`k${i}`, `v${i}`))
  const reopened = await openNode(follower.id, follower.directory, follower.port, { ...tuning, snapshotEveryEntries: 0 })
  nodes[followerIndex] = reopened
  t.ok(reopened.node.appliedIndex() >= 0)
  t.equal(reopened.node.status().commit >= appliedBefore, true, 'the reopened node remembers its commit index')
  connectAll([reopened, ...nodes.filter((n) => n !== reopened)])
  await converged(nodes)
  const value = await reopened.node.read((state) => kvGet(state, 'config', 'k9'))
  t.ok(value !== undefined, 'a linearizable read on the reopened node sees the write made while it was down')
  t.equal(reopened.node.counters().snapshotsRestored, 0, 'caught up from the log (no snapshot needed)')
})

t.test('with compaction set low, a node down while the log was compacted catches up by snapshot', async (t) => {
  const nodes = await startCluster(t, { ...tuning, snapshotEveryEntries: 4 })
  const leader = await leaderOf(nodes)
  await mustEnsure(t, leader, { type: 'ensureBucket', name: 'config', maxValueBytes: 1024 })
  const follower = nodes.find((n) => n.id !== leader.id)!
  const followerIndex = nodes.indexOf(follower)
  await converged(nodes)
  const lastIndexBefore = follower.node.status().lastIndex
  await closeNode(follower)
  for (let i = 0; i < 20; i += 1) await mustEnsure(t, leader, put(`k${i}`, `v${i}`))
  t.ok(leader.node.counters().snapshotsTaken >= 4, `the leader took ${leader.node.counters().snapshotsTaken} snapshots`)
  t.ok(leader.node.status().firstIndex > lastIndexBefore + 1, 'the leader compacted past what the down node holds')
  const reopened = await openNode(follower.id, follower.directory, follower.port, { ...tuning, snapshotEveryEntries: 4 })
  nodes[followerIndex] = reopened
  connectAll([reopened, ...nodes.filter((n) => n !== reopened)])
  await converged(nodes)
  t.ok(reopened.node.counters().snapshotsRestored >= 1, 'the reopened node restored the leader\'s snapshot')
  const value = await reopened.node.read((state) => kvGet(state, 'config', 'k19'))
  t.ok(value !== undefined, 'it serves the latest write')
  // And the snapshot it installed is durable: reopen once more, without the others' help.
  await closeNode(reopened)
  const again = await openNode(follower.id, follower.directory, follower.port, { ...tuning, snapshotEveryEntries: 4 })
  nodes[followerIndex] = again
  t.ok(again.node.appliedIndex() >= 20, `restarted from its own snapshot at ${again.node.appliedIndex()}`)
  t.ok(kvGet(again.node.state, 'config', 'k10') !== undefined, 'the restored state holds the writes')
})
