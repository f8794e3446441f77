// The client-facing API of CRDT buckets (client/kv-crdt.ts) against the in-memory replicated
// harness: writes acknowledged by a majority of the local region, visible in other regions after
// shipping, JSON merges from two regions, counters, type refusals with the server's code,
// client-side argument checks, ack levels under a partition, and watch.
import { take, toArray, firstValueFrom } from 'rxjs'
import t from 'tap'
import { ApiError } from '../../client/api-error.js'
import { InvalidArgumentError } from '../../client/errors.js'
import { CrdtKvBucket } from '../../client/kv-crdt.js'
import type { CrdtKvWatchEvent } from '../../client/kv-crdt.js'
import { KvHarness } from './harness.js'

const regions = [
  { name: 'east', replicas: 3 },
  { name: 'west', replicas: 3 },
]

function setup(seed: number): { h: KvHarness; east: CrdtKvBucket; west: CrdtKvBucket } {
  const h = new KvHarness({ regions, seed })
  return { h, east: new CrdtKvBucket(h.transport('east-1'), h.bucket), west: new CrdtKvBucket(h.transport('west-2'), h.bucket) }
}

t.test('put is acknowledged by a majority of the local region, then shows in the other region', async (t) => {
  const { h, east, west } = setup(1)
  t.teardown(() => h.dispose())
  const ack = await east.put('config/mode', 'active')
  t.equal(ack.level, 'majority')
  t.equal(ack.origin, 'east-1')
  t.ok(ack.replicasHolding >= 2 && ack.replicas === 3, `${ack.replicasHolding} of ${ack.replicas} east replicas hold it`)
  t.equal((await east.get('config/mode'))?.string(), 'active')
  h.settle()
  const entry = await west.get('config/mode')
  t.equal(entry?.string(), 'active')
  t.equal(entry?.type, 'bytes')
  t.same(entry?.updatedHlc, ack.hlc)
  await west.delete('config/mode')
  h.settle()
  t.equal(await east.get('config/mode'), undefined)
})

t.test('merges from two regions to different fields both survive; counters sum', async (t) => {
  const { h, east, west } = setup(2)
  t.teardown(() => h.dispose())
  await east.merge('flow/1', { backend: '10.0.0.7', state: 'open' })
  h.settle()
  await Promise.all([east.merge('flow/1', { bytesIn: 1200 }), west.merge('flow/1', { state: 'closing', bytesOut: 800 }), east.increment('active/b1'), west.increment('active/b1', 2)])
  h.settle()
  for (const bucket of [east, west]) {
    t.same((await bucket.get('flow/1'))?.json(), { backend: '10.0.0.7', bytesIn: 1200, bytesOut: 800, state: 'closing' })
    t.equal((await bucket.get('active/b1'))?.count(), 3n)
  }
  t.same(
    (await east.list('flow/')).map((e) => e.key),
    ['flow/1'],
  )
  const counter = await east.get('active/b1')
  t.throws(() => counter?.json(), InvalidArgumentError, 'typed accessors refuse the wrong type')
  t.throws(() => counter?.string(), InvalidArgumentError)
})

t.test('refusals carry the replica\'s code; bad arguments are refused before sending', async (t) => {
  const { h, east } = setup(3)
  t.teardown(() => h.dispose())
  await east.increment('n', 5)
  await t.rejects(east.merge('n', { x: 1 }), { constructor: ApiError, code: 'RG_ERR_KV_TYPE_MISMATCH', details: { type: 'counter' } })
  await t.rejects(east.put('bad\u0001key', 'x'), { constructor: ApiError, code: 'RG_ERR_INVALID_ARGUMENT' })
  await t.rejects(east.put('', 'x'), InvalidArgumentError)
  await t.rejects(east.merge('k', [] as never), InvalidArgumentError)
  await t.rejects(east.increment('n', 0), InvalidArgumentError)
  await t.rejects(east.increment('n', 1.5), InvalidArgumentError)
  await t.rejects(east.increment('n', 2n ** 63n), InvalidArgumentError)
  await t.rejects(east.put('k', 'x', { ack: 'most' as never }), InvalidArgumentError)
  await t.rejects(east.put('k', 'x', { timeoutMs: 0 }), InvalidArgumentError)
  t.equal(h.issued.length, 1, 'nothing but the first increment was written')
})

t.test('ack levels: with two east replicas cut off, `majority` times out (outcome unknown), `write` is acknowledged; both spread after healing', async (t) => {
  const { h, east, west } = setup(4)
  t.teardown(() => h.dispose())
  h.isolate('east-2')
  h.isolate('east-3')
  await t.rejects(east.put('k1', 'v1', { timeoutMs: 2_000 }), { constructor: ApiError, code: 'RG_ERR_REQUEST_TIMEOUT', details: { outcome: 'unknown', holding: 1, needed: 2 } })
  const ack = await east.put('k2', 'v2', { ack: 'write' })
  t.equal(ack.replicasHolding, 1)
  h.run(1_000)
  t.equal((await west.get('k2'))?.string(), 'v2', 'the other region gets it while the local majority is cut off')
  h.healAll()
  t.ok(h.settle())
  for (const id of ['east-2', 'east-3']) t.equal(h.replica(id).state.get('k1') !== undefined, true, `${id} holds k1 after healing`)
  const all = await east.put('k3', 'v3', { ack: 'all' })
  t.equal(all.replicasHolding, 3)
})

t.test('watch: current values, ready, then changes made in the other region as they arrive', async (t) => {
  const { h, east, west } = setup(5)
  t.teardown(() => h.dispose())
  await east.merge('flow/1', { state: 'open' })
  await east.put('other', 'x')
  const events: CrdtKvWatchEvent[] = []
  const subscription = east.watch({ prefix: 'flow/' }).subscribe((e) => events.push(e))
  await west.merge('flow/2', { state: 'open' })
  await west.delete('flow/1')
  h.settle()
  subscription.unsubscribe()
  t.same(
    events.map((e) => (e.type === 'value' ? `${e.initial ? 'initial ' : ''}${e.key}=${JSON.stringify(e.entry.json())}` : e.type === 'delete' ? `delete ${e.key}` : e.type)),
    ['initial flow/1={"state":"open"}', 'ready', 'flow/2={"state":"open"}', 'delete flow/1'],
  )
  t.equal(h.replica('east-1').state.watcherCount, 0, 'unsubscribing reaches the replica')
  const one = await firstValueFrom(east.watch('flow/2').pipe(take(2), toArray()))
  t.same(
    one.map((e) => e.type),
    ['value', 'ready'],
  )
})
