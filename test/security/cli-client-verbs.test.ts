// The client verbs (`railgun pub|sub|req|reply`) take the same credential flags as the admin
// verbs: against a node with access control on, `pub` without credentials is refused with
// Authorization Violation (exit 1), and with the admin's user/password or a token it publishes
// and a subscriber receives the message. Run as child processes (these verbs own stdout/stderr).
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { connect } from '../../client/index.js'
import { startSecureNode } from './node-helpers.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

function railgun(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli.ts', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

t.test('pub with and without credentials against a node with access on', async (t) => {
  const adminPassword = 'verbs-Admin-pw'
  const node = await startSecureNode(t, { access: { disabled: false, loginBurst: 100 } }, { adminPassword })
  await node.ready
  const watcher = await connect(node.clientUrl, { user: 'admin', pass: adminPassword })
  t.teardown(() => watcher.close())
  const received: string[] = []
  watcher.subscribe('verbs.test').subscribe((message) => received.push(message.string()))
  await watcher.flush()

  const anonymous = await railgun(['pub', '--server', node.clientUrl, 'verbs.test', 'nobody'])
  t.equal(anonymous.code, 1, 'refused without credentials')
  t.match(anonymous.stderr, /Authorization Violation/)

  const withPassword = await railgun(['pub', '--server', node.clientUrl, '--user', 'admin', 'verbs.test', 'by-password'], { RAILGUN_PASSWORD: adminPassword })
  t.equal(withPassword.code, 0, withPassword.stderr)

  const token = await watcher.tokens.create({ user: 'admin' })
  const withToken = await railgun(['pub', '--server', node.clientUrl, 'verbs.test', 'by-token'], { RAILGUN_TOKEN: token.token })
  t.equal(withToken.code, 0, withToken.stderr)

  const deadline = Date.now() + 5_000
  while (received.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.same(received, ['by-password', 'by-token'], 'only the authenticated publishes arrived')
  t.notMatch(withPassword.stderr + withToken.stderr, new RegExp(`${adminPassword}|${token.token}`), 'no secret in the output')
})
