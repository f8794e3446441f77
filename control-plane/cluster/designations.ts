// Controller designations `{controller, holder, controllerTerm}` (founding note 001: "a
// monotonically increasing term per control group, disjoint from Raft's terms").
// Invariant: a controller's term never goes down. `designate` must carry a term above the
// current one (equal is accepted only as a repeat for the same holder → unchanged). When a
// holder is drained or marked dead, every designation it holds moves to another active node
// (same region if the designation is region-scoped) with term + 1; if there is none the
// designation becomes vacant (holder null, term + 1) and is filled when a node joins.
// The choice is deterministic: fewest designations held, then FNV-1a of `controller␀node`,
// then node id. Placement-bound designations (psc/…, scc/…, ship/…, below) follow the same rules
// among the members of their placement, and are created and removed with it.
import { fnv1a32 } from './bytes.js'
import type { ApplyMeta, CommandOf } from './commands.js'
import type { ClusterEvent } from './events.js'
import { designationEvent } from './events.js'
import { clusterLimits } from './limits.js'
import { checkName } from './names.js'
import { fail, ok } from './result.js'
import type { ClusterState, Designation, NodeId, RegionPlacement } from './state.js'
import { compareStrings, mapSet, sortedKeys, sortedUnique } from './state.js'
import type { Step } from './step.js'


function designationJson(d: Designation): { controller: string; holder: string | null; controllerTerm: number; region: string | null } {
  return { controller: d.controller, holder: d.holder, controllerTerm: d.controllerTerm, region: d.region }
}

/** Picks a holder for `controller` among active nodes (of `region` if set), skipping `exclude`. */
export function pickHolder(state: ClusterState, controller: string, region: string | null, exclude: ReadonlySet<NodeId>): NodeId | null {
  const held = new Map<NodeId, number>()
  for (const d of state.designations.values()) if (d.holder !== null) held.set(d.holder, (held.get(d.holder) ?? 0) + 1)
  let best: { id: NodeId; held: number; hash: number } | null = null
  for (const id of sortedKeys(state.nodes)) {
    const node = state.nodes.get(id)
    if (node === undefined || node.state !== 'active' || exclude.has(id)) continue
    if (region !== null && node.region !== region) continue
    const candidate = { id, held: held.get(id) ?? 0, hash: fnv1a32(`${controller}\u0000${id}`) }
    if (best === null || candidate.held < best.held || (candidate.held === best.held && candidate.hash < best.hash)) best = candidate
  }
  return best === null ? null : best.id
}

function setDesignation(state: ClusterState, next: Designation, previousHolder: NodeId | null, reason: string, meta: ApplyMeta): Step {
  return {
    state: { ...state, designations: mapSet(state.designations, next.controller, next) },
    result: ok(state.designations.has(next.controller) ? 'updated' : 'created', designationJson(next)),
    events: [designationEvent({ controller: next.controller, holder: next.holder, previousHolder, controllerTerm: next.controllerTerm, reason }, meta)],
  }
}

export function applyDesignate(state: ClusterState, command: CommandOf<'designate'>, meta: ApplyMeta): Step {
  const nameProblem = checkName('controller', 'controller', command.controller) ?? checkName('node', 'holder', command.holder)
  if (nameProblem !== undefined) return { state, result: nameProblem, events: [] }
  if (isPlacementBound(command.controller)) {
    return {
      state,
      result: fail('RG_ERR_INVALID_ARGUMENT', `controller: ${command.controller} is designated by its placement (held by a replica, moved on failure); use redesignate to move it`, { controller: command.controller }),
      events: [],
    }
  }
  const holder = state.nodes.get(command.holder)
  if (holder === undefined || holder.state === 'removed') return { state, result: fail('RG_ERR_NOT_FOUND', `holder: node ${command.holder} does not exist`, { holder: command.holder }), events: [] }
  if (holder.state !== 'active') {
    return { state, result: fail('RG_ERR_INVALID_STATE', `holder: node ${command.holder} is ${holder.state}, only active nodes can hold a designation`, { holder: command.holder, state: holder.state }), events: [] }
  }
  const existing = state.designations.get(command.controller)
  const region = command.region ?? existing?.region ?? null
  if (region !== null && holder.region !== region) {
    return { state, result: fail('RG_ERR_INVALID_ARGUMENT', `holder: node ${command.holder} is in region ${holder.region}, the designation is scoped to ${region}`, { holder: command.holder, region }), events: [] }
  }
  if (existing !== undefined) {
    if (command.controllerTerm === existing.controllerTerm && command.holder === existing.holder && region === existing.region) {
      return { state, result: ok('unchanged', designationJson(existing)), events: [] }
    }
    if (command.controllerTerm <= existing.controllerTerm) {
      return {
        state,
        result: fail('RG_ERR_STALE_TERM', `controllerTerm: ${command.controller} is at term ${existing.controllerTerm} (holder ${existing.holder ?? 'none'}); term ${command.controllerTerm} is stale`, {
          controller: command.controller,
          currentTerm: existing.controllerTerm,
          currentHolder: existing.holder,
          proposedTerm: command.controllerTerm,
        }),
        events: [],
      }
    }
  } else if (state.designations.size >= clusterLimits.designationsMax) {
    return { state, result: fail('RG_ERR_LIMIT_EXCEEDED', `designations: at most ${clusterLimits.designationsMax}`, { limit: 'designationsMax' }), events: [] }
  }
  const next: Designation = { controller: command.controller, holder: command.holder, controllerTerm: command.controllerTerm, region, updatedIndex: meta.index }
  return setDesignation(state, next, existing?.holder ?? null, 'designate', meta)
}

export function applyRedesignate(state: ClusterState, command: CommandOf<'redesignate'>, meta: ApplyMeta): Step {
  const existing = state.designations.get(command.controller)
  if (existing === undefined) return { state, result: fail('RG_ERR_NOT_FOUND', `controller: no designation ${command.controller}`, { controller: command.controller }), events: [] }
  const exclude = new Set(existing.holder === null ? [] : [existing.holder])
  const bound = parsePlacementController(existing.controller)
  const holder =
    bound === undefined
      ? pickHolder(state, existing.controller, existing.region, exclude)
      : pickPlacementHolder(state, existing.controller, regionPlacementOf(state, bound.streamKey, bound.region), heldCounts(state), existing.holder)
  if (holder === null) {
    const where = bound === undefined ? (existing.region === null ? '' : ` in region ${existing.region}`) : ` of the placement ${bound.streamKey}@${bound.region}`
    return { state, result: fail('RG_ERR_NO_ELIGIBLE_NODE', `controller: no other active node${where} can hold ${command.controller}`, { controller: command.controller }), events: [] }
  }
  const next: Designation = { ...existing, holder, controllerTerm: existing.controllerTerm + 1, updatedIndex: meta.index }
  return setDesignation(state, next, existing.holder, 'redesignate', meta)
}

/** Moves every designation held by `nodeId` elsewhere (term + 1), or leaves it vacant. Placement-bound ones are left to syncPlacementDesignations. */
export function moveDesignationsFrom(state: ClusterState, nodeId: NodeId, reason: string, meta: ApplyMeta): { state: ClusterState; events: ClusterEvent[] } {
  let current = state
  const events: ClusterEvent[] = []
  for (const controller of sortedKeys(state.designations)) {
    const d = current.designations.get(controller)
    if (d === undefined || d.holder !== nodeId || isPlacementBound(controller)) continue
    const holder = pickHolder(current, controller, d.region, new Set([nodeId]))
    const next: Designation = { ...d, holder, controllerTerm: d.controllerTerm + 1, updatedIndex: meta.index }
    current = { ...current, designations: mapSet(current.designations, controller, next) }
    events.push(designationEvent({ controller, holder, previousHolder: nodeId, controllerTerm: next.controllerTerm, reason }, meta))
  }
  return { state: current, events }
}

/** Gives vacant designations a holder if one is now eligible (after a join). Placement-bound ones are left to syncPlacementDesignations. */
export function fillVacantDesignations(state: ClusterState, meta: ApplyMeta): { state: ClusterState; events: ClusterEvent[] } {
  let current = state
  const events: ClusterEvent[] = []
  for (const controller of [...state.designations.keys()].sort(compareStrings)) {
    const d = current.designations.get(controller)
    if (d === undefined || d.holder !== null || isPlacementBound(controller)) continue
    const holder = pickHolder(current, controller, d.region, new Set())
    if (holder === null) continue
    const next: Designation = { ...d, holder, controllerTerm: d.controllerTerm + 1, updatedIndex: meta.index }
    current = { ...current, designations: mapSet(current.designations, controller, next) }
    events.push(designationEvent({ controller, holder, previousHolder: null, controllerTerm: next.controllerTerm, reason: 'vacant' }, meta))
  }
  return { state: current, events }
}

// ── Placement-bound designations ────────────────────────────────────────────────────────────
// The data plane's per-placement controllers are designated by the state machine itself:
//   psc/<ns>/<stream>/<region>          the stream controller (closes dead origins), one per
//                                       region a persistent stream is placed in;
//   scc/<ns>/<stream>/<group>/<region>  a consumer group's controller, one per group and region;
//   ship/<ns>/<stream>/<src>/<dst>      the cross-region shipper of a stream placed in several
//                                       regions, one per (source, destination) pair, bound to
//                                       the SOURCE region's placement (it reads that region's
//                                       delivered log and ships it to `dst`).
// Each is held by an active member of that placement (replicas ∪ pending): data-holding target
// members first, then pending, then retiring ones; within a tier the node holding the fewest
// designations, then FNV-1a(controller␀node), then id. A holder that dies, drains or leaves the
// placement hands over with term + 1; with no eligible member the designation is vacant (term + 1)
// and is filled (term + 1) as soon as a member appears. The designation goes when its placement
// region (or group) goes, so it cannot be set by `designate` (only `redesignate` moves it).
// Invariant: a placement-bound designation's term ≤ the index of the entry that last changed it.
// It starts at that index and moves at most once per entry (+1), so a stream re-created later
// starts above every term its previous life reached: a stale holder of the old life is fenced.

export const streamControllerPrefix = 'psc'
export const groupControllerPrefix = 'scc'
export const shipControllerPrefix = 'ship'

/** Name of the stream controller designation of a persistent stream in one region. */
export function streamControllerName(namespace: string, stream: string, region: string): string {
  return `${streamControllerPrefix}/${namespace}/${stream}/${region}`
}

/** Name of a consumer group's controller designation in one region. */
export function groupControllerName(namespace: string, stream: string, group: string, region: string): string {
  return `${groupControllerPrefix}/${namespace}/${stream}/${group}/${region}`
}

/**
 * Name of the shipper designation of a stream placed in several regions, from region `source`
 * to region `destination` (bound to the source region's placement).
 */
export function shipControllerName(namespace: string, stream: string, source: string, destination: string): string {
  return `${shipControllerPrefix}/${namespace}/${stream}/${source}/${destination}`
}

/** What a placement-bound controller name refers to; undefined for any other controller. */
export interface PlacementController {
  readonly kind: 'stream' | 'group' | 'ship'
  /** `namespace/stream`. */
  readonly streamKey: string
  /** The region whose placement holds it (for a shipper: the source region). */
  readonly region: string
  /** Set for a group controller. */
  readonly group?: string
  /** Set for a shipper: the region it ships to. */
  readonly destination?: string
}

export function parsePlacementController(controller: string): PlacementController | undefined {
  const parts = controller.split('/')
  if (parts.length === 4 && parts[0] === streamControllerPrefix) {
    const [, namespace, stream, region] = parts as [string, string, string, string]
    return { kind: 'stream', streamKey: `${namespace}/${stream}`, region }
  }
  if (parts.length === 5 && parts[0] === groupControllerPrefix) {
    const [, namespace, stream, group, region] = parts as [string, string, string, string, string]
    return { kind: 'group', streamKey: `${namespace}/${stream}`, region, group }
  }
  if (parts.length === 5 && parts[0] === shipControllerPrefix) {
    const [, namespace, stream, source, destination] = parts as [string, string, string, string, string]
    return { kind: 'ship', streamKey: `${namespace}/${stream}`, region: source, destination }
  }
  return undefined
}

function isPlacementBound(controller: string): boolean {
  return parsePlacementController(controller) !== undefined
}

/** The placement-bound controller names the state calls for, for one stream: name → region. */
export function wantedPlacementControllers(state: ClusterState, streamKey: string): Map<string, string> {
  const wanted = new Map<string, string>()
  const placement = state.placements.get(streamKey)
  const record = state.streams.get(streamKey)
  if (placement === undefined || record === undefined) return wanted
  const { namespace, name } = record.spec
  const groups = sortedKeys(state.groups).filter((key) => key.startsWith(`${streamKey}/`))
  const regions = sortedKeys(placement)
  for (const region of regions) {
    wanted.set(streamControllerName(namespace, name, region), region)
    for (const key of groups) {
      const group = state.groups.get(key)?.spec.name
      if (group !== undefined) wanted.set(groupControllerName(namespace, name, group, region), region)
    }
    // One shipper per ordered pair of the stream's regions, held in the source region.
    for (const destination of regions) if (destination !== region) wanted.set(shipControllerName(namespace, name, region, destination), region)
  }
  return wanted
}

/** Eligibility tier of `id` for a designation bound to `placed`: 0 data-holding target member, 1 pending, 2 retiring, undefined not eligible. */
export function placementTier(state: ClusterState, placed: RegionPlacement | undefined, id: NodeId): number | undefined {
  if (placed === undefined || state.nodes.get(id)?.state !== 'active') return undefined
  if (placed.retiring.includes(id)) return 2
  if (placed.replicas.includes(id)) return 0
  if (placed.pending.includes(id)) return 1
  return undefined
}

function pickPlacementHolder(state: ClusterState, controller: string, placed: RegionPlacement | undefined, held: ReadonlyMap<NodeId, number>, exclude: NodeId | null): NodeId | null {
  if (placed === undefined) return null
  let best: { id: NodeId; rank: number[] } | null = null
  for (const id of sortedUnique([...placed.replicas, ...placed.pending])) {
    const tier = placementTier(state, placed, id)
    if (tier === undefined || id === exclude) continue
    const rank = [tier, held.get(id) ?? 0, fnv1a32(`${controller}\u0000${id}`)]
    if (best === null || rankBefore(rank, best.rank)) best = { id, rank }
  }
  return best === null ? null : best.id
}

function rankBefore(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return (a[i] as number) < (b[i] as number)
  return false
}

function heldCounts(state: ClusterState): Map<NodeId, number> {
  const held = new Map<NodeId, number>()
  for (const d of state.designations.values()) if (d.holder !== null) held.set(d.holder, (held.get(d.holder) ?? 0) + 1)
  return held
}

function regionPlacementOf(state: ClusterState, streamKey: string, region: string): RegionPlacement | undefined {
  return state.placements.get(streamKey)?.get(region)
}

function leaveReason(state: ClusterState, holder: NodeId): string {
  const node = state.nodes.get(holder)
  return node === undefined || node.state === 'removed' ? 'holder removed' : node.state === 'active' ? 'holder left the placement' : `holder ${node.state}`
}

/** Which streams a sync covers: every stream (after a membership change) or the listed ones. */
export type SyncScope = { readonly all: true } | { readonly streamKeys: readonly string[] }

/**
 * Brings the placement-bound designations of the streams in scope in line with the state:
 * creates missing ones, hands over those whose holder is no longer eligible, fills vacant ones,
 * removes those whose placement region or group is gone. Call it once per entry, after the
 * placements changed (the at-most-one-change-per-entry invariant relies on it).
 * Returns undefined when creating them would exceed `designationsMax`.
 */
export function syncPlacementDesignations(state: ClusterState, scope: SyncScope, meta: ApplyMeta): { state: ClusterState; events: ClusterEvent[] } | undefined {
  const inScope = 'all' in scope ? undefined : new Set(scope.streamKeys)
  const existing = new Map<string, Designation>()
  for (const controller of sortedKeys(state.designations)) {
    const bound = parsePlacementController(controller)
    if (bound !== undefined && (inScope === undefined || inScope.has(bound.streamKey))) existing.set(controller, state.designations.get(controller) as Designation)
  }
  const wanted = new Map<string, string>()
  for (const streamKey of inScope === undefined ? sortedKeys(state.placements) : [...inScope].sort(compareStrings)) {
    for (const [controller, region] of wantedPlacementControllers(state, streamKey)) wanted.set(controller, region)
  }
  let added = 0
  for (const controller of wanted.keys()) if (!existing.has(controller)) added++
  let removed = 0
  for (const controller of existing.keys()) if (!wanted.has(controller)) removed++
  if (state.designations.size + added - removed > clusterLimits.designationsMax) return undefined

  const designations = new Map(state.designations)
  const held = heldCounts(state)
  const events: ClusterEvent[] = []
  const adjust = (id: NodeId | null, delta: number): void => {
    if (id !== null) held.set(id, (held.get(id) ?? 0) + delta)
  }
  for (const [controller, d] of existing) {
    if (wanted.has(controller)) continue
    designations.delete(controller)
    adjust(d.holder, -1)
    events.push(designationEvent({ controller, holder: null, previousHolder: d.holder, controllerTerm: d.controllerTerm, reason: 'removed' }, meta))
  }
  for (const controller of [...wanted.keys()].sort(compareStrings)) {
    const region = wanted.get(controller) as string
    const bound = parsePlacementController(controller) as PlacementController
    const placed = regionPlacementOf(state, bound.streamKey, region)
    const d = existing.get(controller)
    if (d === undefined) {
      const holder = pickPlacementHolder(state, controller, placed, held, null)
      adjust(holder, +1)
      designations.set(controller, { controller, holder, controllerTerm: meta.index, region, updatedIndex: meta.index })
      events.push(designationEvent({ controller, holder, previousHolder: null, controllerTerm: meta.index, reason: 'placed' }, meta))
      continue
    }
    if (d.holder !== null && placementTier(state, placed, d.holder) !== undefined) continue
    const holder = pickPlacementHolder(state, controller, placed, held, d.holder)
    if (holder === null && d.holder === null) continue
    adjust(d.holder, -1)
    adjust(holder, +1)
    designations.set(controller, { ...d, holder, controllerTerm: d.controllerTerm + 1, updatedIndex: meta.index })
    events.push(designationEvent({ controller, holder, previousHolder: d.holder, controllerTerm: d.controllerTerm + 1, reason: d.holder === null ? 'vacant' : leaveReason(state, d.holder) }, meta))
  }
  if (events.length === 0) return { state, events }
  return { state: { ...state, designations }, events }
}

/** syncPlacementDesignations for a change that cannot add designations (membership, catch-up, removals): over the limit is a bug. */
export function syncPlacementDesignationsNoGrowth(state: ClusterState, scope: SyncScope, meta: ApplyMeta): { state: ClusterState; events: ClusterEvent[] } {
  const synced = syncPlacementDesignations(state, scope, meta)
  if (synced === undefined) throw new Error('cluster apply: placement designations grew past designationsMax on a change that adds none')
  return synced
}
