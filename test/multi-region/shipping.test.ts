// Streams across regions on real processes (issue #6; DESIGN §3.2.5, §4 invariants 1, 3, 4):
// 2 regions × 2 `railgun server` processes, every peer link through a TCP proxy (test/harness),
// a stream placed in both regions (2 replicas each, `majority` acks, dedup window 60 s).
//  1. An event published in eu is received by a consumer-group member connected in us.
//  2. Ids published in eu only, in us only, and the same ids in both regions inside the window:
//     every replica of both regions delivers every copy, and each region's group sequence (what
//     its consumer groups are fed) holds every id exactly once; all four replicas report the same
//     event-set digest.
//  3. us is cut off from eu for a few seconds (both directions blackholed at the proxies) while
//     producers publish in both regions: local writes keep being acked on both sides, the lag
//     shows in STREAM.INFO; after the heal both regions catch up, every acked id is everywhere,
//     group sequences hold each id once, digests are equal.
// The 30 s cut under load and the shipper's restart: shipping-heavy.test.ts (RAILGUN_HEAVY=1).
import { connect, createInbox } from '@nats-io/transport-node'
import { nuid } from '@nats-io/nuid'
import t from 'tap'
import { consumerHeaders, consumerSubject } from '../../shared/api/consumer-wire.js'
import { api, checkConverged, newLog, publishOne, shippingInfo, startProducer, startRegions, until } from './helpers.js'

const stream = 'orders'
const cutMs = 3_000

t.test('streams across two regions: shipped, deduplicated per region, converged after a cut', { timeout: 240_000 }, async (t) => {
  const started = Date.now()
  const r = await startRegions(t, ['eu', 'us'], 2)
  const eu = (): ReturnType<typeof r.nc>[] => [r.nc('eu-1'), r.nc('eu-2')]
  const us = (): ReturnType<typeof r.nc>[] => [r.nc('us-1'), r.nc('us-2')]
  const ensured = await api(r.nc('eu-1'), 'STREAM.ENSURE', { name: stream, kind: 'persistent', regions: ['eu', 'us'], replicasPerRegion: 2, dedupWindowMs: 60_000 })
  t.equal(ensured.ok, true, 'stream ensured in eu and us')
  await until('the stream open on every replica, its region dedup rebuilt', async () => (await Promise.all(r.nodeIds.map((id) => shippingInfo(r.nc(id), stream)))).every((info) => info?.replica?.caughtUp === true), 60_000)
  t.equal((await api(r.nc('us-1'), 'GROUP.ENSURE', { stream, name: 'billing', start: { from: 'beginning' } })).ok, true, 'group ensured')
  t.comment(`cluster and stream ready after ${Date.now() - started} ms`)

  // 1. A member of the group, connected in us, receives what eu published.
  const member = await connect({ servers: r.cluster.node('us-2').clientUrl })
  t.teardown(() => member.close().catch(() => undefined))
  const received = new Map<string, number>()
  const deliver = createInbox()
  member.subscribe(deliver, {
    callback: (error, message) => {
      if (error !== null || (message.headers?.get(consumerHeaders.status) ?? '') !== '') return
      const id = message.headers?.get(consumerHeaders.msgId) ?? ''
      received.set(id, (received.get(id) ?? 0) + 1)
      if (message.reply !== undefined && message.reply !== '') member.publish(message.reply, new Uint8Array(0))
    },
  })
  const memberId = nuid.next()
  await until(
    'JOIN answered',
    async () => (await member.request(consumerSubject({ namespace: 'default', stream, group: 'billing' }, 'JOIN'), JSON.stringify({ member: memberId, deliver, maxInFlight: 100 }), { timeout: 3_000 }).then((m) => m.json<{ ok: boolean }>().ok).catch(() => false)) === true,
    30_000,
  )
  const heartbeat = setInterval(() => void member.request(consumerSubject({ namespace: 'default', stream, group: 'billing' }, 'HB'), JSON.stringify({ member: memberId }), { timeout: 3_000 }).catch(() => undefined), 1_000)
  t.teardown(() => clearInterval(heartbeat))

  const log = newLog()
  t.ok(await publishOne(eu(), stream, 'first-from-eu', log), 'published in eu')
  await until('the member in us received the event published in eu', () => received.has('first-from-eu'), 30_000)
  t.pass('a group member in us received the event published in eu')

  // 2. eu only, us only, and twins: the same id in both regions inside the window.
  for (let i = 0; i < 10; i++) await publishOne(eu(), stream, `eu-${i}`, log, i)
  for (let i = 0; i < 10; i++) await publishOne(us(), stream, `us-${i}`, log, i)
  for (let i = 0; i < 5; i++) {
    await publishOne(eu(), stream, `twin-${i}`, log, i)
    await publishOne(us(), stream, `twin-${i}`, log, i)
  }
  t.equal(log.acked.size, 26, 'every publish acked by its own region')
  await checkConverged(t, r, stream, { acked: log.acked, maybe: log.unacked })
  await until('the member received every id', () => [...log.acked].every((id) => received.has(id)), 30_000)
  t.pass(`the member in us received every id (${received.size} distinct)`)
  // Informational: each region's controller of the group serves a member that joined anywhere
  // (server/shipping README "Not here"), so a member may get an id from both regions' controllers.
  t.comment(`deliveries to the member: ${[...received.values()].reduce((a, b) => a + b, 0)} for ${received.size} ids, at most ${Math.max(...received.values())} per id`)

  // 3. us cut off from eu: both sides keep taking writes; they catch up after the heal.
  const before = log.acked.size
  const euProducer = startProducer(eu, stream, Array.from({ length: 400 }, (_, i) => `cut-eu-${i}`), log, 20)
  const usProducer = startProducer(us, stream, Array.from({ length: 400 }, (_, i) => `cut-us-${i}`), log, 20)
  await until('both producers running', () => log.acked.size >= before + 10, 30_000)
  t.comment(`cut eu | us for ${cutMs} ms after ${log.acked.size} acks`)
  r.cluster.partition(r.nodesOf.get('eu') ?? [], r.nodesOf.get('us') ?? [])
  const atCut = { eu: [...log.acked].filter((id) => id.startsWith('cut-eu')).length, us: [...log.acked].filter((id) => id.startsWith('cut-us')).length }
  await new Promise((resolve) => setTimeout(resolve, cutMs))
  const inCut = { eu: [...log.acked].filter((id) => id.startsWith('cut-eu')).length - atCut.eu, us: [...log.acked].filter((id) => id.startsWith('cut-us')).length - atCut.us }
  const lagInCut = await shippingInfo(r.nc('eu-1'), stream)
  r.cluster.heal()
  t.ok(inCut.eu > 0 && inCut.us > 0, `both regions acked local writes while cut off (eu ${inCut.eu}, us ${inCut.us})`)
  const euToUs = lagInCut?.lag.find((link) => link.from === 'eu' && link.to === 'us')
  t.ok(euToUs !== undefined && euToUs.events > 0, `eu → us lag during the cut: ${JSON.stringify(euToUs)}`)
  euProducer.stop()
  usProducer.stop()
  await Promise.all([euProducer.done, usProducer.done])
  t.comment(`healed; ${log.acked.size} acked, ${log.unacked.size} given up, ${log.retries} retried attempts`)
  await checkConverged(t, r, stream, { acked: log.acked, maybe: log.unacked })
  // Lag reports are sent every second: the next ones after the catch-up say 0 on both links.
  let lagAfter = await shippingInfo(r.nc('us-1'), stream)
  await until('both links report no lag', async () => {
    lagAfter = await shippingInfo(r.nc('us-1'), stream)
    return lagAfter?.lag.length === 2 && lagAfter.lag.every((link) => link.events === 0 && !link.stale)
  }, 30_000).catch(() => undefined)
  t.ok(lagAfter?.lag.length === 2 && lagAfter.lag.every((link) => link.events === 0), `no lag left on any link: ${JSON.stringify(lagAfter?.lag)}`)
  t.comment(`done after ${Date.now() - started} ms`)
})
