// System events published on `$RG.events.>` after an entry is applied. The state machine only
// returns them; the node that applied the entry (normally only the Raft leader, to publish once)
// sends them. Payloads are JSON objects; every payload carries the entry's `index` and `timeMs`.
// Secrets (password and token hashes) never appear in a payload.
//
// Subjects:
//   $RG.events.<kind>.created|updated|removed   kind: namespace region stream group pipeline
//                                               user token role bucket
//       payload: { kind, action, index, timeMs, id: {…key fields}, object?: {…definition} }
//   $RG.events.node.joined|draining|dead|left|updated
//       payload: { kind:'node', action, index, timeMs, id:{nodeId}, object:{…node without secrets} }
//   $RG.events.designation.changed
//       payload: { controller, holder, previousHolder, controllerTerm, reason, index, timeMs }
//   $RG.events.placement.changed
//       payload: { stream, region, replicas, pending, retiring, underReplicated, index, timeMs }
//       (replicas [] with removed:true when the stream left the region)
//   $RG.events.kv.<bucket>.put|deleted
//       payload: { bucket, key, revision, value (base64, put only), index, timeMs }
import type { ApplyMeta } from './commands.js'
import type { JsonObject, JsonValue } from './result.js'

export const eventSubjectPrefix = '$RG.events'

export const objectKinds = ['namespace', 'region', 'stream', 'group', 'pipeline', 'user', 'token', 'role', 'bucket'] as const
export type ObjectKind = (typeof objectKinds)[number]
export const objectActions = ['created', 'updated', 'removed'] as const
export type ObjectAction = (typeof objectActions)[number]
export const nodeActions = ['joined', 'draining', 'dead', 'left', 'updated'] as const
export type NodeAction = (typeof nodeActions)[number]

export interface ClusterEvent {
  readonly subject: string
  readonly payload: JsonObject
}

export function objectEvent(
  kind: ObjectKind,
  action: ObjectAction,
  id: JsonObject,
  meta: ApplyMeta,
  object?: JsonValue,
): ClusterEvent {
  const payload: Record<string, JsonValue> = { kind, action, index: meta.index, timeMs: meta.timeMs, id }
  if (object !== undefined) payload.object = object
  return { subject: `${eventSubjectPrefix}.${kind}.${action}`, payload }
}

export function nodeEvent(action: NodeAction, nodeId: string, meta: ApplyMeta, object: JsonValue): ClusterEvent {
  return {
    subject: `${eventSubjectPrefix}.node.${action}`,
    payload: { kind: 'node', action, index: meta.index, timeMs: meta.timeMs, id: { nodeId }, object },
  }
}

export function designationEvent(
  fields: { controller: string; holder: string | null; previousHolder: string | null; controllerTerm: number; reason: string },
  meta: ApplyMeta,
): ClusterEvent {
  return { subject: `${eventSubjectPrefix}.designation.changed`, payload: { ...fields, index: meta.index, timeMs: meta.timeMs } }
}

export function placementEvent(stream: string, region: string, placement: JsonObject, meta: ApplyMeta): ClusterEvent {
  return {
    subject: `${eventSubjectPrefix}.placement.changed`,
    payload: { stream, region, ...placement, index: meta.index, timeMs: meta.timeMs },
  }
}

export function kvEvent(
  action: 'put' | 'deleted',
  fields: { bucket: string; key: string; revision: number; valueBase64?: string },
  meta: ApplyMeta,
): ClusterEvent {
  const payload: Record<string, JsonValue> = { bucket: fields.bucket, key: fields.key, revision: fields.revision, index: meta.index, timeMs: meta.timeMs }
  if (fields.valueBase64 !== undefined) payload.value = fields.valueBase64
  return { subject: `${eventSubjectPrefix}.kv.${fields.bucket}.${action}`, payload }
}
