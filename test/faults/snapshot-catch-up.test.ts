// Fault: a follower is killed, the cluster writes past several snapshots (snapshotEveryEntries is
// small, so the leader compacts its log beyond what the follower has), and the follower comes
// back. The entries it lacks are gone from the leader's log, so it must catch up by snapshot:
// its log says `raft snapshot restored` (logged only for a snapshot received from the leader,
// not for the one loaded from its own disk at start), and its state then holds every key with
// its latest value, read locally (stale) and linearizably from that node.
import t from 'tap'
import { startRailgunCluster } from '../harness/index.js'

const snapshotEveryEntries = 40
const keys = 60
const rounds = 5

t.test('a node behind compaction catches up by snapshot and has the full state', async (t) => {
  const cluster = await startRailgunCluster(t, { nodes: 3, tickMs: 50, electionTicks: 10, snapshotEveryEntries })
  const leader = await cluster.waitForLeader()
  const lagging = cluster.nodeIds.find((id) => id !== leader)!
  const writer = await cluster.client(leader)
  await writer.buckets.ensure({ name: 'snap' })
  await writer.kv('snap').put('before', 'the kill')
  const leaderProcess = cluster.node(leader).process
  const linesBeforeKill = leaderProcess.lineCount()
  await cluster.kill9(lagging)

  // rounds × keys puts, plus some deletes: several snapshots' worth of entries.
  const expected = new Map<string, string>([['before', 'the kill']])
  for (let round = 1; round <= rounds; round += 1) {
    await Promise.all(
      Array.from({ length: 4 }, async (_, lane) => {
        for (let k = lane; k < keys; k += 4) {
          const key = `key-${k}`
          if (round === rounds && k % 10 === 0) {
            await writer.kv('snap').delete(key)
            expected.delete(key)
          } else {
            await writer.kv('snap').put(key, `round-${round}`)
            expected.set(key, `round-${round}`)
          }
        }
      }),
    )
  }
  const compacted = await leaderProcess.waitForLine(/raft snapshot taken, log compacted/, 10_000, linesBeforeKill)
  t.ok(compacted, `the leader took snapshots and compacted its log while ${lagging} was down`)

  await cluster.start(lagging)
  const restored = await cluster.node(lagging).process.waitForLine(/raft snapshot restored/, 30_000)
  const index = (JSON.parse(restored) as { index?: number }).index
  t.ok(typeof index === 'number' && index > snapshotEveryEntries, `${lagging} restored a snapshot from the leader (index ${index})`)

  const reader = await cluster.client(lagging)
  const deadline = Date.now() + 30_000
  let local = new Map<string, string>()
  while (Date.now() < deadline) {
    local = new Map((await reader.kv('snap').list('', { stale: true })).map((entry) => [entry.key, entry.string()]))
    if (local.size === expected.size && local.get('key-1') === `round-${rounds}`) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.same(Object.fromEntries(local), Object.fromEntries(expected), `${lagging}'s own state (stale read) holds all ${expected.size} keys with their latest values`)
  const linearizable = new Map((await reader.kv('snap').list('')).map((entry) => [entry.key, entry.string()]))
  t.same(Object.fromEntries(linearizable), Object.fromEntries(expected), `a linearizable read on ${lagging} agrees`)
  // And it keeps up afterwards: a new write is applied there too.
  await writer.kv('snap').put('after', 'catch-up')
  t.equal((await reader.kv('snap').get('after'))?.string(), 'catch-up', `${lagging} applies new entries after the snapshot`)
})
