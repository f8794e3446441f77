// Scenarios of the bucket state (state.ts, README.md § Rules), each a small story between
// replicas: last-writer-wins, tombstones, JSON merges, counters, bases and epochs, type
// conflicts, pending operations, limits, hibernated JSON documents, revisions.
import t from 'tap'
import { describeValue, kvCrdtLimits } from '../../data-plane/kv-crdt/index.js'
import type { CrdtKvState, JsonObject, KvEntry, KvOp } from '../../data-plane/kv-crdt/index.js'
import { bytes, newState, unwrap } from './helpers.js'

const text = (entry: KvEntry | undefined): string | undefined => (entry === undefined ? undefined : describeValue(entry))
const json = (state: CrdtKvState, key: string): JsonObject | undefined => {
  const entry = state.get(key)
  return entry?.value.type === 'json' ? entry.value.json : undefined
}
const count = (state: CrdtKvState, key: string): bigint | undefined => {
  const entry = state.get(key)
  return entry?.value.type === 'counter' ? entry.value.count : undefined
}
const deliver = (to: CrdtKvState, ops: readonly KvOp[]): void => {
  for (const op of ops) to.apply(op)
}

t.test('LWW: the put with the greater (hlc, origin) wins on every replica, whatever the arrival order', async (t) => {
  const a = newState('a')
  const b = newState('b')
  const fromA = unwrap(a.put('k', bytes('from-a'), 1_000))
  const fromB = unwrap(b.put('k', bytes('from-b'), 1_000)) // same millisecond: origin 'b' > 'a'
  deliver(a, [fromB])
  deliver(b, [fromA])
  t.equal(text(a.get('k')), text(b.get('k')))
  t.equal(new TextDecoder().decode((a.get('k')?.value as { bytes: Uint8Array }).bytes), 'from-b')
  const later = unwrap(a.put('k', bytes('later'), 999)) // a's physical clock went back: the hlc still moves on
  t.ok(later.id.hlc.wallMs >= 1_000, 'hlc never goes back')
  deliver(b, [later])
  t.equal(text(b.get('k')), text(a.get('k')))
  t.equal(new TextDecoder().decode((b.get('k')?.value as { bytes: Uint8Array }).bytes), 'later')
})

t.test('delete: a tombstone beats an older put that arrives after it; a newer put revives the key', async (t) => {
  const a = newState('a')
  const b = newState('b')
  const put = unwrap(a.put('k', bytes('v1'), 1_000))
  const del = unwrap(b.delete('k', 1_001))
  deliver(a, [del])
  deliver(b, [put]) // late, and older
  t.equal(a.get('k'), undefined)
  t.equal(b.get('k'), undefined)
  t.equal(b.tombstoneCount, 1)
  const again = unwrap(a.put('k', bytes('v2'), 1_002))
  deliver(b, [again])
  t.equal(text(b.get('k')), text(a.get('k')))
  t.equal(b.tombstoneCount, 0)
})

t.test('JSON: concurrent edits to different fields both survive; the same field converges to one value', async (t) => {
  const a = newState('a')
  const b = newState('b')
  const create = unwrap(a.merge('flow/1', { backend: '10.0.0.7', state: 'open', stats: { packets: 1 } }, 1_000))
  deliver(b, [create])
  const fromA = [unwrap(a.merge('flow/1', { state: 'closing', stats: { bytes: 900 } }, 1_001)), unwrap(a.merge('flow/1', { note: 'a' }, 1_002))]
  const fromB = [unwrap(b.merge('flow/1', { lastSeenMs: 1_001, stats: { packets: 7 } }, 1_001)), unwrap(b.merge('flow/1', { note: 'b' }, 1_002))]
  deliver(a, [...fromB].reverse()) // out of order: the second waits for the first inside Automerge
  deliver(b, fromA)
  t.same(json(a, 'flow/1'), json(b, 'flow/1'))
  const value = json(a, 'flow/1') as Record<string, unknown>
  t.equal(value.state, 'closing')
  t.equal(value.lastSeenMs, 1_001)
  t.same(value.stats, { bytes: 900, packets: 7 })
  t.ok(value.note === 'a' || value.note === 'b', 'one of the concurrent writes of the same field')
})

t.test('JSON merge patch (RFC 7386): null removes a field, objects merge, arrays and strings are replaced whole', async (t) => {
  const a = newState('a')
  unwrap(a.merge('doc', { keep: 1, drop: 2, nested: { x: 1, y: { z: 1 } }, list: [1, 2, 3], name: 'alpha' }, 1_000))
  unwrap(a.merge('doc', { drop: null, nested: { y: { z: null, w: 2 } }, list: ['x'], name: 'beta', fresh: { a: null, b: 1 } }, 1_001))
  t.same(json(a, 'doc'), { fresh: { b: 1 }, keep: 1, list: ['x'], name: 'beta', nested: { x: 1, y: { w: 2 } } })
  unwrap(a.merge('doc', {}, 1_002)) // changes nothing, still one operation
  t.same(json(a, 'doc'), { fresh: { b: 1 }, keep: 1, list: ['x'], name: 'beta', nested: { x: 1, y: { w: 2 } } })
  unwrap(a.merge('doc', { nested: 5 }, 1_003)) // an object replaced by a scalar
  t.equal((json(a, 'doc') as Record<string, unknown>).nested, 5)
  t.ok(Object.isFrozen(json(a, 'doc')), 'values handed out are frozen')
})

t.test('counters: concurrent increments sum; a delete resets; increments made before seeing it go, later ones count', async (t) => {
  const [a, b, c] = [newState('a'), newState('b'), newState('c')]
  const incs = [unwrap(a.increment('conns', 5n, 1_000)), unwrap(b.increment('conns', 3n, 1_000)), unwrap(c.increment('conns', -1n, 1_000))]
  for (const s of [a, b, c]) deliver(s, incs)
  t.equal(count(a, 'conns'), 7n)
  t.same([a, b, c].map((s) => count(s, 'conns')), [7n, 7n, 7n])
  const del = unwrap(a.delete('conns', 1_010))
  // b has not seen the delete: its increment (later by the clock) was made on the old counter.
  const stale = unwrap(b.increment('conns', 100n, 1_020))
  t.equal(stale.base.kind, 'floor')
  deliver(c, [stale, del])
  deliver(a, [stale])
  deliver(b, [del])
  t.same([a, b, c].map((s) => count(s, 'conns')), [undefined, undefined, undefined], 'the delete replaces the whole value, concurrent increments included')
  const fresh = unwrap(c.increment('conns', 2n, 1_030))
  t.equal(fresh.base.kind, 'reset', 'made on top of the delete')
  deliver(a, [fresh])
  deliver(b, [fresh])
  t.same([a, b, c].map((s) => count(s, 'conns')), [2n, 2n, 2n])
})

t.test('bases: an operation made on a reset that has not arrived waits for it, then counts', async (t) => {
  const [a, b] = [newState('a'), newState('b')]
  const del = unwrap(a.delete('k', 1_000))
  const m1 = unwrap(a.merge('k', { x: 1 }, 1_001))
  const m2 = unwrap(a.merge('k', { y: 2 }, 1_002))
  t.equal(b.apply(m2).status, 'applied')
  t.equal(b.apply(m1).status, 'applied')
  t.equal(b.pendingCount, 2)
  t.equal(b.get('k'), undefined)
  b.apply(del)
  t.equal(b.pendingCount, 0)
  t.same(json(b, 'k'), { x: 1, y: 2 })
  // An operation on a reset that a newer reset already replaced is dropped when it arrives.
  const put = unwrap(a.put('k', bytes('plain'), 1_003))
  const c = newState('c')
  deliver(c, [put, m2, m1, del])
  t.equal(c.pendingCount, 0)
  t.equal(text(c.get('k')), text(a.get('k')))
  t.equal(text(c.get('k')), 'bytes:706c61696e')
})

t.test('types: a writer refuses a merge or increment on a key of another type (RG_ERR_KV_TYPE_MISMATCH)', async (t) => {
  const a = newState('a')
  unwrap(a.put('plain', bytes('x'), 1_000))
  unwrap(a.increment('count', 1n, 1_000))
  unwrap(a.merge('doc', { x: 1 }, 1_000))
  for (const [outcome, type] of [
    [a.merge('plain', { x: 1 }, 1_001), 'bytes'],
    [a.increment('plain', 1n, 1_001), 'bytes'],
    [a.merge('count', { x: 1 }, 1_001), 'counter'],
    [a.increment('doc', 1n, 1_001), 'json'],
  ] as const) {
    t.notOk(outcome.ok)
    if (!outcome.ok) {
      t.equal(outcome.error.code, 'RG_ERR_KV_TYPE_MISMATCH')
      t.equal(outcome.error.details.type, type)
    }
  }
  unwrap(a.delete('count', 1_002))
  t.ok(a.merge('count', { now: 'json' }, 1_003).ok, 'after a delete the key takes any type')
})

t.test('types: concurrent merge and increment on one epoch — the first by id decides, the other is a counted conflict', async (t) => {
  const [a, b] = [newState('a'), newState('b')]
  const merge = unwrap(a.merge('k', { x: 1 }, 1_000))
  const inc = unwrap(b.increment('k', 4n, 1_001))
  deliver(a, [inc])
  deliver(b, [merge])
  for (const s of [a, b]) {
    t.same(json(s, 'k'), { x: 1 })
    t.equal(s.get('k')?.conflicts, 1)
  }
  // A put's epoch: merges and increments made on top of it by writers that had not seen it... are
  // superseded; made concurrently on the same base they are conflicts of the put.
  const c = newState('c')
  const put = unwrap(c.put('p', bytes('v'), 2_000))
  deliver(a, [put])
  deliver(b, [put])
  t.equal(a.get('p')?.conflicts, 0)
})

t.test('pending operations are bounded: over pendingOpsMax an operation is refused unrecorded, and taken later', async (t) => {
  const a = newState('a')
  const del = unwrap(a.delete('k', 1_000))
  const ops = [unwrap(a.increment('k', 1n, 1_001)), unwrap(a.increment('k', 2n, 1_002))]
  const b = newState('b', { pendingOpsMax: 1 })
  t.same(b.apply(ops[0] as KvOp), { status: 'applied', changed: false })
  t.same(b.apply(ops[1] as KvOp), { status: 'refused', reason: 'pending-full' })
  t.notOk(b.hasApplied((ops[1] as KvOp).id), 'not recorded')
  b.apply(del)
  t.same(b.apply(ops[1] as KvOp), { status: 'applied', changed: true })
  t.equal(count(b, 'k'), 3n)
})

t.test('the gap buffer is bounded: a sequence too far ahead of its writer is refused, then taken', async (t) => {
  const a = newState('a')
  const ops = [1, 2, 3, 4].map((i) => unwrap(a.put(`k${i}`, bytes('v'), 1_000 + i)))
  const b = newState('b', { gapMax: 2 })
  t.same(b.apply(ops[3] as KvOp), { status: 'refused', reason: 'gap-buffer-full' })
  t.same(b.apply(ops[2] as KvOp), { status: 'refused', reason: 'gap-buffer-full' })
  t.equal(b.apply(ops[1] as KvOp).status, 'applied')
  t.equal(b.apply(ops[1] as KvOp).status, 'duplicate')
  deliver(b, [ops[0] as KvOp, ops[2] as KvOp, ops[3] as KvOp])
  t.equal(b.size, 4)
  t.same([...b.appliedVector()], [['a#1', 4]])
})

t.test('writer limits: keys, values, patches, deltas, merges per value', async (t) => {
  const a = newState('a', { keysPerBucketMax: 2, jsonMergesPerValueMax: 2 })
  const code = (outcome: { ok: boolean; error?: { code: string } }): string | undefined => (outcome.ok ? undefined : outcome.error?.code)
  t.equal(code(a.put('', bytes('x'), 1)), 'RG_ERR_INVALID_ARGUMENT')
  t.equal(code(a.put('bad\nkey', bytes('x'), 1)), 'RG_ERR_INVALID_ARGUMENT')
  t.equal(code(a.put('k'.repeat(kvCrdtLimits.keyBytesMax + 1), bytes('x'), 1)), 'RG_ERR_INVALID_ARGUMENT')
  t.equal(code(a.put('big', new Uint8Array(kvCrdtLimits.valueBytesMax + 1), 1)), 'RG_ERR_VALUE_TOO_LARGE')
  t.equal(code(a.merge('j', [] as unknown as JsonObject, 1)), 'RG_ERR_INVALID_ARGUMENT')
  t.equal(code(a.merge('j', JSON.parse('{"__proto__": {"x": 1}}') as JsonObject, 1)), 'RG_ERR_INVALID_ARGUMENT')
  t.equal(code(a.merge('j', { n: Number.NaN }, 1)), 'RG_ERR_INVALID_ARGUMENT')
  let deep: JsonObject = { leaf: 1 }
  for (let i = 0; i < kvCrdtLimits.jsonDepthMax; i++) deep = { d: deep }
  t.equal(code(a.merge('j', deep, 1)), 'RG_ERR_INVALID_ARGUMENT')
  t.equal(code(a.merge('j', { s: 'x'.repeat(kvCrdtLimits.jsonPatchBytesMax) }, 1)), 'RG_ERR_VALUE_TOO_LARGE')
  t.equal(code(a.increment('c', 0n, 1)), 'RG_ERR_INVALID_ARGUMENT')
  t.equal(code(a.increment('c', 2n ** 63n, 1)), 'RG_ERR_INVALID_ARGUMENT')
  t.equal(a.recordCount, 0, 'refused writes leave nothing behind')
  unwrap(a.merge('j', { n: 1 }, 2))
  unwrap(a.merge('j', { n: 2 }, 3))
  t.equal(code(a.merge('j', { n: 3 }, 4)), 'RG_ERR_LIMIT_EXCEEDED')
  unwrap(a.put('p', bytes('x'), 5))
  const third = a.put('third', bytes('x'), 6)
  t.equal(code(third), 'RG_ERR_LIMIT_EXCEEDED')
  if (!third.ok) t.equal(third.error.details.limit, 'keysPerBucketMax')
  t.ok(a.put('p', bytes('overwrite'), 7).ok, 'a key that has a value can still be written')
  unwrap(a.delete('p', 8))
  t.ok(a.put('third', bytes('x'), 9).ok, 'room again after a delete')
})

t.test('a merge patch at its byte limit makes a change within jsonChangeBytesMax', async (t) => {
  const a = newState('a')
  const budget = kvCrdtLimits.jsonPatchBytesMax - 64
  const manyFields: Record<string, number> = {}
  // Each field adds `"name":value,` to the JSON text.
  for (let i = 0, length = 2; length < budget; i++) {
    manyFields[i.toString(36)] = i
    length += i.toString(36).length + String(i).length + 4
  }
  const longString = { s: 'x'.repeat(budget - 10) }
  const numbers = { list: Array.from({ length: Math.floor(budget / 2) - 20 }, () => 1) }
  const deep: Record<string, unknown> = {}
  let at = deep
  for (let i = 0; i < kvCrdtLimits.jsonDepthMax - 2; i++) at = at[`n${i}`] = {} as Record<string, unknown>
  for (const patch of [manyFields, longString, numbers, deep] as JsonObject[]) {
    const key = `k${a.recordCount}`
    const op = unwrap(a.merge(key, patch, 1_000))
    t.ok(op.change.length <= kvCrdtLimits.jsonChangeBytesMax, `${JSON.stringify(patch).length} patch bytes → ${op.change.length} change bytes`)
    unwrap(a.delete(key, 1_001))
  }
})

t.test('hibernation: with 2 documents loaded, 20 JSON keys still read and merge right', async (t) => {
  const writer = newState('w')
  const hibernating = newState('h', { jsonDocsLoadedMax: 2 })
  const plain = newState('p')
  const ops: KvOp[] = []
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 20; i++) ops.push(unwrap(writer.merge(`flow/${i}`, { [`r${round}`]: i, last: round }, 1_000 + round)))
  }
  deliver(hibernating, ops)
  deliver(plain, ops)
  t.ok(hibernating.loadedDocCount <= 2, `${hibernating.loadedDocCount} loaded`)
  t.equal(JSON.stringify(hibernating.view()), JSON.stringify(plain.view()))
  // The hibernating replica writes on top of a hibernated document (loaded again for the change).
  const own = unwrap(hibernating.merge('flow/0', { closed: true }, 2_000))
  deliver(plain, [own])
  deliver(writer, [own])
  t.same(json(plain, 'flow/0'), json(hibernating, 'flow/0'))
  t.same(json(writer, 'flow/0'), { closed: true, last: 2, r0: 0, r1: 0, r2: 0 })
  t.ok(hibernating.loadedDocCount <= 2)
})

t.test('revisions move only with visible changes; duplicates and losing writes change nothing', async (t) => {
  const [a, b] = [newState('a'), newState('b')]
  const newer = unwrap(b.put('k', bytes('newer'), 2_000))
  const older = unwrap(a.put('k', bytes('older'), 1_000))
  t.same(a.apply(newer), { status: 'applied', changed: true })
  const revision = a.revision
  t.same(a.apply(newer), { status: 'duplicate' })
  t.same(b.apply(older), { status: 'applied', changed: false })
  t.equal(a.revision, revision)
  t.equal(a.get('k')?.revision, revision)
  t.same(a.get('k')?.updatedHlc, { wallMs: 2_000, logical: 0 })
})

t.test('own operations: contiguous sequences from 1, increasing hlc', async (t) => {
  const a = newState('a')
  const ops = [unwrap(a.put('x', bytes('1'), 5)), unwrap(a.delete('x', 5)), unwrap(a.increment('y', 1n, 4)), unwrap(a.merge('z', { q: 1 }, 3))]
  t.same(
    ops.map((op) => op.id.originSeq),
    [1, 2, 3, 4],
  )
  for (let i = 1; i < ops.length; i++) t.ok((ops[i] as KvOp).id.hlc.logical > (ops[i - 1] as KvOp).id.hlc.logical || (ops[i] as KvOp).id.hlc.wallMs > (ops[i - 1] as KvOp).id.hlc.wallMs)
})
