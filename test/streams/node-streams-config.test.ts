// The node's `streams` configuration reaches the event store it opens (`streams.lingerMs`,
// `streams.batchBytesMax`: the store reports the settings in force), and
// `streams.deadOriginGraceMs` is accepted and bounded.
import t from 'tap'
import { connect } from '@nats-io/transport-node'
import { startNode } from '../../server/node.js'
import type { RunningNode } from '../../server/node.js'
import { configWith, loadConfig } from '../../shared/config/index.js'
import { tempDir, untilStreamOpen } from './helpers.js'

const events = 40
const payloadBytes = 1_000
const smallBatchBytes = 4_096

async function startWith(t: Parameters<typeof tempDir>[0], streams: { lingerMs?: number; batchBytesMax?: number }): Promise<RunningNode> {
  const config = configWith({
    server: { host: '127.0.0.1', port: 0, httpPort: 0, name: 'streams-config-node' },
    cluster: { peerPort: 0 },
    storage: { dataDir: tempDir(t) },
    streams,
  })
  const node = await startNode({ config })
  t.teardown(() => node.close())
  await node.ready
  return node
}

/** Publishes `events` events in one turn; the number acknowledged. */
async function acksForOneTurn(node: RunningNode): Promise<number> {
  const nc = await connect({ servers: node.clientUrl })
  try {
    const reply = await nc.request('$RG.API.STREAM.ENSURE', JSON.stringify({ name: 'cfg', kind: 'persistent' }), { timeout: 10_000 })
    if (!reply.json<{ ok: boolean }>().ok) throw new Error(`STREAM.ENSURE: ${reply.string()}`)
  } finally {
    await nc.close()
  }
  await untilStreamOpen(node, 'cfg')
  const streams = node.persistentStreams()
  if (streams === undefined) throw new Error('no persistent streams on the node')
  const payload = new Uint8Array(payloadBytes).fill(120)
  const acks = await Promise.all(Array.from({ length: events }, (_, i) => streams.publish('default/cfg', { id: `e-${i}`, headers: [], payload, ackLevel: 'write' })))
  return acks.filter((ack) => ack.ok).length
}

t.test('streams.lingerMs and streams.batchBytesMax reach the event store the node opens', { timeout: 60_000 }, async (t) => {
  const tuned = await startWith(t, { lingerMs: 3, batchBytesMax: smallBatchBytes })
  t.same(tuned.persistentStreams()?.store.commitSettings, { lingerMs: 3, batchBytesMax: smallBatchBytes })
  // The engine hands the store one append per pump (a batch item is never split), so a small bound
  // does not multiply batches here; it still takes publishes, acked after their sync.
  t.equal(await acksForOneTurn(tuned), events)
  const defaults = await startWith(t, {})
  t.same(defaults.persistentStreams()?.store.commitSettings, { lingerMs: 0, batchBytesMax: 1024 * 1024 })
})

t.test('streams.deadOriginGraceMs: default 5 s, set from the environment, bounded', async (t) => {
  t.equal(loadConfig({ env: {} }).streams.deadOriginGraceMs, 5_000)
  t.equal(loadConfig({ env: { RAILGUN_STREAMS_DEAD_ORIGIN_GRACE_MS: '2000' } }).streams.deadOriginGraceMs, 2_000)
  t.throws(() => loadConfig({ env: { RAILGUN_STREAMS_DEAD_ORIGIN_GRACE_MS: '100' } }), /deadOriginGraceMs/)
})
