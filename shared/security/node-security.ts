// What a node builds from its `tls`, `peerTls` and `access` sections at start: the client TLS
// settings for the client listener, the peer TLS material for the control plane's transport,
// the authenticator and authorizer over the node's current cluster state (grants matched
// against the node's region), the start-up warnings, the SIGHUP reload, and the first-admin
// bootstrap. `server/node.ts` wires these; keeping the decisions here keeps the node small.
//
// Imports control-plane/cluster (see README.md § Imports).
import type { ClusterState } from '../../control-plane/cluster/index.js'
import { emptyState } from '../../control-plane/cluster/index.js'
import type { Logger } from '../log.js'
import { createClusterAuthenticator } from './cluster-authenticator.js'
import type { ClusterAuthenticator } from './cluster-authenticator.js'
import { createClusterAuthorizer } from './authorizer.js'
import type { ClusterAuthorizer } from './authorizer.js'
import { adminPasswordOf, startAdminBootstrap } from './bootstrap-admin.js'
import type { AdminBootstrap, BootstrapControlPlane } from './bootstrap-admin.js'
import { clientTlsMaterial, loginRateLimitsOf, peerTlsMaterial } from './config.js'
import type { SecurityConfig } from './config.js'
import type { ScryptParameters } from './passwords.js'
import { reloadTlsMaterials } from './tls-material.js'
import type { TlsMaterial, TlsReloadResult } from './tls-material.js'
import { warnIfPlaintext } from './warnings.js'

/** The client listener's TLS settings (the shape of `ClientTlsOptions` in server/client-listener.ts). */
export interface ClientTlsSettings {
  readonly material: TlsMaterial
  readonly required: boolean
  readonly handshakeFirst: boolean
  readonly verifyClients: boolean
  readonly handshakeTimeoutMs: number
}

export interface NodeAccess {
  readonly authenticator: ClusterAuthenticator
  readonly authorizer: ClusterAuthorizer
}

export interface NodeSecurityOptions {
  readonly config: Pick<SecurityConfig, 'tls' | 'peerTls' | 'access'>
  readonly logger: Logger
  /** The node's region (`cluster.region`): grants are matched against it. */
  readonly region: string
  /** The node's current cluster state; undefined until the control plane is open. */
  readonly state: () => ClusterState | undefined
  /** The first admin's password from the environment (`RAILGUN_ADMIN_PASSWORD`); the CLI reads it. */
  readonly adminPassword?: string
  /** Tests use cheap scrypt parameters for the bootstrap hash. */
  readonly scrypt?: ScryptParameters
}

export interface NodeSecurity {
  readonly clientTls: ClientTlsSettings | undefined
  readonly peerTlsMaterial: TlsMaterial | undefined
  /** Undefined when `access.disabled` (every client may do anything). */
  readonly access: NodeAccess | undefined
  /** The warnings logged at start (plain TCP between peers, clear-text clients, access off). */
  readonly warnings: readonly string[]
  /** The SIGHUP handler: reloads the client and peer TLS files, logs each outcome. */
  reload(): Record<string, TlsReloadResult>
  /** With access on: creates the first admin when the cluster has no user (see bootstrap-admin.ts). */
  startBootstrap(controlPlane: BootstrapControlPlane): AdminBootstrap | undefined
}

/** Loads the TLS files (a bad file is `RG_ERR_CONFIG` now, at start) and logs the warnings. */
export function prepareNodeSecurity(options: NodeSecurityOptions): NodeSecurity {
  const { config, logger } = options
  const clientMaterial = clientTlsMaterial(config as SecurityConfig)
  const peerMaterial = peerTlsMaterial(config as SecurityConfig)
  const accessOn = !config.access.disabled
  // Read now, so a missing password file stops the start instead of surfacing later.
  const adminPassword = accessOn ? adminPasswordOf(options.adminPassword, config.access.adminPasswordFile) : undefined
  const state = (): ClusterState => options.state() ?? emptyState()
  const access: NodeAccess | undefined = accessOn
    ? {
        authenticator: createClusterAuthenticator({ state, logger, rateLimits: loginRateLimitsOf(config as SecurityConfig) }),
        authorizer: createClusterAuthorizer({ state, region: options.region }),
      }
    : undefined
  const warnings = warnIfPlaintext(logger, { clientTls: clientMaterial !== undefined, peerTls: peerMaterial !== undefined, accessDisabled: !accessOn })
  return {
    clientTls:
      clientMaterial === undefined
        ? undefined
        : {
            material: clientMaterial,
            required: config.tls.required,
            handshakeFirst: config.tls.handshakeFirst,
            verifyClients: config.tls.verifyClients,
            handshakeTimeoutMs: config.tls.handshakeTimeoutMs,
          },
    peerTlsMaterial: peerMaterial,
    access,
    warnings,
    reload: () => reloadTlsMaterials(logger, { tls: clientMaterial, peerTls: peerMaterial }),
    startBootstrap: (controlPlane) =>
      access === undefined
        ? undefined
        : startAdminBootstrap({
            controlPlane,
            logger,
            user: config.access.adminUser,
            password: adminPassword,
            ...(options.scrypt === undefined ? {} : { scrypt: options.scrypt }),
          }),
  }
}
