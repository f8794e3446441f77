// The admin HTTP endpoint (node:http; three routes do not need a framework):
//   GET /healthz        200 liveness, always while the process serves HTTP
//   GET /readyz         200 {"ready":true} once storage is open and checked, else 503 with a reason
//   GET /api/v1/server  name, version, uptime, connections, subscriptions, in/out msgs and bytes
// Anything else goes to the optional delegate (`AdminSource.api`, the control API's REST routes
// under /api/v1); what no one handles is 404 JSON (405 for a known route with another method).
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ServerStatsView {
  readonly name: string
  readonly serverId: string
  readonly version: string
  readonly uptimeMs: number
  readonly connections: number
  readonly subscriptions: number
  readonly inMsgs: number
  readonly outMsgs: number
  readonly inBytes: number
  readonly outBytes: number
  readonly slowConsumers: number
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
}

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
  const known = path === '/healthz' || path === '/readyz' || path === '/api/v1/server'
  if (!known) {
    const url = new URL(request.url ?? '/', 'http://admin.invalid')
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
  } else {
    sendJson(response, 200, source.stats())
  }
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
