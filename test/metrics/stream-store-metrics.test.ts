// The event store's metrics on a real node (issue #8; server/metrics attachEventStore): after
// publishes to a persistent stream with durable acks, /metrics shows the appended events and
// bytes for the stream, group-commit batch sizes and sync latency, the stored events and bytes,
// the delivery index; the node's retention (streams.maintenanceIntervalMs) deletes down to the
// stream's maxEvents and the deletion and maintenance-run counters move; the key metrics carry
// the same totals, and the dashboard snapshot this node's copy of the stream.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, headers as natsHeaders } from '@nats-io/transport-node'
import { startNode } from '../../server/node.js'
import { configWith } from '../../shared/config/index.js'
import { metric, scrape } from './helpers.js'
import type { Scrape } from './helpers.js'

const stream = 'default/ledger'

async function until(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

t.test('publishes and retention move the event-store series of the stream', { timeout: 120_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'railgun-store-metrics-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const config = configWith({
    server: { host: '127.0.0.1', port: 0, httpPort: 0, name: 'store-metrics' },
    cluster: { peerPort: 0 },
    storage: { dataDir },
    streams: { maintenanceIntervalMs: 100 },
  })
  const node = await startNode({ config })
  t.teardown(() => node.close())
  await node.ready
  const nc = await connect({ servers: node.clientUrl })
  t.teardown(() => nc.close())
  const ensured = await nc.request('$RG.API.STREAM.ENSURE', JSON.stringify({ name: 'ledger', kind: 'persistent', ackDefault: 'write', retention: { maxEvents: 5 } }), { timeout: 10_000 })
  t.match(ensured.json(), { ok: true })
  await until('the stream open on the node', () => node.persistentStreams()?.engine(stream) !== undefined)

  const before = await scrape(node.adminUrl)
  t.equal(metric(before, 'railgun_stream_appended_events_total', { stream }), undefined, 'no series before the first append')
  t.equal(metric(before, 'railgun_stream_stored_events', { stream }), 0, 'the stream is stored (empty) once ensured')
  const batchesBefore = metric(before, 'railgun_event_store_batch_items_count') ?? 0

  const count = 20
  const payload = 'x'.repeat(64)
  const h = natsHeaders()
  h.set('Rg-Ack', 'write')
  const acks = await Promise.all(Array.from({ length: count }, () => nc.request('ledger', payload, { timeout: 10_000, headers: h })))
  t.equal(acks.filter((reply) => reply.json<{ ok: boolean }>().ok).length, count, 'every publish acked (durable)')

  const after = await scrape(node.adminUrl)
  t.equal(metric(after, 'railgun_stream_appended_events_total', { stream }), count, 'appended events')
  const appendedBytes = metric(after, 'railgun_stream_appended_bytes_total', { stream }) ?? 0
  t.ok(appendedBytes > count * payload.length, `appended bytes (${appendedBytes}) cover the payloads and keys`)
  t.ok((metric(after, 'railgun_event_store_batch_items_count') ?? 0) > batchesBefore, 'group-commit batches observed')
  t.ok((metric(after, 'railgun_event_store_batch_events_sum') ?? 0) >= count, 'events per batch sum to at least what was appended')
  t.ok((metric(after, 'railgun_event_store_sync_seconds_count') ?? 0) >= 1, 'sync latency histogram')
  t.ok((metric(after, 'railgun_event_store_batch_bytes_sum') ?? 0) >= appendedBytes, 'batch bytes include the events')

  // Deliveries are recorded after the acks; retention (every 100 ms here) then keeps 5 events.
  let settled: Scrape = after
  await until('retention down to maxEvents', async () => {
    settled = await scrape(node.adminUrl)
    // The stored gauge is read from the store at scrape time; the deletion counters are reported
    // when a maintenance call ends: wait for both (a scrape can fall between the two).
    return metric(settled, 'railgun_stream_stored_events', { stream }) === 5 && (metric(settled, 'railgun_stream_retention_deleted_events_total', { stream }) ?? 0) >= count - 5
  })
  t.equal(metric(settled, 'railgun_stream_delivered_events', { stream }), count, 'the delivery index')
  t.equal(metric(settled, 'railgun_stream_retention_deleted_events_total', { stream }), count - 5, 'retention deletions')
  const storedBytes = metric(settled, 'railgun_stream_stored_bytes', { stream }) ?? 0
  t.equal((metric(settled, 'railgun_stream_retention_deleted_bytes_total', { stream }) ?? 0) + storedBytes, appendedBytes, 'deleted + stored bytes = appended bytes')
  t.ok((metric(settled, 'railgun_stream_maintenance_runs_total', { stream }) ?? 0) >= 1, 'maintenance runs')
  t.ok((metric(settled, 'railgun_event_store_maintenance_step_seconds_count') ?? 0) >= 1, 'maintenance step histogram')

  const key = node.metrics.keyMetrics()
  t.match(key.eventStore, { streams: 1, events: 5, bytes: storedBytes, appendedEvents: count, retentionDeletedEvents: count - 5 })
  t.ok((key.eventStore?.batches ?? 0) >= 1 && (key.eventStore?.maintenanceRuns ?? 0) >= 1)
  t.same(node.metrics.storedStreams(), [{ stream, events: 5, bytes: storedBytes, delivered: count }])

  const dashboard = (await (await fetch(`${node.adminUrl}/api/v1/dashboard`)).json()) as { streams: Array<{ stream: string; stored: unknown }> }
  t.match(dashboard.streams.find((row) => row.stream === stream), { stored: { events: 5, bytes: storedBytes, delivered: count } }, 'the dashboard shows this node\'s copy')
})
