// Test machinery for consumer groups on real nodes, speaking the raw wire with the official NATS
// client (docs/api.md § Consuming): streams and groups through the control API, durable
// publishes with Rg-Msg-Id, a member that subscribes an inbox, JOINs, heartbeats and collects
// what it is sent, and waits bounded in time.
import { connect, createInbox, headers as natsHeaders } from '@nats-io/transport-node'
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node'
import type { Test } from 'tap'
import type { RunningNode } from '../../server/node.js'

export { startStreamNode, tempDir, until } from '../streams/helpers.js'

export async function request(nc: NatsConnection, subject: string, body: unknown, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  return (await nc.request(subject, JSON.stringify(body), { timeout: timeoutMs })).json<Record<string, unknown>>()
}

export async function ensureStream(nc: NatsConnection, name: string, extra: Record<string, unknown> = {}): Promise<void> {
  const answer = await request(nc, '$RG.API.STREAM.ENSURE', { name, kind: 'persistent', ackDefault: 'write', ...extra })
  if (answer['ok'] !== true) throw new Error(`STREAM.ENSURE ${name}: ${JSON.stringify(answer)}`)
}

export async function ensureGroup(nc: NatsConnection, body: Record<string, unknown>): Promise<void> {
  const answer = await request(nc, '$RG.API.GROUP.ENSURE', body)
  if (answer['ok'] !== true) throw new Error(`GROUP.ENSURE: ${JSON.stringify(answer)}`)
}

/** A durable publish to a persistent stream (waits for the ack). */
export async function publish(nc: NatsConnection, subject: string, data: string, id?: string): Promise<Record<string, unknown>> {
  const h = natsHeaders()
  if (id !== undefined) h.set('Rg-Msg-Id', id)
  const reply = await nc.request(subject, data, { timeout: 10_000, ...(id === undefined ? {} : { headers: h }) })
  const ack = reply.json<Record<string, unknown>>()
  if (ack['ok'] !== true) throw new Error(`publish ${subject}: ${JSON.stringify(ack)}`)
  return ack
}

export async function untilController(node: RunningNode, group: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (node.consumerGroups()?.snapshot(group) === undefined) {
    if (Date.now() > deadline) throw new Error(`no controller for ${group} on ${node.nodeId} after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export interface Received {
  readonly msg: Msg
  readonly index: number
  readonly deliveries: number
  readonly data: string
  readonly header: (name: string) => string | undefined
}

/** A group member speaking the raw wire: an inbox, JOIN, HB every heartbeatMs, what it receives. */
export class WireMember {
  readonly id: string
  readonly deliver = createInbox()
  readonly received: Received[] = []
  readonly statuses: string[] = []
  /** Answers to the JOINs sent again after a heartbeat came back RG_ERR_NOT_FOUND. */
  readonly rejoins: Array<Record<string, unknown>> = []
  #sub: Subscription | undefined
  #heartbeat: NodeJS.Timeout | undefined
  #waiters: Array<() => void> = []

  constructor(
    readonly nc: NatsConnection,
    readonly group: string,
    id?: string,
  ) {
    this.id = id ?? `m${Math.random().toString(36).slice(2, 10)}`
  }

  subject(verb: string): string {
    return `$RG.C.default.${this.group}.${verb}`
  }

  async join(extra: Record<string, unknown> = {}, heartbeatMs = 500): Promise<Record<string, unknown>> {
    this.#sub ??= this.nc.subscribe(this.deliver, {
      callback: (error, msg) => {
        if (error !== null) return
        const status = msg.headers?.get('Rg-Status')
        if (status !== undefined && status !== '') this.statuses.push(status)
        else {
          this.received.push({
            msg,
            index: Number(msg.headers?.get('Rg-Index')),
            deliveries: Number(msg.headers?.get('Rg-Deliveries')),
            data: msg.string(),
            header: (name) => msg.headers?.get(name),
          })
        }
        const waiters = this.#waiters
        this.#waiters = []
        for (const wake of waiters) wake()
      },
    })
    await this.nc.flush()
    const body = { member: this.id, deliver: this.deliver, heartbeatMs, ...extra }
    const answer = await request(this.nc, this.subject('JOIN'), body)
    if (this.#heartbeat === undefined) {
      // As a client does: HB every period; RG_ERR_NOT_FOUND (a new controller) → JOIN again.
      this.#heartbeat = setInterval(() => {
        void request(this.nc, this.subject('HB'), { member: this.id }, 5_000)
          .then(async (beat) => {
            if ((beat['error'] as { code?: string } | undefined)?.code === 'RG_ERR_NOT_FOUND') this.rejoins.push(await request(this.nc, this.subject('JOIN'), body, 5_000))
          })
          .catch(() => undefined)
      }, heartbeatMs)
      this.#heartbeat.unref()
    }
    return answer
  }

  /** Waits until `predicate` holds over what was received (bounded). */
  async until(what: string, predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!predicate()) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`member ${this.id}: timed out after ${timeoutMs} ms waiting for ${what} (received ${this.received.map((r) => `${r.index}#${r.deliveries}`).join(',')})`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200))
        this.#waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** Acks with the given body on the message's reply subject; with `confirm`, waits for the answer. */
  async settle(received: Received, body = 'ack', confirm = true): Promise<Record<string, unknown> | undefined> {
    const reply = received.msg.reply
    if (reply === undefined) throw new Error('a delivered message without a reply subject')
    if (!confirm) {
      this.nc.publish(reply, body)
      return undefined
    }
    return (await this.nc.request(reply, body, { timeout: 10_000 })).json<Record<string, unknown>>()
  }

  stopHeartbeats(): void {
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat)
    this.#heartbeat = undefined
  }

  unsubscribe(): void {
    this.stopHeartbeats()
    this.#sub?.unsubscribe()
    this.#sub = undefined
  }
}

export async function connectTo(t: Test, node: RunningNode): Promise<NatsConnection> {
  const nc = await connect({ servers: node.clientUrl })
  t.teardown(async () => {
    if (!nc.isClosed()) await nc.close()
  })
  return nc
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}
