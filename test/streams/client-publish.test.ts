// Publishing to a persistent stream with our client: `client.publishToStream(subject, data,
// {id, ack})` and `client.publish(subject, data, {id, ack})` resolve with the schema-checked ack (increasing positions, duplicate on a repeated
// id, the level asked for); a refused publish rejects with ApiError carrying the server's code;
// a subject of no persistent stream (and no subscriber) rejects with NoRespondersError.
import t from 'tap'
import { ApiError, connect, NoRespondersError } from '../../client/index.js'
import type { StreamPublishAck } from '../../client/index.js'
import { startStreamNode, tempDir, untilStreamOpen } from './helpers.js'

t.test('client.publishToStream', { timeout: 60_000 }, async (t) => {
  const node = await startStreamNode(t, tempDir(t))
  const client = await connect(node.clientUrl)
  t.teardown(() => client.close())
  await client.streams.ensure({ name: 'payments', kind: 'persistent', ackDefault: 'majority' })
  await untilStreamOpen(node, 'payments')

  const acks: StreamPublishAck[] = []
  for (let i = 0; i < 10; i += 1) acks.push(await client.publishToStream('payments.card', `p${i}`, { headers: { 'Content-Type': 'text/plain' } }))
  t.ok(acks.every((ack) => ack.stream === 'default/payments' && ack.level === 'majority' && !ack.duplicate), 'acks at the stream default level')
  t.ok(acks.every((ack, i) => i === 0 || ack.position > (acks[i - 1]?.position ?? '')), 'increasing positions')

  const first = await client.publishToStream('payments', 'charge', { id: 'charge-42', ack: 'write' })
  const retry = await client.publishToStream('payments', 'charge', { id: 'charge-42', ack: 'write' })
  t.equal(first.level, 'write')
  t.equal(first.duplicate, false)
  t.equal(retry.duplicate, true, 'a retry with the same id is a duplicate')

  const stored = []
  for await (const event of node.persistentStreams()!.store.events('default/payments')) stored.push(event)
  const headersOfFirst = stored[0]?.headers ?? []
  t.same(headersOfFirst.filter(([key]) => key === 'Content-Type'), [['Content-Type', 'text/plain']], 'other headers are kept with the event')
  t.notOk(headersOfFirst.some(([key]) => /^Rg-(Timeout-Ms|Ack|Msg-Id)$/i.test(key)), 'transport and publish headers are not')

  // The form: client.publish(stream, data, {id, ack}) → the ack.
  const viaPublish = await client.publish('payments.wire', 'w', { id: 'wire-1', ack: 'all' })
  t.equal(viaPublish.level, 'all', 'client.publish with ack resolves with the ack')
  const viaDefault = await client.publish('payments.wire', 'w', { id: 'wire-1', ack: 'default' })
  t.equal(viaDefault.level, 'majority', "ack: 'default' takes the stream's ackDefault")
  t.equal(viaDefault.duplicate, true)
  t.equal(client.publish('payments.plain', 'p'), undefined, 'without ack, publish stays fire-and-forget')

  const refused = await client.publishToStream('payments', 'x', { ack: 'quorum' as never }).catch((error: unknown) => error)
  t.ok(refused instanceof ApiError, 'a refused publish rejects with ApiError')
  t.equal((refused as ApiError).code, 'RG_ERR_INVALID_ARGUMENT')
  const nobody = await client.publishToStream('nostream.here', 'x', { timeoutMs: 5_000 }).catch((error: unknown) => error)
  t.ok(nobody instanceof NoRespondersError, 'no persistent stream, no subscriber: NoRespondersError')
})
