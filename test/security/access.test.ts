// Authentication and permissions on the wire: a client listener with the cluster authenticator
// and authorizer over states built by the state machine's `apply` (region us-east). Raw
// protocol for the exact NATS texts, the official NATS client and Railgun's own client for the
// flows. Covers: auth_required in INFO, bad and good credentials (password, token, revoked),
// each role against publish and subscribe, wildcard grants, other regions, inboxes, the control
// API and KV mapping, a live role change, failed-login rate limits, and no secret in any log
// line or error text.
import t from 'tap'
import type { Test } from 'tap'
import { connect as natsConnect } from '@nats-io/transport-node'
import { firstValueFrom, timeout } from 'rxjs'
import { AuthorizationError, connect as railgunConnect, PermissionDeniedError } from '../../client/index.js'
import { createClusterAuthenticator } from '../../shared/security/cluster-authenticator.js'
import { createClusterAuthorizer } from '../../shared/security/authorizer.js'
import type { LoginRateLimits } from '../../shared/security/login-rate-limit.js'
import { rawClient } from '../server/helpers.js'
import type { RawClient } from '../server/helpers.js'
import { AccessState, capturedLogger, delay, startListener, until } from './helpers.js'
import type { CapturedLog } from './helpers.js'

const region = 'us-east'
const passwords = { rita: 'rita-pw-1', will: 'will-pw-2', ada: 'ada-pw-3', wanda: 'wanda-pw-4', fay: 'fay-pw-5', kim: 'kim-pw-6' } as const
type UserName = keyof typeof passwords

interface Fixture {
  readonly access: AccessState
  readonly log: CapturedLog
  readonly port: number
  /** Every secret the fixture created (passwords and tokens). */
  readonly secrets: string[]
}

async function fixture(t: Test, rateLimits: LoginRateLimits = { burst: 100, refillPerMinute: 100, sourcesMax: 100 }, timeoutMs?: number): Promise<Fixture> {
  const access = new AccessState()
  access.role('reader', [{ permission: 'read', region: 'us-east', stream: 'default/orders' }])
  access.role('writer', [{ permission: 'write', region: '*', stream: 'default/orders' }])
  access.role('admin', [{ permission: 'admin', region: '*', stream: '*' }])
  access.role('wild', [{ permission: 'read', region: 'us-*', stream: 'default/ord*' }])
  access.role('faraway', [{ permission: 'write', region: 'eu-west', stream: '*' }])
  access.role('kv-reader', [{ permission: 'read', region: '*', stream: '_kv/config' }])
  await access.user('rita', passwords.rita, ['reader'])
  await access.user('will', passwords.will, ['writer'])
  await access.user('ada', passwords.ada, ['admin'])
  await access.user('wanda', passwords.wanda, ['wild'])
  await access.user('fay', passwords.fay, ['faraway'])
  await access.user('kim', passwords.kim, ['kv-reader'])
  const log = capturedLogger()
  const authenticator = createClusterAuthenticator({ state: access.current, logger: log.logger, rateLimits })
  const authorizer = createClusterAuthorizer({ state: access.current, region })
  const { port } = await startListener(t, { logger: log.logger, access: { authenticator, authorizer, ...(timeoutMs === undefined ? {} : { timeoutMs }) } })
  return { access, log, port, secrets: Object.values(passwords) }
}

/** Send `commands` then PING; resolve with what the server wrote up to its PONG (or the close). */
async function exchange(raw: RawClient, commands: string): Promise<string> {
  const before = raw.text().length
  raw.write(`${commands}PING\r\n`)
  await until(() => raw.text().slice(before).includes('PONG\r\n') || raw.isClosed(), 5_000, `PONG after ${commands}`)
  return raw.text().slice(before)
}

async function login(t: Test, port: number, credentials: Record<string, string>): Promise<{ raw: RawClient; reply: string }> {
  const raw = await rawClient(t, port)
  await raw.waitFor(/^INFO .*\r\n/)
  const reply = await exchange(raw, `CONNECT ${JSON.stringify({ verbose: false, headers: true, ...credentials })}\r\n`)
  return { raw, reply }
}

async function loginAs(t: Test, port: number, user: UserName): Promise<RawClient> {
  const { raw, reply } = await login(t, port, { user, pass: passwords[user] })
  if (!reply.includes('PONG')) throw new Error(`${user} could not log in: ${reply}`)
  return raw
}

const publishDenied = (subject: string): string => `-ERR 'Permissions Violation for Publish to "${subject}"'\r\n`
const subscribeDenied = (subject: string): string => `-ERR 'Permissions Violation for Subscription to "${subject}"'\r\n`

t.test('credentials on the wire: auth_required, refusals close, good credentials get in', async (t) => {
  const f = await fixture(t)
  const token = f.access.token('rita')
  const revoked = f.access.token('will')
  f.access.revoke(revoked)
  f.secrets.push(token, revoked)

  const { raw: first, reply: firstReply } = await login(t, f.port, { user: 'rita', pass: passwords.rita })
  t.match(first.text(), /"auth_required":true/, 'INFO says auth_required')
  t.match(firstReply, /^PONG\r\n$/, 'user and password accepted')

  const { raw: byToken, reply: tokenReply } = await login(t, f.port, { auth_token: token })
  t.equal(tokenReply, 'PONG\r\n', 'a valid token is accepted')
  byToken.destroy()

  for (const [label, credentials] of [
    ['wrong password', { user: 'rita', pass: 'not-it' }],
    ['unknown user', { user: 'mallory', pass: passwords.rita }],
    ['revoked token', { auth_token: revoked }],
    ['no credentials', {}],
  ] as const) {
    const { raw, reply } = await login(t, f.port, credentials)
    t.equal(reply, "-ERR 'Authorization Violation'\r\n", `${label}: Authorization Violation`)
    await raw.closed
    t.pass(`${label}: closed`)
  }

  const pipelined = await rawClient(t, f.port)
  await pipelined.waitFor(/^INFO .*\r\n/)
  pipelined.write(`CONNECT ${JSON.stringify({ user: 'rita', pass: 'nope' })}\r\nSUB orders.> 1\r\nPUB orders.x 2\r\nhi\r\nPING\r\n`)
  await pipelined.closed
  t.equal(pipelined.text().replace(/^INFO .*\r\n/, ''), "-ERR 'Authorization Violation'\r\n", 'what was pipelined after a refused CONNECT is never processed')

  const allErrors = f.log.text()
  for (const secret of [...f.secrets, 'not-it', 'nope']) t.notOk(allErrors.includes(secret), `no secret in the log (${secret.slice(0, 6)}…)`)
})

t.test('each role against publish and subscribe (region us-east)', async (t) => {
  const f = await fixture(t)
  // [user, action, subject, allowed]
  const cases: readonly (readonly [UserName, 'pub' | 'sub', string, boolean])[] = [
    ['rita', 'sub', 'orders.eu', true],
    ['rita', 'sub', 'orders', true],
    ['rita', 'sub', 'orders.#', true],
    ['rita', 'pub', 'orders.eu', false],
    ['rita', 'sub', 'payments.eu', false],
    ['rita', 'sub', '>', false],
    ['rita', 'sub', '*.eu', false],
    ['rita', 'sub', '_INBOX.abc.*', true],
    ['rita', 'pub', '_INBOX.someone-else.1', true],
    ['rita', 'sub', '$RG.events.>', false],
    ['will', 'pub', 'orders.eu', true],
    ['will', 'sub', 'orders.eu', false],
    ['will', 'pub', 'payments.eu', false],
    ['ada', 'pub', 'payments.eu', true],
    ['ada', 'sub', '>', true],
    ['ada', 'sub', '$RG.events.>', true],
    ['wanda', 'sub', 'orders.eu', true],
    ['wanda', 'sub', 'ordinals.x', true],
    ['wanda', 'sub', 'payments.x', false],
    ['wanda', 'pub', 'orders.eu', false],
    ['fay', 'pub', 'orders.eu', false],
    ['fay', 'sub', 'orders.eu', false],
  ]
  const clients = new Map<UserName, RawClient>()
  let sid = 0
  for (const [user, action, subject, allowed] of cases) {
    const raw = clients.get(user) ?? (await loginAs(t, f.port, user))
    clients.set(user, raw)
    sid += 1
    const reply = await exchange(raw, action === 'pub' ? `PUB ${subject} 2\r\nhi\r\n` : `SUB ${subject} ${sid}\r\n`)
    const denial = action === 'pub' ? publishDenied(subject) : subscribeDenied(subject)
    if (allowed) t.equal(reply, 'PONG\r\n', `${user} may ${action} ${subject}`)
    else t.equal(reply, `${denial}PONG\r\n`, `${user} may not ${action} ${subject}; the connection stays open`)
  }
  for (const raw of clients.values()) t.equal(raw.isClosed(), false, 'no denial closed a connection')
})

t.test('a denied subscription receives nothing; an allowed one does', async (t) => {
  const f = await fixture(t)
  const rita = await loginAs(t, f.port, 'rita')
  const will = await loginAs(t, f.port, 'will')
  await exchange(rita, 'SUB orders.> 1\r\nSUB payments.> 2\r\n')
  await exchange(will, 'PUB orders.eu 5\r\nhello\r\n')
  await rita.waitFor('MSG orders.eu 1 5\r\nhello\r\n')
  const ada = await loginAs(t, f.port, 'ada')
  await exchange(ada, 'PUB payments.eu 6\r\nsecret\r\n')
  await delay(50)
  t.notMatch(rita.text(), /MSG payments/, 'the denied subscription was never made')
})

t.test('the control API and KV map to streams and buckets', async (t) => {
  const f = await fixture(t)
  const body = (value: unknown): string => {
    const json = JSON.stringify(value)
    return `${Buffer.byteLength(json)}\r\n${json}`
  }
  const cases: readonly (readonly [UserName, string, unknown, boolean])[] = [
    ['ada', '$RG.API.STREAM.ENSURE', { name: 'orders', kind: 'ephemeral' }, true],
    ['will', '$RG.API.STREAM.ENSURE', { name: 'orders', kind: 'ephemeral' }, false],
    ['rita', '$RG.API.STREAM.INFO', { name: 'orders' }, true],
    ['rita', '$RG.API.STREAM.INFO', { name: 'payments' }, false],
    ['rita', '$RG.API.STREAM.INFO', { name: 'orders', namespace: 'other' }, false],
    ['rita', '$RG.API.STREAM.LIST', {}, false],
    ['rita', '$RG.API.CLUSTER.STATUS', {}, false],
    ['ada', '$RG.API.NODE.DRAIN', { nodeId: 'n1' }, true],
    ['kim', '$RG.API.KV.GET', { bucket: 'config', key: 'a' }, true],
    ['kim', '$RG.API.KV.PUT', { bucket: 'config', key: 'a', value: 'x' }, false],
    ['kim', '$RG.API.KV.GET', { bucket: 'secrets', key: 'a' }, false],
    ['kim', '$RG.API.KV.GET', { bucket: '*', key: 'a' }, false],
    ['kim', '$RG.API.KV.GET', 'not json', false],
  ]
  for (const [user, subject, payload, allowed] of cases) {
    const raw = await loginAs(t, f.port, user)
    const reply = await exchange(raw, `PUB ${subject} _INBOX.r.1 ${body(payload)}\r\n`)
    t.equal(reply, allowed ? 'PONG\r\n' : `${publishDenied(subject)}PONG\r\n`, `${user} ${subject} ${JSON.stringify(payload)}: ${allowed ? 'allowed' : 'denied'}`)
    raw.destroy()
  }
})

t.test('a role change applies to live connections without reconnect', async (t) => {
  const f = await fixture(t)
  const rita = await loginAs(t, f.port, 'rita')
  const ada = await loginAs(t, f.port, 'ada')
  t.equal(await exchange(rita, 'SUB orders.> 1\r\n'), 'PONG\r\n')
  t.equal(await exchange(rita, 'PUB orders.eu 2\r\nno\r\n'), `${publishDenied('orders.eu')}PONG\r\n`, 'a reader cannot publish')
  await exchange(ada, 'PUB orders.eu 6\r\nfirst!\r\n')
  await rita.waitFor('MSG orders.eu 1 6\r\nfirst!\r\n')

  f.access.setRoles('rita', ['writer'])
  const before = rita.text().length
  await exchange(ada, 'PUB orders.eu 7\r\nsecond!\r\n')
  await rita.waitFor(subscribeDenied('orders.>'))
  await delay(50)
  t.notMatch(rita.text().slice(before), /second!/, 'the subscription she may no longer hold delivers nothing')
  t.equal(await exchange(rita, 'PUB orders.eu 3\r\nyes\r\n'), 'PONG\r\n', 'now a writer: the publish is allowed at once')
  t.equal(await exchange(rita, 'SUB orders.> 9\r\n'), `${subscribeDenied('orders.>')}PONG\r\n`, 'and cannot be made again')

  f.access.role('writer', [{ permission: 'admin', region: 'us-*', stream: 'default/*' }])
  t.equal(await exchange(rita, 'SUB payments.> 10\r\n'), 'PONG\r\n', 'a changed role definition applies too')
  t.equal(rita.isClosed(), false)
})

t.test('failed logins from one address are rate-limited: even the right password is refused for a while', async (t) => {
  const f = await fixture(t, { burst: 2, refillPerMinute: 1, sourcesMax: 10 })
  for (let i = 0; i < 2; i += 1) {
    const { reply } = await login(t, f.port, { user: 'rita', pass: `guess-${i}` })
    t.equal(reply, "-ERR 'Authorization Violation'\r\n")
  }
  const { reply } = await login(t, f.port, { user: 'rita', pass: passwords.rita })
  t.equal(reply, "-ERR 'Authorization Violation'\r\n", 'limited: refused without looking at the password')
  t.match(f.log.text(), /"reason":"rateLimited"/)
  t.notOk(/guess-|rita-pw/.test(f.log.text()), 'no password in the log')
})

t.test('a connection that never authenticates is closed with Authentication Timeout', async (t) => {
  const f = await fixture(t, undefined, 300)
  const idle = await rawClient(t, f.port)
  await idle.waitFor(/^INFO .*\r\n/)
  idle.write('PING\r\n')
  await idle.waitFor('PONG\r\n')
  await idle.waitFor("-ERR 'Authentication Timeout'\r\n")
  await idle.closed
  t.pass('PING does not count as authenticating; the connection is closed')
  const rita = await loginAs(t, f.port, 'rita')
  await delay(500)
  t.equal(await exchange(rita, ''), 'PONG\r\n', 'an authenticated connection outlives the timeout')
})

t.test('the official NATS client: user/pass, token, refusal, permission errors', async (t) => {
  const f = await fixture(t)
  const token = f.access.token('ada')
  const servers = `127.0.0.1:${f.port}`
  const refused = await natsConnect({ servers, reconnect: false, user: 'rita', pass: 'wrong', timeout: 5_000 }).catch((error: unknown) => error)
  t.match(String(refused), /Authorization Violation/i, `bad password: ${String(refused)}`)
  const rita = await natsConnect({ servers, reconnect: false, user: 'rita', pass: passwords.rita, timeout: 5_000 })
  t.teardown(() => rita.close())
  const ada = await natsConnect({ servers, reconnect: false, token, timeout: 5_000 })
  t.teardown(() => ada.close())
  const denied = new Promise<unknown>((resolve) => rita.subscribe('payments.>', { callback: (error) => resolve(error) }))
  const received = new Promise<string>((resolve) => rita.subscribe('orders.>', { callback: (_error, message) => resolve(message.string()) }))
  await rita.flush()
  t.match(String(await denied), /Permissions Violation for Subscription to "payments\.>"/, 'the denied subscription gets the error')
  ada.publish('orders.eu', 'via token')
  t.equal(await received, 'via token', 'the allowed one works; the token user published')
  t.equal(rita.isClosed(), false)
})

t.test("Railgun's own client: AuthorizationError and PermissionDeniedError", async (t) => {
  const f = await fixture(t)
  const url = `nats://127.0.0.1:${f.port}`
  const refused = await railgunConnect(url, { user: 'rita', pass: 'wrong', timeoutMs: 5_000 }).catch((error: unknown) => error)
  t.ok(refused instanceof AuthorizationError, String(refused))
  const client = await railgunConnect(url, { user: 'rita', pass: passwords.rita, timeoutMs: 5_000 })
  t.teardown(() => client.close())
  const error = await firstValueFrom(client.subscribe('payments.x').pipe(timeout(5_000))).catch((caught: unknown) => caught)
  t.ok(error instanceof PermissionDeniedError, String(error))
  t.notOk(String(refused).includes('wrong') || String(error).includes(passwords.rita), 'no secret in the error texts')
})
