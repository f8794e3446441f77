// Live client tests against real servers on 127.0.0.1: nats-server (when installed) and the
// Railgun server (once `server/` provides a start helper). Each server kind runs the same suite.
import t from 'tap'
import { firstValueFrom, lastValueFrom, take, timeout, toArray } from 'rxjs'
import {
  clientErrorCodes,
  ConnectionClosedError,
  InvalidSubjectError,
  NoRespondersError,
  RequestTimeoutError,
  ResponderError,
  type Message,
  type Status,
} from '../../client/index.js'
import { connect as natsConnect } from '@nats-io/transport-node'
import { nextStatus, openClient, sleep, WireCounter } from './helpers/live.js'
import { serverKinds } from './helpers/processes.js'

const collect = (source: Parameters<typeof lastValueFrom<Message[]>>[0]): Promise<Message[]> =>
  lastValueFrom(source.pipe(timeout(5_000)))

for (const kind of serverKinds()) {
  t.test(`client against ${kind.label}`, { timeout: 90_000 }, async (t) => {
    if (kind.unavailableReason !== undefined) {
      t.comment(`skipping ${kind.label}: ${kind.unavailableReason}`)
      t.pass(`skipped: ${kind.unavailableReason}`)
      return
    }
    const server = await kind.start()
    t.teardown(() => server.dispose())

    t.test('publish/subscribe with string, bytes and JSON payloads', async (t) => {
      const client = await openClient(t, server.url)
      const received = collect(client.subscribe('greet').pipe(take(3), toArray()))
      await client.flush()
      client.publish('greet', 'hello')
      client.publish('greet', new Uint8Array([1, 2, 3]))
      client.publish('greet', JSON.stringify({ n: 1 }))
      const [a, b, c] = await received
      t.equal(a?.string(), 'hello')
      t.same([...(b?.data ?? [])], [1, 2, 3])
      t.same(c?.json(), { n: 1 })
      t.equal(a?.subject, 'greet')
    })

    t.test('wildcards: * matches one token, > the rest', async (t) => {
      const client = await openClient(t, server.url)
      const star = collect(client.subscribe('orders.*').pipe(take(2), toArray()))
      const tail = collect(client.subscribe('orders.>').pipe(take(3), toArray()))
      await client.flush()
      for (const subject of ['orders.new', 'orders.eu.new', 'orders.old']) client.publish(subject, subject)
      t.same((await star).map((m) => m.subject), ['orders.new', 'orders.old'])
      t.same((await tail).map((m) => m.subject), ['orders.new', 'orders.eu.new', 'orders.old'])
    })

    t.test('queue group: each message reaches exactly one member', async (t) => {
      const client = await openClient(t, server.url)
      const seen: string[][] = [[], []]
      const subs = [0, 1].map((i) =>
        client.subscribe('work', { group: 'workers' }).subscribe((m) => seen[i]?.push(m.string())),
      )
      t.teardown(() => subs.forEach((s) => s.unsubscribe()))
      await client.flush()
      const total = 200
      for (let i = 0; i < total; i++) client.publish('work', String(i))
      await client.flush()
      await sleep(100)
      const all = [...(seen[0] ?? []), ...(seen[1] ?? [])].map(Number).sort((x, y) => x - y)
      t.same(all, Array.from({ length: total }, (_, i) => i), 'every message once across the group')
    })

    t.test('noEcho: a connection does not receive its own publishes', async (t) => {
      const quiet = await openClient(t, server.url, { noEcho: true })
      const other = await openClient(t, server.url)
      const received: string[] = []
      quiet.subscribe('echo.test').subscribe((m) => received.push(m.string()))
      await quiet.flush()
      quiet.publish('echo.test', 'own')
      other.publish('echo.test', 'other')
      await Promise.all([quiet.flush(), other.flush()])
      await sleep(50)
      t.same(received, ['other'])
    })

    t.test('headers round trip, repeated keys kept', async (t) => {
      const client = await openClient(t, server.url)
      const received = firstValueFrom(client.subscribe('h').pipe(timeout(5_000)))
      await client.flush()
      client.publish('h', 'body', { headers: { 'X-One': '1', 'X-Many': ['a', 'b'] } })
      const message = await received
      t.equal(message.header('x-one'), '1')
      t.same(message.headerValues('X-Many'), ['a', 'b'])
      t.equal(message.string(), 'body')
    })

    t.test('interop with the official NATS client (@nats-io/transport-node)', async (t) => {
      const client = await openClient(t, server.url)
      const official = await natsConnect({ servers: server.url })
      t.teardown(() => official.close())
      // Official requester → our responder.
      const responder = client.respond('interop.ours', (m) => `ours:${m.string()}`)
      t.teardown(() => responder.unsubscribe())
      // Our requester → official responder, with headers both ways.
      official.subscribe('interop.theirs', {
        callback: (_error, m) => {
          m.respond(`theirs:${m.string()}:${m.headers?.get('X-A') ?? ''}`)
        },
      })
      await Promise.all([client.flush(), official.flush()])
      t.equal((await official.request('interop.ours', 'q', { timeout: 5_000 })).string(), 'ours:q')
      t.equal((await client.requestPromise('interop.theirs', 'q', { headers: { 'X-A': 'b' } })).string(), 'theirs:q:b')
    })

    t.test('request/reply: respond answers, Rg-Timeout-Ms is sent', async (t) => {
      const client = await openClient(t, server.url)
      const responder = client.respond('math.double', (m) => String(Number(m.string()) * 2))
      t.teardown(() => responder.unsubscribe())
      const echo = client.respond('echo.header', (m) => m.header('Rg-Timeout-Ms') ?? 'missing')
      t.teardown(() => echo.unsubscribe())
      await client.flush()
      t.equal((await client.requestPromise('math.double', '21')).string(), '42')
      const viaObservable = await lastValueFrom(client.request('math.double', '5'))
      t.equal(viaObservable.string(), '10')
      t.equal((await client.requestPromise('echo.header', '', { timeoutMs: 1234 })).string(), '1234')
      const async = client.respond('slow.async', async (m) => {
        await sleep(5)
        return `later ${m.string()}`
      })
      t.teardown(() => async.unsubscribe())
      await client.flush()
      t.equal((await client.requestPromise('slow.async', 'x')).string(), 'later x')
    })

    t.test('handler failure replies 500 → ResponderError with the code header', async (t) => {
      const client = await openClient(t, server.url)
      const responder = client.respond('fails', () => {
        throw Object.assign(new Error('boom'), { code: 'E_BOOM' })
      })
      t.teardown(() => responder.unsubscribe())
      await client.flush()
      const error = await client.requestPromise('fails', 'x').catch((e: unknown) => e)
      t.ok(error instanceof ResponderError, 'ResponderError')
      t.equal((error as ResponderError).status, 500)
      t.match((error as Error).message, /boom/)
    })

    t.test('no responders → NoRespondersError at once', async (t) => {
      const client = await openClient(t, server.url)
      const started = Date.now()
      const error = await client.requestPromise('nobody.home', 'x', { timeoutMs: 5_000 }).catch((e: unknown) => e)
      t.ok(error instanceof NoRespondersError, 'NoRespondersError')
      t.equal((error as NoRespondersError).code, clientErrorCodes.noResponders)
      t.ok(Date.now() - started < 2_000, 'well before the timeout')
    })

    t.test('a silent responder → RequestTimeoutError after timeoutMs', async (t) => {
      const client = await openClient(t, server.url)
      const silent = client.subscribe('silent').subscribe()
      t.teardown(() => silent.unsubscribe())
      await client.flush()
      const started = Date.now()
      const error = await client.requestPromise('silent', 'x', { timeoutMs: 300 }).catch((e: unknown) => e)
      const elapsedMs = Date.now() - started
      t.ok(error instanceof RequestTimeoutError, 'RequestTimeoutError')
      t.ok(elapsedMs >= 250 && elapsedMs < 3_000, `timed out after ${elapsedMs} ms`)
      // Which timer wins (the server's 408 or the client's, 25 ms later) is a race under load.
      t.comment(`timeout reported by the ${(error as RequestTimeoutError).source}`)
    })

    if (kind.label === 'railgun') {
      t.test('Railgun answers 408 itself from Rg-Timeout-Ms', async (t) => {
        const client = await openClient(t, server.url)
        const silent = client.subscribe('silent.rs').subscribe()
        t.teardown(() => silent.unsubscribe())
        const inbox = firstValueFrom(client.subscribe('my.inbox.1').pipe(timeout(5_000)))
        await client.flush()
        // A raw request (no client timer involved): only the server can produce this reply.
        client.publish('silent.rs', 'x', { replyTo: 'my.inbox.1', headers: { 'Rg-Timeout-Ms': '100' } })
        const reply = await inbox
        t.equal(reply.status, 408, 'status 408 from the server')
        t.equal(reply.data.length, 0)
      })
    }

    t.test('unsubscribing a request before the reply cancels it', async (t) => {
      const client = await openClient(t, server.url)
      const responder = client.respond('late', async () => {
        await sleep(100)
        return 'too late'
      })
      t.teardown(() => responder.unsubscribe())
      await client.flush()
      const values: string[] = []
      const subscription = client.request('late', 'x').subscribe({ next: (m) => values.push(m.string()) })
      await sleep(20)
      subscription.unsubscribe()
      await sleep(200)
      t.same(values, [], 'no value after cancel')
    })

    t.test('take(n) sends UNSUB: the server stops delivering', async (t) => {
      const wire = new WireCounter()
      const client = await openClient(t, server.url, { dialer: wire.dialer })
      const firstTwo = collect(client.subscribe('counted').pipe(take(2), toArray()))
      await client.flush()
      for (let i = 0; i < 5; i++) client.publish('counted', String(i))
      t.same((await firstTwo).map((m) => m.string()), ['0', '1'])
      await client.flush()
      const deliveredBefore = wire.count('counted')
      for (let i = 0; i < 5; i++) client.publish('counted', String(i))
      await client.flush()
      await sleep(50)
      t.equal(wire.count('counted'), deliveredBefore, 'no MSG after the UNSUB reached the server')
      t.ok(deliveredBefore <= 5, 'at most the first burst was delivered')
    })

    t.test('max: UNSUB sid max makes the server stop after max', async (t) => {
      const wire = new WireCounter()
      const client = await openClient(t, server.url, { dialer: wire.dialer })
      const three = collect(client.subscribe('maxed', { max: 3 }).pipe(toArray()))
      await client.flush()
      for (let i = 0; i < 10; i++) client.publish('maxed', String(i))
      t.same((await three).map((m) => m.string()), ['0', '1', '2'], 'completes after 3')
      await client.flush()
      t.equal(wire.count('maxed'), 3, 'the server itself stopped at 3')
    })

    t.test('server -ERR for a subscription reaches error()', async (t) => {
      const client = await openClient(t, server.url)
      const error = await firstValueFrom(client.subscribe('bad..subject').pipe(timeout(5_000))).catch((e: unknown) => e)
      t.ok(error instanceof InvalidSubjectError, `InvalidSubjectError (${String(error)})`)
      t.equal((error as InvalidSubjectError).subject, 'bad..subject')
      // The connection survives and other subscriptions still work.
      const ok = firstValueFrom(client.subscribe('still.fine').pipe(timeout(5_000)))
      await client.flush()
      client.publish('still.fine', 'yes')
      t.equal((await ok).string(), 'yes')
    })

    t.test('drain completes subscriptions; close rejects further work', async (t) => {
      const client = await openClient(t, server.url)
      const all = collect(client.subscribe('drained').pipe(toArray()))
      await client.flush()
      client.publish('drained', 'one')
      await client.flush()
      await client.drain()
      t.same((await all).map((m) => m.string()), ['one'])
      t.throws(() => client.publish('x', 'y'), ConnectionClosedError)
      await t.rejects(client.flush(), ConnectionClosedError)
    })

    t.test('drain lets respond handlers answer what they already received', async (t) => {
      const service = await openClient(t, server.url)
      const caller = await openClient(t, server.url)
      let started: () => void = () => undefined
      const handlerStarted = new Promise<void>((resolve) => (started = resolve))
      service.respond('slow.drain', async (m) => {
        started()
        await sleep(200)
        return `done ${m.string()}`
      })
      await service.flush()
      const reply = caller.requestPromise('slow.drain', 'x', { timeoutMs: 5_000 })
      await handlerStarted
      await service.drain()
      t.equal((await reply).string(), 'done x', 'the reply went out before the close')
      t.ok(service.isClosed)
    })

    t.test('reconnect: kill and restart on the same port', { timeout: 60_000 }, async (t) => {
      const own = await kind.start()
      t.teardown(() => own.dispose())
      const client = await openClient(t, own.url, { reconnect: { delayMsMin: 50, delayMsMax: 250, attemptsMax: 400 } })
      const statuses: Status['type'][] = []
      client.status$.subscribe((s) => statuses.push(s.type))
      const messages: string[] = []
      client.subscribe('survives').subscribe((m) => messages.push(m.string()))
      const limited = collect(client.subscribe('limited', { max: 3 }).pipe(toArray()))
      await client.flush()
      client.publish('survives', 'before')
      client.publish('limited', 'L1')
      await client.flush()

      const disconnected = nextStatus(client.status$, 'disconnected')
      await own.stop(true)
      await disconnected
      client.publish('survives', 'buffered while down')
      const reconnected = nextStatus(client.status$, 'reconnected', 50_000)
      await own.restart()
      await reconnected
      client.publish('survives', 'after')
      for (let i = 2; i <= 6; i++) client.publish('limited', `L${i}`)
      await client.flush()
      await sleep(50)
      t.same(messages, ['before', 'buffered while down', 'after'], 'same subscription keeps receiving')
      t.same((await limited).map((m) => m.string()), ['L1', 'L2', 'L3'], 'remaining max re-sent')
      const tail = statuses.slice(statuses.indexOf('disconnected'))
      t.equal(tail[0], 'disconnected')
      t.equal(tail[1], 'reconnecting')
      t.equal(tail[tail.length - 1], 'reconnected', `sequence: ${tail.join(' → ')}`)
    })
  })
}
