// The log level at run time: GET|PUT /api/v1/log-level on the admin port (answers with the old
// and the new level; bad input is a 400 in the error envelope) and the `railgun log-level` verb.
// The node's lines carry its id and region once its control plane is open.
import t from 'tap'
import { Writable } from 'node:stream'
import { Command, CommanderError } from 'commander'
import { configWith } from '../../shared/config/index.js'
import { createLogger } from '../../shared/log.js'
import { createMemoryLocation, openMemoryStorage } from '../../shared/storage/index.js'
import { nodeKeySpaces, startNode } from '../../server/node.js'
import { logLevelBodyBytesMax } from '../../server/admin-http.js'
import { registerLogLevelCommand, runLogLevel } from '../../server/commands/log-level-verb.js'
import type { LogLevelIo } from '../../server/commands/log-level-verb.js'

t.test('log level route, CLI verb and log identity', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
      callback()
    },
  })
  const node = await startNode({
    config: configWith({ server: { host: '127.0.0.1', port: 0, httpPort: 0, name: 'lvl' }, cluster: { peerPort: 0, region: 'eu-north' } }),
    logger: createLogger({ nodeName: 'lvl', level: 'info', destination }),
    openStorage: () => openMemoryStorage(createMemoryLocation(), { keySpaces: nodeKeySpaces }),
  })
  t.teardown(() => node.close())
  await node.ready
  const url = `${node.adminUrl}/api/v1/log-level`
  const call = async (method: string, body?: string): Promise<{ status: number; body: Record<string, unknown> }> => {
    const response = await fetch(url, { method, ...(body === undefined ? {} : { body }) })
    return { status: response.status, body: (await response.json()) as Record<string, unknown> }
  }

  t.same(await call('GET'), { status: 200, body: { ok: true, level: 'info' } })
  t.same(await call('PUT', '{"level":"debug"}'), { status: 200, body: { ok: true, previous: 'info', level: 'debug' } })
  t.same((await call('GET')).body.level, 'debug')
  const bad = await call('PUT', '{"level":"verbose"}')
  t.equal(bad.status, 400)
  t.match(bad.body, { ok: false, error: { code: 'RG_ERR_INVALID_ARGUMENT', message: /fatal, error, warn, info, debug, trace, silent/ } })
  t.match(await call('PUT', 'not json'), { status: 400, body: { error: { code: 'RG_ERR_MALFORMED_COMMAND' } } })
  t.match(await call('PUT', JSON.stringify({ level: 'x'.repeat(logLevelBodyBytesMax) })), { status: 413, body: { error: { code: 'RG_ERR_VALUE_TOO_LARGE' } } })
  const wrong = await fetch(url, { method: 'DELETE' })
  t.equal(wrong.status, 405)
  t.equal(wrong.headers.get('allow'), 'GET, HEAD, PUT')
  t.equal((await call('GET')).body.level, 'debug', 'refused changes changed nothing')

  const changed = lines.find((line) => line.msg === 'log level changed through the admin API')
  t.match(changed, { node: 'lvl', nodeId: node.nodeId, region: 'eu-north', previousLevel: 'info', newLevel: 'debug' })
  const ready = lines.find((line) => typeof line.msg === 'string' && line.msg.startsWith('railgun ready'))
  t.match(ready, { node: 'lvl', nodeId: node.nodeId, region: 'eu-north' }, 'the ready line carries the identity')

  // The CLI verb.
  const run = { stdout: '', stderr: '', code: 0 }
  const io: LogLevelIo = { stdout: (text) => (run.stdout += text), stderr: (text) => (run.stderr += text), setExitCode: (code) => (run.code = code) }
  await runLogLevel('warn', { admin: node.adminUrl }, io)
  t.equal(run.stdout, 'debug -> warn\n')
  await runLogLevel(undefined, { admin: `${node.adminUrl}/` }, io)
  t.equal(run.stdout, 'debug -> warn\nwarn\n')
  t.equal(run.code, 0)
  await runLogLevel('info', { admin: 'http://127.0.0.1:1' }, io)
  t.equal(run.code, 1)
  t.match(run.stderr, /railgun: cannot reach http:\/\/127\.0\.0\.1:1/)

  const program = new Command('railgun').exitOverride()
  registerLogLevelCommand(program, io)
  for (const command of program.commands) command.exitOverride().configureOutput({ writeErr: () => undefined })
  await t.rejects(program.parseAsync(['node', 'railgun', 'log-level', 'loud', '--admin', node.adminUrl]), CommanderError, 'a bad level is a usage error')
  await program.parseAsync(['node', 'railgun', 'log-level', 'error', '--admin', node.adminUrl])
  t.match(run.stdout, /warn -> error\n$/)
})
