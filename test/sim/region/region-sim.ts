// A region of 3 or 5 replicas of one persistent stream, in virtual time, driven by one seed:
// StreamReplicas on simulated disks and network, publishers with every ack level and producer
// ids (retries reuse them), a consumer group behind an SCC, an origin closer, and a nemesis —
// crashes (half of them mid-fsync: unsynced records lost or torn), restarts, isolations,
// splits, one-way link cuts, weather (drop/duplicate/delay, which reorders), clock skew and fsync
// latency changes (each disk 0–1, 3, 10 or 30 ms),
// SCC and closer failovers with the stale holder still running for a while. Then everything
// heals and restarts, publishers stop, and after a quiet period the checker's final checks run
// (checker.ts). The same seed replays the same run (same trace hash).
import { VirtualClock } from '../clock.js'
import { SimNetwork } from '../network.js'
import { SimRandom } from '../random.js'
import { TraceRecorder } from '../trace.js'
import { RegionChecker } from './checker.js'
import { CloserRole } from './closer.js'
import type { RegionConfig, RegionContext } from './context.js'
import { RegionControlPlane } from './control-plane.js'
import { SimPublisher } from './publishers.js'
import { RegionNode } from './region-node.js'
import { SccRole, SimConsumer } from './scc.js'
import { describeRegionWire } from './wire.js'
import type { RegionWire } from './wire.js'

export interface RegionSimOptions {
  readonly seed: number
  readonly replicas?: number
  readonly durationMs?: number
  /** Heal + restart this long before the end; publishers stop then; the rest is the quiet period. */
  readonly settleMs?: number
  readonly publishers?: number
  readonly faults?: boolean
  readonly keepTrace?: boolean
  readonly bugs?: RegionBugs
}

/** Deliberate bugs in the simulated drivers: each must be caught by the checker. */
export interface RegionBugs {
  /** The node reports a batch persisted as soon as it is written, before the fsync. */
  readonly ackBeforeSync?: boolean
  /** The closer decides on the first fence answer instead of a majority with the claimant. */
  readonly closeAnyAnswer?: boolean
  /** A replica takes any progress state it receives, even one of an older SCC term. */
  readonly staleProgressWins?: boolean
}

export interface RegionSimResult {
  readonly seed: number
  readonly traceHash: string
  readonly traceLines: readonly string[] | null
  readonly traceEvents: number
  readonly simulatedMs: number
  readonly stats: {
    readonly logicalMessages: number
    readonly acked: Readonly<Record<string, number>>
    readonly delivered: number
    readonly crashes: number
    readonly partitions: number
    readonly closes: number
    readonly sccTerms: number
    readonly closerTerms: number
    readonly staleProposals: number
    /** Anti-entropy reads of copies no longer in a replica's memory, answered from disk, and the copies they returned. */
    readonly readsServed: number
    readonly readCopiesServed: number
    readonly notices: Readonly<Record<string, number>>
  }
}

const group = 'g1'

export function runRegionSimulation(options: RegionSimOptions): RegionSimResult {
  const seed = options.seed
  const replicaCount = options.replicas ?? 3
  const durationMs = options.durationMs ?? 8_000
  const settleMs = options.settleMs ?? 3_000
  const faultsEndMs = durationMs - settleMs
  const random = SimRandom.fromSeed(seed)
  const clock = new VirtualClock()
  const trace = new TraceRecorder({ keepLines: options.keepTrace ?? false })
  const network = new SimNetwork<RegionWire>(clock, random.fork('network'), trace, {}, describeRegionWire)
  const replicaNames = Array.from({ length: replicaCount }, (_, i) => `n${i + 1}`)
  const config: RegionConfig = {
    stream: 'default/orders',
    group,
    replicaNames,
    consumerNames: ['c1', 'c2', 'c3'],
    dedupWindowMs: 2_000,
    timing: { heartbeatIntervalMs: 50, antiEntropyIntervalMs: 150, clockCeilingLeaseMs: 300, ackTimeoutMs: 1_000 },
    tickMs: 10,
    syncDelayMsChoices: [1, 3, 10, 30],
    skewMsMax: 80,
    epochMs: 1_700_000_000_000,
    ackWaitMs: 250,
    maxInFlight: 16,
    gatherMs: 60,
    replicateEveryMs: 50,
    closerResendMs: 100,
    bugs: options.bugs ?? {},
  }
  const nodes = new Map<string, RegionNode>()
  const checker = new RegionChecker(seed, () => clock.nowMs, () => [...nodes.values()])
  const controlPlane = new RegionControlPlane(replicaNames, (controller, previous, next) => checker.onTermChange(controller, previous, next))
  const ctx: RegionContext = { seed, clock, network, trace, random, syncRandom: random.fork('sync'), checker, controlPlane, config, nodes }
  for (const name of replicaNames) nodes.set(name, new RegionNode(name, ctx))
  for (const name of config.consumerNames) new SimConsumer(name, ctx)
  const publishers = Array.from({ length: options.publishers ?? 3 }, (_, i) => new SimPublisher(`p${i + 1}`, ctx, { timeoutMs: 300, attemptsMax: 4, thinkMsMax: 40, producerIdProbability: 0.7 }))

  const stats = { crashes: 0, partitions: 0 }
  const nemesisRandom = random.fork('nemesis')
  const up = (): RegionNode[] => [...nodes.values()].filter((n) => n.up)

  // Controller designations: SCC and closer. A failover designates a new holder; the old one,
  // if still up, keeps running for a while (stale) before it stops on its own.
  const designate = (controller: 'scc' | 'closer', staleRunMs: number): void => {
    const candidates = up()
    if (candidates.length === 0) return
    const holder = nemesisRandom.pick(candidates)
    const previous = controlPlane.designation(controller)
    const d = controlPlane.designate(controller, holder.name)
    trace.record(clock.nowMs, 'designate', `${controller} ${holder.name}@${d.term}`)
    const old = previous === undefined ? undefined : nodes.get(previous.holder)
    if (controller === 'scc') {
      if (old?.scc != null) old.scc.staleStopAtMs = clock.nowMs + staleRunMs
      // A node hosts one SCC: a stale one on the new holder's node is replaced at once.
      holder.scc = new SccRole(holder, ctx, d.term)
    } else {
      if (old?.closer != null) old.closer.staleStopAtMs = clock.nowMs + staleRunMs
      holder.closer = new CloserRole(holder, ctx, d.term)
    }
  }
  // The control plane notices a dead holder (as failure detection would) and designates anew.
  const watchdog = (): void => {
    for (const controller of ['scc', 'closer'] as const) {
      const d = controlPlane.designation(controller)
      const holder = d === undefined ? undefined : nodes.get(d.holder)
      const role = controller === 'scc' ? holder?.scc : holder?.closer
      if (holder === undefined || !holder.up || role == null || role.term !== d?.term || role.stopped) designate(controller, 0)
    }
    clock.schedule(100, watchdog)
  }

  const nemesis = (): void => {
    if (clock.nowMs >= faultsEndMs) return
    const all = [...nodes.values()]
    const live = up()
    const down = all.filter((n) => !n.up)
    const maxDown = Math.floor((replicaCount - 1) / 2)
    const roll = nemesisRandom.int(100)
    if (roll < 18 && down.length < maxDown) {
      const victim = nemesisRandom.pick(live)
      const downtimeMs = nemesisRandom.intBetween(50, 1_500)
      const restartLater = (): void => {
        clock.schedule(downtimeMs, () => {
          if (!victim.up) victim.start()
        })
      }
      stats.crashes++
      if (nemesisRandom.chance(0.5)) {
        victim.crashAtNextSync(restartLater)
      } else {
        victim.crash()
        restartLater()
      }
    } else if (roll < 26 && down.length > 0) {
      nemesisRandom.pick(down).start()
    } else if (roll < 40) {
      const isolated = nemesisRandom.pick(replicaNames)
      network.partition([[isolated], replicaNames.filter((n) => n !== isolated)])
      stats.partitions++
    } else if (roll < 50) {
      const shuffled = [...replicaNames]
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = nemesisRandom.int(i + 1)
        ;[shuffled[i], shuffled[j]] = [shuffled[j] as string, shuffled[i] as string]
      }
      const cut = nemesisRandom.intBetween(1, shuffled.length - 1)
      network.partition([shuffled.slice(0, cut), shuffled.slice(cut)])
      stats.partitions++
    } else if (roll < 55) {
      const from = nemesisRandom.pick(replicaNames)
      network.cutLink(from, nemesisRandom.pick(replicaNames.filter((n) => n !== from)))
    } else if (roll < 72) {
      network.heal()
    } else if (roll < 80) {
      const weather = {
        dropProbability: nemesisRandom.pick([0, 0.01, 0.05, 0.2]),
        duplicateProbability: nemesisRandom.pick([0, 0.01, 0.05]),
        delayMsMax: nemesisRandom.pick([5, 10, 30, 80]),
      }
      network.configure(weather)
      trace.record(clock.nowMs, 'weather', JSON.stringify(weather))
    } else if (roll < 88) {
      designate('scc', nemesisRandom.intBetween(0, 400))
    } else if (roll < 93) {
      designate('closer', nemesisRandom.intBetween(0, 400))
    } else {
      const node = nemesisRandom.pick(all)
      node.skewMs = nemesisRandom.intBetween(-config.skewMsMax, config.skewMsMax)
      node.syncDelayMsMax = nemesisRandom.pick(config.syncDelayMsChoices)
      trace.record(clock.nowMs, 'clock-and-disk', `${node.name} skew=${node.skewMs} fsync<=${node.syncDelayMsMax}`)
    }
    clock.schedule(nemesisRandom.intBetween(150, 900), nemesis)
  }

  for (const node of nodes.values()) node.start()
  designate('closer', 0)
  designate('scc', 0)
  clock.schedule(100, watchdog)
  for (const p of publishers) p.start()
  if (options.faults ?? true) clock.schedule(nemesisRandom.intBetween(100, 500), nemesis)
  clock.schedule(faultsEndMs, () => {
    trace.record(clock.nowMs, 'settle', 'heal, restart all, stop publishers')
    network.heal()
    network.configure({ dropProbability: 0, duplicateProbability: 0, delayMsMax: 10 })
    for (const node of nodes.values()) {
      node.disarm()
      if (!node.up) node.start()
    }
    for (const p of publishers) p.stop()
  })
  clock.runUntil(durationMs)

  const history = publishers.flatMap((p) => p.history)
  const producerIds = new Set(history.filter((m) => m.producerId).map((m) => m.key))
  const scc = nodes.get(controlPlane.designation('scc')?.holder ?? '')?.scc
  checker.checkFinal(controlPlane.decisions(), config.dedupWindowMs, producerIds, scc?.caughtUp() === true && scc.node.log.length === checker.deliveredLength)
  const acked: Record<string, number> = { write: 0, majority: 0, all: 0 }
  for (const a of checker.acked.values()) acked[a.level] = (acked[a.level] ?? 0) + 1
  return {
    seed,
    traceHash: trace.hash(),
    traceLines: trace.lines,
    traceEvents: trace.count,
    simulatedMs: durationMs,
    stats: {
      logicalMessages: history.length,
      acked,
      delivered: checker.deliveredLength,
      crashes: stats.crashes,
      partitions: stats.partitions,
      closes: controlPlane.decisions().length,
      sccTerms: controlPlane.designation('scc')?.term ?? 0,
      closerTerms: controlPlane.designation('closer')?.term ?? 0,
      staleProposals: controlPlane.staleProposals,
      readsServed: [...nodes.values()].reduce((n, node) => n + node.readsServed, 0),
      readCopiesServed: [...nodes.values()].reduce((n, node) => n + node.readCopiesServed, 0),
      notices: Object.fromEntries(checker.noticeCounts),
    },
  }
}
