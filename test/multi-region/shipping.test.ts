// Streams across regions on real processes (issue #6; DESIGN §3.2.5, §4 invariants 1, 3, 4):
// 2 regions × 2 `railgun server` processes, every peer link through a TCP proxy (test/harness),
// a stream placed in both regions (2 replicas each, `majority` acks, dedup window 60 s).
//  1. An event published in eu is received by a consumer-group member connected in us and by one
//     connected in eu; each region's controller serves only the member connected in its region
//     (INFO asked in each region lists only that member).
//  2. Ids published in eu only, in us only, and the same ids in both regions inside the window:
//     every replica of both regions delivers every copy, and each region's group sequence (what
//     its consumer groups are fed) holds every id exactly once; all four replicas report the same
//     event-set digest; each member receives each id exactly once. Acks settle only their own
//     region's positions: the member in us acks everything while the one in eu holds its acks —
//     the eu group keeps all 26 outstanding (head 26), then the eu member acks and it drains.
//  3. us is cut off from eu for a few seconds (both directions blackholed at the proxies) while
//     producers publish in both regions: local writes keep being acked on both sides, the lag
//     shows in STREAM.INFO; after the heal both regions catch up, every acked id is everywhere,
//     group sequences hold each id once, digests are equal, and each member got every acked id
//     first-delivered exactly once.
// The 30 s cut under load and the shipper's restart: shipping-heavy.test.ts (RAILGUN_HEAVY=1).
import { connect, createInbox } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import { nuid } from '@nats-io/nuid'
import t from 'tap'
import type { Test } from 'tap'
import { consumerHeaders, consumerInfoSubject, consumerSubject } from '../../shared/api/consumer-wire.js'
import type { ControllerSnapshot } from '../../data-plane/persistent/consumer/index.js'
import { api, checkConverged, newLog, publishOne, shippingInfo, startProducer, startRegions, until } from './helpers.js'

const stream = 'orders'
const cutMs = 3_000
const group = { namespace: 'default', stream, group: 'billing' } as const
/** Long enough that nothing held unacked in this test is redelivered because its ack wait passed. */
const groupAckWaitMs = 600_000

/** A member of the group connected to one node: what it received per id, and whether it acks now. */
interface Member {
  readonly id: string
  /** id → deliveries received (every delivery). */
  readonly received: Map<string, number>
  /** id → first deliveries received (`Rg-Deliveries: 1`): more than one means two positions gave it. */
  readonly firsts: Map<string, number>
  /** Acks held while `acking` is false. */
  readonly held: string[]
  acking: boolean
  ackHeld(): void
}

async function joinMember(t: Test, url: string): Promise<Member> {
  const nc: NatsConnection = await connect({ servers: url })
  t.teardown(() => nc.close().catch(() => undefined))
  const deliver = createInbox()
  const member: Member = {
    id: nuid.next(),
    received: new Map(),
    firsts: new Map(),
    held: [],
    acking: true,
    ackHeld: () => {
      for (const reply of member.held.splice(0)) nc.publish(reply, new Uint8Array(0))
    },
  }
  nc.subscribe(deliver, {
    callback: (error, message) => {
      if (error !== null || (message.headers?.get(consumerHeaders.status) ?? '') !== '') return
      const id = message.headers?.get(consumerHeaders.msgId) ?? ''
      member.received.set(id, (member.received.get(id) ?? 0) + 1)
      if (message.headers?.get(consumerHeaders.deliveries) === '1') member.firsts.set(id, (member.firsts.get(id) ?? 0) + 1)
      if (message.reply === undefined || message.reply === '') return
      if (member.acking) nc.publish(message.reply, new Uint8Array(0))
      else member.held.push(message.reply)
    },
  })
  await until(
    'JOIN answered',
    async () => (await nc.request(consumerSubject(group, 'JOIN'), JSON.stringify({ member: member.id, deliver, maxInFlight: 100 }), { timeout: 3_000 }).then((m) => m.json<{ ok: boolean }>().ok).catch(() => false)) === true,
    30_000,
  )
  const heartbeat = setInterval(() => void nc.request(consumerSubject(group, 'HB'), JSON.stringify({ member: member.id }), { timeout: 3_000 }).catch(() => undefined), 1_000)
  t.teardown(() => clearInterval(heartbeat))
  return member
}

/** The group as the controller serving `nc`'s region sees it (INFO). */
async function groupInfo(nc: NatsConnection): Promise<ControllerSnapshot | undefined> {
  const answer = await nc
    .request(consumerInfoSubject(group), '{}', { timeout: 3_000 })
    .then((m) => m.json<{ ok: boolean; group?: ControllerSnapshot }>())
    .catch(() => undefined)
  return answer?.ok === true ? answer.group : undefined
}

const total = (counts: ReadonlyMap<string, number>): number => [...counts.values()].reduce((a, b) => a + b, 0)

t.test('streams across two regions: shipped, deduplicated per region, converged after a cut', { timeout: 240_000 }, async (t) => {
  const started = Date.now()
  const r = await startRegions(t, ['eu', 'us'], 2)
  const eu = (): ReturnType<typeof r.nc>[] => [r.nc('eu-1'), r.nc('eu-2')]
  const us = (): ReturnType<typeof r.nc>[] => [r.nc('us-1'), r.nc('us-2')]
  const ensured = await api(r.nc('eu-1'), 'STREAM.ENSURE', { name: stream, kind: 'persistent', regions: ['eu', 'us'], replicasPerRegion: 2, dedupWindowMs: 60_000 })
  t.equal(ensured.ok, true, 'stream ensured in eu and us')
  await until('the stream open on every replica, its region dedup rebuilt', async () => (await Promise.all(r.nodeIds.map((id) => shippingInfo(r.nc(id), stream)))).every((info) => info?.replica?.caughtUp === true), 60_000)
  t.equal((await api(r.nc('us-1'), 'GROUP.ENSURE', { stream, name: 'billing', start: { from: 'beginning' }, ackWaitMs: groupAckWaitMs })).ok, true, 'group ensured')
  t.comment(`cluster and stream ready after ${Date.now() - started} ms`)

  // 1. A member in us and one in eu; each receives what eu published; each region's controller serves its own member only.
  const usMember = await joinMember(t, r.cluster.node('us-2').clientUrl)
  const euMember = await joinMember(t, r.cluster.node('eu-2').clientUrl)
  euMember.acking = false
  const log = newLog()
  t.ok(await publishOne(eu(), stream, 'first-from-eu', log), 'published in eu')
  await until('both members received the event published in eu', () => usMember.received.has('first-from-eu') && euMember.received.has('first-from-eu'), 30_000)
  t.pass('a group member in us and one in eu received the event published in eu')
  const usInfo = await groupInfo(r.nc('us-1'))
  const euInfo = await groupInfo(r.nc('eu-1'))
  t.same(usInfo?.members.map((m) => m.member), [usMember.id], 'INFO asked in us: the us controller serves the member in us only')
  t.same(euInfo?.members.map((m) => m.member), [euMember.id], 'INFO asked in eu: the eu controller serves the member in eu only')

  // 2. eu only, us only, and twins: the same id in both regions inside the window.
  for (let i = 0; i < 10; i++) await publishOne(eu(), stream, `eu-${i}`, log, i)
  for (let i = 0; i < 10; i++) await publishOne(us(), stream, `us-${i}`, log, i)
  for (let i = 0; i < 5; i++) {
    await publishOne(eu(), stream, `twin-${i}`, log, i)
    await publishOne(us(), stream, `twin-${i}`, log, i)
  }
  t.equal(log.acked.size, 26, 'every publish acked by its own region')
  await checkConverged(t, r, stream, { acked: log.acked, maybe: log.unacked })
  for (const [name, member] of [['us', usMember], ['eu', euMember]] as const) {
    await until(`the member in ${name} received every id`, () => [...log.acked].every((id) => member.received.has(id)), 30_000)
    t.same(
      [...member.received].filter(([, count]) => count !== 1),
      [],
      `the member in ${name} received each of the ${member.received.size} ids exactly once (${total(member.received)} deliveries)`,
    )
    t.equal(member.received.size, log.acked.size, `the member in ${name} received nothing else`)
  }
  // The us member acked everything; the eu member holds its 26 acks. An ack names a position
  // without its region: had the us acks reached the eu controller, they would have settled eu's.
  await until('the us group has nothing outstanding', async () => (await groupInfo(r.nc('us-1')))?.outstanding === 0, 30_000)
  const euHeld = await groupInfo(r.nc('eu-2'))
  t.equal(euHeld?.outstanding, log.acked.size, `eu keeps its own ${log.acked.size} outstanding after the us member acked all of its (${JSON.stringify({ head: euHeld?.head, outstanding: euHeld?.outstanding, acked: euHeld?.counters.acked })})`)
  t.equal(euHeld?.head, log.acked.size, 'eu head: every position of its group sequence dispatched')
  t.equal(euHeld?.counters.acked, 0, 'eu counted no ack')
  t.equal(euMember.held.length, log.acked.size, 'the eu member holds one ack per delivery')
  euMember.acking = true
  euMember.ackHeld()
  await until('the eu group drains once its own member acks', async () => (await groupInfo(r.nc('eu-1')))?.outstanding === 0, 30_000)
  const euDrained = await groupInfo(r.nc('eu-1'))
  t.equal(euDrained?.counters.acked, log.acked.size, `eu counted its member's ${log.acked.size} acks, no more`)
  t.equal((await groupInfo(r.nc('us-2')))?.counters.acked, log.acked.size, `us counted its member's ${log.acked.size} acks, no more`)

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
  for (const [name, member] of [['us', usMember], ['eu', euMember]] as const) {
    await until(`the member in ${name} received every acked id`, () => [...log.acked].every((id) => member.received.has(id)), 30_000)
    t.same([...member.firsts].filter(([, count]) => count !== 1), [], `the member in ${name}: each of ${member.firsts.size} ids first-delivered exactly once (${total(member.received)} deliveries in all)`)
    t.same([...member.received.keys()].filter((id) => !log.acked.has(id) && !log.unacked.has(id)), [], `the member in ${name} received nothing no producer sent`)
  }
  t.comment(`done after ${Date.now() - started} ms`)
})
