// Router in-process subscribers (what the control API rides on): a local subscriber receives
// client publishes on matching subjects (copies of the bytes), counts as a responder (no 503),
// its publishLocal reply ends the requester's response stream (no 408 later), it reaches client
// subscriptions, and unsubscribing stops delivery.
import t from 'tap'
import { connect, headers as natsHeaders } from '@nats-io/transport-node'
import { startClientListener } from '../../server/client-listener.js'
import { Router } from '../../server/router.js'
import type { LocalMessage } from '../../server/router.js'
import { systemClock } from '../../shared/clock.js'
import { configWith } from '../../shared/config/index.js'
import { createSilentLogger } from '../../shared/log.js'
import { waitFor } from './helpers.js'

t.test('in-process subscribers on the router', async (t) => {
  const logger = createSilentLogger()
  const router = new Router(configWith({}), systemClock, logger)
  const listener = await startClientListener({ router, host: '127.0.0.1', port: 0, serverId: 's', serverName: 's', logger, isReady: () => true, notReadyHoldMs: 0 })
  const nc = await connect({ servers: `nats://127.0.0.1:${listener.port}` })
  t.teardown(async () => {
    await nc.close()
    listener.stopAccepting()
    for (const connection of [...router.connections]) connection.close()
    for (const socket of listener.sockets) socket.destroy()
    router.stop()
  })

  const received: LocalMessage[] = []
  const unsubscribe = router.subscribeLocal('svc.>', (message) => {
    received.push(message)
    if (message.replyTo !== undefined) {
      const replyTo = message.replyTo
      setTimeout(() => router.publishLocal(replyTo, undefined, undefined, new TextEncoder().encode(`re:${new TextDecoder().decode(message.payload)}`)), 10)
    }
  })
  const requestHeaders = natsHeaders()
  requestHeaders.set('Rg-Timeout-Ms', '100')
  const reply = await nc.request('svc.echo', 'hi', { timeout: 2_000, headers: requestHeaders })
  t.equal(reply.string(), 're:hi', 'answered by the local subscriber')
  t.equal(received[0]?.subject, 'svc.echo')
  t.ok(received[0]?.headerBlock !== undefined, 'the header block is passed on')
  t.equal(router.responses.size, 0, 'the local reply ended the response stream')
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(router.responses.size, 0, 'no 408 pending')

  // publishLocal reaches client subscriptions.
  const events: string[] = []
  const subscription = nc.subscribe('evt.*', {
    callback: (_error, message) => {
      events.push(`${message.subject}:${message.string()}`)
    },
  })
  await nc.flush()
  t.equal(router.publishLocal('evt.one', undefined, undefined, new TextEncoder().encode('1')), 1, 'one client subscription')
  await waitFor('the client got the event', () => events.length === 1)
  t.same(events, ['evt.one:1'])
  subscription.unsubscribe()

  // Wildcard patterns: `#` matches zero or more tokens, `*` one, `>` one or more.
  const matched: string[] = []
  const stops = ['w.#', 'x.*.y', 'z.>'].map((pattern) => router.subscribeLocal(pattern, (message) => matched.push(`${pattern}:${message.subject}`)))
  for (const subject of ['w', 'w.a.b', 'wa', 'x.1.y', 'x.y', 'z', 'z.q']) router.publishLocal(subject, undefined, undefined, new Uint8Array(0))
  t.same(matched, ['w.#:w', 'w.#:w.a.b', 'x.*.y:x.1.y', 'z.>:z.q'])
  for (const stop of stops) stop()

  unsubscribe()
  await t.rejects(nc.request('svc.echo', 'again', { timeout: 2_000 }), /no responders|503/i, 'after unsubscribing nobody answers')
  t.equal(received.length, 1)
})
