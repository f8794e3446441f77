// The security sections from flags, environment and YAML (errors name the flag), and the CLI's
// identity verbs (`railgun user|token|role`) in-process with captured output against a node with
// access control on: credentials from flags and the environment, the token printed once, grants
// parsed from `--grant`, and no secret in any output line.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Command, CommanderError } from 'commander'
import { resolveServerConfig } from '../../server/cli.js'
import { registerAccessCommands, parseDuration, parseGrant } from '../../server/commands/access-verbs.js'
import { registerAdminCommands } from '../../server/commands/admin-verbs.js'
import type { AdminIo } from '../../server/commands/admin-verbs.js'
import { loadConfig } from '../../shared/config/index.js'
import { capturedLogger, tempDir } from './helpers.js'
import { startSecureNode } from './node-helpers.js'

t.test('security config from flags, env and YAML; errors name the flag', async (t) => {
  const env = {}
  t.match(resolveServerConfig({ access: true }, env).access, { disabled: false, adminUser: 'admin' })
  t.match(resolveServerConfig({ access: false }, env).access, { disabled: true })
  t.equal(resolveServerConfig({}, env).access.disabled, true, 'off by default')
  t.match(resolveServerConfig({ tlsCert: 'c.pem', tlsKey: 'k.pem', tlsOptional: true, tlsHandshakeFirst: true }, env).tls, { certFile: 'c.pem', keyFile: 'k.pem', required: false, handshakeFirst: true })
  t.match(resolveServerConfig({ peerTlsCert: 'p.pem', peerTlsKey: 'pk.pem', peerTlsCa: 'ca.pem' }, env).peerTls, { certFile: 'p.pem', keyFile: 'pk.pem', caFile: 'ca.pem' })
  t.throws(() => resolveServerConfig({ tlsCert: 'c.pem' }, env), { code: 'RG_ERR_CONFIG', message: 'config merged: tls.keyFile: certFile and keyFile go together' })
  t.throws(() => resolveServerConfig({ adminUser: 'no spaces' }, env), { code: 'RG_ERR_CONFIG', message: /config flag --admin-user: access\.adminUser: expected a user name/ })
  t.match(resolveServerConfig({}, { RAILGUN_ACCESS_DISABLED: 'false', RAILGUN_ADMIN_USER: 'root', RAILGUN_TLS_REQUIRED: 'FALSE' }), { access: { disabled: false, adminUser: 'root' }, tls: { required: false } })
  t.throws(() => resolveServerConfig({}, { RAILGUN_ACCESS_DISABLED: 'maybe' }), { message: /config env RAILGUN_ACCESS_DISABLED: access\.disabled: expected true or false/ })
  const dir = tempDir(t, 'security-yaml')
  const yaml = join(dir, 'railgun.yaml')
  writeFileSync(yaml, 'access:\n  disabled: false\n  loginBurst: 3\npeerTls:\n  certFile: p.pem\n  keyFile: k.pem\n')
  t.throws(() => loadConfig({ configPath: yaml, env: {} }), { message: 'config merged: peerTls.caFile: peer TLS is mutual: the cluster CA is required' })
  writeFileSync(yaml, 'access:\n  disabled: false\n  loginBurst: 3\n  secret: x\n')
  t.throws(() => loadConfig({ configPath: yaml, env: {} }), { message: /access\.secret: unknown field/ })
})

t.test('--expires-in and --grant parsing', async (t) => {
  t.equal(parseDuration('90s'), 90_000)
  t.equal(parseDuration('24h'), 86_400_000)
  t.equal(parseDuration('30d'), 30 * 86_400_000)
  t.throws(() => parseDuration('soon'))
  t.throws(() => parseDuration('0s'))
  t.same(parseGrant('read:us-east:default/orders'), [{ permission: 'read', region: 'us-east', stream: 'default/orders' }])
  t.same(parseGrant('admin:*:*', [{ permission: 'read', region: 'a', stream: 'b' }]).length, 2)
  t.throws(() => parseGrant('own:*:*'), { message: /permission must be one of read, write, admin/ })
  t.throws(() => parseGrant('read:us-east'), { message: /PERMISSION:REGION:STREAM/ })
})

interface Run {
  code: number
  stdout: string
  stderr: string
}

async function railgun(args: readonly string[], stdin = ''): Promise<Run> {
  const run: Run = { code: 0, stdout: '', stderr: '' }
  const io: AdminIo = {
    stdout: (text) => (run.stdout += text),
    stderr: (text) => (run.stderr += text),
    setExitCode: (code) => (run.code = code),
    readStdin: async () => new TextEncoder().encode(stdin),
    untilSignal: () => ({ signalled: new Promise<void>(() => undefined), dispose: () => undefined }),
  }
  const program = new Command('railgun')
  program.exitOverride()
  const capture = { writeErr: (text: string) => (run.stderr += text), writeOut: (text: string) => (run.stdout += text) }
  program.configureOutput(capture)
  registerAdminCommands(program, io)
  registerAccessCommands(program, io)
  for (const command of program.commands) {
    command.configureOutput(capture)
    for (const sub of command.commands) sub.configureOutput(capture)
  }
  try {
    await program.parseAsync(['node', 'railgun', ...args])
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error
    run.code = error.exitCode
  }
  return run
}

t.test('railgun user|token|role against a node with access on', async (t) => {
  const log = capturedLogger('cli-access')
  const adminPassword = 'cli-Admin-pw'
  const node = await startSecureNode(t, { access: { disabled: false, loginBurst: 100 }, cluster: { region: 'eu-west' } }, { logger: log.logger, adminPassword })
  await node.ready
  const server = ['--server', node.clientUrl]
  const asAdmin = [...server, '--user', 'admin', '--password', adminPassword]

  const anonymous = await railgun(['role', 'ls', ...server])
  t.equal(anonymous.code, 1)
  t.match(anonymous.stderr, /railgun: server refused credentials: Authorization Violation \(RG_ERR_AUTHORIZATION\)/)

  const role = await railgun(['role', 'ensure', 'reader', '--grant', 'read:eu-west:default/orders', '--grant', 'read:*:default/audit', ...asAdmin])
  t.equal(role.code, 0, role.stderr)
  t.equal(role.stdout, 'role reader: created\n')
  t.match((await railgun(['role', 'ls', ...asAdmin])).stdout, /reader +read:\*:default\/audit read:eu-west:default\/orders/)

  const user = await railgun(['user', 'ensure', 'rita', '--password-stdin', '--roles', 'reader', ...asAdmin], 'rita-pw-from-stdin\n')
  t.equal(user.code, 0, user.stderr)
  t.equal(user.stdout, 'user rita: created\n')
  t.equal((await railgun(['user', 'ensure', 'rita', ...asAdmin])).stdout, 'user rita: unchanged\n', 'without a password the stored one stays')
  const missing = await railgun(['user', 'ensure', 'nobody', '--password-stdin', ...asAdmin], '')
  t.equal(missing.code, 2, 'an empty stdin is a usage error')

  const created = await railgun(['token', 'create', '--user', 'rita', '--expires-in', '24h', ...server])
  t.equal(created.code, 1, 'no credentials: refused')
  const adminToken = (await railgun(['token', 'create', '--user', 'admin', '--password', adminPassword, ...server])).stdout.trim()
  t.match(adminToken, /^rgt_[0-9a-f]{16}_[0-9a-f]{64}$/, 'the admin creates a token for itself (--user is the owner and the login)')
  const ritaTokenRun = await railgun(['token', 'create', '--user', 'rita', '--expires-in', '24h', ...server, '--token', adminToken])
  t.equal(ritaTokenRun.code, 0, ritaTokenRun.stderr)
  const ritaToken = ritaTokenRun.stdout.trim()
  t.match(ritaToken, /^rgt_/)
  t.match(ritaTokenRun.stderr, /^token [0-9a-f]{16} for rita, expires \d{4}-\d\d-\d\dT.* \(shown once: store it now\)\n$/)

  const tokens = await railgun(['token', 'ls', '--owner', 'rita', ...server, '--token', adminToken])
  t.match(tokens.stdout, /ID +USER +EXPIRES +STATE\n[0-9a-f]{16} +rita +\d{4}-.* +valid\n/)
  const json = await railgun(['user', 'ls', '--json', ...server, '--token', adminToken])
  t.match(JSON.parse(json.stdout), [{ name: 'admin', roles: ['admin'] }, { name: 'rita', roles: ['reader'], liveTokens: 1 }])

  // Rita's token works for what the role allows, and not for identities (exit 1 with the code).
  const denied = await railgun(['user', 'ls', ...server, '--token', ritaToken])
  t.equal(denied.code, 1)
  t.match(denied.stderr, /RG_ERR_PERMISSION/)
  const ritaId = ritaToken.slice('rgt_'.length, ritaToken.lastIndexOf('_'))
  t.equal((await railgun(['token', 'revoke', ritaId, ...server, '--token', adminToken])).stdout, `token ${ritaId}: updated\n`)
  t.equal((await railgun(['status', ...server, '--token', ritaToken])).code, 1, 'a revoked token is refused')

  const inUse = await railgun(['role', 'rm', 'reader', ...server, '--token', adminToken])
  t.equal(inUse.code, 1)
  t.match(inUse.stderr, /role reader is held by user rita \(RG_ERR_IN_USE\)/)
  t.equal((await railgun(['user', 'rm', 'rita', ...server, '--token', adminToken])).stdout, 'user rita: removed\n')
  t.equal((await railgun(['role', 'rm', 'reader', ...server, '--token', adminToken])).stdout, 'role reader: removed\n')

  // Credentials from the environment.
  process.env.RAILGUN_TOKEN = adminToken
  t.teardown(() => {
    delete process.env.RAILGUN_TOKEN
  })
  t.equal((await railgun(['role', 'ls', ...server])).code, 0, 'RAILGUN_TOKEN is used when no flag is given')

  const secrets = [adminPassword, 'rita-pw-from-stdin', adminToken, ritaToken]
  for (const secret of secrets) t.notOk(log.text().includes(secret), 'no secret in the node log')
})
