// Controller designations `{controller, holder, controllerTerm}` (founding note 001: "a
// monotonically increasing term per control group, disjoint from Raft's terms").
// Invariant: a controller's term never goes down. `designate` must carry a term above the
// current one (equal is accepted only as a repeat for the same holder → unchanged). When a
// holder is drained or marked dead, every designation it holds moves to another active node
// (same region if the designation is region-scoped) with term + 1; if there is none the
// designation becomes vacant (holder null, term + 1) and is filled when a node joins.
// The choice is deterministic: fewest designations held, then FNV-1a of `controller␀node`,
// then node id.
import { fnv1a32 } from './bytes.js'
import type { ApplyMeta, CommandOf } from './commands.js'
import type { ClusterEvent } from './events.js'
import { designationEvent } from './events.js'
import { clusterLimits } from './limits.js'
import { checkName } from './names.js'
import { fail, ok } from './result.js'
import type { ClusterState, Designation, NodeId } from './state.js'
import { compareStrings, mapSet, sortedKeys } from './state.js'
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
  const holder = pickHolder(state, existing.controller, existing.region, exclude)
  if (holder === null) {
    return { state, result: fail('RG_ERR_NO_ELIGIBLE_NODE', `controller: no other active node${existing.region === null ? '' : ` in region ${existing.region}`} can hold ${command.controller}`, { controller: command.controller }), events: [] }
  }
  const next: Designation = { ...existing, holder, controllerTerm: existing.controllerTerm + 1, updatedIndex: meta.index }
  return setDesignation(state, next, existing.holder, 'redesignate', meta)
}

/** Moves every designation held by `nodeId` elsewhere (term + 1), or leaves it vacant. */
export function moveDesignationsFrom(state: ClusterState, nodeId: NodeId, reason: string, meta: ApplyMeta): { state: ClusterState; events: ClusterEvent[] } {
  let current = state
  const events: ClusterEvent[] = []
  for (const controller of sortedKeys(state.designations)) {
    const d = current.designations.get(controller)
    if (d === undefined || d.holder !== nodeId) continue
    const holder = pickHolder(current, controller, d.region, new Set([nodeId]))
    const next: Designation = { ...d, holder, controllerTerm: d.controllerTerm + 1, updatedIndex: meta.index }
    current = { ...current, designations: mapSet(current.designations, controller, next) }
    events.push(designationEvent({ controller, holder, previousHolder: nodeId, controllerTerm: next.controllerTerm, reason }, meta))
  }
  return { state: current, events }
}

/** Gives vacant designations a holder if one is now eligible (after a join). */
export function fillVacantDesignations(state: ClusterState, meta: ApplyMeta): { state: ClusterState; events: ClusterEvent[] } {
  let current = state
  const events: ClusterEvent[] = []
  for (const controller of [...state.designations.keys()].sort(compareStrings)) {
    const d = current.designations.get(controller)
    if (d === undefined || d.holder !== null) continue
    const holder = pickHolder(current, controller, d.region, new Set())
    if (holder === null) continue
    const next: Designation = { ...d, holder, controllerTerm: d.controllerTerm + 1, updatedIndex: meta.index }
    current = { ...current, designations: mapSet(current.designations, controller, next) }
    events.push(designationEvent({ controller, holder, previousHolder: null, controllerTerm: next.controllerTerm, reason: 'vacant' }, meta))
  }
  return { state: current, events }
}
