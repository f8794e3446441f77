// A whole Raft cluster in one process, in virtual time: N servers (SimRaftNode), KV clients, a
// simulated network and disks, and a nemesis that crashes and restarts servers, partitions and
// heals the network, cuts single links and changes the network's weather. One seed drives it
// all; the same seed replays the same run (same trace hash).
//
// While it runs, RaftInvariants checks Raft's safety properties on every event and throws
// SimViolation (with the seed) on the first breach. At the end, the clients' history is
// checked for linearizability.

import type { ConfState, NodeId } from '../../control-plane/raft/index.js'
import { checkLinearizable, kvModel } from '../lincheck/index.js'
import type { CheckResult, KvInput, KvOutput } from '../lincheck/index.js'
import { VirtualClock } from './clock.js'
import { SimKvClient } from './kv-clients.js'
import type { KvOperation } from './kv-clients.js'
import { SimNetwork } from './network.js'
import { SimRandom } from './random.js'
import { RaftInvariants } from './raft-invariants.js'
import type { DurableLogView } from './raft-invariants.js'
import { SimRaftNode } from './raft-sim-node.js'
import type { SimNodeConfig } from './raft-sim-node.js'
import { describeWire } from './raft-wire.js'
import type { SimWireMessage } from './raft-wire.js'
import { TraceRecorder } from './trace.js'

export interface RaftSimOptions {
  readonly seed: number
  readonly nodes?: number
  /** Simulated run length; faults and new client operations stop `settleMs` before it. */
  readonly durationMs?: number
  readonly settleMs?: number
  readonly clients?: number
  readonly keys?: number
  readonly faults?: boolean
  readonly snapshotEveryEntries?: number
  /**
   * Snapshot right after applying a conf change (default false). It was the workaround for a
   * core livelock (a new voter refusing a snapshot that predates its addition) fixed in ec79b13;
   * off, the simulation exercises that fix.
   */
  readonly snapshotAfterConfChange?: boolean
  readonly bugs?: { readonly followerStaleReads?: boolean; readonly sendBeforeSync?: boolean }
  /** Add and remove voters one at a time (spare servers start outside the configuration). */
  readonly membershipChanges?: boolean
  /** Servers beyond the initial voters (default 2 with membership changes, else 0). */
  readonly spareNodes?: number
  readonly keepTrace?: boolean
  /** Budget for the linearizability check, in search steps. */
  readonly checkStepsMax?: number
}

export interface RaftSimResult {
  readonly seed: number
  readonly traceHash: string
  readonly traceLines: readonly string[] | null
  readonly traceEvents: number
  readonly simulatedMs: number
  readonly history: readonly KvOperation[]
  readonly linearizability: CheckResult<KvInput, KvOutput>
  readonly stats: {
    readonly operationsOk: number
    readonly operationsUnknown: number
    readonly committedEntries: number
    readonly leaderTerms: number
    readonly crashes: number
    readonly partitions: number
    /** At the end (after healing): every voter up, one leader, all applied up to its commit. */
    readonly converged: boolean
  }
}

const durabilityCheckEveryMs = 250
/**
 * Search budget of the linearizability check. 2M steps left 1 of 10,000 seeds unchecked (seed
 * 8426, which checks linearizable with a larger budget); most histories need far fewer.
 */
const checkStepsMaxDefault = 50_000_000
const clientsStopBeforeEndMs = 700

export function runRaftSimulation(options: RaftSimOptions): RaftSimResult {
  const seed = options.seed
  const nodeCount = options.nodes ?? 3
  const durationMs = options.durationMs ?? 8_000
  const settleMs = options.settleMs ?? 2_000
  const faultsEndMs = durationMs - settleMs
  const random = SimRandom.fromSeed(seed)
  const clock = new VirtualClock()
  const trace = new TraceRecorder({ keepLines: options.keepTrace ?? false })
  const network = new SimNetwork<SimWireMessage>(clock, random.fork('network'), trace, {}, describeWire)
  const membershipChanges = options.membershipChanges ?? false
  const spareCount = options.spareNodes ?? (membershipChanges ? 2 : 0)
  const nodeIds: NodeId[] = Array.from({ length: nodeCount + spareCount }, (_, i) => String(i + 1))
  // Every server, spares included, knows the genesis configuration (like etcd's bootstrap
  // entries): genesis plus the log's conf changes is the configuration at every index.
  const initialConfState: ConfState = { voters: nodeIds.slice(0, nodeCount), learners: [], votersOutgoing: [] }
  const invariants = new RaftInvariants(seed, () => clock.nowMs, initialConfState)
  const nodeConfig: SimNodeConfig = {
    tickMs: 10,
    electionTicks: 10,
    heartbeatTicks: 2,
    syncDelayMsMax: 3,
    snapshotEveryEntries: options.snapshotEveryEntries ?? 25,
    snapshotAfterConfChange: options.snapshotAfterConfChange ?? false,
    inboxMax: 10_000,
    pendingRequestsMax: 1_000,
    bugs: {
      followerStaleReads: options.bugs?.followerStaleReads ?? false,
      sendBeforeSync: options.bugs?.sendBeforeSync ?? false,
    },
  }
  const nodes = nodeIds.map(
    (id) =>
      new SimRaftNode(id, nodeConfig, {
        seed,
        clock,
        network,
        trace,
        invariants,
        random: random.fork(`node-${id}`),
        initialConfState,
      }),
  )
  const keys = Array.from({ length: options.keys ?? 2 }, (_, i) => `k${i}`)
  const clients = Array.from(
    { length: options.clients ?? 4 },
    (_, i) =>
      new SimKvClient(
        `c${i + 1}`,
        nodeIds,
        { keys, requestTimeoutMs: 500, thinkTimeMsMax: 30, operationsMax: 10_000 },
        clock,
        network,
        random.fork(`client-${i + 1}`),
        trace,
      ),
  )

  const checkDurability = (): void => {
    const logs = new Map<NodeId, DurableLogView>(nodes.map((node) => [node.id, node.durableLog()]))
    invariants.checkDurability(logs)
  }
  const everyDurabilityCheck = (): void => {
    checkDurability()
    if (clock.nowMs + durabilityCheckEveryMs < durationMs) clock.schedule(durabilityCheckEveryMs, everyDurabilityCheck)
  }

  const stats = { crashes: 0, partitions: 0 }
  const nemesisRandom = random.fork('nemesis')
  const votersMin = 3
  const nemesis = (): void => {
    if (clock.nowMs >= faultsEndMs) return
    const up = nodes.filter((node) => node.isUp)
    const down = nodes.filter((node) => !node.isUp)
    // Keep a majority of the configuration up: safety does not need it, but progress does.
    const voters = invariants.latestCommittedConfig.voters
    const votersDown = down.filter((node) => voters.includes(node.id)).length
    const maxVotersDown = Math.floor((voters.length - 1) / 2)
    const roll = nemesisRandom.int(100)
    if (membershipChanges && roll >= 90 && roll < 96) {
      const leader = up.find((node) => node.status()?.role === 'leader')
      const current = leader?.status()?.confState.voters ?? []
      const outside = nodeIds.filter((id) => !current.includes(id))
      if (leader !== undefined && outside.length > 0 && (current.length <= votersMin || nemesisRandom.chance(0.5))) {
        leader.proposeConfChange({ kind: 'addVoter', nodeId: nemesisRandom.pick(outside) })
      } else if (leader !== undefined && current.length > votersMin) {
        leader.proposeConfChange({ kind: 'removeNode', nodeId: nemesisRandom.pick(current) })
      }
    } else if (roll < 20 && votersDown < maxVotersDown) {
      const victim = nemesisRandom.pick(up)
      const downtimeMs = nemesisRandom.intBetween(50, 1_500)
      const restartLater = (): void => {
        checkDurability() // right after the crash: what survived on disk must still hold every commit
        clock.schedule(downtimeMs, () => {
          if (!victim.isUp) victim.start()
        })
      }
      stats.crashes++
      // Half the crashes strike mid-fsync, so unsynced writes are lost or torn.
      if (nemesisRandom.chance(0.5)) {
        victim.crashAtNextSync(restartLater)
      } else {
        victim.crash()
        restartLater()
      }
    } else if (roll < 30 && down.length > 0) {
      nemesisRandom.pick(down).start()
    } else if (roll < 50) {
      // Isolate one server (often a follower that clients still reach: stale-read bait).
      const isolated = nemesisRandom.pick(nodeIds)
      network.partition([[isolated], nodeIds.filter((id) => id !== isolated)])
      stats.partitions++
    } else if (roll < 60) {
      const shuffled = [...nodeIds]
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = nemesisRandom.int(i + 1)
        ;[shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!]
      }
      const cut = nemesisRandom.intBetween(1, shuffled.length - 1)
      network.partition([shuffled.slice(0, cut), shuffled.slice(cut)])
      stats.partitions++
    } else if (roll < 65) {
      const from = nemesisRandom.pick(nodeIds)
      const to = nemesisRandom.pick(nodeIds.filter((id) => id !== from))
      network.cutLink(from, to)
    } else if (roll < 85) {
      network.heal()
    } else if (roll < 90) {
      const leader = up.find((node) => node.status()?.role === 'leader')
      const voters = leader?.status()?.confState.voters.filter((id) => id !== leader.id) ?? []
      if (leader !== undefined && voters.length > 0) leader.transferLeadership(nemesisRandom.pick(voters))
    } else {
      const weather = {
        dropProbability: nemesisRandom.pick([0, 0.01, 0.05, 0.2]),
        duplicateProbability: nemesisRandom.pick([0, 0.01, 0.05]),
        delayMsMax: nemesisRandom.pick([5, 10, 30, 80]),
      }
      network.configure(weather)
      trace.record(clock.nowMs, 'weather', JSON.stringify(weather))
    }
    clock.schedule(nemesisRandom.intBetween(150, 900), nemesis)
  }

  for (const node of nodes) node.start()
  for (const client of clients) client.start()
  if (options.faults ?? true) clock.schedule(nemesisRandom.intBetween(100, 500), nemesis)
  clock.schedule(durabilityCheckEveryMs, everyDurabilityCheck)
  clock.schedule(faultsEndMs, () => {
    trace.record(clock.nowMs, 'settle', 'heal, restart all, stop clients')
    network.heal()
    network.configure({ dropProbability: 0, duplicateProbability: 0, delayMsMax: 10 })
    for (const node of nodes) {
      node.disarm()
      if (!node.isUp) node.start()
    }
  })
  // Clients keep going a while after the heal, so reads also run against the settled cluster.
  clock.schedule(durationMs - clientsStopBeforeEndMs, () => {
    for (const client of clients) client.stop()
  })
  clock.runUntil(durationMs)
  checkDurability()
  const finalVoters = invariants.latestCommittedConfig.voters.map((id) => nodes.find((node) => node.id === id))
  const statuses = finalVoters.map((node) => node?.status() ?? null)
  const leaders = statuses.filter((status) => status?.role === 'leader')
  const converged =
    leaders.length === 1 && statuses.every((status) => status !== null && status.applied === leaders[0]!.commit)
  for (const client of clients) client.abandon()

  const history = clients.flatMap((client) => client.history)
  // A read with an unknown outcome changes nothing and constrains nothing: leaving it out is
  // exact, and it spares the search a branch per such read.
  const checked = history.filter((op) => !(op.input.kind === 'get' && op.returnMs === undefined))
  const linearizability = checkLinearizable(kvModel, checked, { stepsMax: options.checkStepsMax ?? checkStepsMaxDefault })
  return {
    seed,
    traceHash: trace.hash(),
    traceLines: trace.lines,
    traceEvents: trace.count,
    simulatedMs: durationMs,
    history,
    linearizability,
    stats: {
      operationsOk: history.filter((op) => op.returnMs !== undefined).length,
      operationsUnknown: history.filter((op) => op.returnMs === undefined).length,
      committedEntries: invariants.committedCount,
      leaderTerms: invariants.leaderTermsCount,
      ...stats,
      converged,
    },
  }
}
