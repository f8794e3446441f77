// Read-side RBAC helpers over the cluster state (pure queries, not commands). Hash checks
// (password, token) happen outside; these answer "is this token usable now" and "may this
// user do X on region R, stream ns/name".
// Grant rules: a grant matches when its region pattern matches the region and its stream
// pattern matches `namespace/name` (`*` alone = every stream; in a part, `*` matches any run of
// characters). `admin` implies `write` and `read`; `write` does not imply `read`.
import type { Permission } from './commands.js'
import type { ClusterState } from './state.js'

export const tokenStatuses = ['valid', 'expired', 'revoked', 'unknown'] as const
export type TokenStatus = (typeof tokenStatuses)[number]

/** `nowMs` comes from the caller's clock: the state machine itself never reads one. */
export function tokenStatus(state: ClusterState, id: string, nowMs: number): TokenStatus {
  const token = state.tokens.get(id)
  if (token === undefined || !state.users.has(token.user)) return 'unknown'
  if (token.revoked) return 'revoked'
  if (token.expiresAtMs !== 0 && nowMs >= token.expiresAtMs) return 'expired'
  return 'valid'
}

/** Glob with `*` = any run of characters (possibly empty); everything else literal. */
export function globMatch(pattern: string, value: string): boolean {
  const parts = pattern.split('*')
  if (parts.length === 1) return pattern === value
  const first = parts[0] as string
  const last = parts[parts.length - 1] as string
  if (!value.startsWith(first) || value.length < first.length + last.length || !value.endsWith(last)) return false
  let position = first.length
  const end = value.length - last.length
  for (const middle of parts.slice(1, -1)) {
    const found = value.indexOf(middle, position)
    if (found < 0 || found + middle.length > end) return false
    position = found + middle.length
  }
  return true
}

function streamMatches(pattern: string, stream: string): boolean {
  if (pattern === '*') return true
  const [patternNamespace, patternName] = pattern.split('/')
  const [namespace, name] = stream.split('/')
  if (patternNamespace === undefined || patternName === undefined || namespace === undefined || name === undefined) return false
  return globMatch(patternNamespace, namespace) && globMatch(patternName, name)
}

function implies(granted: Permission, wanted: Permission): boolean {
  return granted === wanted || granted === 'admin'
}

/** Whether `user` holds `permission` on `stream` (`namespace/name`) in `region`. */
export function permits(state: ClusterState, user: string, permission: Permission, region: string, stream: string): boolean {
  const record = state.users.get(user)
  if (record === undefined) return false
  for (const roleName of record.roles) {
    for (const grant of state.roles.get(roleName)?.grants ?? []) {
      if (implies(grant.permission, permission) && globMatch(grant.region, region) && streamMatches(grant.stream, stream)) return true
    }
  }
  return false
}
