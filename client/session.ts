// The life of the client's logical connection: first connect, inbound dispatch, keep-alive,
// loss, reconnect with backoff (re-sending every live SUB and remaining max), drain and close.
import { defer, interval, type Observable, type Subscriber, type Subscription } from 'rxjs'
import { protocolLimits, type ProtocolOp, type ServerInfo } from '../shared/protocol/types.js'
import { ConnectError, ConnectionClosedError, PayloadTooLargeError, RailgunClientError, StaleConnectionError } from './errors.js'
import { connectFieldsFrom, handshake$, type ConnectFields, type Established, type SessionHandlers } from './handshake.js'
import { Message, toBytes, toMsgHeaders, type ReplySender } from './message.js'
import type { ResolvedOptions } from './options.js'
import { Pings } from './pings.js'
import { reconnectLoop$ } from './reconnect.js'
import { ReconnectBuffer } from './reconnect-buffer.js'
import { StatusStream, type Status } from './status.js'
import { routeServerError, SubscriptionTable, type SubscriptionEntry, type SubscriptionSink } from './subscriptions.js'
import type { Dialer, DialOptions, ServerAddress, Transport } from './transport.js'

export type SessionState = 'connecting' | 'connected' | 'reconnecting' | 'draining' | 'closed'

const noop = (): void => {}

export class Session {
  state: SessionState = 'connecting'
  info: ServerInfo | undefined
  readonly status$: Observable<Status>
  private transport: Transport | undefined
  private readonly subs = new SubscriptionTable()
  private readonly pings = new Pings()
  private readonly reconnectBuffer: ReconnectBuffer
  private keepAlive: Subscription | undefined
  private connecting: Subscription | undefined
  private reconnecting: Subscription | undefined
  private startFailed: ((error: Error) => void) | undefined
  private serverIndex = 0
  private lastServerError: Error | undefined
  private drainPromise: Promise<void> | undefined
  /** `respond` requests received and not yet answered; drain waits for them. */
  private handlersInFlight = 0
  private handlersIdle: Array<() => void> = []
  private readonly status = new StatusStream()
  private readonly connectFields: ConnectFields
  private readonly dialOptions: DialOptions
  private readonly handlers: SessionHandlers

  constructor(
    private readonly servers: readonly ServerAddress[],
    private readonly options: ResolvedOptions,
    private readonly dialer: Dialer,
  ) {
    if (servers.length === 0) throw new ConnectError('no server URL given')
    this.connectFields = connectFieldsFrom(options)
    this.dialOptions = {
      timeoutMs: options.timeoutMs,
      outboundBytesMax: options.outboundBytesMax,
      inboundPayloadBytesMax: options.inboundPayloadBytesMax,
      ...(options.tls === undefined ? {} : { tls: options.tls }),
    }
    this.handlers = {
      onOps: (transport, ops) => {
        if (transport === this.transport) this.onOps(ops)
      },
      onClose: (transport, error) => {
        if (transport === this.transport) this.onLost(error)
      },
    }
    this.status$ = this.status.status$
    this.reconnectBuffer = new ReconnectBuffer(options.reconnectBufferBytesMax)
  }

  get payloadBytesMax(): number {
    return this.info?.max_payload ?? protocolLimits.payloadBytesMaxDefault
  }

  /** Tries each server once, in order; resolves on the first that completes the handshake. */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.startFailed = reject
      const tryServer = (index: number): void => {
        const address = this.servers[index] as ServerAddress
        this.serverIndex = index
        this.connecting = this.handshake(address).subscribe({
          next: (established) => {
            this.startFailed = undefined
            this.onEstablished(established, 'connected')
            resolve()
          },
          error: (error: unknown) => {
            if (index + 1 < this.servers.length) return tryServer(index + 1)
            const urls = this.servers.map((s) => s.url).join(', ')
            // A typed refusal (e.g. AuthorizationError) is more useful than a generic wrapper.
            const failure = error instanceof RailgunClientError ? error : new ConnectError(`cannot connect to ${urls}`, { cause: error })
            this.close(failure)
          },
        })
      }
      tryServer(0)
    })
  }

  /** The caller-side write path (publish). Buffers while reconnecting, bounded. */
  send(op: ProtocolOp): void {
    const transport = this.transport
    if (transport !== undefined) {
      transport.send(op)
      return
    }
    if (this.state === 'reconnecting' || this.state === 'draining') {
      this.reconnectBuffer.push(op)
      return
    }
    throw new ConnectionClosedError(`cannot send: connection is ${this.state}`)
  }

  flush(): Promise<void> {
    if (this.state === 'closed') return Promise.reject(new ConnectionClosedError('cannot flush: connection is closed'))
    return new Promise<void>((resolve, reject) => this.pings.send(this.transport, { resolve, reject, resend: true }))
  }

  addSubscription(
    subject: string,
    queue: string | undefined,
    max: number | undefined,
    sink: SubscriptionSink | Subscriber<Message>,
  ): SubscriptionEntry {
    const entry = this.subs.add(subject, queue, max, sink)
    if (this.transport !== undefined) {
      try {
        this.writeSub(this.transport, entry)
        this.pings.sendInternal(this.transport, this.subs.sealBatch())
      } catch (error) {
        this.subs.remove(entry)
        throw error
      }
    }
    return entry
  }

  removeSubscription(entry: SubscriptionEntry): void {
    if (!this.subs.remove(entry) || this.transport === undefined) return
    try {
      this.transport.send({ op: 'UNSUB', sid: entry.sid })
    } catch (error) {
      this.reportError(error)
    }
  }

  hasSubscription(entry: SubscriptionEntry): boolean {
    return this.subs.get(entry.sid) === entry
  }

  reportError(error: unknown): void {
    if (this.state === 'closed') return
    this.emit({ type: 'error', error: error instanceof Error ? error : new Error(String(error)) })
  }

  /**
   * UNSUB everything, wait for the server to confirm, complete the subscriptions, wait for
   * `respond` handlers still running, flush, close.
   * While disconnected there is nothing to drain from: it closes at once (buffered publishes are
   * dropped). Bounded by `drainTimeoutMs`; past it the client closes anyway.
   */
  drain(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve()
    if (this.drainPromise !== undefined) return this.drainPromise
    this.state = 'draining'
    const transport = this.transport
    if (transport === undefined) {
      this.close(undefined)
      return Promise.resolve()
    }
    const entries = this.subs.entries()
    const deadline = this.options.scheduler.schedule(() => this.close(undefined), this.options.drainTimeoutMs)
    this.drainPromise = (async () => {
      for (const entry of entries) transport.send({ op: 'UNSUB', sid: entry.sid })
      // After this PONG no more MSG can arrive for the UNSUBed sids: the server answers in order.
      await this.flush().catch(noop)
      for (const entry of entries) if (this.subs.remove(entry)) entry.sink.complete()
      // Requests already received by `respond` handlers still get their replies.
      await this.handlersSettled()
      await this.flush().catch(noop)
      deadline.unsubscribe()
      this.close(undefined)
    })()
    return this.drainPromise
  }

  /** A `respond` request arrived; `handlerFinished` when it is answered (or dropped). */
  handlerStarted(): void {
    this.handlersInFlight++
  }

  handlerFinished(): void {
    this.handlersInFlight--
    if (this.handlersInFlight > 0) return
    const idle = this.handlersIdle
    this.handlersIdle = []
    for (const resolve of idle) resolve()
  }

  private handlersSettled(): Promise<void> {
    if (this.handlersInFlight <= 0) return Promise.resolve()
    return new Promise((resolve) => this.handlersIdle.push(resolve))
  }

  close(error: Error | undefined): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    // A drain waiting on handlers stops waiting: nothing can be sent any more.
    for (const resolve of this.handlersIdle.splice(0)) resolve()
    this.connecting?.unsubscribe()
    this.reconnecting?.unsubscribe()
    this.stopKeepAlive()
    const transport = this.transport
    this.transport = undefined
    transport?.close()
    const closedError = new ConnectionClosedError('connection closed', { cause: error })
    this.pings.rejectAll(closedError)
    this.reconnectBuffer.take()
    for (const entry of this.subs.entries()) {
      this.subs.remove(entry)
      if (error === undefined) entry.sink.complete()
      else entry.sink.error(closedError)
    }
    this.emit(error === undefined ? { type: 'closed' } : { type: 'closed', error })
    this.status.complete()
    this.startFailed?.(error ?? closedError)
    this.startFailed = undefined
  }

  private handshake(address: ServerAddress): Observable<Established> {
    return handshake$(this.dialer, address, this.connectFields, this.dialOptions, this.handlers, this.options.scheduler)
  }

  private onEstablished(established: Established, kind: 'connected' | 'reconnected'): void {
    const transport = established.transport
    this.transport = transport
    this.info = established.info
    this.lastServerError = undefined
    if (this.state !== 'draining') {
      this.state = 'connected'
      const entries = this.subs.entries()
      for (const entry of entries) this.writeSub(transport, entry)
      if (entries.length > 0) this.pings.sendInternal(transport, this.subs.sealBatch())
    }
    for (const op of this.reconnectBuffer.take()) transport.send(op)
    this.pings.resendDeferred(transport)
    this.startKeepAlive()
    this.emit({ type: kind, server: established.address.url })
  }

  private writeSub(transport: Transport, entry: SubscriptionEntry): void {
    transport.send({ op: 'SUB', subject: entry.subject, queue: entry.queue, sid: entry.sid })
    const remaining = SubscriptionTable.remaining(entry)
    if (remaining !== undefined) transport.send({ op: 'UNSUB', sid: entry.sid, maxMsgs: remaining })
    this.subs.markSent(entry)
  }

  private readonly replySender: ReplySender = (replyTo, data, options) => {
    const payload = toBytes(data)
    if (payload.length > this.payloadBytesMax) throw PayloadTooLargeError.of(payload.length, this.payloadBytesMax)
    if (options.headers === undefined) this.send({ op: 'PUB', subject: replyTo, payload })
    else this.send({ op: 'HPUB', subject: replyTo, headers: toMsgHeaders(options.headers), payload })
  }

  /** Inbound hot path. */
  private onOps(ops: readonly ProtocolOp[]): void {
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i] as ProtocolOp
      switch (op.op) {
        case 'MSG':
        case 'HMSG': {
          const entry = this.subs.get(op.sid)
          if (entry === undefined) break
          entry.received++
          const headers = op.op === 'HMSG' ? op.headers : undefined
          const message = new Message(op.subject, op.payload, op.replyTo, headers, this.replySender)
          const done = entry.max !== undefined && entry.received >= entry.max
          // Removed before `complete` so the teardown does not send a needless UNSUB.
          if (done) this.subs.remove(entry)
          entry.sink.next(message)
          if (done) entry.sink.complete()
          break
        }
        case 'PING':
          this.transport?.send({ op: 'PONG' })
          break
        case 'PONG':
          this.pings.onPong()
          break
        case 'ERR':
          this.onServerError(op.message)
          break
        case 'INFO':
          this.info = op.info
          break
        default:
          break
      }
      // A handler may have closed the client mid-batch.
      if (this.transport === undefined) return
    }
  }

  private onServerError(text: string): void {
    const route = routeServerError(text, this.subs)
    if (route.to === 'subscription') return this.failSubscription(route.entry, route.error)
    // A fatal one: the server closes the connection next; the loss carries this reason.
    if (route.to === 'connection') this.lastServerError = route.error
    this.reportError(route.error)
  }

  private failSubscription(entry: SubscriptionEntry, error: Error): void {
    this.subs.remove(entry)
    entry.sink.error(error)
  }

  private onLost(error: Error | undefined): void {
    this.transport = undefined
    this.stopKeepAlive()
    this.subs.resetConfirmations()
    this.pings.onLost()
    const cause = this.lastServerError ?? error
    this.lastServerError = undefined
    this.emit(cause === undefined ? { type: 'disconnected' } : { type: 'disconnected', error: cause })
    if (this.state === 'closed') return
    if (!this.options.reconnect.enabled) return this.close(cause ?? new ConnectionClosedError('connection lost'))
    if (this.state !== 'draining') this.state = 'reconnecting'
    const lostIndex = this.serverIndex
    const count = this.servers.length
    this.reconnecting = reconnectLoop$(
      this.options.reconnect,
      this.options.random,
      (attempt) =>
        defer(() => {
          this.serverIndex = count === 1 ? 0 : (lostIndex + attempt) % count
          return this.handshake(this.servers[this.serverIndex] as ServerAddress)
        }),
      this.options.scheduler,
    ).subscribe({
      next: (event) => {
        if (event.type === 'reconnecting') this.emit({ type: 'reconnecting', attempt: event.attempt, delayMs: event.delayMs })
        else this.onEstablished(event.value, 'reconnected')
      },
      error: (failure: unknown) => {
        const last = failure instanceof Error && failure.cause !== undefined ? failure.cause : failure
        const message = failure instanceof Error ? failure.message : String(failure)
        this.close(new ConnectError(`reconnect failed: ${message}`, { cause: last }))
      },
    })
  }

  private startKeepAlive(): void {
    this.stopKeepAlive()
    this.keepAlive = interval(this.options.pingIntervalMs, this.options.scheduler).subscribe(() => {
      const transport = this.transport
      if (transport === undefined) return
      if (this.pings.keepAliveOutstanding >= this.options.maxPingsOutstanding) {
        transport.close(new StaleConnectionError(`no PONG for ${this.pings.keepAliveOutstanding} PINGs`))
        return
      }
      this.pings.keepAliveOutstanding++
      this.pings.sendInternal(transport)
    })
  }

  private stopKeepAlive(): void {
    this.keepAlive?.unsubscribe()
    this.keepAlive = undefined
  }

  private emit(status: Status): void {
    this.status.emit(status)
  }
}
