// Linearizable KV buckets held in the Raft state. One global revision counter (`kvRevision`,
// etcd style): every put, compare-and-set and effective delete takes the next revision, so
// revisions are monotonic across all buckets and a watcher can resume from one number.
// A key's `createRevision` is the revision at which it was (re)created. Reads are pure queries
// on a state the caller made linearizable (Raft ReadIndex) — they are not commands.
import { encodeBase64 } from './bytes.js'
import type { ApplyMeta, CommandOf } from './commands.js'
import type { ClusterEvent } from './events.js'
import { kvEvent, objectEvent } from './events.js'
import { decideEnsure } from './ensure.js'
import { clusterLimits } from './limits.js'
import { checkName } from './names.js'
import { diffsToJson, fail, ok } from './result.js'
import type { BucketRecord, ClusterState, KvEntry } from './state.js'
import { compareStrings, mapDelete, mapSet } from './state.js'
import type { Step } from './step.js'
import { rejected } from './step.js'

export function totalKeys(state: ClusterState): number {
  let total = 0
  for (const bucket of state.buckets.values()) total += bucket.entries.size
  return total
}

/** Reads hand out copies of the value bytes: a reader can never change the replicated state. */
function copyEntry(entry: KvEntry): KvEntry {
  return { value: entry.value.slice(), revision: entry.revision, createRevision: entry.createRevision }
}

export function kvGet(state: ClusterState, bucket: string, key: string): KvEntry | undefined {
  const entry = state.buckets.get(bucket)?.entries.get(key)
  return entry === undefined ? undefined : copyEntry(entry)
}

/** Entries whose key starts with `prefix`, in key order. */
export function kvList(state: ClusterState, bucket: string, prefix = ''): [string, KvEntry][] {
  const entries = state.buckets.get(bucket)?.entries
  if (entries === undefined) return []
  return [...entries.keys()]
    .filter((key) => key.startsWith(prefix))
    .sort(compareStrings)
    .map((key) => [key, copyEntry(entries.get(key) as KvEntry)])
}

export function applyEnsureBucket(state: ClusterState, command: CommandOf<'ensureBucket'>, meta: ApplyMeta): Step {
  const problem = checkName('bucket', 'name', command.name)
  if (problem !== undefined) return rejected(state, problem)
  if (command.maxValueBytes < 1 || command.maxValueBytes > clusterLimits.kvValueBytesMax) {
    return rejected(state, fail('RG_ERR_LIMIT_EXCEEDED', `maxValueBytes: must be 1..${clusterLimits.kvValueBytesMax}`, { limit: 'kvValueBytesMax', max: clusterLimits.kvValueBytesMax }))
  }
  const existing = state.buckets.get(command.name)
  const decision = decideEnsure(`bucket ${command.name}`, existing === undefined ? undefined : { maxValueBytes: existing.maxValueBytes }, { maxValueBytes: command.maxValueBytes }, command.update)
  if (decision.kind === 'conflict') return rejected(state, decision.error)
  if (decision.kind === 'unchanged') return { state, result: ok('unchanged', { name: command.name, maxValueBytes: command.maxValueBytes }), events: [] }
  if (existing !== undefined) {
    // Invariant: every stored value fits its bucket's limit, so the limit cannot shrink below one.
    const largest = [...existing.entries].filter(([, entry]) => entry.value.length > command.maxValueBytes).map(([key]) => key).sort(compareStrings)
    if (largest.length > 0) {
      return rejected(state, fail('RG_ERR_VALUE_TOO_LARGE', `maxValueBytes: bucket ${command.name} holds values larger than ${command.maxValueBytes} bytes (keys ${largest.slice(0, 5).join(', ')}${largest.length > 5 ? ', ...' : ''})`, { bucket: command.name, keys: largest.slice(0, 100) }))
    }
  }
  if (existing === undefined && state.buckets.size >= clusterLimits.bucketsMax) return rejected(state, fail('RG_ERR_LIMIT_EXCEEDED', `buckets: at most ${clusterLimits.bucketsMax}`, { limit: 'bucketsMax' }))
  const record: BucketRecord = {
    name: command.name,
    maxValueBytes: command.maxValueBytes,
    entries: existing?.entries ?? new Map(),
    createdIndex: existing?.createdIndex ?? meta.index,
    updatedIndex: meta.index,
  }
  const action = existing === undefined ? 'created' : 'updated'
  return {
    state: { ...state, buckets: mapSet(state.buckets, command.name, record) },
    result: ok(action, { name: command.name, maxValueBytes: command.maxValueBytes, ...(decision.kind === 'update' ? { diffs: diffsToJson(decision.diffs) } : {}) }),
    events: [objectEvent('bucket', action, { name: command.name }, meta, { maxValueBytes: command.maxValueBytes })],
  }
}

export function applyRemoveBucket(state: ClusterState, command: CommandOf<'removeBucket'>, meta: ApplyMeta): Step {
  if (!state.buckets.has(command.name)) return rejected(state, fail('RG_ERR_NOT_FOUND', `name: bucket ${command.name} does not exist`, { name: command.name }))
  return {
    state: { ...state, buckets: mapDelete(state.buckets, command.name) },
    result: ok('removed', { name: command.name }),
    events: [objectEvent('bucket', 'removed', { name: command.name }, meta)],
  }
}

function bucketFor(state: ClusterState, bucket: string, key: string): BucketRecord | ReturnType<typeof fail> {
  const problem = checkName('bucket', 'bucket', bucket) ?? checkName('key', 'key', key)
  if (problem !== undefined) return problem
  const record = state.buckets.get(bucket)
  if (record === undefined) return fail('RG_ERR_NOT_FOUND', `bucket: bucket ${bucket} does not exist`, { bucket })
  return record
}

function write(state: ClusterState, record: BucketRecord, key: string, value: Uint8Array, meta: ApplyMeta): Step {
  if (value.length > record.maxValueBytes) {
    return rejected(state, fail('RG_ERR_VALUE_TOO_LARGE', `value: ${value.length} bytes exceeds bucket ${record.name}'s maxValueBytes ${record.maxValueBytes}`, { bucket: record.name, valueBytes: value.length, maxValueBytes: record.maxValueBytes }))
  }
  const existing = record.entries.get(key)
  if (existing === undefined && record.entries.size >= clusterLimits.keysPerBucketMax) {
    return rejected(state, fail('RG_ERR_LIMIT_EXCEEDED', `key: bucket ${record.name} holds the maximum ${clusterLimits.keysPerBucketMax} keys`, { limit: 'keysPerBucketMax' }))
  }
  if (existing === undefined && totalKeys(state) >= clusterLimits.kvKeysTotalMax) {
    return rejected(state, fail('RG_ERR_LIMIT_EXCEEDED', `key: the cluster holds the maximum ${clusterLimits.kvKeysTotalMax} KV keys`, { limit: 'kvKeysTotalMax' }))
  }
  const revision = state.kvRevision + 1
  const entry: KvEntry = { value: value.slice(), revision, createRevision: existing?.createRevision ?? revision }
  const bucket: BucketRecord = { ...record, entries: mapSet(record.entries, key, entry) }
  const events: ClusterEvent[] = [kvEvent('put', { bucket: record.name, key, revision, valueBase64: encodeBase64(entry.value) }, meta)]
  return {
    state: { ...state, buckets: mapSet(state.buckets, record.name, bucket), kvRevision: revision },
    result: ok(existing === undefined ? 'created' : 'updated', { bucket: record.name, key, revision, createRevision: entry.createRevision }),
    events,
  }
}

export function applyKvPut(state: ClusterState, command: CommandOf<'kvPut'>, meta: ApplyMeta): Step {
  const record = bucketFor(state, command.bucket, command.key)
  if (!('entries' in record)) return rejected(state, record)
  return write(state, record, command.key, command.value, meta)
}

function mismatch(bucket: string, key: string, expected: number, actual: number): ReturnType<typeof fail> {
  const saw = actual === 0 ? 'the key does not exist' : `the key is at revision ${actual}`
  return fail('RG_ERR_REVISION_MISMATCH', `expectedRevision: expected ${expected === 0 ? 'no key' : `revision ${expected}`} for ${bucket}/${key}, but ${saw}`, { bucket, key, expectedRevision: expected, actualRevision: actual })
}

export function applyKvCas(state: ClusterState, command: CommandOf<'kvCas'>, meta: ApplyMeta): Step {
  const record = bucketFor(state, command.bucket, command.key)
  if (!('entries' in record)) return rejected(state, record)
  const actual = record.entries.get(command.key)?.revision ?? 0
  if (actual !== command.expectedRevision) return rejected(state, mismatch(command.bucket, command.key, command.expectedRevision, actual))
  return write(state, record, command.key, command.value, meta)
}

/** Deleting a missing key is `unchanged` (no revision taken) unless a revision was expected. */
export function applyKvDelete(state: ClusterState, command: CommandOf<'kvDelete'>, meta: ApplyMeta): Step {
  const record = bucketFor(state, command.bucket, command.key)
  if (!('entries' in record)) return rejected(state, record)
  const existing = record.entries.get(command.key)
  const actual = existing?.revision ?? 0
  if (command.expectedRevision !== undefined && command.expectedRevision !== actual) {
    return rejected(state, mismatch(command.bucket, command.key, command.expectedRevision, actual))
  }
  if (existing === undefined) return { state, result: ok('unchanged', { bucket: command.bucket, key: command.key, revision: state.kvRevision }), events: [] }
  const revision = state.kvRevision + 1
  const bucket: BucketRecord = { ...record, entries: mapDelete(record.entries, command.key) }
  return {
    state: { ...state, buckets: mapSet(state.buckets, record.name, bucket), kvRevision: revision },
    result: ok('removed', { bucket: command.bucket, key: command.key, revision, deletedRevision: existing.revision }),
    events: [kvEvent('deleted', { bucket: command.bucket, key: command.key, revision }, meta)],
  }
}
