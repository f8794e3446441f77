// The admin HTTP endpoint (node:http; a handful of routes do not need a framework):
//   GET /healthz              200 liveness, always while the process serves HTTP
//   GET /readyz               200 {"ready":true} once storage is open and checked, else 503 with a reason
//   GET /api/v1/server        name, version, uptime, connections, subscriptions, in/out msgs and bytes
//   GET /metrics              Prometheus text (`AdminSource.metrics`, server/metrics)
//   GET|PUT /api/v1/log-level the log level; PUT {"level":"debug"} answers {previous, level}
// Then the dashboard's routes (`AdminSource.dashboard`: /, /dashboard/…, /api/v1/dashboard…),
// then the optional delegate (`AdminSource.api`, the control API's REST routes under /api/v1);
// what no one handles is 404 JSON (405 for a known route with another method).
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { isLogLevel, logLevels, setLogLevel } from '../shared/log.js'
import type { Logger } from '../shared/log.js'
import type { ClientTraffic } from './router.js'

export interface ServerStatsView extends ClientTraffic {
  readonly name: string
  readonly serverId: string
  readonly version: string
  readonly uptimeMs: number
  readonly openResponseStreams: number
}

/** Handles a request if it knows the route (then resolves true, having answered); else false. */
export type AdminDelegate = (request: IncomingMessage, response: ServerResponse, url: URL) => Promise<boolean>

export interface AdminSource {
  readiness(): { readonly ready: boolean; readonly reason?: string }
  stats(): ServerStatsView
  /** Consulted for every path this file does not serve, before answering 404. */
  readonly api?: AdminDelegate
  /** Access control (server/admin-auth.ts): answers 401/403 itself and resolves false; absent = open. */
  readonly auth?: (request: IncomingMessage, response: ServerResponse) => Promise<boolean>
  /** `GET /metrics`: the Prometheus exposition (absent: 404). */
  readonly metrics?: () => Promise<{ readonly contentType: string; readonly body: string }>
  /** The node's logger, whose level `GET|PUT /api/v1/log-level` reads and changes (absent: 404). */
  readonly logger?: Logger
  /** The dashboard's routes, consulted before `api`. */
  readonly dashboard?: AdminDelegate
}

/** Named limit: a log-level request body larger than this is refused. */
export const logLevelBodyBytesMax = 1024
export const logLevelPath = '/api/v1/log-level'


export interface AdminServer {
  readonly port: number
  close(): Promise<void>
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  })
  response.end(text)
}

async function route(source: AdminSource, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (source.auth !== undefined && !(await source.auth(request, response))) return
  const path = (request.url ?? '/').split('?')[0]
  if (path === logLevelPath && source.logger !== undefined) {
    await logLevelRoute(source.logger, request, response)
    return
  }
  const known = path === '/healthz' || path === '/readyz' || path === '/api/v1/server' || (path === '/metrics' && source.metrics !== undefined)
  if (!known) {
    const url = new URL(request.url ?? '/', 'http://admin.invalid')
    if (source.dashboard !== undefined && (await source.dashboard(request, response, url))) return
    if (source.api !== undefined && (await source.api(request, response, url))) return
    sendJson(response, 404, { error: 'not found', path })
    return
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD')
    sendJson(response, 405, { error: 'method not allowed', method: request.method })
    return
  }
  if (path === '/healthz') {
    sendJson(response, 200, { status: 'ok' })
  } else if (path === '/readyz') {
    const readiness = source.readiness()
    sendJson(response, readiness.ready ? 200 : 503, readiness.ready ? { ready: true } : { ready: false, reason: readiness.reason ?? 'not ready' })
  } else if (path === '/metrics' && source.metrics !== undefined) {
    const exposition = await source.metrics()
    response.writeHead(200, { 'content-type': exposition.contentType, 'content-length': Buffer.byteLength(exposition.body), 'cache-control': 'no-store' })
    response.end(request.method === 'HEAD' ? undefined : exposition.body)
  } else {
    sendJson(response, 200, source.stats())
  }
}

async function readBody(request: IncomingMessage, bytesMax: number): Promise<string | undefined> {
  const chunks: Buffer[] = []
  let length = 0
  for await (const chunk of request) {
    length += (chunk as Buffer).length
    if (length > bytesMax) return undefined
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** GET → {level}; PUT {"level": L} → {previous, level} (logged at the old and the new level's reach). */
async function logLevelRoute(logger: Logger, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method === 'GET' || request.method === 'HEAD') {
    sendJson(response, 200, { ok: true, level: logger.level })
    return
  }
  if (request.method !== 'PUT') {
    response.setHeader('allow', 'GET, HEAD, PUT')
    sendJson(response, 405, { error: 'method not allowed', method: request.method })
    return
  }
  const text = await readBody(request, logLevelBodyBytesMax)
  if (text === undefined) {
    sendJson(response, 413, { ok: false, error: { code: 'RG_ERR_VALUE_TOO_LARGE', message: `body: larger than ${logLevelBodyBytesMax} bytes` } })
    return
  }
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch (error) {
    sendJson(response, 400, { ok: false, error: { code: 'RG_ERR_MALFORMED_COMMAND', message: `body: not JSON (${(error as Error).message})` } })
    return
  }
  const level = typeof body === 'object' && body !== null ? (body as { level?: unknown }).level : undefined
  if (!isLogLevel(level)) {
    sendJson(response, 400, { ok: false, error: { code: 'RG_ERR_INVALID_ARGUMENT', message: `level: expected one of ${logLevels.join(', ')}` } })
    return
  }
  const changed = setLogLevel(logger, level)
  // Logged at warn so the change shows at any level but error/fatal/silent.
  logger.warn({ previousLevel: changed.previous, newLevel: changed.level }, 'log level changed through the admin API')
  sendJson(response, 200, { ok: true, previous: changed.previous, level: changed.level })
}

export async function startAdminServer(source: AdminSource, host: string, port: number): Promise<AdminServer> {
  const server: Server = createServer((request, response) => {
    route(source, request, response).catch((error: unknown) => {
      if (!response.headersSent) sendJson(response, 500, { error: 'internal error', detail: (error as Error).message })
      else response.destroy()
    })
  })
  server.keepAliveTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const bound = server.address() as AddressInfo
  return {
    port: bound.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
