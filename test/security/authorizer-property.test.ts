// Property: for random role sets (states built with the state machine's `apply`) and random
// operations, the cluster authorizer agrees with a small, independent reference model of the
// permission rules (docs/security.md): regular expressions for the `*` globs, a direct reading
// of "admin implies write and read; write does not imply read", region first, then stream.
// The control-API body mapping has its own example tests (access.test.ts); here the subjects
// are stream subjects, wildcards, inboxes and `$` subjects.
import t from 'tap'
import fc from 'fast-check'
import { createClusterAuthorizer } from '../../shared/security/authorizer.js'
import type { Principal } from '../../shared/security/authenticator.js'
import type { Grant } from '../../control-plane/cluster/index.js'
import { Harness } from '../cluster/helpers.js'

type Permission = Grant['permission']

// ---- the reference model ------------------------------------------------------------------

function globRegex(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\-]/g, '\\$&')).join('.*')}$`)
}

function grantCovers(grant: Grant, permission: Permission, region: string, namespace: string, name: string): boolean {
  const permissionOk = grant.permission === permission || grant.permission === 'admin'
  if (!permissionOk || !globRegex(grant.region).test(region)) return false
  if (grant.stream === '*') return true
  const [namespacePattern = '', namePattern = ''] = grant.stream.split('/')
  return globRegex(namespacePattern).test(namespace) && globRegex(namePattern).test(name)
}

type Action = 'publish' | 'subscribe'

function modelAllows(grants: readonly Grant[], action: Action, subject: string, namespace: string, region: string): boolean {
  if (subject.startsWith('_INBOX.')) return true
  let need: { permission: Permission; namespace: string; name: string }
  const first = subject.split('.')[0] as string
  if (subject.startsWith('$')) {
    need = action === 'subscribe' && subject.startsWith('$RG.events.') ? { permission: 'read', namespace: '*', name: '*' } : { permission: 'admin', namespace: '*', name: '*' }
  } else if (['*', '>', '#'].includes(first)) {
    need = action === 'subscribe' ? { permission: 'admin', namespace: '*', name: '*' } : { permission: 'write', namespace, name: '*' }
  } else {
    need = { permission: action === 'publish' ? 'write' : 'read', namespace, name: first }
  }
  return grants.some((grant) => grantCovers(grant, need.permission, region, need.namespace, need.name))
}

// ---- generators ----------------------------------------------------------------------------

const regions = ['us-east', 'us-west', 'eu-west'] as const
const regionPatterns = ['us-east', 'us-west', 'eu-west', '*', 'us-*', '*-west', 'e*t', 'u*s*t'] as const
const namespacePatterns = ['default', 'other', '*', 'def*', '*er'] as const
const namePatterns = ['orders', 'payments', 'ord*', '*', '*s', 'p*ts', 'o'] as const
const streams = ['orders', 'ordinals', 'payments', 'o', 'ps'] as const

const grantArbitrary: fc.Arbitrary<Grant> = fc.record({
  permission: fc.constantFrom<Permission>('read', 'write', 'admin'),
  region: fc.constantFrom(...regionPatterns),
  stream: fc.oneof(
    fc.constant('*'),
    fc.tuple(fc.constantFrom(...namespacePatterns), fc.constantFrom(...namePatterns)).map(([ns, name]) => `${ns}/${name}`),
  ),
})

const rolesArbitrary = fc.array(fc.array(grantArbitrary, { maxLength: 4 }), { minLength: 1, maxLength: 4 })

const subjectArbitrary = fc.oneof(
  fc.tuple(fc.constantFrom(...streams), fc.constantFrom('', '.eu', '.eu.created', '.>', '.*.x', '.#')).map(([stream, topic]) => `${stream}${topic}`),
  fc.constantFrom('>', '*.eu', '#', '#.created', '_INBOX.abc.1', '_INBOX.>', '$RG.events.stream.created', '$RG.events.>', '$SYS.x', '$RG.ACK.x'),
)

const operationArbitrary = fc.record({
  action: fc.constantFrom<Action>('publish', 'subscribe'),
  subject: subjectArbitrary,
})

t.test('random role sets × random operations: the authorizer agrees with the reference model', async (t) => {
  let checked = 0
  let allowedCount = 0
  fc.assert(
    fc.property(
      rolesArbitrary,
      fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
      fc.constantFrom(...regions),
      fc.constantFrom('default', 'other'),
      fc.array(operationArbitrary, { minLength: 1, maxLength: 12 }),
      (roleGrants, holds, region, namespace, operations) => {
        const harness = new Harness()
        const roleNames = roleGrants.map((_grants, index) => `role-${index}`)
        roleGrants.forEach((grants, index) => harness.must({ type: 'ensureRole', name: roleNames[index] as string, grants }))
        const held = roleNames.filter((_name, index) => holds[index] === true)
        harness.must({ type: 'ensureUser', name: 'user', passwordHash: 'scrypt$unused', roles: held })
        // The model sees the grants as stored (normalised by apply), through the held roles only.
        const grants = held.flatMap((name) => harness.state.roles.get(name)?.grants ?? [])
        const authorizer = createClusterAuthorizer({ state: () => harness.state, region })
        const principal: Principal = { user: 'user', namespace, via: { kind: 'password' } }
        for (const { action, subject } of operations) {
          const expected = modelAllows(grants, action, subject, namespace, region)
          const actual = authorizer.authorize(principal, action, subject)
          if (actual !== expected) return false
          // A cached decision must be the same decision.
          if (authorizer.authorize(principal, action, subject) !== expected) return false
          checked += 1
          if (expected) allowedCount += 1
        }
        return true
      },
    ),
    { numRuns: 400 },
  )
  t.ok(checked > 1000, `checked ${checked} operations`)
  t.ok(allowedCount > checked / 10 && allowedCount < checked, `both outcomes are exercised (${allowedCount} allowed)`)
})

t.test('the model itself: admin implies read and write, write does not imply read', async (t) => {
  const grant = (permission: Permission): Grant => ({ permission, region: '*', stream: 'default/orders' })
  t.equal(modelAllows([grant('admin')], 'subscribe', 'orders.x', 'default', 'us-east'), true)
  t.equal(modelAllows([grant('admin')], 'publish', 'orders.x', 'default', 'us-east'), true)
  t.equal(modelAllows([grant('write')], 'subscribe', 'orders.x', 'default', 'us-east'), false)
  t.equal(modelAllows([grant('read')], 'publish', 'orders.x', 'default', 'us-east'), false)
  t.equal(modelAllows([{ permission: 'read', region: 'eu-*', stream: '*' }], 'subscribe', 'orders', 'default', 'us-east'), false)
})

t.test('a user without roles, or a user that does not exist, is denied everything but inboxes', async (t) => {
  const harness = new Harness()
  harness.must({ type: 'ensureRole', name: 'all', grants: [{ permission: 'admin', region: '*', stream: '*' }] })
  harness.must({ type: 'ensureUser', name: 'empty', passwordHash: 'scrypt$unused', roles: [] })
  const authorizer = createClusterAuthorizer({ state: () => harness.state, region: 'us-east' })
  for (const user of ['empty', 'ghost']) {
    const principal: Principal = { user, namespace: 'default', via: { kind: 'password' } }
    t.equal(authorizer.authorize(principal, 'publish', 'orders.x'), false, `${user}: publish denied`)
    t.equal(authorizer.authorize(principal, 'subscribe', 'orders.x'), false, `${user}: subscribe denied`)
    t.equal(authorizer.authorize(principal, 'subscribe', '_INBOX.me.*'), true, `${user}: own inbox allowed`)
  }
})
