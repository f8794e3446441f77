// The batch API of consumer groups: `client.fetch(stream, {group, max, expiresMs})` sends one
// `$RG.C.<ns>.<stream>.<group>.FETCH` with a fresh inbox as its reply subject and collects the
// delivered messages until the controller's end-of-batch status (`Rg-Status: 204`) or `max`.
// The messages count as in flight for the group (the member's window when `member` is given,
// else an anonymous fetch member that expires with the ack wait): settle them one by one or with
// `client.ackAll(messages)`.
import { nuid } from '@nats-io/nuid'
import { Observable, timer, type SchedulerLike } from 'rxjs'
import { consumerHeaders, consumerStatus, consumerSubject } from '../shared/api/consumer-wire.js'
import type { FetchRequest, GroupAddress } from '../shared/api/consumer-wire.js'
import { apiFailureSchema } from '../shared/api/index.js'
import type { ErrorCode } from '../shared/errors.js'
import { ApiError } from './api-error.js'
import { NoRespondersError, RequestTimeoutError } from './errors.js'
import type { ConsumerTransport } from './group-requests.js'
import type { Message } from './message.js'
import { replyStatus } from './request.js'
import type { Settler } from './stream-message.js'
import { StreamMessage } from './stream-message.js'

/**
 * The client waits this long past `expiresMs` for the end of a batch before giving up (the
 * controller ends every batch itself; this only bounds a lost controller).
 */
export const fetchGraceMs = 2_000

export interface FetchSettings {
  readonly address: GroupAddress
  readonly request: FetchRequest
  /** `expiresMs` as the controller applies it (the request's, else the wire default). */
  readonly expiresMs: number
  readonly settler: Settler
  readonly scheduler: SchedulerLike
}

/** A FETCH reply that is not a message: a failure envelope, or a NATS status (503). */
function failureOf(message: Message, subject: string): Error | undefined {
  if (message.status === replyStatus.noResponders) return new NoRespondersError(subject)
  if (message.header(consumerHeaders.index) !== undefined) return undefined
  let body: unknown
  try {
    body = message.json()
  } catch {
    return undefined
  }
  const failure = apiFailureSchema.safeParse(body)
  if (!failure.success) return undefined
  return new ApiError(`FETCH ${subject}`, failure.data.error.code as ErrorCode, failure.data.error.message, failure.data.error.details ?? {})
}

/**
 * One batch. Resolves with the messages (possibly none) at the end of the batch; when the end
 * never comes (`expiresMs + fetchGraceMs`), with what arrived, or RequestTimeoutError when nothing did.
 */
export function fetchBatch(transport: ConsumerTransport, settings: FetchSettings): Promise<StreamMessage[]> {
  const subject = consumerSubject(settings.address, 'FETCH')
  const inbox = `_INBOX.${nuid.next()}`
  const batch$ = new Observable<StreamMessage[]>((subscriber) => {
    const messages: StreamMessage[] = []
    const finish = (): void => {
      subscriber.next(messages)
      subscriber.complete()
    }
    const replies = transport.subscribe(inbox).subscribe({
      next: (message) => {
        const status = message.header(consumerHeaders.status)
        if (status === consumerStatus.batchComplete) return finish()
        if (status !== undefined) return
        const failure = failureOf(message, subject)
        if (failure !== undefined) return subscriber.error(failure)
        try {
          messages.push(StreamMessage.fromDelivery(message, settings.settler))
        } catch (error) {
          return subscriber.error(error)
        }
        if (messages.length >= settings.request.max) finish()
      },
      error: (error: unknown) => subscriber.error(error),
      complete: () => finish(),
    })
    const waitMs = settings.expiresMs + fetchGraceMs
    const deadline = timer(waitMs, settings.scheduler).subscribe(() => {
      if (messages.length > 0) finish()
      else subscriber.error(new RequestTimeoutError(subject, waitMs, 'client'))
    })
    transport
      .flush() // the reply inbox is registered before the controller answers on it
      .then(() => {
        if (!subscriber.closed) transport.publish(subject, JSON.stringify(settings.request), { replyTo: inbox })
      })
      .catch((error: unknown) => subscriber.error(error))
    return () => {
      deadline.unsubscribe()
      replies.unsubscribe()
    }
  })
  return new Promise((resolve, reject) => {
    batch$.subscribe({ next: resolve, error: reject })
  })
}
