// KV verbs on linearizable buckets: get/list read the state (ReadIndex unless `stale`) and
// answer the cluster's `kvRevision` at that point (a watcher drops events at or below it);
// put/cas/delete go through Raft. Values travel as UTF-8 `value` or base64 `valueBase64`.
import { checkName, kvGet, kvList } from '../../control-plane/cluster/index.js'
import { apiLimits } from '../../shared/api/index.js'
import type { HandlerContext, VerbHandlers } from './handler-context.js'
import { mutate, readState } from './handler-context.js'
import type { ApiReply } from './replies.js'
import { failure } from './replies.js'
import { kvEntryView } from './views.js'

type KvVerbs = Pick<VerbHandlers, 'KV.GET' | 'KV.PUT' | 'KV.CAS' | 'KV.DELETE' | 'KV.LIST'>

const textEncoder = new TextEncoder()
const base64Pattern = /^[A-Za-z0-9+/]*={0,2}$/

/** The value bytes of a put/cas, or the failure explaining why there are none. */
function valueOf(request: { value?: string | undefined; valueBase64?: string | undefined }): Uint8Array | ApiReply {
  if ((request.value === undefined) === (request.valueBase64 === undefined)) {
    return failure('RG_ERR_INVALID_ARGUMENT', 'value: give exactly one of value (UTF-8 text) or valueBase64')
  }
  if (request.value !== undefined) return textEncoder.encode(request.value)
  const encoded = request.valueBase64 as string
  if (encoded.length % 4 !== 0 || !base64Pattern.test(encoded)) return failure('RG_ERR_INVALID_ARGUMENT', 'valueBase64: not base64')
  return new Uint8Array(Buffer.from(encoded, 'base64'))
}

function badBucket(bucket: string, key?: string): ApiReply | undefined {
  const problem = checkName('bucket', 'bucket', bucket) ?? (key === undefined ? undefined : checkName('key', 'key', key))
  return problem === undefined ? undefined : failure(problem.code, problem.message, problem.details as Record<string, unknown>)
}

async function write(context: HandlerContext, build: (value: Uint8Array) => Parameters<typeof mutate>[1], request: { value?: string | undefined; valueBase64?: string | undefined }): Promise<ApiReply> {
  const value = valueOf(request)
  if (!(value instanceof Uint8Array)) return value
  return mutate(context, build(value))
}

export const kvHandlers: KvVerbs = {
  'KV.GET': async (context, request) =>
    badBucket(request.bucket, request.key) ??
    readState(context, request.stale, (state) => {
      if (!state.buckets.has(request.bucket)) return failure('RG_ERR_NOT_FOUND', `bucket ${request.bucket} not found`)
      const entry = kvGet(state, request.bucket, request.key)
      return { ok: true, entry: entry === undefined ? null : kvEntryView(request.bucket, request.key, entry), kvRevision: state.kvRevision }
    }),
  'KV.LIST': async (context, request) =>
    badBucket(request.bucket) ??
    readState(context, request.stale, (state) => {
      if (!state.buckets.has(request.bucket)) return failure('RG_ERR_NOT_FOUND', `bucket ${request.bucket} not found`)
      const all = kvList(state, request.bucket, request.prefix ?? '')
      const entries = all.slice(0, apiLimits.listEntriesMax).map(([key, entry]) => kvEntryView(request.bucket, key, entry))
      return { ok: true, entries, kvRevision: state.kvRevision, truncated: all.length > entries.length }
    }),
  'KV.PUT': (context, request) => write(context, (value) => ({ type: 'kvPut', bucket: request.bucket, key: request.key, value }), request),
  'KV.CAS': (context, request) =>
    write(context, (value) => ({ type: 'kvCas', bucket: request.bucket, key: request.key, value, expectedRevision: request.expectedRevision }), request),
  'KV.DELETE': (context, request) =>
    mutate(context, {
      type: 'kvDelete',
      bucket: request.bucket,
      key: request.key,
      ...(request.expectedRevision === undefined ? {} : { expectedRevision: request.expectedRevision }),
    }),
}
