// The driver of cluster routing: it attaches to the router (RouterRoutes) and to the peer
// transport's `route` channel. Interest: each up peer gets our snapshot, then deltas
// (interest-sync.ts), and we keep each peer's in a RemoteInterestTable. Messages: a publish with
// remote interest is forwarded once per peer (plain interest, or a queue group no local member
// served, given to one peer holding members); what a peer forwards is delivered here only.
// Interest frames and messages share the ordered channel, and pending deltas are flushed before
// any message goes out, so a SUB then a PUB on one node reaches a peer in that order. Messages to
// one peer are gathered into a batch frame, sent when it is full, when the router's input chunk
// ends (`flushForwarded`), at the end of the turn, and before any interest frame to that peer.
// I/O lives here: the transport, one retry timer, one setImmediate flush, logs (never per message).
import type { Subscription as RxSubscription } from 'rxjs'
import { pickIndex } from '../../data-plane/ephemeral/index.js'
import type { RandomSource } from '../../data-plane/ephemeral/index.js'
import { eventSubjectRoot } from '../../shared/api/index.js'
import type { Clock } from '../../shared/clock.js'
import type { Logger } from '../../shared/log.js'
import type { IncomingFrame, Transport } from '../../shared/transport/index.js'
import type { Router, RouterRoutes, RoutesAttachment } from '../router.js'
import { decodeRouteFrame, encodeBatch, encodeMessage, messageFrameBytes, routeLimits } from './codec.js'
import type { InterestOp, RouteMessage } from './codec.js'
import { RouteCounterBoard } from './counters.js'
import type { PeerRouteCounters } from './counters.js'
import { InterestSync } from './interest-sync.js'
import { RemoteInterestTable, noTargets } from './remote-interest.js'
import type { RouteTargets } from './remote-interest.js'

/** Named limits and timings of the driver. */
export const routeDriverDefaults = {
  /** Interest entries kept per peer; beyond it the peer's new entries are refused (counted, warned). */
  patternsPerPeerMax: 262_144,
  /** How often due snapshots are re-sent and owed ones re-asked for. */
  retryIntervalMs: 250,
  /** A peer that owes us a snapshot is asked again after this long. */
  resyncRequestIntervalMs: 1_000,
  interestFrameBytesMax: routeLimits.interestFrameBytesMax,
} as const

export type RouteDriverLimits = { -readonly [K in keyof typeof routeDriverDefaults]: number }

/**
 * Subjects every node publishes itself to its own subscribers (system events: each node applies
 * every committed entry): forwarding them would deliver each event once per node.
 */
export const nodeLocalSubjectPrefixes: readonly string[] = [`${eventSubjectRoot}.`]

function isNodeLocal(subject: string): boolean {
  // One character compare first: almost no subject starts with `$`.
  if (subject.charCodeAt(0) !== 0x24) return false
  for (const prefix of nodeLocalSubjectPrefixes) if (subject.startsWith(prefix)) return true
  return false
}

export interface PeerRouteStats extends Readonly<PeerRouteCounters> {
  readonly peer: string
  /** The link is up now. */
  readonly up: boolean
  /** We hold the peer's complete interest (a snapshot and every delta since). */
  readonly synced: boolean
  /** The peer's interest entries we hold. */
  readonly remoteInterest: number
}

export interface RouteStats {
  /** This node's distinct (pattern, queue) entries. */
  readonly localInterest: number
  /** Peer entries held, all peers. */
  readonly remoteInterest: number
  readonly peers: readonly PeerRouteStats[]
}

export interface ClusterRoutesOptions {
  readonly router: Router
  /** The peer transport (`ClusterRuntime.peerLink()`); this uses its `route` channel only. */
  readonly transport: Transport
  readonly logger: Logger
  readonly clock: Clock
  /** Picks the peer of a queue group, and the session id. Default Math.random. */
  readonly random?: RandomSource
  readonly limits?: Partial<RouteDriverLimits>
}

export interface ClusterRoutes {
  stats(): RouteStats
  /** Detach from the router and the transport (the node is stopping). Idempotent. */
  close(): void
}

const noQueues: readonly string[] = []

/** Encoded messages waiting for one peer (at most about `messageBatchBytesMax`). */
interface PeerBatch {
  parts: Uint8Array[]
  /** Sum of the parts' lengths. */
  bytes: number
}

class Routes implements RouterRoutes, ClusterRoutes {
  readonly #router: Router
  readonly #transport: Transport
  readonly #logger: Logger
  readonly #random: RandomSource
  readonly #remote: RemoteInterestTable
  readonly #counters = new RouteCounterBoard()
  readonly #sync: InterestSync
  readonly #subscriptions: RxSubscription[] = []
  readonly #retryTimer: NodeJS.Timeout
  readonly #attachment: RoutesAttachment
  #flushScheduled = false
  readonly #batches = new Map<string, PeerBatch>()
  /** Some batch holds messages. */
  #batched = false
  #batchFlushScheduled = false
  #warnedOversize = false
  readonly #warnedPeers = new Set<string>()
  #closed = false

  constructor(options: ClusterRoutesOptions) {
    const limits: RouteDriverLimits = { ...routeDriverDefaults, ...options.limits }
    this.#router = options.router
    this.#transport = options.transport
    this.#logger = options.logger
    this.#random = options.random ?? Math.random
    this.#remote = new RemoteInterestTable(limits.patternsPerPeerMax)
    const transport = options.transport
    this.#sync = new InterestSync({
      session: Math.floor(this.#random() * 0x1_0000_0000) >>> 0,
      send: (peer, bytes) => {
        // Messages queued before this interest frame go first: the channel's order is the contract.
        this.#flushBatch(peer)
        return transport.send(peer, 'route', bytes)
      },
      localEntries: () => options.router.localInterest(),
      remote: this.#remote,
      counters: this.#counters,
      nowMs: () => options.clock.nowMs(),
      resyncRequestIntervalMs: limits.resyncRequestIntervalMs,
      interestFrameBytesMax: limits.interestFrameBytesMax,
    })
    this.#attachment = options.router.attachRoutes(this)
    this.#subscriptions.push(
      transport.status$.subscribe((status) => {
        if (status.state === 'up') this.#sync.peerUp(status.peer)
        else this.#peerGone(status.peer, status.reason)
      }),
      transport.frames$.subscribe((frame) => {
        if (frame.channel === 'route') this.#onFrame(frame)
      }),
    )
    // Links that came up before we attached: what those peers sent at link-up was not heard.
    for (const peer of transport.upPeers()) this.#sync.peerUp(peer, true)
    this.#retryTimer = setInterval(() => {
      this.#sync.flush()
      this.#sync.retry()
    }, limits.retryIntervalMs)
    this.#retryTimer.unref()
  }

  // ---- RouterRoutes ----------------------------------------------------------------------

  targets(subject: string, cache: boolean): RouteTargets {
    return isNodeLocal(subject) ? noTargets : this.#remote.targets(subject, cache)
  }

  hasRemoteInterest(subject: string): boolean {
    return !isNodeLocal(subject) && this.#remote.hasInterest(subject)
  }

  localInterestChanged(op: InterestOp): void {
    this.#sync.localChanged(op)
    if (this.#flushScheduled || this.#closed) return
    this.#flushScheduled = true
    setImmediate(this.#flushPending)
  }

  forward(subject: string, replyTo: string | undefined, headerBlock: Uint8Array | undefined, payload: Uint8Array, targets: RouteTargets, servedLocally: readonly string[]): number {
    // Interest first: a SUB queued before this publish reaches every peer before the message.
    if (this.#sync.hasPending) this.#sync.flush()
    let assigned: Map<string, string[]> | undefined
    if (targets.groups.size > 0) {
      for (const [queue, holders] of targets.groups) {
        if (servedLocally.includes(queue) || holders.length === 0) continue
        const peer = holders[pickIndex(this.#random, holders.length)] as string
        assigned ??= new Map()
        const queues = assigned.get(peer)
        if (queues === undefined) assigned.set(peer, [queue])
        else queues.push(queue)
      }
    }
    let copies = 0
    let shared: Uint8Array | undefined
    for (const peer of targets.peers) {
      const queues = assigned?.get(peer)
      if (queues !== undefined) {
        assigned?.delete(peer)
        copies += this.#sendMessage(peer, subject, replyTo, queues, headerBlock, payload)
        continue
      }
      if (shared === undefined) {
        if (!this.#fits(peer, subject, replyTo, noQueues, headerBlock, payload)) continue
        shared = encodeMessage(subject, replyTo, noQueues, headerBlock, payload)
      }
      copies += this.#queueMessage(peer, shared)
    }
    if (assigned !== undefined) for (const [peer, queues] of assigned) copies += this.#sendMessage(peer, subject, replyTo, queues, headerBlock, payload)
    return copies
  }

  flushForwarded(): void {
    if (!this.#batched) return
    this.#batched = false
    for (const peer of this.#batches.keys()) this.#flushBatch(peer)
  }

  // ---- ClusterRoutes ---------------------------------------------------------------------

  stats(): RouteStats {
    const up = new Set(this.#sync.upPeers())
    const seen = new Set<string>()
    const peers: PeerRouteStats[] = []
    for (const [peer, counters] of this.#counters.entries()) {
      seen.add(peer)
      peers.push({ peer, up: up.has(peer), synced: this.#sync.isSyncedFrom(peer), remoteInterest: this.#remote.peerSize(peer), ...counters })
    }
    for (const peer of up) {
      if (!seen.has(peer)) peers.push({ peer, up: true, synced: this.#sync.isSyncedFrom(peer), remoteInterest: this.#remote.peerSize(peer), ...this.#counters.of(peer) })
    }
    peers.sort((a, b) => (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0))
    return { localInterest: this.#router.localInterest().length, remoteInterest: this.#remote.size, peers }
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#retryTimer)
    this.flushForwarded()
    for (const subscription of this.#subscriptions) subscription.unsubscribe()
    this.#attachment.detach()
  }

  // ---- internals -------------------------------------------------------------------------

  readonly #flushBatchesAtTurnEnd = (): void => {
    this.#batchFlushScheduled = false
    this.flushForwarded()
  }

  readonly #flushPending = (): void => {
    this.#flushScheduled = false
    if (!this.#closed) this.#sync.flush()
  }

  #peerGone(peer: string, reason: string | undefined): void {
    const batch = this.#batches.get(peer)
    if (batch !== undefined) {
      // Queued for a link that is gone: dropped, as `send` would have refused them.
      this.#counters.of(peer).dropsRefused += batch.parts.length
      this.#batches.delete(peer)
    }
    const dropped = this.#sync.peerDown(peer)
    this.#attachment.setRemoteInterest(this.#remote.size > 0)
    this.#warnedPeers.delete(peer)
    if (dropped > 0) this.#logger.info({ peer, reason, droppedInterest: dropped }, 'route: peer link down, its interest dropped')
  }

  #fits(peer: string, subject: string, replyTo: string | undefined, queues: readonly string[], headerBlock: Uint8Array | undefined, payload: Uint8Array): boolean {
    const bytes = messageFrameBytes(subject, replyTo, queues, headerBlock, payload)
    if (bytes <= routeLimits.messageFrameBytesMax && queues.length <= routeLimits.queuesPerMessageMax) return true
    this.#counters.of(peer).dropsOversize += 1
    if (!this.#warnedOversize) {
      this.#warnedOversize = true
      this.#logger.warn(
        { peer, subject, frameBytes: bytes, frameBytesMax: routeLimits.messageFrameBytesMax, queues: queues.length, queuesMax: routeLimits.queuesPerMessageMax },
        'route: a message too large to forward was dropped (counted as dropsOversize; warned once)',
      )
    }
    return false
  }

  #sendMessage(peer: string, subject: string, replyTo: string | undefined, queues: readonly string[], headerBlock: Uint8Array | undefined, payload: Uint8Array): number {
    if (!this.#fits(peer, subject, replyTo, queues, headerBlock, payload)) return 0
    return this.#queueMessage(peer, encodeMessage(subject, replyTo, queues, headerBlock, payload))
  }

  /** Adds one encoded message to the peer's batch (a big one goes alone, after the batch). Returns 1. */
  #queueMessage(peer: string, message: Uint8Array): number {
    if (message.length >= routeLimits.messageBatchBytesMax) {
      this.#flushBatch(peer)
      this.#sendFrame(peer, message, 1)
      return 1
    }
    let batch = this.#batches.get(peer)
    if (batch === undefined) {
      batch = { parts: [], bytes: 0 }
      this.#batches.set(peer, batch)
    }
    batch.parts.push(message)
    batch.bytes += message.length
    this.#batched = true
    if (!this.#batchFlushScheduled) {
      // Outside a client's input chunk (timers, in-process publishers) nobody calls flushForwarded.
      this.#batchFlushScheduled = true
      setImmediate(this.#flushBatchesAtTurnEnd)
    }
    if (batch.bytes >= routeLimits.messageBatchBytesMax) this.#flushBatch(peer)
    return 1
  }

  #flushBatch(peer: string): void {
    const batch = this.#batches.get(peer)
    if (batch === undefined || batch.parts.length === 0) return
    const parts = batch.parts
    const frame = parts.length === 1 ? (parts[0] as Uint8Array) : encodeBatch(parts, batch.bytes)
    batch.parts = []
    batch.bytes = 0
    this.#sendFrame(peer, frame, parts.length)
  }

  #sendFrame(peer: string, frame: Uint8Array, messages: number): void {
    const counters = this.#counters.of(peer)
    if (!this.#transport.send(peer, 'route', frame)) {
      // Core pub/sub is at-most-once: a slow or vanished peer loses the messages, counted.
      counters.dropsRefused += messages
      return
    }
    counters.msgsOut += messages
    counters.bytesOut += frame.length
  }

  #onFrame(frame: IncomingFrame): void {
    const decoded = decodeRouteFrame(frame.payload, this.#router.subjects)
    const peer = frame.from
    if (!decoded.ok) {
      this.#counters.of(peer).malformedFrames += 1
      this.#warnPeerOnce(peer, { err: decoded.error.message, code: decoded.error.code }, 'route: malformed frame from peer dropped; asking it for a fresh interest snapshot')
      this.#sync.distrust(peer)
      return
    }
    const routeFrame = decoded.frame
    if (routeFrame.kind === 'message' || routeFrame.kind === 'batch') {
      const messages: readonly RouteMessage[] = routeFrame.kind === 'message' ? [routeFrame] : routeFrame.messages
      const counters = this.#counters.of(peer)
      counters.msgsIn += messages.length
      counters.bytesIn += frame.payload.length
      for (const message of messages) this.#router.deliverFromPeer(message, peer)
      return
    }
    const receipt = this.#sync.receive(peer, routeFrame)
    this.#attachment.setRemoteInterest(this.#remote.size > 0)
    if (receipt === 'refused-entries') {
      this.#warnPeerOnce(peer, { patternsPerPeerMax: this.#remote.patternsPerPeerMax }, 'route: peer holds more interest entries than patternsPerPeerMax; the excess is refused (messages on those subjects are not forwarded to it)')
    } else if (receipt === 'gap') {
      this.#logger.debug({ peer }, 'route: gap in peer interest frames; asked for a snapshot')
    }
  }

  #warnPeerOnce(peer: string, fields: Record<string, unknown>, message: string): void {
    if (this.#warnedPeers.has(peer)) return
    this.#warnedPeers.add(peer)
    this.#logger.warn({ peer, ...fields }, message)
  }
}

/**
 * Attaches cluster routing to `router` over `transport` (the node does it right after the control
 * plane opens, before clients are admitted). `close()` before the transport stops.
 */
export function attachClusterRoutes(options: ClusterRoutesOptions): ClusterRoutes {
  return new Routes(options)
}
