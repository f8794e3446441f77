// Handlers for consumer groups and pipelines (definitions only; the data plane runs them).
import type { ApplyMeta, CommandOf, GroupSpec, PipelineSpec } from './commands.js'
import { objectEvent } from './events.js'
import { syncPlacementDesignations, syncPlacementDesignationsNoGrowth } from './designations.js'
import { decideEnsure } from './ensure.js'
import { clusterLimits } from './limits.js'
import { checkName, groupKey, streamKey } from './names.js'
import { validateStages } from './pipeline-dag.js'
import { diffsToJson, fail, ok } from './result.js'
import type { ClusterState, GroupRecord, PipelineRecord } from './state.js'
import { compareStrings, mapDelete, mapSet, sortedUnique } from './state.js'
import type { Step } from './step.js'
import { rejected } from './step.js'

/** The dead-letter stream of `s` is `s` + this (kept equal to shared/api/consumer-wire.ts `dlqStreamName`; a test holds them equal). */
export const deadLetterSuffix = '-dlq'

function groupSpecOf(command: CommandOf<'ensureConsumerGroup'>): GroupSpec {
  const { namespace, stream, name, mode, maxInFlight, ackWaitMs, maxDeliveries, start } = command
  return { namespace, stream, name, mode, maxInFlight, ackWaitMs, maxDeliveries, start: { ...start } }
}

export function applyEnsureConsumerGroup(state: ClusterState, command: CommandOf<'ensureConsumerGroup'>, meta: ApplyMeta): Step {
  const problem = checkName('namespace', 'namespace', command.namespace) ?? checkName('stream', 'stream', command.stream) ?? checkName('group', 'name', command.name)
  if (problem !== undefined) return rejected(state, problem)
  const stream = state.streams.get(streamKey(command.namespace, command.stream))
  if (stream === undefined) return rejected(state, fail('RG_ERR_NOT_FOUND', `stream: stream ${streamKey(command.namespace, command.stream)} does not exist`, { stream: streamKey(command.namespace, command.stream) }))
  if (stream.spec.kind !== 'persistent') {
    return rejected(state, fail('RG_ERR_INVALID_ARGUMENT', `stream: consumer-group definitions are for persistent streams; ${streamKey(command.namespace, command.stream)} is ephemeral (its groups form by subscription)`, { field: 'stream' }))
  }
  // Dead letters go to `<stream>-dlq` (shared/api/consumer-wire.ts), created on first need: refuse
  // the group now rather than fail its first dead letter when that name breaks the name rules.
  const deadLetterProblem = checkName('stream', 'stream', `${command.stream}${deadLetterSuffix}`)
  if (deadLetterProblem !== undefined) {
    return rejected(state, fail('RG_ERR_INVALID_NAME', `stream: ${streamKey(command.namespace, command.stream)} cannot have consumer groups: its dead-letter stream ${command.stream}${deadLetterSuffix} would be invalid (${deadLetterProblem.message})`, { field: 'stream' }))
  }
  const key = groupKey(command.namespace, command.stream, command.name)
  const spec = groupSpecOf(command)
  const existing = state.groups.get(key)
  const decision = decideEnsure(`consumer group ${key}`, existing?.spec, spec, command.update)
  if (decision.kind === 'conflict') return rejected(state, decision.error)
  if (decision.kind === 'unchanged') return { state, result: ok('unchanged', { group: key }), events: [] }
  if (existing === undefined && state.groups.size >= clusterLimits.consumerGroupsMax) return rejected(state, fail('RG_ERR_LIMIT_EXCEEDED', `consumer groups: at most ${clusterLimits.consumerGroupsMax}`, { limit: 'consumerGroupsMax' }))
  const record: GroupRecord = { spec, createdIndex: existing?.createdIndex ?? meta.index, updatedIndex: meta.index }
  const action = existing === undefined ? 'created' : 'updated'
  // Each region of the stream gets the group's controller designation (scc/…), held by a replica.
  const designated = syncPlacementDesignations({ ...state, groups: mapSet(state.groups, key, record) }, { streamKeys: [streamKey(command.namespace, command.stream)] }, meta)
  if (designated === undefined) return rejected(state, fail('RG_ERR_LIMIT_EXCEEDED', `designations: group ${key} needs more than ${clusterLimits.designationsMax} controller designations`, { limit: 'designationsMax' }))
  return {
    state: designated.state,
    result: ok(action, { group: key, ...(decision.kind === 'update' ? { diffs: diffsToJson(decision.diffs) } : {}) }),
    events: [objectEvent('group', action, { namespace: spec.namespace, stream: spec.stream, name: spec.name }, meta, spec), ...designated.events],
  }
}

export function applyRemoveConsumerGroup(state: ClusterState, command: CommandOf<'removeConsumerGroup'>, meta: ApplyMeta): Step {
  const key = groupKey(command.namespace, command.stream, command.name)
  if (!state.groups.has(key)) return rejected(state, fail('RG_ERR_NOT_FOUND', `consumer group ${key} does not exist`, { group: key }))
  const designated = syncPlacementDesignationsNoGrowth({ ...state, groups: mapDelete(state.groups, key) }, { streamKeys: [streamKey(command.namespace, command.stream)] }, meta)
  return {
    state: designated.state,
    result: ok('removed', { group: key }),
    events: [objectEvent('group', 'removed', { namespace: command.namespace, stream: command.stream, name: command.name }, meta), ...designated.events],
  }
}

/** Stages sorted by name, references sorted and deduplicated: equal meaning → equal spec. */
function pipelineSpecOf(command: CommandOf<'ensurePipeline'>): PipelineSpec {
  const stages = command.stages
    .map((stage) => ({ name: stage.name, after: sortedUnique(stage.after), dependencies: sortedUnique(stage.dependencies) }))
    .sort((a, b) => compareStrings(a.name, b.name))
  return { namespace: command.namespace, name: command.name, triggerStream: command.triggerStream, stages }
}

export function applyEnsurePipeline(state: ClusterState, command: CommandOf<'ensurePipeline'>, meta: ApplyMeta): Step {
  const problem = checkName('namespace', 'namespace', command.namespace) ?? checkName('pipeline', 'name', command.name) ?? checkName('stream', 'triggerStream', command.triggerStream)
  if (problem !== undefined) return rejected(state, problem)
  if (!state.namespaces.has(command.namespace)) return rejected(state, fail('RG_ERR_NOT_FOUND', `namespace: namespace ${command.namespace} does not exist`, { namespace: command.namespace }))
  const trigger = streamKey(command.namespace, command.triggerStream)
  if (!state.streams.has(trigger)) return rejected(state, fail('RG_ERR_NOT_FOUND', `triggerStream: stream ${trigger} does not exist`, { stream: trigger }))
  // Validate the stages as given, so error messages point at the caller's indexes.
  const dag = validateStages(command.stages)
  if (!dag.ok) return rejected(state, dag)
  const key = streamKey(command.namespace, command.name)
  const spec = pipelineSpecOf(command)
  const existing = state.pipelines.get(key)
  const decision = decideEnsure(`pipeline ${key}`, existing?.spec, spec, command.update)
  if (decision.kind === 'conflict') return rejected(state, decision.error)
  if (decision.kind === 'unchanged') return { state, result: ok('unchanged', { pipeline: key, order: [...dag.order] }), events: [] }
  if (existing === undefined && state.pipelines.size >= clusterLimits.pipelinesMax) return rejected(state, fail('RG_ERR_LIMIT_EXCEEDED', `pipelines: at most ${clusterLimits.pipelinesMax}`, { limit: 'pipelinesMax' }))
  const record: PipelineRecord = { spec, order: dag.order, createdIndex: existing?.createdIndex ?? meta.index, updatedIndex: meta.index }
  const action = existing === undefined ? 'created' : 'updated'
  return {
    state: { ...state, pipelines: mapSet(state.pipelines, key, record) },
    result: ok(action, { pipeline: key, order: [...dag.order], ...(decision.kind === 'update' ? { diffs: diffsToJson(decision.diffs) } : {}) }),
    events: [objectEvent('pipeline', action, { namespace: spec.namespace, name: spec.name }, meta, { ...spec, order: [...dag.order] })],
  }
}

export function applyRemovePipeline(state: ClusterState, command: CommandOf<'removePipeline'>, meta: ApplyMeta): Step {
  const key = streamKey(command.namespace, command.name)
  if (!state.pipelines.has(key)) return rejected(state, fail('RG_ERR_NOT_FOUND', `pipeline ${key} does not exist`, { pipeline: key }))
  return {
    state: { ...state, pipelines: mapDelete(state.pipelines, key) },
    result: ok('removed', { pipeline: key }),
    events: [objectEvent('pipeline', 'removed', { namespace: command.namespace, name: command.name }, meta)],
  }
}
