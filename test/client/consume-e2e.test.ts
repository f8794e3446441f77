// client.consume / fetch / ackAll end to end against the real group controller of a Railgun
// node (server side of the consumer-group protocol): events published through a producer are
// consumed by a group and acked, and nothing comes back; a nack redelivers (deliveries 2); a
// member that unsubscribes with messages in hand has them redelivered to a second member, which
// gets the whole rest; a FETCH batch acked with one ACKS is gone; `term` moves a message to the
// dead-letter stream with its reason; an exclusive group's standby takes over when the active
// member leaves.
import t from 'tap'
import { firstValueFrom, lastValueFrom, mergeMap, take, toArray } from 'rxjs'
import { connect } from '../../client/index.js'
import type { MembershipEvent, Producer, RailgunClient, StreamMessage } from '../../client/index.js'
import { railgunKind } from './helpers/processes.js'

async function until(what: string, predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Publishes `count` events with ids `<prefix>-<i>`, one after the other (stream order = id order); resolves with the ids. */
async function publish(producer: Producer, prefix: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}`)
  for (const id of ids) await producer.send(id, { id })
  return ids
}

/** Collects what a fresh member of `group` receives during `ms` (acking nothing). */
async function quietFor(client: RailgunClient, stream: string, group: string, ms: number): Promise<StreamMessage[]> {
  const received: StreamMessage[] = []
  const subscription = client.consume(stream, { group }).subscribe((m) => received.push(m))
  await sleep(ms)
  subscription.unsubscribe()
  return received
}

t.test('consume against the real group controller', { timeout: 180_000 }, async (t) => {
  if (railgunKind.unavailableReason !== undefined) {
    t.pass(`skipped: ${railgunKind.unavailableReason}`)
    return
  }
  const server = await railgunKind.start()
  t.teardown(() => server.dispose())
  const client = await connect(server.url, { name: 'e2e-consumer' })
  const other = await connect(server.url, { name: 'e2e-second' })
  t.teardown(async () => {
    await client.close()
    await other.close()
  })
  await client.streams.ensure({ name: 'jobs', kind: 'persistent', ackDefault: 'write' })
  const producer = client.producer('jobs', { retries: 20, retryBackoffMs: 50, retryBackoffMsMax: 500, maxInFlight: 16 })

  t.test('publish N, consume with a group, ack all: each once, nothing redelivered', async (t) => {
    await client.groups.ensure({ stream: 'jobs', name: 'all', mode: 'load-balanced', ackWaitMs: 60_000 })
    const ids = await publish(producer, 'job', 30)
    // The window is 8: each message is acked as it comes, or the 9th never would.
    const received = await lastValueFrom(
      client.consume('jobs', { group: 'all', maxInFlight: 8 }).pipe(
        mergeMap(async (m) => {
          await m.ack()
          return m
        }),
        take(30),
        toArray(),
      ),
    )
    t.same(received.map((m) => m.id).sort(), [...ids].sort(), 'every event once')
    t.ok(received.every((m) => m.deliveries === 1 && m.group === 'all' && m.stream === 'default/jobs'))
    t.same(received.map((m) => m.index).sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i), 'indexes 0..29')
    t.same(await quietFor(client, 'jobs', 'all', 1_000), [], 'nothing is redelivered after the acks')
  })

  t.test('a nack redelivers; the redelivery counts', async (t) => {
    await client.groups.ensure({ stream: 'jobs', name: 'nacks', mode: 'load-balanced', start: { from: 'end' } })
    const received: StreamMessage[] = []
    const subscription = client.consume('jobs', { group: 'nacks' }).subscribe((m) => received.push(m))
    t.teardown(() => subscription.unsubscribe())
    await sleep(300) // joined; the group starts at the end
    const [id] = await publish(producer, 'nack-me', 1)
    await until('first delivery', () => received.length === 1)
    t.equal(received[0]?.id, id)
    await received[0]?.nack()
    await until('redelivery', () => received.length === 2)
    t.equal(received[1]?.index, received[0]?.index, 'the same message')
    t.equal(received[1]?.deliveries, 2, 'second delivery')
    await received[1]?.ack()
    await sleep(500)
    t.equal(received.length, 2, 'acked: not delivered again')
  })

  t.test('a member that unsubscribes mid-stream: the rest goes to a second member', async (t) => {
    await client.groups.ensure({ stream: 'jobs', name: 'handover', mode: 'load-balanced', start: { from: 'end' } })
    const firstReceived: StreamMessage[] = []
    const first = client.consume('jobs', { group: 'handover', maxInFlight: 3 }).subscribe((m) => firstReceived.push(m))
    await sleep(300)
    const ids = await publish(producer, 'handover', 10)
    await until('the first member holds its window', () => firstReceived.length === 3)
    first.unsubscribe() // LEAVE: its 3 unacked messages go back to the group
    const secondReceived = await lastValueFrom(
      other.consume('jobs', { group: 'handover' }).pipe(
        take(10),
        toArray(),
      ),
    )
    await other.ackAll(secondReceived)
    t.same(secondReceived.map((m) => m.id).sort(), [...ids].sort(), 'the second member gets all 10')
    const redelivered = secondReceived.filter((m) => firstReceived.some((held) => held.index === m.index))
    t.equal(redelivered.length, 3, 'including the 3 the first member held')
    t.ok(redelivered.every((m) => m.deliveries === 2), 'as second deliveries')
  })

  t.test('fetch a batch, ackAll: gone', async (t) => {
    await client.groups.ensure({ stream: 'jobs', name: 'batch', mode: 'load-balanced', start: { from: 'end' } })
    await client.fetch('jobs', { group: 'batch', max: 1, expiresMs: 200 }) // the group exists on the controller
    const ids = await publish(producer, 'batch', 5)
    const batch: StreamMessage[] = []
    for (let round = 0; round < 20 && batch.length < 5; round += 1) batch.push(...(await client.fetch('jobs', { group: 'batch', max: 10, expiresMs: 1_000 })))
    t.same(batch.map((m) => m.id).sort(), [...ids].sort(), 'the batch holds the 5 events')
    t.equal(await client.ackAll(batch), 5, 'one ACKS applied 5 acks')
    t.same(await client.fetch('jobs', { group: 'batch', max: 10, expiresMs: 500 }), [], 'nothing left')
  })

  t.test('term moves a message to <stream>-dlq with its reason', async (t) => {
    await client.groups.ensure({ stream: 'jobs', name: 'terms', mode: 'load-balanced', start: { from: 'end' } })
    const received: StreamMessage[] = []
    const subscription = client.consume('jobs', { group: 'terms' }).subscribe((m) => received.push(m))
    t.teardown(() => subscription.unsubscribe())
    await sleep(300)
    const [id] = await publish(producer, 'poison', 1)
    await until('delivery', () => received.length === 1)
    await received[0]?.term('cannot parse')
    const dead = await firstValueFrom(client.consume('jobs-dlq', { joinTimeoutMs: 30_000 }))
    t.equal(dead.header('Rg-Dlq-Reason'), 'term')
    t.equal(dead.header('Rg-Dlq-Detail'), 'cannot parse')
    t.equal(dead.header('Rg-Dlq-Group'), 'terms')
    t.equal(dead.string(), id, 'the original payload')
  })

  t.test('exclusive: the standby takes over when the active member leaves', async (t) => {
    await client.groups.ensure({ stream: 'jobs', name: 'solo', mode: 'exclusive', start: { from: 'end' } })
    const aReceived: StreamMessage[] = []
    const bReceived: StreamMessage[] = []
    const bEvents: MembershipEvent[] = []
    const acks: Array<Promise<void>> = []
    const a = client.consume('jobs', { group: 'solo' }).subscribe((m) => {
      aReceived.push(m)
      acks.push(m.ack())
    })
    await sleep(300)
    const b = other.consume('jobs', { group: 'solo', onMembership: (event) => bEvents.push(event) }).subscribe((m) => {
      bReceived.push(m)
      acks.push(m.ack())
    })
    t.teardown(() => b.unsubscribe())
    await until('b joined', () => bEvents.length === 1)
    t.match(bEvents[0], { type: 'joined', reply: { active: false } }, 'b is a standby')
    const early = await publish(producer, 'solo-early', 3)
    await until('a gets the first three', () => aReceived.length === 3)
    t.same(aReceived.map((m) => m.id), early, 'in stream order, all to the active member')
    t.equal(bReceived.length, 0, 'the standby gets nothing')
    a.unsubscribe()
    await until('b activated', () => bEvents.some((event) => event.type === 'activated'))
    const late = await publish(producer, 'solo-late', 3)
    await until('b gets the next three', () => bReceived.length === 3)
    t.same(bReceived.map((m) => m.id), late)
    await Promise.all(acks) // every ack confirmed (none left pending when the clients close)
  })
})
