// Handlers for users, tokens and roles. Hashing happens outside the state machine: the log
// carries hashes only, and hashes never appear in events, results or conflict messages.
import type { ApplyMeta, CommandOf, Grant } from './commands.js'
import { objectEvent } from './events.js'
import { decideEnsure } from './ensure.js'
import { clusterLimits } from './limits.js'
import { checkGrantPart, checkName } from './names.js'
import { canonicalJson, diffsToJson, fail, ok } from './result.js'
import type { ClusterState, RoleRecord, TokenRecord, UserRecord } from './state.js'
import { compareStrings, mapDelete, mapSet, sortedKeys, sortedUnique } from './state.js'
import type { Step } from './step.js'
import { rejected } from './step.js'

export function applyEnsureUser(state: ClusterState, command: CommandOf<'ensureUser'>, meta: ApplyMeta): Step {
  const problem = checkName('user', 'name', command.name)
  if (problem !== undefined) return rejected(state, problem)
  if (command.passwordHash.length === 0) return rejected(state, fail('RG_ERR_INVALID_ARGUMENT', 'passwordHash: must not be empty', { field: 'passwordHash' }))
  const roles = sortedUnique(command.roles)
  if (roles.length > clusterLimits.rolesPerUserMax) return rejected(state, fail('RG_ERR_LIMIT_EXCEEDED', `roles: at most ${clusterLimits.rolesPerUserMax}`, { limit: 'rolesPerUserMax' }))
  for (const role of roles) {
    if (!state.roles.has(role)) return rejected(state, fail('RG_ERR_NOT_FOUND', `roles: role ${role} does not exist`, { role }))
  }
  const existing = state.users.get(command.name)
  const wanted = { passwordHash: command.passwordHash, roles }
  const decision = decideEnsure(`user ${command.name}`, existing === undefined ? undefined : { passwordHash: existing.passwordHash, roles: [...existing.roles] }, wanted, command.update, ['passwordHash'])
  if (decision.kind === 'conflict') return rejected(state, decision.error)
  if (decision.kind === 'unchanged') return { state, result: ok('unchanged', { name: command.name, roles }), events: [] }
  if (existing === undefined && state.users.size >= clusterLimits.usersMax) return rejected(state, fail('RG_ERR_LIMIT_EXCEEDED', `users: at most ${clusterLimits.usersMax}`, { limit: 'usersMax' }))
  const record: UserRecord = { name: command.name, ...wanted, createdIndex: existing?.createdIndex ?? meta.index, updatedIndex: meta.index }
  const action = existing === undefined ? 'created' : 'updated'
  return {
    state: { ...state, users: mapSet(state.users, command.name, record) },
    result: ok(action, { name: command.name, roles, ...(decision.kind === 'update' ? { diffs: diffsToJson(decision.diffs) } : {}) }),
    events: [objectEvent('user', action, { name: command.name }, meta, { roles })],
  }
}

/** Removing a user also removes its tokens. */
export function applyRemoveUser(state: ClusterState, command: CommandOf<'removeUser'>, meta: ApplyMeta): Step {
  if (!state.users.has(command.name)) return rejected(state, fail('RG_ERR_NOT_FOUND', `name: user ${command.name} does not exist`, { name: command.name }))
  let tokens = state.tokens
  const removedTokens: string[] = []
  for (const id of sortedKeys(state.tokens)) {
    if (state.tokens.get(id)?.user === command.name) {
      tokens = mapDelete(tokens, id)
      removedTokens.push(id)
    }
  }
  return {
    state: { ...state, users: mapDelete(state.users, command.name), tokens },
    result: ok('removed', { name: command.name, removedTokens }),
    events: [objectEvent('user', 'removed', { name: command.name }, meta), ...removedTokens.map((id) => objectEvent('token', 'removed', { id }, meta))],
  }
}

export function applyAddToken(state: ClusterState, command: CommandOf<'addToken'>, meta: ApplyMeta): Step {
  const problem = checkName('token', 'id', command.id) ?? checkName('user', 'user', command.user)
  if (problem !== undefined) return rejected(state, problem)
  if (!state.users.has(command.user)) return rejected(state, fail('RG_ERR_NOT_FOUND', `user: user ${command.user} does not exist`, { user: command.user }))
  const existing = state.tokens.get(command.id)
  if (existing !== undefined) {
    const same = existing.hash === command.hash && existing.user === command.user && existing.expiresAtMs === command.expiresAtMs && !existing.revoked
    if (same) return { state, result: ok('unchanged', { id: command.id, user: command.user, expiresAtMs: command.expiresAtMs }), events: [] }
    return rejected(state, fail('RG_ERR_CONFLICT', `id: token ${command.id} already exists${existing.revoked ? ' (revoked)' : ''}; tokens are immutable, add a new id`, { id: command.id }))
  }
  // At the limit, revoked and expired tokens (by the entry's time, not a local clock) make room.
  let tokens = state.tokens
  const dropped: string[] = []
  if (tokens.size >= clusterLimits.tokensMax) {
    for (const id of sortedKeys(tokens)) {
      const token = tokens.get(id) as TokenRecord
      if (token.revoked || (token.expiresAtMs !== 0 && token.expiresAtMs <= meta.timeMs)) dropped.push(id)
    }
    if (dropped.length === 0) return rejected(state, fail('RG_ERR_LIMIT_EXCEEDED', `tokens: at most ${clusterLimits.tokensMax} live tokens`, { limit: 'tokensMax' }))
    const droppedSet = new Set(dropped)
    tokens = new Map([...tokens].filter(([id]) => !droppedSet.has(id)))
  }
  const record: TokenRecord = { id: command.id, hash: command.hash, user: command.user, expiresAtMs: command.expiresAtMs, revoked: false, createdIndex: meta.index }
  return {
    state: { ...state, tokens: mapSet(tokens, command.id, record) },
    result: ok('created', { id: command.id, user: command.user, expiresAtMs: command.expiresAtMs }),
    events: [objectEvent('token', 'created', { id: command.id }, meta, { user: command.user, expiresAtMs: command.expiresAtMs }), ...dropped.map((id) => objectEvent('token', 'removed', { id }, meta))],
  }
}

export function applyRevokeToken(state: ClusterState, command: CommandOf<'revokeToken'>, meta: ApplyMeta): Step {
  const existing = state.tokens.get(command.id)
  if (existing === undefined) return rejected(state, fail('RG_ERR_NOT_FOUND', `id: token ${command.id} does not exist`, { id: command.id }))
  if (existing.revoked) return { state, result: ok('unchanged', { id: command.id, revoked: true }), events: [] }
  return {
    state: { ...state, tokens: mapSet(state.tokens, command.id, { ...existing, revoked: true }) },
    result: ok('updated', { id: command.id, revoked: true }),
    events: [objectEvent('token', 'updated', { id: command.id }, meta, { user: existing.user, revoked: true })],
  }
}

function checkGrant(grant: Grant, index: number): ReturnType<typeof fail> | undefined {
  const regionProblem = checkGrantPart(`grants[${index}].region`, grant.region)
  if (regionProblem !== undefined) return regionProblem
  if (grant.stream === '*') return undefined
  const parts = grant.stream.split('/')
  if (parts.length !== 2) return fail('RG_ERR_INVALID_NAME', `grants[${index}].stream: ${JSON.stringify(grant.stream)} must be "*" or "namespace/stream" (either part may use "*")`, { field: `grants[${index}].stream` })
  return checkGrantPart(`grants[${index}].stream`, parts[0] as string) ?? checkGrantPart(`grants[${index}].stream`, parts[1] as string)
}

/** Sorted by (permission, region, stream) and unique. */
function normalizeGrants(grants: readonly Grant[]): Grant[] {
  const unique = new Map<string, Grant>()
  for (const grant of grants) {
    const normalized = { permission: grant.permission, region: grant.region, stream: grant.stream }
    unique.set(canonicalJson(normalized), normalized)
  }
  return [...unique.values()].sort((a, b) => compareStrings(a.permission, b.permission) || compareStrings(a.region, b.region) || compareStrings(a.stream, b.stream))
}

export function applyEnsureRole(state: ClusterState, command: CommandOf<'ensureRole'>, meta: ApplyMeta): Step {
  const problem = checkName('role', 'name', command.name)
  if (problem !== undefined) return rejected(state, problem)
  if (command.grants.length > clusterLimits.grantsPerRoleMax) return rejected(state, fail('RG_ERR_LIMIT_EXCEEDED', `grants: at most ${clusterLimits.grantsPerRoleMax}`, { limit: 'grantsPerRoleMax' }))
  for (const [i, grant] of command.grants.entries()) {
    const grantProblem = checkGrant(grant, i)
    if (grantProblem !== undefined) return rejected(state, grantProblem)
  }
  const grants = normalizeGrants(command.grants)
  const existing = state.roles.get(command.name)
  const decision = decideEnsure(`role ${command.name}`, existing === undefined ? undefined : { grants: [...existing.grants] }, { grants }, command.update)
  if (decision.kind === 'conflict') return rejected(state, decision.error)
  if (decision.kind === 'unchanged') return { state, result: ok('unchanged', { name: command.name }), events: [] }
  if (existing === undefined && state.roles.size >= clusterLimits.rolesMax) return rejected(state, fail('RG_ERR_LIMIT_EXCEEDED', `roles: at most ${clusterLimits.rolesMax}`, { limit: 'rolesMax' }))
  const record: RoleRecord = { name: command.name, grants, createdIndex: existing?.createdIndex ?? meta.index, updatedIndex: meta.index }
  const action = existing === undefined ? 'created' : 'updated'
  return {
    state: { ...state, roles: mapSet(state.roles, command.name, record) },
    result: ok(action, { name: command.name, ...(decision.kind === 'update' ? { diffs: diffsToJson(decision.diffs) } : {}) }),
    events: [objectEvent('role', action, { name: command.name }, meta, { grants })],
  }
}

export function applyRemoveRole(state: ClusterState, command: CommandOf<'removeRole'>, meta: ApplyMeta): Step {
  if (!state.roles.has(command.name)) return rejected(state, fail('RG_ERR_NOT_FOUND', `name: role ${command.name} does not exist`, { name: command.name }))
  const users = sortedKeys(state.users).filter((user) => state.users.get(user)?.roles.includes(command.name) === true)
  if (users.length > 0) return rejected(state, fail('RG_ERR_IN_USE', `name: role ${command.name} is held by ${users.map((u) => `user ${u}`).join(', ')}`, { name: command.name, users }))
  return {
    state: { ...state, roles: mapDelete(state.roles, command.name) },
    result: ok('removed', { name: command.name }),
    events: [objectEvent('role', 'removed', { name: command.name }, meta)],
  }
}
