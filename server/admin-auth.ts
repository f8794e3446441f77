// Access control on the admin HTTP port (when `access.disabled` is false). Every request except
// `/healthz`, `/readyz` and GETs of the dashboard's page and files (they hold no data: every figure
// comes from `/api/v1/dashboard…`; the page asks for a token) must carry credentials: `Authorization: Bearer <rgt_ token>` or
// `Authorization: Basic base64(user:password)`. Without valid ones: 401 with `WWW-Authenticate`.
// With them, the permission needed:
//   - control API routes (`/api/v1/…` verbs, server/api/rest.ts): exactly what the same verb needs
//     over NATS (`$RG.API.<VERB>` with the same body: subject-access.ts) — checked by the REST
//     layer through `mayRunVerb`, since the verb and body are known only there;
//   - `GET|HEAD /metrics` and `/api/v1/server`: `read` on `*/*`;
//   - everything else (the dashboard's data, any other route or mutation): `admin` on `*/*`.
// Refusals answer 403 with RG_ERR_PERMISSION. Failed logins go through the same authenticator as
// client connections (rate-limited per source address, logged without secrets). Basic auth costs
// one scrypt per request: scripts and dashboards should use a token.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Authenticator, Credentials, Principal } from '../shared/security/authenticator.js'
import type { ClusterAuthorizer } from '../shared/security/authorizer.js'
import type { AccessPermission } from '../shared/security/subject-access.js'
import { apiPrefix, everyName } from '../shared/security/subject-access.js'
import type { Logger } from '../shared/log.js'
import { isRestRoute } from './api/rest.js'
import { isDashboardAssetPath } from './dashboard/index.js'

/** Paths served without credentials (probes). */
export const openAdminPaths: ReadonlySet<string> = new Set(['/healthz', '/readyz'])
/** Paths a `read` grant on every stream (all regions, `*` streams) may GET. */
export const readAdminPaths: ReadonlySet<string> = new Set(['/metrics', '/api/v1/server'])

export const adminAuthLimits = {
  /** An Authorization header longer than this is refused before decoding. */
  authorizationHeaderBytesMax: 4096,
} as const

export const adminAuthChallenge = 'Bearer realm="railgun", Basic realm="railgun", charset="UTF-8"'

export interface AdminAuthOptions {
  readonly authenticator: Authenticator
  readonly authorizer: ClusterAuthorizer
  readonly logger: Logger
}

export interface AdminAuth {
  /**
   * Runs before routing: answers 401 / 403 itself and resolves false, or resolves true (the
   * request may go on; its principal is remembered for `mayRunVerb`).
   */
  check(request: IncomingMessage, response: ServerResponse): Promise<boolean>
  /** Whether the request's principal may run the control API `verb` with `body` (REST routes). */
  mayRunVerb(request: IncomingMessage, verb: string, body: unknown): boolean
  principalOf(request: IncomingMessage): Principal | undefined
}

/** The credentials of an Authorization header; undefined when there is none or it is not Bearer/Basic. */
export function credentialsOfHeader(header: string | undefined): Credentials | undefined {
  if (header === undefined || header.length === 0 || header.length > adminAuthLimits.authorizationHeaderBytesMax) return undefined
  const space = header.indexOf(' ')
  if (space <= 0) return undefined
  const scheme = header.slice(0, space).toLowerCase()
  const value = header.slice(space + 1).trim()
  if (scheme === 'bearer') return value.length === 0 ? undefined : { token: value }
  if (scheme !== 'basic') return undefined
  const decoded = Buffer.from(value, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon <= 0) return undefined
  return { user: decoded.slice(0, colon), pass: decoded.slice(colon + 1) }
}

function sendError(response: ServerResponse, status: number, code: 'RG_ERR_AUTHORIZATION' | 'RG_ERR_PERMISSION', message: string, headers: Record<string, string> = {}): void {
  const text = JSON.stringify({ ok: false, error: { code, message } })
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  })
  response.end(text)
}

const textEncoder = new TextEncoder()

export function createAdminAuth(options: AdminAuthOptions): AdminAuth {
  const { authenticator, authorizer, logger } = options
  const principals = new WeakMap<IncomingMessage, Principal>()

  const needed = (method: string, path: string): AccessPermission => (readAdminPaths.has(path) && (method === 'GET' || method === 'HEAD') ? 'read' : 'admin')

  return {
    principalOf: (request) => principals.get(request),
    check: async (request, response) => {
      const path = (request.url ?? '/').split('?')[0] ?? '/'
      if (openAdminPaths.has(path)) return true
      if ((request.method === 'GET' || request.method === 'HEAD') && isDashboardAssetPath(path)) return true
      const credentials = credentialsOfHeader(request.headers.authorization)
      const source = request.socket.remoteAddress ?? 'unknown'
      const result = credentials === undefined ? undefined : await authenticator.authenticate(credentials, source)
      if (result === undefined || !result.ok) {
        if (credentials === undefined) logger.debug({ source, path }, 'admin HTTP request without credentials')
        sendError(response, 401, 'RG_ERR_AUTHORIZATION', 'authentication required: Authorization: Bearer <token> or Basic', { 'www-authenticate': adminAuthChallenge })
        return false
      }
      const principal = result.principal
      principals.set(request, principal)
      // Control API routes are judged per verb by the REST layer (mayRunVerb).
      if (isRestRoute(path)) return true
      const permission = needed(request.method ?? 'GET', path)
      if (authorizer.permits(principal, permission, `${everyName}/${everyName}`)) return true
      logger.info({ user: principal.user, path, permission }, 'admin HTTP request refused: permission denied')
      sendError(response, 403, 'RG_ERR_PERMISSION', `permission denied: ${permission} on */* is needed for ${path}`)
      return false
    },
    mayRunVerb: (request, verb, body) => {
      const principal = principals.get(request)
      if (principal === undefined) return false
      const payload = textEncoder.encode(JSON.stringify(body ?? {}))
      return authorizer.authorize(principal, 'publish', `${apiPrefix}${verb}`, payload)
    },
  }
}
