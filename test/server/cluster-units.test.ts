// Pure pieces of the node's control-plane assembly: the derived node id, seed and address
// parsing, the cluster settings' checks, and the membership decision
// `(state, raftConfig, progress) → next conf change | transfer | none`.
import t from 'tap'
import { createHash } from 'node:crypto'
import { emptyState } from '../../control-plane/cluster/index.js'
import type { ClusterState, NodeRecord } from '../../control-plane/cluster/index.js'
import type { ConfState, ProgressStatus } from '../../control-plane/raft/index.js'
import {
  clusterSettingsOf,
  discoverSrvSeeds,
  formatHostPort,
  nextMembershipStep,
  nodeIdFromAddress,
  parseHostPort,
  parseSeed,
  promotionLagEntriesMax,
  resolveNodeId,
} from '../../server/cluster/index.js'
import type { MembershipView } from '../../server/cluster/index.js'
import { reservePort, reservedPortRange } from '../../server/cluster/reserve-port.js'
import { resolveServerConfig } from '../../server/cli.js'
import { configWith } from '../../shared/config/index.js'
import type { NodeConfig } from '../../shared/config/index.js'
import { ConfigError } from '../../shared/errors.js'
import { createMemoryLocation, openMemoryStorage } from '../../shared/storage/index.js'

t.test('node id: first 8 bytes of SHA-256 of host:port, 16 lowercase hex characters', async (t) => {
  t.equal(nodeIdFromAddress('127.0.0.1:6222'), createHash('sha256').update('127.0.0.1:6222').digest('hex').slice(0, 16))
  t.equal(nodeIdFromAddress('127.0.0.1:6222'), nodeIdFromAddress('127.0.0.1:6222'), 'deterministic')
  t.not(nodeIdFromAddress('127.0.0.1:6222'), nodeIdFromAddress('127.0.0.1:6223'), 'another port, another id')
  for (const address of ['10.0.0.1:1', 'db-1.example.com:6222', '[::1]:6222']) t.match(nodeIdFromAddress(address), /^[0-9a-f]{16}$/)
})

t.test('node id is stored on first start and kept; a configured id that differs is a config error naming both', async (t) => {
  const storage = await openMemoryStorage(createMemoryLocation(), { keySpaces: ['node-meta'] })
  const first = await resolveNodeId(storage, '', () => 'aaaaaaaaaaaaaaaa')
  t.same(first, { id: 'aaaaaaaaaaaaaaaa', source: 'derived' })
  const again = await resolveNodeId(storage, '', () => 'bbbbbbbbbbbbbbbb')
  t.same(again, { id: 'aaaaaaaaaaaaaaaa', source: 'stored' }, 'a new address does not change a stored id')
  t.same(await resolveNodeId(storage, 'aaaaaaaaaaaaaaaa', () => 'x'), { id: 'aaaaaaaaaaaaaaaa', source: 'stored' }, 'the same configured id is fine')
  await t.rejects(resolveNodeId(storage, 'other', () => 'x'), { name: 'ConfigError', message: /configured node id "other" differs from the id "aaaaaaaaaaaaaaaa" stored/ })
  const fresh = await openMemoryStorage(createMemoryLocation(), { keySpaces: ['node-meta'] })
  t.same(await resolveNodeId(fresh, 'alpha', () => 'x'), { id: 'alpha', source: 'configured' })
})

t.test('addresses and seeds', async (t) => {
  t.same(parseHostPort('127.0.0.1:6222'), { ok: true, value: { host: '127.0.0.1', port: 6222 } })
  t.same(parseHostPort('[::1]:7000'), { ok: true, value: { host: '::1', port: 7000 } })
  t.equal(formatHostPort({ host: '::1', port: 7000 }), '[::1]:7000')
  for (const bad of ['nohost', 'host:', ':80', 'host:0', 'host:70000', 'a b:1', 'host:12x']) t.notOk(parseHostPort(bad).ok, `"${bad}" is refused`)
  const derived = parseSeed('10.0.0.5:6222')
  t.same(derived, { ok: true, value: { host: '10.0.0.5', port: 6222, nodeId: nodeIdFromAddress('10.0.0.5:6222'), explicitId: false } })
  t.same(parseSeed('n1@db-1:6222'), { ok: true, value: { host: 'db-1', port: 6222, nodeId: 'n1', explicitId: true } })
  const noId = parseSeed('@db-1:6222')
  t.ok(!noId.ok && /empty node id/.test(noId.problem))
  const noPort = parseSeed('n1@db-1')
  t.ok(!noPort.ok && /expected host:port or nodeId@host:port/.test(noPort.problem))
})

t.test('DNS SRV records become seeds in priority order, deduplicated', async (t) => {
  const seeds = await discoverSrvSeeds('_railgun._tcp.example', async (name) => {
    t.equal(name, '_railgun._tcp.example')
    return [
      { name: 'b.example.', port: 6222, priority: 20, weight: 1 },
      { name: 'a.example', port: 6222, priority: 10, weight: 1 },
      { name: 'a.example', port: 6222, priority: 30, weight: 1 },
    ]
  })
  t.same(seeds.map((seed) => formatHostPort(seed)), ['a.example:6222', 'b.example:6222'])
  t.equal(seeds[0]?.nodeId, nodeIdFromAddress('a.example:6222'))
})

function settingsError(cluster: Partial<NodeConfig['cluster']>): string {
  try {
    clusterSettingsOf(configWith({ cluster }))
  } catch (error) {
    if (error instanceof ConfigError) return error.message
    throw error
  }
  return ''
}

t.test('cluster settings: names follow the cluster rules; seeds and advertise parse; errors name the field', async (t) => {
  const settings = clusterSettingsOf(configWith({ cluster: { seeds: ['n1@h1:1', 'h2:2'], advertise: 'me.example:7000', zone: 'z1' } }))
  t.same(settings.seeds.map((seed) => seed.nodeId), ['n1', nodeIdFromAddress('h2:2')])
  t.same(settings.advertise, { host: 'me.example', port: 7000 })
  t.match(settingsError({ nodeId: 'bad id!' }), /^config cluster: cluster\.nodeId: invalid node name "bad id!"/)
  t.match(settingsError({ nodeId: '$system' }), /cluster\.nodeId: .*reserved/)
  t.match(settingsError({ region: 'us.east' }), /cluster\.region: invalid region name "us\.east"/)
  t.match(settingsError({ name: 'my cluster' }), /cluster\.name: invalid cluster name/)
  t.match(settingsError({ seeds: ['nonsense'] }), /cluster\.seeds: seed "nonsense" is not host:port \(expected host:port or nodeId@host:port\)/)
  t.match(settingsError({ seeds: ['bad id@h:1'] }), /cluster\.seeds: "bad id@h:1": invalid node name/)
  t.match(settingsError({ seeds: ['n1@h:1', 'n1@h:2'] }), /node id n1 appears twice/)
  t.match(settingsError({ advertise: 'nope' }), /cluster\.advertise: "nope" is not host:port/)
  t.equal(settingsError({}), '', 'the defaults are valid')
})

function node(id: string, fields: Partial<NodeRecord> = {}): NodeRecord {
  return {
    id,
    clientAddress: `${id}:4222`,
    peerAddress: `${id}:6222`,
    adminAddress: `${id}:8222`,
    region: 'r1',
    masterEligible: true,
    tags: {},
    state: 'active',
    removingLosesData: false,
    joinedIndex: 1,
    ...fields,
  }
}

function stateWith(...records: NodeRecord[]): ClusterState {
  return { ...emptyState(), nodes: new Map(records.map((record) => [record.id, record])) }
}

function conf(voters: string[], learners: string[] = []): ConfState {
  return { voters, learners, votersOutgoing: [] }
}

const upToDate = (match: number): ProgressStatus => ({ match, next: match + 1, state: 'replicate' })

function view(state: ClusterState, confState: ConfState, progress: Record<string, ProgressStatus>, leaderId = 'a', lastIndex = 100): MembershipView {
  return { state, confState, progress, leaderId, lastIndex }
}

t.test('membership decision: one step at a time, removals, learners, promotions, demotions', async (t) => {
  const all = { a: upToDate(100), b: upToDate(100), c: upToDate(100) }
  t.same(nextMembershipStep(view(stateWith(node('a'), node('b')), conf(['a', 'b']), all)), { kind: 'none' }, 'in line: nothing to do')
  t.same(nextMembershipStep(view(stateWith(), conf(['a', 'b', 'c']), all)), { kind: 'none' }, 'bootstrap voters without records are kept')
  t.match(nextMembershipStep(view(stateWith(node('a'), node('c')), conf(['a']), all)), { kind: 'change', change: { kind: 'addLearner', nodeId: 'c' } }, 'a new active node becomes a learner')
  t.same(nextMembershipStep(view(stateWith(node('a'), node('c', { state: 'dead' })), conf(['a']), all)), { kind: 'none' }, 'a dead node is not added')
  t.match(nextMembershipStep(view(stateWith(node('a'), node('c')), conf(['a'], ['c']), all)), { kind: 'change', change: { kind: 'addVoter', nodeId: 'c' } }, 'a caught-up master-eligible learner is promoted')
  const lagging = { a: upToDate(100), c: upToDate(100 - promotionLagEntriesMax - 1) }
  t.same(nextMembershipStep(view(stateWith(node('a'), node('c')), conf(['a'], ['c']), lagging)), { kind: 'none' }, 'a lagging learner waits')
  const probing = { a: upToDate(100), c: { match: 100, next: 101, state: 'probe' as const } }
  t.same(nextMembershipStep(view(stateWith(node('a'), node('c')), conf(['a'], ['c']), probing)), { kind: 'none' }, 'a probed learner waits')
  t.same(nextMembershipStep(view(stateWith(node('a'), node('c', { masterEligible: false })), conf(['a'], ['c']), all)), { kind: 'none' }, 'a non-master-eligible learner stays a learner')
  t.match(nextMembershipStep(view(stateWith(node('a'), node('b', { masterEligible: false })), conf(['a', 'b']), all)), { kind: 'change', change: { kind: 'addLearner', nodeId: 'b' } }, 'a voter that is not master-eligible is demoted')
  t.match(nextMembershipStep(view(stateWith(node('a'), node('b', { state: 'removed' })), conf(['a', 'b']), all)), { kind: 'change', change: { kind: 'removeNode', nodeId: 'b' } }, 'a removed node leaves')
  t.match(nextMembershipStep(view(stateWith(node('a'), node('b', { state: 'removed' }), node('c')), conf(['a', 'b']), all)), { change: { kind: 'removeNode' } }, 'removals come before additions')
  t.same(nextMembershipStep(view(stateWith(node('a', { state: 'removed' })), conf(['a']), all)), { kind: 'none' }, 'never the last voter')
  t.match(nextMembershipStep(view(stateWith(node('a', { state: 'removed' }), node('b')), conf(['a', 'b']), all)), { kind: 'transfer', to: 'b' }, 'the leader hands over before it is removed')
  const bBehind = { a: upToDate(100), b: { match: 10, next: 11, state: 'probe' as const } }
  t.same(nextMembershipStep(view(stateWith(node('a', { state: 'removed' }), node('b')), conf(['a', 'b']), bBehind)), { kind: 'none' }, 'no transfer to a voter that is not caught up')
  t.match(nextMembershipStep(view(stateWith(node('a'), node('b', { state: 'removed' })), conf(['a'], ['b']), all)), { change: { kind: 'removeNode', nodeId: 'b' } }, 'a removed learner leaves')
  t.same(nextMembershipStep(view(stateWith(node('a'), node('c')), { voters: ['a'], learners: [], votersOutgoing: ['a', 'b'] }, all)), { kind: 'none' }, 'a joint configuration is left alone')
})

t.test('server flags set the cluster section (seeds comma-separated) and errors name the flag', async (t) => {
  const config = resolveServerConfig(
    { seeds: 'a:1, n2@b:2', masterEligible: false, peerPort: 0, region: 'us-east', zone: 'z', clusterName: 'c1', nodeId: 'me', advertise: 'h:9', dnsSrv: '_rg._tcp.x' },
    { RAILGUN_CLUSTER_REGION: 'ignored-by-flag' },
  )
  t.match(config.cluster, { seeds: ['a:1', 'n2@b:2'], masterEligible: false, peerPort: 0, region: 'us-east', zone: 'z', name: 'c1', nodeId: 'me', advertise: 'h:9', dnsSrv: '_rg._tcp.x' })
  t.throws(() => resolveServerConfig({ peerPort: 70000 }, {}), { message: 'config flag --peer-port: cluster.peerPort: expected a port number (0-65535)' })
  t.same(resolveServerConfig({ peerRoute: ['n2=127.0.0.1:7001', 'n3=127.0.0.1:7002'] }, {}).cluster.peerRoutes, ['n2=127.0.0.1:7001', 'n3=127.0.0.1:7002'], '--peer-route is repeatable')
  t.throws(() => clusterSettingsOf(resolveServerConfig({ peerRoute: ['bogus'] }, {})), { message: /cluster\.peerRoutes: "bogus" is not nodeId=host:port/ })
  t.equal(resolveServerConfig({}, { RAILGUN_METRICS_PUBLISH_INTERVAL_MS: '0' }).metrics.publishIntervalMs, 0, 'metrics.publishIntervalMs from the environment')
})

t.test('port reservations: below the ephemeral range, and never the same port twice while claimed', async (t) => {
  const ports: number[] = []
  for (let i = 0; i < 200; i++) ports.push(await reservePort('127.0.0.1'))
  t.equal(new Set(ports).size, ports.length, '200 reservations, 200 different ports (random picks alone would repeat one with ~80% probability)')
  t.ok(
    ports.every((port) => port >= reservedPortRange.low && port <= reservedPortRange.high),
    'all from the reserved range, below the ephemeral ports',
  )
})
