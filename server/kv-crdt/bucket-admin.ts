// The definition of CRDT buckets: a bucket `B` in mode `crdt` *is* the persistent stream
// `_kv/B` (namespace `_kv`, the RBAC resource namespace of buckets, so the stream's resource is
// the bucket's). ENSURE proposes the namespace (once) and the stream through the control plane —
// one Raft command holds the whole definition (regions, replicas per region), so there is nothing
// to keep in step — with what the bucket needs: unlimited retention (the state is rebuilt from
// every event), `majority` acks, a 2-minute dedup window (a retried publish is one event), no
// dead letters. Linearizable buckets stay in the Raft state (`$RG.API.BUCKET.*`, `KV.*`); a name
// is one or the other (RG_ERR_KV_MODE_MISMATCH).
//
// Known limit: the `_kv` namespace is an ordinary namespace; an admin could add streams there by
// hand (`STREAM.ENSURE`), which would then serve as buckets. Its streams have no subject intake
// (only the `default` namespace has), so no client can publish raw events into a bucket.
import { checkName, streamKey } from '../../control-plane/cluster/index.js'
import type { ApplyResult, ClusterState, Command } from '../../control-plane/cluster/index.js'
import { kvCrdtStreamNamespace } from '../../shared/api/index.js'
import type { ParsedKvCrdtRequest } from '../../shared/api/index.js'
import { bucketDedupWindowMs, replicasPerRegionDefault } from './limits.js'
import type { KvcReply } from './replies.js'
import { failure, fromApplyResult, fromThrown } from './replies.js'

export const bucketStreamKey = (bucket: string): string => streamKey(kvCrdtStreamNamespace, bucket)

/** The bucket of a stream key of namespace `_kv`, or undefined. */
export function bucketOfStreamKey(key: string): string | undefined {
  const prefix = `${kvCrdtStreamNamespace}/`
  return key.startsWith(prefix) ? key.slice(prefix.length) : undefined
}

export interface AdminContext {
  readonly state: () => ClusterState
  readonly ensure: (command: Command) => Promise<ApplyResult>
  /** The serving node's region: a bucket without `regions` is placed there. */
  readonly region: string
}

/** RG_ERR_INVALID_NAME for a bad bucket name, RG_ERR_KV_MODE_MISMATCH for a linearizable one. */
export function bucketNameProblem(state: ClusterState, bucket: string): KvcReply | undefined {
  const problem = checkName('bucket', 'bucket', bucket)
  if (problem !== undefined) return failure(problem.code, problem.message, problem.details as Record<string, unknown>)
  if (state.buckets.has(bucket)) {
    return failure('RG_ERR_KV_MODE_MISMATCH', `bucket ${bucket} is a linearizable bucket: use $RG.API.KV.* (client.kv(bucket))`, { bucket, mode: 'linearizable' })
  }
  return undefined
}

function defaultReplicas(state: ClusterState, regions: readonly string[]): number {
  let largest = 0
  for (const region of regions) {
    let active = 0
    for (const node of state.nodes.values()) if (node.region === region && node.state === 'active') active += 1
    largest = Math.max(largest, active)
  }
  return Math.max(1, Math.min(replicasPerRegionDefault, largest))
}

export async function ensureBucket(context: AdminContext, bucket: string, request: ParsedKvCrdtRequest<'ENSURE'>): Promise<KvcReply> {
  const state = context.state()
  const bad = bucketNameProblem(state, bucket)
  if (bad !== undefined) return bad
  try {
    if (!state.namespaces.has(kvCrdtStreamNamespace)) {
      const made = await context.ensure({ type: 'ensureNamespace', name: kvCrdtStreamNamespace, description: 'CRDT KV buckets: one internal stream per bucket (server/kv-crdt)' })
      // Another node may have made it meanwhile (with another description: a conflict is fine).
      if (!made.ok && made.code !== 'RG_ERR_CONFLICT') return fromApplyResult(made)
    }
    const stored = context.state().streams.get(bucketStreamKey(bucket))?.spec
    const regions = request.regions ?? stored?.regions ?? [context.region]
    const command: Command = {
      type: 'ensureStream',
      namespace: kvCrdtStreamNamespace,
      name: bucket,
      kind: 'persistent',
      regions: [...regions],
      replicasPerRegion: request.replicasPerRegion ?? stored?.replicasPerRegion ?? defaultReplicas(context.state(), regions),
      dedupWindowMs: stored?.dedupWindowMs ?? bucketDedupWindowMs,
      retention: { maxAgeMs: 0, maxBytes: 0, maxEvents: 0 },
      ackDefault: 'majority',
      deadLetter: { maxDeliveries: 0, maxLag: 0 },
      ...(request.update === undefined ? {} : { update: request.update }),
    }
    const reply = fromApplyResult(await context.ensure(command))
    return reply.ok ? { ...reply, bucket, stream: bucketStreamKey(bucket) } : reply
  } catch (error) {
    return fromThrown(error)
  }
}

export async function removeBucket(context: AdminContext, bucket: string): Promise<KvcReply> {
  const state = context.state()
  const bad = bucketNameProblem(state, bucket)
  if (bad !== undefined) return bad
  if (!state.streams.has(bucketStreamKey(bucket))) return failure('RG_ERR_NOT_FOUND', `CRDT bucket ${bucket} not found`, { bucket })
  try {
    return fromApplyResult(await context.ensure({ type: 'removeStream', namespace: kvCrdtStreamNamespace, name: bucket }))
  } catch (error) {
    return fromThrown(error)
  }
}

/** The definition and placement of a bucket (undefined: no such CRDT bucket). */
export function bucketDefinition(state: ClusterState, bucket: string): { readonly regions: readonly string[]; readonly replicasPerRegion: number; readonly placement: Record<string, string[]> } | undefined {
  const key = bucketStreamKey(bucket)
  const record = state.streams.get(key)
  if (record === undefined || record.spec.kind !== 'persistent') return undefined
  const placement: Record<string, string[]> = {}
  for (const [region, placed] of state.placements.get(key) ?? new Map()) placement[region] = [...placed.replicas]
  return { regions: record.spec.regions, replicasPerRegion: record.spec.replicasPerRegion, placement }
}
