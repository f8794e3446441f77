// Node-wide routing state: the interest index, response streams (RS), counters (node-wide and per
// ES stream), and the flush scheduler that coalesces socket writes per event-loop turn.
// Connections call in here for every PUB/HPUB/SUB/UNSUB; nothing here logs or allocates a Promise
// per message.
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
}

export type LocalHandler = (message: LocalMessage) => void

interface LocalSubscriber {
  readonly pattern: string
  /** The literal tokens before the first wildcard: a subject without it cannot match (no split per publish). */
  readonly literalPrefix: string
  readonly handler: LocalHandler
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
    this.index.add(subscription)
  }

  removeSubscription(subscription: Subscription): void {
    subscription.active = false
    this.index.remove(subscription)
  }

  /**
   * An in-process subscriber on `pattern` (NATS wildcards): it receives what clients and
   * `publishLocal` publish on matching subjects, like a plain subscription, and counts as a
   * responder (no 503). Returns the unsubscribe function.
   */
  subscribeLocal(pattern: string, handler: LocalHandler): () => void {
    if (this.#local.length >= localSubscribersMax) throw new RangeError(`at most ${localSubscribersMax} in-process subscribers`)
    const subscriber: LocalSubscriber = { pattern, literalPrefix: literalPrefixOf(pattern), handler }
    this.#local = [...this.#local, subscriber]
    return () => {
      this.#local = this.#local.filter((entry) => entry !== subscriber)
    }
  }

  /**
   * Publishes from inside the node (API replies, system events) to client subscriptions and
   * in-process subscribers. A publish to an open response stream is its response, as for a client.
   * Returns how many subscriptions received it.
   */
  publishLocal(subject: string, replyTo: string | undefined, headerBlock: Uint8Array | undefined, payload: Uint8Array): number {
    // `inMsgs`/`inBytes` count what clients sent; the node's own publications are not input.
    const isResponse = this.responses.size > 0 && this.responses.respond(subject) !== undefined
    const delivered = this.#fanOut(undefined, subject, replyTo, headerBlock, payload, isResponse)
    this.#countStream(subject, isResponse, payload.length + (headerBlock === undefined ? 0 : headerBlock.length), delivered)
    // Deliveries made outside a client's input chunk are flushed at the end of the turn.
    return delivered
  }

  #deliverLocal(subject: string, replyTo: string | undefined, headerBlock: Uint8Array | undefined, payload: Uint8Array): number {
    let delivered = 0
    for (const subscriber of this.#local) {
      if (!subject.startsWith(subscriber.literalPrefix) || !matchSubject(subscriber.pattern, subject)) continue
      subscriber.handler({ subject, replyTo, headerBlock: headerBlock === undefined ? undefined : headerBlock.slice(), payload: payload.slice() })
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
    const delivered = this.#fanOut(from, subject, replyTo, headerBlock, payload, isResponse)
    this.#countStream(subject, isResponse, payload.length + (headerBlock === undefined ? 0 : headerBlock.length), delivered)
    if (delivered === 0 && replyTo !== undefined) {
      if (opened) this.responses.respond(replyTo)
      if (from.noResponders) this.#sendStatus(from, replyTo, statusBlocks.noResponders)
    }
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

  #fanOut(
    from: ClientConnection | undefined,
    subjectText: string,
    replyText: string | undefined,
    headerBlock: Uint8Array | undefined,
    payload: Uint8Array,
    isResponse: boolean,
  ): number {
    const local = this.#local.length === 0 ? 0 : this.#deliverLocal(subjectText, replyText, headerBlock, payload)
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
