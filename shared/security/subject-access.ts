// What a publish or subscribe needs, in the terms of the RBAC grants: a permission (`read`,
// `write`, `admin`) on a stream resource `namespace/name`, judged in the serving node's region.
// Pure: no state, no I/O. The authorizer asks the cluster state whether the principal holds it.
//
// Rules (docs/security.md):
// - `stream.topic…` published → `write` on `<ns>/<stream>`; subscribed → `read` on it.
// - A subscription whose first token is a wildcard (`*`, `>`, `#`) receives every subject,
//   including `$RG.API` requests and other connections' `_INBOX` replies (the matcher does not
//   set `$` subjects apart), so it needs `admin` on `*/*`. A resource part `*` is literal: only
//   a grant whose pattern matches every name (`*`) covers it.
// - `_INBOX.…` (reply inboxes) → allowed to every authenticated principal: requesters must
//   receive their replies and responders must answer.
// - `$RG.API.<AREA>.<VERB>` published → the resource comes from the JSON body (arguments travel
//   there); mutations need `admin`, reads `read`; KV verbs map to the bucket `_kv/<bucket>` and
//   need `write` (put, cas, delete) or `read` (get, list). A body that does not name the
//   resource is judged on `*` (the widest), so a missing field never widens access.
//   `USER.*`, `TOKEN.*`, `ROLE.*` (identities and grants) need `admin` on `*/*`, reads included:
//   a user list names every account, and granting is administering.
// - `$RG.C.<ns>.<stream>.<group>.…` published (consumer groups: JOIN, HB, LEAVE, FETCH, ACKS,
//   INFO and the per-message ACK) → `read` on `<ns>/<stream>`: consuming and acking is reading.
//   A subject whose namespace or stream token is not a plain name → `admin` on `*/*`.
// - `$RG.KVC.<bucket>.<VERB>` published (CRDT KV buckets, shared/api/kv-crdt-wire.ts) → the
//   bucket resource `_kv/<bucket>`: `write` for PUT, DELETE, MERGE, INCR; `read` for INFO, GET,
//   LIST, WATCH, UNWATCH; `admin` for ENSURE, REMOVE. The bucket is a subject token (never the
//   body), so the decision may be cached per subject. A bucket token that is not a plain name or
//   an unknown verb → `admin` on `*/*`. (`$RG.KVCI.…`, the nodes' internal forwarding, falls under
//   "any other `$…`".)
// - `$RG.events.…` subscribed → `read` on `*/*`. Any other `$…` subject → `admin` on `*/*`.

/** The namespace part of KV bucket resources (`_kv/<bucket>`): buckets have no namespace. */
export const kvResourceNamespace = '_kv'
export const inboxPrefix = '_INBOX.'
export const apiPrefix = '$RG.API.'
export const eventsPrefix = '$RG.events.'
export const consumerGroupPrefix = '$RG.C.'
export const kvCrdtPrefix = '$RG.KVC.'
/** A resource part that only an all-matching grant pattern covers. */
export const everyName = '*'

export const clientActions = ['publish', 'subscribe'] as const
export type ClientAction = (typeof clientActions)[number]

export type AccessPermission = 'read' | 'write' | 'admin'

export type AccessNeed =
  | { readonly kind: 'allow' }
  | { readonly kind: 'grant'; readonly permission: AccessPermission; readonly stream: string }

const allow: AccessNeed = { kind: 'allow' }

function grant(permission: AccessPermission, namespace: string, name: string): AccessNeed {
  return { kind: 'grant', permission, stream: `${namespace}/${name}` }
}

function isWildcardToken(token: string): boolean {
  return token === '*' || token === '>' || token === '#'
}

const readVerbEndings = new Set(['LIST', 'INFO', 'GET', 'STATUS', 'NODES'])

/** Fields of an API body, or undefined if it is not a JSON object. */
function bodyFields(payload: Uint8Array | undefined): Record<string, unknown> {
  if (payload === undefined || payload.length === 0) return {}
  try {
    const parsed: unknown = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'))
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

function text(fields: Record<string, unknown>, key: string, fallback: string): string {
  const value = fields[key]
  // A name with a `/` or `*` would let a body widen or shift the resource: judge it as "every".
  return typeof value === 'string' && value.length > 0 && !/[/*]/.test(value) ? value : fallback
}

/** What a `$RG.API.<AREA>.<VERB>` request needs. */
export function apiAccess(verb: string, payload: Uint8Array | undefined, defaultNamespace: string): AccessNeed {
  const [area = '', action = ''] = verb.split('.')
  const read = readVerbEndings.has(action)
  const permission: AccessPermission = read ? 'read' : 'admin'
  const fields = bodyFields(payload)
  const namespace = text(fields, 'namespace', defaultNamespace)
  switch (area) {
    case 'STREAM':
      return grant(permission, namespace, action === 'LIST' ? everyName : text(fields, 'name', everyName))
    case 'GROUP':
      return grant(permission, namespace, text(fields, 'stream', everyName))
    case 'PIPELINE':
      return grant(permission, namespace, everyName)
    case 'NAMESPACE':
      return action === 'LIST' ? grant('read', everyName, everyName) : grant(permission, text(fields, 'name', everyName), everyName)
    case 'BUCKET':
      return grant(permission, kvResourceNamespace, action === 'LIST' ? everyName : text(fields, 'name', everyName))
    case 'KV':
      return grant(read ? 'read' : 'write', kvResourceNamespace, text(fields, 'bucket', everyName))
    case 'USER':
    case 'TOKEN':
    case 'ROLE':
      return grant('admin', everyName, everyName)
    default:
      // CLUSTER.*, NODE.*, LEADER.*, and verbs this table does not know: cluster-wide.
      return grant(permission, everyName, everyName)
  }
}

/** What a `$RG.C.<ns>.<stream>.<group>.<verb…>` publish needs: `read` on the stream. */
export function consumerGroupAccess(subject: string): AccessNeed {
  const tokens = subject.split('.')
  const [namespace = '', stream = '', group = ''] = tokens.slice(2, 5)
  const plain = /^[A-Za-z0-9_-]{1,64}$/
  if (tokens.length < 6 || !plain.test(namespace) || !plain.test(stream) || !plain.test(group)) return grant('admin', everyName, everyName)
  return grant('read', namespace, stream)
}

const kvCrdtWriteVerbs = new Set(['PUT', 'DELETE', 'MERGE', 'INCR'])
const kvCrdtReadVerbs = new Set(['INFO', 'GET', 'LIST', 'WATCH', 'UNWATCH'])
const kvCrdtAdminVerbs = new Set(['ENSURE', 'REMOVE'])

/** What a `$RG.KVC.<bucket>.<VERB>` publish needs on `_kv/<bucket>`. */
export function kvCrdtAccess(subject: string): AccessNeed {
  const tokens = subject.slice(kvCrdtPrefix.length).split('.')
  const [bucket = '', verb = ''] = tokens
  if (tokens.length !== 2 || !/^[A-Za-z0-9_-]{1,64}$/.test(bucket)) return grant('admin', everyName, everyName)
  if (kvCrdtWriteVerbs.has(verb)) return grant('write', kvResourceNamespace, bucket)
  if (kvCrdtReadVerbs.has(verb)) return grant('read', kvResourceNamespace, bucket)
  if (kvCrdtAdminVerbs.has(verb)) return grant('admin', kvResourceNamespace, bucket)
  return grant('admin', everyName, everyName)
}

/**
 * What `action` on `subject` needs from a principal bound to `namespace`. `payload` is read only
 * for `$RG.API` publishes.
 */
export function accessFor(action: ClientAction, subject: string, namespace: string, payload?: Uint8Array): AccessNeed {
  if (subject.startsWith(inboxPrefix)) return allow
  if (subject.startsWith('$')) {
    if (action === 'publish' && subject.startsWith(apiPrefix)) return apiAccess(subject.slice(apiPrefix.length), payload, namespace)
    if (action === 'publish' && subject.startsWith(consumerGroupPrefix)) return consumerGroupAccess(subject)
    if (action === 'publish' && subject.startsWith(kvCrdtPrefix)) return kvCrdtAccess(subject)
    if (action === 'subscribe' && subject.startsWith(eventsPrefix)) return grant('read', everyName, everyName)
    return grant('admin', everyName, everyName)
  }
  const dot = subject.indexOf('.')
  const stream = dot < 0 ? subject : subject.slice(0, dot)
  if (isWildcardToken(stream)) return action === 'publish' ? grant('write', namespace, everyName) : grant('admin', everyName, everyName)
  return grant(action === 'publish' ? 'write' : 'read', namespace, stream)
}
