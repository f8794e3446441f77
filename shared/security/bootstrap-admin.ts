// Bootstrap of the first admin (docs/security.md § Bootstrap). With access control on and no
// user in the cluster, nobody could log in to create one. So a node that was given the first
// admin's password (`RAILGUN_ADMIN_PASSWORD`, or the file `access.adminPasswordFile`) proposes,
// once it is part of the cluster:
//   ensureRole {admin: [{permission: admin, region: *, stream: *}]}
//   ensureUser {<access.adminUser>, scrypt hash of the password, roles: [admin]}
// Any node with the password may do it (Raft forwards a follower's proposal to the leader); both
// are declarative ensures, so several nodes or restarts agree. A user that already exists is
// never touched: the password never resets one (`RG_ERR_CONFLICT` on a race means another node
// won, which is fine). The password is hashed here, on the proposing node, and never logged.
//
// A lone node (the only one in the cluster state) with access on, no user and no password can
// never get one: it refuses to start (`RG_ERR_CONFIG`). In a larger cluster another node may hold
// the password, so this node logs how to provide it and keeps retrying in the background.
//
// Imports control-plane/cluster types only (see README.md § Imports).
import { readFileSync } from 'node:fs'
import type { ApplyResult, ClusterState, Command } from '../../control-plane/cluster/index.js'
import { ConfigError } from '../errors.js'
import type { Logger } from '../log.js'
import { hashPassword } from './passwords.js'
import type { ScryptParameters } from './passwords.js'

/** The role the bootstrap creates: admin on every stream in every region. */
export const bootstrapAdminRole = 'admin'

export const bootstrapLimits = {
  /** Between attempts when the control plane could not take the proposals (no leader yet). */
  retryMs: 2_000,
  /** A password file larger than this is refused (it is one line). */
  passwordFileBytesMax: 4096,
} as const

/** What the bootstrap needs from the control plane (ClusterNode has it). */
export interface BootstrapControlPlane {
  readonly state: ClusterState
  ensure(command: Command): Promise<ApplyResult>
}

export interface BootstrapOptions {
  readonly controlPlane: BootstrapControlPlane
  readonly logger: Logger
  readonly user: string
  /** Undefined = this node has no password to give. */
  readonly password: string | undefined
  /** Tests use cheap parameters. */
  readonly scrypt?: ScryptParameters
}

export type BootstrapOutcome = 'exists' | 'created' | 'waiting'

/**
 * The password from `RAILGUN_ADMIN_PASSWORD` (given by the caller) or else the file; undefined
 * when neither is set. An unreadable or empty file is `RG_ERR_CONFIG` naming the field (never the content).
 */
export function adminPasswordOf(environmentPassword: string | undefined, passwordFile: string): string | undefined {
  if (environmentPassword !== undefined && environmentPassword.length > 0) return environmentPassword
  if (passwordFile === '') return undefined
  let text: string
  try {
    const bytes = readFileSync(passwordFile)
    if (bytes.length > bootstrapLimits.passwordFileBytesMax) throw new Error(`larger than ${bootstrapLimits.passwordFileBytesMax} bytes`)
    text = bytes.toString('utf8')
  } catch (error) {
    throw new ConfigError('access', 'access.adminPasswordFile', `cannot read ${passwordFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error })
  }
  const password = text.replace(/\r?\n$/, '')
  if (password.length === 0) throw new ConfigError('access', 'access.adminPasswordFile', `${passwordFile} is empty`)
  return password
}

export const bootstrapMessages = {
  noPassword:
    'access control is on but the cluster has no user and this node was given no admin password: set RAILGUN_ADMIN_PASSWORD (or access.adminPasswordFile) on one node to create the first admin (docs/security.md § Bootstrap)',
} as const

/** Attempts the bootstrap once. Throws `ConfigError` when a lone node can never get a user. */
export async function bootstrapAdminOnce(options: BootstrapOptions, announce = true): Promise<BootstrapOutcome> {
  const { controlPlane, logger } = options
  const state = controlPlane.state
  if (state.users.size > 0) return 'exists'
  if (options.password === undefined) {
    const members = [...state.nodes.values()].filter((node) => node.state !== 'removed').length
    if (members <= 1) throw new ConfigError('access', 'access.adminPasswordFile', bootstrapMessages.noPassword)
    if (announce) logger.warn({ security: true }, bootstrapMessages.noPassword)
    return 'waiting'
  }
  const role = await controlPlane.ensure({ type: 'ensureRole', name: bootstrapAdminRole, grants: [{ permission: 'admin', region: '*', stream: '*' }] })
  if (!role.ok && role.code !== 'RG_ERR_CONFLICT') throw new Error(`ensureRole ${bootstrapAdminRole}: ${role.message}`)
  if (!role.ok) logger.warn({ role: bootstrapAdminRole }, `bootstrap: role ${bootstrapAdminRole} exists with other grants; the first admin gets it as it is`)
  if (controlPlane.state.users.size > 0) return 'exists'
  const passwordHash = await hashPassword(options.password, options.scrypt)
  const user = await controlPlane.ensure({ type: 'ensureUser', name: options.user, passwordHash, roles: [bootstrapAdminRole] })
  if (!user.ok) {
    // Another node created the user first (its hash differs): nothing to do.
    if (user.code === 'RG_ERR_CONFLICT') return 'exists'
    throw new Error(`ensureUser ${options.user}: ${user.message}`)
  }
  logger.info({ user: options.user, role: bootstrapAdminRole }, 'bootstrap: the first admin user was created (change its password or use tokens)')
  return user.outcome === 'created' ? 'created' : 'exists'
}

export interface AdminBootstrap {
  /** The first attempt's outcome; rejects only with the lone-node `ConfigError`. */
  readonly first: Promise<BootstrapOutcome>
  stop(): void
}

/**
 * Runs the bootstrap: one attempt now, then (if it could not finish: no leader yet, or waiting
 * for another node) again every `retryMs` until a user exists or `stop()`.
 */
export function startAdminBootstrap(options: BootstrapOptions): AdminBootstrap {
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let attempts = 0
  const attempt = async (): Promise<BootstrapOutcome> => {
    attempts += 1
    try {
      return await bootstrapAdminOnce(options, attempts === 1)
    } catch (error) {
      if (error instanceof ConfigError) throw error
      options.logger.warn({ err: (error as Error).message }, 'bootstrap of the first admin failed; retrying')
      return 'waiting'
    }
  }
  const again = (): void => {
    if (stopped) return
    timer = setTimeout(() => {
      void attempt().then(
        (outcome) => {
          if (outcome === 'waiting') again()
        },
        () => again(),
      )
    }, bootstrapLimits.retryMs)
    timer.unref()
  }
  const first = attempt().then((outcome) => {
    if (outcome === 'waiting') again()
    return outcome
  })
  return {
    first,
    stop: () => {
      stopped = true
      if (timer !== undefined) clearTimeout(timer)
    },
  }
}
