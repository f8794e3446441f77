// The subjects of the control API: `$RG.API.<AREA>.<VERB>` (JSON request/reply, like JetStream's
// `$JS.API`), and the verb table shared by the server (which subscribes to `$RG.API.>`), the
// client library and the CLI. Arguments travel in the JSON body, never in the subject, so one
// subject per verb is the whole contract. System events are published on `$RG.events.>`.

export const apiSubjectPrefix = '$RG.API'
/** The wildcard the server subscribes to. */
export const apiSubjectWildcard = `${apiSubjectPrefix}.>`
export const eventSubjectRoot = '$RG.events'
/** Published by a node when it sees a new leader or term (not a state-machine event). */
export const leaderElectedSubject = `${eventSubjectRoot}.leader.elected`

/** Every verb, as `AREA.VERB` (the subject is `$RG.API.` + this). */
export const apiVerbs = [
  'STREAM.ENSURE',
  'STREAM.LIST',
  'STREAM.INFO',
  'STREAM.DELETE',
  'STREAM.FETCH',
  'NAMESPACE.ENSURE',
  'NAMESPACE.LIST',
  'NAMESPACE.INFO',
  'NAMESPACE.DELETE',
  'GROUP.ENSURE',
  'GROUP.LIST',
  'GROUP.INFO',
  'GROUP.DELETE',
  'PIPELINE.ENSURE',
  'PIPELINE.LIST',
  'PIPELINE.INFO',
  'PIPELINE.DELETE',
  'BUCKET.ENSURE',
  'BUCKET.LIST',
  'BUCKET.INFO',
  'BUCKET.DELETE',
  'KV.GET',
  'KV.PUT',
  'KV.DELETE',
  'KV.CAS',
  'KV.LIST',
  'CLUSTER.STATUS',
  'CLUSTER.NODES',
  'NODE.ADD',
  'NODE.DRAIN',
  'NODE.REMOVE',
  'LEADER.TRANSFER',
  'USER.ENSURE',
  'USER.LIST',
  'USER.DELETE',
  'TOKEN.CREATE',
  'TOKEN.LIST',
  'TOKEN.REVOKE',
  'ROLE.ENSURE',
  'ROLE.LIST',
  'ROLE.DELETE',
] as const
export type ApiVerb = (typeof apiVerbs)[number]

const verbSet: ReadonlySet<string> = new Set(apiVerbs)

export function isApiVerb(value: string): value is ApiVerb {
  return verbSet.has(value)
}

/** `$RG.API.STREAM.ENSURE` for `STREAM.ENSURE`. */
export function apiSubject(verb: ApiVerb): string {
  return `${apiSubjectPrefix}.${verb}`
}

/** The verb named by a subject under `$RG.API.`, or undefined (another subject, or unknown verb text). */
export function verbOfSubject(subject: string): string | undefined {
  if (!subject.startsWith(`${apiSubjectPrefix}.`)) return undefined
  return subject.slice(apiSubjectPrefix.length + 1)
}

/** Mutating verbs go through Raft (`ensure`); the others are reads. */
export const readVerbs: ReadonlySet<ApiVerb> = new Set<ApiVerb>([
  'STREAM.LIST',
  'STREAM.INFO',
  'STREAM.FETCH',
  'NAMESPACE.LIST',
  'NAMESPACE.INFO',
  'GROUP.LIST',
  'GROUP.INFO',
  'PIPELINE.LIST',
  'PIPELINE.INFO',
  'BUCKET.LIST',
  'BUCKET.INFO',
  'KV.GET',
  'KV.LIST',
  'CLUSTER.STATUS',
  'CLUSTER.NODES',
  'USER.LIST',
  'TOKEN.LIST',
  'ROLE.LIST',
])
