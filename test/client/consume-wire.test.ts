// client.consume / client.fetch / client.ackAll against a real Railgun node where THE TEST plays
// the group controller with a raw subscription on `$RG.C.default.orders.workers.>`, following
// the wire contract (shared/api/consumer-wire.ts, docs/api.md § Consuming). It checks what the
// client puts on the wire and how it reacts: JOIN fields, the window (no prefetch beyond what
// the controller pushed), the delivered message's fields, each ack body (ack, nack <delay>,
// progress, term <reason>, fire-and-forget ack), confirmed acks and their failures, re-JOIN on
// RG_ERR_NOT_FOUND and after a reconnect, LEAVE + UNSUB on unsubscribe, JOIN retried while no
// controller answers, exclusive activation, FETCH batches and one ACKS request for ackAll.
import t from 'tap'
import { lastValueFrom, type Subscription } from 'rxjs'
import { ApiError, connect, InvalidArgumentError, NoRespondersError, ProtocolError } from '../../client/index.js'
import type { MembershipEvent, RailgunClient, StreamMessage } from '../../client/index.js'
import type { Message } from '../../client/message.js'
import { ackSubject, consumerGroupWildcard, parseConsumerSubject } from '../../shared/api/consumer-wire.js'
import type { AcksRequest, FetchRequest, GroupAddress, JoinRequest } from '../../shared/api/consumer-wire.js'
import { railgunKind } from './helpers/processes.js'

const address: GroupAddress = { namespace: 'default', stream: 'orders', group: 'workers' }
const liveTimeoutMs = 20_000

async function until(what: string, predicate: () => boolean, timeoutMs = liveTimeoutMs): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

interface FakeEvent {
  readonly index: number
  readonly data: string
}

interface AckSeen {
  readonly index: number
  readonly deliveries: number
  readonly body: string
  readonly confirmed: boolean
}

type Answer = 'ok' | 'not-found' | 'garbage'

/** A group controller in the test: answers the verbs, pushes events within each member's window. */
class FakeController {
  readonly joins: JoinRequest[] = []
  readonly heartbeats: string[] = []
  readonly leaves: string[] = []
  readonly acks: AckSeen[] = []
  readonly ackBatches: AcksRequest[] = []
  readonly fetches: FetchRequest[] = []
  /** Events not delivered yet, in order. */
  readonly queue: FakeEvent[] = []
  readonly members = new Map<string, { deliver: string; window: number; outstanding: Set<number> }>()
  mode: 'load-balanced' | 'exclusive' = 'load-balanced'
  joinAnswer: Answer = 'ok'
  heartbeatAnswer: (count: number) => Answer = () => 'ok'
  ackAnswer: Answer = 'ok'
  private subscription: Subscription | undefined

  constructor(
    private readonly ctl: RailgunClient,
    private readonly groupWindow = 1_000,
  ) {}

  async start(): Promise<void> {
    this.subscription = this.ctl.subscribe(consumerGroupWildcard(address)).subscribe((message) => this.handle(message))
    await this.ctl.flush()
  }

  stop(): void {
    this.subscription?.unsubscribe()
  }

  /** Publishes one delivery of `event` to `deliver` (deliveries = 1 unless given). */
  deliver(deliver: string, event: FakeEvent, deliveries = 1): void {
    this.ctl.publish(deliver, event.data, {
      replyTo: ackSubject(address, event.index, deliveries),
      headers: [
        ['Rg-Stream', 'default/orders'],
        ['Rg-Group', 'workers'],
        ['Rg-Index', String(event.index)],
        ['Rg-Deliveries', String(deliveries)],
        ['Rg-Msg-Id', `order-${event.index}`],
        ['Rg-Subject', `orders.eu.${event.index}`],
        ['Rg-Time', String(1_700_000_000_000 + event.index)],
        ['Rg-Term', '7'],
        ['Trace', `t${event.index}`],
      ],
    })
  }

  /** Pushes queued events to members with room in their window. */
  pump(): void {
    for (const member of this.members.values()) {
      while (member.outstanding.size < member.window) {
        const event = this.queue.shift()
        if (event === undefined) return
        member.outstanding.add(event.index)
        this.deliver(member.deliver, event)
      }
    }
  }

  private reply(message: Message, body: unknown): void {
    message.respond(typeof body === 'string' ? body : JSON.stringify(body))
  }

  private notFound(message: Message, what: string): void {
    this.reply(message, { ok: false, error: { code: 'RG_ERR_NOT_FOUND', message: `${what} not found` } })
  }

  private handle(message: Message): void {
    const parsed = parseConsumerSubject(message.subject)
    if (parsed === undefined) return
    switch (parsed.verb) {
      case 'JOIN': {
        const join = message.json<JoinRequest>()
        this.joins.push(join)
        if (this.joinAnswer === 'not-found') return this.notFound(message, 'group')
        if (this.joinAnswer === 'garbage') return this.reply(message, { ok: true, member: join.member })
        const window = Math.min(join.maxInFlight ?? this.groupWindow, this.groupWindow)
        const active = this.mode === 'load-balanced' || this.members.size === 0
        const known = this.members.get(join.member)
        this.members.set(join.member, { deliver: join.deliver, window, outstanding: known?.outstanding ?? new Set() })
        this.reply(message, { ok: true, member: join.member, term: 7, mode: this.mode, active, heartbeatMs: join.heartbeatMs ?? 1_000, maxInFlight: window })
        if (active) this.pump()
        return
      }
      case 'HB': {
        const { member } = message.json<{ member: string }>()
        this.heartbeats.push(member)
        if (this.heartbeatAnswer(this.heartbeats.length) === 'not-found') {
          this.members.delete(member)
          return this.notFound(message, 'member')
        }
        return this.reply(message, { ok: true, term: 7 })
      }
      case 'LEAVE': {
        const { member } = message.json<{ member: string }>()
        this.leaves.push(member)
        this.members.delete(member)
        return this.reply(message, { ok: true })
      }
      case 'ACK': {
        this.acks.push({ index: parsed.index, deliveries: parsed.deliveries, body: message.string(), confirmed: message.replyTo !== undefined })
        // `progress` keeps the message outstanding; the other kinds free its place in the window.
        if (message.string() !== 'progress') for (const member of this.members.values()) member.outstanding.delete(parsed.index)
        if (message.replyTo !== undefined) {
          if (this.ackAnswer === 'not-found') this.notFound(message, `message ${parsed.index}`)
          else if (this.ackAnswer === 'garbage') this.reply(message, 'not json')
          else this.reply(message, { ok: true })
        }
        this.pump()
        return
      }
      case 'ACKS': {
        const request = message.json<AcksRequest>()
        this.ackBatches.push(request)
        return this.reply(message, { ok: true, applied: request.acks.length })
      }
      case 'FETCH': {
        const request = message.json<FetchRequest>()
        this.fetches.push(request)
        const replyTo = message.replyTo
        if (replyTo === undefined) return
        for (const event of this.queue.splice(0, request.max)) this.deliver(replyTo, event)
        this.ctl.publish(replyTo, '', { headers: [['Rg-Status', '204']] })
        return
      }
    }
  }
}

const events = (from: number, count: number): FakeEvent[] => Array.from({ length: count }, (_, i) => ({ index: from + i, data: JSON.stringify({ n: from + i }) }))

t.test('consume with a group, the test as the controller', { timeout: 180_000 }, async (t) => {
  if (railgunKind.unavailableReason !== undefined) {
    t.pass(`skipped: ${railgunKind.unavailableReason}`)
    return
  }
  const server = await railgunKind.start()
  t.teardown(() => server.dispose())
  const ctl = await connect(server.url, { name: 'fake-controller' })
  // Quick reconnects, and enough attempts to outlast a slow server restart on a loaded machine.
  const client = await connect(server.url, { name: 'consumer', reconnect: { delayMsMin: 50, delayMsMax: 250, attemptsMax: 1_000 } })
  t.teardown(async () => {
    await client.close()
    await ctl.close()
  })

  t.test('JOIN fields, message fields, the window, every ack body', async (t) => {
    const controller = new FakeController(ctl)
    await controller.start()
    t.teardown(() => controller.stop())
    controller.queue.push(...events(0, 6))
    const received: StreamMessage[] = []
    let unackedMax = 0
    let unacked = 0
    const subscription = client.consume('orders', { group: 'workers', maxInFlight: 2, heartbeatMs: 100 }).subscribe((message) => {
      received.push(message)
      unacked += 1
      unackedMax = Math.max(unackedMax, unacked)
    })
    await until('two deliveries', () => received.length === 2)
    const join = controller.joins[0]
    t.ok(join !== undefined && /^[A-Za-z0-9]{10,}$/.test(join.member), 'JOIN carries a nuid member id')
    t.match(join?.deliver, /^_INBOX\.[A-Za-z0-9]+$/, 'JOIN names an inbox as deliver')
    t.equal(join?.maxInFlight, 2, 'JOIN asks for the window')
    t.equal(join?.heartbeatMs, 100, 'JOIN asks for the heartbeat period')

    const first = received[0] as StreamMessage
    t.same(first.json(), { n: 0 })
    t.equal(first.string(), '{"n":0}')
    t.equal(first.subject, 'orders.eu.0', 'subject: the one it was published on (Rg-Subject)')
    t.equal(first.id, 'order-0')
    t.equal(first.index, 0)
    t.equal(first.deliveries, 1)
    t.equal(first.time, 1_700_000_000_000)
    t.equal(first.stream, 'default/orders')
    t.equal(first.group, 'workers')
    t.equal(first.controllerTerm, 7)
    t.same(first.headers.entries, [['Trace', 't0']], 'headers: the event own ones, delivery headers removed')
    t.equal(first.header('trace'), 't0')

    await new Promise((resolve) => setTimeout(resolve, 200))
    t.equal(received.length, 2, 'nothing beyond the window arrives before an ack')

    // The window counts from the moment the settle call is sent (the controller may push the
    // next message before the confirmation reaches us).
    const settle = async (message: StreamMessage, call: () => Promise<void>): Promise<void> => {
      unacked -= 1
      await call()
    }
    await settle(first, () => first.ack())
    await until('third delivery', () => received.length === 3)
    await settle(received[1] as StreamMessage, () => (received[1] as StreamMessage).nack(250))
    await until('fourth delivery', () => received.length === 4)
    await (received[2] as StreamMessage).inProgress() // extends the deadline, keeps it outstanding
    await settle(received[2] as StreamMessage, () => (received[2] as StreamMessage).term('bad input'))
    await until('fifth delivery', () => received.length === 5)
    await settle(received[3] as StreamMessage, () => (received[3] as StreamMessage).nack())
    await until('sixth delivery', () => received.length === 6)
    ;(received[4] as StreamMessage).ackNoWait()
    unacked -= 1
    await settle(received[5] as StreamMessage, () => (received[5] as StreamMessage).ack())
    await until('every ack seen', () => controller.acks.length === 7)
    t.same(
      controller.acks.map(({ index, deliveries, body, confirmed }) => [index, deliveries, body, confirmed]),
      [
        [0, 1, 'ack', true],
        [1, 1, 'nack 250', true],
        [2, 1, 'progress', true],
        [2, 1, 'term bad input', true],
        [3, 1, 'nack', true],
        [4, 1, 'ack', false],
        [5, 1, 'ack', true],
      ],
      'ack subject ACK.<index>.<deliveries>, bodies per the contract; ackNoWait has no reply subject',
    )
    t.equal(unackedMax, 2, 'never more than the window unacked at the client')
    t.same(received.map((m) => m.index), [0, 1, 2, 3, 4, 5], 'each pushed message reached next() once, in order')

    await until('heartbeats', () => controller.heartbeats.length >= 2)
    t.ok(controller.heartbeats.every((member) => member === join?.member), 'heartbeats name the member')

    const bad = await (received[0] as StreamMessage).nack(-5).catch((error: unknown) => error)
    t.ok(bad instanceof InvalidArgumentError, 'a bad nack delay is refused by the client')

    controller.ackAnswer = 'not-found'
    const gone = await (received[0] as StreamMessage).ack().catch((error: unknown) => error)
    t.ok(gone instanceof ApiError && gone.code === 'RG_ERR_NOT_FOUND', 'a refused ack rejects with ApiError RG_ERR_NOT_FOUND')
    controller.ackAnswer = 'garbage'
    const garbled = await (received[0] as StreamMessage).ack().catch((error: unknown) => error)
    t.ok(garbled instanceof ProtocolError, 'a malformed ack answer is a ProtocolError')

    subscription.unsubscribe()
    await until('LEAVE', () => controller.leaves.length === 1)
    t.equal(controller.leaves[0], join?.member, 'unsubscribe sends LEAVE with the member id')
    await client.flush()
    const probe = await ctl.requestPromise(join?.deliver ?? '', 'x', { timeoutMs: 2_000 }).catch((error: unknown) => error)
    t.ok(probe instanceof NoRespondersError, 'and unsubscribes the inbox (no interest left on deliver)')
  })

  t.test('heartbeat answered RG_ERR_NOT_FOUND: JOIN again with the same member', async (t) => {
    const controller = new FakeController(ctl)
    await controller.start()
    t.teardown(() => controller.stop())
    controller.heartbeatAnswer = (count) => (count === 2 ? 'not-found' : 'ok')
    const memberships: MembershipEvent[] = []
    const subscription = client.consume('orders', { group: 'workers', heartbeatMs: 100, onMembership: (event) => memberships.push(event) }).subscribe()
    t.teardown(() => subscription.unsubscribe())
    await until('a second JOIN', () => controller.joins.length === 2)
    t.equal(controller.joins[1]?.member, controller.joins[0]?.member, 'same member id')
    t.equal(controller.joins[1]?.deliver, controller.joins[0]?.deliver, 'same inbox')
    await until('heartbeats resume', () => controller.heartbeats.length >= 4)
    t.equal(memberships.filter((event) => event.type === 'joined').length, 2, 'onMembership told of both JOINs')
  })

  t.test('JOIN is retried while no controller answers; a refused JOIN is an error', async (t) => {
    const received: StreamMessage[] = []
    const subscription = client.consume('orders', { group: 'workers', joinTimeoutMs: 20_000 }).subscribe((m) => received.push(m))
    t.teardown(() => subscription.unsubscribe())
    await new Promise((resolve) => setTimeout(resolve, 300)) // JOIN meets no responders meanwhile
    const controller = new FakeController(ctl)
    controller.queue.push(...events(200, 1))
    await controller.start()
    t.teardown(() => controller.stop())
    await until('delivery after a late controller', () => received.length === 1)
    t.equal(received[0]?.index, 200)
    await received[0]?.ack()
    controller.joinAnswer = 'not-found'
    const refused = await lastValueFrom(client.consume('orders', { group: 'workers' })).catch((error: unknown) => error)
    t.ok(refused instanceof ApiError && refused.code === 'RG_ERR_NOT_FOUND', 'JOIN refused → error() with the code')
    controller.joinAnswer = 'garbage'
    const garbled = await lastValueFrom(client.consume('orders', { group: 'workers' })).catch((error: unknown) => error)
    t.ok(garbled instanceof ProtocolError, 'malformed JOIN answer → ProtocolError')
    const noOne = await lastValueFrom(client.consume('nobody', { group: 'workers', joinTimeoutMs: 300 })).catch((error: unknown) => error)
    t.ok(noOne instanceof NoRespondersError, 'no controller within joinTimeoutMs → the last JOIN failure')
  })

  t.test('bad options arrive as error()', async (t) => {
    const badGroup = await lastValueFrom(client.consume('orders', { group: 'a.b' })).catch((error: unknown) => error)
    t.ok(badGroup instanceof InvalidArgumentError, 'a group name that is not one token')
    const startWithGroup = await lastValueFrom(client.consume('orders', { group: 'workers', start: { from: 'end' } })).catch((error: unknown) => error)
    t.ok(startWithGroup instanceof InvalidArgumentError, 'start is for independent consumers')
    const badHeartbeat = await lastValueFrom(client.consume('orders', { group: 'workers', heartbeatMs: 5 })).catch((error: unknown) => error)
    t.ok(badHeartbeat instanceof InvalidArgumentError, 'heartbeat below the wire minimum')
  })

  t.test('exclusive: nothing until activated', async (t) => {
    const controller = new FakeController(ctl)
    controller.mode = 'exclusive'
    controller.members.set('someone-else', { deliver: '_INBOX.nobody', window: 0, outstanding: new Set() })
    await controller.start()
    t.teardown(() => controller.stop())
    const memberships: MembershipEvent[] = []
    const received: StreamMessage[] = []
    const subscription = client.consume('orders', { group: 'workers', onMembership: (event) => memberships.push(event) }).subscribe((m) => received.push(m))
    t.teardown(() => subscription.unsubscribe())
    await until('joined', () => memberships.length === 1)
    t.match(memberships[0], { type: 'joined', reply: { active: false, mode: 'exclusive' } }, 'standby member')
    const deliver = controller.joins[0]?.deliver ?? ''
    ctl.publish(deliver, '', { headers: [['Rg-Status', 'active']] })
    controller.deliver(deliver, { index: 300, data: 'x' })
    await until('activated and delivered', () => received.length === 1)
    t.same(memberships.map((event) => event.type), ['joined', 'activated'])
    t.equal(received[0]?.index, 300, 'the status message is not a message')
  })

  t.test('a malformed delivery is a ProtocolError', async (t) => {
    const controller = new FakeController(ctl)
    await controller.start()
    t.teardown(() => controller.stop())
    const result = lastValueFrom(client.consume('orders', { group: 'workers' })).catch((error: unknown) => error)
    await until('joined', () => controller.joins.length === 1)
    ctl.publish(controller.joins[0]?.deliver ?? '', 'x', { headers: [['Rg-Stream', 'default/orders']] })
    t.ok((await result) instanceof ProtocolError)
  })

  t.test('fetch: one batch until 204; ackAll: one ACKS request', async (t) => {
    const controller = new FakeController(ctl)
    await controller.start()
    t.teardown(() => controller.stop())
    controller.queue.push(...events(400, 3))
    const batch = await client.fetch('orders', { group: 'workers', max: 10, expiresMs: 500 })
    t.same(batch.map((m) => m.index), [400, 401, 402], 'the batch, in order')
    t.same(controller.fetches, [{ max: 10, expiresMs: 500 }], 'FETCH body')
    const applied = await client.ackAll(batch)
    t.equal(applied, 3)
    t.same(controller.ackBatches, [{ acks: [400, 401, 402].map((index) => ({ index, deliveries: 1, kind: 'ack' })) }], 'one ACKS request with every ack')
    const empty = await client.fetch('orders', { group: 'workers', max: 5, expiresMs: 100 })
    t.same(empty, [], 'an empty batch when nothing is there')
    controller.queue.push(...events(500, 4))
    const capped = await client.fetch('orders', { group: 'workers', max: 2 })
    t.same(capped.map((m) => m.index), [500, 501], 'at most max')
    const nobody = await client.fetch('nobody', { group: 'workers' }).catch((error: unknown) => error)
    t.ok(nobody instanceof NoRespondersError, 'no controller → NoRespondersError')
  })

  t.test('after a reconnect the member JOINs again', async (t) => {
    const controller = new FakeController(ctl)
    await controller.start()
    t.teardown(() => controller.stop())
    const received: StreamMessage[] = []
    const subscription = client.consume('orders', { group: 'workers', heartbeatMs: 200 }).subscribe((m) => received.push(m))
    t.teardown(() => subscription.unsubscribe())
    await until('joined', () => controller.joins.length === 1)
    await server.restart()
    await until('JOIN again after the reconnect', () => controller.joins.length >= 2, 60_000)
    t.equal(controller.joins[1]?.member, controller.joins[0]?.member, 'same member')
    t.equal(controller.joins[1]?.deliver, controller.joins[0]?.deliver, 'same inbox (resubscribed by the session)')
    controller.queue.push(...events(600, 1))
    controller.pump()
    await until('delivery after the reconnect', () => received.length === 1)
    t.equal(received[0]?.index, 600)
  })
})
