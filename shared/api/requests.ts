// The request bodies of the control API, defined once as zod schemas and shared by the server
// (validation), the client library and the CLI (types). Optional fields get their defaults on the
// server (defaults.ts); unknown fields are refused (strict objects), so a typo is an error and not
// a silently ignored option. KV values travel as UTF-8 text (`value`) or base64 (`valueBase64`).
import { z } from 'zod'
import type { ApiVerb } from './subjects.js'

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
const positive = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER)
/** Names are checked by the cluster (RG_ERR_INVALID_NAME with the field); here only a bound. */
const name = z.string().max(256)
const key = z.string().max(4096)
const update = z.boolean().optional()
/** Opt-in local read: answers from this node's applied state without a ReadIndex barrier. */
const stale = z.boolean().optional()

export const streamKindValues = ['persistent', 'ephemeral'] as const
export const ackLevelValues = ['write', 'majority', 'all'] as const
export const groupModeValues = ['exclusive', 'load-balanced'] as const

const startSchema = z.discriminatedUnion('from', [
  z.strictObject({ from: z.literal('beginning') }),
  z.strictObject({ from: z.literal('end') }),
  z.strictObject({ from: z.literal('time'), timeMs: count }),
  z.strictObject({ from: z.literal('index'), index: count }),
])

const valueFields = {
  /** UTF-8 text value. */
  value: z.string().optional(),
  /** Binary value, base64. Exactly one of `value` / `valueBase64`. */
  valueBase64: z.string().optional(),
}

export const empty = z.strictObject({ stale })

export const permissionValues = ['read', 'write', 'admin'] as const

/** A role's grant: a permission on `region` / `namespace/stream` patterns (`*` = any run of characters). */
const grantSchema = z.strictObject({ permission: z.enum(permissionValues), region: z.string().max(256), stream: z.string().max(512) })

/**
 * A password travels in the request body (use TLS) and is hashed on the serving node; it is
 * never stored, answered, logged or put in an event. Bounded like `passwordLimits`.
 */
const password = z.string().min(1).max(1024)

export const apiRequestSchemas = {
  'STREAM.ENSURE': z.strictObject({
    namespace: name.optional(),
    name,
    kind: z.enum(streamKindValues).optional(),
    regions: z.array(name).min(1).max(64).optional(),
    replicasPerRegion: positive.optional(),
    dedupWindowMs: count.optional(),
    retention: z.strictObject({ maxAgeMs: count.optional(), maxBytes: count.optional(), maxEvents: count.optional() }).optional(),
    ackDefault: z.enum(ackLevelValues).optional(),
    deadLetter: z.strictObject({ maxDeliveries: count.optional(), maxLag: count.optional() }).optional(),
    update,
  }),
  'STREAM.LIST': z.strictObject({ namespace: name.optional(), stale }),
  'STREAM.INFO': z.strictObject({ namespace: name.optional(), name, stale }),
  'STREAM.DELETE': z.strictObject({ namespace: name.optional(), name }),
  /** Delivered events of a persistent stream on the node asked, from delivery index `from` (default 0), at most `max`. */
  'STREAM.FETCH': z.strictObject({ namespace: name.optional(), name, from: count.optional(), max: positive.optional() }),
  'NAMESPACE.ENSURE': z.strictObject({ name, description: z.string().max(1024).optional(), update }),
  'NAMESPACE.LIST': empty,
  'NAMESPACE.INFO': z.strictObject({ name, stale }),
  'NAMESPACE.DELETE': z.strictObject({ name }),
  'GROUP.ENSURE': z.strictObject({
    namespace: name.optional(),
    stream: name,
    name,
    mode: z.enum(groupModeValues).optional(),
    maxInFlight: positive.optional(),
    ackWaitMs: positive.optional(),
    maxDeliveries: count.optional(),
    start: startSchema.optional(),
    update,
  }),
  'GROUP.LIST': z.strictObject({ namespace: name.optional(), stream: name.optional(), stale }),
  'GROUP.INFO': z.strictObject({ namespace: name.optional(), stream: name, name, stale }),
  'GROUP.DELETE': z.strictObject({ namespace: name.optional(), stream: name, name }),
  'PIPELINE.ENSURE': z.strictObject({
    namespace: name.optional(),
    name,
    triggerStream: name,
    stages: z
      .array(z.strictObject({ name, after: z.array(name).max(256).optional(), dependencies: z.array(name).max(256).optional() }))
      .min(1)
      .max(256),
    update,
  }),
  'PIPELINE.LIST': z.strictObject({ namespace: name.optional(), stale }),
  'PIPELINE.INFO': z.strictObject({ namespace: name.optional(), name, stale }),
  'PIPELINE.DELETE': z.strictObject({ namespace: name.optional(), name }),
  'BUCKET.ENSURE': z.strictObject({ name, maxValueBytes: positive.optional(), update }),
  'BUCKET.LIST': empty,
  'BUCKET.INFO': z.strictObject({ name, stale }),
  'BUCKET.DELETE': z.strictObject({ name }),
  'KV.GET': z.strictObject({ bucket: name, key, stale }),
  'KV.PUT': z.strictObject({ bucket: name, key, ...valueFields }),
  'KV.CAS': z.strictObject({ bucket: name, key, ...valueFields, expectedRevision: count }),
  'KV.DELETE': z.strictObject({ bucket: name, key, expectedRevision: count.optional() }),
  'KV.LIST': z.strictObject({ bucket: name, prefix: key.optional(), stale }),
  'CLUSTER.STATUS': empty,
  'CLUSTER.NODES': empty,
  'NODE.ADD': z.strictObject({
    nodeId: name,
    clientAddress: z.string().max(512),
    peerAddress: z.string().max(512),
    adminAddress: z.string().max(512),
    region: name,
    masterEligible: z.boolean().optional(),
    tags: z.record(z.string().max(256), z.string().max(256)).optional(),
  }),
  'NODE.DRAIN': z.strictObject({ nodeId: name }),
  'NODE.REMOVE': z.strictObject({ nodeId: name, force: z.boolean().optional() }),
  'LEADER.TRANSFER': z.strictObject({ to: name.optional() }),
  /** Creates a user (password required), or changes its roles / password (`update`). Omitted fields keep the stored value. */
  'USER.ENSURE': z.strictObject({ name, password: password.optional(), roles: z.array(name).max(64).optional(), update }),
  'USER.LIST': empty,
  'USER.DELETE': z.strictObject({ name }),
  /** The server generates the token and answers its secret once; `expiresInMs` absent or 0 = never expires. */
  'TOKEN.CREATE': z.strictObject({ user: name, expiresInMs: count.optional(), id: name.optional() }),
  'TOKEN.LIST': z.strictObject({ user: name.optional(), stale }),
  'TOKEN.REVOKE': z.strictObject({ id: name }),
  'ROLE.ENSURE': z.strictObject({ name, grants: z.array(grantSchema).max(256).optional(), update }),
  'ROLE.LIST': empty,
  'ROLE.DELETE': z.strictObject({ name }),
} as const satisfies Record<ApiVerb, z.ZodType>

export type ApiRequest<V extends ApiVerb> = z.input<(typeof apiRequestSchemas)[V]>
export type ParsedApiRequest<V extends ApiVerb> = z.output<(typeof apiRequestSchemas)[V]>

export type StreamEnsureRequest = ApiRequest<'STREAM.ENSURE'>
export type GroupEnsureRequest = ApiRequest<'GROUP.ENSURE'>
export type PipelineEnsureRequest = ApiRequest<'PIPELINE.ENSURE'>
export type NodeAddRequest = ApiRequest<'NODE.ADD'>
export type UserEnsureRequest = ApiRequest<'USER.ENSURE'>
export type TokenCreateRequest = ApiRequest<'TOKEN.CREATE'>
export type RoleEnsureRequest = ApiRequest<'ROLE.ENSURE'>
export type GrantView = z.infer<typeof grantSchema>
