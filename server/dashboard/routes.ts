// The dashboard's HTTP routes on the admin port (admin-http.ts hands them every path it does not
// serve itself, before the control API):
//   GET /                         the page (static/index.html)
//   GET /dashboard/…              its script, styles and the vendored preact, htm and uPlot builds
//   GET /api/v1/dashboard         one JSON snapshot (snapshot.ts)
//   GET /api/v1/dashboard/stream  newline-delimited JSON: a snapshot now and every `intervalMs`
//                                 (query, default 1000), until the client goes away or
//                                 `dashboardStreamMaxMs` passes (the page then reconnects)
// The page sends `Authorization: Bearer` itself on every request (fetch streaming, not
// EventSource, which cannot set headers); the access check is admin-http's, not ours.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { dashboardAsset, dashboardAssetPrefix } from './assets.js'

export const dashboardSnapshotPath = '/api/v1/dashboard'
export const dashboardStreamPath = '/api/v1/dashboard/stream'
export const dashboardStreamIntervalMsDefault = 1_000
export const dashboardStreamIntervalMsMin = 250
export const dashboardStreamIntervalMsMax = 60_000
/** A stream ends after this long (the page reconnects): no response lives forever. */
export const dashboardStreamMaxMs = 15 * 60_000
/** Named limit: dashboard streams open at once on one node; beyond it, 503. */
export const dashboardStreamsMax = 32

/** Scripts only from this origin (no inline script); inline styles allowed (uPlot sizes its elements). */
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"

export interface DashboardRoutesOptions {
  /** A fresh snapshot (JSON-serializable). */
  readonly snapshot: () => unknown
}

export interface DashboardRoutes {
  /** Serves the request if the path is the dashboard's (then resolves true), else false. */
  handleHttp(request: IncomingMessage, response: ServerResponse, url: URL): Promise<boolean>
  /** Streams open now. */
  readonly openStreams: number
  /** Ends every open stream. */
  close(): void
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' })
  response.end(text)
}

function isDashboardPath(path: string): boolean {
  return path === '/' || path.startsWith(dashboardAssetPrefix) || path === dashboardSnapshotPath || path === dashboardStreamPath
}

export function createDashboardRoutes(options: DashboardRoutesOptions): DashboardRoutes {
  const streams = new Set<() => void>()

  const serveAsset = (request: IncomingMessage, response: ServerResponse, path: string): boolean => {
    const asset = dashboardAsset(path)
    if (asset === undefined) return false
    response.writeHead(200, {
      'content-type': asset.contentType,
      'content-length': asset.body.length,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      ...(path === '/' ? { 'content-security-policy': contentSecurityPolicy, 'referrer-policy': 'no-referrer' } : {}),
    })
    response.end(request.method === 'HEAD' ? undefined : asset.body)
    return true
  }

  const serveStream = (request: IncomingMessage, response: ServerResponse, url: URL): void => {
    const requested = Number(url.searchParams.get('intervalMs') ?? dashboardStreamIntervalMsDefault)
    const intervalMs = Number.isFinite(requested)
      ? Math.min(dashboardStreamIntervalMsMax, Math.max(dashboardStreamIntervalMsMin, Math.round(requested)))
      : dashboardStreamIntervalMsDefault
    if (streams.size >= dashboardStreamsMax) {
      response.setHeader('retry-after', '5')
      sendJson(response, 503, { error: 'too many dashboard streams open on this node', limit: dashboardStreamsMax })
      return
    }
    response.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' })
    response.flushHeaders()
    const write = (): void => {
      // A reader that does not keep up skips snapshots instead of queueing them.
      if (response.writableNeedDrain) return
      response.write(`${JSON.stringify(options.snapshot())}\n`)
    }
    const timer = setInterval(write, intervalMs)
    const deadline = setTimeout(() => end(), dashboardStreamMaxMs)
    timer.unref()
    deadline.unref()
    const end = (): void => {
      if (!streams.delete(end)) return
      clearInterval(timer)
      clearTimeout(deadline)
      if (!response.writableEnded) response.end()
    }
    streams.add(end)
    request.on('close', end)
    response.on('close', end)
    write()
  }

  return {
    handleHttp: async (request, response, url) => {
      const path = url.pathname
      if (!isDashboardPath(path)) return false
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.setHeader('allow', 'GET, HEAD')
        sendJson(response, 405, { error: 'method not allowed', method: request.method })
        return true
      }
      if (path === dashboardSnapshotPath) {
        sendJson(response, 200, options.snapshot())
        return true
      }
      if (path === dashboardStreamPath) {
        serveStream(request, response, url)
        return true
      }
      // An unknown /dashboard/… file falls through to the 404 JSON of admin-http.
      return serveAsset(request, response, path)
    },
    get openStreams() {
      return streams.size
    },
    close: () => {
      for (const end of [...streams]) end()
    },
  }
}
