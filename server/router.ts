// Node-wide routing state: the interest index, response streams (RS), counters (node-wide and per
// ES stream), and the flush scheduler that coalesces socket writes per event-loop turn.
// Connections call in here for every PUB/HPUB/SUB/UNSUB; nothing here logs or allocates a Promise
// per message. In a cluster, `server/routes` attaches itself (`attachRoutes`): the router counts
// this node's interest per (pattern, queue) for it, asks it where a publish goes beyond this node,
// and delivers what peers forward (`deliverFromPeer`). Without remote interest the publish path
// is what it was, after one boolean check.
import type { NodeConfig } from '../shared/config/index.js'
import type { Clock } from '../shared/clock.js'
import type { Logger } from '../shared/log.js'
import { encodeHeaders } from '../shared/protocol/index.js'
import type { MsgHeaders } from '../shared/protocol/index.js'
import { ResponseTracker, requestTimeoutFromHeader } from '../data-plane/response/index.js'
import type { ResponseStream } from '../data-plane/response/index.js'
import { pickIndex } from '../data-plane/ephemeral/index.js'
import { matchSubject, splitStreamSubject } from '../shared/subject/index.js'
import type { RandomSource } from '../data-plane/ephemeral/index.js'
import type { ClientConnection } from './client-connection.js'
import { createInterestIndex, subjectRules } from './interest.js'
import type { InterestIndex, SubjectRules } from './interest.js'
import type { Subscription } from './subscription.js'
import { LocalInterestTable } from './routes/local-interest.js'
import type { InterestEntry, InterestOp, RouteMessage, RouteStats, RouteTargets } from './routes/index.js'

const emptyPayload = new Uint8Array(0)
/** Reply inboxes are one-off subjects: matched without the index's cache. */
const uncached = { cache: false } as const
/** Named limit: subjects whose UTF-8 bytes are cached for MSG lines. */
const subjectBytesCacheEntriesMax = 8192

/** Status replies sent on a requester's reply subject (see docs/errors.md). */
const statusBlocks = {
  noResponders: encodeHeaders({ status: 503, entries: [] }),
  timeout: encodeHeaders({ status: 408, description: 'Request Timeout', entries: [] }),
  inUse: encodeHeaders({ status: 409, description: 'Response Stream In Use', entries: [] }),
  tooMany: encodeHeaders({ status: 429, description: 'Too Many Open Requests', entries: [] }),
} as const

/**
 * A message as an in-process subscriber receives it (the control API). The payload and header
 * block are copies: the handler may keep them after the input chunk they arrived in is reused.
 */
export interface LocalMessage {
  readonly subject: string
  readonly replyTo: string | undefined
  readonly headerBlock: Uint8Array | undefined
  readonly payload: Uint8Array
  /**
   * The header block already decoded, when the publisher was a client (the parser decodes it):
   * a handler reads it instead of decoding `headerBlock` again. Absent for the node's own
   * publications and peers' forwards.
   */
  readonly headers?: MsgHeaders | undefined
  /**
   * The peer that forwarded it; absent when it was published on this node. Cluster routing
   * forwards a publish from the node its publisher is connected to (one hop), so this is the
   * publisher's node (consumer groups of a multi-region stream serve a member by its region).
   */
  readonly fromNode?: string | undefined
}

export type LocalHandler = (message: LocalMessage) => void

export interface SubscribeLocalOptions {
  /**
   * true: the subscription is cluster-wide, like a client's: its interest is propagated to the
   * peers and it receives what they forward. Default false: node-local (the control API and
   * persistent-stream intake run on every node; a peer's publish must not reach them twice).
   */
  readonly cluster?: boolean
}

interface LocalSubscriber {
  readonly pattern: string
  /** The literal tokens before the first wildcard: a subject without it cannot match (no split per publish). */
  readonly literalPrefix: string
  readonly handler: LocalHandler
  readonly cluster: boolean
}

/**
 * What the router needs from cluster routing (server/routes), attached once the peer transport
 * is open. The router decides local deliveries; this decides which peers get a copy.
 */
export interface RouterRoutes {
  /** The peers a publish on `subject` goes to; `cache: false` for one-off subjects (inboxes). */
  targets(subject: string, cache: boolean): RouteTargets
  /**
   * Sends one copy to each target peer. Queue groups named in `servedLocally` got a local member;
   * each other group of `targets` is given to one peer holding members. Returns copies sent.
   */
  forward(subject: string, replyTo: string | undefined, headerBlock: Uint8Array | undefined, payload: Uint8Array, targets: RouteTargets, servedLocally: readonly string[]): number
  /** Any peer interest in `subject`. */
  hasRemoteInterest(subject: string): boolean
  /** This node's interest changed (0↔1 for one pattern and queue). */
  localInterestChanged(op: InterestOp): void
  /** A client's input chunk ended: send what `forward` gathered (as the router writes its clients then). */
  flushForwarded(): void
  stats(): RouteStats
}

/** What `attachRoutes` hands back to cluster routing. */
export interface RoutesAttachment {
  /**
   * Whether any peer holds interest now: false keeps every publish on the single-node path (one
   * boolean read). Routing calls it whenever its peer interest changes.
   */
  setRemoteInterest(present: boolean): void
  detach(): void
}

function literalPrefixOf(pattern: string): string {
  const tokens = pattern.split('.')
  const firstWildcard = tokens.findIndex((token) => token === '*' || token === '>' || token === '#')
  if (firstWildcard === -1) return pattern
  const head = tokens.slice(0, firstWildcard).join('.')
  // `#` matches zero tokens too (`a.#` matches `a`), so no trailing dot is required after it.
  if (head === '' || tokens[firstWildcard] === '#') return head
  return `${head}.`
}

/** Named limit: in-process subscribers on one router (a handful of node services). */
export const localSubscribersMax = 64

/**
 * Traffic of one ES stream (the subject's first token, shared/subject/stream.ts) as this node
 * routed it: publishes received, their bytes (payload + headers), and deliveries made (one per
 * subscription or group that got a copy, in-process subscribers included).
 */
export interface StreamTraffic {
  /** `namespace/name`; the namespace is `default` until connections carry their own. */
  readonly stream: string
  published: number
  publishedBytes: number
  delivered: number
}

/** Named limit: ES streams tracked one by one; publishes to further streams are counted under `overflowStreamKey`. */
export const streamTrafficEntriesMax = 1024
/** Where traffic of streams beyond `streamTrafficEntriesMax` is counted. */
export const overflowStreamKey = 'default/_other'
const trafficNamespace = 'default'

export interface RouterCounters {
  inMsgs: number
  inBytes: number
  outMsgs: number
  outBytes: number
  slowConsumers: number
}

export interface ClientTraffic {
  readonly connections: number
  readonly subscriptions: number
  readonly inMsgs: number
  readonly outMsgs: number
  readonly inBytes: number
  readonly outBytes: number
  readonly slowConsumers: number
}

export class Router {
  readonly config: NodeConfig
  readonly subjects: SubjectRules = subjectRules
  readonly index: InterestIndex = createInterestIndex()
  readonly responses: ResponseTracker<ClientConnection>
  readonly connections = new Set<ClientConnection>()
  readonly counters: RouterCounters = { inMsgs: 0, inBytes: 0, outMsgs: 0, outBytes: 0, slowConsumers: 0 }
  readonly #clock: Clock
  readonly #dirty: ClientConnection[] = []
  #flushScheduled = false
  /** True while a connection's input chunk is processed: its deliveries are written at its end. */
  #inChunk = false
  #timer: NodeJS.Timeout | undefined
  #timerDeadlineMs = Number.POSITIVE_INFINITY
  readonly #random: RandomSource
  #subjectBytes = new Map<string, Buffer>()
  /** In-process subscribers (few: node services); checked only when there is at least one. */
  #local: LocalSubscriber[] = []
  /** This node's interest per (pattern, queue): client subscriptions and cluster-wide in-process ones. */
  readonly #interest = new LocalInterestTable()
  #routes: RouterRoutes | undefined = undefined
  /** Routes attached and some peer holds interest: publishes take `#fanOutRouted`. */
  #routed = false
  /** Copies the last routed fan-out forwarded to peers (read only when `#routed`). */
  #forwardedCopies = 0
  /** Per ES stream traffic, keyed `namespace/name`; at most `streamTrafficEntriesMax` + overflow. */
  readonly streamTraffic = new Map<string, StreamTraffic>()
  /** Subject → its stream's traffic entry: one Map lookup per publish (cleared when full). */
  #trafficBySubject = new Map<string, StreamTraffic>()

  /** Lifecycle logging only (connection errors, closes); never per message. */
  readonly logger: Logger

  constructor(config: NodeConfig, clock: Clock, logger: Logger, random: RandomSource = Math.random) {
    this.config = config
    this.logger = logger
    this.#clock = clock
    this.#random = random
    this.responses = new ResponseTracker<ClientConnection>({
      clock,
      maxOpenPerOwner: config.responses.maxOpenPerConnection,
      untimedExpiryMs: config.responses.untimedExpiryMs,
    })
  }

  get subscriptionCount(): number {
    return this.index.size
  }

  /** Client-facing totals, as the admin stats and the metrics snapshot both show them. */
  clientTraffic(): ClientTraffic {
    const { inMsgs, outMsgs, inBytes, outBytes, slowConsumers } = this.counters
    return { connections: this.connections.size, subscriptions: this.subscriptionCount, inMsgs, outMsgs, inBytes, outBytes, slowConsumers }
  }

  // ---- flush scheduling ------------------------------------------------------------------

  scheduleFlush(connection: ClientConnection): void {
    if (connection.flushQueued) return
    connection.flushQueued = true
    this.#dirty.push(connection)
    if (!this.#inChunk && !this.#flushScheduled) {
      this.#flushScheduled = true
      setImmediate(this.#flushAll)
    }
  }

  /**
   * A connection's input chunk is being processed: hold its writes until `endChunk`, which writes
   * them at once, as nats-server does at the end of each read. A lone request or response goes
   * out without waiting for the end of the event-loop turn (setImmediate), and a burst read as
   * one chunk is still one write per connection. Deliveries made outside a chunk (timers,
   * pings) keep the per-turn flush.
   */
  beginChunk(): void {
    this.#inChunk = true
  }

  endChunk(): void {
    this.#inChunk = false
    if (this.#routed) (this.#routes as RouterRoutes).flushForwarded()
    if (this.#dirty.length > 0) this.#flushDirty()
  }

  readonly #flushAll = (): void => {
    this.#flushScheduled = false
    this.#flushDirty()
  }

  #flushDirty(): void {
    // Reused, not replaced: this runs once per input chunk. Nothing below re-enters scheduleFlush
    // (a socket write never calls back synchronously).
    const dirty = this.#dirty
    for (let index = 0; index < dirty.length; index += 1) {
      const connection = dirty[index] as ClientConnection
      connection.flushQueued = false
      if (!connection.closing) connection.outbound.flush()
    }
    dirty.length = 0
  }

  /** Flush every connection now (drain). */
  flushNow(): void {
    this.#flushAll()
  }

  // ---- subscriptions ---------------------------------------------------------------------

  addSubscription(subscription: Subscription): void {
    if (this.index.add(subscription)) this.#interestAdded(subscription.subject, subscription.queue)
  }

  removeSubscription(subscription: Subscription): void {
    subscription.active = false
    if (this.index.remove(subscription)) this.#interestRemoved(subscription.subject, subscription.queue)
  }

  #interestAdded(pattern: string, queue: string | undefined): void {
    if (this.#interest.add(pattern, queue)) this.#routes?.localInterestChanged({ op: 'add', pattern, queue })
  }

  #interestRemoved(pattern: string, queue: string | undefined): void {
    if (this.#interest.remove(pattern, queue)) this.#routes?.localInterestChanged({ op: 'remove', pattern, queue })
  }

  /** This node's interest as its peers should know it (client subscriptions, cluster-wide in-process ones). */
  localInterest(): InterestEntry[] {
    return this.#interest.entries()
  }

  /**
   * An in-process subscriber on `pattern` (NATS wildcards): it receives what clients and
   * `publishLocal` publish on matching subjects, like a plain subscription, and counts as a
   * responder (no 503). With `{ cluster: true }` it is reachable from the whole cluster (see
   * `SubscribeLocalOptions`). Returns the unsubscribe function (idempotent).
   */
  subscribeLocal(pattern: string, handler: LocalHandler, options: SubscribeLocalOptions = {}): () => void {
    if (this.#local.length >= localSubscribersMax) throw new RangeError(`at most ${localSubscribersMax} in-process subscribers`)
    const cluster = options.cluster === true
    // Propagated to peers, which refuse a frame holding an invalid pattern: a caller bug, caught here.
    if (cluster && !this.subjects.isValidSubscribeSubject(pattern)) throw new RangeError(`invalid cluster-wide subscription pattern ${JSON.stringify(pattern)}`)
    const subscriber: LocalSubscriber = { pattern, literalPrefix: literalPrefixOf(pattern), handler, cluster }
    this.#local = [...this.#local, subscriber]
    if (cluster) this.#interestAdded(pattern, undefined)
    return () => {
      if (!this.#local.includes(subscriber)) return
      this.#local = this.#local.filter((entry) => entry !== subscriber)
      if (cluster) this.#interestRemoved(pattern, undefined)
    }
  }

  /**
   * Any interest in the literal `subject` here or on a peer: a client subscription, an
   * in-process subscriber, or a peer's (a controller notices a consumer's inbox is gone). Reads
   * and fills no match cache.
   */
  hasInterest(subject: string): boolean {
    for (const subscriber of this.#local) {
      if (subject.startsWith(subscriber.literalPrefix) && matchSubject(subscriber.pattern, subject)) return true
    }
    const match = this.index.match(subject, uncached)
    if (match.plain.length > 0 || match.groups.size > 0) return true
    return this.#routes !== undefined && this.#routes.hasRemoteInterest(subject)
  }

  /** Cluster routing attaches here (server/routes). One at a time. */
  attachRoutes(routes: RouterRoutes): RoutesAttachment {
    if (this.#routes !== undefined) throw new Error('router: cluster routes are attached already')
    this.#routes = routes
    return {
      setRemoteInterest: (present) => {
        if (this.#routes === routes) this.#routed = present
      },
      detach: () => {
        if (this.#routes !== routes) return
        this.#routes = undefined
        this.#routed = false
      },
    }
  }

  /** Cluster routing counters per peer; undefined on a node without routes. */
  routeStats(): RouteStats | undefined {
    return this.#routes?.stats()
  }

  /**
   * Publishes from inside the node (API replies, system events) to client subscriptions and
   * in-process subscribers. A publish to an open response stream is its response, as for a client.
   * Returns how many subscriptions received it, plus one per copy forwarded to a peer (0 = no
   * one anywhere).
   */
  publishLocal(subject: string, replyTo: string | undefined, headerBlock: Uint8Array | undefined, payload: Uint8Array): number {
    // `inMsgs`/`inBytes` count what clients sent; the node's own publications are not input.
    const isResponse = this.responses.size > 0 && this.responses.respond(subject) !== undefined
    const delivered = this.#fanOut(undefined, subject, replyTo, headerBlock, payload, isResponse, undefined)
    this.#countStream(subject, isResponse, payload.length + (headerBlock === undefined ? 0 : headerBlock.length), delivered)
    // Deliveries made outside a client's input chunk are flushed at the end of the turn.
    return this.#routed ? delivered + this.#forwardedCopies : delivered
  }

  /** `fromPeer`: only cluster-wide subscribers receive what a peer forwarded; `fromNode` names that peer. */
  #deliverLocal(subject: string, replyTo: string | undefined, headerBlock: Uint8Array | undefined, payload: Uint8Array, fromPeer: boolean, headers: MsgHeaders | undefined, fromNode?: string): number {
    let delivered = 0
    for (const subscriber of this.#local) {
      if ((fromPeer && !subscriber.cluster) || !subject.startsWith(subscriber.literalPrefix) || !matchSubject(subscriber.pattern, subject)) continue
      subscriber.handler({ subject, replyTo, headerBlock: headerBlock === undefined ? undefined : headerBlock.slice(), payload: payload.slice(), headers, fromNode })
      delivered += 1
    }
    return delivered
  }

  attach(connection: ClientConnection): void {
    this.connections.add(connection)
  }

  /** Forget a closing connection: its subscriptions and its response streams. */
  detach(connection: ClientConnection): void {
    if (!this.connections.delete(connection)) return
    for (const subscription of connection.subscriptions.values()) this.removeSubscription(subscription)
    connection.subscriptions.clear()
    this.responses.closeOwner(connection)
  }

  countOut(bytes: number): void {
    this.counters.outMsgs += 1
    this.counters.outBytes += bytes
  }

  countSlowConsumer(): void {
    this.counters.slowConsumers += 1
  }

  // ---- publishing ------------------------------------------------------------------------

  publish(
    from: ClientConnection,
    subject: string,
    replyTo: string | undefined,
    headers: MsgHeaders | undefined,
    headerBlock: Uint8Array | undefined,
    payload: Uint8Array,
  ): void {
    const counters = this.counters
    counters.inMsgs += 1
    counters.inBytes += payload.length + (headerBlock === undefined ? 0 : headerBlock.length)
    // A publish to an open RS is its response: the RS ends; the message is delivered as usual.
    const isResponse = this.responses.size > 0 && this.responses.respond(subject) !== undefined
    let opened = false
    if (replyTo !== undefined) {
      const verdict = this.#openResponseStream(from, subject, replyTo, headers)
      if (verdict === 'refused') return
      opened = verdict === 'opened'
    }
    const delivered = this.#fanOut(from, subject, replyTo, headerBlock, payload, isResponse, headers)
    this.#countStream(subject, isResponse, payload.length + (headerBlock === undefined ? 0 : headerBlock.length), delivered)
    if (delivered === 0 && replyTo !== undefined) this.#noLocalResponder(from, replyTo, opened)
  }

  /**
   * A request no local subscriber received. Kept out of `publish` on purpose: a bigger `publish`
   * measured ~2 ns slower per message (V8 inlines less into it).
   */
  #noLocalResponder(from: ClientConnection, replyTo: string, opened: boolean): void {
    // A request forwarded to a peer has a responder there (its interest said so): no 503 here.
    if (this.#routed && this.#forwardedCopies > 0) return
    if (opened) this.responses.respond(replyTo)
    if (from.noResponders) this.#sendStatus(from, replyTo, statusBlocks.noResponders)
  }

  #countStreamDeliveries(subject: string, isResponse: boolean, delivered: number): void {
    if (delivered === 0) return
    const traffic = (isResponse ? undefined : this.#trafficBySubject.get(subject)) ?? this.#trafficOf(subject)
    traffic.delivered += delivered
  }

  /** Per-stream counters: a cached subject costs one Map lookup; a response's inbox is not cached. */
  #countStream(subject: string, isResponse: boolean, bytes: number, delivered: number): void {
    let traffic = isResponse ? undefined : this.#trafficBySubject.get(subject)
    if (traffic === undefined) {
      traffic = this.#trafficOf(subject)
      if (!isResponse) {
        if (this.#trafficBySubject.size >= subjectBytesCacheEntriesMax) this.#trafficBySubject = new Map()
        this.#trafficBySubject.set(subject, traffic)
      }
    }
    traffic.published += 1
    traffic.publishedBytes += bytes
    traffic.delivered += delivered
  }

  #trafficOf(subject: string): StreamTraffic {
    const key = `${trafficNamespace}/${splitStreamSubject(subject).stream}`
    let traffic = this.streamTraffic.get(key)
    if (traffic !== undefined) return traffic
    const full = this.streamTraffic.size >= streamTrafficEntriesMax
    traffic = full ? this.streamTraffic.get(overflowStreamKey) : undefined
    if (traffic !== undefined) return traffic
    const stream = full ? overflowStreamKey : key
    traffic = { stream, published: 0, publishedBytes: 0, delivered: 0 }
    this.streamTraffic.set(stream, traffic)
    return traffic
  }

  /** UTF-8 bytes of a subject, cached: most traffic repeats a few subjects. */
  #bytesOf(subject: string): Buffer {
    let bytes = this.#subjectBytes.get(subject)
    if (bytes === undefined) {
      bytes = Buffer.from(subject, 'utf8')
      if (this.#subjectBytes.size >= subjectBytesCacheEntriesMax) this.#subjectBytes = new Map()
      this.#subjectBytes.set(subject, bytes)
    }
    return bytes
  }

  /** Local deliveries made; when routed, copies forwarded to peers are left in `#forwardedCopies`. */
  #fanOut(
    from: ClientConnection | undefined,
    subjectText: string,
    replyText: string | undefined,
    headerBlock: Uint8Array | undefined,
    payload: Uint8Array,
    isResponse: boolean,
    headers: MsgHeaders | undefined,
  ): number {
    if (this.#routed) return this.#fanOutRouted(this.#routes as RouterRoutes, from, subjectText, replyText, headerBlock, payload, isResponse, headers)
    const local = this.#local.length === 0 ? 0 : this.#deliverLocal(subjectText, replyText, headerBlock, payload, false, headers)
    const match = isResponse ? this.index.match(subjectText, uncached) : this.index.match(subjectText)
    if (match.plain.length === 0 && match.groups.size === 0) return local
    // A response goes to a one-off inbox subject: caching its bytes would only churn the cache.
    const subject = isResponse ? Buffer.from(subjectText, 'utf8') : this.#bytesOf(subjectText)
    // Reply subjects are mostly unique (one inbox token per request): encode, do not cache.
    const replyTo = replyText === undefined ? undefined : Buffer.from(replyText, 'utf8')
    const echo = from === undefined || from.echo
    let delivered = local
    const plain = match.plain
    for (let index = 0; index < plain.length; index += 1) {
      const subscription = plain[index] as Subscription
      if (!subscription.active || (!echo && subscription.connection === from)) continue
      subscription.connection.deliver(subscription, subject, replyTo, headerBlock, payload)
      delivered += 1
    }
    if (match.groups.size === 0) return delivered
    for (const members of match.groups.values()) {
      const chosen = this.#pickMember(members, echo ? undefined : from)
      if (chosen === undefined) continue
      chosen.connection.deliver(chosen, subject, replyTo, headerBlock, payload)
      delivered += 1
    }
    return delivered
  }

  /**
   * `#fanOut` when peers hold interest: the same local deliveries, recording which queue groups
   * a local member served (a group goes to one member cluster-wide, a local one first), then one
   * copy to each peer with plain interest or an unserved group. Kept apart so the single-node
   * path above stays exactly as lean as before.
   */
  #fanOutRouted(
    routes: RouterRoutes,
    from: ClientConnection | undefined,
    subjectText: string,
    replyText: string | undefined,
    headerBlock: Uint8Array | undefined,
    payload: Uint8Array,
    isResponse: boolean,
    headers: MsgHeaders | undefined,
  ): number {
    const targets = routes.targets(subjectText, !isResponse)
    let delivered = this.#local.length === 0 ? 0 : this.#deliverLocal(subjectText, replyText, headerBlock, payload, false, headers)
    const match = isResponse ? this.index.match(subjectText, uncached) : this.index.match(subjectText)
    const served: string[] = []
    if (match.plain.length > 0 || match.groups.size > 0) {
      const subject = isResponse ? Buffer.from(subjectText, 'utf8') : this.#bytesOf(subjectText)
      const replyTo = replyText === undefined ? undefined : Buffer.from(replyText, 'utf8')
      const echo = from === undefined || from.echo
      for (const subscription of match.plain) {
        if (!subscription.active || (!echo && subscription.connection === from)) continue
        subscription.connection.deliver(subscription, subject, replyTo, headerBlock, payload)
        delivered += 1
      }
      for (const [queue, members] of match.groups) {
        const chosen = this.#pickMember(members, echo ? undefined : from)
        if (chosen === undefined) continue
        chosen.connection.deliver(chosen, subject, replyTo, headerBlock, payload)
        delivered += 1
        served.push(queue)
      }
    }
    this.#forwardedCopies = targets.peers.length === 0 && targets.groups.size === 0 ? 0 : routes.forward(subjectText, replyText, headerBlock, payload, targets, served)
    return delivered
  }

  /**
   * A message a peer forwarded (it was authorized on the publisher's node; subscribe permission
   * was checked at SUB time). Delivered here only, never forwarded again (full mesh, one hop): to
   * every matching plain subscription, to one member of each queue group the peer named, and to
   * cluster-wide in-process subscribers (with `fromNode`, the peer). A response ends the
   * requester's RS here. Returns the deliveries made.
   */
  deliverFromPeer(message: RouteMessage, fromNode?: string): number {
    const { subject: subjectText, replyTo: replyText, headerBlock, payload, queues } = message
    const isResponse = this.responses.size > 0 && this.responses.respond(subjectText) !== undefined
    let delivered = this.#local.length === 0 ? 0 : this.#deliverLocal(subjectText, replyText, headerBlock, payload, true, undefined, fromNode)
    const match = isResponse ? this.index.match(subjectText, uncached) : this.index.match(subjectText)
    if (match.plain.length > 0 || (queues.length > 0 && match.groups.size > 0)) {
      const subject = isResponse ? Buffer.from(subjectText, 'utf8') : this.#bytesOf(subjectText)
      const replyTo = replyText === undefined ? undefined : Buffer.from(replyText, 'utf8')
      for (const subscription of match.plain) {
        if (!subscription.active) continue
        subscription.connection.deliver(subscription, subject, replyTo, headerBlock, payload)
        delivered += 1
      }
      for (const queue of queues) {
        const members = match.groups.get(queue)
        // The member may have left since the peer chose us: at-most-once, the message is dropped.
        const chosen = members === undefined ? undefined : this.#pickMember(members, undefined)
        if (chosen === undefined) continue
        chosen.connection.deliver(chosen, subject, replyTo, headerBlock, payload)
        delivered += 1
      }
    }
    // Published on the peer (counted there); the deliveries are this node's.
    this.#countStreamDeliveries(subjectText, isResponse, delivered)
    return delivered
  }

  /**
   * One member of a queue group, uniformly at random among the eligible ones (the rule of
   * data-plane/ephemeral/fanout.ts, inlined here so a delivery allocates nothing). Ineligible:
   * removed (auto-unsubscribed during this fan-out), closing, or the publisher with echo off.
   */
  #pickMember(members: readonly Subscription[], exclude: ClientConnection | undefined): Subscription | undefined {
    const count = members.length
    if (count === 0) return undefined
    const start = pickIndex(this.#random, count)
    for (let step = 0; step < count; step += 1) {
      const member = members[(start + step) % count] as Subscription
      if (member.active && member.connection !== exclude && !member.connection.closing) return member
    }
    return undefined
  }

  /**
   * A request: if the requester subscribes to its reply subject, open an RS for it. Returns
   * 'refused' when the request must not be delivered (RS in use by another connection, or the
   * requester's RS limit), having told the requester with a status reply.
   */
  #openResponseStream(from: ClientConnection, subject: string, replyTo: string, headers: MsgHeaders | undefined): 'opened' | 'untracked' | 'refused' {
    if (!this.#ownsInterest(from, replyTo)) {
      // Not a request we can answer for (the reply goes elsewhere). Still exclusive: a reply
      // subject that is someone else's open RS cannot be named.
      const existing = this.responses.get(replyTo)
      if (existing !== undefined && existing.owner !== from) return 'refused'
      return 'untracked'
    }
    const timeoutMs = requestTimeoutFromHeader(headers) ?? this.config.responses.defaultTimeoutMs
    const result = this.responses.open(from, replyTo, subject, timeoutMs)
    if (result.kind === 'opened') {
      this.#armTimer()
      return 'opened'
    }
    this.#sendStatus(from, replyTo, result.kind === 'in-use' ? statusBlocks.inUse : statusBlocks.tooMany)
    return 'refused'
  }

  #ownsInterest(connection: ClientConnection, subject: string): boolean {
    const match = this.index.match(subject, uncached)
    for (const subscription of match.plain) if (subscription.connection === connection) return true
    for (const group of match.groups.values()) for (const subscription of group) if (subscription.connection === connection) return true
    return false
  }

  /** An empty HMSG with a status line, to the requester's own subscriptions on `replyTo`. */
  #sendStatus(to: ClientConnection, replyText: string, block: Uint8Array): void {
    if (!to.headers || to.closing) return
    const match = this.index.match(replyText, uncached)
    const replyTo = Buffer.from(replyText, 'utf8')
    for (const subscription of match.plain) {
      if (subscription.connection === to && subscription.active) to.deliver(subscription, replyTo, undefined, block, emptyPayload)
    }
    for (const group of match.groups.values()) {
      for (const subscription of group) {
        if (subscription.connection === to && subscription.active) {
          to.deliver(subscription, replyTo, undefined, block, emptyPayload)
          break
        }
      }
    }
  }

  // ---- response stream timers ------------------------------------------------------------

  #armTimer(): void {
    const nextMs = this.responses.nextDeadlineMs()
    if (nextMs === undefined || nextMs >= this.#timerDeadlineMs) return
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timerDeadlineMs = nextMs
    this.#timer = setTimeout(this.#onTimer, Math.max(0, nextMs - this.#clock.nowMs()))
    this.#timer.unref()
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined
    this.#timerDeadlineMs = Number.POSITIVE_INFINITY
    const expired: Array<ResponseStream<ClientConnection>> = this.responses.expire()
    for (const stream of expired) {
      if (stream.timed) this.#sendStatus(stream.owner, stream.replySubject, statusBlocks.timeout)
    }
    this.#armTimer()
  }

  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#timerDeadlineMs = Number.POSITIVE_INFINITY
  }
}
