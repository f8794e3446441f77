// The `Authenticator` over the replicated cluster state: users with scrypt password hashes,
// tokens stored as SHA-256 hashes with expiry and revocation (`control-plane/cluster`,
// `tokenStatus`). The state is read through a function at every login, so a revoked token or
// a removed user is refused from the moment this node applies the change. Failed logins are
// rate-limited per source and logged with the user name or token id, never a secret.
//
// Imports control-plane/cluster (the one place shared/security does, see README.md).
import type { ClusterState } from '../../control-plane/cluster/index.js'
import { tokenStatus } from '../../control-plane/cluster/index.js'
import type { Logger } from '../log.js'
import type { AuthenticationFailure, AuthenticationResult, Authenticator, Credentials, Principal } from './authenticator.js'
import { defaultPrincipalNamespace } from './authenticator.js'
import type { LoginRateLimits } from './login-rate-limit.js'
import { LoginRateLimiter, defaultLoginRateLimits } from './login-rate-limit.js'
import { hashPassword, verifyPassword } from './passwords.js'
import { parseToken, tokenMatches } from './tokens.js'

export interface ClusterAuthenticatorOptions {
  /** The node's current view of the cluster state (replaced on every applied entry). */
  readonly state: () => ClusterState
  readonly logger: Logger
  /** Wall-clock milliseconds (token expiry is wall-clock time, like the entry times). Default Date.now. */
  readonly nowMs?: () => number
  readonly rateLimits?: LoginRateLimits
}

export interface ClusterAuthenticator extends Authenticator {
  readonly rateLimiter: LoginRateLimiter
}

/**
 * A hash no password matches, verified when the user does not exist so that "no such user"
 * takes as long as "wrong password" (no user-name probing by timing).
 */
let decoyHash: Promise<string> | undefined
function decoy(): Promise<string> {
  decoyHash ??= hashPassword('decoy password that is never stored')
  return decoyHash
}

export function createClusterAuthenticator(options: ClusterAuthenticatorOptions): ClusterAuthenticator {
  const nowMs = options.nowMs ?? Date.now
  const limiter = new LoginRateLimiter(options.rateLimits ?? defaultLoginRateLimits)
  const logger = options.logger

  const refuse = (source: string, reason: AuthenticationFailure, who: Record<string, string>): AuthenticationResult => {
    if (reason !== 'rateLimited') limiter.failed(source, nowMs())
    logger.warn({ source, reason, ...who }, 'client login refused')
    return { ok: false, reason }
  }

  const byToken = (token: string, source: string): AuthenticationResult => {
    const parsed = parseToken(token)
    // A malformed token is logged without any of its text: it may be a secret pasted wrongly.
    if (parsed === undefined) return refuse(source, 'badCredentials', { credential: 'token (malformed)' })
    const state = options.state()
    const status = tokenStatus(state, parsed.id, nowMs())
    const record = state.tokens.get(parsed.id)
    if (status === 'unknown' || record === undefined) return refuse(source, 'badCredentials', { tokenId: parsed.id })
    // The hash is checked before expiry and revocation are reported, so those reasons only
    // reach someone who holds the secret.
    if (!tokenMatches(token, record.hash)) return refuse(source, 'badCredentials', { tokenId: parsed.id })
    if (status !== 'valid') return refuse(source, status, { tokenId: parsed.id, user: record.user })
    const principal: Principal = { user: record.user, namespace: defaultPrincipalNamespace, via: { kind: 'token', tokenId: parsed.id } }
    return { ok: true, principal }
  }

  const byPassword = async (user: string, pass: string, source: string): Promise<AuthenticationResult> => {
    const record = options.state().users.get(user)
    if (record === undefined) {
      await verifyPassword(pass, await decoy())
      return refuse(source, 'badCredentials', { user })
    }
    const matches = await verifyPassword(pass, record.passwordHash)
    // The state may have changed while scrypt ran: judge against the current record.
    const current = options.state().users.get(user)
    if (!matches || current === undefined || current.passwordHash !== record.passwordHash) return refuse(source, 'badCredentials', { user })
    return { ok: true, principal: { user, namespace: defaultPrincipalNamespace, via: { kind: 'password' } } }
  }

  return {
    rateLimiter: limiter,
    authenticate: async (credentials: Credentials, source: string): Promise<AuthenticationResult> => {
      if (!limiter.allowed(source, nowMs())) return refuse(source, 'rateLimited', credentials.user === undefined ? {} : { user: credentials.user })
      if (credentials.token !== undefined) return byToken(credentials.token, source)
      if (credentials.user !== undefined && credentials.pass !== undefined) return byPassword(credentials.user, credentials.pass, source)
      return refuse(source, 'missing', credentials.user === undefined ? {} : { user: credentials.user })
    },
  }
}
