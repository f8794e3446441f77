// Producer options of persistent publishes (issue #5): retries with exponential, capped backoff
// re-send the SAME Rg-Msg-Id (a nuid when the caller gave none), only for retriable failures;
// `client.producer(stream)` bounds concurrent unacked publishes (maxInFlight), queues up to
// queueMax sends and refuses the next with OutboundBufferFullError. The acks come from a fake
// ack responder in the test (a plain subscription on a non-stream subject of a real node), so
// dropped and delayed acks are under the test's control; the last test uses a real stream.
import t from 'tap'
import { ApiError, connect, OutboundBufferFullError, RequestTimeoutError, retryDelayMs } from '../../client/index.js'
import type { RailgunClient, StreamPublishAck } from '../../client/index.js'
import type { Message } from '../../client/message.js'
import { railgunKind } from './helpers/processes.js'

async function until(what: string, predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

let seq = 0
function ackFor(stream: string, duplicate = false): StreamPublishAck {
  seq += 1
  return {
    ok: true,
    stream: `default/${stream}`,
    position: seq.toString(16).padStart(8, '0'),
    origin: 'fake',
    incarnation: 1,
    seq,
    hlc: { wallMs: 1_700_000_000_000, logical: 0 },
    duplicate,
    level: 'write',
  }
}

/** A fake ack responder on `<stream>` and `<stream>.>`: `decide(attempt, message)` answers, drops or holds. */
function fakeAcks(ctl: RailgunClient, stream: string, decide: (message: Message, attempt: number) => 'ack' | 'drop' | 'hold' | { code: string }) {
  const seen: Message[] = []
  const held: Message[] = []
  const answer = (message: Message): void => {
    const id = message.header('Rg-Msg-Id')
    const duplicate = id !== undefined && seen.filter((m) => m.header('Rg-Msg-Id') === id).length > 1
    message.respond(JSON.stringify(ackFor(stream, duplicate)))
  }
  const handle = (message: Message): void => {
    seen.push(message)
    const verdict = decide(message, seen.length)
    if (verdict === 'ack') answer(message)
    else if (verdict === 'hold') held.push(message)
    else if (verdict !== 'drop') message.respond(JSON.stringify({ ok: false, error: { code: verdict.code, message: 'fake refusal' } }))
  }
  const subscriptions = [ctl.subscribe(stream).subscribe(handle), ctl.subscribe(`${stream}.>`).subscribe(handle)]
  return {
    seen,
    held,
    releaseAll: () => {
      for (const message of held.splice(0)) answer(message)
    },
    stop: () => subscriptions.forEach((s) => s.unsubscribe()),
  }
}

t.test('retryDelayMs: doubling from retryBackoffMs, capped', async (t) => {
  t.same([1, 2, 3, 4, 5, 6, 7].map((attempt) => retryDelayMs(attempt, 100, 1_000)), [100, 200, 400, 800, 1_000, 1_000, 1_000])
  t.equal(retryDelayMs(10_000, 100, 5_000), 5_000, 'huge attempt counts stay finite')
})

t.test('producer options against a fake ack responder, then a real stream', { timeout: 120_000 }, async (t) => {
  if (railgunKind.unavailableReason !== undefined) {
    t.pass(`skipped: ${railgunKind.unavailableReason}`)
    return
  }
  const server = await railgunKind.start()
  t.teardown(() => server.dispose())
  const ctl = await connect(server.url, { name: 'fake-acks' })
  const client = await connect(server.url, { name: 'producer' })
  t.teardown(async () => {
    await client.close()
    await ctl.close()
  })

  t.test('a dropped first attempt is retried with the same generated id', async (t) => {
    const acks = fakeAcks(ctl, 'payments', (_message, attempt) => (attempt === 1 ? 'drop' : 'ack'))
    t.teardown(acks.stop)
    await ctl.flush()
    const ack = await client.publish('payments.card', 'p1', { ack: 'write', timeoutMs: 300, retries: 3, retryBackoffMs: 20 })
    t.equal(ack.stream, 'default/payments')
    t.equal(acks.seen.length, 2, 'two attempts')
    const ids = acks.seen.map((m) => m.header('Rg-Msg-Id'))
    t.match(ids[0], /^[A-Za-z0-9]{10,}$/, 'a nuid id was generated')
    t.equal(ids[1], ids[0], 'the retry carries the same Rg-Msg-Id')
    t.same(acks.seen.map((m) => m.header('Rg-Ack')), ['write', 'write'])
    t.same(acks.seen.map((m) => m.string()), ['p1', 'p1'])
  })

  t.test("the caller's id is kept on retries; retriable refusals are retried, others are not", async (t) => {
    const acks = fakeAcks(ctl, 'ledger', (message, attempt) => {
      if (message.string() === 'bad') return { code: 'RG_ERR_INVALID_ARGUMENT' }
      return attempt === 1 ? { code: 'RG_ERR_NOT_READY' } : 'ack'
    })
    t.teardown(acks.stop)
    await ctl.flush()
    await client.publishToStream('ledger', 'entry', { id: 'entry-1', retries: 2, retryBackoffMs: 10 })
    t.same(acks.seen.map((m) => m.header('Rg-Msg-Id')), ['entry-1', 'entry-1'], 'NOT_READY retried with the caller id')
    const refused = await client.publishToStream('ledger', 'bad', { retries: 5, retryBackoffMs: 10 }).catch((error: unknown) => error)
    t.ok(refused instanceof ApiError && refused.code === 'RG_ERR_INVALID_ARGUMENT', 'INVALID_ARGUMENT fails at once')
    t.equal(acks.seen.length, 3, 'with one attempt')
    const plain = await client.publishToStream('ledger', 'once', {})
    t.equal(plain.ok, true)
    t.equal(acks.seen.at(-1)?.header('Rg-Msg-Id'), undefined, 'no retries, no id given: no id generated (as before)')
  })

  t.test('retries exhausted: the last failure', async (t) => {
    const acks = fakeAcks(ctl, 'silent', () => 'drop')
    t.teardown(acks.stop)
    await ctl.flush()
    const failed = await client.publish('silent', 'x', { ack: 'default', timeoutMs: 150, retries: 2, retryBackoffMs: 10 }).catch((error: unknown) => error)
    t.ok(failed instanceof RequestTimeoutError, 'RequestTimeoutError')
    t.equal(acks.seen.length, 3, '1 + retries attempts')
    t.equal(new Set(acks.seen.map((m) => m.header('Rg-Msg-Id'))).size, 1, 'all with one id')
    const badOption = await client.publishToStream('silent', 'x', { retries: -1 }).catch((error: unknown) => error)
    t.match(badOption, { code: 'RG_ERR_INVALID_ARGUMENT' }, 'bad retries option')
  })

  t.test('producer: at most maxInFlight unacked, a bounded queue, flush', async (t) => {
    const acks = fakeAcks(ctl, 'orders', () => 'hold')
    t.teardown(acks.stop)
    await ctl.flush()
    const producer = client.producer('orders', { maxInFlight: 3, queueMax: 2, ack: 'write', headers: { App: 'shop' } })
    const sends = Array.from({ length: 5 }, (_, i) => producer.send(`o${i}`, { topic: `eu.${i}`, id: `order-${i}`, headers: { N: String(i) } }))
    await until('three publishes reach the responder', () => acks.seen.length === 3)
    t.equal(producer.inFlight, 3)
    t.equal(producer.queued, 2)
    const overflow = await producer.send('o5').catch((error: unknown) => error)
    t.ok(overflow instanceof OutboundBufferFullError, 'a send past queueMax is refused at once')
    t.match((overflow as Error).message, /producer queue of orders is full \(2 publishes\)/)
    await new Promise((resolve) => setTimeout(resolve, 200))
    t.equal(acks.seen.length, 3, 'no fourth publish before an ack')
    let flushed = false
    const flushing = producer.flush().then(() => (flushed = true))
    acks.releaseAll()
    await until('the queued two are sent', () => acks.seen.length === 5)
    t.equal(flushed, false, 'flush waits for the queued sends')
    acks.releaseAll()
    const results = await Promise.all(sends)
    await flushing
    t.equal(results.length, 5)
    t.same(acks.seen.map((m) => m.subject), ['orders.eu.0', 'orders.eu.1', 'orders.eu.2', 'orders.eu.3', 'orders.eu.4'], 'in send order, on <stream>.<topic>')
    t.same(acks.seen.map((m) => m.header('Rg-Msg-Id')), ['order-0', 'order-1', 'order-2', 'order-3', 'order-4'])
    t.same(acks.seen[0]?.headerValues('App'), ['shop'], 'common headers')
    t.same(acks.seen[4]?.headerValues('N'), ['4'], 'own headers')
    t.equal(producer.inFlight, 0)
    t.throws(() => client.producer('orders', { maxInFlight: 0 }), { code: 'RG_ERR_INVALID_ARGUMENT' })
    t.throws(() => client.producer('a.b'), { code: 'RG_ERR_INVALID_ARGUMENT' })
  })

  t.test('producer against a real persistent stream: every send acked once, a repeated id is a duplicate', async (t) => {
    await client.streams.ensure({ name: 'invoices', kind: 'persistent', ackDefault: 'write' })
    // The stream opens on the node a moment after it is created: retries cover that (no responders).
    const producer = client.producer('invoices', { maxInFlight: 8, retries: 20, retryBackoffMs: 50, retryBackoffMsMax: 500, timeoutMs: 5_000 })
    const acks = await Promise.all(Array.from({ length: 20 }, (_, i) => producer.send(`invoice ${i}`, { id: `inv-${i}` })))
    t.ok(acks.every((ack) => ack.stream === 'default/invoices' && ack.level === 'write'))
    t.equal(new Set(acks.map((ack) => ack.position)).size, 20, '20 distinct events')
    const again = await producer.send('invoice 3', { id: 'inv-3' })
    t.equal(again.duplicate, true, 'the same id again is acked as a duplicate')
  })
})
