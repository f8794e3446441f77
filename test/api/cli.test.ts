// The admin CLI verbs against the API fixture: in-process with captured output (most verbs), and
// as a child process (status, an API error → exit 1, a usage error → exit 2).
import t from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Command, CommanderError } from 'commander'
import { registerAdminCommands } from '../../server/commands/admin-verbs.js'
import type { AdminIo } from '../../server/commands/admin-verbs.js'
import { startApiCluster, waitFor } from './helpers.js'

interface Run {
  code: number
  stdout: string
  stderr: string
}

/** Runs one verb in-process; `signal` resolves a running watch as SIGINT would. */
async function railgun(args: readonly string[], options: { stdin?: string; onStdout?: (text: string) => void; signal?: Promise<void> } = {}): Promise<Run> {
  const run: Run = { code: 0, stdout: '', stderr: '' }
  const io: AdminIo = {
    stdout: (text) => {
      run.stdout += text
      options.onStdout?.(run.stdout)
    },
    stderr: (text) => {
      run.stderr += text
    },
    setExitCode: (code) => {
      run.code = code
    },
    readStdin: async () => new TextEncoder().encode(options.stdin ?? ''),
    untilSignal: () => ({ signalled: options.signal ?? new Promise<void>(() => undefined), dispose: () => undefined }),
  }
  const program = new Command('railgun')
  program.exitOverride()
  program.configureOutput({ writeErr: (text) => (run.stderr += text), writeOut: (text) => (run.stdout += text) })
  registerAdminCommands(program, io)
  for (const command of program.commands) {
    command.configureOutput({ writeErr: (text) => (run.stderr += text), writeOut: (text) => (run.stdout += text) })
    for (const sub of command.commands) sub.configureOutput({ writeErr: (text) => (run.stderr += text), writeOut: (text) => (run.stdout += text) })
  }
  try {
    await program.parseAsync(['node', 'railgun', ...args])
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error
    run.code = error.exitCode
  }
  return run
}

t.test('admin verbs in-process', async (t) => {
  const cluster = await startApiCluster(t, 1)
  const server = ['--server', cluster.nodes[0]!.clientUrl]

  const status = await railgun(['status', ...server])
  t.equal(status.code, 0)
  t.match(status.stdout, /^leader n1 {2}term \d+ {2}\(answered by n1, leader, ready\)\nregions: us-east\nID +REGION +ROLE +STATE +VOTER\nn1 +us-east +leader +active +yes\n$/)
  const statusJson = JSON.parse((await railgun(['status', '--json', ...server])).stdout) as { ok: boolean; leader: string }
  t.match(statusJson, { ok: true, leader: 'n1' })

  const ensure = await railgun(['stream', 'ensure', 'orders', '--regions', 'us-east', '--replicas', '1', '--dedup-window', '60000', ...server])
  t.same(ensure, { code: 0, stdout: 'stream default/orders: created\n', stderr: '' })
  t.equal((await railgun(['stream', 'ensure', 'orders', ...server])).stdout, 'stream default/orders: unchanged\n')
  const conflict = await railgun(['stream', 'ensure', 'orders', '--ack', 'write', ...server])
  t.equal(conflict.code, 1)
  t.match(conflict.stderr, /^railgun: STREAM\.ENSURE: .*ackDefault: "majority" → "write".* \(RG_ERR_CONFLICT\)\n$/)
  const conflictJson = await railgun(['stream', 'ensure', 'orders', '--ack', 'write', '--json', ...server])
  t.match(JSON.parse(conflictJson.stdout), { ok: false, error: { code: 'RG_ERR_CONFLICT', details: { diffs: [{ path: 'ackDefault', old: 'majority', new: 'write' }] } } })
  const updated = await railgun(['stream', 'ensure', 'orders', '--ack', 'write', '--max-events', '1000', '--update', ...server])
  t.equal(updated.stdout, 'stream default/orders: updated\n  ackDefault: "majority" → "write"\n  retention.maxEvents: 0 → 1000\n')
  const window = await railgun(['stream', 'ensure', 'orders', '--dedup-window', '1000', '--update', ...server])
  t.equal(window.code, 1)
  t.match(window.stderr, /dedup window cannot change .*RG_ERR_IMMUTABLE_FIELD/)
  t.match((await railgun(['stream', 'ls', ...server])).stdout, /STREAM +KIND +REGIONS +REPLICAS +ACK\ndefault\/orders +persistent +us-east +1 +write\n/)
  t.match(JSON.parse((await railgun(['stream', 'info', 'orders', ...server])).stdout), { name: 'orders', dedupWindowMs: 60000, ackDefault: 'write', retention: { maxEvents: 1000 } })
  const unknownNs = await railgun(['stream', 'ensure', 'x', '--namespace', 'nowhere', ...server])
  t.equal(unknownNs.code, 1)
  t.match(unknownNs.stderr, /RG_ERR_NOT_FOUND/)
  t.equal((await railgun(['stream', 'rm', 'orders', ...server])).stdout, 'stream default/orders: removed\n')
  t.equal((await railgun(['stream', 'ls', ...server])).stdout, 'no streams\n')

  t.equal((await railgun(['bucket', 'ensure', 'cfg', '--max-value-bytes', '32', ...server])).stdout, 'bucket cfg: created\n')
  t.match((await railgun(['bucket', 'ls', ...server])).stdout, /cfg +0 +32/)
  t.match((await railgun(['kv', 'put', 'cfg', 'greeting', 'hello', ...server])).stdout, /^revision \d+\n$/)
  t.match((await railgun(['kv', 'put', 'cfg', 'piped', ...server], { stdin: 'from stdin' })).stdout, /^revision \d+\n$/)
  t.equal((await railgun(['kv', 'get', 'cfg', 'greeting', ...server])).stdout, 'hello\n')
  t.equal((await railgun(['kv', 'get', 'cfg', 'piped', ...server])).stdout, 'from stdin\n')
  const missing = await railgun(['kv', 'get', 'cfg', 'nothing', ...server])
  t.equal(missing.code, 1)
  t.match(missing.stderr, /not found.*RG_ERR_NOT_FOUND/)
  const big = await railgun(['kv', 'put', 'cfg', 'big', 'x'.repeat(33), ...server])
  t.equal(big.code, 1)
  t.match(big.stderr, /RG_ERR_VALUE_TOO_LARGE/)

  // kv watch: current values, then a change, then exit after --count lines.
  const watching = railgun(['kv', 'watch', 'cfg', '--count', '3', ...server])
  await waitFor('the watch subscribed', () => cluster.nodes[0]!.router.subscriptionCount >= 2)
  await new Promise((resolve) => setTimeout(resolve, 100))
  const putLater = await railgun(['kv', 'put', 'cfg', 'greeting', 'again', ...server])
  t.equal(putLater.code, 0)
  const watched = await watching
  t.equal(watched.code, 0)
  const lines = watched.stdout.trim().split('\n')
  t.match(lines[0], /^PUT greeting=hello \(rev \d+\)$/)
  t.match(lines[1], /^PUT piped=from stdin \(rev \d+\)$/)
  t.match(lines[2], /^PUT greeting=again \(rev \d+\)$/)
  t.equal((await railgun(['kv', 'del', 'cfg', 'greeting', ...server])).stdout, 'greeting: removed\n')

  t.match((await railgun(['node', 'ls', ...server])).stdout, /n1 +us-east +active/)
  const rmActive = await railgun(['node', 'rm', 'n1', ...server])
  t.equal(rmActive.code, 1)
  t.match(rmActive.stderr, /RG_ERR_INVALID_STATE/)
  const transfer = await railgun(['leader', 'transfer', ...server])
  t.equal(transfer.code, 1)
  t.match(transfer.stderr, /RG_ERR_NO_ELIGIBLE_NODE/)

  const usage = await railgun(['stream', 'ensure', 'x', '--replicas', 'many', ...server])
  t.equal(usage.code, 2, 'usage errors exit 2')
  t.match(usage.stderr, /expected a positive integer/)
  const badKind = await railgun(['stream', 'ensure', 'x', '--kind', 'durable', ...server])
  t.equal(badKind.code, 2)
  const missingArg = await railgun(['kv', 'get', 'cfg', ...server])
  t.equal(missingArg.code, 2)
})

t.test('admin verbs as a child process', async (t) => {
  const cluster = await startApiCluster(t, 1)
  const root = fileURLToPath(new URL('../../', import.meta.url))
  const entry = join(root, 'test/api/helpers/admin-cli-entry.ts')
  const child = (args: readonly string[]): Promise<Run> =>
    new Promise((resolve) => {
      const process_ = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: root, env: { ...process.env, RAILGUN_SERVER: cluster.nodes[0]!.clientUrl }, stdio: ['ignore', 'pipe', 'pipe'] })
      const run: Run = { code: -1, stdout: '', stderr: '' }
      const timer = setTimeout(() => process_.kill('SIGKILL'), 30_000)
      process_.stdout.on('data', (chunk: Buffer) => (run.stdout += chunk.toString('utf8')))
      process_.stderr.on('data', (chunk: Buffer) => (run.stderr += chunk.toString('utf8')))
      process_.once('exit', (code) => {
        clearTimeout(timer)
        run.code = code ?? -1
        resolve(run)
      })
    })
  const [status, apiError, usage] = await Promise.all([child(['status']), child(['stream', 'info', 'absent']), child(['stream', 'ensure'])])
  t.equal(status.code, 0, status.stderr)
  t.match(status.stdout, /^leader n1 /, 'RAILGUN_SERVER is the default --server')
  t.equal(apiError.code, 1)
  t.match(apiError.stderr, /^railgun: STREAM\.INFO: stream default\/absent not found \(RG_ERR_NOT_FOUND\)\n$/)
  t.equal(usage.code, 2)
  t.match(usage.stderr, /missing required argument/)
})

t.test('railgun (server/cli.ts) registers the admin verbs', async (t) => {
  const { createProgram } = await import('../../server/cli.js')
  const names = createProgram().commands.map((command) => command.name())
  for (const verb of ['status', 'stream', 'kv', 'bucket', 'leader', 'node']) t.ok(names.includes(verb), verb)
})
