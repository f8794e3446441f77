// $RG.metrics.<nodeId>: a plain subscriber receives the node's key metrics as JSON every
// interval; with interval 0 nothing is published.
import t from 'tap'
import type { Test } from 'tap'
import { configWith } from '../../shared/config/index.js'
import { createMemoryLocation, openMemoryStorage } from '../../shared/storage/index.js'
import { nodeKeySpaces, startNode } from '../../server/node.js'
import type { RunningNode } from '../../server/node.js'
import { metricsSubjectPrefix } from '../../server/metrics/index.js'
import { connectedRawClient, delay } from '../server/helpers.js'

async function startPublishing(t: Test, metricsPublishIntervalMs: number): Promise<RunningNode> {
  const node = await startNode({
    config: configWith({ server: { host: '127.0.0.1', port: 0, httpPort: 0, name: 'pub-node' }, cluster: { peerPort: 0, region: 'ap-south' } }),
    openStorage: () => openMemoryStorage(createMemoryLocation(), { keySpaces: nodeKeySpaces }),
    metricsPublishIntervalMs,
  })
  t.teardown(() => node.close())
  await node.ready
  return node
}

t.test('key metrics are published on $RG.metrics.<nodeId>', async (t) => {
  const node = await startPublishing(t, 150)
  const client = await connectedRawClient(t, node.clientPort)
  client.write(`SUB ${metricsSubjectPrefix}.> 7\r\nPUB traffic.a 2\r\nhi\r\nPING\r\n`)
  const pattern = new RegExp(`MSG \\$RG\\.metrics\\.${node.nodeId} 7 (\\d+)\\r\\n`)
  await client.waitFor(pattern, 5_000)
  // Wait for a second message so the first one is whole and rates had a window.
  await client.waitFor(new RegExp(`(${pattern.source}[^]*){2}`), 5_000)
  const text = client.text()
  const match = pattern.exec(text) as RegExpExecArray
  const offset = match.index + match[0].length
  const value = JSON.parse(text.slice(offset, offset + Number(match[1]))) as Record<string, unknown>
  t.match(value, {
    nodeId: node.nodeId,
    name: 'pub-node',
    region: 'ap-south',
    ready: true,
    raft: { role: 'leader', leader: node.nodeId, electionsStarted: Number },
    clients: { connections: 1, subscriptions: 1 },
    peers: { up: 0 },
    process: { residentMemoryBytes: Number },
    streams: Array,
  })
  t.ok(Math.abs((value.timeMs as number) - Date.now()) < 60_000, 'wall-clock time')
  t.ok((value.streams as Array<{ stream: string }>).some((stream) => stream.stream === 'default/traffic'), 'per-stream traffic listed')
})

t.test('interval 0 publishes nothing', async (t) => {
  const node = await startPublishing(t, 0)
  const client = await connectedRawClient(t, node.clientPort)
  client.write(`SUB ${metricsSubjectPrefix}.> 1\r\nPING\r\n`)
  await client.waitFor('PONG\r\nPONG\r\n')
  await delay(600)
  t.notMatch(client.text(), /MSG \$RG\.metrics/)
})
