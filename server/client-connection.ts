// One client connection: INFO on accept, the shared parser (role `server`), the NATS verbs, and
// the fatal/non-fatal error policy. Routing (who receives a PUB) lives in `router.ts`; this file
// turns parsed ops into router calls and router deliveries into MSG/HMSG frames.
import type { Socket } from 'node:net'
import { createParser, encodeErr, encodeHeaders, okBytes, pingBytes, pongBytes, parserErrorTexts } from '../shared/protocol/index.js'
import type { ConnectOptions, MsgHeaders, ProtocolOp, ProtocolParser } from '../shared/protocol/index.js'
import { errorCodes } from '../shared/errors.js'
import type { ErrorCode } from '../shared/errors.js'
import { OutboundBuffer } from './outbound.js'
import { Subscription } from './subscription.js'
import type { Router } from './router.js'

/**
 * Queued bytes at which a connection is written at once instead of at the end of the turn: a
 * publisher's burst can fill many reads in one event-loop turn, and holding every delivery until
 * the turn ends would stop the reader from working in parallel (no pipelining).
 */
export const eagerFlushBytes = 64 * 1024

/** How long a closing connection may take to flush its last bytes before it is destroyed. */
export const closeLingerMs = 2_000

export class ClientConnection {
  readonly id: number
  readonly socket: Socket
  readonly outbound: OutboundBuffer
  readonly subscriptions = new Map<string, Subscription>()
  readonly #router: Router
  readonly #parser: ProtocolParser
  /** CONNECT received. */
  connected = false
  verbose = false
  echo = true
  headers = false
  noResponders = false
  pedantic = false
  name: string | undefined = undefined
  pingsOutstanding = 0
  /** Set by the flush scheduler while this connection waits for a flush. */
  flushQueued = false
  closing = false

  constructor(router: Router, socket: Socket, id: number) {
    this.#router = router
    this.socket = socket
    this.id = id
    this.outbound = new OutboundBuffer(socket)
    const limits = router.config.limits
    this.#parser = createParser({
      role: 'server',
      controlLineBytesMax: limits.maxControlLineBytes,
      payloadBytesMax: limits.maxPayloadBytes,
    })
  }

  /** Feed one chunk from the socket; what it queues is written when it is processed. */
  receive(chunk: Uint8Array): void {
    if (this.closing) return
    const router = this.#router
    router.beginChunk()
    try {
      const { ops, error } = this.#parser.push(chunk)
      for (let index = 0; index < ops.length && !this.closing; index += 1) this.#handle(ops[index] as ProtocolOp)
      if (error !== undefined && !this.closing) this.fail(parserErrorTexts[error.kind])
    } finally {
      // Everything this chunk queued (here and on other connections) is written now.
      router.endChunk()
    }
  }

  #handle(op: ProtocolOp): void {
    switch (op.op) {
      case 'PUB':
        if (!this.#requireConnect()) return
        this.#publish(op.subject, op.replyTo, undefined, op.payload)
        return
      case 'HPUB':
        if (!this.#requireConnect()) return
        this.#publish(op.subject, op.replyTo, op.headers, op.payload, op.rawHeaders)
        return
      case 'SUB':
        if (!this.#requireConnect()) return
        this.#subscribe(op.subject, op.queue, op.sid)
        return
      case 'UNSUB':
        if (!this.#requireConnect()) return
        this.#unsubscribe(op.sid, op.maxMsgs)
        return
      case 'PING':
        this.outbound.append(pongBytes)
        this.#queued()
        return
      case 'PONG':
        this.pingsOutstanding = 0
        return
      case 'CONNECT':
        this.#connect(op.options)
        return
      default:
        // The server-role parser only yields client verbs; anything else is a protocol error.
        this.fail(parserErrorTexts.unknownOperation)
    }
  }

  #requireConnect(): boolean {
    if (this.connected) return true
    this.failWith('RG_ERR_CONNECT_REQUIRED')
    return false
  }

  #connect(options: ConnectOptions): void {
    this.connected = true
    this.verbose = options.verbose === true
    this.pedantic = options.pedantic === true
    this.echo = options.echo !== false
    this.headers = options.headers === true
    this.noResponders = options.no_responders === true && this.headers
    this.name = options.name
    this.#ok()
  }

  #ok(): void {
    if (!this.verbose) return
    this.outbound.append(okBytes)
    this.#queued()
  }

  #publish(
    subject: string,
    replyTo: string | undefined,
    headers: MsgHeaders | undefined,
    payload: Uint8Array,
    rawHeaders?: Uint8Array,
  ): void {
    const rules = this.#router.subjects
    if (!rules.isValidPublishSubject(subject) || (replyTo !== undefined && !rules.isValidReplySubject(replyTo))) {
      this.sendError('RG_ERR_INVALID_SUBJECT')
      return
    }
    // Forward the header block byte for byte when the parser kept it; re-encode otherwise.
    let headerBlock: Uint8Array | undefined = rawHeaders
    if (headers !== undefined && headerBlock === undefined) {
      try {
        headerBlock = encodeHeaders(headers)
      } catch {
        this.fail(parserErrorTexts.malformed)
        return
      }
    }
    this.#router.publish(this, subject, replyTo, headers, headerBlock, payload)
    this.#ok()
  }

  #subscribe(subject: string, queue: string | undefined, sid: string): void {
    const rules = this.#router.subjects
    if (!rules.isValidSubscribeSubject(subject) || (queue !== undefined && !rules.isValidQueueName(queue))) {
      this.sendError('RG_ERR_INVALID_SUBJECT')
      return
    }
    if (this.subscriptions.has(sid)) {
      // NATS keeps the first subscription for a repeated sid.
      this.#ok()
      return
    }
    if (this.subscriptions.size >= this.#router.config.limits.maxSubscriptionsPerConnection) {
      this.sendError('RG_ERR_MAX_SUBSCRIPTIONS')
      return
    }
    const subscription = new Subscription(this, sid, subject, queue)
    this.subscriptions.set(sid, subscription)
    this.#router.addSubscription(subscription)
    this.#ok()
  }

  #unsubscribe(sid: string, maxMsgs: number | undefined): void {
    const subscription = this.subscriptions.get(sid)
    if (subscription !== undefined) {
      if (maxMsgs !== undefined && maxMsgs > 0 && subscription.delivered < maxMsgs) subscription.maxMsgs = maxMsgs
      else this.removeSubscription(subscription)
    }
    this.#ok()
  }

  removeSubscription(subscription: Subscription): void {
    if (!subscription.active) return
    this.subscriptions.delete(subscription.sid)
    this.#router.removeSubscription(subscription)
  }

  /**
   * Queue one MSG (or HMSG when there are headers and this client speaks them; a client without
   * headers gets the payload alone, as nats-server does). Returns false if the connection closed.
   */
  deliver(
    subscription: Subscription,
    subject: Uint8Array,
    replyTo: Uint8Array | undefined,
    headerBlock: Uint8Array | undefined,
    payload: Uint8Array,
  ): boolean {
    const outbound = this.outbound
    let bytes: number
    if (headerBlock !== undefined && this.headers) {
      const total = headerBlock.length + payload.length
      outbound.appendHmsgLine(subject, subscription.sidBytes, replyTo, headerBlock.length, total)
      outbound.append(headerBlock)
      bytes = total
    } else {
      outbound.appendMsgLine(subject, subscription.sidBytes, replyTo, payload.length)
      bytes = payload.length
    }
    outbound.appendPayloadLine(payload)
    subscription.delivered += 1
    if (subscription.maxMsgs !== undefined && subscription.delivered >= subscription.maxMsgs) this.removeSubscription(subscription)
    this.#router.countOut(bytes)
    return this.#queued()
  }

  /**
   * After queueing anything: enforce `maxPendingBytes` (every reply counts, so a client that
   * sends PINGs or verbose PUBs and never reads is bounded too), then schedule the flush.
   */
  #queued(): boolean {
    if (this.outbound.pendingBytes > this.#router.config.limits.maxPendingBytes) {
      this.#router.countSlowConsumer()
      this.failWith('RG_ERR_SLOW_CONSUMER', true)
      return false
    }
    if (this.outbound.queuedBytes >= eagerFlushBytes) this.outbound.flush()
    else this.#router.scheduleFlush(this)
    return true
  }

  /** Send a server PING (driven by the node's ping ticker); false if this made the connection stale. */
  ping(): boolean {
    if (this.closing) return false
    if (this.pingsOutstanding >= this.#router.config.limits.maxPingsOutstanding) {
      this.failWith('RG_ERR_STALE_CONNECTION')
      return false
    }
    this.pingsOutstanding += 1
    this.outbound.append(pingBytes)
    return this.#queued()
  }

  /** A non-fatal `-ERR` (the connection stays open). */
  sendError(code: ErrorCode): void {
    const text = errorCodes[code].natsText
    if (text === undefined) return
    if (errorCodes[code].fatal) {
      this.failWith(code)
      return
    }
    this.outbound.append(encodeErr(text))
    this.#queued()
  }

  failWith(code: ErrorCode, dropQueued = false): void {
    this.fail(errorCodes[code].natsText ?? code, dropQueued)
  }

  /** A fatal error: `-ERR '<text>'`, flush, close this connection only. */
  fail(text: string, dropQueued = false): void {
    if (this.closing) return
    this.#router.logger.debug({ clientId: this.id, name: this.name, error: text }, 'closing client connection')
    if (dropQueued) this.outbound.discard()
    this.outbound.append(encodeErr(text))
    this.close()
  }

  /** Flush what is queued, half-close, and destroy after a bounded linger. */
  close(): void {
    if (this.closing) return
    this.closing = true
    this.#router.detach(this)
    this.outbound.flush()
    const socket = this.socket
    socket.end()
    const timer = setTimeout(() => socket.destroy(), closeLingerMs)
    timer.unref()
    socket.once('close', () => clearTimeout(timer))
  }

  /** The socket went away underneath us. */
  closedByPeer(): void {
    if (this.closing) return
    this.closing = true
    this.outbound.discard()
    this.#router.detach(this)
    this.socket.destroy()
  }
}
