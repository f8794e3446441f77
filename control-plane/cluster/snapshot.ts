// Raft snapshots of the cluster state: serialize(state) → canonical UTF-8 JSON bytes (every
// collection as an array sorted by key, object keys sorted, KV values base64), so the same
// state always gives the same bytes on every replica. deserialize validates the shape with zod,
// rebuilds the maps and checks the invariants; a bad snapshot is an error value (the driver
// decides to stop), never a half-built state.
import { z } from 'zod'
import { decodeBase64, encodeBase64 } from './bytes.js'
import { groupSpecSchema, grantSchema, pipelineSpecSchema, streamSpecSchema } from './commands.js'
import { checkInvariants } from './invariants.js'
import { groupKey, streamKey } from './names.js'
import type { JsonValue } from './result.js'
import { canonicalJson } from './result.js'
import type { BucketRecord, ClusterState, KvEntry, RegionPlacement } from './state.js'
import { nodeStates, sortedEntries } from './state.js'

export const snapshotVersion = 1

const index = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
const ids = z.array(z.string())

const snapshotSchema = z.strictObject({
  v: z.literal(snapshotVersion),
  lastAppliedIndex: index,
  kvRevision: index,
  nodes: z.array(z.strictObject({
    id: z.string(), clientAddress: z.string(), peerAddress: z.string(), adminAddress: z.string(), region: z.string(),
    masterEligible: z.boolean(), tags: z.record(z.string(), z.string()), state: z.enum(nodeStates), removingLosesData: z.boolean(), joinedIndex: index,
  })),
  regions: z.array(z.strictObject({ name: z.string(), explicit: z.boolean(), createdIndex: index })),
  namespaces: z.array(z.strictObject({ name: z.string(), description: z.string(), createdIndex: index, updatedIndex: index })),
  streams: z.array(z.strictObject({ spec: streamSpecSchema, createdIndex: index, updatedIndex: index })),
  placements: z.array(z.strictObject({
    stream: z.string(),
    regions: z.array(z.strictObject({ region: z.string(), replicas: ids, pending: ids, retiring: ids, underReplicated: z.boolean() })),
  })),
  groups: z.array(z.strictObject({ spec: groupSpecSchema, createdIndex: index, updatedIndex: index })),
  pipelines: z.array(z.strictObject({ spec: pipelineSpecSchema, order: ids, createdIndex: index, updatedIndex: index })),
  users: z.array(z.strictObject({ name: z.string(), passwordHash: z.string(), roles: ids, createdIndex: index, updatedIndex: index })),
  tokens: z.array(z.strictObject({ id: z.string(), hash: z.string(), user: z.string(), expiresAtMs: index, revoked: z.boolean(), createdIndex: index })),
  roles: z.array(z.strictObject({ name: z.string(), grants: z.array(grantSchema), createdIndex: index, updatedIndex: index })),
  designations: z.array(z.strictObject({ controller: z.string(), holder: z.string().nullable(), controllerTerm: index, region: z.string().nullable(), updatedIndex: index })),
  buckets: z.array(z.strictObject({
    name: z.string(), maxValueBytes: index, createdIndex: index, updatedIndex: index,
    entries: z.array(z.strictObject({ key: z.string(), value: z.string(), revision: index, createRevision: index })),
  })),
})

function values<V>(map: ReadonlyMap<string, V>): V[] {
  return sortedEntries(map).map(([, value]) => value)
}

function placementRegion(region: string, placed: RegionPlacement): JsonValue {
  return { region, replicas: [...placed.replicas], pending: [...placed.pending], retiring: [...placed.retiring], underReplicated: placed.underReplicated }
}

/** The state as a canonical JSON value (also handy for deep comparisons in tests). */
export function stateToJson(state: ClusterState): JsonValue {
  return {
    v: snapshotVersion,
    lastAppliedIndex: state.lastAppliedIndex,
    kvRevision: state.kvRevision,
    nodes: values(state.nodes).map((node) => ({ ...node, tags: { ...node.tags } })),
    regions: values(state.regions).map((r) => ({ ...r })),
    namespaces: values(state.namespaces).map((n) => ({ ...n })),
    streams: values(state.streams) as unknown as JsonValue,
    placements: sortedEntries(state.placements).map(([stream, placement]) => ({
      stream,
      regions: sortedEntries(placement).map(([region, placed]) => placementRegion(region, placed)),
    })),
    groups: values(state.groups) as unknown as JsonValue,
    pipelines: values(state.pipelines) as unknown as JsonValue,
    users: values(state.users) as unknown as JsonValue,
    tokens: values(state.tokens).map((t) => ({ ...t })),
    roles: values(state.roles) as unknown as JsonValue,
    designations: values(state.designations).map((d) => ({ ...d })),
    buckets: values(state.buckets).map((bucket) => ({
      name: bucket.name,
      maxValueBytes: bucket.maxValueBytes,
      createdIndex: bucket.createdIndex,
      updatedIndex: bucket.updatedIndex,
      entries: sortedEntries(bucket.entries).map(([key, entry]) => ({ key, value: encodeBase64(entry.value), revision: entry.revision, createRevision: entry.createRevision })),
    })),
  }
}

export function serialize(state: ClusterState): Uint8Array {
  return new TextEncoder().encode(canonicalJson(stateToJson(state)))
}

export type DeserializeResult = { readonly ok: true; readonly state: ClusterState } | { readonly ok: false; readonly message: string }

function keyed<V>(items: readonly V[], keyOf: (item: V) => string, what: string): Map<string, V> {
  const map = new Map<string, V>()
  for (const item of items) {
    const key = keyOf(item)
    if (map.has(key)) throw new SnapshotShapeError(`${what} ${key} appears twice`)
    map.set(key, item)
  }
  return map
}

class SnapshotShapeError extends Error {}

export function deserialize(bytes: Uint8Array): DeserializeResult {
  let raw: unknown
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (error) {
    return { ok: false, message: `snapshot is not UTF-8 JSON: ${error instanceof Error ? error.message : String(error)}` }
  }
  const parsed = snapshotSchema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    return { ok: false, message: `snapshot has a bad shape at ${issue?.path.join('.') ?? '?'}: ${issue?.message ?? 'unknown'}` }
  }
  const s = parsed.data
  try {
    const buckets = keyed(
      s.buckets.map((b): BucketRecord => {
        const entries = keyed(
          b.entries.map((e) => {
            const value = decodeBase64(e.value)
            if (value === undefined) throw new SnapshotShapeError(`bucket ${b.name} key ${e.key}: bad base64`)
            return { key: e.key, entry: { value, revision: e.revision, createRevision: e.createRevision } as KvEntry }
          }),
          (e) => e.key,
          `bucket ${b.name} key`,
        )
        return { name: b.name, maxValueBytes: b.maxValueBytes, createdIndex: b.createdIndex, updatedIndex: b.updatedIndex, entries: new Map([...entries].map(([k, e]) => [k, e.entry])) }
      }),
      (b) => b.name,
      'bucket',
    )
    const state: ClusterState = {
      nodes: keyed(s.nodes, (n) => n.id, 'node'),
      regions: keyed(s.regions, (r) => r.name, 'region'),
      namespaces: keyed(s.namespaces, (n) => n.name, 'namespace'),
      streams: keyed(s.streams, (r) => streamKey(r.spec.namespace, r.spec.name), 'stream'),
      placements: new Map(
        [...keyed(s.placements, (p) => p.stream, 'placement')].map(([stream, p]) => [
          stream,
          new Map([...keyed(p.regions, (r) => r.region, `placement ${stream} region`)].map(([region, r]) => [
            region,
            { replicas: r.replicas, pending: r.pending, retiring: r.retiring, underReplicated: r.underReplicated },
          ])),
        ]),
      ),
      groups: keyed(s.groups, (g) => groupKey(g.spec.namespace, g.spec.stream, g.spec.name), 'group'),
      pipelines: keyed(s.pipelines, (p) => streamKey(p.spec.namespace, p.spec.name), 'pipeline'),
      users: keyed(s.users, (u) => u.name, 'user'),
      tokens: keyed(s.tokens, (t) => t.id, 'token'),
      roles: keyed(s.roles, (r) => r.name, 'role'),
      designations: keyed(s.designations, (d) => d.controller, 'designation'),
      buckets,
      kvRevision: s.kvRevision,
      lastAppliedIndex: s.lastAppliedIndex,
    }
    const problems = checkInvariants(state)
    if (problems.length > 0) return { ok: false, message: `snapshot breaks invariants: ${problems.slice(0, 5).join('; ')}` }
    return { ok: true, state }
  } catch (error) {
    if (error instanceof SnapshotShapeError) return { ok: false, message: `snapshot: ${error.message}` }
    throw error
  }
}
