// Replica placement for persistent streams, per region. Deterministic, no randomness:
//   - candidates are the region's `active` nodes (draining, dead and removed nodes take no new
//     replicas);
//   - members are picked one at a time by the smallest tuple
//       (replicas already in that node's zone, not a data holder, not a target member,
//        load, hash, node id)
//     so zones are spread first, nodes that hold the data are reused (a caught-up replica
//     beats one still catching up), current target members are kept (no churn), then the
//     least-loaded node wins, and FNV-1a of `stream␀node` (rendezvous hashing) breaks ties;
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
import { compareStrings, sortedKeys, sortedUnique } from './state.js'

export const zoneTag = 'zone'

export interface ChooseInput {
  readonly candidates: readonly NodeRecord[]
  readonly count: number
  readonly streamKey: string
  /** Replicas (and pending replicas) each node holds for other streams. */
  readonly load: ReadonlyMap<NodeId, number>
  /** Nodes holding the data (caught-up replicas, even retiring): preferred first, so a holder that came back is reused. */
  readonly holders?: ReadonlySet<NodeId>
  /** Current target members: preferred next over equally spread newcomers (no churn). */
  readonly keep: ReadonlySet<NodeId>
}

function zoneOf(node: NodeRecord): string {
  return Object.hasOwn(node.tags, zoneTag) ? (node.tags[zoneTag] ?? '') : ''
}

/** Chooses up to `count` nodes; returns them sorted by id. */
export function chooseReplicas(input: ChooseInput): NodeId[] {
  // The static part of each rank (member?, load, hash) is computed once; only zone use changes.
  const remaining = [...input.candidates]
    .sort((a, b) => compareStrings(a.id, b.id))
    .map((node) => ({ node, zone: zoneOf(node), fixed: [input.holders?.has(node.id) === true ? 0 : 1, input.keep.has(node.id) ? 0 : 1, input.load.get(node.id) ?? 0, fnv1a32(`${input.streamKey}\u0000${node.id}`)] }))
  const zoneUse = new Map<string, number>()
  const chosen: NodeId[] = []
  const rank = (c: (typeof remaining)[number]): number[] => [zoneUse.get(c.zone) ?? 0, ...c.fixed]
  while (chosen.length < input.count && remaining.length > 0) {
    let bestIndex = 0
    let bestRank = rank(remaining[0] as (typeof remaining)[number])
    for (let i = 1; i < remaining.length; i++) {
      const candidateRank = rank(remaining[i] as (typeof remaining)[number])
      if (lessThan(candidateRank, bestRank)) {
        bestIndex = i
        bestRank = candidateRank
      }
    }
    const [best] = remaining.splice(bestIndex, 1) as [(typeof remaining)[number]]
    chosen.push(best.node.id)
    zoneUse.set(best.zone, (zoneUse.get(best.zone) ?? 0) + 1)
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

// Load is derived from the (immutable) placements map, so it can be memoised by identity:
// deterministic, and never part of the state or the snapshot.
const loadMemo = new WeakMap<ReadonlyMap<string, Placement>, ReadonlyMap<NodeId, number>>()

/** How many replica-set memberships (replicas + pending) each node has. Returns a fresh, mutable copy. */
export function nodeLoad(state: ClusterState): Map<NodeId, number> {
  const memo = loadMemo.get(state.placements)
  if (memo !== undefined) return new Map(memo)
  const load = new Map<NodeId, number>()
  for (const placement of state.placements.values()) adjustLoad(load, placement, +1)
  loadMemo.set(state.placements, new Map(load))
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

export function placementJson(region: RegionPlacement): { replicas: string[]; pending: string[]; retiring: string[]; underReplicated: boolean } {
  return { replicas: [...region.replicas], pending: [...region.pending], retiring: [...region.retiring], underReplicated: region.underReplicated }
}

function samePlacement(a: RegionPlacement | undefined, b: RegionPlacement): boolean {
  if (a === undefined) return false
  return JSON.stringify(placementJson(a)) === JSON.stringify(placementJson(b))
}

function adjustLoad(load: Map<NodeId, number>, placement: Placement | undefined, delta: number): void {
  for (const placed of placement?.values() ?? []) {
    for (const id of [...placed.replicas, ...placed.pending]) load.set(id, (load.get(id) ?? 0) + delta)
  }
}

const removedRegion = { replicas: [], pending: [], retiring: [], underReplicated: false, removed: true }

/** Work shared by a batch of placements: a mutable draft, the running load and cached candidates. */
interface PlacementBatch {
  readonly draft: Map<string, Placement>
  readonly load: Map<NodeId, number>
  readonly candidates: Map<string, NodeRecord[]>
  readonly events: ClusterEvent[]
}

function newBatch(state: ClusterState): PlacementBatch {
  return { draft: new Map(state.placements), load: nodeLoad(state), candidates: new Map(), events: [] }
}

/** Re-places one stream into the batch draft (new regions placed, left regions dropped, the rest rebalanced). */
function placeInto(state: ClusterState, batch: PlacementBatch, streamKey: string, meta: ApplyMeta): void {
  const record = state.streams.get(streamKey)
  const old = batch.draft.get(streamKey)
  adjustLoad(batch.load, old, -1)
  if (record === undefined || record.spec.kind !== 'persistent') {
    if (old === undefined) return
    for (const region of sortedKeys(old)) batch.events.push(placementEvent(streamKey, region, removedRegion, meta))
    batch.draft.delete(streamKey)
    return
  }
  const next = new Map<string, RegionPlacement>()
  let changed = false
  for (const region of sortedUnique(record.spec.regions)) {
    let candidates = batch.candidates.get(region)
    if (candidates === undefined) {
      candidates = activeNodesIn(state, region)
      batch.candidates.set(region, candidates)
    }
    const current = old?.get(region)
    const keep = new Set(current === undefined ? [] : targetMembers(current))
    const holders = new Set(current?.replicas ?? [])
    const target = chooseReplicas({ candidates, count: record.spec.replicasPerRegion, streamKey, load: batch.load, keep, holders })
    const placed = reconcile(current, target, record.spec.replicasPerRegion)
    next.set(region, placed)
    if (!samePlacement(current, placed)) {
      changed = true
      batch.events.push(placementEvent(streamKey, region, placementJson(placed), meta))
    }
  }
  for (const region of old === undefined ? [] : sortedKeys(old)) {
    if (!next.has(region)) {
      changed = true
      batch.events.push(placementEvent(streamKey, region, removedRegion, meta))
    }
  }
  const result = changed || old === undefined ? next : old
  batch.draft.set(streamKey, result)
  adjustLoad(batch.load, result, +1)
}

function finish(state: ClusterState, batch: PlacementBatch): { state: ClusterState; events: ClusterEvent[] } {
  if (batch.events.length === 0) return { state, events: [] }
  loadMemo.set(batch.draft, new Map(batch.load))
  return { state: { ...state, placements: batch.draft }, events: batch.events }
}

/**
 * Brings one persistent stream's placement in line with its spec and the nodes: places new
 * regions, drops regions it left, rebalances the rest. Returns the new state and events.
 */
export function placeStream(state: ClusterState, streamKey: string, meta: ApplyMeta): { state: ClusterState; events: ClusterEvent[] } {
  const batch = newBatch(state)
  placeInto(state, batch, streamKey, meta)
  return finish(state, batch)
}

/** Rebalances every persistent stream placed in `region` (after a join, drain, death, removal or tag change), in stream-key order. */
export function rebalanceRegion(state: ClusterState, region: string, meta: ApplyMeta): { state: ClusterState; events: ClusterEvent[] } {
  const batch = newBatch(state)
  for (const streamKey of sortedKeys(state.streams)) {
    const record = state.streams.get(streamKey)
    if (record === undefined || record.spec.kind !== 'persistent' || !record.spec.regions.includes(region)) continue
    placeInto(state, batch, streamKey, meta)
  }
  return finish(state, batch)
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
