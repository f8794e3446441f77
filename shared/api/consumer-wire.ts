// The consumer-group wire protocol (docs/api.md § Consuming): the contract between the group
// controller (server/consumers), our client and any NATS client speaking it with plain
// subscribe + request/reply. Subjects, header names, zod schemas of every request and answer,
// and the parsers of the two texts that are not JSON (the ack subject and the ack body).
//
//   $RG.C.<ns>.<stream>.<group>.JOIN | HB | LEAVE | FETCH | ACKS      JSON request/reply
//   $RG.C.<ns>.<stream>.<group>.ACK.<index>.<deliveries>               per-message ack (body text)
//
// Names (namespace, stream, group) match `groupNamePattern`, so each is one subject token.
import { z } from 'zod'
import { apiFailureSchema } from './responses.js'

export const consumerSubjectPrefix = '$RG.C'
/** The JSON request verbs; `ACK` is the per-message ack subject (two more tokens). */
export const consumerVerbs = ['JOIN', 'HB', 'LEAVE', 'FETCH', 'ACKS', 'ACK'] as const
export type ConsumerVerb = (typeof consumerVerbs)[number]

/** Namespace, stream and group names: one subject token each. */
export const groupNamePattern = /^[A-Za-z0-9_-]{1,64}$/
/** Member ids are chosen by the client (a nuid is fine). */
export const memberIdPattern = /^[A-Za-z0-9_-]{1,128}$/

export const consumerWireLimits = {
  /** Longest subject a member may name as `deliver` (or a FETCH reply inbox). */
  deliverSubjectBytesMax: 512,
  /** Largest FETCH batch. */
  fetchMessagesMax: 10_000,
  /** Longest FETCH wait. */
  fetchExpiresMsMax: 5 * 60_000,
  /** Acks in one ACKS request. */
  acksPerRequestMax: 10_000,
  /** Longest nack delay. */
  nackDelayMsMax: 24 * 60 * 60_000,
  /** Longest `term <reason>` text kept as `Rg-Dlq-Detail`. */
  termReasonBytesMax: 1_024,
  /** Heartbeat period a member may ask for. */
  heartbeatMsMin: 100,
  heartbeatMsMax: 60_000,
} as const

export const consumerWireDefaults = {
  /** A member sends HB this often unless it asked for another period at JOIN. */
  heartbeatMs: 1_000,
  /** The controller drops a member after this many heartbeat periods without one. */
  missedHeartbeatsMax: 3,
  /** FETCH waits this long for messages when `expiresMs` is not given. */
  fetchExpiresMs: 5_000,
  /** A FETCH with at least one message ends once nothing more arrived for this long. */
  fetchIdleMs: 10,
} as const

// ---- headers --------------------------------------------------------------------------------

/** Headers of a delivered message (then the event's own headers). */
export const consumerHeaders = {
  stream: 'Rg-Stream',
  group: 'Rg-Group',
  index: 'Rg-Index',
  deliveries: 'Rg-Deliveries',
  msgId: 'Rg-Msg-Id',
  subject: 'Rg-Subject',
  time: 'Rg-Time',
  term: 'Rg-Term',
  /** On status messages (no payload): `active` (an exclusive member was activated), `204` (FETCH batch complete). */
  status: 'Rg-Status',
} as const

export const consumerStatus = {
  active: 'active',
  batchComplete: '204',
} as const

/** Headers a dead letter carries (plus `Rg-Msg-Id` = `dlqMsgId(...)` and the original headers). */
export const dlqHeaders = {
  reason: 'Rg-Dlq-Reason',
  deliveries: 'Rg-Dlq-Deliveries',
  group: 'Rg-Dlq-Group',
  stream: 'Rg-Dlq-Stream',
  index: 'Rg-Dlq-Index',
  detail: 'Rg-Dlq-Detail',
} as const

export const dlqReasons = ['max-deliveries', 'term', 'max-lag'] as const
export type DlqReason = (typeof dlqReasons)[number]

/** The dead-letter stream of `stream` (same namespace). */
export const dlqStreamName = (stream: string): string => `${stream}-dlq`
/** The producer id a dead letter is published with: a move redone after failover is a duplicate. */
export const dlqMsgId = (namespace: string, stream: string, group: string, eventId: string): string => `${namespace}/${stream}/${group}/${eventId}`

// ---- subjects -------------------------------------------------------------------------------

export interface GroupAddress {
  readonly namespace: string
  readonly stream: string
  readonly group: string
}

const groupRoot = (g: GroupAddress): string => `${consumerSubjectPrefix}.${g.namespace}.${g.stream}.${g.group}`

/** `$RG.C.<ns>.<stream>.<group>.<VERB>` for the JSON verbs. */
export const consumerSubject = (g: GroupAddress, verb: Exclude<ConsumerVerb, 'ACK'>): string => `${groupRoot(g)}.${verb}`
/**
 * `$RG.C.<ns>.<stream>.<group>.INFO` → `{ok:true, group: <controller snapshot>}`: the live view of
 * the group from its controller (an addition to the lead's verbs; not in `consumerVerbs` so that
 * `parseConsumerSubject` and its users stay as they were).
 */
export const consumerInfoVerb = 'INFO'
export const consumerInfoSubject = (g: GroupAddress): string => `${groupRoot(g)}.${consumerInfoVerb}`
/** What the controller subscribes to: every subject of the group. */
export const consumerGroupWildcard = (g: GroupAddress): string => `${groupRoot(g)}.>`
/** The reply subject of a delivered message: publish the ack there. */
export const ackSubject = (g: GroupAddress, index: number, deliveries: number): string => `${groupRoot(g)}.ACK.${index}.${deliveries}`

export type ParsedConsumerSubject =
  | (GroupAddress & { readonly verb: Exclude<ConsumerVerb, 'ACK'> })
  | (GroupAddress & { readonly verb: 'ACK'; readonly index: number; readonly deliveries: number })

const decimal = /^(0|[1-9][0-9]{0,15})$/

function safeDecimal(text: string | undefined): number | undefined {
  if (text === undefined || !decimal.test(text)) return undefined
  const value = Number(text)
  return Number.isSafeInteger(value) ? value : undefined
}

/** The parts of a `$RG.C.` subject, or undefined when it is not one of the protocol's subjects. */
export function parseConsumerSubject(subject: string): ParsedConsumerSubject | undefined {
  const tokens = subject.split('.')
  if (tokens.length < 6 || `${tokens[0]}.${tokens[1]}` !== consumerSubjectPrefix) return undefined
  const [namespace, stream, group, verb] = tokens.slice(2, 6) as [string, string, string, string]
  if (!groupNamePattern.test(namespace) || !groupNamePattern.test(stream) || !groupNamePattern.test(group)) return undefined
  if (verb === 'ACK') {
    if (tokens.length !== 8) return undefined
    const index = safeDecimal(tokens[6])
    const deliveries = safeDecimal(tokens[7])
    if (index === undefined || deliveries === undefined || deliveries < 1) return undefined
    return { namespace, stream, group, verb, index, deliveries }
  }
  if (tokens.length !== 6) return undefined
  if (verb === 'JOIN' || verb === 'HB' || verb === 'LEAVE' || verb === 'FETCH' || verb === 'ACKS') return { namespace, stream, group, verb }
  return undefined
}

// ---- ack bodies -----------------------------------------------------------------------------

export const ackKinds = ['ack', 'nack', 'progress', 'term'] as const
export type AckKind = (typeof ackKinds)[number]

export interface ParsedAck {
  readonly kind: AckKind
  /** nack: redeliver after this many ms (0 = at once). */
  readonly delayMs?: number
  /** term: the reason (kept as `Rg-Dlq-Detail`). */
  readonly reason?: string
}

/**
 * The body of a per-message ack: empty or `ack`; `nack` or `nack <delayMs>`; `progress`;
 * `term` or `term <reason>`. Surrounding whitespace is ignored. Undefined when it is none of them.
 */
export function parseAckBody(text: string): ParsedAck | undefined {
  const body = text.trim()
  if (body === '' || body === 'ack') return { kind: 'ack' }
  if (body === 'progress') return { kind: 'progress' }
  if (body === 'nack') return { kind: 'nack', delayMs: 0 }
  if (body.startsWith('nack ')) {
    const delayMs = safeDecimal(body.slice(5).trim())
    if (delayMs === undefined || delayMs > consumerWireLimits.nackDelayMsMax) return undefined
    return { kind: 'nack', delayMs }
  }
  if (body === 'term') return { kind: 'term' }
  if (body.startsWith('term ')) return { kind: 'term', reason: body.slice(5).trim().slice(0, consumerWireLimits.termReasonBytesMax) }
  return undefined
}

// ---- JSON requests and answers ----------------------------------------------------------------

const memberId = z.string().regex(memberIdPattern)
/** A concrete subject (no wildcard tokens, no whitespace). */
const concreteSubject = z
  .string()
  .min(1)
  .max(consumerWireLimits.deliverSubjectBytesMax)
  .refine((s) => !/\s/.test(s) && s.split('.').every((t) => t.length > 0 && t !== '*' && t !== '>'), { message: 'must be a subject without wildcards' })
const positive = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER)
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)

export const joinRequestSchema = z.strictObject({
  member: memberId,
  deliver: concreteSubject,
  /** Default and cap: the group's maxInFlight. */
  maxInFlight: positive.optional(),
  heartbeatMs: z.number().int().min(consumerWireLimits.heartbeatMsMin).max(consumerWireLimits.heartbeatMsMax).optional(),
})
export type JoinRequest = z.infer<typeof joinRequestSchema>

export const groupModesOnWire = ['exclusive', 'load-balanced'] as const

export const joinReplySchema = z.looseObject({
  ok: z.literal(true),
  member: z.string(),
  term: positive,
  mode: z.enum(groupModesOnWire),
  /** Exclusive groups: false until this member is activated (`Rg-Status: active` on deliver). */
  active: z.boolean(),
  heartbeatMs: positive,
  /** The window the controller applies (the request's, capped by the group's). */
  maxInFlight: positive.optional(),
})
export type JoinReply = z.infer<typeof joinReplySchema>

export const heartbeatRequestSchema = z.strictObject({ member: memberId })
export type HeartbeatRequest = z.infer<typeof heartbeatRequestSchema>
export const heartbeatReplySchema = z.looseObject({ ok: z.literal(true), term: positive })
export type HeartbeatReply = z.infer<typeof heartbeatReplySchema>

export const leaveRequestSchema = z.strictObject({ member: memberId })
export type LeaveRequest = z.infer<typeof leaveRequestSchema>
export const leaveReplySchema = z.looseObject({ ok: z.literal(true) })

export const fetchRequestSchema = z.strictObject({
  max: z.number().int().min(1).max(consumerWireLimits.fetchMessagesMax),
  expiresMs: z.number().int().min(0).max(consumerWireLimits.fetchExpiresMsMax).optional(),
  /** Count the batch in this (joined) member's window; otherwise an anonymous fetch member. */
  member: memberId.optional(),
})
export type FetchRequest = z.infer<typeof fetchRequestSchema>

export const ackEntrySchema = z.strictObject({
  index: count,
  deliveries: positive,
  kind: z.enum(ackKinds),
  /** nack only: redeliver after this many ms. */
  delayMs: z.number().int().min(0).max(consumerWireLimits.nackDelayMsMax).optional(),
  /** term only: kept as `Rg-Dlq-Detail` (an addition to the lead's spec; optional). */
  reason: z.string().max(consumerWireLimits.termReasonBytesMax).optional(),
})
export type AckEntry = z.infer<typeof ackEntrySchema>

export const acksRequestSchema = z.strictObject({ acks: z.array(ackEntrySchema).max(consumerWireLimits.acksPerRequestMax) })
export type AcksRequest = z.infer<typeof acksRequestSchema>
export const acksReplySchema = z.looseObject({ ok: z.literal(true), applied: count })
export type AcksReply = z.infer<typeof acksReplySchema>

/** The answer to a per-message ack that carried a reply subject. */
export const ackReplySchema = z.union([z.looseObject({ ok: z.literal(true) }), apiFailureSchema])

/** Every JSON request schema by verb. */
export const consumerRequestSchemas = {
  JOIN: joinRequestSchema,
  HB: heartbeatRequestSchema,
  LEAVE: leaveRequestSchema,
  FETCH: fetchRequestSchema,
  ACKS: acksRequestSchema,
} as const
