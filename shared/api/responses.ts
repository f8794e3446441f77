// The answers of the control API. Every answer is one JSON object, the envelope:
//   {ok: true, ...verb fields}                      success
//   {ok: false, error: {code, message, details?}}   failure; `code` is an RG_ERR_* of shared/errors.ts
// Mutations answer `{ok: true, outcome, details, definition?}` with the cluster's outcome
// (created | updated | unchanged | removed). Raft failures carry `details.reason` and
// `details.outcome` (`notApplied` | `unknown`: the change may still apply; ensure is idempotent, retry).
import { z } from 'zod'

export const apiErrorSchema = z.object({
  code: z.string().regex(/^RG_ERR_[A-Z_]+$/),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
})
export type ApiErrorBody = z.infer<typeof apiErrorSchema>

export const apiFailureSchema = z.object({ ok: z.literal(false), error: apiErrorSchema })
/** Success carries verb-specific fields beside `ok` (kept, not stripped). */
export const apiSuccessSchema = z.looseObject({ ok: z.literal(true) })
export const apiEnvelopeSchema = z.union([apiSuccessSchema, apiFailureSchema])
export type ApiFailure = z.infer<typeof apiFailureSchema>

export const mutationOutcomes = ['created', 'updated', 'unchanged', 'removed'] as const
export type MutationOutcome = (typeof mutationOutcomes)[number]

export const mutationResponseSchema = z.looseObject({
  ok: z.literal(true),
  outcome: z.enum(mutationOutcomes),
  details: z.record(z.string(), z.unknown()),
  definition: z.record(z.string(), z.unknown()).optional(),
})
export type MutationResponse = z.infer<typeof mutationResponseSchema>

export const regionPlacementSchema = z.object({
  replicas: z.array(z.string()),
  pending: z.array(z.string()),
  retiring: z.array(z.string()),
  underReplicated: z.boolean(),
})

export const streamViewSchema = z.looseObject({
  namespace: z.string(),
  name: z.string(),
  kind: z.enum(['persistent', 'ephemeral']),
  regions: z.array(z.string()),
  replicasPerRegion: z.number(),
  dedupWindowMs: z.number(),
  retention: z.object({ maxAgeMs: z.number(), maxBytes: z.number(), maxEvents: z.number() }),
  ackDefault: z.enum(['write', 'majority', 'all']),
  deadLetter: z.object({ maxDeliveries: z.number(), maxLag: z.number() }),
  /** Region → replica set (persistent streams). */
  placement: z.record(z.string(), regionPlacementSchema),
  createdIndex: z.number(),
  updatedIndex: z.number(),
})
export type StreamView = z.infer<typeof streamViewSchema>

export const kvEntryViewSchema = z.object({
  bucket: z.string(),
  key: z.string(),
  /** Base64 of the value bytes. */
  valueBase64: z.string(),
  /** The value as UTF-8 text when it is valid UTF-8. */
  value: z.string().optional(),
  revision: z.number(),
  createRevision: z.number(),
})
export type KvEntryView = z.infer<typeof kvEntryViewSchema>

/** KV.GET: `entry` is null when the key does not exist; `kvRevision` is the cluster's KV revision read. */
export const kvGetResponseSchema = z.object({ ok: z.literal(true), entry: kvEntryViewSchema.nullable(), kvRevision: z.number() })
export const kvListResponseSchema = z.object({ ok: z.literal(true), entries: z.array(kvEntryViewSchema), kvRevision: z.number(), truncated: z.boolean() })

export const nodeViewSchema = z.looseObject({
  id: z.string(),
  region: z.string(),
  state: z.string(),
  clientAddress: z.string(),
  peerAddress: z.string(),
  adminAddress: z.string(),
  masterEligible: z.boolean(),
  tags: z.record(z.string(), z.string()),
  removingLosesData: z.boolean(),
})
export type NodeView = z.infer<typeof nodeViewSchema>

export const memberViewSchema = z.object({
  id: z.string(),
  /** From the cluster's node records ('' when the node has not joined the state). */
  region: z.string(),
  /** Raft role as far as this node knows: leader, follower, learner. */
  role: z.string(),
  /** Cluster node state (active, draining, dead, removed) or 'unknown'. */
  state: z.string(),
  voter: z.boolean(),
})

export const clusterStatusSchema = z.object({
  ok: z.literal(true),
  /** The node that answered. */
  nodeId: z.string(),
  role: z.string(),
  leader: z.string().nullable(),
  term: z.number(),
  commit: z.number(),
  applied: z.number(),
  ready: z.boolean(),
  members: z.array(memberViewSchema),
  regions: z.array(z.string()),
})
export type ClusterStatus = z.infer<typeof clusterStatusSchema>

export const leaderTransferResponseSchema = z.object({ ok: z.literal(true), leader: z.string().nullable(), term: z.number(), transferred: z.boolean() })

/** A user as the API shows it: never a password or its hash. */
export const userViewSchema = z.object({
  name: z.string(),
  roles: z.array(z.string()),
  /** Tokens of this user that are neither revoked nor expired. */
  liveTokens: z.number(),
  createdIndex: z.number(),
  updatedIndex: z.number(),
})
export type UserView = z.infer<typeof userViewSchema>

/** A token as the API shows it: its public id, never the secret or its hash. */
export const tokenViewSchema = z.object({
  id: z.string(),
  user: z.string(),
  /** Wall-clock ms; 0 = never. */
  expiresAtMs: z.number(),
  revoked: z.boolean(),
  /** Expired at the serving node's clock when answered. */
  expired: z.boolean(),
  createdIndex: z.number(),
})
export type TokenView = z.infer<typeof tokenViewSchema>

export const roleViewSchema = z.object({
  name: z.string(),
  grants: z.array(z.object({ permission: z.enum(['read', 'write', 'admin']), region: z.string(), stream: z.string() })),
  createdIndex: z.number(),
  updatedIndex: z.number(),
})
export type RoleView = z.infer<typeof roleViewSchema>

/**
 * TOKEN.CREATE: the mutation answer plus the token itself. `token` (`rgt_<id>_<secret>`) is
 * answered this once; the cluster keeps only its hash.
 */
export const tokenCreatedSchema = z.looseObject({
  ok: z.literal(true),
  outcome: z.enum(mutationOutcomes),
  details: z.record(z.string(), z.unknown()),
  id: z.string(),
  user: z.string(),
  expiresAtMs: z.number(),
  token: z.string(),
})
export type TokenCreated = z.infer<typeof tokenCreatedSchema>
