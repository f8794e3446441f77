// Name rules (names.ts) and the namespace rules from founding note 001: "the default namespace
// is always present and can not be removed"; "validate namespace names".
import t from 'tap'
import { checkName } from '../../control-plane/cluster/index.js'
import type { NameKind } from '../../control-plane/cluster/index.js'
import { Harness, streamCommand, threeNodeCluster } from './helpers.js'

const valid: [NameKind, string][] = [
  ['namespace', 'payments'],
  ['namespace', 'a'],
  ['stream', 'orders-v2'],
  ['stream', 'ORDERS_2024'],
  ['stream', 'x'.repeat(64)],
  ['group', 'billing'],
  ['stage', 'charge-card'],
  ['bucket', 'flow_state'],
  ['user', 'alice@example.com'],
  ['user', 'first.last'],
  ['key', 'flows/lb-1/conn.42'],
  ['controller', 'scc/default/orders/billing/us-east'],
]

const invalid: [NameKind, string, string][] = [
  ['namespace', '', 'must not be empty'],
  ['namespace', 'pay.ments', 'only'],
  ['stream', 'orders/eu', 'only'],
  ['stream', 'a b', 'only'],
  ['stream', 'x'.repeat(65), 'longer than 64'],
  ['stream', '$RG', 'reserved for the system'],
  ['group', 'all*', 'only'],
  ['group', 'tail>', 'only'],
  ['stage', '__proto__', 'reserved'],
  ['bucket', 'é', 'only'],
  ['user', 'bob smith', 'only'],
  ['user', '$admin', 'reserved'],
  ['key', '.hidden', 'start or end'],
  ['key', 'a*b', 'only'],
  ['key', 'k'.repeat(1025), 'longer than 1024'],
  ['controller', 'a b', 'only'],
]

t.test('valid names', async (t) => {
  for (const [kind, name] of valid) t.equal(checkName(kind, 'field', name), undefined, `${kind} ${JSON.stringify(name.slice(0, 20))}`)
})

t.test('invalid names are rejected with a message naming the field and the rule', async (t) => {
  for (const [kind, name, rule] of invalid) {
    const problem = checkName(kind, 'spec.name', name)
    t.equal(problem?.code, 'RG_ERR_INVALID_NAME', `${kind} ${JSON.stringify(name.slice(0, 20))}`)
    t.match(problem?.message ?? '', /^spec\.name: invalid /, 'the message starts with the field')
    t.match(problem?.message ?? '', rule)
    t.equal(problem?.details.field, 'spec.name')
  }
})

t.test('apply rejects bad names with the field they came from', async (t) => {
  const h = threeNodeCluster()
  const cases = [
    { command: streamCommand({ name: 'or.ders' }), field: 'name' },
    { command: streamCommand({ namespace: 'de fault' }), field: 'namespace' },
    { command: streamCommand({ regions: ['us-east', 'eu.west'] }), field: 'regions[1]' },
    { command: { type: 'ensureNamespace', name: '$sys' } as const, field: 'name' },
    { command: { type: 'ensureBucket', name: 'b.c', maxValueBytes: 10 } as const, field: 'name' },
    { command: { type: 'setNodeTags', nodeId: 'n1', tags: { 'z.one': 'a' } } as const, field: 'tags.z.one' },
  ]
  for (const { command, field } of cases) {
    const result = h.run(command).result
    t.equal(result.ok ? 'ok' : result.code, 'RG_ERR_INVALID_NAME', `${command.type} ${field}`)
    if (!result.ok) t.equal(result.details.field, field)
  }
})

t.test('the default namespace exists from the start and cannot be removed', async (t) => {
  const h = new Harness()
  t.ok(h.state.namespaces.has('default'))
  const result = h.run({ type: 'removeNamespace', name: 'default' }).result
  t.equal(result.ok ? 'ok' : result.code, 'RG_ERR_NAMESPACE_PROTECTED')
  t.ok(h.state.namespaces.has('default'))
  t.equal(h.run({ type: 'ensureNamespace', name: 'default' }).result.ok, true, 'ensuring it is fine')
})

t.test('a namespace holding streams cannot be removed; an empty one can', async (t) => {
  const h = threeNodeCluster()
  h.must({ type: 'ensureNamespace', name: 'payments' })
  h.must(streamCommand({ namespace: 'payments', name: 'ledger' }))
  const result = h.run({ type: 'removeNamespace', name: 'payments' }).result
  t.equal(result.ok ? 'ok' : result.code, 'RG_ERR_IN_USE')
  if (!result.ok) {
    t.same(result.details.streams, ['payments/ledger'])
    t.match(result.message, 'payments/ledger')
  }
  h.must({ type: 'removeStream', namespace: 'payments', name: 'ledger' })
  const removed = h.run({ type: 'removeNamespace', name: 'payments' })
  t.equal(removed.result.ok ? removed.result.outcome : 'error', 'removed')
  t.same(removed.events.map((e) => e.subject), ['$RG.events.namespace.removed'])
  t.equal(h.run({ type: 'removeNamespace', name: 'payments' }).result.ok, false, 'removing it again: not found')
})
