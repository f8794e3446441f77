// /metrics on a real node (RocksDB, its control plane alone): values move when things happen —
// a publish (network and per-stream counters), Raft writes (storage batch and sync histograms),
// a persistent stream (its data-plane series appear at zero and move with a publish), routing.
import t from 'tap'
import { connectedRawClient } from '../server/helpers.js'
import { testCluster } from '../server/cluster-helpers.js'
import { metric, scrape } from './helpers.js'

t.test('a node exports Raft, network, stream, storage and process metrics', async (t) => {
  const cluster = testCluster(t)
  const node = await cluster.start(await cluster.plan('m1', { region: 'eu-west' }))
  await node.ready
  const response = await fetch(`${node.adminUrl}/metrics`)
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  const text = await response.text()
  t.match(text, /# TYPE railgun_raft_term gauge/)
  t.match(text, /# TYPE railgun_storage_sync_seconds histogram/)

  // The sampler (every 250 ms) sees the lone voter's campaign.
  let before = await scrape(node.adminUrl)
  for (let attempt = 0; attempt < 40 && (metric(before, 'railgun_raft_elections_started_total') ?? 0) < 1; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 250))
    before = await scrape(node.adminUrl)
  }
  t.equal(metric(before, 'railgun_raft_is_leader'), 1)
  t.equal(metric(before, 'railgun_raft_leader_known'), 1)
  t.ok((metric(before, 'railgun_raft_term') ?? 0) >= 1, 'term')
  t.ok((metric(before, 'railgun_raft_commit_index') ?? 0) >= 1, 'commit index')
  t.equal(metric(before, 'railgun_raft_elections_started_total'), 1, 'the lone voter campaigned once')
  t.equal(metric(before, 'railgun_raft_leader_changes_total'), 1)
  t.equal(metric(before, 'railgun_node_ready'), 1)
  t.ok([...before.keys()].some((key) => key.startsWith('railgun_node_info{') && key.includes(`node_id="${node.nodeId}"`) && key.includes('region="eu-west"')), 'info labels')
  t.ok((metric(before, 'railgun_process_resident_memory_bytes') ?? 0) > 0, 'RSS')
  t.ok((metric(before, 'railgun_storage_sync_seconds_count') ?? 0) >= 1, 'Raft persisted synced batches through the observer')
  t.ok((metric(before, 'railgun_storage_write_batch_operations_count') ?? 0) >= 1)

  // A publish: network and per-stream counters move.
  const subscriber = await connectedRawClient(t, node.clientPort)
  subscriber.write('SUB orders.> 1\r\nPING\r\n')
  await subscriber.waitFor('PONG\r\nPONG\r\n')
  const publisher = await connectedRawClient(t, node.clientPort)
  publisher.write('PUB orders.eu 5\r\nhello\r\nPUB orders.us 3\r\nabc\r\nPING\r\n')
  await publisher.waitFor('PONG\r\nPONG\r\n')
  await subscriber.waitFor(/MSG orders\.us 1 3\r\nabc\r\n/)
  const after = await scrape(node.adminUrl)
  t.equal(metric(after, 'railgun_stream_published_total', { stream: 'default/orders' }), 2)
  t.equal(metric(after, 'railgun_stream_published_bytes_total', { stream: 'default/orders' }), 8)
  t.equal(metric(after, 'railgun_stream_delivered_total', { stream: 'default/orders' }), 2)
  t.equal(metric(after, 'railgun_client_connections'), 2)
  t.equal(metric(after, 'railgun_subscriptions'), 1)
  t.ok((metric(after, 'railgun_client_messages_in_total') ?? 0) >= (metric(before, 'railgun_client_messages_in_total') ?? 0) + 2)
  t.ok((metric(after, 'railgun_client_messages_out_total') ?? 0) >= (metric(before, 'railgun_client_messages_out_total') ?? 0) + 2)

  // A persistent stream: its data-plane series exist at zero; the data plane's hook moves them.
  const ensured = await fetch(`${node.adminUrl}/api/v1/streams`, { method: 'POST', body: JSON.stringify({ name: 'pay', kind: 'persistent', regions: ['eu-west'] }) })
  t.equal(ensured.status, 200)
  let persistent = await scrape(node.adminUrl)
  for (let attempt = 0; attempt < 40 && metric(persistent, 'railgun_stream_acked_total', { stream: 'default/pay', level: 'majority' }) === undefined; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    persistent = await scrape(node.adminUrl)
  }
  t.equal(metric(persistent, 'railgun_stream_acked_total', { stream: 'default/pay', level: 'majority' }), 0)
  t.equal(metric(persistent, 'railgun_stream_dead_lettered_total', { stream: 'default/pay' }), 0)
  t.equal(metric(persistent, 'railgun_stream_written_total', { stream: 'default/pay' }), 0)
  t.equal(metric(persistent, 'railgun_stream_group_delivered_total', { stream: 'default/pay' }), 0)
  // Publishes to it move them (read from the persistent streams at scrape: test/metrics/persistent-metrics).
  for (let attempt = 0; attempt < 400 && node.persistentStreams()?.engine('default/pay') === undefined; attempt += 1) await new Promise((resolve) => setTimeout(resolve, 50))
  const publishing = await connectedRawClient(t, node.clientPort)
  publishing.write('SUB _ack 9\r\nPUB pay _ack 3\r\nabc\r\nPING\r\n')
  await publishing.waitFor(/MSG _ack 9 \d+\r\n\{"ok":true/)
  const reported = await scrape(node.adminUrl)
  t.equal(metric(reported, 'railgun_stream_acked_total', { stream: 'default/pay', level: 'majority' }), 1, 'the ack, at the default level')
  t.equal(metric(reported, 'railgun_stream_written_total', { stream: 'default/pay' }), 1)
  t.equal(metric(reported, 'railgun_route_peers', { state: 'known' }), 0, 'routing series on a lone node')
  t.ok((metric(reported, 'railgun_storage_sync_seconds_count') ?? 0) > (metric(before, 'railgun_storage_sync_seconds_count') ?? 0), 'the ensure was a synced write')

  const head = await fetch(`${node.adminUrl}/metrics`, { method: 'HEAD' })
  t.equal(head.status, 200)
  const post = await fetch(`${node.adminUrl}/metrics`, { method: 'POST' })
  t.equal(post.status, 405)
})
