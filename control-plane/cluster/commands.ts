// The commands of the cluster state machine: a tagged union on `type`, defined once as zod
// schemas so the codec validates exactly what apply() accepts. Every field is explicit in the
// log entry (no defaults filled in at decode time), so replaying an old log after a code change
// cannot silently change what it meant. Names are checked by apply() (names.ts), not here,
// so that a bad name gets RG_ERR_INVALID_NAME with the field it came from.
import { z } from 'zod'
import { clusterLimits } from './limits.js'

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
const positive = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER)
const name = z.string().max(clusterLimits.nameLengthMax * 4)
const address = z.string().max(clusterLimits.addressLengthMax)
const update = z.boolean().optional()
const bytes = z.custom<Uint8Array>((value) => value instanceof Uint8Array, { message: 'expected bytes (Uint8Array)' })

export const streamKinds = ['persistent', 'ephemeral'] as const
export const ackLevels = ['write', 'majority', 'all'] as const
export const groupModes = ['exclusive', 'load-balanced'] as const
export const permissions = ['read', 'write', 'admin'] as const

/** Limits are 0 = unlimited. */
export const retentionSchema = z.strictObject({ maxAgeMs: count, maxBytes: count, maxEvents: count })
/** 0 = that rule is off. */
export const deadLetterSchema = z.strictObject({ maxDeliveries: count, maxLag: count })

export const streamSpecSchema = z.strictObject({
  namespace: name,
  name: name,
  kind: z.enum(streamKinds),
  /** Regions the stream lives in; persistent streams are placed in each. */
  regions: z.array(name).min(1).max(clusterLimits.regionsPerStreamMax),
  replicasPerRegion: positive,
  dedupWindowMs: count,
  retention: retentionSchema,
  ackDefault: z.enum(ackLevels),
  deadLetter: deadLetterSchema,
})

export const consumerStartSchema = z.discriminatedUnion('from', [
  z.strictObject({ from: z.literal('beginning') }),
  z.strictObject({ from: z.literal('end') }),
  z.strictObject({ from: z.literal('time'), timeMs: count }),
  z.strictObject({ from: z.literal('index'), index: count }),
])

export const groupSpecSchema = z.strictObject({
  namespace: name,
  stream: name,
  name: name,
  mode: z.enum(groupModes),
  maxInFlight: positive,
  ackWaitMs: positive,
  /** 0 = unlimited (the stream's deadLetter.maxDeliveries still applies). */
  maxDeliveries: count,
  start: consumerStartSchema,
})

export const stageSchema = z.strictObject({
  name: name,
  /** Stages that must have run before this one (ordering only). */
  after: z.array(name).max(clusterLimits.referencesPerStageMax),
  /** Stages whose outputs this one needs (implies ordering). */
  dependencies: z.array(name).max(clusterLimits.referencesPerStageMax),
})

export const pipelineSpecSchema = z.strictObject({
  namespace: name,
  name: name,
  /** A stream of the same namespace whose events start a pipeline run. */
  triggerStream: name,
  stages: z.array(stageSchema).min(1),
})

export const grantSchema = z.strictObject({
  permission: z.enum(permissions),
  /** Region pattern: a region name, or a glob with `*`. */
  region: name,
  /** Stream pattern `namespace/name`, each part a name or a glob with `*`; `*` alone = every stream. */
  stream: z.string().max(clusterLimits.nameLengthMax * 2 + 1),
})

const tags = z.record(z.string().max(clusterLimits.nameLengthMax * 4), z.string().max(clusterLimits.tagValueLengthMax))

const commandSchemas = [
  z.strictObject({ type: z.literal('ensureNamespace'), name, description: z.string().max(1024).optional(), update }),
  z.strictObject({ type: z.literal('removeNamespace'), name }),
  z.strictObject({ type: z.literal('ensureRegion'), name }),
  z.strictObject({ type: z.literal('ensureStream'), ...streamSpecSchema.shape, update }),
  z.strictObject({ type: z.literal('removeStream'), namespace: name, name }),
  z.strictObject({ type: z.literal('ensureConsumerGroup'), ...groupSpecSchema.shape, update }),
  z.strictObject({ type: z.literal('removeConsumerGroup'), namespace: name, stream: name, name }),
  z.strictObject({ type: z.literal('ensurePipeline'), ...pipelineSpecSchema.shape, update }),
  z.strictObject({ type: z.literal('removePipeline'), namespace: name, name }),
  z.strictObject({
    type: z.literal('addNode'),
    nodeId: name,
    clientAddress: address,
    peerAddress: address,
    adminAddress: address,
    region: name,
    masterEligible: z.boolean(),
    tags,
    /** Lets a node change its own addresses (a restart on other ports); region, eligibility and tags stay. */
    update,
  }),
  z.strictObject({ type: z.literal('drainNode'), nodeId: name }),
  z.strictObject({ type: z.literal('markNodeDead'), nodeId: name }),
  /** `force` removes even when it loses the last live copy of some streams. */
  z.strictObject({ type: z.literal('removeNode'), nodeId: name, force: z.boolean().optional() }),
  z.strictObject({ type: z.literal('setNodeTags'), nodeId: name, tags }),
  /** The data plane reports that a pending replica has caught up. */
  z.strictObject({ type: z.literal('replicaCaughtUp'), namespace: name, stream: name, region: name, nodeId: name }),
  z.strictObject({
    type: z.literal('designate'),
    controller: z.string().max(clusterLimits.controllerNameLengthMax),
    holder: name,
    controllerTerm: positive,
    /** When set, only nodes of this region may hold it (used by redesignation). */
    region: name.optional(),
  }),
  z.strictObject({ type: z.literal('redesignate'), controller: z.string().max(clusterLimits.controllerNameLengthMax) }),
  z.strictObject({
    type: z.literal('ensureUser'),
    name,
    passwordHash: z.string().max(clusterLimits.hashLengthMax),
    roles: z.array(name).max(clusterLimits.rolesPerUserMax),
    update,
  }),
  z.strictObject({ type: z.literal('removeUser'), name }),
  z.strictObject({
    type: z.literal('addToken'),
    id: name,
    hash: z.string().min(1).max(clusterLimits.hashLengthMax),
    user: name,
    /** 0 = never expires. */
    expiresAtMs: count,
  }),
  z.strictObject({ type: z.literal('revokeToken'), id: name }),
  z.strictObject({ type: z.literal('ensureRole'), name, grants: z.array(grantSchema).max(clusterLimits.grantsPerRoleMax), update }),
  z.strictObject({ type: z.literal('removeRole'), name }),
  z.strictObject({ type: z.literal('ensureBucket'), name, maxValueBytes: positive, update }),
  z.strictObject({ type: z.literal('removeBucket'), name }),
  z.strictObject({ type: z.literal('kvPut'), bucket: name, key: z.string().max(clusterLimits.kvKeyLengthMax * 2), value: bytes }),
  /** `expectedRevision` when set makes the delete conditional. */
  z.strictObject({ type: z.literal('kvDelete'), bucket: name, key: z.string().max(clusterLimits.kvKeyLengthMax * 2), expectedRevision: count.optional() }),
  /** `expectedRevision` 0 = the key must not exist. */
  z.strictObject({ type: z.literal('kvCas'), bucket: name, key: z.string().max(clusterLimits.kvKeyLengthMax * 2), value: bytes, expectedRevision: count }),
] as const

export const commandSchema = z.discriminatedUnion('type', commandSchemas)

export type Command = z.infer<typeof commandSchema>
export type CommandType = Command['type']
export type CommandOf<T extends CommandType> = Extract<Command, { type: T }>

export const commandTypes = commandSchemas.map((schema) => schema.shape.type.value) as readonly CommandType[]

export type StreamSpec = z.infer<typeof streamSpecSchema>
export type GroupSpec = z.infer<typeof groupSpecSchema>
export type PipelineSpec = z.infer<typeof pipelineSpecSchema>
export type StageSpec = z.infer<typeof stageSchema>
export type Grant = z.infer<typeof grantSchema>
export type ConsumerStart = z.infer<typeof consumerStartSchema>
export type StreamKind = (typeof streamKinds)[number]
export type AckLevel = (typeof ackLevels)[number]
export type GroupMode = (typeof groupModes)[number]
export type Permission = (typeof permissions)[number]

/** Apply-time facts that come from the log entry, never from the local clock. */
export interface ApplyMeta {
  /** The Raft log index of the entry. */
  readonly index: number
  /** The leader's proposal time, carried in the entry. */
  readonly timeMs: number
}
