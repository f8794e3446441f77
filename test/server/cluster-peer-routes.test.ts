// `cluster.peerRoutes` (`nodeId=host:port`): a node dials that peer at the given address instead
// of its seed or advertised one. The fault tests put a TcpProxy on every link this way; here:
// the parsing and its errors, the environment form, and two real nodes whose only link is a pair
// of proxies (a blackhole on them costs the leader its quorum, so no direct link exists).
import t from 'tap'
import { clusterSettingsOf, parsePeerRoute, peerRoutesMax } from '../../server/cluster/index.js'
import { resolveServerConfig } from '../../server/cli.js'
import { configWith } from '../../shared/config/index.js'
import { ConfigError } from '../../shared/errors.js'
import { TcpProxy } from '../harness/index.js'
import { runtimeOf, testCluster, waitFor } from './cluster-helpers.js'

function routesError(peerRoutes: string[]): string {
  try {
    clusterSettingsOf(configWith({ cluster: { peerRoutes } }))
  } catch (error) {
    if (error instanceof ConfigError) return error.message
    throw error
  }
  return ''
}

t.test('peer routes parse as nodeId=host:port; errors name cluster.peerRoutes', async (t) => {
  t.same(parsePeerRoute('n2=127.0.0.1:7001'), { ok: true, value: { nodeId: 'n2', host: '127.0.0.1', port: 7001 } })
  t.same(parsePeerRoute(' n3 = [::1]:7002'), { ok: true, value: { nodeId: 'n3', host: '::1', port: 7002 } })
  const settings = clusterSettingsOf(configWith({ cluster: { peerRoutes: ['n2=127.0.0.1:7001', 'n3=db-3:7002'] } }))
  t.same([...settings.peerRoutes.entries()], [
    ['n2', { host: '127.0.0.1', port: 7001 }],
    ['n3', { host: 'db-3', port: 7002 }],
  ])
  t.equal(clusterSettingsOf(configWith({})).peerRoutes.size, 0, 'none by default')
  t.match(routesError(['n2@127.0.0.1:7001']), /cluster\.peerRoutes: "n2@127\.0\.0\.1:7001" is not nodeId=host:port/)
  t.match(routesError(['=127.0.0.1:7001']), /cluster\.peerRoutes: .*empty node id/)
  t.match(routesError(['n2=127.0.0.1']), /cluster\.peerRoutes: route .* \(expected nodeId=host:port\)/)
  t.match(routesError(['n2=127.0.0.1:1', 'n2=127.0.0.1:2']), /node id n2 appears twice/)
  t.match(routesError(['bad id=127.0.0.1:1']), /cluster\.peerRoutes: "bad id=127\.0\.0\.1:1": /)
  t.match(routesError(Array.from({ length: peerRoutesMax + 1 }, (_, i) => `n${i}=127.0.0.1:${i + 1}`)), new RegExp(`at most ${peerRoutesMax} entries`))
})

t.test('peer routes come from RAILGUN_CLUSTER_PEER_ROUTES (comma-separated)', async (t) => {
  const config = resolveServerConfig({}, { RAILGUN_CLUSTER_PEER_ROUTES: 'n2=127.0.0.1:7001, n3=127.0.0.1:7002' })
  t.same(config.cluster.peerRoutes, ['n2=127.0.0.1:7001', 'n3=127.0.0.1:7002'])
})

t.test('two nodes talk only through their routes: a blackhole on the routes takes the quorum away', async (t) => {
  const cluster = testCluster(t)
  const a = await cluster.plan('a')
  const b = await cluster.plan('b')
  const toB = new TcpProxy({ target: { host: '127.0.0.1', port: b.peerPort }, name: 'a→b' })
  const toA = new TcpProxy({ target: { host: '127.0.0.1', port: a.peerPort }, name: 'b→a' })
  const [viaB, viaA] = [await toB.start(), await toA.start()]
  t.teardown(async () => {
    await toB.stop()
    await toA.stop()
  })
  // The seeds name the real ports: only the routes send the traffic through the proxies.
  const seeds = [`a@127.0.0.1:${a.peerPort}`, `b@127.0.0.1:${b.peerPort}`]
  const [nodeA, nodeB] = await Promise.all([
    cluster.start(a, { nodeId: 'a', seeds, peerRoutes: [`b=127.0.0.1:${viaB.port}`] }),
    cluster.start(b, { nodeId: 'b', seeds, peerRoutes: [`a=127.0.0.1:${viaA.port}`] }),
  ])
  await Promise.all([nodeA.ready, nodeB.ready])
  const hasLeader = (): boolean => runtimeOf(nodeA).isLeader() || runtimeOf(nodeB).isLeader()
  await waitFor('a leader', hasLeader)
  t.ok(toB.stats().connectionsAccepted + toA.stats().connectionsAccepted > 0, 'the nodes dialed the routes')
  t.ok(toB.stats().upstream.bytesForwarded + toA.stats().upstream.bytesForwarded > 0, 'peer bytes went through the proxies')

  toB.blackhole('both')
  toA.blackhole('both')
  // Check-quorum: a leader that hears from no follower for an election timeout steps down.
  await waitFor('no leader while the routes are blackholed', () => !hasLeader(), 20_000)
  t.pass('no leader without the routes: there is no direct link')
  toB.heal('both')
  toA.heal('both')
  toB.resetAll()
  toA.resetAll()
  await waitFor('a leader again after heal', hasLeader, 30_000)
  t.pass('healed')
})
