// `StreamMessage`: one event of a persistent stream as a consumer receives it, with its delivery
// facts (index, deliveries, time, group) and its settle calls (ack, nack, inProgress, term).
// Built from a delivered HMSG of the consumer-group protocol (shared/api/consumer-wire.ts: the
// `Rg-*` delivery headers, the ack subject as reply) or from a `STREAM.FETCH` event (independent
// consumers, whose settle calls are no-ops). Header parsing is pure (`deliveryOf`); sending the
// ack is the `Settler`'s job, supplied by the consumer.
import { consumerHeaders, consumerWireLimits } from '../shared/api/consumer-wire.js'
import type { AckKind, GroupAddress } from '../shared/api/consumer-wire.js'
import type { FetchedEvent } from '../shared/api/index.js'
import { headerValues } from '../shared/protocol/headers.js'
import type { MsgHeaders } from '../shared/protocol/types.js'
import { InvalidArgumentError, ProtocolError } from './errors.js'
import type { Message } from './message.js'

/** One settle call: the body sent to the message's ack subject. */
export interface Settlement {
  readonly kind: AckKind
  readonly delayMs?: number
  readonly reason?: string
}

/** Sends settle calls for group messages; the consumer that received them supplies it. */
export interface Settler {
  /** Publishes the ack with a reply subject; resolves on `{ok:true}`, rejects with ApiError/timeout. */
  settle(message: StreamMessage, settlement: Settlement): Promise<void>
  /** Publishes the ack without a reply subject (no confirmation). Throws what `publish` throws. */
  settleNoWait(message: StreamMessage, settlement: Settlement): void
}

/** The delivery facts of a message, read from its headers. */
export interface Delivery {
  readonly address: GroupAddress
  readonly index: number
  readonly deliveries: number
  readonly id: string
  readonly subject: string
  readonly time: number
  readonly controllerTerm: number
  /** The event's own headers (the `Rg-*` delivery headers removed). */
  readonly headers: MsgHeaders
  readonly ackSubject: string
}

const deliveryHeaderKeys = new Set(
  [consumerHeaders.stream, consumerHeaders.group, consumerHeaders.index, consumerHeaders.deliveries, consumerHeaders.msgId, consumerHeaders.subject, consumerHeaders.time, consumerHeaders.term].map((key) => key.toLowerCase()),
)

const decimal = /^(0|[1-9][0-9]{0,15})$/

function decimalHeader(headers: MsgHeaders, key: string): number | undefined {
  const text = headerValues(headers, key)[0]
  if (text === undefined || !decimal.test(text)) return undefined
  const value = Number(text)
  return Number.isSafeInteger(value) ? value : undefined
}

/** Reads a delivered message's headers. Pure; a missing or malformed header is a ProtocolError. */
export function deliveryOf(message: Pick<Message, 'subject' | 'headers' | 'replyTo'>): Delivery {
  const headers = message.headers
  const problem = (what: string): ProtocolError => new ProtocolError(`delivery on ${message.subject}: ${what}`)
  if (headers === undefined) throw problem('no headers')
  const streamKey = headerValues(headers, consumerHeaders.stream)[0]
  const slash = streamKey?.indexOf('/') ?? -1
  if (streamKey === undefined || slash <= 0 || slash === streamKey.length - 1) throw problem(`bad ${consumerHeaders.stream} header`)
  const group = headerValues(headers, consumerHeaders.group)[0]
  if (group === undefined || group.length === 0) throw problem(`no ${consumerHeaders.group} header`)
  const index = decimalHeader(headers, consumerHeaders.index)
  const deliveries = decimalHeader(headers, consumerHeaders.deliveries)
  const time = decimalHeader(headers, consumerHeaders.time)
  const controllerTerm = decimalHeader(headers, consumerHeaders.term)
  if (index === undefined) throw problem(`bad ${consumerHeaders.index} header`)
  if (deliveries === undefined || deliveries < 1) throw problem(`bad ${consumerHeaders.deliveries} header`)
  if (time === undefined) throw problem(`bad ${consumerHeaders.time} header`)
  if (controllerTerm === undefined) throw problem(`bad ${consumerHeaders.term} header`)
  const id = headerValues(headers, consumerHeaders.msgId)[0]
  if (id === undefined) throw problem(`no ${consumerHeaders.msgId} header`)
  const subject = headerValues(headers, consumerHeaders.subject)[0] ?? streamKey.slice(slash + 1)
  if (message.replyTo === undefined) throw problem('no reply (ack) subject')
  return {
    address: { namespace: streamKey.slice(0, slash), stream: streamKey.slice(slash + 1), group },
    index,
    deliveries,
    id,
    subject,
    time,
    controllerTerm,
    headers: { entries: headers.entries.filter(([key]) => !deliveryHeaderKeys.has(key.toLowerCase())) },
    ackSubject: message.replyTo,
  }
}

/** Checks a nack delay / term reason; throws InvalidArgumentError. Pure. */
export function settlementOf(kind: AckKind, delayMs?: number, reason?: string): Settlement {
  if (kind === 'nack' && delayMs !== undefined) {
    if (!Number.isInteger(delayMs) || delayMs < 0 || delayMs > consumerWireLimits.nackDelayMsMax) {
      throw new InvalidArgumentError(`nack delayMs must be an integer in [0, ${consumerWireLimits.nackDelayMsMax}], got ${delayMs}`)
    }
    return { kind, delayMs }
  }
  if (kind === 'term' && reason !== undefined && reason.trim() !== '') {
    const trimmed = reason.trim()
    if (new TextEncoder().encode(trimmed).length > consumerWireLimits.termReasonBytesMax) {
      throw new InvalidArgumentError(`term reason is over ${consumerWireLimits.termReasonBytesMax} bytes`)
    }
    return { kind, reason: trimmed }
  }
  return { kind }
}

/** The per-message ack body (`ack`, `nack [delayMs]`, `progress`, `term [reason]`). Pure. */
export function ackBodyOf(settlement: Settlement): string {
  if (settlement.kind === 'nack' && settlement.delayMs !== undefined && settlement.delayMs > 0) return `nack ${settlement.delayMs}`
  if (settlement.kind === 'term' && settlement.reason !== undefined) return `term ${settlement.reason}`
  return settlement.kind
}

const textDecoder = new TextDecoder()

export class StreamMessage {
  /** The payload. */
  readonly data: Uint8Array
  /** The subject the event was published on (`<stream>` or `<stream>.<topic…>`). */
  readonly subject: string
  /** The event's own headers (without the `Rg-*` delivery headers). */
  readonly headers: MsgHeaders
  /** The event id (the producer's `Rg-Msg-Id`, else one the server gave). */
  readonly id: string
  /** Position in the region's delivery order (0-based). */
  readonly index: number
  /** 1 on the first delivery, then counts redeliveries. Always 1 for an independent consumer. */
  readonly deliveries: number
  /** The event's time (hybrid logical clock, wall ms). */
  readonly time: number
  /** `<namespace>/<stream>`. */
  readonly stream: string
  /** The consumer group; undefined for an independent consumer. */
  readonly group: string | undefined
  /** The group controller's term that delivered it; undefined for an independent consumer. */
  readonly controllerTerm: number | undefined
  /** @internal Group and ack subject; undefined for an independent consumer. */
  readonly address: GroupAddress | undefined
  /** @internal */
  readonly ackSubject: string | undefined
  private readonly settler: Settler | undefined

  /** @internal Built by the consumers (`fromDelivery`, `fromFetched`). */
  constructor(fields: {
    data: Uint8Array
    subject: string
    headers: MsgHeaders
    id: string
    index: number
    deliveries: number
    time: number
    stream: string
    group?: string
    controllerTerm?: number
    address?: GroupAddress
    ackSubject?: string
    settler?: Settler
  }) {
    this.data = fields.data
    this.subject = fields.subject
    this.headers = fields.headers
    this.id = fields.id
    this.index = fields.index
    this.deliveries = fields.deliveries
    this.time = fields.time
    this.stream = fields.stream
    this.group = fields.group
    this.controllerTerm = fields.controllerTerm
    this.address = fields.address
    this.ackSubject = fields.ackSubject
    this.settler = fields.settler
  }

  /** A group delivery (throws ProtocolError when its headers are malformed). */
  static fromDelivery(message: Message, settler: Settler): StreamMessage {
    const delivery = deliveryOf(message)
    return new StreamMessage({
      data: message.data,
      subject: delivery.subject,
      headers: delivery.headers,
      id: delivery.id,
      index: delivery.index,
      deliveries: delivery.deliveries,
      time: delivery.time,
      stream: `${delivery.address.namespace}/${delivery.address.stream}`,
      group: delivery.address.group,
      controllerTerm: delivery.controllerTerm,
      address: delivery.address,
      ackSubject: delivery.ackSubject,
      settler,
    })
  }

  /** An event read with `STREAM.FETCH` (independent consumer: settle calls are no-ops). */
  static fromFetched(stream: string, event: FetchedEvent): StreamMessage {
    const slash = stream.indexOf('/')
    return new StreamMessage({
      data: new Uint8Array(Buffer.from(event.data, 'base64')),
      subject: event.subject ?? stream.slice(slash + 1),
      headers: { entries: event.headers.map(([key, value]) => [key, value] as const) },
      id: event.id,
      index: event.index,
      deliveries: 1,
      time: event.hlc.wallMs,
      stream,
    })
  }

  string(): string {
    return textDecoder.decode(this.data)
  }

  json<T = unknown>(): T {
    return JSON.parse(this.string()) as T
  }

  /** First value of one of the event's headers (case-insensitive). */
  header(key: string): string | undefined {
    return headerValues(this.headers, key)[0]
  }

  /** Acked: never redelivered. Resolves once the controller confirmed. */
  ack(): Promise<void> {
    return this.settle(() => settlementOf('ack'))
  }

  /**
   * Fire-and-forget ack (no reply subject, no confirmation): for throughput. A lost one is
   * harmless — the message is redelivered after the ack wait (at-least-once).
   */
  ackNoWait(): void {
    if (this.settler !== undefined) this.settler.settleNoWait(this, settlementOf('ack'))
  }

  /** Redelivered at once to a live member (or after `delayMs`). Resolves once confirmed. */
  nack(delayMs?: number): Promise<void> {
    return this.settle(() => settlementOf('nack', delayMs))
  }

  /** Still working on it: the ack deadline is extended by the group's ackWaitMs. */
  inProgress(): Promise<void> {
    return this.settle(() => settlementOf('progress'))
  }

  /** Never redelivered: moved to the dead-letter stream (`reason` kept as `Rg-Dlq-Detail`). */
  term(reason?: string): Promise<void> {
    return this.settle(() => settlementOf('term', undefined, reason))
  }

  private settle(settlement: () => Settlement): Promise<void> {
    if (this.settler === undefined) return Promise.resolve()
    try {
      return this.settler.settle(this, settlement())
    } catch (error) {
      return Promise.reject(error)
    }
  }
}
