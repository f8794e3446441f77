// Verbs on identities: users, tokens, roles (docs/security.md). Secrets are handled here, on the
// serving node, and nowhere else:
//   - USER.ENSURE hashes the password (scrypt) before proposing; the log, the state, events and
//     answers only ever hold the hash or nothing. A password equal to the stored one (verified)
//     keeps the stored hash, so the same ensure twice is `unchanged`; another password is a
//     conflict without `update: true` (reported as `<redacted>`).
//   - TOKEN.CREATE generates the token (`rgt_<id>_<secret>`), proposes only its SHA-256 hash, and
//     answers the token once. Expiry is wall-clock time: `now + expiresInMs` (0 = never).
// Every verb here needs `admin` on `*/*` (shared/security/subject-access.ts).
import { tokenStatus } from '../../control-plane/cluster/index.js'
import type { ClusterState, Command, RoleRecord, TokenRecord, UserRecord } from '../../control-plane/cluster/index.js'
import { createToken, hashPassword, verifyPassword } from '../../shared/security/index.js'
import type { ApiVerb } from '../../shared/api/index.js'
import type { VerbHandlers } from './handler-context.js'
import { mutate, readState } from './handler-context.js'
import { failure } from './replies.js'
import { sortedValues } from './views.js'

type AccessVerbs = Pick<VerbHandlers, Extract<ApiVerb, `${'USER' | 'TOKEN' | 'ROLE'}.${string}`>>

/** Wall-clock time of the serving node (token expiry is wall-clock, as the authenticator judges it). */
const nowMs = (): number => Date.now()

function liveTokens(state: ClusterState, user: string, now: number): number {
  let live = 0
  for (const token of state.tokens.values()) if (token.user === user && tokenStatus(state, token.id, now) === 'valid') live += 1
  return live
}

export function userView(state: ClusterState, record: UserRecord, now: number): Record<string, unknown> {
  return { name: record.name, roles: [...record.roles], liveTokens: liveTokens(state, record.name, now), createdIndex: record.createdIndex, updatedIndex: record.updatedIndex }
}

export function tokenView(state: ClusterState, record: TokenRecord, now: number): Record<string, unknown> {
  return {
    id: record.id,
    user: record.user,
    expiresAtMs: record.expiresAtMs,
    revoked: record.revoked,
    expired: tokenStatus(state, record.id, now) === 'expired',
    createdIndex: record.createdIndex,
  }
}

export function roleView(record: RoleRecord): Record<string, unknown> {
  return { name: record.name, grants: record.grants.map((grant) => ({ ...grant })), createdIndex: record.createdIndex, updatedIndex: record.updatedIndex }
}

export const accessHandlers: AccessVerbs = {
  'USER.ENSURE': async (context, request) => {
    const stored = context.controlPlane.state.users.get(request.name)
    let passwordHash: string
    if (request.password === undefined) {
      if (stored === undefined) return failure('RG_ERR_INVALID_ARGUMENT', `password: required to create user ${request.name}`, { field: 'password' })
      passwordHash = stored.passwordHash
    } else if (stored !== undefined && (await verifyPassword(request.password, stored.passwordHash))) {
      passwordHash = stored.passwordHash
    } else {
      try {
        passwordHash = await hashPassword(request.password)
      } catch (error) {
        // Length checks (RangeError): the message names the rule, never the password.
        return failure('RG_ERR_INVALID_ARGUMENT', `password: ${(error as Error).message}`, { field: 'password' })
      }
    }
    const roles = [...(request.roles ?? stored?.roles ?? [])]
    const command: Command = { type: 'ensureUser', name: request.name, passwordHash, roles, ...(request.update === undefined ? {} : { update: request.update }) }
    return mutate(context, command, { name: request.name, roles })
  },
  'USER.LIST': (context, request) =>
    readState(context, request.stale, (state) => {
      const now = nowMs()
      return { ok: true, users: sortedValues(state.users).map(([, record]) => userView(state, record, now)) }
    }),
  'USER.DELETE': (context, request) => mutate(context, { type: 'removeUser', name: request.name }),

  'TOKEN.CREATE': async (context, request) => {
    let created: ReturnType<typeof createToken>
    try {
      created = createToken(request.id)
    } catch (error) {
      return failure('RG_ERR_INVALID_NAME', `id: ${(error as Error).message}`, { field: 'id' })
    }
    const expiresInMs = request.expiresInMs ?? 0
    const expiresAtMs = expiresInMs === 0 ? 0 : nowMs() + expiresInMs
    const reply = await mutate(context, { type: 'addToken', id: created.id, hash: created.hash, user: request.user, expiresAtMs })
    if (!reply.ok) return reply
    // The one answer that carries a secret: the token, shown once to whoever asked for it.
    return { ...reply, id: created.id, user: request.user, expiresAtMs, token: created.token }
  },
  'TOKEN.LIST': (context, request) =>
    readState(context, request.stale, (state) => {
      const now = nowMs()
      const tokens = sortedValues(state.tokens)
        .map(([, record]) => record)
        .filter((record) => request.user === undefined || record.user === request.user)
        .map((record) => tokenView(state, record, now))
      return { ok: true, tokens }
    }),
  'TOKEN.REVOKE': (context, request) => mutate(context, { type: 'revokeToken', id: request.id }),

  'ROLE.ENSURE': async (context, request) => {
    const stored = context.controlPlane.state.roles.get(request.name)
    const grants = (request.grants ?? stored?.grants ?? []).map((grant) => ({ permission: grant.permission, region: grant.region, stream: grant.stream }))
    const command: Command = { type: 'ensureRole', name: request.name, grants, ...(request.update === undefined ? {} : { update: request.update }) }
    return mutate(context, command, { name: request.name, grants })
  },
  'ROLE.LIST': (context, request) => readState(context, request.stale, (state) => ({ ok: true, roles: sortedValues(state.roles).map(([, record]) => roleView(record)) })),
  'ROLE.DELETE': (context, request) => mutate(context, { type: 'removeRole', name: request.name }),
}
