// One client connection: INFO on accept, the shared parser (role `server`), the NATS verbs, and
// the fatal/non-fatal error policy. Routing (who receives a PUB) lives in `router.ts`; this file
// turns parsed ops into router calls and router deliveries into MSG/HMSG frames.
// With access control on (`ClientAccess`), CONNECT is authenticated before anything after it is
// processed, and every PUB/HPUB/SUB is authorized against the current cluster state.
import type { Socket } from 'node:net'
import { createParser, encodeErr, encodeHeaders, okBytes, pingBytes, pongBytes, parserErrorTexts } from '../shared/protocol/index.js'
import type { ConnectOptions, MsgHeaders, ParserError, ProtocolOp, ProtocolParser } from '../shared/protocol/index.js'
import { credentialsOf } from '../shared/security/authenticator.js'
import type { Authenticator, Principal } from '../shared/security/authenticator.js'
import type { Authorizer } from '../shared/security/authorizer.js'
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

/** Access control for client connections; absent = open (no authentication, no permission checks). */
export interface ClientAccess {
  readonly authenticator: Authenticator
  /** Absent = authenticated principals may do anything. */
  readonly authorizer?: Authorizer
  /** A connection that has not sent an accepted CONNECT by then is closed (default `authenticationTimeoutMs`). */
  readonly timeoutMs?: number
}

/** How long an unauthenticated connection may stay (nats-server's `auth_timeout` is 2 s; the machine may be loaded). */
export const authenticationTimeoutMs = 5_000

/** Bytes a connection may send while its CONNECT is being authenticated (the socket is paused meanwhile). */
export const authenticatingHeldBytesMax = 1024 * 1024

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
  /** Who authenticated on this connection (access control on and CONNECT accepted). */
  principal: Principal | undefined = undefined
  readonly #access: ClientAccess | undefined
  /** The remote address (rate limits and logs). */
  readonly #source: string
  /** CONNECT is being authenticated: what arrived after it waits here, in order. */
  #authenticating = false
  #heldOps: ProtocolOp[] = []
  #heldError: ParserError | undefined = undefined
  #heldChunks: Uint8Array[] = []
  #heldBytes = 0
  /** The authorizer version the live subscriptions were last checked against. */
  #checkedVersion: unknown = undefined
  #authTimer: NodeJS.Timeout | undefined = undefined

  constructor(router: Router, socket: Socket, id: number, access?: ClientAccess) {
    this.#router = router
    this.socket = socket
    this.id = id
    this.#access = access
    this.#source = socket.remoteAddress ?? 'unknown'
    if (access !== undefined) {
      this.#authTimer = setTimeout(() => {
        // A verdict in progress (scrypt) is waited for; silence is not.
        if (!this.connected && !this.#authenticating) this.failWith('RG_ERR_AUTH_TIMEOUT')
      }, access.timeoutMs ?? authenticationTimeoutMs)
      this.#authTimer.unref()
    }
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
    if (this.#authenticating) {
      this.#hold(chunk)
      return
    }
    const router = this.#router
    router.beginChunk()
    try {
      const { ops, error } = this.#parser.push(chunk)
      this.#run(ops, 0, error)
    } finally {
      // Everything this chunk queued (here and on other connections) is written now.
      router.endChunk()
    }
  }

  #run(ops: readonly ProtocolOp[], start: number, error: ParserError | undefined): void {
    for (let index = start; index < ops.length && !this.closing; index += 1) {
      this.#handle(ops[index] as ProtocolOp)
      if (this.#authenticating) {
        // The rest waits for the verdict on CONNECT (a client pipelines CONNECT, SUBs, PING).
        this.#heldOps = ops.slice(index + 1)
        this.#heldError = error
        return
      }
    }
    if (error !== undefined && !this.closing) this.fail(parserErrorTexts[error.kind])
  }

  #hold(chunk: Uint8Array): void {
    this.#heldBytes += chunk.length
    if (this.#heldBytes > authenticatingHeldBytesMax) {
      this.failWith('RG_ERR_SLOW_CONSUMER', true)
      return
    }
    this.#heldChunks.push(chunk)
  }

  /** The verdict on CONNECT arrived: process what waited, in order (it may hold another CONNECT). */
  #resume(): void {
    this.#authenticating = false
    if (!this.closing) this.socket.resume()
    const ops = this.#heldOps
    const error = this.#heldError
    this.#heldOps = []
    this.#heldError = undefined
    const router = this.#router
    router.beginChunk()
    try {
      this.#run(ops, 0, error)
    } finally {
      router.endChunk()
    }
    while (this.#heldChunks.length > 0 && !this.#authenticating && !this.closing) {
      const chunk = this.#heldChunks.shift() as Uint8Array
      this.#heldBytes -= chunk.length
      this.receive(chunk)
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
    const access = this.#access
    if (access !== undefined) {
      this.#authenticating = true
      this.socket.pause()
      access.authenticator.authenticate(credentialsOf(options), this.#source).then(
        (result) => {
          if (this.closing) return
          if (!result.ok) {
            this.#authenticating = false
            this.failWith('RG_ERR_AUTHORIZATION', true)
            return
          }
          this.principal = result.principal
          this.#accept(options)
          this.#resume()
        },
        (error: unknown) => {
          // A bug or an unreadable state: refuse rather than let the client in.
          this.#router.logger.error({ clientId: this.id, err: error instanceof Error ? error.message : String(error) }, 'authentication failed unexpectedly')
          this.#authenticating = false
          this.failWith('RG_ERR_AUTHORIZATION', true)
        },
      )
      return
    }
    this.#accept(options)
  }

  #accept(options: ConnectOptions): void {
    if (this.#authTimer !== undefined) clearTimeout(this.#authTimer)
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
    const authorizer = this.#access?.authorizer
    if (authorizer !== undefined && !authorizer.authorize(this.principal as Principal, 'publish', subject, payload)) {
      this.#denied(`Publish to "${subject}"`)
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
    const authorizer = this.#access?.authorizer
    if (authorizer !== undefined && !authorizer.authorize(this.principal as Principal, 'subscribe', subject)) {
      this.#denied(`Subscription to "${subject}"${queue === undefined ? '' : ` using queue "${queue}"`}`)
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

  /** `-ERR 'Permissions Violation for <what>'` (nats-server's text); the connection stays open. */
  #denied(what: string): void {
    this.#router.logger.debug({ clientId: this.id, user: this.principal?.user, denied: what }, 'permission denied')
    this.outbound.append(encodeErr(`${errorCodes.RG_ERR_PERMISSION.natsText} for ${what}`))
    this.#queued()
  }

  /**
   * The authorizer's view changed (a role or user was updated): drop the subscriptions that are
   * no longer permitted, telling the client as nats-server does after a permissions reload.
   */
  #recheckSubscriptions(authorizer: Authorizer): void {
    this.#checkedVersion = authorizer.version()
    for (const subscription of [...this.subscriptions.values()]) {
      if (authorizer.authorize(this.principal as Principal, 'subscribe', subscription.subject)) continue
      this.removeSubscription(subscription)
      this.#denied(`Subscription to "${subscription.subject}"`)
    }
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
    const authorizer = this.#access?.authorizer
    if (authorizer !== undefined && authorizer.version() !== this.#checkedVersion) {
      this.#recheckSubscriptions(authorizer)
      if (!subscription.active) return !this.closing
    }
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
    if (this.#authTimer !== undefined) clearTimeout(this.#authTimer)
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
    if (this.#authTimer !== undefined) clearTimeout(this.#authTimer)
    this.outbound.discard()
    this.#router.detach(this)
    this.socket.destroy()
  }
}
