// The control API from the Railgun client: declarative stream definitions and a linearizable KV
// bucket with a gap-free watch. Run against a node: `npx tsx examples/control-api.ts`
// (RAILGUN_SERVER picks the server; default nats://127.0.0.1:4222).
import { firstValueFrom, take, toArray } from 'rxjs'
import { connect } from '../client/index.js'

const client = await connect(process.env.RAILGUN_SERVER ?? 'nats://127.0.0.1:4222', { name: 'control-api-example' })

const status = await client.cluster.status()
console.log(`leader ${status.leader} at term ${status.term}, ${status.members.length} member(s)`)

// Declarative: the same definition twice is a no-op; a different one is refused with the diff.
const created = await client.streams.ensure({ name: 'orders', replicasPerRegion: 1 })
const again = await client.streams.ensure({ name: 'orders', replicasPerRegion: 1 })
console.log(`stream orders: ${created.outcome}, then ${again.outcome}`)
try {
  await client.streams.ensure({ name: 'orders', replicasPerRegion: 1, dedupWindowMs: 1_000 })
} catch (error) {
  console.log(`conflict: ${(error as { code: string }).code}`)
}

await client.buckets.ensure({ name: 'flags' })
const flags = client.kv('flags')
// Subscribe first: the watch emits the current values, then every change in revision order.
const changes = firstValueFrom(flags.watch('beta').pipe(take(2), toArray()))
await new Promise((resolve) => setTimeout(resolve, 200))
const revision = await flags.put('beta', 'on')
await flags.cas('beta', 'off', revision) // compare-and-set: only if nobody wrote in between
for (const change of await changes) console.log(`watch: ${change.type} ${change.key} @${change.revision}`)
console.log(`beta = ${(await flags.get('beta'))?.string()}`)

await client.close()
