// The security sections of the node configuration, in the form of `shared/config/schema.ts`
// (flat sections: every field settable from YAML, environment and flags): `tls` (clients),
// `peerTls` (node to node, mutual) and `access` (authentication and permissions). The lead
// merges `securitySectionShapes` into `sectionShapes` and `securityConfigDefaults` into
// `configDefaults`. Defaults keep a fresh node as it was: no TLS, access control off (which
// logs a warning at start; docs/security.md says how to turn it on).
import { z } from 'zod'
import type { LoginRateLimits } from './login-rate-limit.js'
import { defaultLoginRateLimits } from './login-rate-limit.js'
import { loadTlsMaterial } from './tls-material.js'
import type { TlsMaterial } from './tls-material.js'
import { tlsTerminatorDefaults } from './tls-terminator.js'

const positiveIntegerText = 'expected a positive integer'

function positiveInteger() {
  return z
    .number({ error: positiveIntegerText })
    .int({ error: positiveIntegerText })
    .positive({ error: positiveIntegerText })
    .max(Number.MAX_SAFE_INTEGER, { error: positiveIntegerText })
}

function path() {
  return z.string({ error: 'expected a file path (or empty)' })
}

function boolean() {
  return z.boolean({ error: 'expected true or false' })
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
  },
} as const

export const securityConfigSchema = z
  .object({
    tls: z.object(securitySectionShapes.tls).strict(),
    peerTls: z.object(securitySectionShapes.peerTls).strict(),
    access: z.object(securitySectionShapes.access).strict(),
  })
  .strict()
  .superRefine((config, context) => {
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
  })

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
