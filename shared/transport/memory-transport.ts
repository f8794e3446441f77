// The in-process twin of the TCP transport: a hub links many MemoryTransports, honoring the
// same contract (one link per pair, status transitions, bounded per-peer queues, frame size
// limit, readiness gate, re-dial of wanted peers) without sockets. Tests use the hub's hooks
// to partition nodes or drop frames. Differences from TCP, on purpose: a partition takes links
// down at once (TCP notices after deadAfterMs of silence), and re-dial is a fixed short delay.
import { Subject } from 'rxjs'
import { defaultFrameBytesMax } from './frame-codec.js'
import type { OutboundLimits } from './outbound-queue.js'
import { defaultOutboundLimits } from './outbound-queue.js'
import { PeerStatusBoard } from './peer-status.js'
import type { IncomingFrame, ListenAddress, PeerAddress, Transport, TransportChannel } from './types.js'

export interface MemoryTransportOptions {
  readonly nodeId: string
  readonly frameBytesMax?: number
  readonly outboundLimits?: Partial<OutboundLimits>
  /** As for TCP: until ready, links to this node are refused with `notReady`. Default: ready. */
  readonly ready?: boolean
  /** Delay before re-trying wanted peers that are not linked. Default 20ms. */
  readonly reconnectDelayMs?: number
}

/** Returns true to drop this frame silently (the link stays up). */
export type DropFilter = (from: string, to: string, channel: TransportChannel, payload: Uint8Array) => boolean

interface InFlight {
  readonly from: string
  readonly channel: TransportChannel
  readonly payload: Uint8Array
  readonly linkEpoch: number
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`
}

export class MemoryHub {
  private readonly started = new Map<string, MemoryTransport>()
  /** Established links by pair key → epoch (a new link gets a new epoch). */
  private readonly links = new Map<string, number>()
  private readonly blocked = new Set<string>()
  private nextEpoch = 1
  private nextPort = 1
  private dropFilter: DropFilter | undefined

  createTransport(options: MemoryTransportOptions): MemoryTransport {
    return new MemoryTransport(this, options)
  }

  /** Cut every link between nodes of different groups; they stay cut until `heal()`. */
  partition(...groups: readonly (readonly string[])[]): void {
    for (let i = 0; i < groups.length; i += 1) {
      for (let j = i + 1; j < groups.length; j += 1) {
        for (const a of groups[i]!) for (const b of groups[j]!) this.block(a, b)
      }
    }
  }

  /** Cut one node from every other node. */
  isolate(nodeId: string): void {
    for (const other of this.started.keys()) if (other !== nodeId) this.block(nodeId, other)
  }

  heal(): void {
    this.blocked.clear()
    for (const transport of this.started.values()) transport.retryNow()
  }

  setDropFilter(filter: DropFilter | undefined): void {
    this.dropFilter = filter
  }

  isLinked(a: string, b: string): boolean {
    return this.links.has(pairKey(a, b))
  }

  /** @internal */ register(transport: MemoryTransport): ListenAddress {
    if (this.started.has(transport.nodeId)) throw new Error(`memory hub: node id '${transport.nodeId}' is already started`)
    this.started.set(transport.nodeId, transport)
    const port = this.nextPort
    this.nextPort += 1
    return { host: 'memory', port }
  }

  /** @internal */ unregister(transport: MemoryTransport): void {
    for (const key of [...this.links.keys()]) {
      const [a, b] = key.split('\u0000') as [string, string]
      if (a === transport.nodeId || b === transport.nodeId) this.unlink(a, b, `peer ${transport.nodeId} stopped`, transport.nodeId)
    }
    this.started.delete(transport.nodeId)
  }

  /** @internal Returns null when linked, or why not. */
  tryLink(from: MemoryTransport, to: string): string | null {
    if (this.links.has(pairKey(from.nodeId, to))) return null
    const target = this.started.get(to)
    if (target === undefined) return `peer ${to} is not reachable (not started)`
    if (this.blocked.has(pairKey(from.nodeId, to))) return `peer ${to} is not reachable (partitioned)`
    if (!target.isReady()) return `refused by peer: notReady: node ${to} is not ready`
    const epoch = this.nextEpoch
    this.nextEpoch += 1
    this.links.set(pairKey(from.nodeId, to), epoch)
    from.linkUp(to)
    target.linkUp(from.nodeId)
    return null
  }

  /** @internal `initiator`'s side hears `reason`; the other side hears that the peer closed. */
  unlink(a: string, b: string, reason: string, initiator: string): void {
    if (!this.links.delete(pairKey(a, b))) return
    const other = initiator === a ? b : a
    this.started.get(initiator)?.linkDown(other, reason)
    this.started.get(other)?.linkDown(initiator, `peer closed the connection: ${reason}`)
  }

  /** @internal */ epochOf(a: string, b: string): number | undefined {
    return this.links.get(pairKey(a, b))
  }

  /** @internal */ shouldDrop(from: string, to: string, channel: TransportChannel, payload: Uint8Array): boolean {
    return this.dropFilter !== undefined && this.dropFilter(from, to, channel, payload)
  }

  /** @internal */ target(to: string): MemoryTransport | undefined {
    return this.started.get(to)
  }

  private block(a: string, b: string): void {
    if (a === b) return
    this.blocked.add(pairKey(a, b))
    this.unlink(a, b, 'partitioned', a)
  }
}

export class MemoryTransport implements Transport {
  readonly nodeId: string
  private readonly frameSubject = new Subject<IncomingFrame>()
  readonly frames$ = this.frameSubject.asObservable()
  private readonly board = new PeerStatusBoard()
  readonly status$ = this.board.status$
  private readonly wanted = new Set<string>()
  private readonly linked = new Set<string>()
  private readonly frameBytesMax: number
  private readonly limits: OutboundLimits
  private readonly reconnectDelayMs: number
  /** Frames queued toward each peer and not yet delivered (for the outbound bounds). */
  private readonly pendingFrames = new Map<string, number>()
  private readonly pendingBytes = new Map<string, number>()
  private inbox: InFlight[] = []
  /** Parallel to `inbox`: tells each sender its frame left the queue (delivered or discarded). */
  private readonly settleCallbacks: (() => void)[] = []
  private deliveryHandle: NodeJS.Immediate | undefined
  private retryTimer: NodeJS.Timeout | undefined
  private ready: boolean
  private lifecycle: 'new' | 'started' | 'stopped' = 'new'

  constructor(
    private readonly hub: MemoryHub,
    options: MemoryTransportOptions,
  ) {
    this.nodeId = options.nodeId
    this.frameBytesMax = options.frameBytesMax ?? defaultFrameBytesMax
    this.limits = { ...defaultOutboundLimits, ...options.outboundLimits }
    this.reconnectDelayMs = options.reconnectDelayMs ?? 20
    this.ready = options.ready ?? true
  }

  async start(): Promise<ListenAddress> {
    if (this.lifecycle !== 'new') throw new Error(`transport ${this.nodeId}: start() called twice`)
    this.lifecycle = 'started'
    const address = this.hub.register(this)
    this.retryNow()
    return address
  }

  markReady(): void {
    this.ready = true
    this.retryNow()
  }

  isReady(): boolean {
    return this.ready && this.lifecycle === 'started'
  }

  connect(peer: PeerAddress): void {
    if (peer.id === this.nodeId) throw new Error(`transport ${this.nodeId}: cannot connect to itself`)
    if (this.lifecycle === 'stopped' || this.wanted.has(peer.id)) return
    this.wanted.add(peer.id)
    if (this.linked.has(peer.id)) return
    this.board.set(peer.id, 'connecting')
    if (this.lifecycle === 'started') this.retryNow()
  }

  disconnect(peerId: string, reason = 'disconnected locally'): void {
    this.wanted.delete(peerId)
    if (this.linked.has(peerId)) this.hub.unlink(this.nodeId, peerId, reason, this.nodeId)
    else this.board.set(peerId, 'down', reason)
  }

  send(to: string, channel: TransportChannel, payload: Uint8Array): boolean {
    if (!this.linked.has(to)) return false
    if (payload.byteLength + 1 > this.frameBytesMax) return false
    const frames = this.pendingFrames.get(to) ?? 0
    const bytes = this.pendingBytes.get(to) ?? 0
    const frameBytes = payload.byteLength + 5
    if (frames + 1 > this.limits.framesMax || bytes + frameBytes > this.limits.bytesMax) return false
    if (this.hub.shouldDrop(this.nodeId, to, channel, payload)) return true
    const target = this.hub.target(to)
    const linkEpoch = this.hub.epochOf(this.nodeId, to)
    if (target === undefined || linkEpoch === undefined) return false
    this.pendingFrames.set(to, frames + 1)
    this.pendingBytes.set(to, bytes + frameBytes)
    target.enqueue({ from: this.nodeId, channel, payload: payload.slice(), linkEpoch }, () => {
      this.pendingFrames.set(to, Math.max(0, (this.pendingFrames.get(to) ?? 0) - 1))
      this.pendingBytes.set(to, Math.max(0, (this.pendingBytes.get(to) ?? 0) - frameBytes))
    })
    return true
  }

  upPeers(): readonly string[] {
    return [...this.linked]
  }

  async stop(): Promise<void> {
    if (this.lifecycle === 'stopped') return
    const wasStarted = this.lifecycle === 'started'
    this.lifecycle = 'stopped'
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer)
    if (this.deliveryHandle !== undefined) clearImmediate(this.deliveryHandle)
    this.inbox = []
    for (const settled of this.settleCallbacks.splice(0)) settled()
    if (wasStarted) this.hub.unregister(this)
    this.frameSubject.complete()
    this.board.complete()
  }

  /** @internal */ linkUp(peer: string): void {
    this.linked.add(peer)
    this.board.set(peer, 'up')
  }

  /** @internal */ linkDown(peer: string, reason: string): void {
    this.linked.delete(peer)
    this.pendingFrames.delete(peer)
    this.pendingBytes.delete(peer)
    this.board.set(peer, 'down', reason)
    if (this.wanted.has(peer)) this.scheduleRetry()
  }

  /** @internal Try every wanted peer that is not linked; re-arm the timer for those that fail. */
  retryNow(): void {
    if (this.lifecycle !== 'started' || !this.ready) return
    let failed = false
    for (const peer of this.wanted) {
      if (this.linked.has(peer)) continue
      this.board.set(peer, 'connecting')
      const why = this.hub.tryLink(this, peer)
      if (why !== null) {
        this.board.set(peer, 'down', why)
        failed = true
      }
    }
    if (failed) this.scheduleRetry()
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== undefined || this.lifecycle !== 'started') return
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      this.retryNow()
    }, this.reconnectDelayMs)
  }

  /** @internal Delivery is asynchronous (a later macrotask), in order per sender. */
  enqueue(frame: InFlight, settled: () => void): void {
    this.inbox.push(frame)
    this.settleCallbacks.push(settled)
    if (this.deliveryHandle === undefined) this.deliveryHandle = setImmediate(() => this.deliver())
  }

  private deliver(): void {
    this.deliveryHandle = undefined
    const frames = this.inbox
    const callbacks = this.settleCallbacks.splice(0)
    this.inbox = []
    frames.forEach((frame, i) => {
      callbacks[i]!()
      if (this.lifecycle !== 'started') return
      if (this.hub.epochOf(this.nodeId, frame.from) !== frame.linkEpoch) return
      this.frameSubject.next({ from: frame.from, channel: frame.channel, payload: frame.payload })
    })
  }
}
