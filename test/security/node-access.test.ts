// Access control end to end through `startNode` (its own control plane, alone): the first admin
// is bootstrapped from the password the node was given; users, tokens and roles are managed
// through the control API ($RG.API.USER|TOKEN|ROLE.*, the Railgun client, REST); then each
// credential is judged on the wire (official NATS client, Railgun client, raw protocol for the
// exact texts) and on the admin HTTP port. No secret reaches the log or an error text.
import t from 'tap'
import { connect as natsConnect } from '@nats-io/transport-node'
import { AuthorizationError, connect as railgunConnect, ApiError } from '../../client/index.js'
import type { RailgunClient } from '../../client/index.js'
import { errorCodes } from '../../shared/errors.js'
import { rawClient } from '../server/helpers.js'
import type { RawClient } from '../server/helpers.js'
import { capturedLogger, delay, tempDir, until } from './helpers.js'
import { startSecureNode } from './node-helpers.js'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

const adminPassword = 'bootstrap-Secret-1'
const ritaPassword = 'rita-Secret-2'

const publishDenied = (subject: string): string => `-ERR 'Permissions Violation for Publish to "${subject}"'\r\n`
const subscribeDenied = (subject: string): string => `-ERR 'Permissions Violation for Subscription to "${subject}"'\r\n`

/** A raw connection that sent CONNECT with `credentials`, and what the server answered up to its PONG (or the close). */
async function rawLogin(t: Parameters<typeof startSecureNode>[0], port: number, credentials: Record<string, string>): Promise<{ raw: RawClient; reply: string }> {
  const raw = await rawClient(t, port)
  await raw.waitFor(/^INFO .*\r\n/)
  const before = raw.text().length
  raw.write(`CONNECT ${JSON.stringify({ verbose: false, headers: true, ...credentials })}\r\nPING\r\n`)
  await until(() => raw.text().slice(before).includes('PONG\r\n') || raw.isClosed(), 10_000, 'PONG or close after CONNECT')
  return { raw, reply: raw.text().slice(before) }
}

async function exchange(raw: RawClient, commands: string): Promise<string> {
  const before = raw.text().length
  raw.write(`${commands}PING\r\n`)
  await until(() => raw.text().slice(before).includes('PONG\r\n') || raw.isClosed(), 10_000, `PONG after ${commands}`)
  return raw.text().slice(before)
}

t.test('access on: bootstrap admin, users/tokens/roles through the API, every check on the wire and on HTTP', async (t) => {
  const log = capturedLogger('access-node')
  // Failed logins are rate-limited per source: every client here is 127.0.0.1, so allow many.
  const node = await startSecureNode(t, { access: { disabled: false, loginBurst: 100 }, cluster: { region: 'us-east' } }, { logger: log.logger, adminPassword })
  await node.ready
  const secrets: string[] = [adminPassword, ritaPassword]
  t.match(log.text(), /bootstrap: the first admin user was created/)
  t.notMatch(log.text(), /access control is disabled/, 'no "access disabled" warning when it is on')

  // INFO says credentials are needed; none → Authorization Violation, closed.
  const anonymous = await rawLogin(t, node.clientPort, {})
  t.match(anonymous.raw.text(), /"auth_required":true/)
  t.match(anonymous.reply, `-ERR '${errorCodes.RG_ERR_AUTHORIZATION.natsText}'`)
  await anonymous.raw.closed

  // The bootstrap admin (password) manages identities through the Railgun client.
  const admin: RailgunClient = await railgunConnect(node.clientUrl, { user: 'admin', pass: adminPassword, reconnect: { enabled: false } })
  t.teardown(() => admin.close())
  t.match(await admin.roles.ensure({ name: 'reader', grants: [{ permission: 'read', region: 'us-east', stream: 'default/orders' }] }), { outcome: 'created' })
  t.match(await admin.roles.ensure({ name: 'ops', grants: [{ permission: 'admin', region: '*', stream: '*' }] }), { outcome: 'created' })
  const created = await admin.users.ensure({ name: 'rita', password: ritaPassword, roles: ['reader'] })
  t.match(created, { outcome: 'created', definition: { name: 'rita', roles: ['reader'] } })
  t.match(await admin.users.ensure({ name: 'rita', password: ritaPassword, roles: ['reader'] }), { outcome: 'unchanged' }, 'the same password again keeps the stored hash')
  await t.rejects(admin.users.ensure({ name: 'rita', password: 'another-one' }), { code: 'RG_ERR_CONFLICT', message: /passwordHash: "<redacted>"/ })
  secrets.push('another-one')
  await t.rejects(admin.users.ensure({ name: 'nobody' }), { code: 'RG_ERR_INVALID_ARGUMENT', message: /password: required/ })
  t.match(await admin.users.ensure({ name: 'olga', password: 'olga-Secret-3', roles: ['ops'] }), { outcome: 'created' })
  secrets.push('olga-Secret-3')

  const readerToken = await admin.tokens.create({ user: 'rita' })
  const opsToken = await admin.tokens.create({ user: 'olga', expiresInMs: 3_600_000 })
  const shortToken = await admin.tokens.create({ user: 'rita', expiresInMs: 1 })
  secrets.push(readerToken.token, opsToken.token, shortToken.token)
  t.match(readerToken.token, /^rgt_[0-9a-f]{16}_[0-9a-f]{64}$/)
  t.ok(opsToken.expiresAtMs > Date.now(), 'expiry is now + expiresInMs')
  const listed = await admin.tokens.list()
  t.same(listed.map((token) => token.id).sort(), [readerToken.id, opsToken.id, shortToken.id].sort())
  const users = await admin.users.list()
  t.same(users.map((user) => user.name), ['admin', 'olga', 'rita'])
  const listedText = JSON.stringify({ listed, users, roles: await admin.roles.list() })
  for (const secret of secrets) t.notOk(listedText.includes(secret), 'no secret in list answers')
  t.notMatch(listedText, /scrypt\$|sha256:/, 'no hash in list answers')

  // A read-only token: subscribe yes, publish no (NATS Permissions Violation), connection stays open.
  const reader = await rawLogin(t, node.clientPort, { auth_token: readerToken.token })
  t.match(reader.reply, /^PONG/)
  t.equal(await exchange(reader.raw, 'SUB orders.> 1\r\n'), 'PONG\r\n', 'reader may subscribe to its stream')
  t.equal(await exchange(reader.raw, 'PUB orders.eu 2\r\nhi\r\n'), `${publishDenied('orders.eu')}PONG\r\n`, 'reader may not publish')
  t.equal(await exchange(reader.raw, 'SUB payments 2\r\n'), `${subscribeDenied('payments')}PONG\r\n`)
  t.notOk(reader.raw.isClosed())

  // The official NATS client with the ops token (admin): publishes reach the reader.
  const ops = await natsConnect({ servers: node.clientUrl, token: opsToken.token })
  t.teardown(() => ops.close())
  ops.publish('orders.eu', 'one')
  await ops.flush()
  await reader.raw.waitFor(/MSG orders\.eu 1 3\r\none\r\n/)

  // An admin token can ensure streams (Railgun client); the reader cannot (its publish to $RG.API is denied).
  const opsClient = await railgunConnect(node.clientUrl, { token: opsToken.token, reconnect: { enabled: false } })
  t.teardown(() => opsClient.close())
  t.match(await opsClient.streams.ensure({ name: 'orders', kind: 'ephemeral' }), { outcome: 'created' })
  const readerClient = await railgunConnect(node.clientUrl, { token: readerToken.token, reconnect: { enabled: false } })
  t.teardown(() => readerClient.close())
  await t.rejects(readerClient.streams.ensure({ name: 'orders2' }, { timeoutMs: 5_000 }), { code: 'RG_ERR_PERMISSION' }, 'the reader may not ensure streams')
  t.match(await readerClient.streams.info('default', 'orders'), { name: 'orders' }, 'the reader may read its stream definition')

  // A role change applies to the live connection: the subscription is dropped at the next delivery.
  t.match(await admin.roles.ensure({ name: 'reader', grants: [{ permission: 'read', region: 'us-east', stream: 'default/other' }], update: true }), { outcome: 'updated' })
  ops.publish('orders.eu', 'two')
  await ops.flush()
  await reader.raw.waitFor(subscribeDenied('orders.>'))
  t.notMatch(reader.raw.text(), /\r\ntwo\r\n/, 'the message after the change is not delivered')
  t.equal(await exchange(reader.raw, 'SUB other.x 3\r\n'), 'PONG\r\n', 'the new grant applies at once')

  // A revoked token is refused at the next connect; an expired one too.
  t.match(await admin.tokens.revoke(readerToken.id), { outcome: 'updated' })
  await t.rejects(railgunConnect(node.clientUrl, { token: readerToken.token, reconnect: { enabled: false } }), AuthorizationError)
  await delay(5)
  const expired = await rawLogin(t, node.clientPort, { auth_token: shortToken.token })
  t.match(expired.reply, `-ERR '${errorCodes.RG_ERR_AUTHORIZATION.natsText}'`)
  t.match(log.text(), new RegExp(`"reason":"revoked".*"tokenId":"${readerToken.id}"|"tokenId":"${readerToken.id}".*"reason":"revoked"`))
  t.match(log.text(), /"reason":"expired"/)

  // Removing a role that a user holds is refused; removing the user removes its tokens.
  await t.rejects(admin.roles.remove('ops'), ApiError)
  t.match(await admin.users.remove('rita'), { outcome: 'removed' })
  t.same((await admin.tokens.list({ user: 'rita' })).length, 0)

  // Admin HTTP: probes open, 401 without credentials, 403 without the permission, 200 with it.
  const http = async (path: string, init: RequestInit = {}): Promise<{ status: number; body: string; challenge: string | null }> => {
    const response = await fetch(`${node.adminUrl}${path}`, init)
    return { status: response.status, body: await response.text(), challenge: response.headers.get('www-authenticate') }
  }
  t.equal((await http('/healthz')).status, 200)
  t.equal((await http('/readyz')).status, 200)
  const noCredentials = await http('/api/v1/streams')
  t.equal(noCredentials.status, 401)
  t.match(noCredentials.challenge, /Bearer/)
  t.match(noCredentials.body, /RG_ERR_AUTHORIZATION/)
  t.equal((await http('/api/v1/server')).status, 401)
  t.equal((await http('/api/v1/streams', { headers: { authorization: 'Bearer rgt_nope_00' } })).status, 401, 'a malformed token')
  t.equal((await http('/api/v1/streams', { headers: { authorization: `Bearer ${readerToken.token}` } })).status, 401, 'a revoked token')
  await admin.users.ensure({ name: 'rita', password: ritaPassword, roles: ['reader'] })
  const ritaToken = (await admin.tokens.create({ user: 'rita' })).token
  secrets.push(ritaToken)
  const asRita = { authorization: `Bearer ${ritaToken}` }
  const forbidden = await http('/api/v1/streams', { method: 'POST', headers: { ...asRita, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x' }) })
  t.equal(forbidden.status, 403, 'a mutation needs admin')
  t.match(forbidden.body, /RG_ERR_PERMISSION/)
  t.equal((await http('/api/v1/users', { headers: asRita })).status, 403, 'users need admin')
  t.equal((await http('/api/v1/server', { headers: asRita })).status, 403, 'server stats need read on every stream')
  t.equal((await http('/api/v1/streams/default/other?stale=true', { headers: asRita })).status, 404, 'a read the role covers passes the check (the stream does not exist)')
  t.equal((await http('/api/v1/dashboard', { headers: asRita })).status, 403, 'the dashboard\'s data needs admin')
  t.equal((await http('/api/v1/dashboard')).status, 401)
  t.equal((await http('/dashboard/app.js')).status, 200, 'the dashboard\'s files hold no data and load without credentials')
  t.equal((await http('/metrics', { headers: asRita })).status, 403, 'metrics need read on every stream')
  const asAdmin = { authorization: `Basic ${Buffer.from(`admin:${adminPassword}`).toString('base64')}` }
  t.equal((await http('/api/v1/server', { headers: asAdmin })).status, 200, 'basic auth')
  t.equal((await http('/api/v1/dashboard', { headers: { authorization: `Bearer ${opsToken.token}` } })).status, 200, 'an admin token reads the dashboard data')
  t.equal((await http('/metrics', { headers: { authorization: `Bearer ${opsToken.token}` } })).status, 200)
  const viaRest = await http('/api/v1/tokens', { method: 'POST', headers: { authorization: `Bearer ${opsToken.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ user: 'olga' }) })
  t.equal(viaRest.status, 200)
  const restToken = (JSON.parse(viaRest.body) as { token: string }).token
  secrets.push(restToken)
  t.match(restToken, /^rgt_/)
  t.equal((await http('/api/v1/users', { headers: { authorization: `Bearer ${restToken}` } })).status, 200, 'the token created over REST works')

  // No secret in any log line.
  await delay(50)
  const text = log.text()
  for (const secret of secrets) t.notOk(text.includes(secret), `no secret in the log (${secret.slice(0, 6)}…)`)
  t.notMatch(text, /scrypt\$ln=/, 'no password hash in the log')
})

t.test('bootstrap: a lone node with access on and no admin password refuses to start; the password file works', async (t) => {
  const log = capturedLogger('no-admin')
  const node = await startSecureNode(t, { access: { disabled: false } }, { logger: log.logger })
  await t.rejects(node.ready, { code: 'RG_ERR_CONFIG', message: /no user and this node was given no admin password: set RAILGUN_ADMIN_PASSWORD/ })
  t.notOk(node.isReady())

  const dir = tempDir(t, 'admin-password')
  const file = join(dir, 'admin-password')
  writeFileSync(file, 'from-a-File-9\n', { mode: 0o600 })
  const withFile = await startSecureNode(t, { access: { disabled: false, adminPasswordFile: file, adminUser: 'root' } }, { logger: log.logger })
  await withFile.ready
  const client = await railgunConnect(withFile.clientUrl, { user: 'root', pass: 'from-a-File-9', reconnect: { enabled: false } })
  t.teardown(() => client.close())
  t.same((await client.users.list()).map((user) => user.name), ['root'])
  t.same((await client.roles.list()).map((role) => [role.name, role.grants]), [['admin', [{ permission: 'admin', region: '*', stream: '*' }]]])
  t.notOk(log.text().includes('from-a-File-9'))

  await t.rejects(
    startSecureNode(t, { access: { disabled: false, adminPasswordFile: join(dir, 'missing') } }),
    { code: 'RG_ERR_CONFIG', message: /access\.adminPasswordFile: cannot read .*missing: ENOENT/ },
    'an unreadable password file stops the start',
  )
})

t.test('access off (the default): open, and every node says so at start', async (t) => {
  const log = capturedLogger('open')
  const node = await startSecureNode(t, {}, { logger: log.logger })
  await node.ready
  t.match(log.text(), /access control is disabled/)
  t.match(log.text(), /peer links use plain TCP/)
  t.match(log.text(), /client connections are not encrypted/)
  const client = await railgunConnect(node.clientUrl, { reconnect: { enabled: false } })
  t.teardown(() => client.close())
  t.match(await client.roles.ensure({ name: 'r', grants: [] }), { outcome: 'created' })
  t.equal((await fetch(`${node.adminUrl}/api/v1/roles`)).status, 200)
})
