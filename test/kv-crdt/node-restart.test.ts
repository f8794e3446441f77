// A restart of a node (same data directory and ports) keeps every acknowledged CRDT write: the
// bucket's state is rebuilt from the stream's stored events as a new writer incarnation — the
// values, counters, merged JSON and deletes are all there, including writes acknowledged while
// the node was being stopped. A watch across the restart resumes by itself (the client
// reconnects): the new replica state cannot use the old revisions, so the feed says `reset`,
// sends the full values, then goes on live.
import t from 'tap'
import type { RunningNode } from '../../server/node.js'
import { testCluster } from '../server/cluster-helpers.js'
import { WatchRecorder, client, until, untilWritable } from './node-helpers.js'

const bucket = 'sessions'

t.test('restart keeps every acked write; the watch resumes with a reset', { timeout: 120_000 }, async (t) => {
  const cluster = testCluster(t)
  const plan = await cluster.plan('solo')
  let node: RunningNode = await cluster.start(plan, { nodeId: 'solo' })
  await node.ready
  const c = await client(t, node.clientUrl, { reconnect: { enabled: true, delayMsMin: 50, delayMsMax: 200, attemptsMax: 400 } })
  await c.crdtBuckets.ensure(bucket)
  await untilWritable(node, bucket)
  const kv = c.kvCrdt(bucket)
  const replicaBefore = node.crdtKv()?.replica(bucket)?.replicaId

  // A mix of writes, all acknowledged.
  const expected = new Map<string, string>()
  await Promise.all(Array.from({ length: 120 }, async (_, i) => {
    await kv.put(`p/${i}`, `v${i}`)
    expected.set(`p/${i}`, `v${i}`)
  }))
  await Promise.all(Array.from({ length: 60 }, () => kv.increment('counter')))
  expected.set('counter', '60')
  await kv.merge('doc', { a: 1 })
  await Promise.all([kv.merge('doc', { b: 2 }), kv.merge('doc', { c: { d: 3 } })])
  expected.set('doc', JSON.stringify({ a: 1, b: 2, c: { d: 3 } }))
  for (let i = 0; i < 10; i++) {
    await kv.delete(`p/${i}`)
    expected.delete(`p/${i}`)
  }

  const watch = new WatchRecorder(t, kv.watch({ prefix: 'w/' }))
  await watch.until('ready', (lines) => lines.includes('ready'))
  await kv.put('w/1', 'before')
  await watch.until('the change before the restart', (lines) => lines.includes('w/1=before'))

  // Writes in flight while the node stops: those acknowledged must survive.
  const late = Array.from({ length: 40 }, (_, i) =>
    kv.put(`late/${i}`, `l${i}`, { timeoutMs: 2_000 }).then(
      () => expected.set(`late/${i}`, `l${i}`),
      () => undefined,
    ),
  )
  await new Promise((resolve) => setTimeout(resolve, 5))
  await cluster.stop('solo')
  await Promise.all(late)

  node = await cluster.start(plan, { nodeId: 'solo' })
  await node.ready
  await untilWritable(node, bucket)
  const replica = node.crdtKv()?.replica(bucket)
  t.not(replica?.replicaId, replicaBefore, `a new writer incarnation (${replicaBefore} → ${replica?.replicaId})`)
  const describe = (key: string): string | undefined => {
    const entry = replica?.get(key)
    if (entry === undefined) return undefined
    return entry.value.type === 'bytes' ? Buffer.from(entry.value.bytes).toString('utf8') : entry.value.type === 'json' ? JSON.stringify(entry.value.json) : String(entry.value.count)
  }
  // Acked writes delivered before the stop are in the rebuilt state at once; the others follow as the stream delivers them.
  await until('every acknowledged write in the rebuilt state', () => [...expected].every(([key, value]) => describe(key) === value), 20_000)
  const missing = [...expected].filter(([key, value]) => describe(key) !== value)
  t.same(missing, [], `all ${expected.size} acknowledged keys hold their values`)
  for (let i = 0; i < 10; i++) t.equal(describe(`p/${i}`), undefined, `p/${i} stays deleted`)
  t.equal((await kv.get('counter'))?.count(), 60n)

  // The watch resumed on its own (once the replica serves again): reset, the full values, ready, then live changes.
  await watch.until('the resumed feed', (lines) => lines.includes('reset') && lines.lastIndexOf('ready') > lines.indexOf('reset'))
  await kv.put('w/2', 'after')
  await watch.until('reset and the change after the restart', (lines) => lines.includes('reset') && lines.includes('w/2=after'))
  const afterReset = watch.lines().slice(watch.lines().lastIndexOf('reset'))
  t.same(afterReset.slice(0, 3), ['reset', '*w/1=before', 'ready'], 'reset, the full values, ready')
  t.equal(afterReset.at(-1), 'w/2=after')
  t.equal(watch.error, undefined)
})
