// The README's examples run to completion: examples/request-reply.ts against each server,
// examples/control-api.ts and examples/consume.ts against a railgun server.
import t from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { serverKinds } from './helpers/processes.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const runTimeoutMs = 30_000

/** Runs an example with RAILGUN_SERVER pointing at `url`; resolves with its exit code and output. */
async function runExample(file: string, url: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, file)], {
    cwd: root,
    env: { ...process.env, RAILGUN_SERVER: url },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  const timer = setTimeout(() => child.kill('SIGKILL'), runTimeoutMs)
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  clearTimeout(timer)
  return { code, output }
}

for (const kind of serverKinds()) {
  t.test(`examples/request-reply.ts against ${kind.label}`, { timeout: 60_000 }, async (t) => {
    if (kind.unavailableReason !== undefined) {
      t.comment(`skipping ${kind.label}: ${kind.unavailableReason}`)
      t.pass(`skipped: ${kind.unavailableReason}`)
      return
    }
    const server = await kind.start()
    t.teardown(() => server.dispose())
    const { code, output } = await runExample('examples/request-reply.ts', server.url)
    t.equal(code, 0, output)
    t.match(output, /reply: \{ greeting: 'hello, ada', asked: 'how are you\?' \}/)
    t.match(output, /reply: \{"greeting":"hello, grace","asked":"again"\}/)
    t.match(output, /no responders: RG_ERR_NO_RESPONDERS/)
    t.match(output, /\[status\] closed/)
  })
}

t.test('examples/control-api.ts against a railgun server', { timeout: 60_000 }, async (t) => {
  const railgun = serverKinds().find((kind) => kind.label === 'railgun')
  if (railgun === undefined || railgun.unavailableReason !== undefined) {
    t.pass(`skipped: ${railgun?.unavailableReason ?? 'no railgun server kind'}`)
    return
  }
  const server = await railgun.start()
  t.teardown(() => server.dispose())
  const { code, output } = await runExample('examples/control-api.ts', server.url)
  t.equal(code, 0, output)
  t.match(output, /leader [0-9a-f]{16} at term \d+, 1 member\(s\)/)
  t.match(output, /stream orders: created, then unchanged/)
  t.match(output, /conflict: RG_ERR_CONFLICT/)
  t.match(output, /watch: put beta @\d+\nwatch: put beta @\d+/)
  t.match(output, /beta = off/)
})

t.test('examples/consume.ts against a railgun server', { timeout: 60_000 }, async (t) => {
  const railgun = serverKinds().find((kind) => kind.label === 'railgun')
  if (railgun === undefined || railgun.unavailableReason !== undefined) {
    t.pass(`skipped: ${railgun?.unavailableReason ?? 'no railgun server kind'}`)
    return
  }
  const server = await railgun.start()
  t.teardown(() => server.dispose())
  const { code, output } = await runExample('examples/consume.ts', server.url)
  t.equal(code, 0, output)
  t.match(output, /published 10 events/)
  t.match(output, /#\d+ events\.demo \{"n":3\} \(delivery 1\)/)
  t.match(output, /consumed and acked 10 events: 0,1,2,3,4,5,6,7,8,9/)
})
