// Which region's controller of a consumer group serves a request (issue #6 "consumer groups are
// per region"; server/consumers/serving-region.ts), and how a controller learns the request's
// sender node (server/router.ts `LocalMessage.fromNode`, set by cluster routing):
//  1. the rule over every (sender region × stream regions × controller region) of a small
//     universe: a multi-region stream's request is served by exactly one of its regions — the
//     sender's when the stream is placed there, else the stream's first region; an unknown
//     sender by none; a single-region stream serves every request (as before the rule);
//  2. the same rule property-tested against a naive reference over random region names;
//  3. two routers over the memory transport with cluster routes: a cluster-wide in-process
//     subscriber on n2 sees `fromNode: 'n1'` for what a publisher on n1 sent, and no `fromNode`
//     for a publish on n2 itself; a node-local subscriber never sees the peer's message.
import fc from 'fast-check'
import t from 'tap'
import type { Test } from 'tap'
import { servesRequest, servingRegion } from '../../server/consumers/serving-region.js'
import { Router } from '../../server/router.js'
import type { LocalMessage } from '../../server/router.js'
import { attachClusterRoutes } from '../../server/routes/index.js'
import { systemClock } from '../../shared/clock.js'
import { configWith } from '../../shared/config/index.js'
import { createSilentLogger } from '../../shared/log.js'
import { MemoryHub } from '../../shared/transport/index.js'
import type { MemoryTransport } from '../../shared/transport/index.js'

const universe = ['ap', 'eu', 'us'] as const
/** Stream region lists as the control plane stores them (sorted, unique), the empty one included. */
const streamRegionLists: ReadonlyArray<readonly string[]> = [[], ['eu'], ['us'], ['eu', 'us'], ['ap', 'us'], ['ap', 'eu', 'us']]
/** A sender in a region of the universe, or unknown to the cluster state. */
const senders: ReadonlyArray<string | undefined> = [...universe, undefined]

t.test('the rule over every sender region × stream regions × controller region', async (t) => {
  let cases = 0
  for (const streamRegions of streamRegionLists) {
    for (const senderRegion of senders) {
      const serving = universe.filter((controllerRegion) => servesRequest({ streamRegions, controllerRegion, senderRegion }))
      const label = `stream [${streamRegions.join(',')}], sender ${senderRegion ?? 'unknown'}`
      cases += universe.length
      if (streamRegions.length <= 1) {
        t.same(serving, universe, `${label}: single region — every controller serves it (as before)`)
        continue
      }
      // Controllers run only in the stream's regions: the one that serves is among them.
      const servingPlaced = serving.filter((region) => streamRegions.includes(region))
      if (senderRegion === undefined) {
        t.same(servingPlaced, [], `${label}: no controller serves an unknown sender`)
      } else if (streamRegions.includes(senderRegion)) {
        t.same(servingPlaced, [senderRegion], `${label}: the sender's own region serves it`)
      } else {
        t.same(servingPlaced, [streamRegions[0]], `${label}: not placed there — the stream's first region serves it`)
      }
    }
  }
  t.equal(cases, streamRegionLists.length * senders.length * universe.length)
})

t.test('examples named in the docs', async (t) => {
  t.equal(servingRegion(['eu', 'us'], 'us'), 'us', 'a member in us: the us controller')
  t.equal(servingRegion(['eu', 'us'], 'eu'), 'eu', 'a member in eu: the eu controller')
  t.equal(servingRegion(['eu', 'us'], 'ap'), 'eu', 'a member in ap (stream not placed there): eu, the first region')
  t.equal(servingRegion(['eu', 'us'], undefined), undefined, 'an unknown node: nobody')
  t.notOk(servesRequest({ streamRegions: ['eu', 'us'], controllerRegion: 'us', senderRegion: 'eu' }), 'the us controller drops a request from eu')
  t.ok(servesRequest({ streamRegions: ['eu'], controllerRegion: 'eu', senderRegion: 'us' }), 'single region: a member connected in us is served by eu as before')
  t.ok(servesRequest({ streamRegions: ['eu'], controllerRegion: 'eu', senderRegion: undefined }), 'single region: even an unknown sender')
})

t.test('property: a multi-region stream has exactly one serving controller per known sender; it matches a naive reference', async (t) => {
  const region = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f')
  fc.assert(
    fc.property(fc.uniqueArray(region, { minLength: 0, maxLength: 6 }), fc.option(region, { nil: undefined }), (listed, senderRegion) => {
      const streamRegions = [...listed].sort()
      const servingCount = streamRegions.filter((controllerRegion) => servesRequest({ streamRegions, controllerRegion, senderRegion })).length
      // Naive reference: own region if placed there; else the alphabetically first; unknown: none; one region: all.
      let expected: number
      if (streamRegions.length <= 1) expected = streamRegions.length
      else expected = senderRegion === undefined ? 0 : 1
      if (servingCount !== expected) return false
      if (streamRegions.length > 1 && senderRegion !== undefined) {
        const reference = streamRegions.includes(senderRegion) ? senderRegion : streamRegions.reduce((a, b) => (a < b ? a : b))
        return servesRequest({ streamRegions, controllerRegion: reference, senderRegion })
      }
      return true
    }),
    { numRuns: 2_000 },
  )
  t.pass('2,000 random cases agree with the reference')
})

async function until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

async function routedNode(t: Test, hub: MemoryHub, id: string): Promise<{ router: Router; transport: MemoryTransport }> {
  const router = new Router(configWith({}), systemClock, createSilentLogger())
  const transport = hub.createTransport({ nodeId: id, reconnectDelayMs: 5 })
  await transport.start()
  const routes = attachClusterRoutes({ router, transport, logger: createSilentLogger(), clock: systemClock, limits: { retryIntervalMs: 20, resyncRequestIntervalMs: 50 } })
  t.teardown(async () => {
    routes.close()
    router.stop()
    await transport.stop()
  })
  return { router, transport }
}

t.test('router: a cluster-wide in-process subscriber learns which peer forwarded a message', async (t) => {
  const hub = new MemoryHub()
  const n1 = await routedNode(t, hub, 'n1')
  const n2 = await routedNode(t, hub, 'n2')
  n1.transport.connect({ id: 'n2', host: 'memory', port: 0 })
  await until(() => n1.transport.upPeers().length === 1 && n2.transport.upPeers().length === 1, 'link up')
  const clusterWide: LocalMessage[] = []
  const nodeLocal: LocalMessage[] = []
  n2.router.subscribeLocal('$RG.C.default.orders.billing.>', (message) => clusterWide.push(message), { cluster: true })
  n2.router.subscribeLocal('$RG.C.default.orders.>', (message) => nodeLocal.push(message))
  await until(() => n1.router.hasInterest('$RG.C.default.orders.billing.JOIN'), 'n1 knows n2 interest')
  n1.router.publishLocal('$RG.C.default.orders.billing.JOIN', '_INBOX.a', undefined, Buffer.from('{}'))
  await until(() => clusterWide.length === 1, 'n2 got the forwarded request')
  n2.router.publishLocal('$RG.C.default.orders.billing.ACK.7.1', undefined, undefined, Buffer.from(''))
  await until(() => clusterWide.length === 2, 'n2 got its own publish')
  t.equal(clusterWide[0]?.fromNode, 'n1', 'forwarded by n1: fromNode n1')
  t.equal(clusterWide[0]?.replyTo, '_INBOX.a', 'the reply subject travels with it')
  t.equal(clusterWide[1]?.fromNode, undefined, 'published on n2 itself: no fromNode')
  t.same(
    nodeLocal.map((message) => message.subject),
    ['$RG.C.default.orders.billing.ACK.7.1'],
    'a node-local subscriber gets only what was published on its node',
  )
})
