// The CRDT KV wire (docs/api.md § CRDT KV buckets): the contract between the bucket service
// (server/kv-crdt), our client (client/kv-crdt-transport.ts) and any NATS client speaking it
// with plain request/reply. Subjects, zod schemas of every request and answer, the JSON views of
// entries and watch events.
//
//   $RG.KVC.<bucket>.ENSURE | INFO | REMOVE                         bucket definition (JSON request/reply)
//   $RG.KVC.<bucket>.PUT | DELETE | MERGE | INCR                     writes
//   $RG.KVC.<bucket>.GET | LIST | WATCH | UNWATCH                    reads and the change feed
//
// Why `$RG.KVC` and not `$RG.API.KVC`: every node's control API answers each `$RG.API.>` subject
// (an unknown verb with RG_ERR_UNKNOWN_VERB), and the authorizer judges `$RG.API` requests by
// their body; a CRDT bucket is served by the replicas that hold its data, like a consumer group
// (`$RG.C.<ns>.<stream>.<group>.<VERB>`), so the bucket is a subject token and RBAC reads it
// there (shared/security/subject-access.ts): writes need `write`, reads `read`, ENSURE/REMOVE
// `admin` on `_kv/<bucket>`.
//
// Values: plain bytes travel in base64 (`valueBase64`, plus `value` when they are valid UTF-8
// text), JSON values as JSON, counters as decimal strings (signed 64-bit deltas, sums beyond).
import { z } from 'zod'

export const kvCrdtSubjectPrefix = '$RG.KVC'
export const kvCrdtVerbs = ['ENSURE', 'INFO', 'REMOVE', 'PUT', 'DELETE', 'MERGE', 'INCR', 'GET', 'LIST', 'WATCH', 'UNWATCH'] as const
export type KvCrdtVerb = (typeof kvCrdtVerbs)[number]
export const kvCrdtWriteVerbs: ReadonlySet<KvCrdtVerb> = new Set<KvCrdtVerb>(['PUT', 'DELETE', 'MERGE', 'INCR'])
export const kvCrdtReadVerbs: ReadonlySet<KvCrdtVerb> = new Set<KvCrdtVerb>(['INFO', 'GET', 'LIST', 'WATCH', 'UNWATCH'])
export const kvCrdtAdminVerbs: ReadonlySet<KvCrdtVerb> = new Set<KvCrdtVerb>(['ENSURE', 'REMOVE'])

/** Bucket names: one subject token (the cluster's plain-name rule; `__`/`$` prefixes are refused there). */
export const kvCrdtBucketPattern = /^[A-Za-z0-9_-]{1,64}$/
/** The RBAC resource namespace of buckets, and the namespace of CRDT buckets' internal streams. */
export const kvCrdtStreamNamespace = '_kv'

export const kvCrdtWireLimits = {
  /** Longest `deliver` subject of a WATCH. */
  deliverSubjectBytesMax: 512,
  /** Entries in one LIST answer (then `truncated`). */
  listEntriesMax: 10_000,
  /** Longest write wait a request may ask for. */
  writeTimeoutMsMax: 60_000,
  /** Watch events per message on the deliver subject. */
  watchEventsPerMessageMax: 256,
} as const

export const kvCrdtWireDefaults = {
  /** A write waits this long for its ack level when the request names no `timeoutMs`. */
  writeTimeoutMs: 5_000,
} as const

/** Watch messages go to a reply inbox of the watcher (never to a stream's subject). */
export const kvCrdtDeliverPrefix = '_INBOX.'

export const kvCrdtSubject = (bucket: string, verb: KvCrdtVerb): string => `${kvCrdtSubjectPrefix}.${bucket}.${verb}`

/** `{bucket, verb}` of a `$RG.KVC.<bucket>.<VERB>` subject, or undefined (another subject, bad bucket token, unknown verb). */
export function parseKvCrdtSubject(subject: string): { readonly bucket: string; readonly verb: KvCrdtVerb } | undefined {
  if (!subject.startsWith(`${kvCrdtSubjectPrefix}.`)) return undefined
  const tokens = subject.slice(kvCrdtSubjectPrefix.length + 1).split('.')
  if (tokens.length !== 2) return undefined
  const [bucket = '', verb = ''] = tokens
  if (!kvCrdtBucketPattern.test(bucket) || !(kvCrdtVerbs as readonly string[]).includes(verb)) return undefined
  return { bucket, verb: verb as KvCrdtVerb }
}

// ---- requests -------------------------------------------------------------------------------

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
const positive = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER)
/** Keys are checked by the replica (1..1,024 UTF-8 bytes, no control characters); here only a bound. */
const key = z.string().max(4096)
export const kvCrdtAckLevels = ['write', 'majority', 'all'] as const
export type KvCrdtAckLevel = (typeof kvCrdtAckLevels)[number]
const writeOptions = {
  ack: z.enum(kvCrdtAckLevels).optional(),
  timeoutMs: z.number().int().min(1).max(kvCrdtWireLimits.writeTimeoutMsMax).optional(),
}
/** A JSON object (its depth, size and field names are checked by the replica: RFC 7386 patch rules). */
const jsonObject = z.custom<Readonly<Record<string, unknown>>>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), { message: 'expected a JSON object' })
/** Signed 64-bit, as a JSON integer (safe range) or a decimal string. */
const delta = z.union([z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER), z.string().regex(/^-?(0|[1-9][0-9]{0,18})$/)])

export const kvCrdtRequestSchemas = {
  /** Creates the bucket (its internal stream `_kv/<bucket>`), confirms it (`unchanged`) or, with `update`, changes its placement. */
  ENSURE: z.strictObject({
    regions: z.array(z.string().max(256)).min(1).max(64).optional(),
    replicasPerRegion: positive.optional(),
    update: z.boolean().optional(),
  }),
  INFO: z.strictObject({}),
  REMOVE: z.strictObject({}),
  PUT: z.strictObject({ key, value: z.string().optional(), valueBase64: z.string().optional(), ...writeOptions }),
  DELETE: z.strictObject({ key, ...writeOptions }),
  MERGE: z.strictObject({ key, patch: jsonObject, ...writeOptions }),
  INCR: z.strictObject({ key, delta, ...writeOptions }),
  GET: z.strictObject({ key }),
  LIST: z.strictObject({ prefix: key.optional(), limit: positive.optional() }),
  /**
   * Exactly one of `key` / `prefix`. `fromRevision` resumes on the replica named `replica` (an
   * earlier answer's); another replica answers with `reset` and the full values.
   */
  WATCH: z.strictObject({
    key: key.optional(),
    prefix: key.optional(),
    fromRevision: count.optional(),
    replica: z.string().max(256).optional(),
    deliver: z.string().min(1).max(kvCrdtWireLimits.deliverSubjectBytesMax),
  }),
  UNWATCH: z.strictObject({ watchId: z.string().min(1).max(128) }),
} as const satisfies Record<KvCrdtVerb, z.ZodType>

export type KvCrdtRequest<V extends KvCrdtVerb> = z.input<(typeof kvCrdtRequestSchemas)[V]>
export type ParsedKvCrdtRequest<V extends KvCrdtVerb> = z.output<(typeof kvCrdtRequestSchemas)[V]>

// ---- answers --------------------------------------------------------------------------------

export const kvCrdtHlcSchema = z.object({ wallMs: z.number().int().nonnegative(), logical: z.number().int().nonnegative() })

/** One entry as the serving replica holds it. */
export const kvCrdtEntryViewSchema = z.discriminatedUnion('type', [
  z.object({ key: z.string(), type: z.literal('bytes'), valueBase64: z.string(), value: z.string().optional(), revision: count, updatedHlc: kvCrdtHlcSchema, conflicts: count }),
  z.object({ key: z.string(), type: z.literal('json'), json: z.record(z.string(), z.unknown()), revision: count, updatedHlc: kvCrdtHlcSchema, conflicts: count }),
  z.object({ key: z.string(), type: z.literal('counter'), count: z.string().regex(/^-?[0-9]+$/), revision: count, updatedHlc: kvCrdtHlcSchema, conflicts: count }),
])
export type KvCrdtEntryView = z.infer<typeof kvCrdtEntryViewSchema>

/** The acknowledgement of a write. `replicasHolding` is what the level guarantees (1, a majority, all). */
export const kvCrdtWriteAckSchema = z.object({
  ok: z.literal(true),
  bucket: z.string(),
  key: z.string(),
  origin: z.string(),
  hlc: kvCrdtHlcSchema,
  level: z.enum(kvCrdtAckLevels),
  replicasHolding: count,
  replicas: count,
})
export type KvCrdtWriteAck = z.infer<typeof kvCrdtWriteAckSchema>

/** `replica`: the serving state (`<node>#<incarnation>`); revisions are its own. */
export const kvCrdtGetAnswerSchema = z.object({ ok: z.literal(true), entry: kvCrdtEntryViewSchema.nullable(), revision: count, replica: z.string() })
export const kvCrdtListAnswerSchema = z.object({ ok: z.literal(true), entries: z.array(kvCrdtEntryViewSchema), revision: count, replica: z.string(), truncated: z.boolean() })
export const kvCrdtWatchAnswerSchema = z.object({ ok: z.literal(true), watchId: z.string(), replica: z.string() })

export const kvCrdtWatchEventViewSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('value'), key: z.string(), entry: kvCrdtEntryViewSchema, initial: z.boolean() }),
  z.object({ type: z.literal('delete'), key: z.string(), revision: count, initial: z.boolean() }),
  z.object({ type: z.literal('reset'), revision: count }),
  z.object({ type: z.literal('ready'), revision: count }),
  /** The feed stopped at the replica (node stopping, bucket removed, state rebuilt): resubscribe, with `fromRevision` to resume. */
  z.object({ type: z.literal('end'), code: z.string(), message: z.string() }),
])
export type KvCrdtWatchEventView = z.infer<typeof kvCrdtWatchEventViewSchema>

/** One message on a watch's deliver subject: `seq` counts messages from 1 (a gap means messages were lost). */
export const kvCrdtWatchMessageSchema = z.object({ watchId: z.string(), seq: positive, replica: z.string(), events: z.array(kvCrdtWatchEventViewSchema) })
export type KvCrdtWatchMessage = z.infer<typeof kvCrdtWatchMessageSchema>

/** INFO: the definition, the placement, and what the answering node holds. */
export const kvCrdtInfoAnswerSchema = z.looseObject({
  ok: z.literal(true),
  bucket: z.string(),
  stream: z.string(),
  regions: z.array(z.string()),
  replicasPerRegion: z.number(),
  placement: z.record(z.string(), z.array(z.string())),
  /** This node's replica, or null when it holds none. */
  local: z
    .object({
      replica: z.string(),
      ready: z.boolean(),
      writable: z.boolean(),
      revision: count,
      keys: count,
      tombstones: count,
      pending: count,
      appliedEvents: count,
      malformedEvents: count,
      collectedTombstones: count,
    })
    .nullable(),
})
export type KvCrdtInfoAnswer = z.infer<typeof kvCrdtInfoAnswerSchema>
