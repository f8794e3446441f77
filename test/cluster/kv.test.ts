// Linearizable KV buckets (DESIGN §3.5): get/put/delete/compare-and-set, one global revision.
import t from 'tap'
import { clusterLimits, kvGet, kvList } from '../../control-plane/cluster/index.js'
import type { ApplyResult } from '../../control-plane/cluster/index.js'
import { Harness, bytes, text } from './helpers.js'

const code = (r: ApplyResult): string => (r.ok ? r.outcome : r.code)
const revisionOf = (r: ApplyResult): unknown => (r.ok ? r.details.revision : undefined)

function withBuckets(): Harness {
  const h = new Harness()
  h.must({ type: 'ensureBucket', name: 'flows', maxValueBytes: 64 })
  h.must({ type: 'ensureBucket', name: 'other', maxValueBytes: 64 })
  return h
}

t.test('put, get, overwrite, delete', async (t) => {
  const h = withBuckets()
  const put = h.must({ type: 'kvPut', bucket: 'flows', key: 'lb1/conn1', value: bytes('v1') })
  t.equal(code(put.result), 'created')
  t.equal(revisionOf(put.result), 1)
  t.same(put.events.map((e) => e.subject), ['$RG.events.kv.flows.put'])
  t.equal(put.events[0]?.payload.value, 'djE=', 'the event carries the value in base64')
  t.equal(text(kvGet(h.state, 'flows', 'lb1/conn1')?.value), 'v1')
  const overwrite = h.must({ type: 'kvPut', bucket: 'flows', key: 'lb1/conn1', value: bytes('v2') })
  t.equal(code(overwrite.result), 'updated')
  t.same(kvGet(h.state, 'flows', 'lb1/conn1') && { ...kvGet(h.state, 'flows', 'lb1/conn1'), value: 'x' }, { value: 'x', revision: 2, createRevision: 1 })
  const deleted = h.must({ type: 'kvDelete', bucket: 'flows', key: 'lb1/conn1' })
  t.equal(code(deleted.result), 'removed')
  t.equal(revisionOf(deleted.result), 3, 'a delete takes a revision')
  t.equal(kvGet(h.state, 'flows', 'lb1/conn1'), undefined)
  const again = h.must({ type: 'kvDelete', bucket: 'flows', key: 'lb1/conn1' })
  t.equal(code(again.result), 'unchanged', 'deleting a missing key is a no-op')
  t.equal(h.state.kvRevision, 3)
  h.must({ type: 'kvPut', bucket: 'flows', key: 'lb1/conn1', value: bytes('v3') })
  t.equal(kvGet(h.state, 'flows', 'lb1/conn1')?.createRevision, 4, 're-created key gets a new createRevision')
})

t.test('values are copied: mutating the caller buffer does not change the state', async (t) => {
  const h = withBuckets()
  const value = bytes('abc')
  h.must({ type: 'kvPut', bucket: 'flows', key: 'k', value })
  value[0] = 0x7a
  t.equal(text(kvGet(h.state, 'flows', 'k')?.value), 'abc')
})

t.test('compare-and-set by revision', async (t) => {
  const h = withBuckets()
  const create = h.run({ type: 'kvCas', bucket: 'flows', key: 'leader', value: bytes('a'), expectedRevision: 0 })
  t.equal(code(create.result), 'created', '0 = must not exist')
  const exists = h.run({ type: 'kvCas', bucket: 'flows', key: 'leader', value: bytes('b'), expectedRevision: 0 }).result
  t.equal(code(exists), 'RG_ERR_REVISION_MISMATCH')
  if (!exists.ok) t.same([exists.details.expectedRevision, exists.details.actualRevision], [0, 1])
  const wrong = h.run({ type: 'kvCas', bucket: 'flows', key: 'leader', value: bytes('b'), expectedRevision: 7 }).result
  t.equal(code(wrong), 'RG_ERR_REVISION_MISMATCH')
  t.equal(text(kvGet(h.state, 'flows', 'leader')?.value), 'a', 'a failed CAS changes nothing')
  t.equal(h.state.kvRevision, 1, 'and takes no revision')
  const swapped = h.run({ type: 'kvCas', bucket: 'flows', key: 'leader', value: bytes('b'), expectedRevision: 1 })
  t.equal(code(swapped.result), 'updated')
  t.equal(text(kvGet(h.state, 'flows', 'leader')?.value), 'b')
  const missing = h.run({ type: 'kvCas', bucket: 'flows', key: 'nobody', value: bytes('x'), expectedRevision: 3 }).result
  t.equal(code(missing), 'RG_ERR_REVISION_MISMATCH')
  if (!missing.ok) t.match(missing.message, 'does not exist')
  t.equal(code(h.run({ type: 'kvDelete', bucket: 'flows', key: 'leader', expectedRevision: 1 }).result), 'RG_ERR_REVISION_MISMATCH', 'conditional delete')
  t.equal(code(h.run({ type: 'kvDelete', bucket: 'flows', key: 'leader', expectedRevision: 2 }).result), 'removed')
})

t.test('list by prefix, in key order', async (t) => {
  const h = withBuckets()
  for (const key of ['b/2', 'a/1', 'b/1', 'b10', 'c']) h.must({ type: 'kvPut', bucket: 'flows', key, value: bytes(key) })
  h.must({ type: 'kvPut', bucket: 'other', key: 'b/3', value: bytes('x') })
  t.same(kvList(h.state, 'flows', 'b/').map(([key]) => key), ['b/1', 'b/2'])
  t.same(kvList(h.state, 'flows', 'b').map(([key]) => key), ['b/1', 'b/2', 'b10'])
  t.same(kvList(h.state, 'flows').map(([key]) => key), ['a/1', 'b/1', 'b/2', 'b10', 'c'])
  t.same(kvList(h.state, 'missing'), [])
})

t.test('revisions are global and strictly increasing across buckets', async (t) => {
  const h = withBuckets()
  const seen: number[] = []
  for (let i = 0; i < 20; i++) {
    const result = h.must({ type: 'kvPut', bucket: i % 2 === 0 ? 'flows' : 'other', key: `k${i % 3}`, value: bytes(String(i)) }).result
    seen.push(revisionOf(result) as number)
  }
  t.same(seen, Array.from({ length: 20 }, (_, i) => i + 1))
})

t.test('limits and errors', async (t) => {
  const h = withBuckets()
  const large = h.run({ type: 'kvPut', bucket: 'flows', key: 'big', value: new Uint8Array(65) }).result
  t.equal(code(large), 'RG_ERR_VALUE_TOO_LARGE')
  if (!large.ok) t.same([large.details.valueBytes, large.details.maxValueBytes], [65, 64])
  t.equal(code(h.run({ type: 'kvPut', bucket: 'flows', key: 'ok', value: new Uint8Array(64) }).result), 'created')
  t.equal(code(h.run({ type: 'kvPut', bucket: 'nope', key: 'k', value: bytes('v') }).result), 'RG_ERR_NOT_FOUND')
  t.equal(code(h.run({ type: 'kvPut', bucket: 'flows', key: 'bad key', value: bytes('v') }).result), 'RG_ERR_INVALID_NAME')
  t.equal(code(h.run({ type: 'ensureBucket', name: 'huge', maxValueBytes: clusterLimits.kvValueBytesMax + 1 }).result), 'RG_ERR_LIMIT_EXCEEDED')
  t.equal(code(h.run({ type: 'removeBucket', name: 'flows' }).result), 'removed')
  t.equal(kvGet(h.state, 'flows', 'ok'), undefined)
})

t.test("a bucket's maxValueBytes cannot shrink below a stored value", async (t) => {
  const h = withBuckets()
  h.must({ type: 'kvPut', bucket: 'flows', key: 'wide', value: new Uint8Array(10) })
  const result = h.run({ type: 'ensureBucket', name: 'flows', maxValueBytes: 8, update: true }).result
  t.equal(code(result), 'RG_ERR_VALUE_TOO_LARGE')
  if (!result.ok) t.same(result.details.keys, ['wide'])
  t.equal(code(h.run({ type: 'ensureBucket', name: 'flows', maxValueBytes: 10, update: true }).result), 'updated')
})

t.test('a bucket holds at most keysPerBucketMax keys; an overwrite still works at the limit', async (t) => {
  const h = new Harness()
  h.must({ type: 'ensureBucket', name: 'full', maxValueBytes: 4 })
  // Fill through the state directly (10k applies with invariant checks would be slow), then apply at the edge.
  const entries = new Map(Array.from({ length: clusterLimits.keysPerBucketMax }, (_, i) => [`k${i}`, { value: bytes('v'), revision: i + 1, createRevision: i + 1 }] as const))
  const bucket = h.state.buckets.get('full')
  if (bucket === undefined) throw new Error('no bucket')
  h.state = { ...h.state, kvRevision: clusterLimits.keysPerBucketMax, buckets: new Map([['full', { ...bucket, entries }]]) }
  const result = h.run({ type: 'kvPut', bucket: 'full', key: 'one-more', value: bytes('v') }).result
  t.equal(code(result), 'RG_ERR_LIMIT_EXCEEDED')
  if (!result.ok) t.equal(result.details.limit, 'keysPerBucketMax')
  t.equal(code(h.run({ type: 'kvPut', bucket: 'full', key: 'k7', value: bytes('w') }).result), 'updated')
})

t.test('reads return copies: mutating a read value does not change the state', async (t) => {
  const h = withBuckets()
  h.must({ type: 'kvPut', bucket: 'flows', key: 'k', value: bytes('abc') })
  const read = kvGet(h.state, 'flows', 'k')
  if (read !== undefined) read.value[0] = 0x7a
  const listed = kvList(h.state, 'flows')[0]?.[1]
  if (listed !== undefined) listed.value[1] = 0x7a
  t.equal(text(kvGet(h.state, 'flows', 'k')?.value), 'abc')
})
