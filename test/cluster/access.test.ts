// RBAC read helpers (DESIGN §3.4: permissions read, write, admin, applied per region then per
// stream, `*` for all) and token status.
import fc from 'fast-check'
import t from 'tap'
import { globMatch, permits, tokenStatus } from '../../control-plane/cluster/index.js'
import { Harness } from './helpers.js'

t.test('globMatch agrees with a regex reference', async (t) => {
  const toRegex = (pattern: string): RegExp => new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\-]/g, '\\$&')).join('.*')}$`)
  const alphabet = fc.constantFrom('a', 'b', '-', '*')
  fc.assert(
    fc.property(fc.array(alphabet, { maxLength: 8 }).map((c) => c.join('')), fc.array(fc.constantFrom('a', 'b', '-'), { maxLength: 8 }).map((c) => c.join('')), (pattern, value) => globMatch(pattern, value) === toRegex(pattern).test(value)),
    { numRuns: 2000, seed: 3 },
  )
  t.ok(globMatch('orders-*', 'orders-eu'))
  t.notOk(globMatch('orders-*', 'order'))
  t.ok(globMatch('a*a', 'aa'))
  t.notOk(globMatch('a*a', 'a'))
})

t.test('permits: region then stream patterns, admin implies write and read', async (t) => {
  const h = new Harness()
  h.must({ type: 'ensureRole', name: 'eu-reader', grants: [{ permission: 'read', region: 'eu-*', stream: 'default/*' }] })
  h.must({ type: 'ensureRole', name: 'orders-writer', grants: [{ permission: 'write', region: '*', stream: '*/orders-*' }] })
  h.must({ type: 'ensureRole', name: 'root', grants: [{ permission: 'admin', region: '*', stream: '*' }] })
  h.must({ type: 'ensureUser', name: 'ann', passwordHash: 'h', roles: ['eu-reader', 'orders-writer'] })
  h.must({ type: 'ensureUser', name: 'ops', passwordHash: 'h', roles: ['root'] })
  t.ok(permits(h.state, 'ann', 'read', 'eu-west', 'default/chat'))
  t.notOk(permits(h.state, 'ann', 'read', 'us-east', 'default/chat'), 'wrong region')
  t.notOk(permits(h.state, 'ann', 'read', 'eu-west', 'payments/chat'), 'wrong namespace')
  t.ok(permits(h.state, 'ann', 'write', 'us-east', 'payments/orders-v2'))
  t.notOk(permits(h.state, 'ann', 'read', 'us-east', 'payments/orders-v2'), 'write does not imply read')
  t.notOk(permits(h.state, 'ann', 'admin', 'eu-west', 'default/chat'))
  for (const p of ['read', 'write', 'admin'] as const) t.ok(permits(h.state, 'ops', p, 'anywhere', 'x/y'), `admin implies ${p}`)
  t.notOk(permits(h.state, 'nobody', 'read', 'eu-west', 'default/chat'))
})

t.test('tokenStatus uses the caller-supplied time', async (t) => {
  const h = new Harness()
  h.must({ type: 'ensureUser', name: 'u', passwordHash: 'h', roles: [] })
  h.must({ type: 'addToken', id: 'short', hash: 'x', user: 'u', expiresAtMs: 1000 })
  h.must({ type: 'addToken', id: 'forever', hash: 'y', user: 'u', expiresAtMs: 0 })
  t.equal(tokenStatus(h.state, 'short', 999), 'valid')
  t.equal(tokenStatus(h.state, 'short', 1000), 'expired')
  t.equal(tokenStatus(h.state, 'forever', Number.MAX_SAFE_INTEGER), 'valid')
  h.must({ type: 'revokeToken', id: 'forever' })
  t.equal(tokenStatus(h.state, 'forever', 0), 'revoked')
  t.equal(tokenStatus(h.state, 'missing', 0), 'unknown')
})
