// The client CLI verbs (pub, sub, req, reply) as real processes: tsx runs a tiny entry that
// registers them on a commander program. One suite, run by cli-nats.test.ts and
// cli-railgun.test.ts (one file each so each stays inside the per-file time limit). Every child
// is bounded in time and killed by its PID.
import type { Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openClient } from './live.js'
import type { ServerKind } from './processes.js'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const entry = join(root, 'test/client/helpers/cli-entry.ts')
const childTimeoutMs = 20_000

interface Running {
  readonly child: ChildProcess
  stdout: string
  stderr: string
  readonly exited: Promise<number | null>
}

function start(args: readonly string[], options: { env?: Record<string, string>; stdin?: string } = {}): Running {
  // `node --import tsx` rather than the `tsx`/`npx tsx` wrappers: those run the script in a
  // grandchild, so killing the PID we hold (SIGKILL cannot be relayed) would leave it running.
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    cwd: root,
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  const running: Running = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), childTimeoutMs)
  void running.exited.then(() => clearTimeout(timer))
  child.stdout?.on('data', (chunk: Buffer) => (running.stdout += chunk.toString('utf8')))
  child.stderr?.on('data', (chunk: Buffer) => (running.stderr += chunk.toString('utf8')))
  if (options.stdin !== undefined) child.stdin?.end(options.stdin)
  else child.stdin?.end()
  return running
}

export async function run(args: readonly string[], options: { env?: Record<string, string>; stdin?: string } = {}) {
  const running = start(args, options)
  const code = await running.exited
  return { code, stdout: running.stdout, stderr: running.stderr }
}

async function waitForText(running: Running, pattern: RegExp, timeoutMs = childTimeoutMs): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!pattern.test(running.stderr + running.stdout)) {
    if (running.child.exitCode !== null) throw new Error(`exited ${running.child.exitCode}: ${running.stderr}`)
    if (Date.now() > deadline) throw new Error(`no ${pattern} in ${running.stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

function killOnTeardown(t: { teardown(fn: () => unknown): void }, running: Running): void {
  t.teardown(() => {
    if (running.child.exitCode === null) running.child.kill('SIGKILL')
  })
}

export function cliSuite(t: Test, kind: ServerKind): void {
  t.test(`CLI verbs against ${kind.label}`, { timeout: 110_000 }, async (t) => {
    if (kind.unavailableReason !== undefined) {
      t.comment(`skipping ${kind.label}: ${kind.unavailableReason}`)
      t.pass(`skipped: ${kind.unavailableReason}`)
      return
    }
    const server = await kind.start()
    t.teardown(() => server.dispose())
    const s = ['--server', server.url]

    t.test('sub --count --raw exits after N; pub takes data or stdin; RAILGUN_SERVER is the default', async (t) => {
      const sub = start(['sub', 'cli.greet', '--count', '2', '--raw', ...s])
      killOnTeardown(t, sub)
      await waitForText(sub, /listening on "cli.greet"/)
      const fromArg = await run(['pub', 'cli.greet', 'hello', ...s])
      t.equal(fromArg.code, 0, fromArg.stderr)
      // No --server: RAILGUN_SERVER is the default.
      const fromStdin = await run(['pub', 'cli.greet'], { stdin: 'from stdin', env: { RAILGUN_SERVER: server.url } })
      t.equal(fromStdin.code, 0, fromStdin.stderr)
      t.equal(await sub.exited, 0)
      t.equal(sub.stdout, 'hello\nfrom stdin\n')
    })

    t.test('pub --header and --count; sub prints headers', async (t) => {
      const sub = start(['sub', 'cli.h', '--count', '3', ...s])
      killOnTeardown(t, sub)
      await waitForText(sub, /listening/)
      const pub = await run(['pub', 'cli.h', 'body', '--header', 'X-Trace:abc', '--header', 'X-Two: 2', '--count', '3', ...s])
      t.equal(pub.code, 0, pub.stderr)
      t.match(pub.stderr, /published 3 messages/)
      t.equal(await sub.exited, 0)
      t.match(sub.stdout, /\[#1\] Received on "cli.h"\nX-Trace: abc\nX-Two: 2\nbody\n/)
      t.match(sub.stdout, /\[#3\]/)
    })

    t.test('reply answers with the text or echoes; req prints the reply', async (t) => {
      const fixed = start(['reply', 'cli.svc', 'pong', ...s])
      killOnTeardown(t, fixed)
      const echo = start(['reply', 'cli.echo', '--group', 'g', ...s])
      killOnTeardown(t, echo)
      await waitForText(fixed, /replying on "cli.svc"/)
      await waitForText(echo, /replying on "cli.echo" \(group g\)/)
      const answered = await run(['req', 'cli.svc', 'ping', ...s])
      t.equal(answered.code, 0, answered.stderr)
      t.equal(answered.stdout, 'pong\n')
      const echoed = await run(['req', 'cli.echo', 'say this', ...s])
      t.equal(echoed.stdout, 'say this\n')
      fixed.child.kill('SIGTERM')
      t.equal(await fixed.exited, 0, 'reply exits 0 on SIGTERM after draining')
      t.match(fixed.stderr, /answered 1 request\n/)
    })

    t.test('req: no responders → exit 1 with a clear message', async (t) => {
      const result = await run(['req', 'cli.nobody', 'x', ...s])
      t.equal(result.code, 1)
      t.match(result.stderr, /railgun: no responders on "cli.nobody"/)
      t.equal(result.stdout, '')
    })

    t.test('req: timeout → exit 1 with a clear message', async (t) => {
      const client = await openClient(t, server.url)
      const silent = client.subscribe('cli.silent').subscribe()
      t.teardown(() => silent.unsubscribe())
      await client.flush()
      const result = await run(['req', 'cli.silent', 'x', '--timeout-ms', '300', ...s])
      t.equal(result.code, 1)
      t.match(result.stderr, /railgun: request on "cli.silent" timed out after 300 ms/)
    })

  })
}
