// The change feed (watch.ts): current values, `ready`, then every visible change of the selected
// keys in revision order, each once; nothing is lost when a subscriber writes while it receives;
// unsubscribing frees the listener; resumption from a revision, and `reset` when it cannot.
import { take, toArray, firstValueFrom } from 'rxjs'
import t from 'tap'
import type { KvOp, KvWatchEvent } from '../../data-plane/kv-crdt/index.js'
import { bytes, newState, unwrap } from './helpers.js'

const brief = (event: KvWatchEvent): string => {
  switch (event.type) {
    case 'value':
      return `${event.initial ? 'initial ' : ''}value ${event.key}@${event.entry.revision}`
    case 'delete':
      return `${event.initial ? 'initial ' : ''}delete ${event.key}@${event.revision}`
    default:
      return `${event.type}@${event.revision}`
  }
}

t.test('initial values in key order, ready, then live changes of the selected keys only', async (t) => {
  const s = newState('a')
  unwrap(s.put('flow/2', bytes('b'), 1))
  unwrap(s.put('flow/1', bytes('a'), 2))
  unwrap(s.put('other', bytes('x'), 3))
  const events: string[] = []
  const byKey: string[] = []
  const prefix = s.watch({ prefix: 'flow/' }).subscribe((e) => events.push(brief(e)))
  const single = s.watch('flow/1').subscribe((e) => byKey.push(brief(e)))
  unwrap(s.put('other', bytes('y'), 4))
  unwrap(s.merge('flow/3', { state: 'open' }, 5))
  unwrap(s.delete('flow/1', 6))
  unwrap(s.delete('flow/never', 7)) // a tombstone for a key without a value: no visible change
  t.same(events, ['initial value flow/1@2', 'initial value flow/2@1', 'ready@3', 'value flow/3@5', 'delete flow/1@6'])
  t.same(byKey, ['initial value flow/1@2', 'ready@3', 'delete flow/1@6'])
  prefix.unsubscribe()
  single.unsubscribe()
  t.equal(s.watcherCount, 0, 'unsubscribing removes the listeners')
})

t.test('gap-free: a subscriber that writes while it receives sees every change once, in revision order, after ready', async (t) => {
  const s = newState('a')
  for (let i = 0; i < 5; i++) unwrap(s.increment(`c${i}`, 1n, 1))
  const seen: KvWatchEvent[] = []
  let writes = 0
  const subscription = s.watch({ prefix: 'c' }).subscribe((event) => {
    seen.push(event)
    // Writes from inside next(): during the initial values and during live changes.
    if (writes < 20) {
      writes++
      unwrap(s.increment(`c${writes % 7}`, 1n, 2))
    }
  })
  subscription.unsubscribe()
  const readyAt = seen.findIndex((e) => e.type === 'ready')
  t.equal(readyAt, 5)
  const live = seen.slice(readyAt + 1)
  t.equal(live.length, 20, 'one event per write')
  const revisions = live.map((e) => (e.type === 'value' ? e.entry.revision : -1))
  t.same(revisions, [...revisions].sort((a, b) => a - b), 'in revision order')
  t.equal(new Set(revisions).size, revisions.length, 'each once')
  t.equal(revisions.at(-1), s.revision)
  // Each event's value is the value at its revision: replaying the increments gives the same counts.
  const counts = new Map<string, bigint>()
  for (const e of seen) if (e.type === 'value' && e.entry.value.type === 'counter') counts.set(e.key, e.entry.value.count)
  for (const [key, value] of counts) t.equal(value, (s.get(key)?.value as { count: bigint }).count, `last event of ${key} is its current value`)
})

t.test('take(n) completes and frees the listener; watching a key with no value emits ready only', async (t) => {
  const s = newState('a')
  const first = firstValueFrom(s.watch('k').pipe(take(3), toArray()))
  t.equal(s.watcherCount, 1)
  unwrap(s.put('k', bytes('1'), 1))
  unwrap(s.put('k', bytes('2'), 2))
  t.same((await first).map(brief), ['ready@0', 'value k@1', 'value k@2'])
  t.equal(s.watcherCount, 0)
})

t.test('resumption: changes after a revision (deletes included); reset + full state when the revision is unusable', async (t) => {
  const [a, b] = [newState('a'), newState('b')]
  const ops: KvOp[] = []
  ops.push(unwrap(a.put('k1', bytes('1'), 1_000)))
  ops.push(unwrap(a.put('k2', bytes('2'), 1_001)))
  const resumeFrom = a.revision
  ops.push(unwrap(a.delete('k1', 1_002)))
  ops.push(unwrap(a.merge('k3', { x: 1 }, 1_003)))
  const resumed = await firstValueFrom(a.watch({ prefix: 'k' }, { fromRevision: resumeFrom }).pipe(take(3), toArray()))
  t.same(resumed.map(brief), ['initial delete k1@3', 'initial value k3@4', 'ready@4'])
  // A revision from the future (another replica's numbering) cannot be trusted.
  for (const op of ops) b.apply(op)
  const future = await firstValueFrom(b.watch({ prefix: 'k' }, { fromRevision: 99 }).pipe(take(4), toArray()))
  t.same(future.map(brief), ['reset@4', 'initial value k2@2', 'initial value k3@4', 'ready@4'])
  // After the tombstone of k1 is collected, resuming from before its delete is a reset.
  a.collectGarbage({ stableHlc: { wallMs: 2_000, logical: 0 }, clockCeiling: { wallMs: 2_000, logical: 0 } })
  a.collectGarbage({ stableHlc: { wallMs: 2_000, logical: 0 }, clockCeiling: { wallMs: 2_000, logical: 0 } })
  t.equal(a.tombstoneCount, 0)
  t.equal(a.purgedThroughRevision, 3)
  const afterGc = await firstValueFrom(a.watch({ prefix: 'k' }, { fromRevision: resumeFrom }).pipe(take(4), toArray()))
  t.same(afterGc.map(brief), ['reset@4', 'initial value k2@2', 'initial value k3@4', 'ready@4'])
  const sincePurge = await firstValueFrom(a.watch({ prefix: 'k' }, { fromRevision: 3 }).pipe(take(2), toArray()))
  t.same(sincePurge.map(brief), ['initial value k3@4', 'ready@4'], 'resuming at the purge point is still exact')
})

t.test('a subscriber that unsubscribes during the initial values gets nothing more', async (t) => {
  const s = newState('a')
  for (let i = 0; i < 5; i++) unwrap(s.put(`k${i}`, bytes('v'), 1))
  const got: string[] = []
  const subscription = s
    .watch({ prefix: '' })
    .pipe(take(2))
    .subscribe((e) => got.push(brief(e)))
  unwrap(s.put('k9', bytes('v'), 2))
  subscription.unsubscribe()
  t.same(got, ['initial value k0@1', 'initial value k1@2'])
  t.equal(s.watcherCount, 0)
})
