// A stream placed in 2 or 3 regions of 3 (or 5) replicas each, in virtual time, driven by one
// seed. Each region is test/sim/region's machinery unchanged — RegionNodes (StreamReplicas on
// simulated disks), its own network, control plane, origin closer, SCC and consumers, publishers
// with every ack level and producer ids — and the regions are joined by cross-region shipping
// (node-shipping.ts) on a network of their own. Twin publishers write the same producer id in
// two regions inside the window.
//
// Nemesis (every 100–600 ms for the first durationMs − settleMs): in one region, what the region
// simulation does (crash — half of them mid-fsync — restart, isolate, split, cut a link, heal,
// weather, clock skew and fsync latency, SCC / closer / shipper failover with the stale holder
// running on); or between regions: cut a region off, split all regions apart, cut one direction,
// heal, weather (drop up to 20%, duplicate up to 5%, delay up to 400 ms). Then everything heals
// and restarts, publishers stop, and after the quiet period the checks run: each region's
// (checker.ts: DESIGN §4 1–4 and 7, and its group sequence), then across regions
// (cross-region-checks.ts: no gap, convergence, once per group in each region).
import { VirtualClock } from '../clock.js'
import { SimNetwork } from '../network.js'
import { SimRandom } from '../random.js'
import { TraceRecorder } from '../trace.js'
import { CloserRole } from '../region/closer.js'
import type { RegionConfig, RegionContext } from '../region/context.js'
import { RegionControlPlane } from '../region/control-plane.js'
import type { LogicalMessage } from '../region/publishers.js'
import { SimPublisher } from '../region/publishers.js'
import { RegionNode } from '../region/region-node.js'
import { SccRole, SimConsumer } from '../region/scc.js'
import { describeRegionWire } from '../region/wire.js'
import type { RegionWire } from '../region/wire.js'
import { MultiRegionChecker } from './checker.js'
import type { MultiRegionBugs, MultiRegionConfig, MultiRegionContext, RegionStack } from './context.js'
import { checkCrossRegion } from './cross-region-checks.js'
import { NodeShipping } from './node-shipping.js'
import { TwinPublisher } from './twin-publisher.js'
import { describeShipWire } from './wire.js'
import type { ShipWire } from './wire.js'

export interface MultiRegionSimOptions {
  readonly seed: number
  /** 2 or 3. */
  readonly regions?: number
  readonly replicas?: number
  readonly durationMs?: number
  /** Heal + restart this long before the end; publishers stop then; the rest is the quiet period. */
  readonly settleMs?: number
  readonly publishersPerRegion?: number
  readonly twinPublishers?: number
  readonly faults?: boolean
  readonly keepTrace?: boolean
  readonly bugs?: MultiRegionBugs
}

export interface MultiRegionSimResult {
  readonly seed: number
  readonly traceHash: string
  readonly traceLines: readonly string[] | null
  readonly traceEvents: number
  readonly simulatedMs: number
  readonly stats: {
    readonly logicalMessages: number
    readonly acked: number
    readonly logicalEvents: number
    readonly groupDeliveries: Readonly<Record<string, number>>
    readonly twinMessages: number
    readonly twinsAckedInBoth: number
    readonly eventsShipped: number
    readonly eventsResent: number
    readonly duplicatesDropped: number
    readonly resendsDropped: number
    readonly crashes: number
    readonly regionPartitions: number
    readonly interRegionPartitions: number
    readonly shipperTerms: number
    /** Shipper designations beyond the first of each link (nemesis failovers, watchdog). */
    readonly shipperFailovers: number
    readonly lagMax: Readonly<Record<string, { readonly events: number; readonly ms: number }>>
  }
}

export const regionNames = ['east', 'west', 'south'] as const
const group = 'g1'

export function runMultiRegionSimulation(options: MultiRegionSimOptions): MultiRegionSimResult {
  const seed = options.seed
  const regionCount = options.regions ?? 3
  if (regionCount < 2 || regionCount > regionNames.length) throw new RangeError(`multi-region simulation: 2..${regionNames.length} regions, got ${regionCount}`)
  const replicaCount = options.replicas ?? 3
  const durationMs = options.durationMs ?? 10_000
  const settleMs = options.settleMs ?? 4_000
  const faultsEndMs = durationMs - settleMs
  const random = SimRandom.fromSeed(seed)
  const clock = new VirtualClock()
  const trace = new TraceRecorder({ keepLines: options.keepTrace ?? false })
  const calmShipWeather = { dropProbability: 0, duplicateProbability: 0, delayMsMin: 15, delayMsMax: 60 }
  const shipNetwork = new SimNetwork<ShipWire>(clock, random.fork('ship-network'), trace, { ...calmShipWeather, dropProbability: 0.01, duplicateProbability: 0.01 }, describeShipWire)
  const regions: readonly string[] = regionNames.slice(0, regionCount)
  const config: MultiRegionConfig = {
    stream: 'default/orders',
    regions,
    dedupWindowMs: 2_000,
    shipTickMs: 10,
    shipBatchEventsMax: 64,
    shipWindowBatches: 4,
    shipperTiming: { ackTimeoutMs: 1_500, resolveTimeoutMs: 400, backoffMsMin: 20, backoffMsMax: 400 },
    receiverPublishTimeoutMs: 1_200,
    staleShipperMsMax: 400,
    bugs: options.bugs ?? {},
  }
  const stacks = new Map<string, RegionStack>()
  const regionOf = new Map<string, string>()
  const ctx: MultiRegionContext = { seed, clock, trace, random, shipNetwork, config, regionOf, regions: stacks }
  const nemesisRandom = random.fork('nemesis')
  const regionOffsetMs = new Map(regions.map((r) => [r, random.fork(`offset-${r}`).intBetween(-150, 150)] as const))

  for (const name of regions) {
    const regionRandom = random.fork(`region-${name}`)
    const replicaNames = Array.from({ length: replicaCount }, (_, i) => `${name}${i + 1}`)
    const nodes = new Map<string, RegionNode>()
    const checker = new MultiRegionChecker(seed, name, () => clock.nowMs, () => [...nodes.values()])
    const controlPlane = new RegionControlPlane(replicaNames, (controller, previous, next) => checker.onTermChange(`${name}/${controller}`, previous, next))
    const regionConfig: RegionConfig = {
      stream: config.stream,
      group,
      replicaNames,
      consumerNames: [1, 2, 3].map((i) => `${name}-c${i}`),
      // RegionDedup applies the stream's window (in source time) after the region's order.
      dedupWindowMs: 0,
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
      bugs: {},
    }
    const network = new SimNetwork<RegionWire>(clock, regionRandom.fork('network'), trace, {}, describeRegionWire)
    const regionCtx: RegionContext = { seed, clock, network, trace, random: regionRandom, syncRandom: regionRandom.fork('sync'), checker, controlPlane, config: regionConfig, nodes }
    const stack: RegionStack = { name, ctx: regionCtx, checker, shipping: new Map(), publishers: [] }
    stacks.set(name, stack)
    for (const nodeName of replicaNames) {
      regionOf.set(nodeName, name)
      const node = new RegionNode(nodeName, regionCtx)
      node.skewMs += regionOffsetMs.get(name) ?? 0
      nodes.set(nodeName, node)
      stack.shipping.set(nodeName, new NodeShipping(node, stack, ctx))
    }
    checker.tap = {
      onStart: (node) => stack.shipping.get(node.name)?.onStart(),
      onDelivery: (node, event) => stack.shipping.get(node.name)?.onDelivery(event),
      onAck: (node, publishId) => stack.shipping.get(node.name)?.onAck(publishId),
    }
    for (const consumer of regionConfig.consumerNames) new SimConsumer(consumer, regionCtx)
    // Publishers are told the stream's window (their retries stay inside it).
    const publisherCtx: RegionContext = { ...regionCtx, config: { ...regionConfig, dedupWindowMs: config.dedupWindowMs } }
    for (let i = 1; i <= (options.publishersPerRegion ?? 2); i++) {
      stack.publishers.push(new SimPublisher(`${name}-p${i}`, publisherCtx, { timeoutMs: 300, attemptsMax: 4, thinkMsMax: 60, producerIdProbability: 0.7 }))
    }
  }
  const twins = Array.from({ length: options.twinPublishers ?? 1 }, (_, i) => new TwinPublisher(`twin${i + 1}`, ctx, { timeoutMs: 300, attemptsMax: 4, thinkMsMax: 80, secondRegionDelayMsMax: config.dedupWindowMs / 8 }))

  const stats = { crashes: 0, regionPartitions: 0, interRegionPartitions: 0 }
  const allStacks = [...stacks.values()]
  const up = (stack: RegionStack): RegionNode[] => [...stack.ctx.nodes.values()].filter((n) => n.up)
  const shippingOf = (stack: RegionStack, node: RegionNode): NodeShipping => stack.shipping.get(node.name) as NodeShipping
  const shipControllers = (stack: RegionStack): string[] => regions.filter((r) => r !== stack.name).map((r) => `ship:${r}`)

  // Designations: SCC, closer and one shipper per destination region, per region.
  const designate = (stack: RegionStack, controller: string, staleRunMs: number): void => {
    const candidates = up(stack)
    if (candidates.length === 0) return
    const holder = nemesisRandom.pick(candidates)
    const cp = stack.ctx.controlPlane
    const previous = cp.designation(controller)
    const d = cp.designate(controller, holder.name)
    trace.record(clock.nowMs, 'designate', `${stack.name}/${controller} ${holder.name}@${d.term}`)
    const old = previous === undefined ? undefined : stack.ctx.nodes.get(previous.holder)
    if (controller === 'scc') {
      if (old?.scc != null) old.scc.staleStopAtMs = clock.nowMs + staleRunMs
      holder.scc = new SccRole(shippingOf(stack, holder).groupHost, stack.ctx, d.term)
    } else if (controller === 'closer') {
      if (old?.closer != null) old.closer.staleStopAtMs = clock.nowMs + staleRunMs
      holder.closer = new CloserRole(holder, stack.ctx, d.term)
    } else {
      const dest = controller.slice('ship:'.length)
      if (old !== undefined && old !== holder) shippingOf(stack, old).markStale(dest, clock.nowMs + staleRunMs)
      shippingOf(stack, holder).designateShipper(dest, d.term)
    }
  }
  // The control plane notices a dead holder (failure detection) and designates anew.
  const watchdog = (): void => {
    for (const stack of allStacks) {
      for (const controller of ['scc', 'closer', ...shipControllers(stack)]) {
        const d = stack.ctx.controlPlane.designation(controller)
        const holder = d === undefined ? undefined : stack.ctx.nodes.get(d.holder)
        let alive = false
        if (holder !== undefined && holder.up && d !== undefined) {
          if (controller === 'scc') alive = holder.scc != null && holder.scc.term === d.term && !holder.scc.stopped
          else if (controller === 'closer') alive = holder.closer != null && holder.closer.term === d.term && !holder.closer.stopped
          else alive = shippingOf(stack, holder).shipperFor(controller.slice('ship:'.length))?.term === d.term
        }
        if (!alive) designate(stack, controller, 0)
      }
    }
    clock.schedule(100, watchdog)
  }

  const crash = (stack: RegionStack, node: RegionNode, restartAfterMs: number): void => {
    const restartLater = (): void => {
      clock.schedule(restartAfterMs, () => {
        if (!node.up) node.start()
      })
    }
    stats.crashes++
    if (nemesisRandom.chance(0.5)) {
      node.crashAtNextSync(() => {
        shippingOf(stack, node).onCrash()
        restartLater()
      })
    } else {
      node.crash()
      shippingOf(stack, node).onCrash()
      restartLater()
    }
  }

  const regionFault = (stack: RegionStack): void => {
    const all = [...stack.ctx.nodes.values()]
    const live = up(stack)
    const down = all.filter((n) => !n.up)
    const names = stack.ctx.config.replicaNames
    const network = stack.ctx.network
    const roll = nemesisRandom.int(100)
    if (roll < 16 && down.length < Math.floor((replicaCount - 1) / 2)) {
      crash(stack, nemesisRandom.pick(live), nemesisRandom.intBetween(50, 1_500))
    } else if (roll < 24 && down.length > 0) {
      nemesisRandom.pick(down).start()
    } else if (roll < 36) {
      const isolated = nemesisRandom.pick(names)
      network.partition([[isolated], names.filter((n) => n !== isolated)])
      stats.regionPartitions++
    } else if (roll < 44) {
      const shuffled = [...names]
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = nemesisRandom.int(i + 1)
        ;[shuffled[i], shuffled[j]] = [shuffled[j] as string, shuffled[i] as string]
      }
      const cut = nemesisRandom.intBetween(1, shuffled.length - 1)
      network.partition([shuffled.slice(0, cut), shuffled.slice(cut)])
      stats.regionPartitions++
    } else if (roll < 49) {
      const from = nemesisRandom.pick(names)
      network.cutLink(from, nemesisRandom.pick(names.filter((n) => n !== from)))
    } else if (roll < 64) {
      network.heal()
    } else if (roll < 71) {
      const weather = { dropProbability: nemesisRandom.pick([0, 0.01, 0.05, 0.2]), duplicateProbability: nemesisRandom.pick([0, 0.01, 0.05]), delayMsMax: nemesisRandom.pick([5, 10, 30, 80]) }
      network.configure(weather)
      trace.record(clock.nowMs, 'weather', `${stack.name} ${JSON.stringify(weather)}`)
    } else if (roll < 78) {
      designate(stack, 'scc', nemesisRandom.intBetween(0, 400))
    } else if (roll < 82) {
      designate(stack, 'closer', nemesisRandom.intBetween(0, 400))
    } else if (roll < 92) {
      designate(stack, nemesisRandom.pick(shipControllers(stack)), nemesisRandom.intBetween(0, config.staleShipperMsMax))
    } else {
      const node = nemesisRandom.pick(all)
      node.skewMs = (regionOffsetMs.get(stack.name) ?? 0) + nemesisRandom.intBetween(-stack.ctx.config.skewMsMax, stack.ctx.config.skewMsMax)
      node.syncDelayMsMax = nemesisRandom.pick(stack.ctx.config.syncDelayMsChoices)
      trace.record(clock.nowMs, 'clock-and-disk', `${node.name} skew=${node.skewMs} fsync<=${node.syncDelayMsMax}`)
    }
  }

  const nodesOf = (stack: RegionStack): string[] => [...stack.ctx.config.replicaNames]
  const interRegionFault = (): void => {
    const roll = nemesisRandom.int(100)
    if (roll < 35) {
      const cutOff = nemesisRandom.pick(allStacks)
      shipNetwork.partition([nodesOf(cutOff), allStacks.filter((s) => s !== cutOff).flatMap(nodesOf)])
      stats.interRegionPartitions++
    } else if (roll < 45) {
      shipNetwork.partition(allStacks.map(nodesOf))
      stats.interRegionPartitions++
    } else if (roll < 60) {
      const from = nemesisRandom.pick(allStacks)
      const to = nemesisRandom.pick(allStacks.filter((s) => s !== from))
      for (const a of nodesOf(from)) for (const b of nodesOf(to)) shipNetwork.cutLink(a, b)
      stats.interRegionPartitions++
    } else if (roll < 85) {
      shipNetwork.heal()
    } else {
      const weather = { dropProbability: nemesisRandom.pick([0, 0.01, 0.05, 0.2]), duplicateProbability: nemesisRandom.pick([0, 0.01, 0.05]), delayMsMax: nemesisRandom.pick([60, 150, 400]) }
      shipNetwork.configure(weather)
      trace.record(clock.nowMs, 'weather', `between regions ${JSON.stringify(weather)}`)
    }
  }

  const nemesis = (): void => {
    if (clock.nowMs >= faultsEndMs) return
    if (nemesisRandom.chance(0.7)) regionFault(nemesisRandom.pick(allStacks))
    else interRegionFault()
    clock.schedule(nemesisRandom.intBetween(100, 600), nemesis)
  }

  for (const stack of allStacks) for (const node of stack.ctx.nodes.values()) node.start()
  for (const stack of allStacks) for (const controller of ['closer', 'scc', ...shipControllers(stack)]) designate(stack, controller, 0)
  clock.schedule(100, watchdog)
  for (const stack of allStacks) for (const p of stack.publishers) p.start()
  for (const twin of twins) twin.start()
  if (options.faults ?? true) clock.schedule(nemesisRandom.intBetween(100, 500), nemesis)
  clock.schedule(faultsEndMs, () => {
    trace.record(clock.nowMs, 'settle', 'heal, restart all, stop publishers')
    shipNetwork.heal()
    shipNetwork.configure(calmShipWeather)
    for (const stack of allStacks) {
      stack.ctx.network.heal()
      stack.ctx.network.configure({ dropProbability: 0, duplicateProbability: 0, delayMsMax: 10 })
      for (const node of stack.ctx.nodes.values()) {
        node.disarm()
        if (!node.up) node.start()
      }
      for (const p of stack.publishers) p.stop()
    }
    for (const twin of twins) twin.stop()
  })
  clock.runUntil(durationMs)

  // The checks: each region's own, then across regions.
  for (const stack of allStacks) {
    const scc = stack.ctx.nodes.get(stack.ctx.controlPlane.designation('scc')?.holder ?? '')?.scc
    stack.checker.checkFinalRegion(stack.ctx.controlPlane.decisions(), scc?.caughtUp() === true && scc.node.log.length === stack.checker.groupLength)
  }
  const messages: LogicalMessage[] = [...allStacks.flatMap((s) => s.publishers.flatMap((p) => p.history)), ...twins.flatMap((t) => t.history)]
  const cross = checkCrossRegion(ctx, messages)

  let eventsShipped = 0
  let eventsResent = 0
  let duplicatesDropped = 0
  let resendsDropped = 0
  const lagMax: Record<string, { events: number; ms: number }> = {}
  for (const stack of allStacks) {
    const first = [...stack.shipping.values()][0]
    duplicatesDropped += first?.dedup.stats.duplicates ?? 0
    resendsDropped += first?.dedup.stats.resends ?? 0
    for (const shipping of stack.shipping.values()) {
      const totals = shipping.currentTotals()
      eventsShipped += totals.eventsShipped
      eventsResent += totals.eventsResent
      for (const [link, lag] of shipping.lagMax) {
        const known = lagMax[link] ?? { events: 0, ms: 0 }
        lagMax[link] = { events: Math.max(known.events, lag.events), ms: Math.max(known.ms, lag.ms) }
      }
    }
  }
  return {
    seed,
    traceHash: trace.hash(),
    traceLines: trace.lines,
    traceEvents: trace.count,
    simulatedMs: durationMs,
    stats: {
      logicalMessages: messages.length,
      acked: allStacks.reduce((n, s) => n + s.checker.acked.size, 0),
      logicalEvents: cross.logicalEvents,
      groupDeliveries: cross.groupDeliveries,
      twinMessages: cross.twinMessages,
      twinsAckedInBoth: cross.twinsAckedInBoth,
      eventsShipped,
      eventsResent,
      duplicatesDropped,
      resendsDropped,
      crashes: stats.crashes,
      regionPartitions: stats.regionPartitions,
      interRegionPartitions: stats.interRegionPartitions,
      shipperTerms: allStacks.reduce((n, s) => n + shipControllers(s).reduce((m, c) => m + (s.ctx.controlPlane.designation(c)?.term ?? 0), 0), 0),
      shipperFailovers: allStacks.reduce((n, s) => n + shipControllers(s).reduce((m, c) => m + (s.ctx.controlPlane.designation(c)?.term ?? 1) - 1, 0), 0),
      lagMax,
    },
  }
}
