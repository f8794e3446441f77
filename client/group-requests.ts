// The request/reply half of the consumer-group protocol from the client (shared/api/consumer-wire.ts,
// docs/api.md § Consuming): one JSON call with its answer checked against the shared schema
// (`{ok:false}` → ApiError with the controller's RG_ERR_* code, anything else malformed →
// ProtocolError); the per-message settle calls of group messages (`GroupSettler`); and the batch
// form `ackAll` (one ACKS request per group, chunked at the wire's limit).
import { ackReplySchema, acksReplySchema, consumerSubject, consumerWireLimits } from '../shared/api/consumer-wire.js'
import type { AckEntry, ConsumerVerb, GroupAddress } from '../shared/api/consumer-wire.js'
import { apiFailureSchema } from '../shared/api/index.js'
import type { ErrorCode } from '../shared/errors.js'
import { ApiError } from './api-error.js'
import { ProtocolError } from './errors.js'
import type { ApiTransport } from './control-api.js'
import type { Message, PublishOptions } from './message.js'
import { ackBodyOf } from './stream-message.js'
import type { Settlement, Settler, StreamMessage } from './stream-message.js'

/** What the consumers need from the client: request/reply, subscribe, publish, flush. */
export interface ConsumerTransport extends ApiTransport {
  publish(subject: string, data: Uint8Array | string, options?: PublishOptions): void
}

interface Schema<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false }
}

/** The answer of a consumer-group call: the success schema, else the failure envelope → ApiError. */
export function groupAnswer<T>(what: string, reply: Message, schema: Schema<T>): T {
  let body: unknown
  try {
    body = reply.json()
  } catch {
    throw new ProtocolError(`${what}: the answer is not JSON`)
  }
  const success = schema.safeParse(body)
  if (success.success) return success.data
  const failure = apiFailureSchema.safeParse(body)
  if (failure.success) throw new ApiError(what, failure.data.error.code as ErrorCode, failure.data.error.message, failure.data.error.details ?? {})
  throw new ProtocolError(`${what}: the answer does not match its schema`)
}

/** One JSON call `$RG.C.<ns>.<stream>.<group>.<verb>`. */
export async function groupRequest<T>(
  transport: ApiTransport,
  address: GroupAddress,
  verb: Exclude<ConsumerVerb, 'ACK' | 'FETCH'>,
  body: unknown,
  schema: Schema<T>,
  timeoutMs: number,
): Promise<T> {
  const reply = await transport.requestPromise(consumerSubject(address, verb), JSON.stringify(body), { timeoutMs })
  return groupAnswer(`${verb} ${address.namespace}/${address.stream}/${address.group}`, reply, schema)
}

/**
 * Settle calls of group messages: the ack body published to the message's ack subject, as a
 * request (confirmed: resolves on `{ok:true}`, rejects with ApiError — RG_ERR_NOT_FOUND when
 * the message is not outstanding any more — or RequestTimeoutError) or as a plain publish.
 */
export class GroupSettler implements Settler {
  constructor(
    private readonly transport: ConsumerTransport,
    private readonly timeoutMs: number,
  ) {}

  async settle(message: StreamMessage, settlement: Settlement): Promise<void> {
    const subject = ackSubjectOf(message)
    const reply = await this.transport.requestPromise(subject, ackBodyOf(settlement), { timeoutMs: this.timeoutMs })
    const answer = groupAnswer(`${settlement.kind} ${message.stream}/${message.group ?? ''} #${message.index}`, reply, ackReplySchema)
    if (!answer.ok) throw new ApiError(`${settlement.kind} #${message.index}`, answer.error.code as ErrorCode, answer.error.message, answer.error.details ?? {})
  }

  settleNoWait(message: StreamMessage, settlement: Settlement): void {
    this.transport.publish(ackSubjectOf(message), ackBodyOf(settlement))
  }
}

function ackSubjectOf(message: StreamMessage): string {
  if (message.ackSubject === undefined) throw new ProtocolError(`message #${message.index} of ${message.stream} has no ack subject`)
  return message.ackSubject
}

/** Groups messages by their group (independent-consumer messages have none and are skipped). Pure. */
export function acksByGroup(messages: readonly StreamMessage[]): Map<string, { address: GroupAddress; acks: AckEntry[] }> {
  const groups = new Map<string, { address: GroupAddress; acks: AckEntry[] }>()
  for (const message of messages) {
    const address = message.address
    if (address === undefined) continue
    const key = `${address.namespace}/${address.stream}/${address.group}`
    let entry = groups.get(key)
    if (entry === undefined) {
      entry = { address, acks: [] }
      groups.set(key, entry)
    }
    entry.acks.push({ index: message.index, deliveries: message.deliveries, kind: 'ack' })
  }
  return groups
}

/**
 * Acks many messages with one `ACKS` request per group (chunked at `acksPerRequestMax`);
 * resolves with how many acks the controllers applied (an ack of a message no longer outstanding
 * is not counted). Messages of an independent consumer are skipped.
 */
export async function ackAll(transport: ApiTransport, messages: readonly StreamMessage[], timeoutMs: number): Promise<number> {
  let applied = 0
  for (const { address, acks } of acksByGroup(messages).values()) {
    for (let from = 0; from < acks.length; from += consumerWireLimits.acksPerRequestMax) {
      const chunk = acks.slice(from, from + consumerWireLimits.acksPerRequestMax)
      const answer = await groupRequest(transport, address, 'ACKS', { acks: chunk }, acksReplySchema, timeoutMs)
      applied += answer.applied
    }
  }
  return applied
}
