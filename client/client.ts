// RailgunClient: the public API over one logical connection that survives reconnects.
// Connection life (handshake, reconnect, keep-alive, inbound dispatch) lives in `session.ts`;
// this file holds what callers call: publish, subscribe, request, respond, flush, drain, close.
import {
  catchError,
  defer,
  EMPTY,
  finalize,
  firstValueFrom,
  from,
  ignoreElements,
  isObservable,
  mergeMap,
  Observable,
  of,
  take,
  tap,
  timer,
  type ObservableInput,
  type Subscription,
} from 'rxjs'
import type { ServerInfo } from '../shared/protocol/types.js'
import { BucketsApi, ClusterApi, GroupsApi, NamespacesApi, StreamsApi } from './control-api.js'
import { consume as consumeStream, fetch as fetchBatchOf, type ConsumeContext, type ConsumeOptions, type FetchOptions } from './consume.js'
import { ackAll } from './group-requests.js'
import { Producer, type ProducerOptions } from './producer.js'
import type { StreamMessage } from './stream-message.js'
import { RolesApi, TokensApi, UsersApi } from './access-api.js'
import { ConnectionClosedError, InvalidArgumentError, InvalidSubjectError, PayloadTooLargeError, PermissionDeniedError } from './errors.js'
import { KvBucket } from './kv.js'
import { CrdtKvBucket } from './kv-crdt.js'
import type { CrdtKvWriteOptions } from './kv-crdt.js'
import { CrdtBucketsApi, WireCrdtKvTransport } from './kv-crdt-transport.js'
import { publishToStream } from './stream-publish.js'
import type { AckedPublishOptions, Delay, StreamPublishOptions } from './stream-publish.js'
import type { StreamPublishAck } from '../shared/api/index.js'
import { toBytes, toMsgHeaders, type Message, type PublishOptions } from './message.js'
import type { ResolvedOptions } from './options.js'
import { replyStatus, RequestMux, requestTimeoutHeader, type RequestOptions } from './request.js'
import { Session } from './session.js'
import type { Status } from './status.js'
import { subjectFramingProblem } from './subject-check.js'
import type { SubscriptionEntry } from './subscriptions.js'
import type { Dialer, ServerAddress } from './transport.js'

export interface SubscribeOptions {
  /** Queue group: each message goes to one member of the group. */
  readonly group?: string
  /** Complete after this many messages (the server is told with `UNSUB sid max`). */
  readonly max?: number
}

/** What a `respond` handler may return: the reply payload, or nothing (no reply is sent). */
export type ReplyData = Uint8Array | string | undefined | void
export type RespondHandler = (message: Message) => ObservableInput<ReplyData> | ReplyData

export interface RespondOptions {
  readonly group?: string
}

/** Header carrying the error's `code` (when it has one) on a handler-failure reply. */
export const responderErrorCodeHeader = 'Rg-Error-Code'

export class RailgunClient {
  private readonly session: Session
  private readonly options: ResolvedOptions
  private mux: RequestMux | undefined
  private muxEntry: SubscriptionEntry | undefined
  private subjectCheckedLast = ''
  /** Control API (`$RG.API.STREAM.*`): ensure, list, info, remove streams. */
  readonly streams: StreamsApi = new StreamsApi(this)
  readonly namespaces: NamespacesApi = new NamespacesApi(this)
  readonly buckets: BucketsApi = new BucketsApi(this)
  /** Control API (`$RG.API.GROUP.*`): consumer-group definitions; consuming is `consume` / `fetch`. */
  readonly groups: GroupsApi = new GroupsApi(this)
  /** Control API: cluster status, nodes, leadership transfer, drain/remove nodes. */
  readonly cluster: ClusterApi = new ClusterApi(this)
  /** Control API: users, bearer tokens and roles (admin on every stream needed). */
  readonly users: UsersApi = new UsersApi(this)
  readonly tokens: TokensApi = new TokensApi(this)
  readonly roles: RolesApi = new RolesApi(this)
  /** CRDT KV bucket definitions (`$RG.KVC.<bucket>.ENSURE | INFO | REMOVE`). */
  readonly crdtBuckets: CrdtBucketsApi = new CrdtBucketsApi(this)
  /** One transport for every CRDT bucket of this client (it remembers which replica answered). */
  private crdtKvTransport: WireCrdtKvTransport | undefined

  /** @internal Use `connect()`. */
  constructor(servers: readonly ServerAddress[], options: ResolvedOptions, dialer: Dialer) {
    this.options = options
    this.session = new Session(servers, options, dialer)
    // A request whose publish the server refused fails at once with the permission error.
    this.session.status$.subscribe((status) => {
      if (status.type !== 'error' || !(status.error instanceof PermissionDeniedError) || status.error.subject === undefined) return
      if (/for Publish to/i.test(status.error.message)) this.mux?.failOldest(status.error.subject, status.error)
    })
  }

  /** @internal Resolves once the first connection is up; rejects if every server fails. */
  start(): Promise<void> {
    return this.session.start()
  }

  /** Connection status as tagged values; replays the current state to late subscribers. */
  get status$(): Observable<Status> {
    return this.session.status$
  }

  /** INFO of the server currently connected (undefined while disconnected). */
  get serverInfo(): ServerInfo | undefined {
    return this.session.info
  }

  get isClosed(): boolean {
    return this.session.state === 'closed'
  }

  /**
   * Publishes one message. Writes are coalesced (one socket write per event-loop turn); call
   * `flush()` to know the server has them. Throws `InvalidSubjectError`, `PayloadTooLargeError`,
   * `OutboundBufferFullError` (slow down: await `flush()`), `ConnectionClosedError`.
   */
  publish(subject: string, data: Uint8Array | string, options?: PublishOptions): void
  /**
   * With `ack` (a level, or `'default'` for the stream's `ackDefault`): a publish to a persistent
   * stream that resolves with its durable ack — `publishToStream` (below) with `{id, ack, headers, timeoutMs}`.
   */
  publish(subject: string, data: Uint8Array | string, options: AckedPublishOptions): Promise<StreamPublishAck>
  publish(subject: string, data: Uint8Array | string, options?: PublishOptions | AckedPublishOptions): void | Promise<StreamPublishAck> {
    if (options !== undefined && 'ack' in options) {
      const { ack, ...rest } = options
      return publishToStream(this, subject, data, ack === 'default' ? rest : { ...rest, ack }, this.delay)
    }
    // Hot path: a loop publishing to one subject checks it once.
    if (subject !== this.subjectCheckedLast) {
      const problem = subjectFramingProblem(subject)
      if (problem !== undefined) throw new InvalidSubjectError(subject, problem)
      this.subjectCheckedLast = subject
    }
    const payload = typeof data === 'string' ? toBytes(data) : data
    const max = this.session.payloadBytesMax
    const replyTo = options?.replyTo
    if (replyTo !== undefined) {
      const replyProblem = subjectFramingProblem(replyTo)
      if (replyProblem !== undefined) throw new InvalidSubjectError(replyTo, `reply subject ${replyProblem}`)
    }
    if (options?.headers === undefined) {
      if (payload.length > max) throw PayloadTooLargeError.of(payload.length, max)
      this.session.send({ op: 'PUB', subject, replyTo, payload })
      return
    }
    const headers = toMsgHeaders(options.headers)
    if (payload.length > max) throw PayloadTooLargeError.of(payload.length, max)
    this.session.send({ op: 'HPUB', subject, replyTo, headers, payload })
  }

  /**
   * Publishes to a persistent stream (`subject` = `<stream>` or `<stream>.<topic…>`) and resolves
   * with the durable ack `{stream, position, seq, duplicate, level, …}` once the event is synced at
   * `ack` (default the stream's `ackDefault`). `id` is the producer id (`Rg-Msg-Id`) for dedup.
   * Rejects with `ApiError` (the server's RG_ERR_* code), `RequestTimeoutError`, or
   * `NoRespondersError` when no persistent stream (and no subscriber) takes the subject.
   */
  publishToStream(subject: string, data: Uint8Array | string, options: StreamPublishOptions = {}): Promise<StreamPublishAck> {
    return publishToStream(this, subject, data, options, this.delay)
  }

  /**
   * A producer for one persistent stream: `send(data, {topic?, id?, headers?})` → the durable ack,
   * with the options' ack level, timeout and retries; at most `maxInFlight` sends wait for their
   * ack at once, later ones wait in a queue of `queueMax` (beyond it: OutboundBufferFullError).
   */
  producer(stream: string, options: ProducerOptions = {}): Producer {
    return new Producer(this, stream, options, this.delay)
  }

  /**
   * A cold Observable of a persistent stream's messages. With `group`: subscribing JOINs the
   * group as a new member (inbox, heartbeats, re-JOIN after a reconnect or when forgotten), the
   * controller pushes at most `maxInFlight` unacked messages; unsubscribing sends LEAVE (what the
   * member held is redelivered to the others). Settle each message: `ack()`, `nack(delayMs?)`,
   * `inProgress()`, `term(reason?)` (Promises confirmed by the controller) or `ackNoWait()`.
   * Without `group`: an independent reader from `start` (STREAM.FETCH, polling when caught up);
   * its settle calls are no-ops. Bad options arrive as `error()` (InvalidArgumentError).
   */
  consume(stream: string, options: ConsumeOptions = {}): Observable<StreamMessage> {
    return defer(() => consumeStream(this.consumeContext(), stream, options))
  }

  /**
   * One batch of a group's messages (`FETCH`): up to `max`, ending when the controller says the
   * batch is complete (nothing more within `expiresMs`, or `max` reached). Settle them one by
   * one or with `ackAll`.
   */
  fetch(stream: string, options: FetchOptions): Promise<StreamMessage[]> {
    return fetchBatchOf(this.consumeContext(), stream, options)
  }

  /**
   * Acks many group messages with one `ACKS` request per group; resolves with how many the
   * controllers applied (messages no longer outstanding are not counted). Messages of an
   * independent consumer are skipped.
   */
  ackAll(messages: readonly StreamMessage[], options: { timeoutMs?: number } = {}): Promise<number> {
    return ackAll(this, messages, options.timeoutMs ?? this.options.requestTimeoutMs)
  }

  /** A linearizable KV bucket (control API `$RG.API.KV.*`): get, put, cas, delete, list, watch. */
  kv(bucket: string): KvBucket {
    return new KvBucket(this, bucket)
  }

  /**
   * A CRDT KV bucket (`mode: crdt`, `$RG.KVC.<bucket>.*`): put, delete, merge, increment, get,
   * list, watch, answered by a replica of the bucket in the connected node's region.
   */
  kvCrdt(bucket: string, defaults: CrdtKvWriteOptions = {}): CrdtKvBucket {
    this.crdtKvTransport ??= new WireCrdtKvTransport(this)
    return new CrdtKvBucket(this.crdtKvTransport, bucket, defaults)
  }

  /** Resolves when the server has processed everything sent before (a PING/PONG round trip). */
  flush(): Promise<void> {
    return this.session.flush()
  }

  /**
   * A cold Observable of the messages on `subject`. Subscribing sends SUB; unsubscribing,
   * `take(n)` or an error sends UNSUB. `max` completes after that many messages. A server
   * refusal (`Invalid Subject`, `Permissions Violation`) arrives as `error()`.
   * Await `flush()` after subscribing to know the server has registered the interest.
   */
  subscribe(subject: string, options: SubscribeOptions = {}): Observable<Message> {
    return new Observable<Message>((subscriber) => {
      const { group, max } = options
      if (max !== undefined && !(Number.isSafeInteger(max) && max > 0)) {
        subscriber.error(new InvalidArgumentError(`max must be a positive integer, got ${max}`))
        return
      }
      const problem = subjectFramingProblem(subject) ?? (group === undefined ? undefined : subjectFramingProblem(group))
      if (problem !== undefined) {
        subscriber.error(new InvalidSubjectError(group === undefined ? subject : `${subject} (group ${group})`, problem))
        return
      }
      if (this.session.state === 'closed' || this.session.state === 'draining') {
        subscriber.error(new ConnectionClosedError(`cannot subscribe: connection is ${this.session.state}`))
        return
      }
      const entry = this.session.addSubscription(subject, group, max, subscriber)
      return () => this.session.removeSubscription(entry)
    })
  }

  /**
   * One request: publishes with a unique reply subject on the muxed inbox and emits the first
   * reply, then completes. Errors: `NoRespondersError` (503), `RequestTimeoutError` (server 408
   * or the client's own timer), `ResponderError` (handler failed). Unsubscribing cancels.
   * Sends `Rg-Timeout-Ms` so a Railgun server can answer 408 itself.
   */
  request(subject: string, data: Uint8Array | string, options: RequestOptions = {}): Observable<Message> {
    return defer(() => {
      const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs
      if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
        throw new InvalidArgumentError(`timeoutMs must be a positive number, got ${timeoutMs}`)
      }
      const mux = this.ensureMux()
      const headers = toMsgHeaders(options.headers ?? {}, [[requestTimeoutHeader, String(Math.ceil(timeoutMs))]])
      return mux.request$(subject, timeoutMs, this.options.scheduler, (replyTo) =>
        this.publish(subject, data, { headers, replyTo }),
      )
    })
  }

  /** `request` as a Promise (same as `lastValueFrom(client.request(...))`). */
  requestPromise(subject: string, data: Uint8Array | string, options: RequestOptions = {}): Promise<Message> {
    return new Promise((resolve, reject) => {
      this.request(subject, data, options).subscribe({ next: resolve, error: reject })
    })
  }

  /**
   * Answers every request on `subject` with what `handler` returns (a value, a Promise or the
   * first value of an Observable; `undefined` sends no reply). When the handler throws or
   * rejects, the reply is an empty message with status `500` and the error message as the status
   * description, plus `Rg-Error-Code: <code>` when the error has a string `code`; requesters get a
   * `ResponderError`. Messages without a reply subject are passed to the handler and not answered.
   * At most `respondConcurrencyMax` handler calls run at once. Unsubscribe to stop (UNSUB).
   * A subscription error (e.g. permissions) is reported on `status$` as `{type:'error'}`.
   */
  respond(subject: string, handler: RespondHandler, options: RespondOptions = {}): Subscription {
    const subscribeOptions: SubscribeOptions = options.group === undefined ? {} : { group: options.group }
    // Requests count as in flight from arrival (even while queued behind the concurrency bound)
    // until answered, so `drain()` can wait for them; whatever is left when the stream ends is
    // released at once.
    let pending = 0
    const release = (): void => {
      pending--
      this.session.handlerFinished()
    }
    return this.subscribe(subject, subscribeOptions)
      .pipe(
        tap(() => {
          pending++
          this.session.handlerStarted()
        }),
        mergeMap((message) => this.answer(message, handler).pipe(finalize(release)), this.options.respondConcurrencyMax),
        finalize(() => {
          while (pending > 0) release()
        }),
      )
      .subscribe({ error: (error: unknown) => this.session.reportError(error) })
  }

  /**
   * Graceful stop: UNSUB every subscription, wait until the server confirms (messages already
   * sent are still delivered), complete the subscriptions, let `respond` handlers answer what
   * they already received, flush pending publishes, close. Bounded by `drainTimeoutMs`.
   */
  async drain(): Promise<void> {
    await this.session.drain()
  }

  /** Closes at once: subscriptions complete, requests in flight fail, status$ ends with `closed`. */
  async close(): Promise<void> {
    this.session.close(undefined)
  }

  /** Waits on the client's scheduler (publish retries). */
  private readonly delay: Delay = async (ms) => {
    await firstValueFrom(timer(ms, this.options.scheduler))
  }

  private consumeContext(): ConsumeContext {
    return { transport: this, scheduler: this.options.scheduler, requestTimeoutMs: this.options.requestTimeoutMs, status$: this.status$ }
  }

  private answer(message: Message, handler: RespondHandler): Observable<never> {
    return defer(() => {
      const result = handler(message)
      return isObservable(result) || isPromiseLike(result) ? from(result) : of(result as ReplyData)
    }).pipe(
      take(1),
      tap((reply: ReplyData) => {
        if (reply !== undefined) this.replySafely(() => message.respond(reply))
      }),
      ignoreElements(),
      catchError((error: unknown) => {
        if (message.replyTo !== undefined) this.replyWithError(message, error)
        return EMPTY
      }),
    )
  }

  private replyWithError(message: Message, error: unknown): void {
    const text = (error instanceof Error ? error.message : String(error)).replace(/[\r\n]+/g, ' ').slice(0, 256)
    const code = typeof error === 'object' && error !== null && 'code' in error ? (error as { code: unknown }).code : undefined
    const entries: Array<readonly [string, string]> =
      typeof code === 'string' && /^[!-~]+$/.test(code) ? [[responderErrorCodeHeader, code]] : []
    this.replySafely(() =>
      message.respond(new Uint8Array(0), {
        headers: { status: replyStatus.responderError, description: text || 'Responder Error', entries },
      }),
    )
  }

  /** A reply that cannot be sent (closed, buffer full) is reported on status$, not thrown. */
  private replySafely(send: () => void): void {
    try {
      send()
    } catch (error) {
      this.session.reportError(error)
    }
  }

  private ensureMux(): RequestMux {
    if (this.mux !== undefined && this.muxEntry !== undefined && this.session.hasSubscription(this.muxEntry)) return this.mux
    const mux = new RequestMux()
    this.mux = mux
    this.muxEntry = this.session.addSubscription(mux.subject, undefined, undefined, {
      next: (message) => mux.dispatch(message),
      error: (error: Error) => mux.failAll(error),
      complete: () => mux.failAll(new ConnectionClosedError('request inbox closed')),
    })
    return mux
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<ReplyData> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}
