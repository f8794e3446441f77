// The cluster state as the API shows it: plain JSON objects (maps become arrays or records,
// KV bytes become base64 plus UTF-8 text when they are text). Secrets never appear here.
import type { BucketRecord, ClusterState, GroupRecord, KvEntry, NamespaceRecord, NodeRecord, PipelineRecord, StreamRecord } from '../../control-plane/cluster/index.js'

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

export function streamView(state: ClusterState, key: string, record: StreamRecord): Record<string, unknown> {
  const placement: Record<string, unknown> = {}
  for (const [region, set] of state.placements.get(key) ?? new Map()) placement[region] = { ...set }
  return { ...record.spec, placement, createdIndex: record.createdIndex, updatedIndex: record.updatedIndex }
}

export function namespaceView(record: NamespaceRecord): Record<string, unknown> {
  return { ...record }
}

export function groupView(record: GroupRecord): Record<string, unknown> {
  return { ...record.spec, createdIndex: record.createdIndex, updatedIndex: record.updatedIndex }
}

export function pipelineView(record: PipelineRecord): Record<string, unknown> {
  return { ...record.spec, order: [...record.order], createdIndex: record.createdIndex, updatedIndex: record.updatedIndex }
}

export function bucketView(record: BucketRecord): Record<string, unknown> {
  return { name: record.name, maxValueBytes: record.maxValueBytes, keys: record.entries.size, createdIndex: record.createdIndex, updatedIndex: record.updatedIndex }
}

export function nodeView(record: NodeRecord): Record<string, unknown> {
  return { ...record, tags: { ...record.tags } }
}

export function textOf(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes)
  } catch {
    return undefined
  }
}

export function kvEntryView(bucket: string, key: string, entry: KvEntry): Record<string, unknown> {
  const text = textOf(entry.value)
  return {
    bucket,
    key,
    valueBase64: Buffer.from(entry.value).toString('base64'),
    ...(text === undefined ? {} : { value: text }),
    revision: entry.revision,
    createRevision: entry.createRevision,
  }
}

/** Values of a map in sorted key order (answers are deterministic). */
export function sortedValues<V>(map: ReadonlyMap<string, V>): Array<[string, V]> {
  return [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}
