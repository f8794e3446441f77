// The shipping layer of one simulated node (a RegionNode of test/sim/region): the driver that
// wires the pure shipping core (data-plane/persistent/shipping) to the node, as the real node
// will (issue #6):
//  - every delivery of the node's StreamReplica goes through RegionDedup: what it delivers is the
//    GROUP sequence (the SCC on this node dispatches it); the region's own events, in delivery
//    order, are the shipping source (shipSeq = index + 1);
//  - a Receiver per source region turns batches into local publishes (ack level majority) and
//    answers the shipper; acks come back through the region checker's tap;
//  - the Shippers this node is designated for (one per destination region, with a term) read
//    the source and send batches to the destination's nodes;
//  - shipping messages travel as codec bytes on the network between regions.
// Crash: everything here is memory and is lost; restart: deliveries replay from index 0, so
// RegionDedup, the group sequence and the source are rebuilt identically.
import { Receiver, RegionDedup, Shipper, decodeShipMessage, encodeShipMessage, formatProvenance, provenanceOf, sourceHeader, sourceRegionOfPublishId } from '../../../data-plane/persistent/index.js'
import type { EventHeader, ReplicationLag, ShipMessage, ShipSource, StreamEvent } from '../../../data-plane/persistent/index.js'
import { deflateRawCompression, shipCompressions } from '../../../data-plane/persistent/shipping/zlib-compression.js'
import type { RegionNode } from '../region/region-node.js'
import type { SccHost } from '../region/scc.js'
import type { MultiRegionContext, RegionStack } from './context.js'
import type { ShipWire } from './wire.js'

interface HeldShipper {
  readonly shipper: Shipper
  staleStopAtMs: number | null
}

export interface LinkLag {
  readonly link: string
  readonly lag: ReplicationLag
}

export class NodeShipping {
  dedup: RegionDedup
  /** The group sequence: deliveries RegionDedup lets through (the SCC's log). */
  group: StreamEvent[] = []
  /** This region's own events in delivery order: the shipping source. */
  local: StreamEvent[] = []
  readonly receivers = new Map<string, Receiver>()
  readonly shippers = new Map<string, HeldShipper>()
  readonly groupHost: SccHost
  /** Highest lag seen per link `source>dest` while this node shipped. */
  readonly lagMax = new Map<string, ReplicationLag>()
  readonly totals = { eventsShipped: 0, eventsResent: 0, receiverPublished: 0, receiverSkipped: 0 }
  #life = 0

  constructor(
    readonly node: RegionNode,
    readonly region: RegionStack,
    private readonly ctx: MultiRegionContext,
  ) {
    this.dedup = this.#newDedup()
    const groupOf = (): StreamEvent[] => this.group
    this.groupHost = {
      name: node.name,
      get log(): StreamEvent[] {
        return groupOf()
      },
    }
  }

  #newDedup(): RegionDedup {
    return new RegionDedup({ region: this.region.name, regions: this.ctx.config.regions, dedupWindowMs: this.ctx.config.dedupWindowMs })
  }

  get #now(): number {
    return this.node.physical()
  }

  /** Called when the RegionNode starts a life (its replica exists, its log is empty). */
  onStart(): void {
    this.#life = this.node.life
    this.dedup = this.#newDedup()
    this.group = []
    this.local = []
    this.#dropRoles()
    this.ctx.shipNetwork.register(this.node.name, (from, wire) => this.#onShip(from, wire))
    const life = this.#life
    const tick = (): void => {
      if (!this.node.up || this.node.life !== life) return
      this.#tick()
      this.ctx.clock.schedule(this.ctx.config.shipTickMs, tick)
    }
    this.ctx.clock.schedule(this.ctx.config.shipTickMs, tick)
  }

  /** Called right after the RegionNode crashed. */
  onCrash(): void {
    this.ctx.shipNetwork.unregister(this.node.name)
    this.#dropRoles()
  }

  #dropRoles(): void {
    for (const r of this.receivers.values()) this.#collect(r)
    for (const held of this.shippers.values()) this.#collectShipper(held.shipper)
    this.receivers.clear()
    this.shippers.clear()
  }

  // ---- the tap: what the RegionNode reports ----

  onDelivery(event: StreamEvent): void {
    const offered = this.ctx.config.bugs.dedupReceiptTime === true ? withReceiptTime(event) : event
    const verdict = this.dedup.offer(offered)
    const own = verdict.source.region === this.region.name
    if (own && (verdict.deliver || verdict.reason !== 'loop')) {
      this.local.push(event)
      // Invariant: the source is numbered exactly as RegionDedup counts this region's events.
      if (this.local.length !== this.dedup.localShipSeq) this.region.checker.violation('shipping source', `${this.node.name}: ${this.local.length} local events, dedup counted ${this.dedup.localShipSeq}`)
    }
    if (verdict.deliver) {
      this.group.push(event)
      this.region.checker.onGroupDelivery(this.node.name, this.node.life, this.group.length - 1, event)
    }
    if (!own) this.receivers.get(verdict.source.region)?.deliveredThrough(this.dedup.deliveredThrough(verdict.source.region))
  }

  onAck(publishId: string): void {
    const source = sourceRegionOfPublishId(publishId)
    if (source !== null) this.receivers.get(source)?.published(publishId, true)
  }

  // ---- shipper designations ----

  designateShipper(dest: string, term: number): void {
    const old = this.shippers.get(dest)
    if (old !== undefined) {
      old.shipper.stop('replaced on this node')
      this.#collectShipper(old.shipper)
    }
    const receivers = this.ctx.regions.get(dest)?.ctx.config.replicaNames ?? []
    const shipper = new Shipper({
      stream: this.ctx.config.stream,
      sourceRegion: this.region.name,
      destRegion: dest,
      term,
      receivers,
      firstReceiver: term,
      batchEventsMax: this.ctx.config.shipBatchEventsMax,
      windowBatches: this.ctx.config.shipWindowBatches,
      timing: this.ctx.config.shipperTiming,
    })
    this.shippers.set(dest, { shipper, staleStopAtMs: null })
  }

  /** A newer shipper was designated elsewhere: this one runs until `atMs` unless it learns first. */
  markStale(dest: string, atMs: number): void {
    const held = this.shippers.get(dest)
    if (held !== undefined && held.staleStopAtMs === null) held.staleStopAtMs = atMs
  }

  shipperFor(dest: string): Shipper | null {
    const held = this.shippers.get(dest)
    return held === undefined || held.shipper.phase === 'stopped' ? null : held.shipper
  }

  source(): ShipSource {
    const offset = this.ctx.config.bugs.shipOffByOne === true ? 1 : 0
    const local = this.local
    return {
      head: Math.max(0, local.length - offset),
      event: (seq) => local[seq - 1 + offset] as StreamEvent,
    }
  }

  // ---- driving ----

  #tick(): void {
    const nowMs = this.#now
    for (const receiver of this.receivers.values()) {
      receiver.tick(nowMs)
      this.#flushReceiver(receiver)
    }
    const source = this.source()
    for (const [dest, held] of this.shippers) {
      if (held.staleStopAtMs !== null && this.ctx.clock.nowMs >= held.staleStopAtMs) held.shipper.stop('stale designation')
      if (held.shipper.phase === 'stopped') {
        this.#collectShipper(held.shipper)
        this.shippers.delete(dest)
        continue
      }
      held.shipper.tick(nowMs)
      this.#flushShipper(dest, held.shipper, source)
      const link = `${this.region.name}>${dest}`
      const lag = held.shipper.lag(source, nowMs)
      const worst = this.lagMax.get(link)
      if (worst === undefined || lag.events > worst.events || lag.ms > worst.ms) this.lagMax.set(link, { events: Math.max(lag.events, worst?.events ?? 0), ms: Math.max(lag.ms, worst?.ms ?? 0) })
    }
  }

  #onShip(from: string, wire: ShipWire): void {
    if (!this.node.up || this.node.replica === null) return
    const decoded = decodeShipMessage(wire.bytes, { compressions: shipCompressions })
    if (!decoded.ok) return this.region.checker.violation('codec', `${this.node.name}: undecodable shipping message from ${from}: ${decoded.error.message}`)
    const m = decoded.value
    const nowMs = this.#now
    if (m.kind === 'resolve' || m.kind === 'batch') {
      if (m.sourceRegion === this.region.name) return this.region.checker.violation('no loops', `${this.node.name}: ${m.kind} of its own region from ${from}`)
      let receiver = this.receivers.get(m.sourceRegion)
      if (receiver === undefined) {
        receiver = new Receiver({ stream: this.ctx.config.stream, sourceRegion: m.sourceRegion, destRegion: this.region.name, publishTimeoutMs: this.ctx.config.receiverPublishTimeoutMs })
        receiver.deliveredThrough(this.dedup.deliveredThrough(m.sourceRegion))
        this.receivers.set(m.sourceRegion, receiver)
      }
      receiver.step(from, m, nowMs, this.node.replica.writable)
      this.#flushReceiver(receiver)
      return
    }
    const dest = this.ctx.regionOf.get(from)
    const held = dest === undefined ? undefined : this.shippers.get(dest)
    if (held === undefined || dest === undefined) return
    held.shipper.step(from, m, nowMs)
    this.#flushShipper(dest, held.shipper, this.source())
  }

  #flushReceiver(receiver: Receiver): void {
    const ready = receiver.ready()
    for (const notice of ready.notices) this.ctx.trace.record(this.ctx.clock.nowMs, 'receiver', `${this.node.name}<${receiver.sourceRegion} ${notice.kind}: ${notice.detail}`)
    if (ready.publishes.length > 0 && this.node.replica !== null) {
      const requests = this.ctx.config.bugs.receiverNewIds === true ? ready.publishes.map((p) => ({ ...p, id: `${p.id}@${this.region.name}` })) : ready.publishes
      this.node.replica.publish(requests, this.#now)
      this.node.drain()
    }
    for (const out of ready.messages) this.#send(out.to, out.message)
  }

  #flushShipper(dest: string, shipper: Shipper, source: ShipSource): void {
    const ready = shipper.ready(source, this.#now)
    for (const notice of ready.notices) this.ctx.trace.record(this.ctx.clock.nowMs, 'shipper', `${this.node.name}>${dest}@${shipper.term} ${notice.kind}: ${notice.detail}`)
    for (const out of ready.messages) this.#send(out.to, out.message)
  }

  #send(to: string, message: ShipMessage): void {
    this.ctx.shipNetwork.send(this.node.name, to, { kind: 'ship', bytes: encodeShipMessage(message, { compression: deflateRawCompression }) })
  }

  #collect(receiver: Receiver): void {
    this.totals.receiverPublished += receiver.stats.published
    this.totals.receiverSkipped += receiver.stats.skipped
  }

  #collectShipper(shipper: Shipper): void {
    this.totals.eventsShipped += shipper.stats.eventsSent
    this.totals.eventsResent += shipper.stats.eventsResent
  }

  /** Totals including the roles still running. */
  currentTotals(): NodeShipping['totals'] {
    const t = { ...this.totals }
    for (const r of this.receivers.values()) {
      t.receiverPublished += r.stats.published
      t.receiverSkipped += r.stats.skipped
    }
    for (const held of this.shippers.values()) {
      t.eventsShipped += held.shipper.stats.eventsSent
      t.eventsResent += held.shipper.stats.eventsResent
    }
    return t
  }
}

/** The `dedupReceiptTime` bug: the copy's provenance time replaced by its HLC in this region. */
function withReceiptTime(event: StreamEvent): StreamEvent {
  const p = provenanceOf(event)
  if (!p.ok || p.value === null) return event
  const value = formatProvenance({ ...p.value, hlc: event.hlc })
  return { ...event, headers: event.headers.map(([k, v]): EventHeader => (k === sourceHeader ? [k, value] : [k, v])) }
}
