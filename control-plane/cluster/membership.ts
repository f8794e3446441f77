// Node membership: join, drain, death, removal (pruning), tags, and replica catch-up reports.
// Pruning rule (founding note 004: "a dead node to be pruned from the cluster will only be
// pruned if all of its data under management is replicated elsewhere"): removeNode succeeds
// only if, for every replica set that lists the node as a holder, at least one other *live*
// (active or draining) holder remains. Otherwise the result is RG_ERR_WOULD_LOSE_DATA naming
// the streams, and the node stays; a dead node in that position carries `removingLosesData`
// (recomputed after every membership or placement change). `force: true` removes anyway.
// An active node must be drained (or declared dead) before it can be removed.
import type { ApplyMeta, CommandOf } from './commands.js'
import type { ClusterEvent } from './events.js'
import { nodeEvent, objectEvent, placementEvent } from './events.js'
import { fillVacantDesignations, moveDesignationsFrom, syncPlacementDesignationsNoGrowth } from './designations.js'
import { clusterLimits } from './limits.js'
import { checkName } from './names.js'
import { forgetNode, placementJson, rebalanceRegion, reconcile, targetMembers } from './placement.js'
import { describeDiffs, diffValues, diffsToJson, fail, ok } from './result.js'
import type { JsonObject } from './result.js'
import type { ClusterState, NodeId, NodeRecord, RegionPlacement } from './state.js'
import { isLive, mapSet, sortedKeys, sortedUnique } from './state.js'
import type { Step } from './step.js'
import { rejected } from './step.js'

/** The node as published and compared: no internal bookkeeping. */
export function nodeJson(node: NodeRecord): JsonObject {
  return {
    id: node.id,
    clientAddress: node.clientAddress,
    peerAddress: node.peerAddress,
    adminAddress: node.adminAddress,
    region: node.region,
    masterEligible: node.masterEligible,
    tags: { ...node.tags },
    state: node.state,
    removingLosesData: node.removingLosesData,
  }
}

function sortedTags(tags: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

function checkTags(tags: Readonly<Record<string, string>>): ReturnType<typeof fail> | undefined {
  const entries = Object.entries(tags)
  if (entries.length > clusterLimits.tagsPerNodeMax) return fail('RG_ERR_LIMIT_EXCEEDED', `tags: at most ${clusterLimits.tagsPerNodeMax} tags`, { limit: 'tagsPerNodeMax' })
  for (const [key, value] of entries) {
    const problem = checkName('tag', `tags.${key}`, key)
    if (problem !== undefined) return problem
    if (value.length > clusterLimits.tagValueLengthMax) return fail('RG_ERR_INVALID_ARGUMENT', `tags.${key}: value longer than ${clusterLimits.tagValueLengthMax}`, { field: `tags.${key}` })
  }
  return undefined
}

/** Nodes that are (`removed` true) or are not (false) tombstones. */
export function countNodes(state: ClusterState, removed: boolean): number {
  let count = 0
  for (const node of state.nodes.values()) if ((node.state === 'removed') === removed) count++
  return count
}

/** Drops the oldest tombstones (smallest joinedIndex, then id) beyond removedNodesKeptMax. */
function trimTombstones(state: ClusterState): ClusterState {
  const excess = countNodes(state, true) - clusterLimits.removedNodesKeptMax
  if (excess <= 0) return state
  const oldest = [...state.nodes.values()]
    .filter((node) => node.state === 'removed')
    .sort((a, b) => a.joinedIndex - b.joinedIndex || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .slice(0, excess)
  const nodes = new Map(state.nodes)
  for (const node of oldest) nodes.delete(node.id)
  return { ...state, nodes }
}

/** `stream@region` of every replica set where `nodeId` holds the last live copy. */
export function streamsLosingData(state: ClusterState, nodeId: NodeId): string[] {
  const losing: string[] = []
  for (const streamKey of sortedKeys(state.placements)) {
    const placement = state.placements.get(streamKey)
    if (placement === undefined) continue
    for (const region of sortedKeys(placement)) {
      const placed = placement.get(region) as RegionPlacement
      if (!placed.replicas.includes(nodeId)) continue
      const others = placed.replicas.filter((id) => {
        const other = state.nodes.get(id)
        return id !== nodeId && other !== undefined && isLive(other)
      })
      if (others.length === 0) losing.push(`${streamKey}@${region}`)
    }
  }
  return losing
}

/**
 * Keeps `removingLosesData` true exactly on dead nodes that hold a last live copy. One pass:
 * a dead holder loses data iff some replica set it is in has no live holder at all.
 */
export function refreshDataLossFlags(state: ClusterState): ClusterState {
  let anyDeadOrFlagged = false
  for (const node of state.nodes.values()) if (node.state === 'dead' || node.removingLosesData) anyDeadOrFlagged = true
  if (!anyDeadOrFlagged) return state
  const losing = new Set<NodeId>()
  for (const placement of state.placements.values()) {
    for (const placed of placement.values()) {
      const live = placed.replicas.some((id) => {
        const node = state.nodes.get(id)
        return node !== undefined && isLive(node)
      })
      if (!live) for (const id of placed.replicas) if (state.nodes.get(id)?.state === 'dead') losing.add(id)
    }
  }
  let nodes = state.nodes
  for (const id of sortedKeys(state.nodes)) {
    const node = state.nodes.get(id) as NodeRecord
    const flag = losing.has(id)
    if (flag !== node.removingLosesData) nodes = mapSet(nodes, id, { ...node, removingLosesData: flag })
  }
  return nodes === state.nodes ? state : { ...state, nodes }
}

function afterNodeChange(state: ClusterState, region: string, meta: ApplyMeta, events: ClusterEvent[]): ClusterState {
  const rebalanced = rebalanceRegion(state, region, meta)
  events.push(...rebalanced.events)
  const filled = fillVacantDesignations(rebalanced.state, meta)
  events.push(...filled.events)
  // Placement-bound designations (psc/…, scc/…) follow the rebalanced replica sets.
  const designated = syncPlacementDesignationsNoGrowth(filled.state, { all: true }, meta)
  events.push(...designated.events)
  return refreshDataLossFlags(designated.state)
}

const addressFields: ReadonlySet<string> = new Set(['clientAddress', 'peerAddress', 'adminAddress'])

export function applyAddNode(state: ClusterState, command: CommandOf<'addNode'>, meta: ApplyMeta): Step {
  const problem = checkName('node', 'nodeId', command.nodeId) ?? checkName('region', 'region', command.region) ?? checkTags(command.tags)
  if (problem !== undefined) return rejected(state, problem)
  for (const field of ['clientAddress', 'peerAddress', 'adminAddress'] as const) {
    if (command[field].length === 0) return rejected(state, fail('RG_ERR_INVALID_ARGUMENT', `${field}: must not be empty`, { field }))
  }
  const wanted = {
    clientAddress: command.clientAddress,
    peerAddress: command.peerAddress,
    adminAddress: command.adminAddress,
    region: command.region,
    masterEligible: command.masterEligible,
    tags: sortedTags(command.tags),
  }
  const existing = state.nodes.get(command.nodeId)
  if (existing !== undefined && existing.state !== 'removed') {
    const { clientAddress, peerAddress, adminAddress, region, masterEligible, tags } = existing
    const diffs = diffValues({ clientAddress, peerAddress, adminAddress, region, masterEligible, tags: { ...tags } }, wanted)
    if (diffs.length > 0 && command.update !== true) {
      return rejected(state, fail('RG_ERR_CONFLICT', `node ${command.nodeId} exists with a different definition: ${describeDiffs(diffs)}`, { nodeId: command.nodeId, diffs: diffsToJson(diffs) }))
    }
    if (diffs.length > 0) {
      // `update` moves addresses only: a region or eligibility change would move data and votes.
      const fixed = diffs.find((diff) => !addressFields.has(diff.path.split('.')[0] ?? ''))
      if (fixed !== undefined) {
        return rejected(
          state,
          fail('RG_ERR_IMMUTABLE_FIELD', `node ${command.nodeId}: ${fixed.path} cannot change by update (${describeDiffs([fixed])}); tags change with setNodeTags`, {
            nodeId: command.nodeId,
            field: fixed.path,
          }),
        )
      }
      const updated: NodeRecord = {
        ...existing,
        clientAddress: wanted.clientAddress,
        peerAddress: wanted.peerAddress,
        adminAddress: wanted.adminAddress,
        state: existing.state === 'dead' ? 'active' : existing.state,
      }
      let next: ClusterState = { ...state, nodes: mapSet(state.nodes, updated.id, updated) }
      const events: ClusterEvent[] = [nodeEvent(existing.state === 'dead' ? 'joined' : 'updated', updated.id, meta, nodeJson(updated))]
      if (existing.state === 'dead') next = afterNodeChange(next, updated.region, meta, events)
      return { state: next, result: ok('updated', { ...nodeJson(next.nodes.get(updated.id) as NodeRecord), diffs: diffsToJson(diffs) }), events }
    }
    if (existing.state !== 'dead') return { state, result: ok('unchanged', nodeJson(existing)), events: [] }
  }
  if ((existing === undefined || existing.state === 'removed') && countNodes(state, false) >= clusterLimits.nodesMax) {
    return rejected(state, fail('RG_ERR_LIMIT_EXCEEDED', `nodes: at most ${clusterLimits.nodesMax}`, { limit: 'nodesMax' }))
  }
  const events: ClusterEvent[] = []
  let next = state
  if (!state.regions.has(command.region)) {
    if (state.regions.size >= clusterLimits.regionsMax) return rejected(state, fail('RG_ERR_LIMIT_EXCEEDED', `regions: at most ${clusterLimits.regionsMax}`, { limit: 'regionsMax' }))
    next = { ...next, regions: mapSet(next.regions, command.region, { name: command.region, explicit: false, createdIndex: meta.index }) }
    events.push(objectEvent('region', 'created', { name: command.region }, meta))
  }
  const node: NodeRecord = { id: command.nodeId, ...wanted, state: 'active', removingLosesData: false, joinedIndex: meta.index }
  next = { ...next, nodes: mapSet(next.nodes, node.id, node) }
  events.push(nodeEvent('joined', node.id, meta, nodeJson(node)))
  next = afterNodeChange(next, node.region, meta, events)
  return { state: next, result: ok(existing === undefined ? 'created' : 'updated', nodeJson(next.nodes.get(node.id) as NodeRecord)), events }
}

function liveNode(state: ClusterState, nodeId: string): NodeRecord | ReturnType<typeof fail> {
  const node = state.nodes.get(nodeId)
  if (node === undefined || node.state === 'removed') return fail('RG_ERR_NOT_FOUND', `nodeId: node ${nodeId} does not exist`, { nodeId })
  return node
}

function leave(state: ClusterState, node: NodeRecord, to: 'draining' | 'dead', meta: ApplyMeta): Step {
  const events: ClusterEvent[] = []
  const updated: NodeRecord = { ...node, state: to }
  let next: ClusterState = { ...state, nodes: mapSet(state.nodes, node.id, updated) }
  events.push(nodeEvent(to, node.id, meta, nodeJson(updated)))
  const moved = moveDesignationsFrom(next, node.id, to === 'dead' ? 'holder dead' : 'holder draining', meta)
  events.push(...moved.events)
  next = afterNodeChange(moved.state, node.region, meta, events)
  return { state: next, result: ok('updated', nodeJson(next.nodes.get(node.id) as NodeRecord)), events }
}

export function applyDrainNode(state: ClusterState, command: CommandOf<'drainNode'>, meta: ApplyMeta): Step {
  const node = liveNode(state, command.nodeId)
  if (!('id' in node)) return rejected(state, node)
  if (node.state === 'draining') return { state, result: ok('unchanged', nodeJson(node)), events: [] }
  if (node.state === 'dead') return rejected(state, fail('RG_ERR_INVALID_STATE', `nodeId: node ${node.id} is dead; a dead node cannot be drained`, { nodeId: node.id, state: node.state }))
  return leave(state, node, 'draining', meta)
}

export function applyMarkNodeDead(state: ClusterState, command: CommandOf<'markNodeDead'>, meta: ApplyMeta): Step {
  const node = liveNode(state, command.nodeId)
  if (!('id' in node)) return rejected(state, node)
  if (node.state === 'dead') return { state, result: ok('unchanged', nodeJson(node)), events: [] }
  return leave(state, node, 'dead', meta)
}

export function applyRemoveNode(state: ClusterState, command: CommandOf<'removeNode'>, meta: ApplyMeta): Step {
  const node = state.nodes.get(command.nodeId)
  if (node === undefined) return rejected(state, fail('RG_ERR_NOT_FOUND', `nodeId: node ${command.nodeId} does not exist`, { nodeId: command.nodeId }))
  if (node.state === 'removed') return { state, result: ok('unchanged', nodeJson(node)), events: [] }
  const force = command.force === true
  if (node.state === 'active' && !force) {
    return rejected(state, fail('RG_ERR_INVALID_STATE', `nodeId: node ${node.id} is active; drain it or mark it dead before removing it (or set force)`, { nodeId: node.id, state: node.state }))
  }
  const losing = streamsLosingData(state, node.id)
  if (losing.length > 0 && !force) {
    return rejected(state, fail('RG_ERR_WOULD_LOSE_DATA', `nodeId: node ${node.id} holds the last live copy of ${losing.join(', ')}; it stays until they are replicated elsewhere (or set force)`, { nodeId: node.id, streams: losing }))
  }
  const events: ClusterEvent[] = []
  const removed: NodeRecord = { ...node, state: 'removed', removingLosesData: false }
  let next: ClusterState = { ...state, nodes: mapSet(state.nodes, node.id, removed) }
  const moved = moveDesignationsFrom(next, node.id, 'holder removed', meta)
  events.push(...moved.events)
  next = forgetNode(moved.state, node.id)
  events.push(nodeEvent('left', node.id, meta, nodeJson(removed)))
  next = trimTombstones(afterNodeChange(next, node.region, meta, events))
  return { state: next, result: ok('removed', { ...nodeJson(removed), lostStreams: losing }), events }
}

export function applySetNodeTags(state: ClusterState, command: CommandOf<'setNodeTags'>, meta: ApplyMeta): Step {
  const node = liveNode(state, command.nodeId)
  if (!('id' in node)) return rejected(state, node)
  const problem = checkTags(command.tags)
  if (problem !== undefined) return rejected(state, problem)
  const tags = sortedTags(command.tags)
  if (diffValues({ ...node.tags }, tags).length === 0) return { state, result: ok('unchanged', nodeJson(node)), events: [] }
  const updated: NodeRecord = { ...node, tags }
  const events: ClusterEvent[] = [nodeEvent('updated', node.id, meta, nodeJson(updated))]
  const next = afterNodeChange({ ...state, nodes: mapSet(state.nodes, node.id, updated) }, node.region, meta, events)
  return { state: next, result: ok('updated', nodeJson(next.nodes.get(node.id) as NodeRecord)), events }
}

export function applyReplicaCaughtUp(state: ClusterState, command: CommandOf<'replicaCaughtUp'>, meta: ApplyMeta): Step {
  const streamKey = `${command.namespace}/${command.stream}`
  const record = state.streams.get(streamKey)
  const placement = state.placements.get(streamKey)
  const placed = placement?.get(command.region)
  if (record === undefined || placement === undefined || placed === undefined) {
    return rejected(state, fail('RG_ERR_NOT_FOUND', `stream ${streamKey} has no replica set in region ${command.region}`, { stream: streamKey, region: command.region }))
  }
  if (placed.replicas.includes(command.nodeId)) return { state, result: ok('unchanged', placementJson(placed)), events: [] }
  if (!placed.pending.includes(command.nodeId)) {
    return rejected(state, fail('RG_ERR_INVALID_STATE', `nodeId: node ${command.nodeId} is not a pending replica of ${streamKey} in ${command.region}`, { stream: streamKey, region: command.region, nodeId: command.nodeId }))
  }
  const caughtUp: RegionPlacement = {
    ...placed,
    replicas: sortedUnique([...placed.replicas, command.nodeId]),
    pending: placed.pending.filter((id) => id !== command.nodeId),
  }
  const nextPlaced = reconcile(caughtUp, targetMembers(caughtUp), record.spec.replicasPerRegion)
  // A retiring holder dropped by the catch-up hands its designations to a remaining member.
  const designated = syncPlacementDesignationsNoGrowth({ ...state, placements: mapSet(state.placements, streamKey, mapSet(placement, command.region, nextPlaced)) }, { streamKeys: [streamKey] }, meta)
  const next = refreshDataLossFlags(designated.state)
  return { state: next, result: ok('updated', placementJson(nextPlaced)), events: [placementEvent(streamKey, command.region, placementJson(nextPlaced), meta), ...designated.events] }
}
