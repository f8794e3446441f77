// The security sections of the node configuration, in the form of `shared/config/schema.ts`
// (flat sections: every field settable from YAML, environment and flags): `tls` (clients),
// `peerTls` (node to node, mutual) and `access` (authentication and permissions), merged into
// the node configuration by shared/config/schema.ts. Defaults keep a fresh node as it was: no TLS, access control off (which
// logs a warning at start; docs/security.md says how to turn it on).
import { z } from 'zod'
import { boolean, positiveInteger } from '../config/fields.js'
import type { LoginRateLimits } from './login-rate-limit.js'
import { defaultLoginRateLimits } from './login-rate-limit.js'
import { loadTlsMaterial } from './tls-material.js'
import type { TlsMaterial } from './tls-material.js'
import { tlsTerminatorDefaults } from './tls-terminator.js'

function path() {
  return z.string({ error: 'expected a file path (or empty)' })
}

export const securitySectionShapes = {
  /** Client TLS. Off while `certFile` is empty. */
  tls: {
    certFile: path(),
    keyFile: path(),
    /** CA bundle that client certificates must chain to (needed by `verifyClients`). */
    caFile: path(),
    /** Refuse clear-text clients; false = offer TLS (`tls_available`) and serve clear text too. */
    required: boolean(),
    /** TLS handshake before INFO (nats.js `tls: { handshakeFirst: true }`); clear-text clients are not served. */
    handshakeFirst: boolean(),
    /** Require client certificates chained to `caFile`. */
    verifyClients: boolean(),
    handshakeTimeoutMs: positiveInteger(),
  },
  /** Mutual TLS between nodes. Off while `certFile` is empty (plain TCP, with a warning at start). */
  peerTls: {
    certFile: path(),
    keyFile: path(),
    /** The cluster CA: both ends must present a certificate chained to it. */
    caFile: path(),
  },
  access: {
    /** true = no authentication and no permission checks (logs a warning at start). */
    disabled: boolean(),
    /** Failed logins one source address may make in a row. */
    loginBurst: positiveInteger(),
    /** Failed-login allowance a source regains per minute. */
    loginRefillPerMinute: positiveInteger(),
    /** Source addresses tracked by the failed-login limiter. */
    loginSourcesMax: positiveInteger(),
    /** The first admin's user name (bootstrap, docs/security.md); env `RAILGUN_ADMIN_USER`. */
    adminUser: z.string({ error: 'expected a user name' }).regex(/^[A-Za-z0-9_.@-]{1,64}$/, { error: 'expected a user name ([A-Za-z0-9_.@-], 1-64 characters)' }),
    /** A file holding the first admin's password (bootstrap); `RAILGUN_ADMIN_PASSWORD` is the other way. '' = none. */
    adminPasswordFile: path(),
  },
} as const

/** A zod refinement context, as much of it as the rules below use. */
interface IssueSink {
  addIssue(issue: { code: 'custom'; path: (string | number)[]; message: string }): void
}

/** The cross-field rules of the security sections (the node config's schema runs them too). */
export function checkSecurityConfig(
  config: {
    readonly tls: { readonly certFile: string; readonly keyFile: string; readonly caFile: string; readonly verifyClients: boolean }
    readonly peerTls: { readonly certFile: string; readonly keyFile: string; readonly caFile: string }
  },
  context: IssueSink,
): void {
  const requireBoth = (section: 'tls' | 'peerTls', certFile: string, keyFile: string): void => {
    if ((certFile === '') !== (keyFile === '')) {
      context.addIssue({ code: 'custom', path: [section, certFile === '' ? 'certFile' : 'keyFile'], message: 'certFile and keyFile go together' })
    }
  }
  requireBoth('tls', config.tls.certFile, config.tls.keyFile)
  requireBoth('peerTls', config.peerTls.certFile, config.peerTls.keyFile)
  if (config.tls.verifyClients && config.tls.caFile === '') {
    context.addIssue({ code: 'custom', path: ['tls', 'caFile'], message: 'verifyClients needs the CA that client certificates chain to' })
  }
  if (config.peerTls.certFile !== '' && config.peerTls.caFile === '') {
    context.addIssue({ code: 'custom', path: ['peerTls', 'caFile'], message: 'peer TLS is mutual: the cluster CA is required' })
  }
}

export const securityConfigSchema = z
  .object({
    tls: z.object(securitySectionShapes.tls).strict(),
    peerTls: z.object(securitySectionShapes.peerTls).strict(),
    access: z.object(securitySectionShapes.access).strict(),
  })
  .strict()
  .superRefine((config, context) => checkSecurityConfig(config, context))

export type SecurityConfig = z.infer<typeof securityConfigSchema>

export const securityConfigDefaults: SecurityConfig = {
  tls: {
    certFile: '',
    keyFile: '',
    caFile: '',
    required: true,
    handshakeFirst: false,
    verifyClients: false,
    handshakeTimeoutMs: tlsTerminatorDefaults.handshakeTimeoutMs,
  },
  peerTls: { certFile: '', keyFile: '', caFile: '' },
  access: {
    disabled: true,
    loginBurst: defaultLoginRateLimits.burst,
    loginRefillPerMinute: defaultLoginRateLimits.refillPerMinute,
    loginSourcesMax: defaultLoginRateLimits.sourcesMax,
    adminUser: 'admin',
    adminPasswordFile: '',
  },
}

/** Client TLS material from the `tls` section, or undefined when it is off. Throws `ConfigError` on unreadable files. */
export function clientTlsMaterial(config: SecurityConfig): TlsMaterial | undefined {
  const { certFile, keyFile, caFile } = config.tls
  if (certFile === '') return undefined
  return loadTlsMaterial({ certFile, keyFile, ...(caFile === '' ? {} : { caFile }) }, 'tls')
}

/** Peer TLS material from the `peerTls` section, or undefined when it is off. Throws `ConfigError` on unreadable files. */
export function peerTlsMaterial(config: SecurityConfig): TlsMaterial | undefined {
  const { certFile, keyFile, caFile } = config.peerTls
  if (certFile === '') return undefined
  return loadTlsMaterial({ certFile, keyFile, caFile }, 'peerTls')
}

export function loginRateLimitsOf(config: SecurityConfig): LoginRateLimits {
  return { burst: config.access.loginBurst, refillPerMinute: config.access.loginRefillPerMinute, sourcesMax: config.access.loginSourcesMax }
}

/**
 * The `railgun server` flags of the security sections (the CLI registers each one). `key` is
 * commander's property name; `--access` / `--no-access` share `access` and set
 * `access.disabled` to the opposite; `--tls-optional` sets `tls.required: false`.
 */
export const securityServerFlags = [
  { flag: '--tls-cert <file>', key: 'tlsCert', field: 'tls.certFile', description: 'client TLS certificate (PEM); with --tls-key turns client TLS on' },
  { flag: '--tls-key <file>', key: 'tlsKey', field: 'tls.keyFile', description: 'client TLS private key (PEM)' },
  { flag: '--tls-ca <file>', key: 'tlsCa', field: 'tls.caFile', description: 'CA that client certificates must chain to (with --tls-verify-clients)' },
  { flag: '--tls-verify-clients', key: 'tlsVerifyClients', field: 'tls.verifyClients', description: 'require client certificates' },
  { flag: '--tls-handshake-first', key: 'tlsHandshakeFirst', field: 'tls.handshakeFirst', description: 'TLS handshake before INFO (clients set handshakeFirst)' },
  { flag: '--tls-optional', key: 'tlsOptional', field: 'tls.required', description: 'offer TLS but serve clear-text clients too' },
  { flag: '--peer-tls-cert <file>', key: 'peerTlsCert', field: 'peerTls.certFile', description: 'peer (node-to-node) mutual TLS certificate' },
  { flag: '--peer-tls-key <file>', key: 'peerTlsKey', field: 'peerTls.keyFile', description: 'peer TLS private key' },
  { flag: '--peer-tls-ca <file>', key: 'peerTlsCa', field: 'peerTls.caFile', description: 'the cluster CA (peers must chain to it)' },
  { flag: '--access', key: 'access', field: 'access.disabled', description: 'turn access control on (users, tokens, roles)' },
  { flag: '--no-access', key: 'access', field: 'access.disabled', description: 'turn access control off (every client may do anything; warns)' },
  { flag: '--admin-user <name>', key: 'adminUser', field: 'access.adminUser', description: 'name of the first admin (bootstrap; default admin)' },
  { flag: '--admin-password-file <file>', key: 'adminPasswordFile', field: 'access.adminPasswordFile', description: 'file holding the first admin\'s password (or env RAILGUN_ADMIN_PASSWORD)' },
] as const

export type SecurityServerFlags = Partial<{
  readonly tlsCert: string
  readonly tlsKey: string
  readonly tlsCa: string
  readonly tlsVerifyClients: boolean
  readonly tlsHandshakeFirst: boolean
  readonly tlsOptional: boolean
  readonly peerTlsCert: string
  readonly peerTlsKey: string
  readonly peerTlsCa: string
  readonly access: boolean
  readonly adminUser: string
  readonly adminPasswordFile: string
}>

/** Config field → flag, for error messages (`config flag --tls-cert: tls.certFile: …`). */
export const securityFlagNames: Readonly<Record<string, string>> = Object.fromEntries(
  securityServerFlags.filter((entry) => entry.flag !== '--no-access').map((entry) => [entry.field, entry.flag.split(' ')[0] as string]),
)

/** The security sections set by the given flags (only the flags that were given). */
export function securitySourceFromFlags(flags: SecurityServerFlags): { tls?: Record<string, unknown>; peerTls?: Record<string, unknown>; access?: Record<string, unknown> } {
  const sections: Record<'tls' | 'peerTls' | 'access', Record<string, unknown>> = { tls: {}, peerTls: {}, access: {} }
  const values = flags as Readonly<Record<string, unknown>>
  for (const entry of securityServerFlags) {
    const value = values[entry.key]
    if (value === undefined) continue
    const [section, field] = entry.field.split('.') as ['tls' | 'peerTls' | 'access', string]
    if (entry.key === 'access') sections.access.disabled = value !== true
    else if (entry.key === 'tlsOptional') sections.tls.required = value !== true
    else sections[section][field] = value
  }
  const source: { tls?: Record<string, unknown>; peerTls?: Record<string, unknown>; access?: Record<string, unknown> } = {}
  for (const section of ['tls', 'peerTls', 'access'] as const) if (Object.keys(sections[section]).length > 0) source[section] = sections[section]
  return source
}
