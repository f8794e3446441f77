// The control API from the client: typed calls of the `$RG.API.<AREA>.<VERB>` verbs (JSON
// request/reply, shared/api is the contract) grouped by area: `streams`, `namespaces`, `buckets`,
// `groups`, `cluster`. A `{ok:false}` answer rejects with `ApiError` carrying the server's code; transport
// failures reject with the client's own errors (`NoRespondersError` when the server has no API).
import type { Observable } from 'rxjs'
import { apiEnvelopeSchema, apiRequestTimeoutMsDefault, apiSubject, clusterStatusSchema, leaderTransferResponseSchema, mutationResponseSchema, streamViewSchema } from '../shared/api/index.js'
import type { ApiRequest, ApiVerb, ClusterStatus, MutationResponse, NodeView, StreamView } from '../shared/api/index.js'
import type { ErrorCode } from '../shared/errors.js'
import { ApiError } from './api-error.js'
import { ProtocolError } from './errors.js'
import type { Message } from './message.js'
import type { RequestOptions } from './request.js'
import type { Status } from './status.js'

/** The client members the control API uses (RailgunClient has them). */
export interface ApiTransport {
  requestPromise(subject: string, data: Uint8Array | string, options?: RequestOptions): Promise<Message>
  subscribe(subject: string): Observable<Message>
  flush(): Promise<void>
  /** Connection status; a KV watch re-reads after `reconnected` (events sent while down are lost). */
  readonly status$?: Observable<Status>
}

export interface ApiCallOptions {
  /** Default `apiRequestTimeoutMsDefault` (15 s: above the server's Raft proposal budget). */
  readonly timeoutMs?: number
}

/** Checks a success answer (or a part of it) against its shared schema: a mismatch is a protocol error. */
export function checked<T>(verb: string, schema: { safeParse(value: unknown): { success: true; data: T } | { success: false } }, value: unknown): T {
  const result = schema.safeParse(value)
  if (!result.success) throw new ProtocolError(`${verb}: the answer does not match its schema`)
  return result.data
}

/** Success answers: `ok: true` and the verb's fields. */
export type ApiAnswer = { readonly ok: true } & Readonly<Record<string, unknown>>

/** Calls one verb; resolves with the success answer or rejects with `ApiError`. */
export async function callApi<V extends ApiVerb>(transport: ApiTransport, verb: V, request: ApiRequest<V>, options: ApiCallOptions = {}): Promise<ApiAnswer> {
  const reply = await transport.requestPromise(apiSubject(verb), JSON.stringify(request), { timeoutMs: options.timeoutMs ?? apiRequestTimeoutMsDefault })
  let body: unknown
  try {
    body = reply.json()
  } catch (error) {
    throw new ProtocolError(`${verb}: the answer is not JSON (${(error as Error).message})`)
  }
  const envelope = apiEnvelopeSchema.safeParse(body)
  if (!envelope.success) throw new ProtocolError(`${verb}: the answer is not an API envelope`)
  const answer = envelope.data
  if (answer.ok) return answer as ApiAnswer
  throw new ApiError(verb, answer.error.code as ErrorCode, answer.error.message, answer.error.details ?? {})
}

export interface ReadOptions extends ApiCallOptions {
  /** Answer from the serving node's applied state, without a ReadIndex barrier (may lag). */
  readonly stale?: boolean
}

const staleOf = (options: ReadOptions): { stale?: boolean } => (options.stale === true ? { stale: true } : {})
const timeoutOf = (options: ApiCallOptions): ApiCallOptions => (options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs })

export class StreamsApi {
  constructor(private readonly transport: ApiTransport) {}

  /** Creates, confirms (`unchanged`) or, with `update: true`, updates a stream; conflicts reject with RG_ERR_CONFLICT. */
  async ensure(request: ApiRequest<'STREAM.ENSURE'>, options: ApiCallOptions = {}): Promise<MutationResponse> {
    return checked('STREAM.ENSURE', mutationResponseSchema, await callApi(this.transport, 'STREAM.ENSURE', request, options))
  }

  async list(filter: { namespace?: string } = {}, options: ReadOptions = {}): Promise<StreamView[]> {
    const answer = await callApi(this.transport, 'STREAM.LIST', { ...filter, ...staleOf(options) }, timeoutOf(options))
    return checked('STREAM.LIST', streamViewSchema.array(), answer.streams)
  }

  async info(namespace: string, name: string, options: ReadOptions = {}): Promise<StreamView> {
    const answer = await callApi(this.transport, 'STREAM.INFO', { namespace, name, ...staleOf(options) }, timeoutOf(options))
    return checked('STREAM.INFO', streamViewSchema, answer.stream)
  }

  async remove(namespace: string, name: string, options: ApiCallOptions = {}): Promise<MutationResponse> {
    return (await callApi(this.transport, 'STREAM.DELETE', { namespace, name }, options)) as MutationResponse
  }
}

export class NamespacesApi {
  constructor(private readonly transport: ApiTransport) {}

  async ensure(request: ApiRequest<'NAMESPACE.ENSURE'>, options: ApiCallOptions = {}): Promise<MutationResponse> {
    return (await callApi(this.transport, 'NAMESPACE.ENSURE', request, options)) as MutationResponse
  }

  async list(options: ReadOptions = {}): Promise<Array<Record<string, unknown>>> {
    return (await callApi(this.transport, 'NAMESPACE.LIST', staleOf(options), timeoutOf(options))).namespaces as Array<Record<string, unknown>>
  }

  async remove(name: string, options: ApiCallOptions = {}): Promise<MutationResponse> {
    return (await callApi(this.transport, 'NAMESPACE.DELETE', { name }, options)) as MutationResponse
  }
}

/** A consumer group's definition as `GROUP.INFO` / `GROUP.LIST` show it. */
export interface GroupView {
  readonly namespace: string
  readonly stream: string
  readonly name: string
  readonly mode: 'exclusive' | 'load-balanced'
  readonly maxInFlight: number
  readonly ackWaitMs: number
  readonly maxDeliveries: number
  readonly start: ApiRequest<'GROUP.ENSURE'>['start']
  readonly createdIndex: number
  readonly updatedIndex: number
}

const groupViewFields = ['namespace', 'stream', 'name', 'mode', 'maxInFlight', 'ackWaitMs', 'maxDeliveries', 'start', 'createdIndex', 'updatedIndex'] as const

/** A group view with every field present: a missing one is a protocol error. */
function groupViewOf(verb: string, value: unknown): GroupView {
  if (typeof value !== 'object' || value === null || groupViewFields.some((field) => !(field in value))) throw new ProtocolError(`${verb}: the answer does not hold a group view`)
  return value as GroupView
}

/** Consumer-group definitions (`$RG.API.GROUP.*`); consuming is `client.consume` / `client.fetch`. */
export class GroupsApi {
  constructor(private readonly transport: ApiTransport) {}

  /** Creates, confirms (`unchanged`) or, with `update: true`, updates a group of a persistent stream. */
  async ensure(request: ApiRequest<'GROUP.ENSURE'>, options: ApiCallOptions = {}): Promise<MutationResponse> {
    return checked('GROUP.ENSURE', mutationResponseSchema, await callApi(this.transport, 'GROUP.ENSURE', request, options))
  }

  async list(filter: { namespace?: string; stream?: string } = {}, options: ReadOptions = {}): Promise<GroupView[]> {
    const answer = await callApi(this.transport, 'GROUP.LIST', { ...filter, ...staleOf(options) }, timeoutOf(options))
    if (!Array.isArray(answer.groups)) throw new ProtocolError('GROUP.LIST: the answer holds no group list')
    return answer.groups.map((group: unknown) => groupViewOf('GROUP.LIST', group))
  }

  async info(namespace: string, stream: string, name: string, options: ReadOptions = {}): Promise<GroupView> {
    const answer = await callApi(this.transport, 'GROUP.INFO', { namespace, stream, name, ...staleOf(options) }, timeoutOf(options))
    return groupViewOf('GROUP.INFO', answer.group)
  }

  async remove(namespace: string, stream: string, name: string, options: ApiCallOptions = {}): Promise<MutationResponse> {
    return (await callApi(this.transport, 'GROUP.DELETE', { namespace, stream, name }, options)) as MutationResponse
  }
}

export interface BucketView {
  readonly name: string
  readonly maxValueBytes: number
  readonly keys: number
  readonly createdIndex: number
  readonly updatedIndex: number
}

export class BucketsApi {
  constructor(private readonly transport: ApiTransport) {}

  async ensure(request: ApiRequest<'BUCKET.ENSURE'>, options: ApiCallOptions = {}): Promise<MutationResponse> {
    return (await callApi(this.transport, 'BUCKET.ENSURE', request, options)) as MutationResponse
  }

  async list(options: ReadOptions = {}): Promise<BucketView[]> {
    return (await callApi(this.transport, 'BUCKET.LIST', staleOf(options), timeoutOf(options))).buckets as BucketView[]
  }

  async info(name: string, options: ReadOptions = {}): Promise<BucketView> {
    return (await callApi(this.transport, 'BUCKET.INFO', { name, ...staleOf(options) }, timeoutOf(options))).bucket as BucketView
  }

  async remove(name: string, options: ApiCallOptions = {}): Promise<MutationResponse> {
    return (await callApi(this.transport, 'BUCKET.DELETE', { name }, options)) as MutationResponse
  }
}

export class ClusterApi {
  constructor(private readonly transport: ApiTransport) {}

  /** Leader, term, members (region, role, state), regions, readiness, as the serving node sees them. */
  async status(options: ApiCallOptions = {}): Promise<ClusterStatus> {
    return checked('CLUSTER.STATUS', clusterStatusSchema, await callApi(this.transport, 'CLUSTER.STATUS', {}, options))
  }

  async nodes(options: ReadOptions = {}): Promise<NodeView[]> {
    return (await callApi(this.transport, 'CLUSTER.NODES', staleOf(options), timeoutOf(options))).nodes as NodeView[]
  }

  /** Moves Raft leadership to `to` (any voter but the leader when omitted); resolves once it moved. */
  async transferLeader(to?: string, options: ApiCallOptions = {}): Promise<{ leader: string; term: number }> {
    const answer = checked('LEADER.TRANSFER', leaderTransferResponseSchema, await callApi(this.transport, 'LEADER.TRANSFER', to === undefined ? {} : { to }, options))
    return { leader: answer.leader ?? to ?? '', term: answer.term }
  }

  async addNode(request: ApiRequest<'NODE.ADD'>, options: ApiCallOptions = {}): Promise<MutationResponse> {
    return (await callApi(this.transport, 'NODE.ADD', request, options)) as MutationResponse
  }

  async drainNode(nodeId: string, options: ApiCallOptions = {}): Promise<MutationResponse> {
    return (await callApi(this.transport, 'NODE.DRAIN', { nodeId }, options)) as MutationResponse
  }

  async removeNode(nodeId: string, removal: { force?: boolean } = {}, options: ApiCallOptions = {}): Promise<MutationResponse> {
    return (await callApi(this.transport, 'NODE.REMOVE', { nodeId, ...removal }, options)) as MutationResponse
  }
}
