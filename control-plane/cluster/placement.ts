// Replica placement for persistent streams, per region. Deterministic, no randomness:
//   - candidates are the region's `active` nodes (draining, dead and removed nodes take no new
//     replicas);
//   - members are picked one at a time by the smallest tuple
//       (replicas already in that node's zone, not a current member, load, hash, node id)
//     so zones are spread first, current members are kept (no churn), then the least-loaded
//     node wins, and FNV-1a of `stream␀node` (rendezvous hashing) balances ties;
//   - a node without a `zone` tag counts as zone "" (unknown zones are assumed shared).
// A rebalance computes a target set and moves towards it without losing copies: new members
// become `pending` (the data plane copies the stream to them and reports replicaCaughtUp);
// holders outside the target become `retiring` and are dropped only when nothing is pending
// and at least one target member holds the data.
import { fnv1a32 } from './bytes.js'
import type { ApplyMeta } from './commands.js'
import type { ClusterEvent } from './events.js'
import { placementEvent } from './events.js'
import type { ClusterState, NodeId, NodeRecord, Placement, RegionPlacement } from './state.js'
import { compareStrings, mapDelete, mapSet, sortedKeys, sortedUnique } from './state.js'

export const zoneTag = 'zone'

export interface ChooseInput {
  readonly candidates: readonly NodeRecord[]
  readonly count: number
  readonly streamKey: string
  /** Replicas (and pending replicas) each node holds for other streams. */
  readonly load: ReadonlyMap<NodeId, number>
  /** Current members: preferred over equally spread newcomers. */
  readonly keep: ReadonlySet<NodeId>
}

function zoneOf(node: NodeRecord): string {
  return Object.hasOwn(node.tags, zoneTag) ? (node.tags[zoneTag] ?? '') : ''
}

/** Chooses up to `count` nodes; returns them sorted by id. */
export function chooseReplicas(input: ChooseInput): NodeId[] {
  const remaining = [...input.candidates].sort((a, b) => compareStrings(a.id, b.id))
  const zoneUse = new Map<string, number>()
  const chosen: NodeId[] = []
  const rank = (node: NodeRecord): [number, number, number, number] => [
    zoneUse.get(zoneOf(node)) ?? 0,
    input.keep.has(node.id) ? 0 : 1,
    input.load.get(node.id) ?? 0,
    fnv1a32(`${input.streamKey}\u0000${node.id}`),
  ]
  while (chosen.length < input.count && remaining.length > 0) {
    let bestIndex = 0
    let bestRank = rank(remaining[0] as NodeRecord)
    for (let i = 1; i < remaining.length; i++) {
      const candidateRank = rank(remaining[i] as NodeRecord)
      if (lessThan(candidateRank, bestRank)) {
        bestIndex = i
        bestRank = candidateRank
      }
    }
    const [best] = remaining.splice(bestIndex, 1) as [NodeRecord]
    chosen.push(best.id)
    zoneUse.set(zoneOf(best), (zoneUse.get(zoneOf(best)) ?? 0) + 1)
  }
  return chosen.sort(compareStrings)
}

/** Lexicographic tuple comparison; ties fall through to the id order of the candidate list. */
function lessThan(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number
    const y = b[i] as number
    if (x !== y) return x < y
  }
  return false
}

/** Active nodes of a region, sorted by id. */
export function activeNodesIn(state: ClusterState, region: string): NodeRecord[] {
  return sortedKeys(state.nodes)
    .map((id) => state.nodes.get(id) as NodeRecord)
    .filter((node) => node.region === region && node.state === 'active')
}

/** How many replica-set memberships (replicas + pending) each node has, optionally skipping one stream. */
export function nodeLoad(state: ClusterState, exceptStream?: string): Map<NodeId, number> {
  const load = new Map<NodeId, number>()
  for (const [stream, placement] of state.placements) {
    if (stream === exceptStream) continue
    for (const region of placement.values()) {
      for (const id of [...region.replicas, ...region.pending]) load.set(id, (load.get(id) ?? 0) + 1)
    }
  }
  return load
}

/** Members of the target set: replicas − retiring + pending. */
export function targetMembers(region: RegionPlacement): NodeId[] {
  const retiring = new Set(region.retiring)
  return sortedUnique([...region.replicas.filter((id) => !retiring.has(id)), ...region.pending])
}

/**
 * Moves a region's replica set towards `target` without dropping a copy early.
 * Pure set arithmetic; the same inputs give the same output, and applying it twice is a no-op.
 */
export function reconcile(current: RegionPlacement | undefined, target: readonly NodeId[], replicasWanted: number): RegionPlacement {
  const holders = current?.replicas ?? []
  const targetSet = new Set(target)
  const holderSet = new Set(holders)
  const underReplicated = target.length < replicasWanted
  if (holders.length === 0) return { replicas: sortedUnique(target), pending: [], retiring: [], underReplicated }
  const pending = sortedUnique(target.filter((id) => !holderSet.has(id)))
  const retiring = sortedUnique(holders.filter((id) => !targetSet.has(id)))
  const targetHolds = holders.some((id) => targetSet.has(id))
  if (pending.length === 0 && targetHolds) {
    return { replicas: sortedUnique(holders.filter((id) => targetSet.has(id))), pending: [], retiring: [], underReplicated }
  }
  return { replicas: sortedUnique(holders), pending, retiring, underReplicated }
}

/** The target a region's replica set should have now. */
export function chooseTarget(state: ClusterState, streamKey: string, region: string, replicasWanted: number, load: ReadonlyMap<NodeId, number>): NodeId[] {
  const current = state.placements.get(streamKey)?.get(region)
  const candidates = activeNodesIn(state, region)
  const keep = new Set(current === undefined ? [] : targetMembers(current))
  return chooseReplicas({ candidates, count: replicasWanted, streamKey, load, keep })
}

export function placementJson(region: RegionPlacement): { replicas: string[]; pending: string[]; retiring: string[]; underReplicated: boolean } {
  return { replicas: [...region.replicas], pending: [...region.pending], retiring: [...region.retiring], underReplicated: region.underReplicated }
}

function samePlacement(a: RegionPlacement | undefined, b: RegionPlacement): boolean {
  if (a === undefined) return false
  return JSON.stringify(placementJson(a)) === JSON.stringify(placementJson(b))
}

/**
 * Brings one persistent stream's placement in line with its spec and the nodes: places new
 * regions, drops regions it left, rebalances the rest. Returns the new state and events.
 */
export function placeStream(state: ClusterState, streamKey: string, meta: ApplyMeta): { state: ClusterState; events: ClusterEvent[] } {
  const record = state.streams.get(streamKey)
  const events: ClusterEvent[] = []
  const old = state.placements.get(streamKey)
  if (record === undefined || record.spec.kind !== 'persistent') {
    if (old === undefined) return { state, events }
    for (const region of sortedKeys(old)) events.push(placementEvent(streamKey, region, { replicas: [], pending: [], retiring: [], underReplicated: false, removed: true }, meta))
    return { state: { ...state, placements: mapDelete(state.placements, streamKey) }, events }
  }
  const load = nodeLoad(state, streamKey)
  const next = new Map<string, RegionPlacement>()
  for (const region of sortedUnique(record.spec.regions)) {
    const target = chooseTarget(state, streamKey, region, record.spec.replicasPerRegion, load)
    const placed = reconcile(old?.get(region), target, record.spec.replicasPerRegion)
    next.set(region, placed)
    for (const id of [...placed.replicas, ...placed.pending]) load.set(id, (load.get(id) ?? 0) + 1)
    if (!samePlacement(old?.get(region), placed)) events.push(placementEvent(streamKey, region, placementJson(placed), meta))
  }
  for (const region of old === undefined ? [] : sortedKeys(old)) {
    if (!next.has(region)) events.push(placementEvent(streamKey, region, { replicas: [], pending: [], retiring: [], underReplicated: false, removed: true }, meta))
  }
  if (events.length === 0) return { state, events }
  return { state: { ...state, placements: mapSet(state.placements, streamKey, next as Placement) }, events }
}

/** Rebalances every persistent stream placed in `region` (after a join, drain, death, removal or tag change). */
export function rebalanceRegion(state: ClusterState, region: string, meta: ApplyMeta): { state: ClusterState; events: ClusterEvent[] } {
  let current = state
  const events: ClusterEvent[] = []
  for (const streamKey of sortedKeys(state.streams)) {
    const record = state.streams.get(streamKey)
    if (record === undefined || record.spec.kind !== 'persistent' || !record.spec.regions.includes(region)) continue
    const step = placeStream(current, streamKey, meta)
    current = step.state
    events.push(...step.events)
  }
  return { state: current, events }
}

/** Removes a node from every replica set (it was pruned), then rebalances its region. */
export function forgetNode(state: ClusterState, nodeId: NodeId): ClusterState {
  const placements = new Map<string, Placement>()
  for (const [streamKey, placement] of state.placements) {
    const regions = new Map<string, RegionPlacement>()
    for (const [region, placed] of placement) {
      regions.set(region, {
        replicas: placed.replicas.filter((id) => id !== nodeId),
        pending: placed.pending.filter((id) => id !== nodeId),
        retiring: placed.retiring.filter((id) => id !== nodeId),
        underReplicated: placed.underReplicated,
      })
    }
    placements.set(streamKey, regions)
  }
  return { ...state, placements }
}
