// The cluster state: everything the control plane decides, as immutable values. Collections are
// ReadonlyMaps keyed by a string (never plain objects, so a name like `__proto__` is only a
// name). apply() never mutates a state: it copies the maps it changes (copy-on-write).
// Map iteration order is insertion order, which differs between a replica that applied the log
// and one restored from a snapshot, so every decision iterates in sorted key order (sortedKeys).
import type { GroupSpec, Grant, PipelineSpec, StreamSpec } from './commands.js'

export type NodeId = string

export const nodeStates = ['active', 'draining', 'dead', 'removed'] as const
export type NodeState = (typeof nodeStates)[number]

export interface NodeRecord {
  readonly id: NodeId
  readonly clientAddress: string
  readonly peerAddress: string
  readonly adminAddress: string
  readonly region: string
  /** Votes in the control-plane Raft group. */
  readonly masterEligible: boolean
  /** Free-form tags; `zone` drives replica spread. */
  readonly tags: Readonly<Record<string, string>>
  readonly state: NodeState
  /** Set on a dead node while it holds the last live copy of some stream (kept up to date by apply). */
  readonly removingLosesData: boolean
  readonly joinedIndex: number
}

/** Regions exist explicitly (ensureRegion) or because a node joined with that region. */
export interface RegionRecord {
  readonly name: string
  readonly explicit: boolean
  readonly createdIndex: number
}

export interface NamespaceRecord {
  readonly name: string
  readonly description: string
  readonly createdIndex: number
  readonly updatedIndex: number
}

export interface StreamRecord {
  readonly spec: StreamSpec
  readonly createdIndex: number
  readonly updatedIndex: number
}

/**
 * One persistent stream's replica set in one region.
 * Invariant: `pending` and `replicas` are disjoint; `retiring` ⊆ `replicas`; all sorted, unique.
 * The target set is `replicas − retiring + pending`. A rebalance adds new members to `pending`
 * first; `retiring` members are dropped only once `pending` is empty (caught up) and some
 * target member holds the data, so a new replica is always added before an old one goes.
 */
export interface RegionPlacement {
  /** Members that hold the stream's data (caught up), including retiring ones. */
  readonly replicas: readonly NodeId[]
  /** Target members still catching up (reported by replicaCaughtUp). */
  readonly pending: readonly NodeId[]
  /** Holders that are no longer in the target set and leave once pending is empty. */
  readonly retiring: readonly NodeId[]
  /** The target set is smaller than the stream's replicasPerRegion. */
  readonly underReplicated: boolean
}

/** Region name → replica set of one persistent stream. */
export type Placement = ReadonlyMap<string, RegionPlacement>

export interface GroupRecord {
  readonly spec: GroupSpec
  readonly createdIndex: number
  readonly updatedIndex: number
}

export interface PipelineRecord {
  readonly spec: PipelineSpec
  /** Deterministic topological order of the stages (pipeline-dag.ts). */
  readonly order: readonly string[]
  readonly createdIndex: number
  readonly updatedIndex: number
}

export interface UserRecord {
  readonly name: string
  /** Hashed outside the state machine; never published in events or error messages. */
  readonly passwordHash: string
  /** Sorted, unique role names. */
  readonly roles: readonly string[]
  readonly createdIndex: number
  readonly updatedIndex: number
}

export interface TokenRecord {
  readonly id: string
  readonly hash: string
  readonly user: string
  /** 0 = never. */
  readonly expiresAtMs: number
  readonly revoked: boolean
  readonly createdIndex: number
}

export interface RoleRecord {
  readonly name: string
  /** Sorted by (permission, region, stream), unique. */
  readonly grants: readonly Grant[]
  readonly createdIndex: number
  readonly updatedIndex: number
}

/** Invariant: controllerTerm only grows for a controller; holder null = vacant (no eligible node). */
export interface Designation {
  readonly controller: string
  readonly holder: NodeId | null
  readonly controllerTerm: number
  /** When set, only nodes of this region may hold it. */
  readonly region: string | null
  readonly updatedIndex: number
}

export interface KvEntry {
  readonly value: Uint8Array
  /** The global KV revision of the last write to this key. */
  readonly revision: number
  /** The global KV revision at which the key was (re)created. */
  readonly createRevision: number
}

export interface BucketRecord {
  readonly name: string
  readonly maxValueBytes: number
  readonly entries: ReadonlyMap<string, KvEntry>
  readonly createdIndex: number
  readonly updatedIndex: number
}

export interface ClusterState {
  readonly nodes: ReadonlyMap<NodeId, NodeRecord>
  readonly regions: ReadonlyMap<string, RegionRecord>
  readonly namespaces: ReadonlyMap<string, NamespaceRecord>
  /** Keyed `namespace/name`. */
  readonly streams: ReadonlyMap<string, StreamRecord>
  /** Keyed like streams; persistent streams only. */
  readonly placements: ReadonlyMap<string, Placement>
  /** Keyed `namespace/stream/group`. */
  readonly groups: ReadonlyMap<string, GroupRecord>
  /** Keyed `namespace/name`. */
  readonly pipelines: ReadonlyMap<string, PipelineRecord>
  readonly users: ReadonlyMap<string, UserRecord>
  readonly tokens: ReadonlyMap<string, TokenRecord>
  readonly roles: ReadonlyMap<string, RoleRecord>
  readonly designations: ReadonlyMap<string, Designation>
  readonly buckets: ReadonlyMap<string, BucketRecord>
  /** One revision counter for all buckets (etcd style): every KV write takes the next one. */
  readonly kvRevision: number
  /** Raft index of the last entry applied (0 = none). */
  readonly lastAppliedIndex: number
}

export const defaultNamespace = 'default'

/** A fresh state: only the `default` namespace exists. */
export function emptyState(): ClusterState {
  const namespaces = new Map<string, NamespaceRecord>([
    [defaultNamespace, { name: defaultNamespace, description: '', createdIndex: 0, updatedIndex: 0 }],
  ])
  return {
    nodes: new Map(),
    regions: new Map(),
    namespaces,
    streams: new Map(),
    placements: new Map(),
    groups: new Map(),
    pipelines: new Map(),
    users: new Map(),
    tokens: new Map(),
    roles: new Map(),
    designations: new Map(),
    buckets: new Map(),
    kvRevision: 0,
    lastAppliedIndex: 0,
  }
}

/** Copy-on-write set. */
export function mapSet<K, V>(map: ReadonlyMap<K, V>, key: K, value: V): ReadonlyMap<K, V> {
  const copy = new Map(map)
  copy.set(key, value)
  return copy
}

/** Copy-on-write delete. */
export function mapDelete<K, V>(map: ReadonlyMap<K, V>, key: K): ReadonlyMap<K, V> {
  const copy = new Map(map)
  copy.delete(key)
  return copy
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Keys in code-unit order: the only order decisions may depend on. */
export function sortedKeys<V>(map: ReadonlyMap<string, V>): string[] {
  return [...map.keys()].sort(compareStrings)
}

export function sortedEntries<V>(map: ReadonlyMap<string, V>): [string, V][] {
  return sortedKeys(map).map((key) => [key, map.get(key) as V])
}

/** Sorted, duplicate-free copy of a list of strings. */
export function sortedUnique(values: readonly string[]): string[] {
  return [...new Set(values)].sort(compareStrings)
}

export function isLive(node: NodeRecord): boolean {
  return node.state === 'active' || node.state === 'draining'
}
