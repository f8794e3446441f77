// Publishing to a persistent stream on one node (docs/api.md § Publishing to a persistent
// stream): with the official NATS client, a request to the stream's subject is stored and
// answered with a durable ack; N publishes → N acks with increasing positions; the same
// Rg-Msg-Id twice → the second ack says duplicate; Rg-Ack picks the level and a bad one is
// refused; a publish without a reply subject is stored too; the events survive a restart (RocksDB
// in a temp dir) and the stream takes publishes again after it; no ack before the sync; a publish
// to a subject of no persistent stream is routed as today (ephemeral).
import t from 'tap'
import { connect, headers as natsHeaders } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import { openRocksStorage } from '../../shared/storage/index.js'
import { defaultOpenStorage, nodeKeySpaces } from '../../server/node.js'
import type { RunningNode } from '../../server/node.js'
import { join } from 'node:path'
import { gateSyncs, startStreamNode, tempDir, until, untilStreamOpen } from './helpers.js'
import type { GatedStorage } from './helpers.js'

interface Ack {
  ok: boolean
  stream?: string
  position?: string
  seq?: number
  incarnation?: number
  duplicate?: boolean
  level?: string
  error?: { code: string; message: string }
}

async function ensurePersistent(nc: NatsConnection, name: string, extra: Record<string, unknown> = {}): Promise<void> {
  const reply = await nc.request('$RG.API.STREAM.ENSURE', JSON.stringify({ name, kind: 'persistent', ...extra }), { timeout: 10_000 })
  const answer = reply.json<{ ok: boolean }>()
  if (!answer.ok) throw new Error(`STREAM.ENSURE ${name}: ${JSON.stringify(answer)}`)
}

async function publish(nc: NatsConnection, subject: string, data: string, options: { id?: string; ack?: string } = {}): Promise<Ack> {
  const h = natsHeaders()
  if (options.id !== undefined) h.set('Rg-Msg-Id', options.id)
  if (options.ack !== undefined) h.set('Rg-Ack', options.ack)
  // Headers only when set: the official client's empty header set is sent as a zero-length block.
  const reply = await nc.request(subject, data, { timeout: 10_000, ...(options.id === undefined && options.ack === undefined ? {} : { headers: h }) })
  return reply.json<Ack>()
}

async function storedPayloads(node: RunningNode, key: string): Promise<string[]> {
  const streams = node.persistentStreams()
  if (streams === undefined) throw new Error('no persistent streams on the node')
  const out: string[] = []
  for await (const event of streams.store.events(key)) out.push(new TextDecoder().decode(event.payload))
  return out
}

t.test('publish with a durable ack, dedup, ack levels, fire-and-forget, restart', { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t)
  let node = await startStreamNode(t, dir)
  let nc = await connect({ servers: node.clientUrl })
  await ensurePersistent(nc, 'orders', { ackDefault: 'write' })
  await untilStreamOpen(node, 'orders')

  const count = 20
  const acks: Ack[] = []
  for (let i = 0; i < count; i += 1) acks.push(await publish(nc, `orders.eu.created`, `event-${i}`))
  t.ok(acks.every((ack) => ack.ok && ack.stream === 'default/orders' && ack.duplicate === false && ack.level === 'write'), 'N acks, all ok, none duplicate')
  const positions = acks.map((ack) => ack.position as string)
  t.ok(positions.every((p, i) => i === 0 || p > (positions[i - 1] as string)), 'positions increase')
  t.same(acks.map((ack) => ack.seq), Array.from({ length: count }, (_, i) => i + 1), 'sequences 1..N on this node')

  // Concurrent publishes: every one is acked, positions distinct.
  const burst = await Promise.all(Array.from({ length: 50 }, (_, i) => publish(nc, 'orders', `burst-${i}`)))
  t.ok(burst.every((ack) => ack.ok), 'a burst of 50 is acked')
  t.equal(new Set(burst.map((ack) => ack.position)).size, 50, 'distinct positions')

  const first = await publish(nc, 'orders.eu.paid', 'pay-1', { id: 'order-7-paid' })
  const again = await publish(nc, 'orders.eu.paid', 'pay-1 retry', { id: 'order-7-paid' })
  t.equal(first.duplicate, false, 'first copy of an id is not a duplicate')
  t.equal(again.ok, true)
  t.equal(again.duplicate, true, 'the same Rg-Msg-Id again: duplicate')

  const majority = await publish(nc, 'orders', 'm', { ack: 'majority' })
  t.equal(majority.level, 'majority', 'Rg-Ack: majority (one replica: itself)')
  const all = await publish(nc, 'orders', 'a', { ack: 'ALL' })
  t.equal(all.level, 'all', 'Rg-Ack is case-insensitive')
  const bad = await publish(nc, 'orders', 'x', { ack: 'quorum' })
  t.equal(bad.ok, false)
  t.equal(bad.error?.code, 'RG_ERR_INVALID_ARGUMENT', 'a bad Rg-Ack is refused')

  // Fire-and-forget: stored and counted.
  const streams = node.persistentStreams()!
  const before = streams.counters.published
  nc.publish('orders.fire', 'forget-1')
  nc.publish('orders.fire', 'forget-2')
  await nc.flush()
  await until('two fire-and-forget publishes stored', () => streams.counters.published === before + 2 && streams.counters.acked >= before + 2 - 1)
  const expected = 20 + 50 + 2 + 2 + 2 // no refused one
  await until('all events stored', () => streams.store.info('default/orders').count >= expected)

  const storedBefore = await storedPayloads(node, 'default/orders')
  t.equal(storedBefore.length, expected, 'every publish stored (the duplicate is a stored copy too)')
  t.ok(storedBefore.includes('forget-1') && storedBefore.includes('forget-2'), 'fire-and-forget events stored')

  // Restart on the same RocksDB directory.
  await nc.close()
  await node.close()
  node = await startStreamNode(t, dir)
  nc = await connect({ servers: node.clientUrl })
  t.teardown(() => nc.close())
  await untilStreamOpen(node, 'orders')
  const storedAfter = await storedPayloads(node, 'default/orders')
  t.same(storedAfter, storedBefore, 'the events survive the restart, in the same order')
  t.equal(node.persistentStreams()?.engine('default/orders')?.incarnation, 2, 'a new incarnation after the restart')

  const afterRestart = await publish(nc, 'orders.eu.created', 'after-restart')
  t.equal(afterRestart.ok, true, `the restarted stream takes publishes (${JSON.stringify(afterRestart)})`)
  t.equal(afterRestart.incarnation, 2)
  t.ok((afterRestart.position as string) > (positions.at(-1) as string), 'its position is after the ones before the restart')
  const retry = await publish(nc, 'orders.eu.paid', 'pay-1 retry 2', { id: 'order-7-paid' })
  t.equal(retry.duplicate, true, 'dedup still holds across the restart (inside the window)')
})

t.test('no ack before the sync', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t)
  let gated: GatedStorage | undefined
  const node = await startStreamNode(t, dir, async (config) => {
    gated = gateSyncs(await openRocksStorage(join(config.storage.dataDir, 'db'), { keySpaces: nodeKeySpaces }), 'ps-events')
    return gated
  })
  const nc = await connect({ servers: node.clientUrl })
  t.teardown(() => nc.close())
  await ensurePersistent(nc, 'held', { ackDefault: 'write' })
  await untilStreamOpen(node, 'held')
  t.equal((await publish(nc, 'held', 'warm-up')).ok, true, 'acks flow while syncs are not held')

  gated!.hold()
  let acked: Ack | undefined
  const pending = publish(nc, 'held.x', 'waits-for-sync').then((ack) => {
    acked = ack
    return ack
  })
  await until('the event batch waiting on its sync', () => gated!.heldCount > 0)
  // Give a premature ack every chance to arrive.
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(acked, undefined, 'no ack while the sync is held')
  gated!.release()
  const ack = await pending
  t.equal(ack.ok, true, 'acked once the sync completed')
  t.equal(ack.seq, 2)
})

t.test('a publish to no persistent stream is routed as today (ephemeral)', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t)
  const node = await startStreamNode(t, dir, (config) => defaultOpenStorage(config))
  const nc = await connect({ servers: node.clientUrl })
  t.teardown(() => nc.close())
  await ensurePersistent(nc, 'orders')
  await untilStreamOpen(node, 'orders')
  // No subscriber: a request is answered 503 (no responders), not by the engine.
  await t.rejects(nc.request('unknown.subject', 'x', { timeout: 5_000 }), /503|no responders/i, 'no responders for an unknown stream')
  // An ephemeral stream's subject: a plain subscriber gets it and answers.
  const sub = nc.subscribe('chat.>')
  void (async () => {
    for await (const message of sub) message.respond(`echo:${message.string()}`)
  })()
  await nc.flush()
  const echo = await nc.request('chat.room1', 'hi', { timeout: 5_000 })
  t.equal(echo.string(), 'echo:hi', 'the subscriber answered, not an engine')
  t.equal(node.persistentStreams()?.engine('default/chat'), undefined)
  sub.unsubscribe()
})
