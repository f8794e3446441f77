// Credentials: scrypt password hashes (format, parameters, constant-time verify, malformed
// input), bearer tokens (format, parse, hash match), the failed-login token bucket, and the
// cluster authenticator judged against states built with the state machine's `apply`:
// valid / wrong / expired / revoked / unknown tokens, passwords, removed users, rate limits,
// and logs that never hold a secret.
import t from 'tap'
import { checkScryptParameters, hashPassword, parsePasswordHash, verifyPassword } from '../../shared/security/passwords.js'
import { createToken, hashToken, parseToken, tokenMatches } from '../../shared/security/tokens.js'
import { LoginRateLimiter } from '../../shared/security/login-rate-limit.js'
import { createClusterAuthenticator } from '../../shared/security/cluster-authenticator.js'
import { credentialsOf } from '../../shared/security/authenticator.js'
import { AccessState, capturedLogger, testScrypt } from './helpers.js'

t.test('password hashes name their parameters and verify in constant time', async (t) => {
  const hash = await hashPassword('correct horse battery staple', testScrypt)
  t.match(hash, /^scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/)
  t.notOk(hash.includes('correct horse'), 'the password is not in the hash')
  t.equal(await verifyPassword('correct horse battery staple', hash), true)
  t.equal(await verifyPassword('correct horse battery stapl', hash), false)
  t.equal(await verifyPassword('', hash), false)
  const again = await hashPassword('correct horse battery staple', testScrypt)
  t.not(again, hash, 'a fresh salt every time')
  t.same(parsePasswordHash(hash)?.parameters, testScrypt)
  const stronger = await hashPassword('pw', { logN: 11, r: 8, p: 2 })
  t.equal(await verifyPassword('pw', stronger), true, 'the parameters are read back from the hash')
})

t.test('malformed or hostile hashes never verify and never throw', async (t) => {
  const valid = await hashPassword('pw', testScrypt)
  const salt = valid.split('$')[2] as string
  const key = valid.split('$')[3] as string
  for (const bad of [
    '',
    'plaintext-password',
    `bcrypt$ln=10,r=8,p=1$${salt}$${key}`,
    `scrypt$ln=30,r=8,p=1$${salt}$${key}`, // 2^30: would allocate ~1 TiB
    `scrypt$ln=10,r=999,p=1$${salt}$${key}`,
    `scrypt$ln=10,r=8,p=1$***$${key}`,
    `scrypt$ln=10,r=8,p=1$${salt}`,
    `scrypt$ln=10,r=8,p=1$${salt}$AA==`,
  ]) {
    t.equal(await verifyPassword('pw', bad), false, `refused: ${bad.slice(0, 24)}…`)
  }
  t.throws(() => checkScryptParameters({ logN: 9, r: 8, p: 1 }), RangeError)
  await t.rejects(hashPassword('', testScrypt), RangeError)
  await t.rejects(hashPassword('x'.repeat(2000), testScrypt), RangeError)
})

t.test('tokens: rgt_<id>_<secret>, stored as sha256, parsed back to the id', async (t) => {
  const token = createToken('ci-deploy_1')
  t.match(token.token, /^rgt_ci-deploy_1_[0-9a-f]{64}$/)
  t.equal(token.hash, hashToken(token.token))
  t.match(token.hash, /^sha256:[0-9a-f]{64}$/)
  t.notOk(token.hash.includes(token.token.slice(-64)), 'the secret is not in the hash')
  t.same(parseToken(token.token), { id: 'ci-deploy_1' }, 'an id with underscores parses (the secret is after the last one)')
  t.equal(tokenMatches(token.token, token.hash), true)
  t.equal(tokenMatches(`${token.token.slice(0, -1)}0`, token.hash), token.token.endsWith('0'))
  t.equal(tokenMatches(token.token, 'sha256:00'), false)
  t.equal(tokenMatches(token.token, token.hash.replace('sha256:', 'md5:')), false)
  const generated = createToken()
  t.match(generated.id, /^[0-9a-f]{16}$/)
  for (const bad of ['', 'rgt_', 'rgt_id', 'rgt_id_short', `xyz_id_${'a'.repeat(64)}`, `rgt__${'a'.repeat(64)}`, `rgt_i.d_${'a'.repeat(64)}`, `rgt_id_${'A'.repeat(64)}`]) {
    t.equal(parseToken(bad), undefined, `not a token: ${bad.slice(0, 20)}`)
  }
  t.throws(() => createToken('bad id'), RangeError)
})

t.test('the failed-login limiter: burst, refill, per source, bounded', async (t) => {
  const limiter = new LoginRateLimiter({ burst: 3, refillPerMinute: 6, sourcesMax: 2 })
  for (let i = 0; i < 3; i += 1) {
    t.equal(limiter.allowed('10.0.0.1', 0), true)
    limiter.failed('10.0.0.1', 0)
  }
  t.equal(limiter.allowed('10.0.0.1', 0), false, 'after the burst: refused')
  t.equal(limiter.allowed('10.0.0.2', 0), true, 'another source is not affected')
  t.equal(limiter.allowed('10.0.0.1', 9_999), false, 'less than one token regained after 9.999 s at 6/min')
  t.equal(limiter.allowed('10.0.0.1', 10_000), true, 'one attempt regained after 10 s')
  limiter.failed('10.0.0.1', 10_000)
  t.equal(limiter.allowed('10.0.0.1', 10_000), false)
  limiter.failed('10.0.0.2', 0)
  limiter.failed('10.0.0.3', 0)
  t.equal(limiter.trackedSources, 2, 'at most sourcesMax sources are tracked')
  t.throws(() => new LoginRateLimiter({ burst: 0, refillPerMinute: 1, sourcesMax: 1 }), RangeError)
})

t.test('CONNECT credentials: auth_token wins over user/pass', async (t) => {
  t.same(credentialsOf({ raw: {}, auth_token: 'rgt_x', user: 'u', pass: 'p' }), { token: 'rgt_x' })
  t.same(credentialsOf({ raw: {}, user: 'u', pass: 'p' }), { user: 'u', pass: 'p' })
  t.same(credentialsOf({ raw: {} }), {})
})

t.test('the cluster authenticator over applied state', async (t) => {
  const access = new AccessState()
  access.role('reader', [{ permission: 'read', region: '*', stream: '*' }])
  await access.user('alice', 'alice-password', ['reader'])
  await access.user('bob', 'bob-password', ['reader'])
  let nowMs = access.harness.timeMs
  const live = access.token('alice')
  const expiring = access.token('alice', nowMs + 60_000)
  const revoked = access.token('bob')
  access.revoke(revoked)
  const orphan = access.token('bob')
  const log = capturedLogger()
  const authenticator = createClusterAuthenticator({
    state: access.current,
    logger: log.logger,
    nowMs: () => nowMs,
    rateLimits: { burst: 100, refillPerMinute: 100, sourcesMax: 100 },
  })
  const login = (credentials: Parameters<typeof authenticator.authenticate>[0]) => authenticator.authenticate(credentials, '127.0.0.1')

  t.match(await login({ user: 'alice', pass: 'alice-password' }), { ok: true, principal: { user: 'alice', namespace: 'default', via: { kind: 'password' } } })
  t.match(await login({ token: live }), { ok: true, principal: { user: 'alice', via: { kind: 'token', tokenId: parseToken(live)?.id } } })
  t.match(await login({ token: expiring }), { ok: true }, 'valid before its expiry')
  t.match(await login({ user: 'alice', pass: 'wrong' }), { ok: false, reason: 'badCredentials' })
  t.match(await login({ user: 'nobody', pass: 'alice-password' }), { ok: false, reason: 'badCredentials' })
  t.match(await login({ user: 'alice' }), { ok: false, reason: 'missing' })
  t.match(await login({}), { ok: false, reason: 'missing' })
  t.match(await login({ token: revoked }), { ok: false, reason: 'revoked' })
  t.match(await login({ token: 'rgt_garbage' }), { ok: false, reason: 'badCredentials' })
  const forged = `${live.slice(0, -64)}${'0'.repeat(64)}`
  t.match(await login({ token: forged }), { ok: false, reason: 'badCredentials' }, 'a known id with the wrong secret')
  const forgedRevoked = `${revoked.slice(0, -64)}${'0'.repeat(64)}`
  t.match(await login({ token: forgedRevoked }), { ok: false, reason: 'badCredentials' }, 'revocation is only told to the holder of the secret')

  nowMs += 60_000
  t.match(await login({ token: expiring }), { ok: false, reason: 'expired' }, 'expired at expiresAtMs')
  t.match(await login({ token: live }), { ok: true }, 'a token without expiry stays valid')

  access.harness.must({ type: 'removeUser', name: 'bob' })
  t.match(await login({ token: orphan }), { ok: false, reason: 'badCredentials' }, "a removed user's tokens are gone")
  t.match(await login({ user: 'bob', pass: 'bob-password' }), { ok: false, reason: 'badCredentials' }, 'a removed user cannot log in')

  const logText = log.text()
  for (const secret of ['alice-password', 'bob-password', 'wrong', live, expiring, revoked, orphan, live.slice(-64), forged.slice(-64)]) {
    t.notOk(logText.includes(secret), `the log does not contain ${secret.slice(0, 8)}…`)
  }
  t.match(logText, /"tokenId"/, 'refusals name the token id')
  t.match(logText, /"user":"nobody"/, 'and the user name')
  t.match(logText, /"reason":"expired"/)
})

t.test('failed logins are rate-limited per source; a limited source is refused even with the right password', async (t) => {
  const access = new AccessState()
  access.role('reader', [{ permission: 'read', region: '*', stream: '*' }])
  await access.user('carol', 'carol-password', ['reader'])
  let nowMs = 1_000_000
  const log = capturedLogger()
  const authenticator = createClusterAuthenticator({ state: access.current, logger: log.logger, nowMs: () => nowMs, rateLimits: { burst: 3, refillPerMinute: 1, sourcesMax: 10 } })
  for (let i = 0; i < 3; i += 1) t.match(await authenticator.authenticate({ user: 'carol', pass: `guess-${i}` }, '192.0.2.7'), { ok: false, reason: 'badCredentials' })
  t.match(await authenticator.authenticate({ user: 'carol', pass: 'carol-password' }, '192.0.2.7'), { ok: false, reason: 'rateLimited' })
  t.match(await authenticator.authenticate({ user: 'carol', pass: 'carol-password' }, '192.0.2.8'), { ok: true }, 'another source still logs in')
  nowMs += 60_000
  t.match(await authenticator.authenticate({ user: 'carol', pass: 'carol-password' }, '192.0.2.7'), { ok: true }, 'after the refill the source may try again')
  t.match(log.text(), /"reason":"rateLimited"/)
  t.notOk(/guess-|carol-password/.test(log.text()), 'no password in the log')
})
