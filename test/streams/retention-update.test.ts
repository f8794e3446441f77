// A STREAM.ENSURE update of a persistent stream's retention reaches the event store of the node
// serving it (the next maintenance pass deletes what the new bound excludes, oldest first), and a
// persistent stream's dedup window cannot change after creation. Bounded; counts, not timings.
import t from 'tap'
import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import { startNode } from '../../server/node.js'
import { configWith } from '../../shared/config/index.js'
import { tempDir, until, untilStreamOpen } from './helpers.js'

const published = 30
const keep = 5

async function ensure(nc: NatsConnection, body: Record<string, unknown>): Promise<{ ok: boolean; error?: { code: string; message: string } }> {
  const reply = await nc.request('$RG.API.STREAM.ENSURE', JSON.stringify(body), { timeout: 10_000 })
  return reply.json()
}

t.test('retention updated by STREAM.ENSURE applies to the open stream', { timeout: 60_000 }, async (t) => {
  const config = configWith({
    server: { host: '127.0.0.1', port: 0, httpPort: 0, name: 'retention-update' },
    cluster: { peerPort: 0 },
    storage: { dataDir: tempDir(t) },
    streams: { maintenanceIntervalMs: 200 },
  })
  const node = await startNode({ config })
  t.teardown(() => node.close())
  await node.ready
  const nc = await connect({ servers: node.clientUrl })
  t.teardown(() => nc.close())
  t.ok((await ensure(nc, { name: 'shrink', kind: 'persistent' })).ok)
  await untilStreamOpen(node, 'shrink')
  const streams = node.persistentStreams()
  if (streams === undefined) throw new Error('no persistent streams on the node')
  for (let i = 0; i < published; i++) {
    const ack = await streams.publish('default/shrink', { id: `e-${i}`, headers: [], payload: new TextEncoder().encode(`event ${i}`), ackLevel: 'write' })
    t.ok(ack.ok, `publish ${i}`)
  }
  // Unlimited retention: a maintenance pass deletes nothing.
  await new Promise((resolve) => setTimeout(resolve, 600))
  t.equal(streams.store.info('default/shrink').count, published, 'all kept before the update')

  const updated = await ensure(nc, { name: 'shrink', kind: 'persistent', retention: { maxEvents: keep }, update: true })
  t.ok(updated.ok, `update accepted: ${JSON.stringify(updated)}`)
  await until('the new retention bound applied', () => streams.store.info('default/shrink').count <= keep)
  t.equal(streams.store.info('default/shrink').config.retention.maxCount, keep, 'the store holds the new policy')
  const left: string[] = []
  for await (const event of streams.store.events('default/shrink')) left.push(new TextDecoder().decode(event.payload))
  t.same(left, Array.from({ length: keep }, (_, i) => `event ${published - keep + i}`), 'the newest remain, in order')

  const window = await ensure(nc, { name: 'shrink', kind: 'persistent', retention: { maxEvents: keep }, dedupWindowMs: 1_000, update: true })
  t.notOk(window.ok, 'a new dedup window is refused')
  t.equal(window.error?.code, 'RG_ERR_IMMUTABLE_FIELD')
  t.match(window.error?.message ?? '', /dedup window cannot change/)
})
