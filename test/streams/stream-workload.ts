// Shared machinery of the persistent-stream fault tests (test/faults/stream-*.test.ts): producers
// on official NATS clients that publish logical messages with an `Rg-Msg-Id` and `Rg-Ack`,
// retrying a failed or timed-out attempt through another node with the SAME id; STREAM.FETCH of
// a node's whole delivered log; and the checks every fault test makes (DESIGN §4 invariants 1,
// 2 and 4): every acked id delivered, no id delivered twice, the same order on every replica.
import { readFileSync } from 'node:fs'
import { connect, headers as natsHeaders } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Test } from 'tap'
import { streamFetchResponseSchema } from '../../shared/api/index.js'
import type { RailgunCluster } from '../harness/index.js'

/** One attempt waits this long for its ack. */
export const attemptTimeoutMs = 4_000
/** Attempts of one logical message before the producer gives up on it. */
export const attemptsMax = 8
const fetchPageMax = 1_000

export interface ProducerLog {
  /** Ids acked (ok), with the origin that wrote the acked copy. */
  readonly acked: Map<string, { readonly origin: string; readonly level: string; readonly duplicate: boolean }>
  /** Ids never acked (gave up): they may or may not be delivered, at most once. */
  readonly unacked: Set<string>
  /** Attempts that failed and were retried with the same id. */
  retries: number
}

export async function connectTo(t: Test, cluster: RailgunCluster, id: string): Promise<NatsConnection> {
  const nc = await connect({ servers: cluster.node(id).clientUrl, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 10_000 })
  t.teardown(() => nc.close().catch(() => undefined))
  return nc
}

async function request(nc: NatsConnection, subject: string, body: unknown, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  return (await nc.request(subject, JSON.stringify(body), { timeout: timeoutMs })).json<Record<string, unknown>>()
}

/** Waits until `node` answers STREAM.FETCH for the stream (its engine is open). */
export async function untilReplicaOpen(nc: NatsConnection, name: string, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const answer = await request(nc, '$RG.API.STREAM.FETCH', { name, max: 1 }, 3_000).catch((error: unknown) => ({ ok: false, error: String(error) }))
    if (answer.ok === true) return
    if (Date.now() > deadline) throw new Error(`${what}: no replica open after ${timeoutMs} ms (${JSON.stringify(answer)})`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/** Every delivered event id of the stream on the node behind `nc`, in delivery order. */
export async function deliveredIds(nc: NatsConnection, name: string): Promise<string[]> {
  const ids: string[] = []
  for (let from = 0; ; ) {
    const answer = streamFetchResponseSchema.parse(await request(nc, '$RG.API.STREAM.FETCH', { name, from, max: fetchPageMax }))
    ids.push(...answer.events.map((event) => event.id))
    if (answer.events.length === 0) return ids
    from = answer.next
  }
}

export async function deliveredCount(nc: NatsConnection, name: string): Promise<number> {
  const answer = streamFetchResponseSchema.parse(await request(nc, '$RG.API.STREAM.FETCH', { name, max: 1 }, 3_000))
  return answer.delivered
}

/**
 * Publishes `count` logical messages `<prefix>-<i>` one after another: each attempt goes through
 * the next connection of `via` (round robin from the first), with the same id, until acked or
 * `attemptsMax`; `stop()` ends the loop early.
 */
export function startProducer(options: { readonly subject: string; readonly prefix: string; readonly count: number; readonly via: () => readonly NatsConnection[]; readonly log: ProducerLog }): { readonly done: Promise<void>; stop(): void } {
  let stopped = false
  const done = (async () => {
    for (let i = 0; i < options.count && !stopped; i++) {
      const id = `${options.prefix}-${i}`
      let acked = false
      for (let attempt = 0; attempt < attemptsMax && !acked && !stopped; attempt++) {
        const connections = options.via()
        const nc = connections[attempt % connections.length] as NatsConnection
        const h = natsHeaders()
        h.set('Rg-Msg-Id', id)
        h.set('Rg-Ack', 'majority')
        const answer: Record<string, unknown> = await nc
          .request(options.subject, `payload of ${id}`, { timeout: attemptTimeoutMs, headers: h })
          .then((m) => m.json<Record<string, unknown>>())
          .catch((error: unknown) => ({ ok: false, error: { code: 'client', message: String(error) } }))
        if (answer.ok === true) {
          acked = true
          options.log.acked.set(id, { origin: String(answer.origin), level: String(answer.level), duplicate: answer.duplicate === true })
        } else {
          options.log.retries += 1
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
      }
      if (!acked) options.log.unacked.add(id)
    }
  })()
  return { done, stop: () => (stopped = true) }
}

export function newLog(): ProducerLog {
  return { acked: new Map(), unacked: new Set(), retries: 0 }
}

/**
 * Waits until every node delivered at least the acked count and the counts agree, then checks
 * DESIGN §4: the same delivered order on every node (2), every acked id delivered on every node
 * — so on a majority — (1), no id delivered twice (4).
 */
export async function checkConverged(t: Test, connections: ReadonlyMap<string, NatsConnection>, name: string, log: ProducerLog, timeoutMs = 40_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs
  let counts: number[] = []
  for (;;) {
    counts = await Promise.all([...connections.values()].map((nc) => deliveredCount(nc, name).catch(() => -1)))
    if (counts.every((c) => c >= log.acked.size && c === counts[0])) break
    if (Date.now() > deadline) break
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  const orders = new Map<string, string[]>()
  for (const [id, nc] of connections) orders.set(id, await deliveredIds(nc, name))
  const [firstId, first] = [...orders.entries()][0] as [string, string[]]
  t.comment(`delivered per node: ${[...orders.entries()].map(([id, order]) => `${id}=${order.length}`).join(' ')}; acked ${log.acked.size}, gave up ${log.unacked.size}, retried attempts ${log.retries}`)
  for (const [id, order] of orders) if (id !== firstId) t.same(order, first, `${id} delivered the same order as ${firstId}`)
  for (const [id, order] of orders) {
    const seen = new Set(order)
    t.equal(seen.size, order.length, `${id}: no id delivered twice`)
    const missing = [...log.acked.keys()].filter((acked) => !seen.has(acked))
    t.same(missing, [], `${id}: every acked id is delivered`)
    const unknown = order.filter((delivered) => !log.acked.has(delivered) && !log.unacked.has(delivered))
    t.same(unknown, [], `${id}: nothing delivered that no producer sent`)
  }
  return first
}

/**
 * What the nodes' logs say about the stream's failover: close decisions committed, controllers
 * started, and replica notices that mean trouble (a refused close decision: the replica would
 * diverge). Returns the refusals so a test can require there are none.
 */
export function failoverSummary(cluster: RailgunCluster): { readonly lines: string[]; readonly refusals: string[]; readonly controllers: ReadonlyMap<string, { readonly holder: string; readonly term: number }> } {
  const lines: string[] = []
  const refusals: string[] = []
  const controllers = new Map<string, { holder: string; term: number }>()
  for (const id of cluster.nodeIds) {
    let text: string
    try {
      text = readFileSync(cluster.node(id).logFile, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue
      let entry: Record<string, unknown>
      try {
        entry = JSON.parse(line) as Record<string, unknown>
      } catch {
        continue
      }
      const msg = String(entry.msg ?? '')
      if (msg === 'stream controller: close decision committed') lines.push(`${id}: committed close ${String(entry.origin)}#${String(entry.incarnation)} at ${String(entry.atSeq)} (term ${String(entry.term)}, ${String(entry.outcome)})`)
      else if (msg.startsWith('stream controller: close ')) lines.push(`${id}: ${msg.slice('stream controller: '.length)}`)
      else if (msg === 'stream controller running on this node') {
        lines.push(`${id}: controller of ${String(entry.stream)} at term ${String(entry.term)}`)
        const term = Number(entry.term)
        if (term >= (controllers.get(String(entry.stream))?.term ?? 0)) controllers.set(String(entry.stream), { holder: id, term })
      }
      if (entry.kind === 'close-refused') refusals.push(`${id}: ${msg}`)
    }
  }
  return { lines, refusals, controllers }
}
