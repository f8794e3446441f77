// STREAM.FETCH reads back what was acked: delivered events in the stream's order (the acks'
// positions), each with its subject, id, headers and payload; a duplicate id is stored but not
// delivered; paging with `from`/`max`; the same answer after a restart; RG_ERR_NOT_FOUND for a
// stream with no engine on the node.
import t from 'tap'
import { connect, headers as natsHeaders } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import { streamFetchResponseSchema } from '../../shared/api/index.js'
import type { StreamFetchResponse } from '../../shared/api/index.js'
import { startStreamNode, tempDir, until, untilStreamOpen } from './helpers.js'

async function request(nc: NatsConnection, subject: string, body: unknown): Promise<Record<string, unknown>> {
  return (await nc.request(subject, JSON.stringify(body), { timeout: 10_000 })).json<Record<string, unknown>>()
}

async function fetchAll(nc: NatsConnection, name: string, max = 7): Promise<StreamFetchResponse['events']> {
  const events: StreamFetchResponse['events'] = []
  let from = 0
  for (let page = 0; page < 100; page += 1) {
    const answer = streamFetchResponseSchema.parse(await request(nc, '$RG.API.STREAM.FETCH', { name, from, max }))
    events.push(...answer.events)
    if (answer.events.length === 0) break
    from = answer.next
  }
  return events
}

async function delivered(nc: NatsConnection, name: string): Promise<number> {
  const answer = streamFetchResponseSchema.parse(await request(nc, '$RG.API.STREAM.FETCH', { name, max: 1 }))
  return answer.delivered
}

t.test('STREAM.FETCH returns what was acked, in order', { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t)
  let node = await startStreamNode(t, dir)
  let nc = await connect({ servers: node.clientUrl })
  await request(nc, '$RG.API.STREAM.ENSURE', { name: 'audit', kind: 'persistent', ackDefault: 'write' })
  await untilStreamOpen(node, 'audit')

  const positions: string[] = []
  for (let i = 0; i < 15; i += 1) {
    const h = natsHeaders()
    h.set('Rg-Msg-Id', `audit-${i}`)
    h.set('Trace', `t${i}`)
    const ack = (await nc.request(`audit.topic${i % 3}`, `payload-${i}`, { timeout: 10_000, headers: h })).json<{ ok: boolean; position: string; duplicate: boolean }>()
    t.equal(ack.ok, true)
    positions.push(ack.position)
  }
  const dupHeaders = natsHeaders()
  dupHeaders.set('Rg-Msg-Id', 'audit-3')
  const dup = (await nc.request('audit.topic0', 'payload-3 again', { timeout: 10_000, headers: dupHeaders })).json<{ duplicate: boolean }>()
  t.equal(dup.duplicate, true)

  // Delivery waits for stability (heartbeats): poll.
  let count = 0
  const deadline = Date.now() + 15_000
  while (count < 15 && Date.now() < deadline) {
    count = await delivered(nc, 'audit')
    if (count < 15) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.equal(count, 15, 'the 15 distinct ids are delivered, the duplicate is not')
  const events = await fetchAll(nc, 'audit')
  t.same(events.map((event) => event.index), Array.from({ length: 15 }, (_, i) => i), 'indexes 0..14 across pages')
  t.same(events.map((event) => event.id), Array.from({ length: 15 }, (_, i) => `audit-${i}`), 'in publish order (one writer)')
  t.same(events.map((event) => Buffer.from(event.data, 'base64').toString()), Array.from({ length: 15 }, (_, i) => `payload-${i}`), 'payloads')
  t.same(events.map((event) => event.subject), Array.from({ length: 15 }, (_, i) => `audit.topic${i % 3}`), 'subjects')
  t.same(events[4]?.headers, [['Trace', 't4']], 'user headers kept; Rg-* not')

  const nothing = await request(nc, '$RG.API.STREAM.FETCH', { name: 'absent' })
  t.match(nothing, { ok: false, error: { code: 'RG_ERR_NOT_FOUND' } }, 'no engine: RG_ERR_NOT_FOUND')

  await nc.close()
  await node.close()
  node = await startStreamNode(t, dir)
  nc = await connect({ servers: node.clientUrl })
  t.teardown(() => nc.close())
  await untilStreamOpen(node, 'audit')
  await until('delivery count restored', () => (node.persistentStreams()?.engine('default/audit')?.deliveredCount ?? 0) >= 15)
  t.same(await fetchAll(nc, 'audit', 1000), events, 'the same events after a restart')
  t.ok(positions.every((p, i) => i === 0 || p > (positions[i - 1] as string)))
})
