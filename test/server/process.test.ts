// `railgun server` as a real process: it prints the bound ports, serves, and on SIGTERM drains
// (closes clients, closes storage) and exits 0. Also the CLI's flag handling.
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openRocksStorage } from '../../shared/storage/index.js'
import { resolveServerConfig } from '../../server/cli.js'
import { nodeKeySpaces } from '../../server/node.js'
import { railgunVersion } from '../../server/version.js'
import { connectedRawClient, until } from './helpers.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
// Four child processes each compile the server through tsx; on a busy 2-core machine that alone
// can take tens of seconds, so this file gets more than the default 120 s.
t.setTimeout(300_000)

t.test('the version reported is package.json version', async (t) => {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }
  t.equal(railgunVersion, manifest.version)
})

t.test('flags beat env in the server verb', async (t) => {
  const config = resolveServerConfig({ port: 0, data: '/tmp/flag-data', name: 'n' }, { RAILGUN_PORT: '1234', RAILGUN_HTTP_PORT: '9999' })
  t.equal(config.server.port, 0)
  t.equal(config.server.httpPort, 9999)
  t.equal(config.storage.dataDir, '/tmp/flag-data')
  t.equal(config.server.name, 'n')
  t.throws(() => resolveServerConfig({ port: 99999 }, {}), { message: 'config flag --port: server.port: expected a port number (0-65535)' })
})

t.test('a bad configuration exits 2 with a message naming the source and field', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'server', '--peer-port', '0', '--port', '0'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RAILGUN_LIMITS_MAX_PAYLOAD_BYTES: 'lots' },
  })
  let errorOutput = ''
  child.stderr.on('data', (chunk: Buffer) => (errorOutput += chunk.toString('utf8')))
  const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)))
  t.equal(code, 2)
  t.match(errorOutput, 'railgun: config env RAILGUN_LIMITS_MAX_PAYLOAD_BYTES: limits.maxPayloadBytes: expected a positive integer')
})

t.test('a storage that cannot open stops the node with exit 1', async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'railgun-process-'))
  t.teardown(() => rmSync(directory, { recursive: true, force: true }))
  // `<data>/db` is a regular file: RocksDB cannot create its directory there.
  mkdirSync(join(directory, 'data'))
  writeFileSync(join(directory, 'data', 'db'), 'not a directory')
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'server/cli.ts', 'server', '--peer-port', '0', '--port', '0', '--http-port', '0', '--host', '127.0.0.1', '--data', join(directory, 'data')],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RAILGUN_LOG_LEVEL: 'info' } },
  )
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  const code = await Promise.race([
    new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode))),
    new Promise<string>((resolve) => {
      setTimeout(() => resolve('timeout'), 60_000).unref()
    }),
  ])
  t.equal(code, 1)
  t.match(output, /storage failed to open/)
  t.notMatch(output, /railgun ready/)
})

t.test('SIGTERM drains and exits 0; the data directory is closed cleanly', async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'railgun-process-'))
  t.teardown(() => rmSync(directory, { recursive: true, force: true }))
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'server/cli.ts', 'server', '--peer-port', '0', '--port', '0', '--http-port', '0', '--host', '127.0.0.1', '--data', directory, '--name', 'proc-node'],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RAILGUN_LOG_LEVEL: 'info' } },
  )
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  await until(() => /railgun ready client=nats:\/\/127\.0\.0\.1:\d+ admin=http:\/\/127\.0\.0\.1:\d+/.test(output), 60_000, () => `ready line in ${output}`)
  const clientPort = Number(/client=nats:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1])
  const adminPort = Number(/admin=http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1])
  const readyLine = output.split('\n').find((line) => line.includes('railgun ready')) ?? ''
  t.match(JSON.parse(readyLine), { node: 'proc-node', level: 30 }, 'JSON log line with the node name')
  t.equal((await fetch(`http://127.0.0.1:${adminPort}/readyz`)).status, 200)

  const subscriber = await connectedRawClient(t, clientPort)
  subscriber.write('SUB drain.test 1\r\nPING\r\n')
  await subscriber.waitFor(/PONG\r\nPONG\r\n$/)
  const publisher = await connectedRawClient(t, clientPort)
  publisher.write('PUB drain.test 5\r\nfinal\r\nPING\r\n')
  await publisher.waitFor(/PONG\r\nPONG\r\n$/)
  child.kill('SIGTERM')
  const code = await Promise.race([exited, new Promise<string>((resolve) => {
      setTimeout(() => resolve('timeout'), 15_000).unref()
    })])
  t.equal(code, 0, 'exit code 0 after SIGTERM')
  await subscriber.closed
  t.match(subscriber.text(), 'MSG drain.test 1 5\r\nfinal\r\n', 'pending message reached the subscriber before close')
  t.match(output, /draining/)
  const storage = await openRocksStorage(join(directory, 'db'), { keySpaces: nodeKeySpaces })
  t.pass('the data directory reopens: the lock was released by a clean close')
  await storage.close()
})
