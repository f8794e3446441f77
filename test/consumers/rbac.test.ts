// RBAC for consumer groups (issue #7, docs/security.md): publishing on
// `$RG.C.<ns>.<stream>.<group>.*` (JOIN, HB, LEAVE, FETCH, ACKS, INFO, ACK.<index>.<n>) needs
// `read` on `<ns>/<stream>`; a subject whose tokens are not plain names needs `admin`; on the
// wire, a reader of the stream may consume and ack, a writer of it or a reader of another stream
// may not.
import t from 'tap'
import type { Test } from 'tap'
import { accessFor } from '../../shared/security/subject-access.js'
import { createClusterAuthenticator } from '../../shared/security/cluster-authenticator.js'
import { createClusterAuthorizer } from '../../shared/security/authorizer.js'
import { rawClient } from '../server/helpers.js'
import type { RawClient } from '../server/helpers.js'
import { AccessState, capturedLogger, startListener, until } from '../security/helpers.js'

t.test('the subject maps to read on the stream', async (t) => {
  const cases: ReadonlyArray<readonly [string, unknown]> = [
    ['$RG.C.default.orders.billing.JOIN', { kind: 'grant', permission: 'read', stream: 'default/orders' }],
    ['$RG.C.default.orders.billing.HB', { kind: 'grant', permission: 'read', stream: 'default/orders' }],
    ['$RG.C.default.orders.billing.FETCH', { kind: 'grant', permission: 'read', stream: 'default/orders' }],
    ['$RG.C.default.orders.billing.ACKS', { kind: 'grant', permission: 'read', stream: 'default/orders' }],
    ['$RG.C.default.orders.billing.ACK.17.2', { kind: 'grant', permission: 'read', stream: 'default/orders' }],
    ['$RG.C.shop.orders.billing.LEAVE', { kind: 'grant', permission: 'read', stream: 'shop/orders' }],
    ['$RG.C.default.*.billing.JOIN', { kind: 'grant', permission: 'admin', stream: '*/*' }],
    ['$RG.C.default.orders.>', { kind: 'grant', permission: 'admin', stream: '*/*' }],
    ['$RG.C.default.orders', { kind: 'grant', permission: 'admin', stream: '*/*' }],
  ]
  for (const [subject, need] of cases) t.same(accessFor('publish', subject, 'default'), need, subject)
  t.same(accessFor('subscribe', '$RG.C.default.orders.billing.>', 'default'), { kind: 'grant', permission: 'admin', stream: '*/*' }, 'subscribing to the controller subjects stays admin')
})

async function exchange(raw: RawClient, commands: string): Promise<string> {
  const before = raw.text().length
  raw.write(`${commands}PING\r\n`)
  await until(() => raw.text().slice(before).includes('PONG\r\n') || raw.isClosed(), 5_000, `PONG after ${commands}`)
  return raw.text().slice(before)
}

async function loginAs(t: Test, port: number, user: string, pass: string): Promise<RawClient> {
  const raw = await rawClient(t, port)
  await raw.waitFor(/^INFO .*\r\n/)
  const reply = await exchange(raw, `CONNECT ${JSON.stringify({ verbose: false, headers: true, user, pass })}\r\n`)
  if (!reply.includes('PONG')) throw new Error(`${user} could not log in: ${reply}`)
  return raw
}

t.test('on the wire: a reader of the stream consumes and acks; a writer, or a reader of another stream, is refused', async (t) => {
  const access = new AccessState()
  access.role('orders-reader', [{ permission: 'read', region: '*', stream: 'default/orders' }])
  access.role('orders-writer', [{ permission: 'write', region: '*', stream: 'default/orders' }])
  access.role('payments-reader', [{ permission: 'read', region: '*', stream: 'default/payments' }])
  await access.user('rhea', 'rhea-pw-1', ['orders-reader'])
  await access.user('wes', 'wes-pw-2', ['orders-writer'])
  await access.user('pia', 'pia-pw-3', ['payments-reader'])
  const log = capturedLogger()
  const authenticator = createClusterAuthenticator({ state: access.current, logger: log.logger, rateLimits: { burst: 100, refillPerMinute: 100, sourcesMax: 100 } })
  const authorizer = createClusterAuthorizer({ state: access.current, region: 'us-east' })
  const { port } = await startListener(t, { logger: log.logger, access: { authenticator, authorizer } })
  const denied = (subject: string): string => `-ERR 'Permissions Violation for Publish to "${subject}"'\r\n`
  const join = JSON.stringify({ member: 'm1', deliver: '_INBOX.m1' })
  const subjects = ['$RG.C.default.orders.billing.JOIN', '$RG.C.default.orders.billing.ACK.3.1']
  for (const [user, pass, allowed] of [['rhea', 'rhea-pw-1', true], ['wes', 'wes-pw-2', false], ['pia', 'pia-pw-3', false]] as const) {
    const raw = await loginAs(t, port, user, pass)
    for (const subject of subjects) {
      const reply = await exchange(raw, `PUB ${subject} _INBOX.r.1 ${Buffer.byteLength(join)}\r\n${join}\r\n`)
      t.equal(reply, allowed ? 'PONG\r\n' : `${denied(subject)}PONG\r\n`, `${user} → ${subject}: ${allowed ? 'allowed' : 'denied'}`)
    }
    t.equal(await exchange(raw, 'SUB _INBOX.m1 1\r\n'), 'PONG\r\n', `${user} may subscribe its inbox`)
    raw.destroy()
  }
})
