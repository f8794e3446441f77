// client.consume(stream) without a group: an independent reader over STREAM.FETCH on a real
// node — from the beginning, an index, the end (then new events as they are delivered, by
// polling), and a time (binary search: the first event at or after it); settle calls are no-ops
// that resolve at once; a stream not open yet is waited for, one that never opens fails after
// the open wait.
// The pure parts: the time search against a linear reference (fast-check), the poll backoff.
import t from 'tap'
import fc from 'fast-check'
import { lastValueFrom, take, toArray } from 'rxjs'
import { ApiError, connect } from '../../client/index.js'
import type { StreamMessage } from '../../client/index.js'
import { firstIndexAtOrAfter, pollDelayMs } from '../../client/stream-reader.js'
import { railgunKind } from './helpers/processes.js'

t.test('firstIndexAtOrAfter = the linear scan over non-decreasing times', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.nat(50), { maxLength: 200 }), fc.nat(60), async (steps, target) => {
      const times: number[] = []
      let time = 0
      for (const step of steps) times.push((time += step % 3))
      let lookups = 0
      const found = await firstIndexAtOrAfter(times.length, target, async (index) => {
        lookups += 1
        return times[index]
      })
      const expected = times.findIndex((value) => value >= target)
      if (found !== (expected === -1 ? times.length : expected)) return false
      return lookups <= Math.ceil(Math.log2(times.length + 1))
    }),
  )
  t.pass('binary search agrees with the linear scan within log2 lookups')
})

t.test('pollDelayMs doubles from the floor to the ceiling', async (t) => {
  t.same([1, 2, 3, 4, 5, 6, 100].map((idle) => pollDelayMs(idle, 50, 1_000)), [50, 100, 200, 400, 800, 1_000, 1_000])
})

t.test('independent reader on a real node', { timeout: 120_000 }, async (t) => {
  if (railgunKind.unavailableReason !== undefined) {
    t.pass(`skipped: ${railgunKind.unavailableReason}`)
    return
  }
  const server = await railgunKind.start()
  t.teardown(() => server.dispose())
  const client = await connect(server.url)
  t.teardown(() => client.close())
  await client.streams.ensure({ name: 'ledger', kind: 'persistent', ackDefault: 'write' })
  const producer = client.producer('ledger', { retries: 20, retryBackoffMs: 50, retryBackoffMsMax: 500, maxInFlight: 1 })
  for (let i = 0; i < 20; i += 1) {
    await producer.send(JSON.stringify({ n: i }), { topic: `t${i % 2}`, id: `ledger-${i}`, headers: { Seq: String(i) } })
    if (i === 9) await new Promise((resolve) => setTimeout(resolve, 30)) // a gap in time before #10
  }

  const all = await lastValueFrom(client.consume('ledger').pipe(take(20), toArray()))
  t.same(all.map((m) => m.index), Array.from({ length: 20 }, (_, i) => i), 'from the beginning, every index once')
  t.same(all.map((m) => m.id), Array.from({ length: 20 }, (_, i) => `ledger-${i}`), 'in publish order (one writer)')
  t.same(all.map((m) => m.json<{ n: number }>().n), Array.from({ length: 20 }, (_, i) => i))
  const fifth = all[5] as StreamMessage
  t.equal(fifth.subject, 'ledger.t1')
  t.equal(fifth.header('Seq'), '5')
  t.equal(fifth.stream, 'default/ledger')
  t.equal(fifth.group, undefined)
  t.equal(fifth.deliveries, 1)
  t.ok(all.every((m, i) => i === 0 || m.time >= (all[i - 1] as StreamMessage).time), 'times do not go back')
  await fifth.ack()
  await fifth.nack(10)
  await fifth.term('x')
  await fifth.inProgress()
  fifth.ackNoWait()
  t.pass('settle calls of an independent reader resolve at once (no-ops)')

  const fromIndex = await lastValueFrom(client.consume('ledger', { start: { from: 'index', index: 15 }, maxInFlight: 2 }).pipe(take(5), toArray()))
  t.same(fromIndex.map((m) => m.index), [15, 16, 17, 18, 19], 'from an index, in pages of maxInFlight')

  const timeMs = (all[10] as StreamMessage).time
  const fromTime = await lastValueFrom(client.consume('ledger', { start: { from: 'time', timeMs } }).pipe(take(1), toArray()))
  const expected = all.findIndex((m) => m.time >= timeMs)
  t.equal(fromTime[0]?.index, expected, 'from a time: the first event at or after it')

  // From the end: only what is published after the reader started.
  const tail = lastValueFrom(client.consume('ledger', { start: { from: 'end' }, pollMsMax: 100 }).pipe(take(3), toArray()))
  await new Promise((resolve) => setTimeout(resolve, 300))
  for (let i = 20; i < 23; i += 1) await producer.send(`late ${i}`, { id: `ledger-${i}` })
  t.same((await tail).map((m) => m.id), ['ledger-20', 'ledger-21', 'ledger-22'], 'from the end: the new events, found by polling')

  // A stream that is not open on the node yet is waited for (joinTimeoutMs), from its beginning.
  const early = lastValueFrom(client.consume('later', { pollMsMax: 100 }).pipe(take(2), toArray()))
  await new Promise((resolve) => setTimeout(resolve, 300))
  await client.streams.ensure({ name: 'later', kind: 'persistent', ackDefault: 'write' })
  const laterProducer = client.producer('later', { retries: 20, retryBackoffMs: 50, retryBackoffMsMax: 500, maxInFlight: 1 })
  for (let i = 0; i < 2; i += 1) await laterProducer.send(`l${i}`, { id: `later-${i}` })
  t.same((await early).map((m) => m.id), ['later-0', 'later-1'], 'a reader started before the stream opened reads it from the beginning')

  const missing = await lastValueFrom(client.consume('absent', { joinTimeoutMs: 300 })).catch((error: unknown) => error)
  t.ok(missing instanceof ApiError && missing.code === 'RG_ERR_NOT_FOUND', 'no such stream on the node: RG_ERR_NOT_FOUND after the open wait')
})
