// Load balancers in two datacenters sharing TCP flow state through a CRDT KV bucket — the use
// case from the founding notes (Rocinante: "a set of load balancers that need to synchronize
// their current state").
//
// RUNS IN-PROCESS FOR NOW: the server side of CRDT buckets is not wired yet, so the two
// datacenters (3 replicas each) are the in-memory replicated harness of the tests
// (test/kv-crdt/harness.ts: simulated network with cross-datacenter delay, partitions, virtual
// time), and each load balancer uses the real client API (client/kv-crdt.ts) over a transport to
// its local replica. Once the server lands, only `transport` changes.
//
// The story: each load balancer records the flows it opens (a JSON document per flow, merged
// field by field) and counts active flows per backend (a counter); ECMP moves a flow to the other
// datacenter, whose balancer updates other fields of the same flow; the link between the
// datacenters is cut, and both sides go on — one closes a flow the other still updates; the link
// heals and both datacenters converge on the same state.
//
// Run: npx tsx examples/flow-state.ts
import { CrdtKvBucket } from '../client/kv-crdt.js'
import type { CrdtKvEntry } from '../client/kv-crdt.js'
import { KvHarness } from '../test/kv-crdt/harness.js'

const harness = new KvHarness({
  regions: [
    { name: 'dc-east', replicas: 3 },
    { name: 'dc-west', replicas: 3 },
  ],
  seed: 2024,
  bucket: 'lb-flows',
  interRegionDelayMs: [35, 45], // ~80 ms round trip between the datacenters
})
const lbEast = new CrdtKvBucket(harness.transport('dc-east-1'), 'lb-flows')
const lbWest = new CrdtKvBucket(harness.transport('dc-west-1'), 'lb-flows')

/** A flow's key: protocol, client address and port, virtual IP and port. */
const flowKey = (client: string, port: number): string => `flow/tcp/${client}:${port}->203.0.113.10:443`
let changes = 0
const watching = lbWest.watch({ prefix: 'flow/' }).subscribe((event) => {
  if (event.type === 'value' || event.type === 'delete') changes++
})

async function open(lb: CrdtKvBucket, name: string, client: string, port: number, backend: string): Promise<void> {
  await lb.merge(flowKey(client, port), { backend, state: 'established', openedBy: name, packets: 1 })
  await lb.increment(`active/${backend}`)
}

async function close(lb: CrdtKvBucket, client: string, port: number, backend: string): Promise<void> {
  await lb.delete(flowKey(client, port))
  await lb.increment(`active/${backend}`, -1)
}

// 1. Both datacenters open flows at the same time; every write is acknowledged by a majority of
//    the writer's own datacenter only (no cross-datacenter round trip on the write path).
const acks = await Promise.all([
  open(lbEast, 'lb-east', '198.51.100.1', 50_001, 'backend-a'),
  open(lbEast, 'lb-east', '198.51.100.2', 50_002, 'backend-b'),
  open(lbWest, 'lb-west', '198.51.100.3', 50_003, 'backend-a'),
  open(lbWest, 'lb-west', '198.51.100.4', 50_004, 'backend-c'),
])
console.log(`opened ${acks.length} flows, each acknowledged inside its own datacenter`)
harness.run(200)

// 2. ECMP moves flow 1 to dc-west: both balancers update different fields of the same flow concurrently.
await Promise.all([lbEast.merge(flowKey('198.51.100.1', 50_001), { packets: 42, bytesIn: 61_000 }), lbWest.merge(flowKey('198.51.100.1', 50_001), { seenIn: 'dc-west', lastHop: 'lb-west' })])
harness.run(200)

// 3. The link between the datacenters is cut; both sides go on.
harness.partitionRegions('dc-east', 'dc-west')
await close(lbWest, '198.51.100.3', 50_003, 'backend-a') // west closes flow 3 …
await lbEast.merge(flowKey('198.51.100.3', 50_003), { packets: 7 }) // … while east, not knowing, updates it
await open(lbEast, 'lb-east', '198.51.100.5', 50_005, 'backend-b')
await open(lbWest, 'lb-west', '198.51.100.6', 50_006, 'backend-c')
await close(lbEast, '198.51.100.2', 50_002, 'backend-b')
const eastDuring = (await lbEast.list('flow/')).length
const westDuring = (await lbWest.list('flow/')).length
console.log(`partitioned: dc-east sees ${eastDuring} flows, dc-west sees ${westDuring}`)

// 4. The link heals; anti-entropy and shipping bring both sides together.
harness.healAll()
const settled = harness.settle()
watching.unsubscribe()

const describe = (entry: CrdtKvEntry): string => (entry.type === 'counter' ? `${entry.count()}` : JSON.stringify(entry.json()))
const east = (await lbEast.list()).map((entry) => `${entry.key} = ${describe(entry)}`)
const west = (await lbWest.list()).map((entry) => `${entry.key} = ${describe(entry)}`)
console.log('\nconverged state (dc-east):')
for (const line of east) console.log(`  ${line}`)
// A delete replaces the whole value, including updates made concurrently by a side that had not
// seen it: the closed flow stays closed (no zombie flow with half its fields).
const flow3 = await lbEast.get(flowKey('198.51.100.3', 50_003))
console.log(`\nflow 3 (closed in dc-west, updated meanwhile in dc-east): ${flow3 === undefined ? 'closed everywhere' : 'STILL PRESENT'}`)
const same = settled && flow3 === undefined && JSON.stringify(east) === JSON.stringify(west)
console.log(`\ndc-west watched ${changes} flow changes`)
console.log(same ? 'converged: dc-east and dc-west hold the same state' : 'NOT converged: the datacenters differ')
harness.dispose()
process.exitCode = same ? 0 : 1
