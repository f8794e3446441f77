// `client.consume(stream, options)` and `client.fetch(stream, options)`: the options, their
// defaults and bounds, and the choice between a consumer-group member (group-consumer.ts), an
// independent reader (stream-reader.ts, no group) and one FETCH batch (fetch-batch.ts).
import type { Observable, SchedulerLike } from 'rxjs'
import { consumerWireDefaults, consumerWireLimits, groupNamePattern } from '../shared/api/consumer-wire.js'
import type { GroupAddress } from '../shared/api/consumer-wire.js'
import { apiDefaults } from '../shared/api/index.js'
import { InvalidArgumentError } from './errors.js'
import { fetchBatch } from './fetch-batch.js'
import { consumeGroup } from './group-consumer.js'
import type { MembershipEvent } from './group-consumer.js'
import { GroupSettler } from './group-requests.js'
import type { ConsumerTransport } from './group-requests.js'
import type { Status } from './status.js'
import type { StreamMessage } from './stream-message.js'
import { readStream, streamFetchEventsMax } from './stream-reader.js'
import type { ConsumeStart } from './stream-reader.js'

export interface ConsumeOptions {
  /** Default `default`. */
  readonly namespace?: string
  /** The consumer group (defined with `client.groups.ensure`). Without: an independent reader. */
  readonly group?: string
  /**
   * Group: the unacked window asked at JOIN (the controller caps it at the group's maxInFlight;
   * default the group's). Independent reader: events per STREAM.FETCH (default 256, ≤ 1000).
   */
  readonly maxInFlight?: number
  /** Independent reader only: where to start (default the beginning). A group starts where the group is. */
  readonly start?: ConsumeStart
  /** Group: heartbeat period asked at JOIN (default the controller's, 1000 ms). */
  readonly heartbeatMs?: number
  /** Timeout of settle calls and of JOIN/HB/LEAVE/STREAM.FETCH requests. Default the client's request timeout. */
  readonly requestTimeoutMs?: number
  /** How long the first JOIN (or the first read) is retried while nobody serves the group (or stream) yet. Default 30000. */
  readonly joinTimeoutMs?: number
  /** Independent reader: longest wait between polls while caught up. Default 1000. */
  readonly pollMsMax?: number
  /** Group: told of each JOIN answer and of an activation (exclusive standby → active). */
  readonly onMembership?: (event: MembershipEvent) => void
}

export interface FetchOptions {
  readonly namespace?: string
  readonly group: string
  /** Messages at most in the batch. Default 100, ≤ 10000. */
  readonly max?: number
  /** How long the controller waits for the first message. Default 5000. */
  readonly expiresMs?: number
  /** Count the batch in this joined member's window (else an anonymous fetch member). */
  readonly member?: string
  /** Timeout of the messages' settle calls. Default the client's request timeout. */
  readonly requestTimeoutMs?: number
}

export const consumeDefaults = {
  readerBatchSize: 256,
  joinTimeoutMs: 30_000,
  pollMsMin: 50,
  pollMsMax: 1_000,
  fetchMax: 100,
} as const

/** What the client lends the consumers. */
export interface ConsumeContext {
  readonly transport: ConsumerTransport
  readonly scheduler: SchedulerLike
  readonly requestTimeoutMs: number
  readonly status$: Observable<Status> | undefined
}

function name(field: string, value: string): string {
  if (!groupNamePattern.test(value)) throw new InvalidArgumentError(`${field} "${value}" must match ${groupNamePattern.source}`)
  return value
}

function integerIn(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new InvalidArgumentError(`${field} must be an integer in [${min}, ${max}], got ${value}`)
  return value
}

function positiveMs(field: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) throw new InvalidArgumentError(`${field} must be a positive number, got ${value}`)
  return value
}

function startOf(start: ConsumeStart | undefined): ConsumeStart {
  if (start === undefined) return { from: 'beginning' }
  if (start.from === 'time') integerIn('start.timeMs', start.timeMs, 0, Number.MAX_SAFE_INTEGER)
  if (start.from === 'index') integerIn('start.index', start.index, 0, Number.MAX_SAFE_INTEGER)
  return start
}

/** The cold Observable of `client.consume`; option errors are thrown at once (InvalidArgumentError). */
export function consume(context: ConsumeContext, stream: string, options: ConsumeOptions = {}): Observable<StreamMessage> {
  const namespace = name('namespace', options.namespace ?? apiDefaults.namespace)
  name('stream', stream)
  const requestTimeoutMs = positiveMs('requestTimeoutMs', options.requestTimeoutMs ?? context.requestTimeoutMs)
  const joinTimeoutMs = positiveMs('joinTimeoutMs', options.joinTimeoutMs ?? consumeDefaults.joinTimeoutMs)
  if (options.group === undefined) {
    const pollMsMax = positiveMs('pollMsMax', options.pollMsMax ?? consumeDefaults.pollMsMax)
    return readStream(context.transport, {
      namespace,
      stream,
      start: startOf(options.start),
      batchSize: integerIn('maxInFlight', options.maxInFlight ?? consumeDefaults.readerBatchSize, 1, streamFetchEventsMax),
      requestTimeoutMs,
      openTimeoutMs: joinTimeoutMs,
      pollMsMin: Math.min(consumeDefaults.pollMsMin, pollMsMax),
      pollMsMax,
      scheduler: context.scheduler,
    })
  }
  if (options.start !== undefined) throw new InvalidArgumentError('start is for independent consumers; a group starts where the group is (set it with groups.ensure)')
  const address: GroupAddress = { namespace, stream, group: name('group', options.group) }
  return consumeGroup(context.transport, {
    address,
    maxInFlight: options.maxInFlight === undefined ? undefined : integerIn('maxInFlight', options.maxInFlight, 1, Number.MAX_SAFE_INTEGER),
    heartbeatMs:
      options.heartbeatMs === undefined ? undefined : integerIn('heartbeatMs', options.heartbeatMs, consumerWireLimits.heartbeatMsMin, consumerWireLimits.heartbeatMsMax),
    requestTimeoutMs,
    joinTimeoutMs,
    scheduler: context.scheduler,
    status$: context.status$,
    ...(options.onMembership === undefined ? {} : { onMembership: options.onMembership }),
  })
}

/** `client.fetch`: one batch of a group's messages. */
export function fetch(context: ConsumeContext, stream: string, options: FetchOptions): Promise<StreamMessage[]> {
  try {
    const namespace = name('namespace', options.namespace ?? apiDefaults.namespace)
    const address: GroupAddress = { namespace, stream: name('stream', stream), group: name('group', options.group) }
    const max = integerIn('max', options.max ?? consumeDefaults.fetchMax, 1, consumerWireLimits.fetchMessagesMax)
    const expiresMs = integerIn('expiresMs', options.expiresMs ?? consumerWireDefaults.fetchExpiresMs, 0, consumerWireLimits.fetchExpiresMsMax)
    const requestTimeoutMs = positiveMs('requestTimeoutMs', options.requestTimeoutMs ?? context.requestTimeoutMs)
    return fetchBatch(context.transport, {
      address,
      request: { max, expiresMs, ...(options.member === undefined ? {} : { member: options.member }) },
      expiresMs,
      settler: new GroupSettler(context.transport, requestTimeoutMs),
      scheduler: context.scheduler,
    })
  } catch (error) {
    return Promise.reject(error)
  }
}
