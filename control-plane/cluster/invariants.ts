// Debug check of the state's invariants. Tests run it after every apply; a driver may run it
// after restoring a snapshot. A violation is a bug (house style: crash), so assertInvariants
// throws; checkInvariants returns the list for tests to print.
import { totalKeys } from './kv.js'
import { clusterLimits } from './limits.js'
import { parsePlacementController, placementTier, wantedPlacementControllers } from './designations.js'
import { countNodes, streamsLosingData } from './membership.js'
import { streamKey } from './names.js'
import { findCycle, stageGraph } from './pipeline-dag.js'
import type { ClusterState, NodeId } from './state.js'
import { compareStrings, defaultNamespace, sortedKeys } from './state.js'

function isSortedUnique(values: readonly string[]): boolean {
  for (let i = 1; i < values.length; i++) if (compareStrings(values[i - 1] as string, values[i] as string) >= 0) return false
  return true
}

function checkPlacements(state: ClusterState, problems: string[]): void {
  for (const key of sortedKeys(state.streams)) {
    const spec = state.streams.get(key)?.spec
    if (spec === undefined) continue
    if (!state.namespaces.has(spec.namespace)) problems.push(`stream ${key}: namespace ${spec.namespace} missing`)
    if (streamKey(spec.namespace, spec.name) !== key) problems.push(`stream ${key}: keyed wrongly`)
    for (const region of spec.regions) if (!state.regions.has(region)) problems.push(`stream ${key}: region ${region} missing`)
    const placement = state.placements.get(key)
    if (spec.kind === 'ephemeral' && placement !== undefined) problems.push(`stream ${key}: ephemeral stream has a placement`)
    if (spec.kind === 'persistent') {
      if (placement === undefined) problems.push(`stream ${key}: persistent stream has no placement`)
      else if (sortedKeys(placement).join(',') !== [...spec.regions].sort(compareStrings).join(',')) problems.push(`stream ${key}: placement regions differ from the spec`)
    }
  }
  for (const key of sortedKeys(state.placements)) {
    if (!state.streams.has(key)) problems.push(`placement ${key}: stream missing`)
    const placement = state.placements.get(key)
    if (placement === undefined) continue
    for (const region of sortedKeys(placement)) {
      const placed = placement.get(region)
      if (placed === undefined) continue
      const where = `placement ${key}@${region}`
      for (const list of [placed.replicas, placed.pending, placed.retiring]) if (!isSortedUnique(list)) problems.push(`${where}: list not sorted/unique`)
      for (const id of [...placed.replicas, ...placed.pending]) {
        const node = state.nodes.get(id)
        if (node === undefined || node.state === 'removed') problems.push(`${where}: node ${id} does not exist`)
        else if (node.region !== region) problems.push(`${where}: node ${id} is in region ${node.region}`)
      }
      for (const id of placed.pending) if (placed.replicas.includes(id)) problems.push(`${where}: ${id} both pending and replica`)
      for (const id of placed.retiring) if (!placed.replicas.includes(id)) problems.push(`${where}: retiring ${id} is not a replica`)
      for (const id of placed.pending) if (state.nodes.get(id)?.state !== 'active') problems.push(`${where}: pending ${id} is not active`)
    }
  }
}

function checkReferences(state: ClusterState, problems: string[]): void {
  for (const key of sortedKeys(state.groups)) {
    const spec = state.groups.get(key)?.spec
    if (spec !== undefined && state.streams.get(streamKey(spec.namespace, spec.stream))?.spec.kind !== 'persistent') problems.push(`group ${key}: persistent stream missing`)
  }
  for (const key of sortedKeys(state.pipelines)) {
    const record = state.pipelines.get(key)
    if (record === undefined) continue
    if (!state.streams.has(streamKey(record.spec.namespace, record.spec.triggerStream))) problems.push(`pipeline ${key}: trigger stream missing`)
    if (findCycle(stageGraph(record.spec.stages)) !== undefined) problems.push(`pipeline ${key}: has a cycle`)
    if (record.order.length !== record.spec.stages.length) problems.push(`pipeline ${key}: order incomplete`)
  }
  for (const name of sortedKeys(state.users)) {
    for (const role of state.users.get(name)?.roles ?? []) if (!state.roles.has(role)) problems.push(`user ${name}: role ${role} missing`)
  }
  for (const id of sortedKeys(state.tokens)) {
    const user = state.tokens.get(id)?.user
    if (user !== undefined && !state.users.has(user)) problems.push(`token ${id}: user ${user} missing`)
  }
}

function checkNodes(state: ClusterState, problems: string[]): void {
  for (const id of sortedKeys(state.nodes)) {
    const node = state.nodes.get(id)
    if (node === undefined) continue
    if (!state.regions.has(node.region)) problems.push(`node ${id}: region ${node.region} missing`)
    const expected = node.state === 'dead' && streamsLosingData(state, id).length > 0
    if (node.removingLosesData !== expected) problems.push(`node ${id}: removingLosesData is ${node.removingLosesData}, expected ${expected}`)
  }
}

function checkDesignations(state: ClusterState, previous: ClusterState | undefined, problems: string[]): void {
  for (const controller of sortedKeys(state.designations)) {
    const d = state.designations.get(controller)
    if (d === undefined) continue
    if (!Number.isSafeInteger(d.controllerTerm) || d.controllerTerm < 1) problems.push(`designation ${controller}: bad term ${d.controllerTerm}`)
    if (d.holder !== null) {
      const holder = state.nodes.get(d.holder as NodeId)
      if (holder === undefined || holder.state !== 'active') problems.push(`designation ${controller}: holder ${d.holder} is not an active node`)
      else if (d.region !== null && holder.region !== d.region) problems.push(`designation ${controller}: holder outside region ${d.region}`)
    }
    const before = previous?.designations.get(controller)
    if (before !== undefined && d.controllerTerm < before.controllerTerm) problems.push(`designation ${controller}: term went back ${before.controllerTerm} → ${d.controllerTerm}`)
    if (before !== undefined && d.controllerTerm === before.controllerTerm && d.holder !== before.holder) problems.push(`designation ${controller}: holder changed without a new term`)
  }
  for (const controller of previous === undefined ? [] : sortedKeys(previous.designations)) {
    // Only a placement-bound designation may go, and only with its placement region or group.
    if (!state.designations.has(controller) && (parsePlacementController(controller) === undefined || wantedPlacementControllers(state, parsePlacementController(controller)?.streamKey ?? '').has(controller))) {
      problems.push(`designation ${controller}: disappeared`)
    }
  }
  checkPlacementDesignations(state, problems)
}

/**
 * psc/… and scc/… exist exactly for the placements and groups that call for them; each is held
 * by an active member of its placement, vacant only when no member is eligible, and its term
 * is at most the index of the entry that last changed it (what fences a re-created stream's
 * stale holders).
 */
function checkPlacementDesignations(state: ClusterState, problems: string[]): void {
  const wanted = new Set<string>()
  for (const key of sortedKeys(state.placements)) for (const controller of wantedPlacementControllers(state, key).keys()) wanted.add(controller)
  for (const controller of wanted) if (!state.designations.has(controller)) problems.push(`designation ${controller}: missing for its placement`)
  for (const controller of sortedKeys(state.designations)) {
    const bound = parsePlacementController(controller)
    const d = state.designations.get(controller)
    if (bound === undefined || d === undefined) continue
    if (!wanted.has(controller)) problems.push(`designation ${controller}: no placement or group calls for it`)
    if (d.region !== bound.region) problems.push(`designation ${controller}: region ${d.region} differs from its name`)
    if (d.controllerTerm > d.updatedIndex) problems.push(`designation ${controller}: term ${d.controllerTerm} above its last change index ${d.updatedIndex}`)
    const placed = state.placements.get(bound.streamKey)?.get(bound.region)
    if (d.holder !== null && placementTier(state, placed, d.holder) === undefined) problems.push(`designation ${controller}: holder ${d.holder} is not an active member of its placement`)
    if (d.holder === null && placed !== undefined && [...placed.replicas, ...placed.pending].some((id) => placementTier(state, placed, id) !== undefined)) {
      problems.push(`designation ${controller}: vacant while a member of its placement could hold it`)
    }
  }
}

function checkKv(state: ClusterState, previous: ClusterState | undefined, problems: string[]): void {
  if (previous !== undefined && state.kvRevision < previous.kvRevision) problems.push(`kvRevision went back ${previous.kvRevision} → ${state.kvRevision}`)
  if (totalKeys(state) > clusterLimits.kvKeysTotalMax) problems.push(`KV keys exceed ${clusterLimits.kvKeysTotalMax}`)
  for (const name of sortedKeys(state.buckets)) {
    const bucket = state.buckets.get(name)
    if (bucket === undefined) continue
    if (bucket.entries.size > clusterLimits.keysPerBucketMax) problems.push(`bucket ${name}: too many keys`)
    for (const [key, entry] of bucket.entries) {
      if (entry.createRevision < 1 || entry.createRevision > entry.revision || entry.revision > state.kvRevision) problems.push(`bucket ${name} key ${key}: bad revisions ${entry.createRevision}/${entry.revision}/${state.kvRevision}`)
      if (entry.value.length > bucket.maxValueBytes) problems.push(`bucket ${name} key ${key}: value too large`)
      const before = previous?.buckets.get(name)?.entries.get(key)
      if (before !== undefined && entry.revision < before.revision) problems.push(`bucket ${name} key ${key}: revision went back`)
    }
  }
}

/** Every violated invariant, as text. `previous` (the state before the last apply) enables the monotonicity checks. */
export function checkInvariants(state: ClusterState, previous?: ClusterState): string[] {
  const problems: string[] = []
  if (!state.namespaces.has(defaultNamespace)) problems.push('the default namespace is missing')
  if (previous !== undefined && state.lastAppliedIndex < previous.lastAppliedIndex) problems.push('lastAppliedIndex went back')
  const sizes: [number, number, string][] = [
    [countNodes(state, false), clusterLimits.nodesMax, 'nodes'],
    [countNodes(state, true), clusterLimits.removedNodesKeptMax, 'removed nodes'],
    [state.regions.size, clusterLimits.regionsMax, 'regions'],
    [state.namespaces.size, clusterLimits.namespacesMax, 'namespaces'],
    [state.streams.size, clusterLimits.streamsMax, 'streams'],
    [state.groups.size, clusterLimits.consumerGroupsMax, 'groups'],
    [state.pipelines.size, clusterLimits.pipelinesMax, 'pipelines'],
    [state.users.size, clusterLimits.usersMax, 'users'],
    [state.tokens.size, clusterLimits.tokensMax, 'tokens'],
    [state.roles.size, clusterLimits.rolesMax, 'roles'],
    [state.buckets.size, clusterLimits.bucketsMax, 'buckets'],
  ]
  for (const [size, max, what] of sizes) if (size > max) problems.push(`${what}: ${size} exceeds ${max}`)
  checkPlacements(state, problems)
  checkReferences(state, problems)
  checkNodes(state, problems)
  checkDesignations(state, previous, problems)
  checkKv(state, previous, problems)
  return problems
}

export function assertInvariants(state: ClusterState, previous?: ClusterState): void {
  const problems = checkInvariants(state, previous)
  if (problems.length > 0) throw new Error(`cluster state invariants violated:\n  ${problems.join('\n  ')}`)
}
