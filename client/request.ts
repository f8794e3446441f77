// Request/reply over one muxed inbox: the client subscribes once to `_INBOX.<nuid>.*` and gives
// each request its own last token. Replies are routed by that token; a status reply maps to a
// typed error (503 → NoRespondersError, 408 → RequestTimeoutError, 409/429 → the Railgun
// response-stream refusals, other ≥ 400 → ResponderError).
import { nuid } from '@nats-io/nuid'
import { Observable, type SchedulerLike } from 'rxjs'
import {
  NoRespondersError,
  RequestTimeoutError,
  ResponderError,
  ResponseStreamInUseError,
  ResponseStreamsExceededError,
} from './errors.js'
import type { HeadersInit, Message } from './message.js'

/** The header that tells a Railgun server how long the requester waits (it answers 408 itself). */
export const requestTimeoutHeader = 'Rg-Timeout-Ms'

/**
 * The client's own timer fires this much after `timeoutMs`, so a server that answers 408 itself
 * (Railgun does, from `Rg-Timeout-Ms`) is heard first; servers that do not (nats-server) cost the
 * caller this much extra wait.
 */
export const clientTimeoutGraceMs = 25

export const replyStatus = {
  noResponders: 503,
  timeout: 408,
  /** Railgun: the reply subject is already an open response stream. */
  responseStreamInUse: 409,
  /** Railgun: too many open requests on this connection. */
  responseStreamsExceeded: 429,
  /** What `respond` sends when the handler fails. */
  responderError: 500,
} as const

export interface RequestOptions {
  /** Default: the client's `requestTimeoutMs` (5000). */
  readonly timeoutMs?: number
  readonly headers?: HeadersInit
}

interface Waiter {
  readonly subject: string
  readonly timeoutMs: number
  reply(message: Message): void
  fail(error: Error): void
}

export class RequestMux {
  /** `_INBOX.<nuid>.`; every request's reply subject is this plus a token. */
  readonly prefix: string
  private tokenNext = 0
  private readonly waiters = new Map<string, Waiter>()

  constructor(inboxPrefix = '_INBOX') {
    this.prefix = `${inboxPrefix}.${nuid.next()}.`
  }

  /** The wildcard subject of the one inbox subscription. */
  get subject(): string {
    return `${this.prefix}*`
  }

  get pendingCount(): number {
    return this.waiters.size
  }

  /** Routes one inbox message to its request; unknown tokens (late replies) are dropped. */
  dispatch(message: Message): void {
    const token = message.subject.slice(this.prefix.length)
    const waiter = this.waiters.get(token)
    if (waiter === undefined) return
    this.waiters.delete(token)
    const status = message.headers?.status
    if (status === undefined || status < 400 || message.data.length > 0) {
      waiter.reply(message)
    } else if (status === replyStatus.noResponders) {
      waiter.fail(new NoRespondersError(waiter.subject))
    } else if (status === replyStatus.timeout) {
      waiter.fail(new RequestTimeoutError(waiter.subject, waiter.timeoutMs, 'server'))
    } else if (status === replyStatus.responseStreamInUse) {
      waiter.fail(new ResponseStreamInUseError(waiter.subject))
    } else if (status === replyStatus.responseStreamsExceeded) {
      waiter.fail(new ResponseStreamsExceededError(waiter.subject))
    } else {
      waiter.fail(new ResponderError(waiter.subject, status, message.headers?.description ?? ''))
    }
  }

  /**
   * The server refused the publish of a request on `subject` (`Permissions Violation for Publish
   * to "<subject>"`): fail the oldest request in flight on that subject (the server answers in
   * order) instead of letting it wait for its timeout. False when none was waiting.
   */
  failOldest(subject: string, error: Error): boolean {
    for (const [token, waiter] of this.waiters) {
      if (waiter.subject !== subject) continue
      this.waiters.delete(token)
      waiter.fail(error)
      return true
    }
    return false
  }

  /** Fails every request in flight (the inbox subscription died or the client closed). */
  failAll(error: Error): void {
    const waiting = [...this.waiters.values()]
    this.waiters.clear()
    for (const waiter of waiting) waiter.fail(error)
  }

  /**
   * One request as a cold Observable: subscribing registers the token, calls `send(replyTo)` and
   * starts the client-side timer; the first reply is emitted and completes; unsubscribing first
   * forgets the token (a late reply is dropped) and stops the timer.
   */
  request$(
    subject: string,
    timeoutMs: number,
    scheduler: SchedulerLike,
    send: (replyTo: string) => void,
  ): Observable<Message> {
    return new Observable<Message>((subscriber) => {
      const token = (this.tokenNext++).toString(36)
      this.waiters.set(token, {
        subject,
        timeoutMs,
        reply: (message) => {
          subscriber.next(message)
          subscriber.complete()
        },
        fail: (error) => subscriber.error(error),
      })
      const timer = scheduler.schedule(() => {
        this.waiters.delete(token)
        subscriber.error(new RequestTimeoutError(subject, timeoutMs, 'client'))
      }, timeoutMs + clientTimeoutGraceMs)
      try {
        send(this.prefix + token)
      } catch (error) {
        this.waiters.delete(token)
        timer.unsubscribe()
        subscriber.error(error)
      }
      return () => {
        this.waiters.delete(token)
        timer.unsubscribe()
      }
    })
  }
}
