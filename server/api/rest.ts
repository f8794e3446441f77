// REST on the admin port, with the semantics of the `$RG.API` verbs: each route is a verb and a
// body built from the path, query and JSON body. Unknown routes under /api/v1 answer 404 JSON,
// a known route with another method 405 (with `allow`), a bad body 400; all in the error
// envelope. Paths outside /api/v1 (or /api/v1/server, served by admin-http) are not ours.
//
//   GET /api/v1/cluster                          CLUSTER.STATUS
//   GET|POST /api/v1/nodes                       CLUSTER.NODES | NODE.ADD
//   POST /api/v1/nodes/{id}/drain                NODE.DRAIN
//   DELETE /api/v1/nodes/{id}[?force=true]       NODE.REMOVE
//   GET|POST /api/v1/streams[?namespace=]        STREAM.LIST | STREAM.ENSURE
//   GET|DELETE /api/v1/streams/{ns}/{name}       STREAM.INFO | STREAM.DELETE
//   GET|POST /api/v1/namespaces, GET|DELETE /api/v1/namespaces/{name}
//   GET|POST /api/v1/groups[?namespace=&stream=], GET|DELETE /api/v1/groups/{ns}/{stream}/{name}
//   GET|POST /api/v1/pipelines[?namespace=], GET|DELETE /api/v1/pipelines/{ns}/{name}
//   GET|POST /api/v1/buckets, GET|DELETE /api/v1/buckets/{name}
//   GET /api/v1/kv/{bucket}[?prefix=]            KV.LIST
//   GET|PUT|DELETE /api/v1/kv/{bucket}/{key…}    KV.GET | KV.PUT (raw body = value; ?expectedRevision= → KV.CAS) | KV.DELETE
//   POST /api/v1/leader/transfer                 LEADER.TRANSFER ({to?})
//   GET|POST /api/v1/users, DELETE /api/v1/users/{name}          USER.LIST | USER.ENSURE | USER.DELETE
//   GET|POST /api/v1/tokens[?user=], DELETE /api/v1/tokens/{id}  TOKEN.LIST | TOKEN.CREATE | TOKEN.REVOKE
//   GET|POST /api/v1/roles, DELETE /api/v1/roles/{name}          ROLE.LIST | ROLE.ENSURE | ROLE.DELETE
// GET routes take `?stale=true` for a local read.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { apiLimits } from '../../shared/api/index.js'
import type { ApiVerb } from '../../shared/api/index.js'
import type { ApiReply } from './replies.js'
import { failure, httpStatusOf } from './replies.js'

export const restPrefix = '/api/v1/'

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE'

/** How a route builds its verb's request: from the path parameters, query and body. */
interface RouteInput {
  readonly params: readonly string[]
  readonly query: URLSearchParams
  readonly body: () => Promise<unknown>
  readonly rawBody: () => Promise<Uint8Array>
}

type RouteAction = (input: RouteInput) => Promise<{ readonly verb: ApiVerb; readonly request: unknown } | ApiReply>

interface Route {
  readonly pattern: RegExp
  readonly methods: Partial<Record<Method, RouteAction>>
}

export type ExecuteVerb = (verb: string, request: unknown) => Promise<ApiReply>

class BodyError extends Error {
  constructor(readonly reply: ApiReply) {
    super('bad body')
  }
}

function stale(query: URLSearchParams): { stale?: boolean } {
  const value = query.get('stale')
  return value === 'true' || value === '1' ? { stale: true } : {}
}

function optional(query: URLSearchParams, name: string): Record<string, string> {
  const value = query.get(name)
  return value === null ? {} : { [name]: value }
}

function integerQuery(query: URLSearchParams, name: string): number | undefined | ApiReply {
  const value = query.get(name)
  if (value === null) return undefined
  if (!/^\d+$/.test(value)) return failure('RG_ERR_INVALID_ARGUMENT', `${name}: expected a non-negative integer, got "${value}"`)
  return Number(value)
}

async function objectBody(input: RouteInput): Promise<Record<string, unknown>> {
  const body = await input.body()
  if (body === undefined) return {}
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BodyError(failure('RG_ERR_MALFORMED_COMMAND', 'body: expected a JSON object'))
  return body as Record<string, unknown>
}

const param = (input: RouteInput, index: number): string => input.params[index] ?? ''
const as = (verb: ApiVerb, request: unknown): { verb: ApiVerb; request: unknown } => ({ verb, request })

const routes: readonly Route[] = [
  { pattern: /^cluster$/, methods: { GET: async () => as('CLUSTER.STATUS', {}) } },
  {
    pattern: /^nodes$/,
    methods: { GET: async (i) => as('CLUSTER.NODES', stale(i.query)), POST: async (i) => as('NODE.ADD', await objectBody(i)) },
  },
  { pattern: /^nodes\/([^/]+)\/drain$/, methods: { POST: async (i) => as('NODE.DRAIN', { nodeId: param(i, 0) }) } },
  {
    pattern: /^nodes\/([^/]+)$/,
    methods: { DELETE: async (i) => as('NODE.REMOVE', { nodeId: param(i, 0), ...(i.query.get('force') === 'true' ? { force: true } : {}) }) },
  },
  {
    pattern: /^streams$/,
    methods: {
      GET: async (i) => as('STREAM.LIST', { ...optional(i.query, 'namespace'), ...stale(i.query) }),
      POST: async (i) => as('STREAM.ENSURE', await objectBody(i)),
    },
  },
  {
    pattern: /^streams\/([^/]+)\/([^/]+)$/,
    methods: {
      GET: async (i) => as('STREAM.INFO', { namespace: param(i, 0), name: param(i, 1), ...stale(i.query) }),
      DELETE: async (i) => as('STREAM.DELETE', { namespace: param(i, 0), name: param(i, 1) }),
    },
  },
  {
    pattern: /^namespaces$/,
    methods: { GET: async (i) => as('NAMESPACE.LIST', stale(i.query)), POST: async (i) => as('NAMESPACE.ENSURE', await objectBody(i)) },
  },
  {
    pattern: /^namespaces\/([^/]+)$/,
    methods: {
      GET: async (i) => as('NAMESPACE.INFO', { name: param(i, 0), ...stale(i.query) }),
      DELETE: async (i) => as('NAMESPACE.DELETE', { name: param(i, 0) }),
    },
  },
  {
    pattern: /^groups$/,
    methods: {
      GET: async (i) => as('GROUP.LIST', { ...optional(i.query, 'namespace'), ...optional(i.query, 'stream'), ...stale(i.query) }),
      POST: async (i) => as('GROUP.ENSURE', await objectBody(i)),
    },
  },
  {
    pattern: /^groups\/([^/]+)\/([^/]+)\/([^/]+)$/,
    methods: {
      GET: async (i) => as('GROUP.INFO', { namespace: param(i, 0), stream: param(i, 1), name: param(i, 2), ...stale(i.query) }),
      DELETE: async (i) => as('GROUP.DELETE', { namespace: param(i, 0), stream: param(i, 1), name: param(i, 2) }),
    },
  },
  {
    pattern: /^pipelines$/,
    methods: {
      GET: async (i) => as('PIPELINE.LIST', { ...optional(i.query, 'namespace'), ...stale(i.query) }),
      POST: async (i) => as('PIPELINE.ENSURE', await objectBody(i)),
    },
  },
  {
    pattern: /^pipelines\/([^/]+)\/([^/]+)$/,
    methods: {
      GET: async (i) => as('PIPELINE.INFO', { namespace: param(i, 0), name: param(i, 1), ...stale(i.query) }),
      DELETE: async (i) => as('PIPELINE.DELETE', { namespace: param(i, 0), name: param(i, 1) }),
    },
  },
  {
    pattern: /^buckets$/,
    methods: { GET: async (i) => as('BUCKET.LIST', stale(i.query)), POST: async (i) => as('BUCKET.ENSURE', await objectBody(i)) },
  },
  {
    pattern: /^buckets\/([^/]+)$/,
    methods: {
      GET: async (i) => as('BUCKET.INFO', { name: param(i, 0), ...stale(i.query) }),
      DELETE: async (i) => as('BUCKET.DELETE', { name: param(i, 0) }),
    },
  },
  { pattern: /^kv\/([^/]+)$/, methods: { GET: async (i) => as('KV.LIST', { bucket: param(i, 0), ...optional(i.query, 'prefix'), ...stale(i.query) }) } },
  {
    pattern: /^kv\/([^/]+)\/(.+)$/,
    methods: {
      GET: async (i) => as('KV.GET', { bucket: param(i, 0), key: param(i, 1), ...stale(i.query) }),
      PUT: async (i) => {
        const expected = integerQuery(i.query, 'expectedRevision')
        if (typeof expected === 'object') return expected
        const valueBase64 = Buffer.from(await i.rawBody()).toString('base64')
        const base = { bucket: param(i, 0), key: param(i, 1), valueBase64 }
        return expected === undefined ? as('KV.PUT', base) : as('KV.CAS', { ...base, expectedRevision: expected })
      },
      DELETE: async (i) => {
        const expected = integerQuery(i.query, 'expectedRevision')
        if (typeof expected === 'object') return expected
        return as('KV.DELETE', { bucket: param(i, 0), key: param(i, 1), ...(expected === undefined ? {} : { expectedRevision: expected }) })
      },
    },
  },
  { pattern: /^leader\/transfer$/, methods: { POST: async (i) => as('LEADER.TRANSFER', await objectBody(i)) } },
  { pattern: /^users$/, methods: { GET: async (i) => as('USER.LIST', stale(i.query)), POST: async (i) => as('USER.ENSURE', await objectBody(i)) } },
  { pattern: /^users\/([^/]+)$/, methods: { DELETE: async (i) => as('USER.DELETE', { name: param(i, 0) }) } },
  {
    pattern: /^tokens$/,
    methods: { GET: async (i) => as('TOKEN.LIST', { ...optional(i.query, 'user'), ...stale(i.query) }), POST: async (i) => as('TOKEN.CREATE', await objectBody(i)) },
  },
  { pattern: /^tokens\/([^/]+)$/, methods: { DELETE: async (i) => as('TOKEN.REVOKE', { id: param(i, 0) }) } },
  { pattern: /^roles$/, methods: { GET: async (i) => as('ROLE.LIST', stale(i.query)), POST: async (i) => as('ROLE.ENSURE', await objectBody(i)) } },
  { pattern: /^roles\/([^/]+)$/, methods: { DELETE: async (i) => as('ROLE.DELETE', { name: param(i, 0) }) } },
]

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  })
  response.end(text)
}

async function readBody(request: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = []
  let bytes = 0
  for await (const chunk of request) {
    const buffer = chunk as Buffer
    bytes += buffer.length
    if (bytes > apiLimits.requestBytesMax) {
      throw new BodyError(failure('RG_ERR_VALUE_TOO_LARGE', `body: larger than ${apiLimits.requestBytesMax} bytes`, { limit: 'requestBytesMax', max: apiLimits.requestBytesMax }))
    }
    chunks.push(buffer)
  }
  return Buffer.concat(chunks)
}

/** Whether `pathname` (not yet percent-decoded) is a control API route served here (any method). */
export function isRestRoute(pathname: string): boolean {
  if (!pathname.startsWith(restPrefix)) return false
  let path: string
  try {
    path = pathname.slice(restPrefix.length).split('/').map((segment) => decodeURIComponent(segment)).join('/')
  } catch {
    return true // answered 400 by handleRest
  }
  return routes.some((route) => route.pattern.test(path))
}

/** Access control for REST: may this request run `verb` with `body`? (server/admin-auth.ts) */
export type RestAccess = (request: IncomingMessage, verb: ApiVerb, body: unknown) => boolean

/** Serves a /api/v1 route; false when the path is not one of ours. */
export async function handleRest(execute: ExecuteVerb, request: IncomingMessage, response: ServerResponse, url: URL, access?: RestAccess): Promise<boolean> {
  if (!url.pathname.startsWith(restPrefix)) return false
  let segments: string[]
  try {
    segments = url.pathname.slice(restPrefix.length).split('/').map((segment) => decodeURIComponent(segment))
  } catch {
    sendJson(response, 400, failure('RG_ERR_INVALID_ARGUMENT', 'path: bad percent-encoding'))
    return true
  }
  const path = segments.join('/')
  const route = routes.find((candidate) => candidate.pattern.test(path))
  if (route === undefined) {
    sendJson(response, 404, failure('RG_ERR_UNKNOWN_VERB', `no route ${request.method ?? ''} ${url.pathname}`))
    return true
  }
  const action = route.methods[(request.method ?? 'GET') as Method]
  if (action === undefined) {
    const allow = Object.keys(route.methods).join(', ')
    sendJson(response, 405, failure('RG_ERR_UNKNOWN_VERB', `method ${request.method ?? ''} not allowed on ${url.pathname} (allow: ${allow})`), { allow })
    return true
  }
  const params = (route.pattern.exec(path) ?? []).slice(1)
  let raw: Promise<Uint8Array> | undefined
  const rawBody = (): Promise<Uint8Array> => (raw ??= readBody(request))
  const input: RouteInput = {
    params,
    query: url.searchParams,
    rawBody,
    body: async () => {
      const bytes = await rawBody()
      if (bytes.length === 0) return undefined
      try {
        return JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown
      } catch (error) {
        throw new BodyError(failure('RG_ERR_MALFORMED_COMMAND', `body: not JSON (${(error as Error).message})`))
      }
    },
  }
  let reply: ApiReply
  try {
    const resolved = await action(input)
    if ('ok' in resolved) reply = resolved
    else if (access !== undefined && !access(request, resolved.verb, resolved.request)) {
      reply = failure('RG_ERR_PERMISSION', `permission denied: your roles do not permit ${resolved.verb} here`, { verb: resolved.verb })
    } else reply = await execute(resolved.verb, resolved.request)
  } catch (error) {
    if (!(error instanceof BodyError)) throw error
    reply = error.reply
  }
  sendJson(response, httpStatusOf(reply), reply)
  return true
}
