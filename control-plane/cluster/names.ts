// Name rules. Namespace, stream, group, pipeline, stage, bucket, role, region and tag names
// become subject tokens (`$RG.API.STREAM.INFO.<ns>.<name>`, `$RG.events.…`), so they may not
// hold the token separator `.`, the wildcards `*` `>` `#`, whitespace or `/` (our own
// namespace/name separator). A leading `$` is reserved for the system (`$RG`, `$DLQ`); a
// leading `__` is reserved too (it keeps `__proto__` out of every JavaScript object we build).
import { clusterLimits } from './limits.js'
import { fail } from './result.js'
import type { ApplyError } from './result.js'

/** `[A-Za-z0-9_-]{1,64}`: namespaces, streams, groups, pipelines, stages, buckets, roles, regions, tag keys, node ids. */
export const plainNamePattern = /^[A-Za-z0-9_-]{1,64}$/
/** User names may also hold `.` and `@` (they never become subject tokens): `[A-Za-z0-9_.@-]{1,64}`. */
export const userNamePattern = /^[A-Za-z0-9_.@-]{1,64}$/
/** Controller names are internal, hierarchical: `[A-Za-z0-9_./:-]{1,256}` (e.g. `scc/default/orders/g1/us-east`). */
export const controllerNamePattern = /^[A-Za-z0-9_./:-]{1,256}$/
/** KV keys follow NATS KV: `[A-Za-z0-9_=./-]`, 1..1024 characters, no leading or trailing `.`. */
export const kvKeyPattern = /^[A-Za-z0-9_=./-]{1,1024}$/
/** A grant's region or stream part: a plain name where `*` matches any run of characters. */
export const grantPartPattern = /^[A-Za-z0-9_*-]{1,64}$/

export type NameKind =
  | 'namespace'
  | 'stream'
  | 'group'
  | 'pipeline'
  | 'stage'
  | 'bucket'
  | 'role'
  | 'region'
  | 'tag'
  | 'node'
  | 'user'
  | 'token'
  | 'controller'
  | 'key'

function explain(kind: NameKind, field: string, value: string, rule: string): ApplyError {
  return fail('RG_ERR_INVALID_NAME', `${field}: invalid ${kind} name ${JSON.stringify(value)}: ${rule}`, {
    field,
    kind,
    value,
  })
}

/** Returns undefined when `value` is a valid name of `kind`; otherwise an error naming `field`. */
export function checkName(kind: NameKind, field: string, value: string): ApplyError | undefined {
  if (value.length === 0) return explain(kind, field, value, 'must not be empty')
  if (kind === 'key') {
    if (value.length > clusterLimits.kvKeyLengthMax) return explain(kind, field, value, `longer than ${clusterLimits.kvKeyLengthMax} characters`)
    if (!kvKeyPattern.test(value)) return explain(kind, field, value, 'only letters, digits and _ = . / - are allowed')
    if (value.startsWith('.') || value.endsWith('.')) return explain(kind, field, value, 'must not start or end with "."')
    return undefined
  }
  if (kind === 'controller') {
    if (!controllerNamePattern.test(value)) return explain(kind, field, value, 'only letters, digits and _ . / : - are allowed, at most 256 characters')
    return undefined
  }
  if (value.startsWith('$')) return explain(kind, field, value, 'names starting with "$" are reserved for the system')
  if (value.startsWith('__')) return explain(kind, field, value, 'names starting with "__" are reserved')
  if (value.length > clusterLimits.nameLengthMax) return explain(kind, field, value, `longer than ${clusterLimits.nameLengthMax} characters`)
  const pattern = kind === 'user' ? userNamePattern : plainNamePattern
  if (!pattern.test(value)) {
    const allowed = kind === 'user' ? 'letters, digits and _ . @ -' : 'letters, digits, "_" and "-" (no ".", "/", "*", ">" or spaces)'
    return explain(kind, field, value, `only ${allowed} are allowed`)
  }
  return undefined
}

/** A grant pattern part (`*`, `orders-*`, `us-east`). */
export function checkGrantPart(field: string, value: string): ApplyError | undefined {
  if (!grantPartPattern.test(value)) {
    return fail('RG_ERR_INVALID_NAME', `${field}: invalid pattern ${JSON.stringify(value)}: only letters, digits, "_", "-" and "*" are allowed, at most 64 characters`, { field, value })
  }
  return undefined
}

/** First failing check of a list, for validating several names in one go. */
export function firstProblem(...problems: (ApplyError | undefined)[]): ApplyError | undefined {
  return problems.find((p) => p !== undefined)
}

/** The key of a stream (and the prefix of its groups and pipelines): `namespace/name`. */
export function streamKey(namespace: string, name: string): string {
  return `${namespace}/${name}`
}

/** The key of a consumer group: `namespace/stream/group`. */
export function groupKey(namespace: string, stream: string, group: string): string {
  return `${namespace}/${stream}/${group}`
}
