// The life of the client's logical connection: first connect, inbound dispatch, keep-alive,
// loss, reconnect with backoff (re-sending every live SUB and remaining max), drain and close.
// Invariant: every PING written pushes exactly one PongWaiter and every PONG shifts one, so
// waiters resolve in wire order.
import { defer, interval, Observable, Subject, type Subscriber, type Subscription } from 'rxjs'
import { protocolLimits, type ProtocolOp, type ServerInfo } from '../shared/protocol/types.js'
import {
  ConnectError,
  ConnectionClosedError,
  errorFromServerText,
  InvalidSubjectError,
  OutboundBufferFullError,
  PayloadTooLargeError,
  PermissionDeniedError,
  RailgunClientError,
  StaleConnectionError,
} from './errors.js'
import { handshake$, type ConnectFields, type Established, type SessionHandlers } from './handshake.js'
import { Message, toBytes, toMsgHeaders, type ReplySender } from './message.js'
import type { ResolvedOptions } from './options.js'
import { reconnectLoop$ } from './reconnect.js'
import type { Status } from './status.js'
import { looksLikeValidSubscribeSubject } from './subject-check.js'
import { SubscriptionTable, type SubscriptionEntry, type SubscriptionSink } from './subscriptions.js'
import type { Dialer, DialOptions, ServerAddress, Transport } from './transport.js'

export type SessionState = 'connecting' | 'connected' | 'reconnecting' | 'draining' | 'closed'

interface PongWaiter {
  resolve(): void
  reject(error: Error): void
  /** A caller's flush: re-sent after a reconnect rather than failed. */
  readonly resend: boolean
}

const noop = (): void => {}
export const clientVersion = '0.1.0'

export class Session {
  state: SessionState = 'connecting'
  info: ServerInfo | undefined
  readonly status$: Observable<Status>
  private transport: Transport | undefined
  private readonly subs = new SubscriptionTable()
  private pongWaiters: PongWaiter[] = []
  private deferredFlushes: PongWaiter[] = []
  private reconnectBuffer: ProtocolOp[] = []
  private reconnectBufferBytes = 0
  private keepAlivePingsOutstanding = 0
  private keepAlive: Subscription | undefined
  private connecting: Subscription | undefined
  private reconnecting: Subscription | undefined
  private startFailed: ((error: Error) => void) | undefined
  private serverIndex = 0
  private lastServerError: Error | undefined
  private lastState: Status | undefined
  private drainPromise: Promise<void> | undefined
  private readonly statusSubject = new Subject<Status>()
  private readonly connectFields: ConnectFields
  private readonly dialOptions: DialOptions
  private readonly handlers: SessionHandlers

  constructor(
    private readonly servers: readonly ServerAddress[],
    private readonly options: ResolvedOptions,
    private readonly dialer: Dialer,
  ) {
    if (servers.length === 0) throw new ConnectError('no server URL given')
    this.connectFields = {
      verbose: false,
      pedantic: false,
      tls_required: false,
      name: options.name,
      lang: 'typescript-railgun',
      version: clientVersion,
      protocol: 1,
      echo: !options.noEcho,
      headers: true,
      no_responders: true,
      auth_token: options.token,
      user: options.user,
      pass: options.pass,
    }
    this.dialOptions = {
      timeoutMs: options.timeoutMs,
      outboundBytesMax: options.outboundBytesMax,
      inboundPayloadBytesMax: options.inboundPayloadBytesMax,
    }
    this.handlers = {
      onOps: (transport, ops) => {
        if (transport === this.transport) this.onOps(ops)
      },
      onClose: (transport, error) => {
        if (transport === this.transport) this.onLost(error)
      },
    }
    this.status$ = new Observable<Status>((subscriber) => {
      if (this.lastState !== undefined) subscriber.next(this.lastState)
      if (this.state === 'closed') {
        subscriber.complete()
        return
      }
      return this.statusSubject.subscribe(subscriber)
    })
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
      const bytes = estimateBytes(op)
      if (this.reconnectBufferBytes + bytes > this.options.reconnectBufferBytesMax) {
        throw new OutboundBufferFullError('reconnect buffer', this.options.reconnectBufferBytesMax)
      }
      this.reconnectBuffer.push(op)
      this.reconnectBufferBytes += bytes
      return
    }
    throw new ConnectionClosedError(`cannot send: connection is ${this.state}`)
  }

  flush(): Promise<void> {
    if (this.state === 'closed') return Promise.reject(new ConnectionClosedError('cannot flush: connection is closed'))
    return new Promise<void>((resolve, reject) => {
      const waiter: PongWaiter = { resolve, reject, resend: true }
      if (this.transport !== undefined) this.sendPing(waiter)
      else this.deferredFlushes.push(waiter)
    })
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
        this.sendPing({ resolve: this.subs.sealBatch(), reject: noop, resend: false })
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
   * UNSUB everything, wait for the server to confirm, complete the subscriptions, flush, close.
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
      await this.flush().catch(noop)
      deadline.unsubscribe()
      this.close(undefined)
    })()
    return this.drainPromise
  }

  close(error: Error | undefined): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.connecting?.unsubscribe()
    this.reconnecting?.unsubscribe()
    this.stopKeepAlive()
    const transport = this.transport
    this.transport = undefined
    transport?.close()
    const closedError = new ConnectionClosedError('connection closed', { cause: error })
    for (const waiter of [...this.pongWaiters, ...this.deferredFlushes]) waiter.reject(closedError)
    this.pongWaiters = []
    this.deferredFlushes = []
    this.reconnectBuffer = []
    this.reconnectBufferBytes = 0
    for (const entry of this.subs.entries()) {
      this.subs.remove(entry)
      if (error === undefined) entry.sink.complete()
      else entry.sink.error(closedError)
    }
    this.emit(error === undefined ? { type: 'closed' } : { type: 'closed', error })
    this.statusSubject.complete()
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
    this.keepAlivePingsOutstanding = 0
    if (this.state !== 'draining') {
      this.state = 'connected'
      const entries = this.subs.entries()
      for (const entry of entries) this.writeSub(transport, entry)
      if (entries.length > 0) this.sendPing({ resolve: this.subs.sealBatch(), reject: noop, resend: false })
    }
    const buffered = this.reconnectBuffer
    this.reconnectBuffer = []
    this.reconnectBufferBytes = 0
    for (const op of buffered) transport.send(op)
    const flushes = this.deferredFlushes
    this.deferredFlushes = []
    for (const waiter of flushes) this.sendPing(waiter)
    this.startKeepAlive()
    this.emit({ type: kind, server: established.address.url })
  }

  private writeSub(transport: Transport, entry: SubscriptionEntry): void {
    transport.send({ op: 'SUB', subject: entry.subject, queue: entry.queue, sid: entry.sid })
    const remaining = SubscriptionTable.remaining(entry)
    if (remaining !== undefined) transport.send({ op: 'UNSUB', sid: entry.sid, maxMsgs: remaining })
    this.subs.markSent(entry)
  }

  private sendPing(waiter: PongWaiter): void {
    const transport = this.transport
    if (transport === undefined) {
      if (waiter.resend) this.deferredFlushes.push(waiter)
      else waiter.resolve()
      return
    }
    try {
      transport.send({ op: 'PING' })
    } catch (error) {
      waiter.reject(error instanceof Error ? error : new Error(String(error)))
      return
    }
    this.pongWaiters.push(waiter)
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
          this.keepAlivePingsOutstanding = 0
          this.pongWaiters.shift()?.resolve()
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
    const error = errorFromServerText(text)
    if (error instanceof PermissionDeniedError && /subscription/i.test(text)) {
      const entry = this.subs.blame(() => true, error.subject)
      if (entry !== undefined) return this.failSubscription(entry, error)
    }
    if (error instanceof InvalidSubjectError) {
      const entry = this.subs.blame((e) => !looksLikeValidSubscribeSubject(e.subject))
      if (entry !== undefined) return this.failSubscription(entry, new InvalidSubjectError(entry.subject, `server: ${text}`))
    }
    if (error instanceof PermissionDeniedError || error instanceof InvalidSubjectError) return this.reportError(error)
    // Anything else: the server closes the connection after it; the loss carries this reason.
    this.lastServerError = error
    this.reportError(error)
  }

  private failSubscription(entry: SubscriptionEntry, error: Error): void {
    this.subs.remove(entry)
    entry.sink.error(error)
  }

  private onLost(error: Error | undefined): void {
    this.transport = undefined
    this.stopKeepAlive()
    this.subs.resetConfirmations()
    const waiters = this.pongWaiters
    this.pongWaiters = []
    for (const waiter of waiters) if (waiter.resend) this.deferredFlushes.push(waiter)
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
      if (this.keepAlivePingsOutstanding >= this.options.maxPingsOutstanding) {
        transport.close(new StaleConnectionError(`no PONG for ${this.keepAlivePingsOutstanding} PINGs`))
        return
      }
      this.keepAlivePingsOutstanding++
      this.sendPing({ resolve: noop, reject: noop, resend: false })
    })
  }

  private stopKeepAlive(): void {
    this.keepAlive?.unsubscribe()
    this.keepAlive = undefined
  }

  private emit(status: Status): void {
    if (status.type !== 'error') this.lastState = status
    this.statusSubject.next(status)
  }
}

function estimateBytes(op: ProtocolOp): number {
  const controlLineBytesEstimate = 64
  if (op.op === 'PUB' || op.op === 'HPUB') return op.payload.length + op.subject.length * 3 + controlLineBytesEstimate
  return controlLineBytesEstimate
}
