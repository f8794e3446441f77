// Handlers for namespaces, regions and streams (with their placements).
import type { ApplyMeta, CommandOf, StreamSpec } from './commands.js'
import type { ClusterEvent } from './events.js'
import { objectEvent } from './events.js'
import { syncPlacementDesignations, syncPlacementDesignationsNoGrowth } from './designations.js'
import { decideEnsure } from './ensure.js'
import { clusterLimits } from './limits.js'
import { refreshDataLossFlags } from './membership.js'
import { checkName, streamKey } from './names.js'
import { placeStream, placementJson } from './placement.js'
import type { JsonObject } from './result.js'
import { diffsToJson, fail, ok } from './result.js'
import type { ClusterState, StreamRecord } from './state.js'
import { defaultNamespace, mapDelete, mapSet, sortedKeys, sortedUnique } from './state.js'
import type { Step } from './step.js'
import { rejected } from './step.js'

export function applyEnsureNamespace(state: ClusterState, command: CommandOf<'ensureNamespace'>, meta: ApplyMeta): Step {
  const problem = checkName('namespace', 'name', command.name)
  if (problem !== undefined) return rejected(state, problem)
  const existing = state.namespaces.get(command.name)
  const wanted = { description: command.description ?? '' }
  const decision = decideEnsure(`namespace ${command.name}`, existing === undefined ? undefined : { description: existing.description }, wanted, command.update)
  const id = { name: command.name }
  switch (decision.kind) {
    case 'conflict':
      return rejected(state, decision.error)
    case 'unchanged':
      return { state, result: ok('unchanged', { ...id, ...wanted }), events: [] }
    case 'create':
      if (state.namespaces.size >= clusterLimits.namespacesMax) return rejected(state, fail('RG_ERR_LIMIT_EXCEEDED', `namespaces: at most ${clusterLimits.namespacesMax}`, { limit: 'namespacesMax' }))
      break
    case 'update':
      break
  }
  const record = { name: command.name, ...wanted, createdIndex: existing?.createdIndex ?? meta.index, updatedIndex: meta.index }
  const action = existing === undefined ? 'created' : 'updated'
  return {
    state: { ...state, namespaces: mapSet(state.namespaces, command.name, record) },
    result: ok(action, { ...id, ...wanted, ...(decision.kind === 'update' ? { diffs: diffsToJson(decision.diffs) } : {}) }),
    events: [objectEvent('namespace', action, id, meta, wanted)],
  }
}

export function applyRemoveNamespace(state: ClusterState, command: CommandOf<'removeNamespace'>, meta: ApplyMeta): Step {
  if (command.name === defaultNamespace) return rejected(state, fail('RG_ERR_NAMESPACE_PROTECTED', 'name: the default namespace always exists and cannot be removed', { name: command.name }))
  if (!state.namespaces.has(command.name)) return rejected(state, fail('RG_ERR_NOT_FOUND', `name: namespace ${command.name} does not exist`, { name: command.name }))
  const prefix = `${command.name}/`
  const streams = sortedKeys(state.streams).filter((key) => key.startsWith(prefix))
  const pipelines = sortedKeys(state.pipelines).filter((key) => key.startsWith(prefix))
  if (streams.length > 0 || pipelines.length > 0) {
    return rejected(state, fail('RG_ERR_IN_USE', `name: namespace ${command.name} still holds ${[...streams.map((s) => `stream ${s}`), ...pipelines.map((p) => `pipeline ${p}`)].join(', ')}; remove them first`, { name: command.name, streams, pipelines }))
  }
  return {
    state: { ...state, namespaces: mapDelete(state.namespaces, command.name) },
    result: ok('removed', { name: command.name }),
    events: [objectEvent('namespace', 'removed', { name: command.name }, meta)],
  }
}

export function applyEnsureRegion(state: ClusterState, command: CommandOf<'ensureRegion'>, meta: ApplyMeta): Step {
  const problem = checkName('region', 'name', command.name)
  if (problem !== undefined) return rejected(state, problem)
  const existing = state.regions.get(command.name)
  if (existing?.explicit === true) return { state, result: ok('unchanged', { name: command.name }), events: [] }
  if (existing === undefined && state.regions.size >= clusterLimits.regionsMax) return rejected(state, fail('RG_ERR_LIMIT_EXCEEDED', `regions: at most ${clusterLimits.regionsMax}`, { limit: 'regionsMax' }))
  const action = existing === undefined ? 'created' : 'updated'
  return {
    state: { ...state, regions: mapSet(state.regions, command.name, { name: command.name, explicit: true, createdIndex: existing?.createdIndex ?? meta.index }) },
    result: ok(action, { name: command.name }),
    events: [objectEvent('region', action, { name: command.name }, meta, { explicit: true })],
  }
}

function streamSpecOf(command: CommandOf<'ensureStream'>): StreamSpec {
  const { namespace, name, kind, replicasPerRegion, dedupWindowMs, ackDefault } = command
  return {
    namespace,
    name,
    kind,
    regions: sortedUnique(command.regions),
    replicasPerRegion,
    dedupWindowMs,
    retention: { maxAgeMs: command.retention.maxAgeMs, maxBytes: command.retention.maxBytes, maxEvents: command.retention.maxEvents },
    ackDefault,
    deadLetter: { maxDeliveries: command.deadLetter.maxDeliveries, maxLag: command.deadLetter.maxLag },
  }
}

function checkStream(state: ClusterState, command: CommandOf<'ensureStream'>): ReturnType<typeof fail> | undefined {
  const problem = checkName('namespace', 'namespace', command.namespace) ?? checkName('stream', 'name', command.name)
  if (problem !== undefined) return problem
  for (const [i, region] of command.regions.entries()) {
    const regionProblem = checkName('region', `regions[${i}]`, region)
    if (regionProblem !== undefined) return regionProblem
  }
  if (new Set(command.regions).size !== command.regions.length) return fail('RG_ERR_INVALID_ARGUMENT', 'regions: a region is listed twice', { field: 'regions' })
  if (command.regions.length === 0) return fail('RG_ERR_INVALID_ARGUMENT', 'regions: a stream needs at least one region', { field: 'regions' })
  if (command.regions.length > clusterLimits.regionsPerStreamMax) return fail('RG_ERR_LIMIT_EXCEEDED', `regions: at most ${clusterLimits.regionsPerStreamMax}`, { limit: 'regionsPerStreamMax' })
  if (command.replicasPerRegion < 1) return fail('RG_ERR_INVALID_ARGUMENT', 'replicasPerRegion: must be at least 1', { field: 'replicasPerRegion' })
  if (command.replicasPerRegion > clusterLimits.replicasPerRegionMax) {
    return fail('RG_ERR_LIMIT_EXCEEDED', `replicasPerRegion: ${command.replicasPerRegion} exceeds the maximum ${clusterLimits.replicasPerRegionMax}`, { limit: 'replicasPerRegionMax' })
  }
  if (!state.namespaces.has(command.namespace)) return fail('RG_ERR_NOT_FOUND', `namespace: namespace ${command.namespace} does not exist`, { namespace: command.namespace })
  for (const region of command.regions) {
    if (!state.regions.has(region)) return fail('RG_ERR_NOT_FOUND', `regions: region ${region} does not exist`, { region })
  }
  return undefined
}

export function placementDetails(state: ClusterState, key: string): JsonObject {
  const placement = state.placements.get(key)
  if (placement === undefined) return {}
  return Object.fromEntries(sortedKeys(placement).map((region) => [region, placementJson(placement.get(region) as NonNullable<ReturnType<typeof placement.get>>)]))
}

export function applyEnsureStream(state: ClusterState, command: CommandOf<'ensureStream'>, meta: ApplyMeta): Step {
  const problem = checkStream(state, command)
  if (problem !== undefined) return rejected(state, problem)
  const key = streamKey(command.namespace, command.name)
  const spec = streamSpecOf(command)
  const existing = state.streams.get(key)
  const decision = decideEnsure(`stream ${key}`, existing?.spec, spec, command.update)
  if (decision.kind === 'conflict') return rejected(state, decision.error)
  if (decision.kind === 'unchanged') return { state, result: ok('unchanged', { stream: key, placement: placementDetails(state, key) }), events: [] }
  if (existing !== undefined && existing.spec.kind !== spec.kind) {
    return rejected(state, fail('RG_ERR_IMMUTABLE_FIELD', `kind: a stream's kind cannot change (${existing.spec.kind} → ${spec.kind}); remove and re-create it`, { field: 'kind', old: existing.spec.kind, new: spec.kind }))
  }
  // Every replica of a persistent stream judges duplicates with the same window from its first
  // event on (DESIGN §4: the same order and dedup on all replicas); replicas taking a new window
  // at different moments would disagree, so it is fixed for the life of the stream.
  if (existing !== undefined && spec.kind === 'persistent' && existing.spec.dedupWindowMs !== spec.dedupWindowMs) {
    return rejected(state, fail('RG_ERR_IMMUTABLE_FIELD', `dedupWindowMs: a persistent stream's dedup window cannot change (${existing.spec.dedupWindowMs} → ${spec.dedupWindowMs} ms); remove and re-create it`, { field: 'dedupWindowMs', old: existing.spec.dedupWindowMs, new: spec.dedupWindowMs }))
  }
  if (existing === undefined && state.streams.size >= clusterLimits.streamsMax) return rejected(state, fail('RG_ERR_LIMIT_EXCEEDED', `streams: at most ${clusterLimits.streamsMax}`, { limit: 'streamsMax' }))
  const record: StreamRecord = { spec, createdIndex: existing?.createdIndex ?? meta.index, updatedIndex: meta.index }
  const action = existing === undefined ? 'created' : 'updated'
  const events: ClusterEvent[] = [objectEvent('stream', action, { namespace: spec.namespace, name: spec.name }, meta, spec)]
  const placed = placeStream({ ...state, streams: mapSet(state.streams, key, record) }, key, meta)
  events.push(...placed.events)
  const designated = syncPlacementDesignations(placed.state, { streamKeys: [key] }, meta)
  if (designated === undefined) return rejected(state, fail('RG_ERR_LIMIT_EXCEEDED', `designations: placing ${key} needs more than ${clusterLimits.designationsMax} controller designations`, { limit: 'designationsMax' }))
  events.push(...designated.events)
  const next = refreshDataLossFlags(designated.state)
  const details: JsonObject = { stream: key, placement: placementDetails(next, key), ...(decision.kind === 'update' ? { diffs: diffsToJson(decision.diffs) } : {}) }
  return { state: next, result: ok(action, details), events }
}

export function applyRemoveStream(state: ClusterState, command: CommandOf<'removeStream'>, meta: ApplyMeta): Step {
  const key = streamKey(command.namespace, command.name)
  if (!state.streams.has(key)) return rejected(state, fail('RG_ERR_NOT_FOUND', `stream ${key} does not exist`, { stream: key }))
  const groups = sortedKeys(state.groups).filter((g) => g.startsWith(`${key}/`))
  const pipelines = sortedKeys(state.pipelines).filter((p) => {
    const spec = state.pipelines.get(p)?.spec
    return spec !== undefined && streamKey(spec.namespace, spec.triggerStream) === key
  })
  if (groups.length > 0 || pipelines.length > 0) {
    return rejected(state, fail('RG_ERR_IN_USE', `stream ${key} is used by ${[...groups.map((g) => `group ${g}`), ...pipelines.map((p) => `pipeline ${p}`)].join(', ')}; remove them first`, { stream: key, groups, pipelines }))
  }
  const events: ClusterEvent[] = [objectEvent('stream', 'removed', { namespace: command.namespace, name: command.name }, meta)]
  const placed = placeStream({ ...state, streams: mapDelete(state.streams, key) }, key, meta)
  events.push(...placed.events)
  const designated = syncPlacementDesignationsNoGrowth(placed.state, { streamKeys: [key] }, meta)
  events.push(...designated.events)
  return { state: refreshDataLossFlags(designated.state), result: ok('removed', { stream: key }), events }
}
