// The client over an in-memory transport, in virtual time (rxjs TestScheduler): cold subscribe
// and teardown on the wire, request timeouts and status replies, status$ across a disconnect.
import t from 'tap'
import { catchError, map, of, take, type Observable } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import type { RailgunClient } from '../../client/client.js'
import type { Message } from '../../client/message.js'
import type { Status } from '../../client/status.js'
import type { ProtocolOp } from '../../shared/protocol/types.js'
import { MockServer, mockClient, type MockTransport } from './helpers/mock-server.js'

function newScheduler(t: { same(actual: unknown, expected: unknown): unknown }): TestScheduler {
  return new TestScheduler((actual, expected) => {
    t.same(actual, expected)
  })
}

function codeOrText(source: Observable<Message>): Observable<string> {
  return source.pipe(
    map((m) => m.string()),
    catchError((error: unknown) => of(String((error as { code?: string }).code ?? error))),
  )
}

function inboxSid(transport: MockTransport): string {
  const sub = transport.sent.find((op): op is Extract<ProtocolOp, { op: 'SUB' }> => op.op === 'SUB' && op.subject.startsWith('_INBOX.'))
  if (sub === undefined) throw new Error('no inbox SUB')
  return sub.sid
}

function lastReplyTo(transport: MockTransport): string {
  const pubs = transport.sent.filter((op) => op.op === 'HPUB' || op.op === 'PUB')
  const last = pubs[pubs.length - 1]
  if (last === undefined || (last.op !== 'HPUB' && last.op !== 'PUB') || last.replyTo === undefined) throw new Error('no request sent')
  return last.replyTo
}

/** Closes the client at `atMs` so keep-alive intervals do not run virtual time forever. */
function closeAt(scheduler: TestScheduler, client: RailgunClient, atMs: number): void {
  scheduler.schedule(() => void client.close(), atMs)
}

t.test('subscribe is cold: SUB on subscribe, UNSUB once on unsubscribe', async (t) => {
  const scheduler = newScheduler(t)
  const server = new MockServer()
  scheduler.run(() => {
    const client = mockClient(server)
    const source = client.subscribe('orders.*', { group: 'g' })
    scheduler.schedule(() => t.same(server.current.wire(), [], 'nothing sent before subscribing'), 5)
    let subscription: { unsubscribe(): void } | undefined
    scheduler.schedule(() => (subscription = source.subscribe()), 10)
    scheduler.schedule(() => t.same(server.current.wire(), ['SUB orders.* g 1']), 11)
    scheduler.schedule(() => {
      subscription?.unsubscribe()
      subscription?.unsubscribe()
    }, 20)
    scheduler.schedule(() => t.same(server.current.wire(), ['SUB orders.* g 1', 'UNSUB 1'], 'one UNSUB'), 21)
    closeAt(scheduler, client, 50)
  })
})

t.test('take(n) tears down with UNSUB; the (n+1)th message is not delivered', async (t) => {
  const scheduler = newScheduler(t)
  const server = new MockServer()
  scheduler.run(({ expectObservable }) => {
    const client = mockClient(server)
    scheduler.schedule(() => {
      server.current.msg('1', 'a', 'one')
      server.current.msg('1', 'a', 'two')
      server.current.msg('1', 'a', 'three')
    }, 20)
    expectObservable(codeOrText(client.subscribe('a').pipe(take(2))), '10ms ^').toBe('20ms (xy|)', { x: 'one', y: 'two' })
    scheduler.schedule(() => t.same(server.current.wire(), ['SUB a 1', 'UNSUB 1']), 30)
    closeAt(scheduler, client, 50)
  })
})

t.test('max sends UNSUB sid max and completes without a second UNSUB', async (t) => {
  const scheduler = newScheduler(t)
  const server = new MockServer()
  scheduler.run(({ expectObservable }) => {
    const client = mockClient(server)
    scheduler.schedule(() => ['1', '2', '3'].forEach((d) => server.current.msg('1', 'm', d)), 20)
    expectObservable(codeOrText(client.subscribe('m', { max: 3 })), '10ms ^').toBe('20ms (xyz|)', { x: '1', y: '2', z: '3' })
    scheduler.schedule(() => t.same(server.current.wire(), ['SUB m 1', 'UNSUB 1 3']), 30)
    closeAt(scheduler, client, 50)
  })
})

t.test('server -ERR for a subscription reaches only that subscription', async (t) => {
  const scheduler = newScheduler(t)
  const server = new MockServer()
  scheduler.run(({ expectObservable }) => {
    const client = mockClient(server)
    // As a real server does: the -ERR for a SUB comes before the PONG of the PING behind it.
    scheduler.schedule(() => (server.answerPings = false), 5)
    scheduler.schedule(() => server.current.deliver({ op: 'ERR', message: 'Permissions Violation for Subscription to "secret"' }), 15)
    scheduler.schedule(() => server.current.deliver({ op: 'ERR', message: 'Invalid Subject' }, { op: 'PONG' }, { op: 'PONG' }, { op: 'PONG' }), 16)
    scheduler.schedule(() => server.current.msg('1', 'fine', 'still here'), 20)
    expectObservable(codeOrText(client.subscribe('fine')), '10ms ^ 20ms !').toBe('20ms x', { x: 'still here' })
    expectObservable(codeOrText(client.subscribe('secret')), '10ms ^').toBe('15ms (e|)', { e: 'RG_ERR_PERMISSION' })
    expectObservable(codeOrText(client.subscribe('bad..one')), '10ms ^').toBe('16ms (e|)', { e: 'RG_ERR_INVALID_SUBJECT' })
    scheduler.schedule(() => t.same(server.current.wire(), ['SUB fine 1', 'SUB secret 2', 'SUB bad..one 3', 'UNSUB 1'], 'no UNSUB for refused subs'), 40)
    closeAt(scheduler, client, 50)
  })
})

t.test('request: client-side timeout, 503, 408, 429, 409, 500, reply, cancel', async (t) => {
  const scheduler = newScheduler(t)
  const server = new MockServer()
  scheduler.run(({ expectObservable }) => {
    const client = mockClient(server)
    const status = (code: number) => ({ entries: [], status: code })
    // Client timer: timeoutMs + clientTimeoutGraceMs (25) after subscribing at 10.
    expectObservable(codeOrText(client.request('svc', 'x', { timeoutMs: 50 })), '10ms ^').toBe('85ms (e|)', { e: 'RG_ERR_REQUEST_TIMEOUT' })
    scheduler.schedule(() => {
      server.current.msg(inboxSid(server.current), lastReplyTo(server.current), '', undefined, status(503))
    }, 101)
    expectObservable(codeOrText(client.request('none', 'x')), '100ms ^').toBe('101ms (e|)', { e: 'RG_ERR_NO_RESPONDERS' })
    scheduler.schedule(() => {
      server.current.msg(inboxSid(server.current), lastReplyTo(server.current), '', undefined, status(408))
    }, 201)
    expectObservable(codeOrText(client.request('slow', 'x')), '200ms ^').toBe('201ms (e|)', { e: 'RG_ERR_REQUEST_TIMEOUT' })
    scheduler.schedule(() => {
      server.current.msg(inboxSid(server.current), lastReplyTo(server.current), '', undefined, status(429))
    }, 251)
    expectObservable(codeOrText(client.request('busy', 'x')), '250ms ^').toBe('251ms (e|)', { e: 'RG_ERR_RESPONSE_STREAMS_EXCEEDED' })
    scheduler.schedule(() => {
      server.current.msg(inboxSid(server.current), lastReplyTo(server.current), '', undefined, status(409))
    }, 261)
    expectObservable(codeOrText(client.request('clash', 'x')), '260ms ^').toBe('261ms (e|)', { e: 'RG_ERR_RESPONSE_STREAM_IN_USE' })
    scheduler.schedule(() => {
      server.current.msg(inboxSid(server.current), lastReplyTo(server.current), '', undefined, status(500))
    }, 271)
    expectObservable(codeOrText(client.request('broken', 'x')), '270ms ^').toBe('271ms (e|)', { e: 'RG_ERR_RESPONDER' })
    scheduler.schedule(() => server.current.msg(inboxSid(server.current), lastReplyTo(server.current), 'pong'), 305)
    expectObservable(codeOrText(client.request('ok', 'ping')), '300ms ^').toBe('305ms (p|)', { p: 'pong' })
    // Cancelled at 402; the reply at 405 is dropped and no timeout fires later.
    scheduler.schedule(() => server.current.msg(inboxSid(server.current), lastReplyTo(server.current), 'late'), 405)
    expectObservable(codeOrText(client.request('cancel', 'x', { timeoutMs: 20 })), '400ms ^ 1ms !').toBe('')
    scheduler.schedule(() => {
      const requests = server.current.sent.filter((op) => op.op === 'HPUB')
      t.equal(requests.length, 8, 'every request is an HPUB')
      const first = requests[0]
      t.same(first?.op === 'HPUB' ? first.headers.entries : [], [['Rg-Timeout-Ms', '50']], 'Rg-Timeout-Ms sent')
      t.equal(server.current.sent.filter((op) => op.op === 'SUB').length, 1, 'one muxed inbox subscription')
    }, 450)
    closeAt(scheduler, client, 500)
  })
})

t.test('respond: a failing handler replies status 500 with the error code header', async (t) => {
  const scheduler = newScheduler(t)
  const server = new MockServer()
  scheduler.run(() => {
    const client = mockClient(server)
    scheduler.schedule(() => {
      client.respond('svc', (m) => {
        if (m.string() === 'bad') throw Object.assign(new Error('nope\r\nnope'), { code: 'E_NOPE' })
        return `ok ${m.string()}`
      })
    }, 10)
    scheduler.schedule(() => {
      server.current.msg('1', 'svc', 'good', 'reply.1')
      server.current.msg('1', 'svc', 'bad', 'reply.2')
    }, 20)
    scheduler.schedule(() => {
      const replies = server.current.sent.filter((op) => (op.op === 'PUB' || op.op === 'HPUB') && op.subject.startsWith('reply.'))
      t.equal(replies.length, 2)
      const [good, bad] = replies
      t.equal(good?.op === 'PUB' ? new TextDecoder().decode(good.payload) : '', 'ok good')
      t.same(bad?.op === 'HPUB' ? bad.headers : undefined, { status: 500, description: 'nope nope', entries: [['Rg-Error-Code', 'E_NOPE']] })
    }, 30)
    closeAt(scheduler, client, 50)
  })
})

t.test('status$ across a disconnect: backoff, resubscribe, buffered publish', async (t) => {
  const scheduler = newScheduler(t)
  const server = new MockServer()
  scheduler.run(({ expectObservable }) => {
    const client = mockClient(server, { reconnect: { delayMsMin: 10, delayMsMax: 100, attemptsMax: 5 } })
    const render = (s: Status): string =>
      s.type === 'reconnecting' ? `r${s.attempt}:${s.delayMs}` : s.type === 'disconnected' ? `d:${s.error?.message ?? ''}` : s.type
    // connected@0; drop@10 → disconnected, reconnecting#1 (10 ms); dial refused@20 → #2 (10 ms);
    // reconnected@30; close@100.
    expectObservable(client.status$.pipe(map(render))).toBe('c 9ms (dr) 6ms s 9ms R 69ms (x|)', {
      c: 'connected',
      d: 'd:connection reset by mock',
      r: 'r1:10',
      s: 'r2:10',
      R: 'reconnected',
      x: 'closed',
    })
    let received = 0
    scheduler.schedule(() => client.subscribe('keep', { max: 3 }).subscribe(() => received++), 1)
    scheduler.schedule(() => server.current.msg('1', 'keep', 'one'), 2)
    scheduler.schedule(() => {
      server.refuseDials = 1
      server.current.drop()
      client.publish('keep', 'while down')
    }, 10)
    scheduler.schedule(() => {
      t.equal(server.transports.length, 2, 'one refused dial, then a new transport')
      t.same(server.current.wire(), ['SUB keep 1', 'UNSUB 1 2', 'PUB keep while down'], 'resubscribed with remaining max, then the buffered publish')
      t.equal(received, 1)
    }, 31)
    closeAt(scheduler, client, 100)
  })
})

t.test('stale connection: unanswered keep-alive PINGs close it', async (t) => {
  const scheduler = newScheduler(t)
  const server = new MockServer()
  scheduler.run(({ expectObservable }) => {
    const client = mockClient(server, { pingIntervalMs: 100, maxPingsOutstanding: 2, reconnect: { enabled: false } })
    scheduler.schedule(() => (server.answerPings = false), 1)
    const render = (s: Status): string => `${s.type}:${'error' in s ? ((s.error as { code?: string } | undefined)?.code ?? '') : ''}`
    // PINGs at 100 and 200 go unanswered; at 300 the client gives up.
    expectObservable(client.status$.pipe(map(render))).toBe('a 299ms (bc|)', {
      a: 'connected:',
      b: 'disconnected:RG_ERR_STALE_CONNECTION',
      c: 'closed:RG_ERR_STALE_CONNECTION',
    })
  })
})

t.test('flush waits for PONG; flush while disconnected waits for the reconnect', async (t) => {
  const scheduler = newScheduler(t)
  const server = new MockServer()
  const resolvedAt: number[] = []
  scheduler.run(() => {
    const client = mockClient(server, { reconnect: { delayMsMin: 10, delayMsMax: 10, attemptsMax: 3 } })
    scheduler.schedule(() => void client.flush().then(() => resolvedAt.push(1)), 5)
    scheduler.schedule(() => {
      server.current.drop()
      void client.flush().then(() => resolvedAt.push(2))
    }, 20)
    closeAt(scheduler, client, 100)
  })
  await new Promise((resolve) => setImmediate(resolve))
  t.same(resolvedAt.sort(), [1, 2], 'both flushes resolved')
})

t.test('drain (real timers, mock transport): UNSUB everything, complete subscriptions, then closed', async (t) => {
  const server = new MockServer()
  const client = mockClient(server)
  t.teardown(() => client.close())
  await client.flush()
  const events: string[] = []
  client.subscribe('a').subscribe({ complete: () => events.push('a complete') })
  client.subscribe('b').subscribe({ complete: () => events.push('b complete') })
  await client.drain()
  events.push('drained')
  t.same(events, ['a complete', 'b complete', 'drained'])
  t.same(server.current.wire(), ['SUB a 1', 'SUB b 2', 'UNSUB 1', 'UNSUB 2'])
  t.ok(client.isClosed, 'closed after drain')
})

t.test('drain while disconnected closes at once instead of waiting for a reconnect', async (t) => {
  const server = new MockServer()
  const client = mockClient(server, { reconnect: { delayMsMin: 60_000, delayMsMax: 60_000, attemptsMax: 5 } })
  t.teardown(() => client.close())
  await client.flush()
  const completed: string[] = []
  client.subscribe('a').subscribe({ complete: () => completed.push('a') })
  server.current.drop()
  const started = Date.now()
  await client.drain()
  t.ok(Date.now() - started < 1_000, 'did not wait for the 60 s backoff')
  t.ok(client.isClosed)
  t.same(completed, ['a'], 'subscriptions complete')
})

t.test('reconnect gives up after attemptsMax: closed with RG_ERR_CONNECT, subscriptions error', async (t) => {
  const scheduler = newScheduler(t)
  const server = new MockServer()
  scheduler.run(({ expectObservable }) => {
    const client = mockClient(server, { reconnect: { delayMsMin: 10, delayMsMax: 10, attemptsMax: 2 } })
    const render = (s: Status): string => `${s.type}${s.type === 'closed' ? `:${(s.error as { code?: string } | undefined)?.code}` : ''}`
    // drop@5; attempt 1 at 15 refused; attempt 2 at 25 refused → closed at 25.
    expectObservable(client.status$.pipe(map(render))).toBe('a 4ms (bc) 6ms d 9ms (e|)', {
      a: 'connected',
      b: 'disconnected',
      c: 'reconnecting',
      d: 'reconnecting',
      e: 'closed:RG_ERR_CONNECT',
    })
    expectObservable(codeOrText(client.subscribe('a')), '1ms ^').toBe('25ms (e|)', { e: 'RG_ERR_CONNECTION_CLOSED' })
    scheduler.schedule(() => {
      server.refuseDials = 10
      server.current.drop()
    }, 5)
  })
})
