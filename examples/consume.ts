// Consumer groups with the Railgun client: define a persistent stream and a load-balanced group,
// publish 10 events with durable acks, consume them as a member of the group, ack each, exit.
//
//   npx tsx examples/consume.ts                 # server from $RAILGUN_SERVER or 127.0.0.1:4222
import { lastValueFrom, mergeMap, take, toArray } from 'rxjs'
import { connect } from '../client/index.js'

const client = await connect(process.env.RAILGUN_SERVER ?? 'nats://127.0.0.1:4222', { name: 'consume-example' })

await client.streams.ensure({ name: 'events', replicasPerRegion: 1, ackDefault: 'write' })
await client.groups.ensure({ stream: 'events', name: 'printers', mode: 'load-balanced', ackWaitMs: 10_000 })

// A producer: each send resolves with the durable ack. Retries re-send the same id, so a retry
// of a publish that did land is a duplicate, not a second event (the stream also opens on the
// node a moment after it is created: the first sends may need a retry).
const producer = client.producer('events', { retries: 20, retryBackoffMs: 50, retryBackoffMsMax: 500 })
for (let n = 0; n < 10; n += 1) await producer.send(JSON.stringify({ n }), { topic: 'demo', id: `event-${n}` })
console.log('published 10 events')

// A member of the group: the controller pushes at most 5 unacked messages at once (the window);
// each is acked once printed. take(10) unsubscribes after the tenth: the member LEAVEs the group.
const numbers = await lastValueFrom(
  client.consume('events', { group: 'printers', maxInFlight: 5 }).pipe(
    mergeMap(async (message) => {
      console.log(`#${message.index} ${message.subject} ${message.string()} (delivery ${message.deliveries})`)
      await message.ack() // resolves once the controller confirmed
      return message.json<{ n: number }>().n
    }),
    take(10),
    toArray(),
  ),
)
console.log(`consumed and acked ${numbers.length} events: ${numbers.sort((a, b) => a - b).join(',')}`)
await client.drain()
