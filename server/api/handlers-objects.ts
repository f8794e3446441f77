// Verbs on definitions: namespaces, streams, consumer groups, pipelines, buckets. Ensure verbs
// fill defaults (shared/api/defaults.ts) before proposing: a field left out takes the stored
// value when the object exists (so "ensure NAME" again is always unchanged), else the default.
import { checkName, groupKey, streamKey } from '../../control-plane/cluster/index.js'
import type { ClusterState, Command, JsonObject, NameKind } from '../../control-plane/cluster/index.js'
import { apiDefaults, apiLimits } from '../../shared/api/index.js'
import type { ParsedApiRequest } from '../../shared/api/index.js'
import type { HandlerContext, VerbHandlers } from './handler-context.js'
import { mutate, readState } from './handler-context.js'
import type { ApiReply } from './replies.js'
import { failure } from './replies.js'
import { bucketView, groupView, namespaceView, pipelineView, sortedValues, streamView } from './views.js'

type ObjectVerbs = Pick<VerbHandlers, `${'STREAM' | 'NAMESPACE' | 'GROUP' | 'PIPELINE' | 'BUCKET'}.${'ENSURE' | 'LIST' | 'INFO' | 'DELETE'}`>

/** Bad names answer RG_ERR_INVALID_NAME with the field, as the cluster does for commands. */
function badName(checks: ReadonlyArray<readonly [NameKind, string, string]>): ApiReply | undefined {
  for (const [kind, field, value] of checks) {
    const problem = checkName(kind, field, value)
    if (problem !== undefined) return failure(problem.code, problem.message, problem.details as Record<string, unknown>)
  }
  return undefined
}

function notFound(what: string): ApiReply {
  return failure('RG_ERR_NOT_FOUND', `${what} not found`)
}

/** Replicas per region by default: 3, capped by the active nodes of the stream's largest region. */
function defaultReplicas(state: ClusterState, regions: readonly string[]): number {
  let largest = 0
  for (const region of regions) {
    let active = 0
    for (const node of state.nodes.values()) if (node.region === region && node.state === 'active') active += 1
    largest = Math.max(largest, active)
  }
  return Math.max(1, Math.min(apiDefaults.replicasPerRegion, largest))
}

export function streamCommand(context: HandlerContext, request: ParsedApiRequest<'STREAM.ENSURE'>): Command & { type: 'ensureStream' } {
  const state = context.controlPlane.state
  const namespace = request.namespace ?? apiDefaults.namespace
  const stored = state.streams.get(streamKey(namespace, request.name))?.spec
  const regions = request.regions ?? stored?.regions ?? [context.nodeInfo.region]
  return {
    type: 'ensureStream',
    namespace,
    name: request.name,
    kind: request.kind ?? stored?.kind ?? apiDefaults.streamKind,
    regions: [...regions],
    replicasPerRegion: request.replicasPerRegion ?? stored?.replicasPerRegion ?? defaultReplicas(state, regions),
    dedupWindowMs: request.dedupWindowMs ?? stored?.dedupWindowMs ?? apiDefaults.dedupWindowMs,
    retention: {
      maxAgeMs: request.retention?.maxAgeMs ?? stored?.retention.maxAgeMs ?? apiDefaults.retention.maxAgeMs,
      maxBytes: request.retention?.maxBytes ?? stored?.retention.maxBytes ?? apiDefaults.retention.maxBytes,
      maxEvents: request.retention?.maxEvents ?? stored?.retention.maxEvents ?? apiDefaults.retention.maxEvents,
    },
    ackDefault: request.ackDefault ?? stored?.ackDefault ?? apiDefaults.ackDefault,
    deadLetter: {
      maxDeliveries: request.deadLetter?.maxDeliveries ?? stored?.deadLetter.maxDeliveries ?? apiDefaults.deadLetter.maxDeliveries,
      maxLag: request.deadLetter?.maxLag ?? stored?.deadLetter.maxLag ?? apiDefaults.deadLetter.maxLag,
    },
    ...(request.update === undefined ? {} : { update: request.update }),
  }
}

function definitionOf(command: Command): JsonObject {
  const { type: _type, update: _update, ...definition } = command as Command & { update?: boolean }
  return definition as unknown as JsonObject
}

function limited<T>(items: readonly T[]): { items: T[]; truncated: boolean } {
  return { items: items.slice(0, apiLimits.listEntriesMax), truncated: items.length > apiLimits.listEntriesMax }
}

export const objectHandlers: ObjectVerbs = {
  'STREAM.ENSURE': async (context, request) => {
    const command = streamCommand(context, request)
    return mutate(context, command, definitionOf(command))
  },
  'STREAM.LIST': (context, request) =>
    readState(context, request.stale, (state) => {
      const all = sortedValues(state.streams).filter(([, record]) => request.namespace === undefined || record.spec.namespace === request.namespace)
      const { items, truncated } = limited(all.map(([key, record]) => streamView(state, key, record)))
      return { ok: true, streams: items, truncated }
    }),
  'STREAM.INFO': async (context, request) => {
    const namespace = request.namespace ?? apiDefaults.namespace
    const bad = badName([['namespace', 'namespace', namespace], ['stream', 'name', request.name]])
    if (bad !== undefined) return bad
    return readState(context, request.stale, (state) => {
      const key = streamKey(namespace, request.name)
      const record = state.streams.get(key)
      if (record === undefined) return notFound(`stream ${key}`)
      // A stream in several regions: this node's view of the links' lag and its replica's digest.
      const shipping = context.streamData?.()?.shipping?.(key)
      return { ok: true, stream: { ...streamView(state, key, record), ...(shipping === undefined ? {} : { shipping }) } }
    })
  },
  'STREAM.DELETE': (context, request) => mutate(context, { type: 'removeStream', namespace: request.namespace ?? apiDefaults.namespace, name: request.name }),

  'NAMESPACE.ENSURE': async (context, request) => {
    const stored = context.controlPlane.state.namespaces.get(request.name)
    const command: Command = {
      type: 'ensureNamespace',
      name: request.name,
      description: request.description ?? stored?.description ?? '',
      ...(request.update === undefined ? {} : { update: request.update }),
    }
    return mutate(context, command, definitionOf(command))
  },
  'NAMESPACE.LIST': (context, request) =>
    readState(context, request.stale, (state) => ({ ok: true, namespaces: sortedValues(state.namespaces).map(([, record]) => namespaceView(record)) })),
  'NAMESPACE.INFO': async (context, request) =>
    badName([['namespace', 'name', request.name]]) ??
    readState(context, request.stale, (state) => {
      const record = state.namespaces.get(request.name)
      return record === undefined ? notFound(`namespace ${request.name}`) : { ok: true, namespace: namespaceView(record) }
    }),
  'NAMESPACE.DELETE': (context, request) => mutate(context, { type: 'removeNamespace', name: request.name }),

  'GROUP.ENSURE': async (context, request) => {
    const namespace = request.namespace ?? apiDefaults.namespace
    const stored = context.controlPlane.state.groups.get(groupKey(namespace, request.stream, request.name))?.spec
    const command: Command = {
      type: 'ensureConsumerGroup',
      namespace,
      stream: request.stream,
      name: request.name,
      mode: request.mode ?? stored?.mode ?? apiDefaults.groupMode,
      maxInFlight: request.maxInFlight ?? stored?.maxInFlight ?? apiDefaults.maxInFlight,
      ackWaitMs: request.ackWaitMs ?? stored?.ackWaitMs ?? apiDefaults.ackWaitMs,
      maxDeliveries: request.maxDeliveries ?? stored?.maxDeliveries ?? apiDefaults.maxDeliveries,
      start: request.start ?? stored?.start ?? apiDefaults.groupStart,
      ...(request.update === undefined ? {} : { update: request.update }),
    }
    return mutate(context, command, definitionOf(command))
  },
  'GROUP.LIST': (context, request) =>
    readState(context, request.stale, (state) => {
      const all = sortedValues(state.groups)
        .map(([, record]) => record)
        .filter((record) => (request.namespace === undefined || record.spec.namespace === request.namespace) && (request.stream === undefined || record.spec.stream === request.stream))
      const { items, truncated } = limited(all.map(groupView))
      return { ok: true, groups: items, truncated }
    }),
  'GROUP.INFO': async (context, request) => {
    const namespace = request.namespace ?? apiDefaults.namespace
    const bad = badName([['namespace', 'namespace', namespace], ['stream', 'stream', request.stream], ['group', 'name', request.name]])
    if (bad !== undefined) return bad
    return readState(context, request.stale, (state) => {
      const key = groupKey(namespace, request.stream, request.name)
      const record = state.groups.get(key)
      return record === undefined ? notFound(`consumer group ${key}`) : { ok: true, group: groupView(record) }
    })
  },
  'GROUP.DELETE': (context, request) =>
    mutate(context, { type: 'removeConsumerGroup', namespace: request.namespace ?? apiDefaults.namespace, stream: request.stream, name: request.name }),

  'PIPELINE.ENSURE': async (context, request) => {
    const command: Command = {
      type: 'ensurePipeline',
      namespace: request.namespace ?? apiDefaults.namespace,
      name: request.name,
      triggerStream: request.triggerStream,
      stages: request.stages.map((stage) => ({ name: stage.name, after: stage.after ?? [], dependencies: stage.dependencies ?? [] })),
      ...(request.update === undefined ? {} : { update: request.update }),
    }
    return mutate(context, command, definitionOf(command))
  },
  'PIPELINE.LIST': (context, request) =>
    readState(context, request.stale, (state) => {
      const all = sortedValues(state.pipelines).map(([, record]) => record).filter((record) => request.namespace === undefined || record.spec.namespace === request.namespace)
      const { items, truncated } = limited(all.map(pipelineView))
      return { ok: true, pipelines: items, truncated }
    }),
  'PIPELINE.INFO': async (context, request) => {
    const namespace = request.namespace ?? apiDefaults.namespace
    const bad = badName([['namespace', 'namespace', namespace], ['pipeline', 'name', request.name]])
    if (bad !== undefined) return bad
    return readState(context, request.stale, (state) => {
      const key = streamKey(namespace, request.name)
      const record = state.pipelines.get(key)
      return record === undefined ? notFound(`pipeline ${key}`) : { ok: true, pipeline: pipelineView(record) }
    })
  },
  'PIPELINE.DELETE': (context, request) => mutate(context, { type: 'removePipeline', namespace: request.namespace ?? apiDefaults.namespace, name: request.name }),

  'BUCKET.ENSURE': async (context, request) => {
    const stored = context.controlPlane.state.buckets.get(request.name)
    const command: Command = {
      type: 'ensureBucket',
      name: request.name,
      maxValueBytes: request.maxValueBytes ?? stored?.maxValueBytes ?? apiDefaults.bucketMaxValueBytes,
      ...(request.update === undefined ? {} : { update: request.update }),
    }
    return mutate(context, command, definitionOf(command))
  },
  'BUCKET.LIST': (context, request) =>
    readState(context, request.stale, (state) => ({ ok: true, buckets: sortedValues(state.buckets).map(([, record]) => bucketView(record)) })),
  'BUCKET.INFO': async (context, request) =>
    badName([['bucket', 'name', request.name]]) ??
    readState(context, request.stale, (state) => {
      const record = state.buckets.get(request.name)
      return record === undefined ? notFound(`bucket ${request.name}`) : { ok: true, bucket: bucketView(record) }
    }),
  'BUCKET.DELETE': (context, request) => mutate(context, { type: 'removeBucket', name: request.name }),
}
