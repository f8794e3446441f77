// Cross-region shipping on this node (issue #6; DESIGN §3.2.5): the driver of the pure core in
// data-plane/persistent/shipping, as its README "Wiring" asks, on real engines and the peer
// transport's `ship` channel. Its model is the simulator's per-node driver
// (test/sim/multi-region/node-shipping.ts); this one reads a durable log instead of memory.
//
// For every persistent stream placed in more than one region that has a replica here:
//  - a RegionTap (region-tap.ts) over the engine's deliveries: RegionDedup → the group sequence
//    consumer groups read (group-sequence.ts), the shipping source, the event-set digest;
//  - a Receiver per source region, created on the first shipment accepted from it: a shipment
//    is accepted only from a node whose region (in the applied cluster state) is its source
//    region, for a stream placed in both regions (shipment-guard.ts, issue #7); its events are
//    published into the local engine as local writes (same id, `Rg-Source`, ack `majority`) and
//    RegionDedup's `deliveredThrough` feeds what it vouches for;
//  - a Shipper per destination region whose designation `ship/<ns>/<stream>/<here>/<dest>` this
//    node holds, at the designation's term, over a ShipWindow (ship-window.ts) of this region's
//    own deliveries; it sends batches (deflate-raw) to the destination's replicas as soon as the
//    tap delivers this region's events (the tick is for timeouts, retries and lag reports);
//  - every `lagReportIntervalMs` a shipper's lag `{events, ms}` is sent to every node, so stream
//    info and metrics can show every link from any node (`shippingLag()`).
// Nothing here is persisted: receivers vouch only for what is committed in their region, and the
// shipper asks where the destination stands (`resolve`) on every start — data-plane/persistent/
// shipping README "Cursor and resume".
import type { Subscription } from 'rxjs'
import type { ClusterState, StreamSpec } from '../../control-plane/cluster/index.js'
import { shipControllerName } from '../../control-plane/cluster/index.js'
import { Receiver, Shipper, decodeShipMessage, encodeShipMessage } from '../../data-plane/persistent/index.js'
import type { PublishAck, ReceiverStats, ShipMessage, ShipperPhase, ShipperStats, ShipperTiming, ToReceiver, ToShipper } from '../../data-plane/persistent/index.js'
import { deflateRawCompression, shipCompressions } from '../../data-plane/persistent/shipping/zlib-compression.js'
import type { Logger } from '../../shared/log.js'
import type { Transport } from '../../shared/transport/index.js'
import type { EventSetDigestView } from './event-set-digest.js'
import { GroupSequence, registerGroupSequence } from './group-sequence.js'
import type { GroupSequencePort } from './group-sequence.js'
import { lagReportIntervalMsDefault, lagReportPeersMax, lagReportStaleMs, lagReportsKeptMax, noticeLogIntervalMs, refusalLogIntervalMs, refusalLogKeysMax, shipTickMsDefault } from './limits.js'
import { RegionTap } from './region-tap.js'
import type { RegionTapView, TapEngine } from './region-tap.js'
import { decodeShipEnvelope, encodeLagReport, encodeShipEnvelope } from './ship-envelope.js'
import type { LagReport } from './ship-envelope.js'
import { OncePer, judgeShipment, shipmentRefusals } from './shipment-guard.js'
import type { ShipmentRefusal } from './shipment-guard.js'
import { ShipWindow } from './ship-window.js'

/** What shipping needs of a stream's engine on this node (StreamEngine fits it). */
export interface ShippingEngine extends TapEngine {
  readonly writable: boolean
  publish(request: { readonly id: string; readonly headers: readonly (readonly [string, string])[]; readonly payload: Uint8Array; readonly ackLevel: 'majority' }): Promise<PublishAck>
}

export interface RegionShippingOptions {
  readonly nodeId: string
  readonly region: string
  /** The cluster state as applied here. */
  readonly state: () => ClusterState
  /** The peer transport; without it nothing is shipped or received (a node without a cluster). */
  readonly transport?: Transport
  readonly logger: Logger
  readonly nowMs?: () => number
  readonly tickMs?: number
  readonly lagReportIntervalMs?: number
  readonly shipperTiming?: Partial<ShipperTiming>
  readonly receiverPublishTimeoutMs?: number
}

/** One link's replication lag as this node knows it (`shippingLag()`; engineer #8 reads this). */
export interface ShippingLagView {
  /** `namespace/name`. */
  readonly stream: string
  /** Source region. */
  readonly from: string
  /** Destination region. */
  readonly to: string
  /** Events delivered in `from` that `to` has not acknowledged. */
  readonly events: number
  /** How long the oldest of them has waited (ms; 0 when caught up). */
  readonly ms: number
  /** The node holding the shipper designation, which measured it. */
  readonly holder: string
  readonly term: number
  /** Age of the measure on this node (0: measured here now). */
  readonly ageMs: number
  /** No report for longer than `lagReportStaleMs`: the figures are old. */
  readonly stale: boolean
}

export interface ShippingReceiverView {
  readonly from: string
  readonly term: number
  readonly ackedThrough: number
  readonly publishedThrough: number
  readonly pendingPublishes: number
  readonly stats: ReceiverStats
}

export interface ShippingShipperView {
  readonly to: string
  readonly term: number
  readonly phase: ShipperPhase
  readonly cursor: number
  readonly nextSeq: number
  readonly inFlightBatches: number
  readonly receiver: string
  readonly windowEvents: number
  readonly stats: ShipperStats
}

/** Stream info's `shipping` section on this node (docs/api.md § Streams across regions). */
export interface StreamShippingInfo {
  readonly node: string
  readonly region: string
  readonly regions: readonly string[]
  /** This node's replica (null when the stream has no replica open here). */
  readonly replica: (RegionTapView & { readonly deliveredCount: number }) | null
  readonly digest: EventSetDigestView | null
  /** Every link of the stream as this node knows it. */
  readonly lag: readonly ShippingLagView[]
  readonly receivers: readonly ShippingReceiverView[]
  readonly shippers: readonly ShippingShipperView[]
}

export interface RegionShippingCounters {
  /** `ship` frames whose envelope or codec bytes did not decode. */
  malformedFrames: number
  /** Shipments refused by the guard, by reason (issue #7). */
  refused: Record<ShipmentRefusal, number>
  /** Shipments for a stream with no replica ready here (not open, rebuilding): not answered. */
  notReady: number
  /** Replies no running shipper here was waiting for (a stopped or replaced one). */
  strayReplies: number
  lagReportsSent: number
  lagReportsReceived: number
  /** Events this node's receivers published into its region. */
  receivedPublished: number
  /** Events this node's shippers sent (resends included). */
  shippedEvents: number
}

interface HeldShipper {
  readonly controller: string
  readonly destination: string
  readonly receivers: string
  readonly shipper: Shipper
  readonly window: ShipWindow
}

interface StreamShipping {
  readonly key: string
  readonly spec: StreamSpec
  readonly engine: ShippingEngine
  readonly tap: RegionTap
  readonly view: GroupSequence
  readonly receivers: Map<string, Receiver>
  readonly shippers: Map<string, HeldShipper>
  flushQueued: boolean
}

interface HeldReport {
  readonly report: LagReport
  readonly atMs: number
}

/** Whether a stream runs with cross-region shipping (placed in more than one region). */
export const isMultiRegion = (spec: StreamSpec): boolean => spec.kind === 'persistent' && spec.regions.length > 1

export class RegionShipping {
  readonly counters: RegionShippingCounters = {
    malformedFrames: 0,
    refused: Object.fromEntries(shipmentRefusals.map((reason) => [reason, 0])) as Record<ShipmentRefusal, number>,
    notReady: 0,
    strayReplies: 0,
    lagReportsSent: 0,
    lagReportsReceived: 0,
    receivedPublished: 0,
    shippedEvents: 0,
  }
  readonly #options: RegionShippingOptions
  readonly #nowMs: () => number
  readonly #streams = new Map<string, StreamShipping>()
  readonly #reports = new Map<string, HeldReport>()
  readonly #refusalLog = new OncePer(refusalLogIntervalMs, refusalLogKeysMax)
  readonly #noticeLog = new OncePer(noticeLogIntervalMs, refusalLogKeysMax)
  readonly #subscription: Subscription | undefined
  readonly #timer: NodeJS.Timeout
  #lastReportMs = Number.NEGATIVE_INFINITY
  #closed = false

  constructor(options: RegionShippingOptions) {
    this.#options = options
    this.#nowMs = options.nowMs ?? Date.now
    this.#subscription = options.transport?.frames$.subscribe((frame) => {
      if (frame.channel === 'ship' && !this.#closed) this.#onFrame(frame.from, frame.payload)
    })
    this.#timer = setInterval(() => this.#tick(), options.tickMs ?? shipTickMsDefault)
    this.#timer.unref()
  }

  /**
   * A multi-region stream's engine opened here: starts its tap (rebuilt from delivery index 0)
   * and returns the group sequence its consumer groups read (also registered for the engine).
   */
  open(key: string, spec: StreamSpec, engine: ShippingEngine): GroupSequencePort {
    this.close(key)
    const { region, logger } = this.#options
    const tap = new RegionTap(engine, {
      stream: key,
      region,
      regions: spec.regions,
      dedupWindowMs: spec.dedupWindowMs,
      onRemoteDelivered: (source, through) => {
        const entry = this.#streams.get(key)
        const receiver = entry?.receivers.get(source)
        if (entry === undefined || receiver === undefined) return
        receiver.deliveredThrough(through)
        this.#queueFlush(entry)
      },
      // This region's own events delivered: ship them now (a shipper keeping up reads them from
      // the engine's delivery cache), not at the next tick — the tick is for timeouts and retries.
      onLocalDelivered: () => {
        const entry = this.#streams.get(key)
        if (entry !== undefined && entry.shippers.size > 0) this.#queueFlush(entry)
      },
      onCaughtUp: () => {
        logger.info({ stream: key, processed: tap.processed, groupSequence: tap.group.length, localShipSeq: tap.dedup.localShipSeq }, 'multi-region stream: region dedup rebuilt from the delivered log; shipping starts')
        this.reconcile()
      },
      onProblem: (detail) => logger.warn({ stream: key }, `multi-region stream: ${detail}`),
    })
    const view = new GroupSequence(tap, engine)
    registerGroupSequence(engine, view)
    this.#streams.set(key, { key, spec, engine, tap, view, receivers: new Map(), shippers: new Map(), flushQueued: false })
    tap.start()
    return view
  }

  /** The stream's engine stopped here: its tap, receivers and shippers go. */
  close(key: string): void {
    const entry = this.#streams.get(key)
    if (entry === undefined) return
    this.#streams.delete(key)
    entry.tap.stop()
    for (const held of entry.shippers.values()) this.#stopShipper(held, 'the stream closed on this node')
    entry.shippers.clear()
    entry.receivers.clear()
  }

  /** Starts, moves and stops shippers after the designations (every cluster event and tick). */
  reconcile(): void {
    if (this.#closed) return
    const state = this.#options.state()
    const { nodeId, region } = this.#options
    for (const entry of this.#streams.values()) {
      const wanted = new Map<string, { controller: string; term: number; receivers: string[] }>()
      const placement = state.placements.get(entry.key)
      if (entry.tap.caughtUp && placement !== undefined && placement.has(region)) {
        for (const [destination, placed] of placement) {
          if (destination === region) continue
          const controller = shipControllerName(entry.spec.namespace, entry.spec.name, region, destination)
          const d = state.designations.get(controller)
          if (d === undefined || d.holder !== nodeId || placed.replicas.length === 0) continue
          wanted.set(destination, { controller, term: d.controllerTerm, receivers: [...placed.replicas].sort() })
        }
      }
      for (const [destination, held] of [...entry.shippers]) {
        const want = wanted.get(destination)
        if (want !== undefined && want.term === held.shipper.term && want.receivers.join(',') === held.receivers) continue
        this.#stopShipper(held, want === undefined ? 'designation moved' : want.term !== held.shipper.term ? `term ${want.term} replaces ${held.shipper.term}` : 'the destination replica set changed')
        entry.shippers.delete(destination)
      }
      for (const [destination, want] of wanted) {
        if (entry.shippers.has(destination)) continue
        const shipper = new Shipper({
          stream: entry.key,
          sourceRegion: region,
          destRegion: destination,
          term: want.term,
          receivers: want.receivers,
          firstReceiver: want.term,
          ...(this.#options.shipperTiming === undefined ? {} : { timing: this.#options.shipperTiming }),
        })
        const held: HeldShipper = {
          controller: want.controller,
          destination,
          receivers: want.receivers.join(','),
          shipper,
          window: new ShipWindow(entry.tap, entry.engine, {
            onLoaded: () => this.#flushShipper(entry, held),
            onProblem: (detail) => this.#options.logger.warn({ stream: entry.key, to: destination }, `shipper: ${detail}`),
          }),
        }
        entry.shippers.set(destination, held)
        this.#options.logger.info({ stream: entry.key, to: destination, term: want.term, receivers: want.receivers }, 'shipper started on this node')
        this.#flushShipper(entry, held)
      }
    }
    // Reports of links that no longer exist are forgotten.
    for (const controller of [...this.#reports.keys()]) if (!state.designations.has(controller)) this.#reports.delete(controller)
  }

  /** Every link's lag this node knows: its own shippers' now, the others' as last reported. */
  shippingLag(stream?: string): ShippingLagView[] {
    const nowMs = this.#nowMs()
    const views = new Map<string, ShippingLagView>()
    for (const [controller, { report, atMs }] of this.#reports) {
      if (stream !== undefined && report.stream !== stream) continue
      const ageMs = Math.max(0, nowMs - atMs)
      views.set(controller, { stream: report.stream, from: report.from, to: report.to, events: report.events, ms: report.ms, holder: report.holder, term: report.term, ageMs, stale: ageMs > lagReportStaleMs })
    }
    for (const entry of this.#streams.values()) {
      if (stream !== undefined && entry.key !== stream) continue
      for (const held of entry.shippers.values()) {
        if (held.shipper.phase === 'stopped') continue
        const lag = held.window.lag(held.shipper.cursor, nowMs)
        views.set(held.controller, { stream: entry.key, from: this.#options.region, to: held.destination, events: lag.events, ms: lag.ms, holder: this.#options.nodeId, term: held.shipper.term, ageMs: 0, stale: false })
      }
    }
    return [...views.values()].sort((a, b) => (a.stream + a.from + a.to < b.stream + b.from + b.to ? -1 : 1))
  }

  /** Stream info's `shipping` section, or undefined for a stream this node does not ship (single-region, unknown). */
  info(key: string): StreamShippingInfo | undefined {
    const record = this.#options.state().streams.get(key)
    if (record === undefined || !isMultiRegion(record.spec)) return undefined
    const entry = this.#streams.get(key)
    return {
      node: this.#options.nodeId,
      region: this.#options.region,
      regions: [...record.spec.regions],
      replica: entry === undefined ? null : { ...entry.tap.view(), deliveredCount: entry.engine.deliveredCount },
      digest: entry === undefined ? null : entry.tap.digest.view(),
      lag: this.shippingLag(key),
      receivers: entry === undefined ? [] : [...entry.receivers.values()].map((r) => ({ from: r.sourceRegion, term: r.term, ackedThrough: r.ackedThrough, publishedThrough: r.publishedThrough, pendingPublishes: r.pendingPublishes, stats: r.stats })),
      shippers:
        entry === undefined
          ? []
          : [...entry.shippers.values()].map(({ destination, shipper, window }) => ({
              to: destination,
              term: shipper.term,
              phase: shipper.phase,
              cursor: shipper.cursor,
              nextSeq: shipper.nextSeq,
              inFlightBatches: shipper.inFlightBatches,
              receiver: shipper.receiver,
              windowEvents: window.size,
              stats: shipper.stats,
            })),
    }
  }

  /** The group sequence of a multi-region stream open here. */
  groupSequence(key: string): GroupSequencePort | undefined {
    return this.#streams.get(key)?.view
  }

  stop(): void {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#timer)
    this.#subscription?.unsubscribe()
    for (const key of [...this.#streams.keys()]) this.close(key)
  }

  // ---- the ship channel ---------------------------------------------------------------------

  #onFrame(from: string, payload: Uint8Array): void {
    const envelope = decodeShipEnvelope(payload)
    if (!envelope.ok) return this.#malformed(from, envelope.error)
    if (envelope.value.kind === 'lag') return this.#onLagReport(from, envelope.value.report)
    const decoded = decodeShipMessage(envelope.value.bytes, { compressions: shipCompressions })
    if (!decoded.ok) return this.#malformed(from, decoded.error.message)
    const m = decoded.value
    if (m.kind === 'resolve' || m.kind === 'batch') this.#toReceiver(from, m)
    else this.#toShipper(from, m)
  }

  #toReceiver(from: string, m: ToReceiver): void {
    const { region } = this.#options
    const verdict = judgeShipment(this.#options.state(), region, from, m.stream, m.sourceRegion)
    if (!verdict.ok) {
      const reason = verdict.reason as ShipmentRefusal
      this.counters.refused[reason] += 1
      if (this.#refusalLog.take(`${from}:${reason}`, this.#nowMs())) {
        this.#options.logger.warn({ from, stream: m.stream, sourceRegion: m.sourceRegion, reason, refused: this.counters.refused[reason] }, `shipment refused: ${verdict.detail ?? reason}`)
      }
      return
    }
    const entry = this.#streams.get(m.stream)
    // Not open here, or its dedup state still being rebuilt: not answered (the shipper times out
    // and tries another replica).
    if (entry === undefined || !entry.tap.caughtUp) {
      this.counters.notReady += 1
      return
    }
    let receiver = entry.receivers.get(m.sourceRegion)
    if (receiver === undefined) {
      receiver = new Receiver({ stream: entry.key, sourceRegion: m.sourceRegion, destRegion: region, ...(this.#options.receiverPublishTimeoutMs === undefined ? {} : { publishTimeoutMs: this.#options.receiverPublishTimeoutMs }) })
      receiver.deliveredThrough(entry.tap.dedup.deliveredThrough(m.sourceRegion))
      entry.receivers.set(m.sourceRegion, receiver)
    }
    receiver.step(from, m, this.#nowMs(), entry.engine.writable)
    this.#flushReceiver(entry, receiver)
  }

  #toShipper(from: string, m: ToShipper): void {
    const entry = this.#streams.get(m.stream)
    // The reply names the destination by its sender: only a node of that region reaches its shipper.
    const destination = this.#options.state().nodes.get(from)?.region
    const held = destination === undefined || m.sourceRegion !== this.#options.region ? undefined : entry?.shippers.get(destination)
    if (entry === undefined || held === undefined) {
      this.counters.strayReplies += 1
      return
    }
    held.shipper.step(from, m, this.#nowMs())
    this.#flushShipper(entry, held)
  }

  #onLagReport(from: string, report: LagReport): void {
    const sender = this.#options.state().nodes.get(from)
    // A node reports only its own links, measured in its own region.
    if (sender === undefined || report.holder !== from || sender.region !== report.from) return this.#malformed(from, `lag report for ${report.from}>${report.to} held by ${report.holder}`)
    const controller = shipControllerName(...splitKey(report.stream), report.from, report.to)
    if (!this.#reports.has(controller) && this.#reports.size >= lagReportsKeptMax) return
    const held = this.#reports.get(controller)
    // A report of an older term than one kept is from a stale holder.
    if (held !== undefined && held.report.term > report.term) return
    this.counters.lagReportsReceived += 1
    this.#reports.set(controller, { report, atMs: this.#nowMs() })
  }

  #malformed(from: string, why: string): void {
    this.counters.malformedFrames += 1
    if (this.#refusalLog.take(`${from}:malformed`, this.#nowMs())) this.#options.logger.warn({ from, count: this.counters.malformedFrames }, `ship frame dropped: ${why}`)
  }

  #send(to: string, message: ShipMessage): void {
    let bytes: Uint8Array
    try {
      bytes = encodeShipMessage(message, { compression: deflateRawCompression })
    } catch (error) {
      this.#options.logger.error({ stream: message.stream, kind: message.kind, err: (error as Error).message }, 'shipping message not encoded (a bug)')
      return
    }
    this.#options.transport?.send(to, 'ship', encodeShipEnvelope(bytes))
  }

  // ---- driving ------------------------------------------------------------------------------

  #queueFlush(entry: StreamShipping): void {
    if (entry.flushQueued) return
    entry.flushQueued = true
    queueMicrotask(() => {
      entry.flushQueued = false
      if (this.#streams.get(entry.key) !== entry) return
      for (const receiver of entry.receivers.values()) this.#flushReceiver(entry, receiver)
      for (const held of entry.shippers.values()) this.#flushShipper(entry, held)
    })
  }

  #flushReceiver(entry: StreamShipping, receiver: Receiver): void {
    const ready = receiver.ready()
    for (const notice of ready.notices) this.#notice(`${entry.key}<${receiver.sourceRegion}:${notice.kind}`, { stream: entry.key, from: receiver.sourceRegion }, `receiver ${notice.kind}: ${notice.detail}`)
    for (const publish of ready.publishes) {
      this.counters.receivedPublished += 1
      void entry.engine.publish({ id: publish.id, headers: publish.headers, payload: publish.payload, ackLevel: 'majority' }).then((ack) => {
        if (this.#streams.get(entry.key) !== entry || entry.receivers.get(receiver.sourceRegion) !== receiver) return
        receiver.published(publish.publishId, ack.ok)
        this.#queueFlush(entry)
      })
    }
    for (const out of ready.messages) this.#send(out.to, out.message)
  }

  #flushShipper(entry: StreamShipping, held: HeldShipper): void {
    if (this.#streams.get(entry.key) !== entry || entry.shippers.get(held.destination) !== held) return
    const { shipper, window } = held
    if (shipper.phase === 'stopped') return
    window.prepare(shipper.cursor, shipper.nextSeq)
    const sentBefore = shipper.stats.eventsSent
    const ready = shipper.ready(window.source(), this.#nowMs())
    this.counters.shippedEvents += shipper.stats.eventsSent - sentBefore
    for (const notice of ready.notices) this.#notice(`${held.controller}:${notice.kind}`, { stream: entry.key, to: held.destination, term: shipper.term }, `shipper ${notice.kind}: ${notice.detail}`)
    for (const out of ready.messages) this.#send(out.to, out.message)
  }

  #stopShipper(held: HeldShipper, why: string): void {
    held.shipper.stop(why)
    held.window.stop()
    this.#options.logger.info({ controller: held.controller, term: held.shipper.term }, `shipper stopped on this node: ${why}`)
  }

  #notice(key: string, fields: Record<string, unknown>, message: string): void {
    if (this.#noticeLog.take(key, this.#nowMs())) this.#options.logger.info(fields, message)
    else this.#options.logger.debug(fields, message)
  }

  #tick(): void {
    if (this.#closed) return
    const nowMs = this.#nowMs()
    for (const entry of this.#streams.values()) {
      for (const receiver of entry.receivers.values()) {
        receiver.tick(nowMs)
        this.#flushReceiver(entry, receiver)
      }
      for (const held of entry.shippers.values()) {
        held.shipper.tick(nowMs)
        this.#flushShipper(entry, held)
      }
    }
    if (nowMs - this.#lastReportMs >= (this.#options.lagReportIntervalMs ?? lagReportIntervalMsDefault)) {
      this.#lastReportMs = nowMs
      this.reconcile()
      this.#reportLag(nowMs)
    }
  }

  /** Each running shipper's lag, to every active node of the cluster (and kept here). */
  #reportLag(nowMs: number): void {
    const reports: LagReport[] = []
    for (const entry of this.#streams.values()) {
      for (const held of entry.shippers.values()) {
        if (held.shipper.phase === 'stopped') continue
        const lag = held.window.lag(held.shipper.cursor, nowMs)
        const report: LagReport = { stream: entry.key, from: this.#options.region, to: held.destination, events: lag.events, ms: lag.ms, head: entry.tap.dedup.localShipSeq, cursor: held.shipper.cursor, term: held.shipper.term, holder: this.#options.nodeId }
        reports.push(report)
        this.#reports.set(held.controller, { report, atMs: nowMs })
      }
    }
    const transport = this.#options.transport
    if (reports.length === 0 || transport === undefined) return
    const peers = [...this.#options.state().nodes.values()]
      .filter((node) => node.state === 'active' && node.id !== this.#options.nodeId)
      .map((node) => node.id)
      .slice(0, lagReportPeersMax)
    for (const report of reports) {
      const frame = encodeLagReport(report)
      if (frame === undefined) continue
      for (const peer of peers) if (transport.send(peer, 'ship', frame)) this.counters.lagReportsSent += 1
    }
  }
}

/** `namespace/name` → [namespace, name]. */
function splitKey(key: string): [string, string] {
  const slash = key.indexOf('/')
  return slash < 0 ? ['', key] : [key.slice(0, slash), key.slice(slash + 1)]
}
