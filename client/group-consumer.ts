// A member of a consumer group as a cold Observable (docs/api.md § Consuming, the wire contract
// in shared/api/consumer-wire.ts). Subscribing subscribes a fresh inbox (`deliver`), waits until
// the server has it (flush), then JOINs with a nuid member id and heartbeats every `heartbeatMs`.
// It JOINs again (same member id: idempotent) when a heartbeat answers RG_ERR_NOT_FOUND (the
// controller forgot the member: failover, missed heartbeats) and after a reconnect.
// Unsubscribing (or `take(n)`, or an error) sends LEAVE and then UNSUB for the inbox: what the
// member held is redelivered to the others at once.
//
// Back-pressure is the controller's window: it never has more than `maxInFlight` unacked
// messages out to this member. The client queues nothing itself: each delivery goes to `next()`
// when it arrives, so at most the window's messages are ever waiting on the caller.
import { nuid } from '@nats-io/nuid'
import { firstValueFrom, interval, Observable, timer, type SchedulerLike, type Subscription } from 'rxjs'
import { consumerHeaders, consumerStatus, heartbeatReplySchema, joinReplySchema, leaveReplySchema } from '../shared/api/consumer-wire.js'
import type { GroupAddress, JoinReply, JoinRequest } from '../shared/api/consumer-wire.js'
import type { ErrorCode } from '../shared/errors.js'
import { RailgunClientError } from './errors.js'
import { GroupSettler, groupRequest } from './group-requests.js'
import type { ConsumerTransport } from './group-requests.js'
import { StreamMessage } from './stream-message.js'
import type { Status } from './status.js'

export interface GroupConsumerSettings {
  readonly address: GroupAddress
  /** Asked at JOIN; the controller caps it at the group's maxInFlight. Undefined: the group's. */
  readonly maxInFlight: number | undefined
  /** Asked at JOIN; the controller answers the period it applies. Undefined: its default. */
  readonly heartbeatMs: number | undefined
  /** Timeout of settle calls and of JOIN/LEAVE requests. */
  readonly requestTimeoutMs: number
  /** How long JOIN is retried while no controller answers (just created, failing over). */
  readonly joinTimeoutMs: number
  readonly scheduler: SchedulerLike
  /** Connection status: a `reconnected` makes the member JOIN again. */
  readonly status$: Observable<Status> | undefined
  /** Told of each JOIN answer and of an activation (exclusive groups). */
  readonly onMembership?: (event: MembershipEvent) => void
}

/**
 * What happened to the membership: a JOIN answered (`reply.active` false: an exclusive group's
 * standby), or the controller activated this standby member (`Rg-Status: active`).
 */
export type MembershipEvent = { readonly type: 'joined'; readonly reply: JoinReply } | { readonly type: 'activated' }

/** Failures of a JOIN that a later attempt can cure: nobody answers yet, or the controller is not ready. */
export const retriableJoinCodes: readonly ErrorCode[] = ['RG_ERR_NO_RESPONDERS', 'RG_ERR_REQUEST_TIMEOUT', 'RG_ERR_NOT_READY']

/** Backoff between JOIN attempts: doubling from the floor to the ceiling. */
export const joinRetryDelayMs = { min: 50, max: 2_000 } as const

function joinRetryDelay(attempt: number): number {
  return Math.min(joinRetryDelayMs.max, joinRetryDelayMs.min * 2 ** Math.min(attempt - 1, 20))
}

export function consumeGroup(transport: ConsumerTransport, settings: GroupConsumerSettings): Observable<StreamMessage> {
  return new Observable<StreamMessage>((subscriber) => {
    const { address, scheduler } = settings
    const member = nuid.next()
    const deliver = `_INBOX.${nuid.next()}`
    const settler = new GroupSettler(transport, settings.requestTimeoutMs)
    let closed = false
    let joinSent = false
    let joining = false
    let heartbeats: Subscription | undefined
    let heartbeatPending = false

    const fail = (error: unknown): void => {
      if (!closed) subscriber.error(error)
    }
    const sleep = (ms: number): Promise<unknown> => firstValueFrom(timer(ms, scheduler))

    const inbox = transport.subscribe(deliver).subscribe({
      next: (message) => {
        const status = message.header(consumerHeaders.status)
        if (status !== undefined) {
          // `active`: an exclusive member was activated; deliveries follow. Other statuses carry no message.
          if (status === consumerStatus.active) settings.onMembership?.({ type: 'activated' })
          return
        }
        let delivered: StreamMessage
        try {
          delivered = StreamMessage.fromDelivery(message, settler)
        } catch (error) {
          fail(error)
          return
        }
        subscriber.next(delivered)
      },
      error: fail,
      complete: () => subscriber.complete(),
    })

    const joinRequest: JoinRequest = {
      member,
      deliver,
      ...(settings.maxInFlight === undefined ? {} : { maxInFlight: settings.maxInFlight }),
      ...(settings.heartbeatMs === undefined ? {} : { heartbeatMs: settings.heartbeatMs }),
    }

    const joinOnce = async (): Promise<JoinReply> => {
      const started = scheduler.now()
      for (let attempt = 1; ; attempt += 1) {
        try {
          joinSent = true
          return await groupRequest(transport, address, 'JOIN', joinRequest, joinReplySchema, settings.requestTimeoutMs)
        } catch (error) {
          const retriable = error instanceof RailgunClientError && retriableJoinCodes.includes(error.code)
          const wait = joinRetryDelay(attempt)
          if (closed || !retriable || scheduler.now() - started + wait > settings.joinTimeoutMs) throw error
          await sleep(wait)
          if (closed) throw error
        }
      }
    }

    const stopHeartbeats = (): void => {
      heartbeats?.unsubscribe()
      heartbeats = undefined
    }

    const beat = (): void => {
      if (heartbeatPending || joining || closed) return
      heartbeatPending = true
      const timeoutMs = Math.max(settings.requestTimeoutMs, 1)
      groupRequest(transport, address, 'HB', { member }, heartbeatReplySchema, timeoutMs)
        .catch((error: unknown) => {
          // The controller does not know us (failover, missed heartbeats): JOIN again. Other
          // failures (timeout, no controller right now) are left to the next heartbeat.
          if (error instanceof RailgunClientError && error.code === 'RG_ERR_NOT_FOUND') join()
        })
        .finally(() => {
          heartbeatPending = false
        })
    }

    const join = (): void => {
      if (joining || closed) return
      joining = true
      stopHeartbeats()
      transport
        .flush() // the server has the inbox subscription before the controller pushes to it
        .then(joinOnce)
        .then((reply) => {
          joining = false
          if (closed) {
            leave()
            return
          }
          settings.onMembership?.({ type: 'joined', reply })
          heartbeats = interval(reply.heartbeatMs, scheduler).subscribe(beat)
        })
        .catch((error: unknown) => {
          joining = false
          fail(error)
        })
    }

    const leave = (): void => {
      // Best effort: when it is lost, the controller drops the member once it sees no interest
      // left on `deliver` (UNSUB below) or after missed heartbeats.
      groupRequest(transport, address, 'LEAVE', { member }, leaveReplySchema, settings.requestTimeoutMs).catch(() => undefined)
    }

    const statusSubscription = settings.status$?.subscribe((status) => {
      if (status.type === 'reconnected' && !closed) join()
    })

    join()

    return () => {
      closed = true
      stopHeartbeats()
      statusSubscription?.unsubscribe()
      if (joinSent) leave()
      inbox.unsubscribe()
    }
  })
}
