// The two ways the geo benchmark sees Railgun events arrive, with the plain NATS client
// (docs/api.md § Consuming, § Reading back):
//   - a group member (the consumer-group wire protocol: JOIN with a deliver inbox, heartbeats,
//     one ack per message on its reply subject): publish → deliver for the region's own group;
//   - a reader tailing `$RG.API.STREAM.FETCH` on one node: the node's delivered events, read from
//     its own copy (the control API answers from the node the client is connected to, never a
//     peer's). That is "visible in region B" without doubt about who delivered it.
// Why not the group for the cross-region lag: every region's controller of a group subscribes to
// the group's subjects cluster-wide, so a JOIN from region A reaches the controllers of the other
// regions too, and their deliveries (of events they hold) would look like convergence. Each
// region's member joins its own group (`geo-<region>`), and only events of its own region count
// as its deliveries.
import { createInbox, NoRespondersError, RequestError, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node'
import { nuid } from '@nats-io/nuid'
import { consumerHeaders, consumerSubject, joinReplySchema, type GroupAddress } from '../../shared/api/consumer-wire.js'
import { streamFetchResponseSchema } from '../../shared/api/index.js'
import { streamsBenchLimits } from './streams-target.js'

export const geoReaderLimits = {
  /** Events per STREAM.FETCH (the API's maximum). */
  fetchEventsMax: 1_000,
  /** A reader that got less than a full batch waits this long before asking again. */
  fetchIdlePollMs: 10,
  /** After a failed FETCH. */
  fetchRetryMs: 200,
  /** How long JOIN is retried while no controller answers (right after GROUP.ENSURE). */
  joinTimeoutMs: 60_000,
  joinRetryMs: 200,
  /** One request (JOIN, HB, FETCH, LEAVE). */
  requestTimeoutMs: streamsBenchLimits.requestTimeoutMs,
} as const

/** Receives the id of each event seen (first sightings and repeats alike). */
export type Sighting = (id: string) => void

export interface Reader {
  /** Errors seen (failed requests, deliveries without an id); the first one's text. */
  errors(): { readonly count: number; readonly first: string | null }
  stop(): Promise<void>
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

function isNoResponders(error: unknown): boolean {
  return error instanceof NoRespondersError || (error instanceof RequestError && error.isNoResponders()) || (error instanceof Error && isNoResponders(error.cause))
}

/** `{ok:true,…}` or an Error naming the code. */
function envelope(message: Msg, what: string): Record<string, unknown> {
  const body = message.json<Record<string, unknown>>()
  if (body.ok !== true) {
    const error = body.error as { code?: string; message?: string } | undefined
    throw new Error(`${what}: ${error?.code ?? 'RG_ERR_?'} ${error?.message ?? ''}`.trim())
  }
  return body
}

function errorCounter(): { note(error: unknown): void; errors(): { count: number; first: string | null } } {
  let count = 0
  let first: string | null = null
  return {
    note(error) {
      count += 1
      first ??= error instanceof Error ? error.message : String(error)
    },
    errors: () => ({ count, first }),
  }
}

/**
 * One member of `group`, acking every delivery; `onDelivered(id)` per delivery (the
 * `Rg-Msg-Id` header). Resolves once JOIN was answered.
 */
export async function startGroupMember(nc: NatsConnection, group: GroupAddress, maxInFlight: number, onDelivered: Sighting): Promise<Reader> {
  const counter = errorCounter()
  const member = nuid.next()
  const deliver = createInbox()
  const joinBody = JSON.stringify({ member, deliver, maxInFlight })
  const subscription: Subscription = nc.subscribe(deliver, {
    callback: (error, message) => {
      if (error !== null) {
        counter.note(error)
        return
      }
      if ((message.headers?.get(consumerHeaders.status) ?? '') !== '') return // `active`
      const id = message.headers?.get(consumerHeaders.msgId) ?? ''
      if (id === '') counter.note(new Error('a delivery without Rg-Msg-Id'))
      else onDelivered(id)
      if (message.reply !== undefined && message.reply !== '') nc.publish(message.reply, new Uint8Array(0))
    },
  })
  const join = async (): Promise<number> => {
    const deadline = Date.now() + geoReaderLimits.joinTimeoutMs
    for (;;) {
      try {
        const answer = envelope(await nc.request(consumerSubject(group, 'JOIN'), joinBody, { timeout: geoReaderLimits.requestTimeoutMs }), 'JOIN')
        const joined = joinReplySchema.safeParse(answer)
        if (!joined.success) throw new Error(`JOIN: an answer off the wire contract: ${JSON.stringify(answer).slice(0, 300)}`)
        return joined.data.heartbeatMs
      } catch (error) {
        if (!isNoResponders(error) || Date.now() > deadline) throw error
        await sleep(geoReaderLimits.joinRetryMs)
      }
    }
  }
  let heartbeatMs: number
  try {
    heartbeatMs = await join()
  } catch (error) {
    subscription.unsubscribe()
    throw error
  }
  const heartbeat = setInterval(() => {
    nc.request(consumerSubject(group, 'HB'), JSON.stringify({ member }), { timeout: geoReaderLimits.requestTimeoutMs })
      .then((answer) => envelope(answer, 'HB'))
      .catch((error: unknown) => {
        // NOT_FOUND: dropped (a slow moment) or a new controller: join again.
        if (error instanceof Error && error.message.includes('RG_ERR_NOT_FOUND')) join().catch((joinError: unknown) => counter.note(joinError))
        else counter.note(error)
      })
  }, heartbeatMs)
  return {
    errors: counter.errors,
    async stop() {
      clearInterval(heartbeat)
      await nc.request(consumerSubject(group, 'LEAVE'), JSON.stringify({ member }), { timeout: geoReaderLimits.requestTimeoutMs }).catch(() => undefined)
      subscription.unsubscribe()
    },
  }
}

/** Tails the stream's delivered events on the node `nc` is connected to: `onVisible(id)` per event, in order. */
export function startFetchTail(nc: NatsConnection, stream: string, onVisible: Sighting): Reader {
  const counter = errorCounter()
  let stopped = false
  let next = 0
  const loop = (async () => {
    while (!stopped) {
      let full: boolean
      try {
        const answer = await nc.request('$RG.API.STREAM.FETCH', JSON.stringify({ name: stream, from: next, max: geoReaderLimits.fetchEventsMax }), { timeout: geoReaderLimits.requestTimeoutMs })
        const parsed = streamFetchResponseSchema.safeParse(envelope(answer, 'STREAM.FETCH'))
        if (!parsed.success) throw new Error(`STREAM.FETCH: an answer off the schema: ${answer.string().slice(0, 300)}`)
        for (const event of parsed.data.events) onVisible(event.id)
        next = parsed.data.next
        full = parsed.data.events.length >= geoReaderLimits.fetchEventsMax
      } catch (error) {
        if (stopped) break
        counter.note(error)
        await sleep(geoReaderLimits.fetchRetryMs)
        continue
      }
      if (!full) await sleep(geoReaderLimits.fetchIdlePollMs)
    }
  })()
  return {
    errors: counter.errors,
    async stop() {
      stopped = true
      await loop
    },
  }
}
