// May this principal publish to / subscribe to this subject? The `Authorizer` interface and its
// implementation over the cluster state (`permits` of control-plane/cluster/access.ts; what a
// subject needs comes from `subject-access.ts`). The state is read through a function at every
// decision, so a role change applies to live connections at once. Decisions are cached per
// state object (the state is immutable: a new object is a new version), bounded in size.
//
// Imports control-plane/cluster (the one place shared/security does, see README.md).
import type { ClusterState } from '../../control-plane/cluster/index.js'
import { permits } from '../../control-plane/cluster/index.js'
import type { Principal } from './authenticator.js'
import type { AccessPermission, ClientAction } from './subject-access.js'
import { accessFor, apiPrefix, inboxPrefix } from './subject-access.js'

export interface Authorizer {
  /** `payload` is read for `$RG.API` publishes only (the resource is named in the body). */
  authorize(principal: Principal, action: ClientAction, subject: string, payload?: Uint8Array): boolean
  /**
   * An opaque value that changes whenever decisions may have changed (the cluster state object).
   * Connections compare it on delivery and re-check their subscriptions when it moved.
   */
  version(): unknown
}

export const authorizerLimits = {
  /** Cached decisions per state version, all principals together; the cache is dropped when full (and on every new state). */
  decisionCacheEntriesMax: 10_000,
} as const

export interface ClusterAuthorizerOptions {
  readonly state: () => ClusterState
  /** The region of the node serving the connection: grants are matched against it. */
  readonly region: string
}

export interface ClusterAuthorizer extends Authorizer {
  /** Whether `principal` holds `permission` on `stream` (`namespace/name`, `*` parts literal) here: the admin HTTP checks. */
  permits(principal: Principal, permission: AccessPermission, stream: string): boolean
}

export function createClusterAuthorizer(options: ClusterAuthorizerOptions): ClusterAuthorizer {
  let cachedFor: ClusterState | undefined
  // Per principal object (one per connection), per action: subject → decision. Nested maps, so
  // a cached publish costs two lookups and allocates nothing.
  let cache = new Map<Principal, Record<ClientAction, Map<string, boolean>>>()
  let cachedEntries = 0
  return {
    version: () => options.state(),
    permits: (principal, permission, stream) => permits(options.state(), principal.user, permission, options.region, stream),
    authorize(principal, action, subject, payload) {
      // Reply inboxes are open to every principal, and one-off: never cached.
      if (subject.startsWith(inboxPrefix)) return true
      const state = options.state()
      if (state !== cachedFor || cachedEntries >= authorizerLimits.decisionCacheEntriesMax) {
        cachedFor = state
        cache = new Map()
        cachedEntries = 0
      }
      // API decisions depend on the body: never cached.
      const cacheable = !subject.startsWith(apiPrefix)
      let decisions = cacheable ? cache.get(principal) : undefined
      if (cacheable) {
        const hit = decisions?.[action].get(subject)
        if (hit !== undefined) return hit
      }
      const need = accessFor(action, subject, principal.namespace, payload)
      const decision = need.kind === 'allow' || permits(state, principal.user, need.permission, options.region, need.stream)
      if (cacheable) {
        if (decisions === undefined) {
          decisions = { publish: new Map(), subscribe: new Map() }
          cache.set(principal, decisions)
        }
        decisions[action].set(subject, decision)
        cachedEntries += 1
      }
      return decision
    },
  }
}
