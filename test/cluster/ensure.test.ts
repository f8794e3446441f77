// Declarative ensure (DESIGN §3.1: "the same request twice is a no-op; a conflicting one
// reports the difference"): created → unchanged → conflict with diff → updated with update:true.
import t from 'tap'
import { clusterLimits } from '../../control-plane/cluster/index.js'
import { deadLetterSuffix } from '../../control-plane/cluster/apply-consumers.js'
import { dlqStreamName } from '../../shared/api/consumer-wire.js'
import type { ApplyResult, Command } from '../../control-plane/cluster/index.js'
import { Harness, groupCommand, nodeCommand, pipelineCommand, streamCommand, threeNodeCluster } from './helpers.js'

function outcome(result: ApplyResult): string {
  return result.ok ? result.outcome : result.code
}

interface Case {
  name: string
  setup: (h: Harness) => void
  first: Command
  changed: Command
  changedPath: string
}

const cases: Case[] = [
  {
    name: 'namespace',
    setup: () => {},
    first: { type: 'ensureNamespace', name: 'payments', description: 'money' },
    changed: { type: 'ensureNamespace', name: 'payments', description: 'cash' },
    changedPath: 'description',
  },
  {
    name: 'stream',
    setup: () => {},
    first: streamCommand(),
    changed: streamCommand({ retention: { maxAgeMs: 86_400_000, maxBytes: 0, maxEvents: 0 } }),
    changedPath: 'retention.maxAgeMs',
  },
  {
    name: 'consumer group',
    setup: (h) => h.must(streamCommand()),
    first: groupCommand(),
    changed: groupCommand({ maxInFlight: 7 }),
    changedPath: 'maxInFlight',
  },
  {
    name: 'pipeline',
    setup: (h) => h.must(streamCommand()),
    first: pipelineCommand(),
    changed: pipelineCommand({ stages: [{ name: 'validate', after: [], dependencies: [] }] }),
    changedPath: 'stages',
  },
  {
    name: 'role',
    setup: () => {},
    first: { type: 'ensureRole', name: 'reader', grants: [{ permission: 'read', region: '*', stream: 'default/*' }] },
    changed: { type: 'ensureRole', name: 'reader', grants: [{ permission: 'read', region: 'us-east', stream: '*' }] },
    changedPath: 'grants',
  },
  {
    name: 'user',
    setup: (h) => h.must({ type: 'ensureRole', name: 'reader', grants: [] }),
    first: { type: 'ensureUser', name: 'alice', passwordHash: 'argon2:aaa', roles: ['reader'] },
    changed: { type: 'ensureUser', name: 'alice', passwordHash: 'argon2:aaa', roles: [] },
    changedPath: 'roles',
  },
  {
    name: 'bucket',
    setup: () => {},
    first: { type: 'ensureBucket', name: 'flows', maxValueBytes: 1024 },
    changed: { type: 'ensureBucket', name: 'flows', maxValueBytes: 2048 },
    changedPath: 'maxValueBytes',
  },
]

for (const c of cases) {
  t.test(`ensure ${c.name}: created → unchanged → conflict → updated`, async (t) => {
    const h = threeNodeCluster()
    h.must({ type: 'ensureRegion', name: 'us-east' })
    c.setup(h)
    const created = h.run(c.first)
    t.equal(outcome(created.result), 'created')
    t.ok(created.events.length > 0, 'creation publishes an event')
    const again = h.run(c.first)
    t.equal(outcome(again.result), 'unchanged', 'the same request twice is a no-op')
    t.same(again.events, [], 'a no-op publishes nothing')
    const before = h.state
    const conflict = h.run(c.changed)
    t.equal(outcome(conflict.result), 'RG_ERR_CONFLICT')
    if (!conflict.result.ok) {
      const diffs = conflict.result.details.diffs as { path: string }[]
      t.same(diffs.map((d) => d.path), [c.changedPath], 'the conflict names the differing field')
      t.match(conflict.result.message, c.changedPath)
      t.match(conflict.result.message, '→')
    }
    t.equal(h.state.streams, before.streams, 'a conflict changes nothing')
    const updated = h.run({ ...c.changed, update: true } as Command)
    t.equal(outcome(updated.result), 'updated')
    t.match(updated.events[0]?.subject ?? '', /^\$RG\.events\.[a-z]+\.updated$/)
    t.equal(outcome(h.run(c.changed).result), 'unchanged', 'after the update the new definition is the stored one')
  })
}

t.test('conflict diff reports old → new values with dotted paths', async (t) => {
  const h = threeNodeCluster()
  h.must(streamCommand())
  const result = h.run(streamCommand({ replicasPerRegion: 2, deadLetter: { maxDeliveries: 9, maxLag: 10_000 } })).result
  t.notOk(result.ok)
  if (result.ok) return
  t.same(result.details.diffs, [
    { path: 'deadLetter.maxDeliveries', old: 5, new: 9 },
    { path: 'replicasPerRegion', old: 3, new: 2 },
  ])
})

t.test('password hashes never appear in conflict messages', async (t) => {
  const h = new Harness()
  h.must({ type: 'ensureUser', name: 'bob', passwordHash: 'secret-hash-1', roles: [] })
  const result = h.run({ type: 'ensureUser', name: 'bob', passwordHash: 'secret-hash-2', roles: [] }).result
  t.notOk(result.ok)
  if (result.ok) return
  t.notMatch(JSON.stringify(result), 'secret-hash')
  t.match(result.message, 'passwordHash')
})

t.test('equivalent requests compare equal after normalisation', async (t) => {
  const h = new Harness()
  h.must(nodeCommand('n1', 'eu'))
  h.must(nodeCommand('n2', 'us'))
  h.must(streamCommand({ regions: ['us', 'eu'], replicasPerRegion: 1 }))
  t.equal(outcome(h.run(streamCommand({ regions: ['eu', 'us'], replicasPerRegion: 1 })).result), 'unchanged', 'regions are a set')
  h.must(pipelineCommand())
  const reordered = pipelineCommand({ stages: [...pipelineCommand().stages].reverse() })
  t.equal(outcome(h.run(reordered).result), 'unchanged', 'stage order in the request does not matter')
})

t.test("a stream's kind cannot change, even with update", async (t) => {
  const h = threeNodeCluster()
  h.must(streamCommand())
  const result = h.run(streamCommand({ kind: 'ephemeral', update: true })).result
  t.equal(outcome(result), 'RG_ERR_IMMUTABLE_FIELD')
})

t.test('references must exist', async (t) => {
  const h = threeNodeCluster()
  t.equal(outcome(h.run(streamCommand({ namespace: 'nope' })).result), 'RG_ERR_NOT_FOUND')
  t.equal(outcome(h.run(streamCommand({ regions: ['mars'] })).result), 'RG_ERR_NOT_FOUND')
  t.equal(outcome(h.run(groupCommand()).result), 'RG_ERR_NOT_FOUND', 'group on a missing stream')
  t.equal(outcome(h.run(pipelineCommand()).result), 'RG_ERR_NOT_FOUND', 'pipeline on a missing trigger stream')
  t.equal(outcome(h.run({ type: 'ensureUser', name: 'u', passwordHash: 'h', roles: ['ghost'] }).result), 'RG_ERR_NOT_FOUND')
  h.must(streamCommand({ name: 'chat', kind: 'ephemeral' }))
  t.equal(outcome(h.run(groupCommand({ stream: 'chat' })).result), 'RG_ERR_INVALID_ARGUMENT', 'groups are defined on persistent streams')
})

t.test('removal: in-use objects are protected, then removed', async (t) => {
  const h = threeNodeCluster()
  h.must(streamCommand())
  h.must(groupCommand())
  h.must(pipelineCommand())
  const inUse = h.run({ type: 'removeStream', namespace: 'default', name: 'orders' }).result
  t.equal(outcome(inUse), 'RG_ERR_IN_USE')
  if (!inUse.ok) t.same(inUse.details, { stream: 'default/orders', groups: ['default/orders/billing'], pipelines: ['default/fulfil'] })
  t.equal(outcome(h.run({ type: 'removeConsumerGroup', namespace: 'default', stream: 'orders', name: 'billing' }).result), 'removed')
  t.equal(outcome(h.run({ type: 'removePipeline', namespace: 'default', name: 'fulfil' }).result), 'removed')
  const removed = h.run({ type: 'removeStream', namespace: 'default', name: 'orders' })
  t.equal(outcome(removed.result), 'removed')
  t.equal(h.state.placements.size, 0, 'the placement goes with the stream')
  t.ok(removed.events.some((e) => e.subject === '$RG.events.placement.changed' && e.payload.removed === true))
  t.equal(outcome(h.run({ type: 'removeStream', namespace: 'default', name: 'orders' }).result), 'RG_ERR_NOT_FOUND')
})

t.test('tokens: add, idempotent, immutable, revoke; removing a user removes its tokens', async (t) => {
  const h = new Harness()
  h.must({ type: 'ensureUser', name: 'carol', passwordHash: 'h', roles: [] })
  const token = { type: 'addToken', id: 'tok-1', hash: 'sha256:abc', user: 'carol', expiresAtMs: 0 } as const
  t.equal(outcome(h.run(token).result), 'created')
  t.notMatch(JSON.stringify(h.run(token)), 'sha256:abc', 'the hash is never returned or published')
  t.equal(outcome(h.run({ ...token, hash: 'sha256:def' }).result), 'RG_ERR_CONFLICT')
  t.equal(outcome(h.run({ type: 'revokeToken', id: 'tok-1' }).result), 'updated')
  t.equal(h.state.tokens.get('tok-1')?.revoked, true)
  t.equal(outcome(h.run({ type: 'revokeToken', id: 'tok-1' }).result), 'unchanged')
  t.equal(outcome(h.run(token).result), 'RG_ERR_CONFLICT', 'a revoked token id cannot be reused')
  t.equal(outcome(h.run({ ...token, id: 'tok-2', user: 'dave' }).result), 'RG_ERR_NOT_FOUND')
  t.equal(outcome(h.run({ type: 'removeUser', name: 'carol' }).result), 'removed')
  t.equal(h.state.tokens.size, 0)
})

t.test('a role held by a user cannot be removed', async (t) => {
  const h = new Harness()
  h.must({ type: 'ensureRole', name: 'ops', grants: [{ permission: 'admin', region: '*', stream: '*' }] })
  h.must({ type: 'ensureUser', name: 'erin', passwordHash: 'h', roles: ['ops'] })
  t.equal(outcome(h.run({ type: 'removeRole', name: 'ops' }).result), 'RG_ERR_IN_USE')
  h.must({ type: 'ensureUser', name: 'erin', passwordHash: 'h', roles: [], update: true })
  t.equal(outcome(h.run({ type: 'removeRole', name: 'ops' }).result), 'removed')
  t.equal(outcome(h.run({ type: 'ensureRole', name: 'bad', grants: [{ permission: 'read', region: '*', stream: 'a.b/c' }] }).result), 'RG_ERR_INVALID_NAME')
  t.equal(outcome(h.run({ type: 'ensureRole', name: 'bad', grants: [{ permission: 'read', region: '*', stream: 'orders' }] }).result), 'RG_ERR_INVALID_NAME')
})

t.test('limits: replicasPerRegion above the maximum is a clear error', async (t) => {
  const h = threeNodeCluster()
  const result = h.run(streamCommand({ replicasPerRegion: 17 })).result
  t.equal(outcome(result), 'RG_ERR_LIMIT_EXCEEDED')
  if (!result.ok) t.match(result.message, 'replicasPerRegion')
})

t.test('limits: the namespace count is capped with a clear error', async (t) => {
  const h = new Harness()
  for (let i = 1; i < 1000; i++) h.must({ type: 'ensureNamespace', name: `ns${i}` })
  t.equal(h.state.namespaces.size, 1000)
  const result = h.run({ type: 'ensureNamespace', name: 'one-too-many' }).result
  t.equal(outcome(result), 'RG_ERR_LIMIT_EXCEEDED')
  if (!result.ok) t.equal(result.details.limit, 'namespacesMax')
  t.equal(outcome(h.run({ type: 'ensureNamespace', name: 'ns1' }).result), 'unchanged', 'existing ones still answer')
})

t.test('tokens at the limit: revoked and expired ones (by entry time) make room, live ones do not', async (t) => {
  const h = new Harness()
  h.must({ type: 'ensureUser', name: 'svc', passwordHash: 'h', roles: [] })
  const tokens = new Map(
    Array.from({ length: clusterLimits.tokensMax }, (_, i) => [`t${i}`, { id: `t${i}`, hash: 'x', user: 'svc', expiresAtMs: 0, revoked: false, createdIndex: 1 }] as const),
  )
  h.state = { ...h.state, tokens }
  const full = h.run({ type: 'addToken', id: 'new', hash: 'y', user: 'svc', expiresAtMs: 0 }).result
  t.equal(outcome(full), 'RG_ERR_LIMIT_EXCEEDED')
  h.must({ type: 'revokeToken', id: 't5' })
  h.state = { ...h.state, tokens: new Map(h.state.tokens).set('t9', { id: 't9', hash: 'x', user: 'svc', expiresAtMs: h.timeMs, revoked: false, createdIndex: 1 }) }
  const added = h.run({ type: 'addToken', id: 'new', hash: 'y', user: 'svc', expiresAtMs: 0 })
  t.equal(outcome(added.result), 'created')
  t.notOk(h.state.tokens.has('t5'), 'revoked token dropped')
  t.notOk(h.state.tokens.has('t9'), 'expired token dropped')
  t.ok(h.state.tokens.has('t6'))
  t.same(added.events.map((e) => e.subject), ['$RG.events.token.created', '$RG.events.token.removed', '$RG.events.token.removed'])
})

t.test('a group on a stream whose dead-letter stream name would break the name rules is refused, with the reason', async (t) => {
  const h = threeNodeCluster()
  const longest = 'a'.repeat(clusterLimits.nameLengthMax)
  h.must(streamCommand({ name: longest }))
  const refused = h.run(groupCommand({ stream: longest })).result
  t.equal(outcome(refused), 'RG_ERR_INVALID_NAME')
  t.match(refused.ok ? '' : refused.message, /dead-letter stream a+-dlq would be invalid \(.*longer than 64/)
  const fits = 'b'.repeat(clusterLimits.nameLengthMax - deadLetterSuffix.length)
  h.must(streamCommand({ name: fits }))
  t.equal(outcome(h.run(groupCommand({ stream: fits })).result), 'created', 'a name that leaves room for -dlq')
  t.equal(dlqStreamName(fits).length, clusterLimits.nameLengthMax, 'the suffix is the one the servers use')
})
