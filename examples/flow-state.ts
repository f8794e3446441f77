// Load balancers in two datacenters sharing TCP flow state through a CRDT KV bucket — the use
// case from the founding notes (Rocinante: "a set of load balancers that need to synchronize
// their current state").
//
// Two ways to run it:
//  - against real nodes: `RAILGUN_SERVER=nats://127.0.0.1:4222 npx tsx examples/flow-state.ts`
//    (the bucket is created in the node's region). With `RAILGUN_SERVER_WEST` naming a node of
//    another region, the bucket is placed in both regions (`RAILGUN_REGIONS=east,west`) and each
//    balancer talks to its own datacenter; without it both talk to the same node.
//  - in-process (the default, no server): the two datacenters (3 replicas each) are the in-memory
//    replicated harness of the tests (test/kv-crdt/harness.ts: simulated network with
//    cross-datacenter delay, partitions, virtual time); only there can the example cut the link
//    between the datacenters.
// Each load balancer uses the same client API (client/kv-crdt.ts) either way.
//
// The story: each load balancer records the flows it opens (a JSON document per flow, merged
// field by field) and counts active flows per backend (a counter); ECMP moves a flow to the other
// datacenter, whose balancer updates other fields of the same flow; in-process, the link between
// the datacenters is cut and both sides go on — one closes a flow the other still updates; the
// link heals and both datacenters converge on the same state.
import { CrdtKvBucket, connect } from '../client/index.js'
import type { CrdtKvEntry, RailgunClient } from '../client/index.js'
import { KvHarness } from '../test/kv-crdt/harness.js'

const bucketName = 'lb-flows'
/** How long the real-node mode waits for both datacenters to show the same state. */
const convergeWaitMs = 30_000

interface Datacenters {
  readonly lbEast: CrdtKvBucket
  readonly lbWest: CrdtKvBucket
  /** Lets replication run (virtual time in-process; a short pause on real nodes). */
  readonly pass: () => Promise<void>
  /** Cuts the link between the datacenters and heals it (in-process only). */
  readonly partition?: { readonly cut: () => void; readonly heal: () => boolean }
  readonly close: () => Promise<void>
}

async function onHarness(): Promise<Datacenters> {
  const harness = new KvHarness({
    regions: [
      { name: 'dc-east', replicas: 3 },
      { name: 'dc-west', replicas: 3 },
    ],
    seed: 2024,
    bucket: bucketName,
    interRegionDelayMs: [35, 45], // ~80 ms round trip between the datacenters
  })
  return {
    lbEast: new CrdtKvBucket(harness.transport('dc-east-1'), bucketName),
    lbWest: new CrdtKvBucket(harness.transport('dc-west-1'), bucketName),
    pass: () => {
      harness.run(200)
      return Promise.resolve()
    },
    partition: { cut: () => harness.partitionRegions('dc-east', 'dc-west'), heal: () => (harness.healAll(), harness.settle()) },
    close: () => {
      harness.dispose()
      return Promise.resolve()
    },
  }
}

async function onServers(east: string, west: string | undefined): Promise<Datacenters> {
  const clients: RailgunClient[] = [await connect(east, { name: 'lb-east' })]
  if (west !== undefined) clients.push(await connect(west, { name: 'lb-west' }))
  const [eastClient, westClient = eastClient] = clients as [RailgunClient, RailgunClient?]
  const regions = process.env.RAILGUN_REGIONS?.split(',').filter((region) => region.length > 0)
  const ensured = await eastClient.crdtBuckets.ensure(bucketName, regions === undefined ? {} : { regions })
  console.log(`bucket ${bucketName}: ${ensured.outcome} (${JSON.stringify((ensured.details as { placement?: unknown }).placement ?? {})})`)
  // A fresh bucket serves once its replicas have opened the stream; an earlier run's keys go.
  for (let tries = 0; ; tries++) {
    try {
      for (const entry of await eastClient.kvCrdt(bucketName).list()) await eastClient.kvCrdt(bucketName).delete(entry.key)
      break
    } catch (error) {
      if (tries >= 100) throw error
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  return {
    lbEast: eastClient.kvCrdt(bucketName),
    lbWest: westClient.kvCrdt(bucketName),
    pass: () => new Promise((resolve) => setTimeout(resolve, 200)),
    close: async () => {
      for (const client of clients) await client.close()
    },
  }
}

const server = process.env.RAILGUN_SERVER
const dcs = server === undefined ? await onHarness() : await onServers(server, process.env.RAILGUN_SERVER_WEST)
const { lbEast, lbWest } = dcs
console.log(server === undefined ? 'in-process: two datacenters of 3 replicas each (the replicated harness)' : `real nodes: east ${server}, west ${process.env.RAILGUN_SERVER_WEST ?? server}`)

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

const describe = (entry: CrdtKvEntry): string => (entry.type === 'counter' ? `${entry.count()}` : JSON.stringify(entry.json()))
const stateOf = async (lb: CrdtKvBucket): Promise<string[]> => (await lb.list()).map((entry) => `${entry.key} = ${describe(entry)}`)

// 1. Both datacenters open flows at the same time; every write is acknowledged by a majority of
//    the writer's own datacenter only (no cross-datacenter round trip on the write path).
const acks = await Promise.all([
  open(lbEast, 'lb-east', '198.51.100.1', 50_001, 'backend-a'),
  open(lbEast, 'lb-east', '198.51.100.2', 50_002, 'backend-b'),
  open(lbWest, 'lb-west', '198.51.100.3', 50_003, 'backend-a'),
  open(lbWest, 'lb-west', '198.51.100.4', 50_004, 'backend-c'),
])
console.log(`opened ${acks.length} flows, each acknowledged inside its own datacenter`)
await dcs.pass()

// 2. ECMP moves flow 1 to dc-west: both balancers update different fields of the same flow concurrently.
await Promise.all([lbEast.merge(flowKey('198.51.100.1', 50_001), { packets: 42, bytesIn: 61_000 }), lbWest.merge(flowKey('198.51.100.1', 50_001), { seenIn: 'dc-west', lastHop: 'lb-west' })])
await dcs.pass()

// 3. In-process: the link between the datacenters is cut and both sides go on. On real nodes the
//    same writes run without the cut (the east update is made before the west close).
let settled = true
if (dcs.partition !== undefined) {
  dcs.partition.cut()
  await close(lbWest, '198.51.100.3', 50_003, 'backend-a') // west closes flow 3 …
  await lbEast.merge(flowKey('198.51.100.3', 50_003), { packets: 7 }) // … while east, not knowing, updates it
} else {
  await lbEast.merge(flowKey('198.51.100.3', 50_003), { packets: 7 }) // east updates flow 3 …
  await close(lbWest, '198.51.100.3', 50_003, 'backend-a') // … then west closes it
}
await open(lbEast, 'lb-east', '198.51.100.5', 50_005, 'backend-b')
await open(lbWest, 'lb-west', '198.51.100.6', 50_006, 'backend-c')
await close(lbEast, '198.51.100.2', 50_002, 'backend-b')
const eastDuring = (await lbEast.list('flow/')).length
const westDuring = (await lbWest.list('flow/')).length
console.log(`${dcs.partition === undefined ? 'meanwhile' : 'partitioned'}: dc-east sees ${eastDuring} flows, dc-west sees ${westDuring}`)

// 4. The link heals (in-process); replication and shipping bring both sides together.
if (dcs.partition !== undefined) settled = dcs.partition.heal()
else {
  const deadline = Date.now() + convergeWaitMs
  while (JSON.stringify(await stateOf(lbEast)) !== JSON.stringify(await stateOf(lbWest)) && Date.now() < deadline) await dcs.pass()
}
watching.unsubscribe()

const east = await stateOf(lbEast)
const west = await stateOf(lbWest)
console.log('\nconverged state (dc-east):')
for (const line of east) console.log(`  ${line}`)
// A delete replaces the whole value, including updates made concurrently by a side that had not
// seen it: the closed flow stays closed (no zombie flow with half its fields).
const flow3 = await lbEast.get(flowKey('198.51.100.3', 50_003))
const flow3Story = dcs.partition === undefined ? 'updated in dc-east, then closed in dc-west' : 'closed in dc-west, updated meanwhile in dc-east'
console.log(`\nflow 3 (${flow3Story}): ${flow3 === undefined ? 'closed everywhere' : 'STILL PRESENT'}`)
const same = settled && flow3 === undefined && JSON.stringify(east) === JSON.stringify(west)
console.log(`\ndc-west watched ${changes} flow changes`)
console.log(same ? 'converged: dc-east and dc-west hold the same state' : 'NOT converged: the datacenters differ')
await dcs.close()
process.exitCode = same ? 0 : 1
