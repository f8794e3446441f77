// The node configuration: precedence defaults < YAML < env < flags, and errors that name the
// source and the field.
import t from 'tap'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, configWith, configDefaults, environmentNameOf } from '../../shared/config/index.js'
import { ConfigError } from '../../shared/errors.js'

const directory = mkdtempSync(join(tmpdir(), 'railgun-config-'))
t.teardown(() => rmSync(directory, { recursive: true, force: true }))

function yamlFile(name: string, text: string): string {
  const path = join(directory, name)
  writeFileSync(path, text)
  return path
}

t.test('defaults apply when no source sets a field', async (t) => {
  const config = loadConfig({ env: {} })
  t.equal(config.server.port, 4222)
  t.equal(config.server.httpPort, 8222)
  t.equal(config.storage.dataDir, './data')
  t.equal(config.limits.maxPayloadBytes, 1024 * 1024)
  t.equal(config.responses.defaultTimeoutMs, 0)
  t.ok(config.server.name.length > 0)
})

t.test('precedence: defaults < YAML < env < flags', async (t) => {
  const path = yamlFile(
    'precedence.yaml',
    'server:\n  port: 5000\n  httpPort: 5001\n  host: 127.0.0.2\nlimits:\n  maxPayloadBytes: 2048\n  pingIntervalMs: 777\n',
  )
  const env = { RAILGUN_PORT: '6000', RAILGUN_LIMITS_MAX_PAYLOAD_BYTES: '4096', RAILGUN_DATA: '/tmp/x' }
  const config = loadConfig({ configPath: path, env, flags: { server: { port: 7000 } } })
  t.equal(config.server.port, 7000, 'flag beats env and file')
  t.equal(config.limits.maxPayloadBytes, 4096, 'env beats file')
  t.equal(config.server.httpPort, 5001, 'file beats defaults')
  t.equal(config.server.host, '127.0.0.2')
  t.equal(config.limits.pingIntervalMs, 777)
  t.equal(config.storage.dataDir, '/tmp/x', 'RAILGUN_DATA alias')
  t.equal(config.limits.maxConnections, configDefaults.limits.maxConnections, 'untouched default')
})

t.test('generic environment names cover every field and beat aliases', async (t) => {
  t.equal(environmentNameOf('limits', 'maxPayloadBytes'), 'RAILGUN_LIMITS_MAX_PAYLOAD_BYTES')
  t.equal(environmentNameOf('server', 'httpPort'), 'RAILGUN_SERVER_HTTP_PORT')
  const config = loadConfig({
    env: { RAILGUN_PORT: '1', RAILGUN_SERVER_PORT: '2', RAILGUN_LOG_LEVEL: 'warn', RAILGUN_RESPONSES_DEFAULT_TIMEOUT_MS: '250' },
  })
  t.equal(config.server.port, 2)
  t.equal(config.log.level, 'warn')
  t.equal(config.responses.defaultTimeoutMs, 250)
})

t.test('errors name the source and the field', async (t) => {
  const bad = yamlFile('railgun.yaml', 'limits:\n  maxPayloadBytes: -5\n')
  t.throws(() => loadConfig({ configPath: bad, env: {} }), {
    name: 'ConfigError',
    code: 'RG_ERR_CONFIG',
    message: `config ${bad}: limits.maxPayloadBytes: expected a positive integer`,
  })
  const wrongType = yamlFile('type.yaml', 'limits:\n  maxPayloadBytes: lots\n')
  t.throws(() => loadConfig({ configPath: wrongType, env: {} }), {
    message: `config ${wrongType}: limits.maxPayloadBytes: expected a positive integer`,
  })
  const unknown = yamlFile('unknown.yaml', 'server:\n  prot: 1\n')
  t.throws(() => loadConfig({ configPath: unknown, env: {} }), { message: `config ${unknown}: server.prot: unknown field` })
  const unknownSection = yamlFile('section.yaml', 'servr:\n  port: 1\n')
  t.throws(() => loadConfig({ configPath: unknownSection, env: {} }), { message: `config ${unknownSection}: servr: unknown field` })
  t.throws(() => loadConfig({ env: { RAILGUN_PORT: 'abc' } }), {
    message: 'config env RAILGUN_PORT: server.port: expected a port number (0-65535)',
  })
  t.throws(() => loadConfig({ env: { RAILGUN_LIMITS_MAX_PENDING_BYTES: '0' } }), {
    message: 'config env RAILGUN_LIMITS_MAX_PENDING_BYTES: limits.maxPendingBytes: expected a positive integer',
  })
  t.throws(() => loadConfig({ env: {}, flags: { server: { port: 70000 } }, flagNames: { 'server.port': '--port' } }), {
    message: 'config flag --port: server.port: expected a port number (0-65535)',
  })
  t.throws(() => loadConfig({ env: { RAILGUN_LOG_LEVEL: 'loud' } }), /config env RAILGUN_LOG_LEVEL: log.level: expected one of/)
})

t.test('cross-field rule: a message must fit in the pending budget', async (t) => {
  t.throws(() => loadConfig({ env: { RAILGUN_LIMITS_MAX_PAYLOAD_BYTES: '2000', RAILGUN_LIMITS_MAX_PENDING_BYTES: '1000' } }), {
    message: 'config merged: limits.maxPayloadBytes: must not exceed limits.maxPendingBytes (1000)',
  })
})

t.test('file problems are config errors too', async (t) => {
  const missing = join(directory, 'missing.yaml')
  const error = t.throws(() => loadConfig({ configPath: missing, env: {} }))
  t.ok(error instanceof ConfigError)
  t.match(String((error as Error).message), `config ${missing}: (root): cannot read file`)
  const broken = yamlFile('broken.yaml', 'server: [unclosed\n')
  t.throws(() => loadConfig({ configPath: broken, env: {} }), /invalid YAML/)
  const list = yamlFile('list.yaml', '- 1\n- 2\n')
  t.throws(() => loadConfig({ configPath: list, env: {} }), /expected a mapping/)
  const empty = yamlFile('empty.yaml', '')
  t.equal(loadConfig({ configPath: empty, env: {} }).server.port, 4222, 'an empty file is no values')
})

t.test('configWith overrides sections for embedding', async (t) => {
  const config = configWith({ server: { port: 0, httpPort: 0 }, limits: { maxPayloadBytes: 10 } })
  t.equal(config.server.port, 0)
  t.equal(config.limits.maxPayloadBytes, 10)
  t.equal(config.limits.maxControlLineBytes, 4096)
  t.throws(() => configWith({ limits: { maxPayloadBytes: 0 } }))
})

t.test('cluster section: defaults, YAML lists, env booleans and comma-separated lists', async (t) => {
  const defaults = loadConfig({ env: {} })
  t.same(defaults.cluster, configDefaults.cluster)
  t.equal(defaults.cluster.peerPort, 6222)
  t.equal(defaults.cluster.masterEligible, true)
  t.same(defaults.cluster.seeds, [])
  const path = yamlFile('cluster.yaml', 'cluster:\n  name: prod\n  region: eu-west\n  seeds:\n    - a:6222\n    - n2@b:6222\n  masterEligible: false\n')
  const fromFile = loadConfig({ configPath: path, env: {} })
  t.same(fromFile.cluster.seeds, ['a:6222', 'n2@b:6222'])
  t.equal(fromFile.cluster.masterEligible, false)
  t.equal(fromFile.cluster.name, 'prod')
  const fromEnv = loadConfig({
    configPath: path,
    env: { RAILGUN_CLUSTER_MASTER_ELIGIBLE: 'TRUE', RAILGUN_CLUSTER_SEEDS: ' x:1, y:2 ,,', RAILGUN_CLUSTER_PEER_PORT: '7000', RAILGUN_CLUSTER_DEAD_AFTER_MS: '500' },
  })
  t.equal(fromEnv.cluster.masterEligible, true, 'env boolean beats the file')
  t.same(fromEnv.cluster.seeds, ['x:1', 'y:2'], 'comma-separated, trimmed, empty items dropped')
  t.equal(fromEnv.cluster.peerPort, 7000)
  t.equal(fromEnv.cluster.deadAfterMs, 500)
  t.equal(environmentNameOf('cluster', 'masterEligible'), 'RAILGUN_CLUSTER_MASTER_ELIGIBLE')
  t.throws(() => loadConfig({ env: { RAILGUN_CLUSTER_MASTER_ELIGIBLE: 'yes' } }), {
    name: 'ConfigError',
    message: 'config env RAILGUN_CLUSTER_MASTER_ELIGIBLE: cluster.masterEligible: expected true or false',
  })
  t.throws(() => loadConfig({ configPath: yamlFile('bad-seeds.yaml', 'cluster:\n  seeds: a:1\n'), env: {} }), {
    message: /cluster\.seeds: expected a list of strings/,
  })
  const withFlags = loadConfig({ env: {}, flags: { cluster: { seeds: ['f:1'], region: 'us-east' } } })
  t.same(withFlags.cluster.seeds, ['f:1'])
  t.equal(withFlags.cluster.region, 'us-east')
})
