// Convergence across regions (DESIGN §4.3 for CRDT KV buckets): 3 regions × 3 replicas write
// concurrently while the harness delays, duplicates and drops their operations, cuts regions
// apart and isolates replicas, and tombstones are collected on random replicas at random times.
// After the network heals, every replica holds every operation, every replica shows the same
// values, and those values are what a fresh replica that applies every operation in id order
// shows, and what the naive reference model computes. Deterministic: the seed is in the test
// name; KV_CRDT_SIM_SEEDS=n runs n seeds (default 3).
import t from 'tap'
import { compareOpId, describeValue } from '../../data-plane/kv-crdt/index.js'
import type { CrdtKvState, KvOp } from '../../data-plane/kv-crdt/index.js'
import { KvHarness } from './harness.js'
import type { HarnessReplica } from './harness.js'
import { replay, referenceValues, sortedEntries } from './helpers.js'

const seeds = Number(process.env.KV_CRDT_SIM_SEEDS ?? 3)
// The first default seeds are ones where collecting a tombstone in one step (without the clock
// ceiling) makes replicas disagree at a checkpoint — checked by mutating state.ts.
const firstSeed = 0x5eed + 3 * 7919
const writesPerRun = Number(process.env.KV_CRDT_SIM_WRITES ?? 400)
const regions = [
  { name: 'us-east', replicas: 3 },
  { name: 'eu-west', replicas: 3 },
  { name: 'ap-south', replicas: 3 },
]
const checkpointEvery = 50
const flows = Array.from({ length: 30 }, (_, i) => `flow/${i}`)
const counters = ['active/b1', 'active/b2', 'active/b3']

const visible = (state: CrdtKvState): Array<[string, string]> => state.entriesMatching().map((entry) => [entry.key, describeValue(entry)])

function randomWrite(h: KvHarness, replica: HarnessReplica): void {
  const r = h.random()
  const pick = <T>(items: readonly T[]): T => items[Math.floor(h.random() * items.length)] as T
  h.write(replica.id, (state, physicalMs) => {
    if (r < 0.35) return state.merge(pick(flows), { backend: pick(['b1', 'b2', 'b3']), state: 'open', [`seen-${replica.region}`]: Math.floor(h.random() * 100) }, physicalMs)
    if (r < 0.5) return state.merge(pick(flows), { state: pick(['open', 'closing']), bytes: Math.floor(h.random() * 1e6), tags: h.random() < 0.3 ? null : [replica.id] }, physicalMs)
    if (r < 0.65) return state.delete(pick(flows), physicalMs)
    if (r < 0.8) return state.increment(pick(counters), BigInt(h.random() < 0.6 ? 1 : -1), physicalMs)
    if (r < 0.9) return state.delete(pick(counters), physicalMs)
    return state.put(`config/${pick(['a', 'b'])}`, new TextEncoder().encode(`${replica.id}@${physicalMs}`), physicalMs)
  })
  // Refusals (a merge on a key another replica turned into a counter, ...) are part of the game.
}

for (let run = 0; run < seeds; run++) {
  const seed = firstSeed + run * 7919
  t.test(`seed ${seed}: 3 regions × 3 replicas converge through delays, duplicates, drops, partitions and garbage collection`, async (t) => {
    const h = new KvHarness({ regions, seed })
    t.teardown(() => h.dispose())
    let partitions = 0
    let collections = 0
    for (let i = 0; i < writesPerRun; i++) {
      const replica = h.replicas[Math.floor(h.random() * h.replicas.length)] as HarnessReplica
      randomWrite(h, replica)
      h.run(h.random() * 40)
      const event = h.random()
      if (event < 0.01) {
        h.partitionRegions(regions[0]?.name as string, regions[1 + Math.floor(h.random() * 2)]?.name as string)
        partitions++
      } else if (event < 0.015) {
        h.isolate((h.replicas[Math.floor(h.random() * h.replicas.length)] as HarnessReplica).id)
        partitions++
      } else if (event < 0.03) {
        h.healAll()
      }
      // Collection on some replicas at most steps: the race it must survive (an increment made
      // before its writer saw a delete, still in flight) needs a round at the wrong moment.
      if (h.random() < 0.6) {
        h.collectGarbage(() => h.random() < 0.4)
        collections++
      }
      // A checkpoint now and then: heal, let everything arrive, every replica must agree (a
      // divergence can be hidden later by a newer reset of the same key).
      if ((i + 1) % checkpointEvery === 0) {
        h.healAll()
        t.ok(h.settle(120_000), `step ${i + 1}: every operation everywhere`)
        const values = visible(h.replicas[0]?.state as CrdtKvState)
        const disagreeing = h.replicas.filter((replica) => JSON.stringify(visible(replica.state)) !== JSON.stringify(values)).map((r) => r.id)
        t.same(disagreeing, [], `step ${i + 1}: every replica shows the same values`)
      }
    }
    h.healAll()
    t.ok(h.settle(120_000), 'every replica holds every operation after healing')
    h.collectGarbage()
    h.collectGarbage()
    t.ok(partitions > 0 && collections > 0, `${partitions} partitions, ${collections} collection rounds, ${h.stats.gcPurged} tombstones collected`)
    t.ok(h.stats.duplicated > 0 && h.stats.dropped > 0 && h.stats.cut > 0, `network: ${JSON.stringify(h.stats)}`)

    const reference = visible(h.replicas[0]?.state as CrdtKvState)
    t.ok(reference.length > 0, `${reference.length} keys with a value`)
    for (const replica of h.replicas) t.same(visible(replica.state), reference, `${replica.id} shows the converged values`)
    const inIdOrder = [...h.issued].sort((a: KvOp, b: KvOp) => compareOpId(a.id, b.id))
    const fresh = replay(inIdOrder)
    t.same(visible(fresh), reference, 'a fresh replica applying every operation in id order agrees')
    fresh.dispose()
    t.same(sortedEntries(referenceValues(h.issued)), reference, 'the naive reference model agrees')
    for (const replica of h.replicas) t.equal(replica.state.pendingCount, 0, `${replica.id}: nothing waits for a base`)
  })
}
