// Shared machinery of the multi-region tests on real processes (test/multi-region/*.test.ts):
// a cluster of R regions × N `railgun server` processes (test/harness RailgunCluster: every peer
// link through its TCP proxy, so a region can be cut off), a stream placed in every region,
// producers that publish logical messages with an `Rg-Msg-Id` through the nodes of ONE region
// (retrying with the same id through the next node), and the checks of issue #6:
//  - every acked id is in the delivered log of every replica of every region;
//  - per region, the group sequence (what consumer groups are fed, server/shipping) holds each
//    distinct id exactly once: it has as many positions as there are distinct ids, and every id's
//    first copy is always let through by RegionDedup, so equal counts mean once each;
//  - every replica of every region reports the same event-set digest (STREAM.INFO `shipping`).
import { connect, headers as natsHeaders } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Test } from 'tap'
import { startRailgunCluster } from '../harness/index.js'
import type { RailgunCluster } from '../harness/index.js'
import { deliveredIds } from '../streams/stream-workload.js'

/** One publish attempt waits this long for its ack. */
export const attemptTimeoutMs = 4_000
/** Attempts of one logical message before the producer gives up on it. */
export const attemptsMax = 10
const pollMs = 250

export interface Regions {
  readonly cluster: RailgunCluster
  /** region → its node ids. */
  readonly nodesOf: ReadonlyMap<string, readonly string[]>
  /** node id → a NATS connection to it (reconnecting). */
  readonly nc: (id: string) => NatsConnection
  readonly regions: readonly string[]
  readonly nodeIds: readonly string[]
}

/** Starts `regions` × `perRegion` nodes (ids `<region>-<n>`), connects to each. */
export async function startRegions(t: Test, regions: readonly string[], perRegion: number, options: { readonly deadAfterMs?: number; readonly env?: Record<string, string> } = {}): Promise<Regions> {
  const nodesOf = new Map(regions.map((region) => [region, Array.from({ length: perRegion }, (_, i) => `${region}-${i + 1}`)]))
  const regionOf: Record<string, string> = {}
  for (const [region, ids] of nodesOf) for (const id of ids) regionOf[id] = region
  const cluster = await startRailgunCluster(t, {
    nodeIds: [...nodesOf.values()].flat(),
    regions: regionOf,
    tickMs: 50,
    electionTicks: 10,
    deadAfterMs: options.deadAfterMs ?? 20_000,
    readyTimeoutMs: 120_000,
    ...(options.env === undefined ? {} : { env: options.env }),
  })
  await cluster.waitForLeader({ timeoutMs: 60_000 })
  const connections = new Map<string, NatsConnection>()
  for (const id of cluster.nodeIds) {
    const nc = await connect({ servers: cluster.node(id).clientUrl, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 10_000 })
    t.teardown(() => nc.close().catch(() => undefined))
    connections.set(id, nc)
  }
  return { cluster, nodesOf, nc: (id) => connections.get(id) as NatsConnection, regions, nodeIds: cluster.nodeIds }
}

export async function api(nc: NatsConnection, verb: string, body: unknown, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  return (await nc.request(`$RG.API.${verb}`, JSON.stringify(body), { timeout: timeoutMs })).json<Record<string, unknown>>()
}

export async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, pollMs))
  }
}

/** The stream's `shipping` section of STREAM.INFO as one node answers it (stale read: this node's state). */
export interface ShippingInfo {
  readonly node: string
  readonly region: string
  readonly replica: { readonly processed: number; readonly caughtUp: boolean; readonly groupSequence: number; readonly localShipSeq: number; readonly deliveredCount: number; readonly deliveredThrough: Record<string, number> } | null
  readonly digest: { readonly events: number; readonly hash: string } | null
  readonly lag: ReadonlyArray<{ readonly from: string; readonly to: string; readonly events: number; readonly ms: number; readonly holder: string; readonly term: number; readonly ageMs: number; readonly stale: boolean }>
  readonly shippers: ReadonlyArray<{ readonly to: string; readonly term: number; readonly phase: string; readonly cursor: number }>
  readonly receivers: ReadonlyArray<{ readonly from: string; readonly ackedThrough: number }>
}

export async function shippingInfo(nc: NatsConnection, name: string): Promise<ShippingInfo | undefined> {
  const answer = await api(nc, 'STREAM.INFO', { name, stale: true }, 3_000).catch(() => undefined)
  const stream = answer?.stream as { shipping?: ShippingInfo } | undefined
  return stream?.shipping
}

export interface ProducerLog {
  /** Ids acked (ok). */
  readonly acked: Set<string>
  /** Ids never acked (gave up): they may or may not be there. */
  readonly unacked: Set<string>
  retries: number
}

export const newLog = (): ProducerLog => ({ acked: new Set(), unacked: new Set(), retries: 0 })

/** One logical message through the given nodes in turn (same id every attempt) until acked. */
export async function publishOne(via: readonly NatsConnection[], subject: string, id: string, log: ProducerLog, first = 0): Promise<boolean> {
  for (let attempt = 0; attempt < attemptsMax; attempt++) {
    const nc = via[(first + attempt) % via.length] as NatsConnection
    const h = natsHeaders()
    h.set('Rg-Msg-Id', id)
    h.set('Rg-Ack', 'majority')
    const answer: Record<string, unknown> = await nc
      .request(subject, `payload of ${id}`, { timeout: attemptTimeoutMs, headers: h })
      .then((m) => m.json<Record<string, unknown>>())
      .catch((error: unknown) => ({ ok: false, error: String(error) }))
    if (answer.ok === true) {
      log.acked.add(id)
      log.unacked.delete(id)
      return true
    }
    log.retries += 1
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  if (!log.acked.has(id)) log.unacked.add(id)
  return false
}

/** Publishes `ids` one after another through the nodes of one region; `stop()` ends early. */
export function startProducer(via: () => readonly NatsConnection[], subject: string, ids: readonly string[], log: ProducerLog, gapMs = 0): { readonly done: Promise<void>; stop(): void } {
  let stopped = false
  const done = (async () => {
    for (let i = 0; i < ids.length && !stopped; i++) {
      await publishOne(via(), subject, ids[i] as string, log, i)
      if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs))
    }
  })()
  return { done, stop: () => (stopped = true) }
}

/**
 * Waits until every replica of every region delivered every id in `ids` and reports the same
 * digest; then checks, per node: every id is delivered, nothing unknown is; and per region the
 * group sequence holds each distinct id once (its length = distinct ids delivered there).
 */
export async function checkConverged(t: Test, r: Regions, name: string, ids: { readonly acked: ReadonlySet<string>; readonly maybe: ReadonlySet<string> }, timeoutMs = 60_000): Promise<void> {
  let last = ''
  try {
    await until(
      'every replica holds every acked id and reports the same digest',
      async () => {
        const infos = await Promise.all(r.nodeIds.map((id) => shippingInfo(r.nc(id), name)))
        const digests = infos.map((info) => `${info?.digest?.events ?? '-'}:${info?.digest?.hash ?? '-'}`)
        last = r.nodeIds.map((id, i) => `${id} ${digests[i] ?? ''} group=${infos[i]?.replica?.groupSequence ?? '-'} delivered=${infos[i]?.replica?.deliveredCount ?? '-'}`).join('; ')
        if (new Set(digests).size !== 1 || infos.some((info) => info?.replica?.caughtUp !== true)) return false
        const counts = infos.map((info) => info?.digest?.events ?? 0)
        return counts.every((count) => count >= ids.acked.size)
      },
      timeoutMs,
    )
  } finally {
    t.comment(`digests: ${last}`)
  }
  const infos = new Map<string, ShippingInfo | undefined>()
  for (const id of r.nodeIds) infos.set(id, await shippingInfo(r.nc(id), name))
  const digests = new Set([...infos.values()].map((info) => info?.digest?.hash))
  t.equal(digests.size, 1, `every replica of every region reports the same event-set digest (${[...digests].join(', ')})`)
  for (const id of r.nodeIds) {
    const delivered = await deliveredIds(r.nc(id), name)
    const seen = new Set(delivered)
    t.same([...ids.acked].filter((acked) => !seen.has(acked)), [], `${id}: every acked id is delivered`)
    t.same([...seen].filter((one) => !ids.acked.has(one) && !ids.maybe.has(one)), [], `${id}: nothing delivered that no producer sent`)
    const group = infos.get(id)?.replica?.groupSequence
    t.equal(group, seen.size, `${id}: the group sequence holds each of the ${seen.size} distinct ids once (${delivered.length} copies delivered)`)
  }
}

/** The node holding the shipper `from` → `to` of the stream, as the lag reports say (undefined if none yet). */
export async function shipperHolder(r: Regions, name: string, from: string, to: string): Promise<string | undefined> {
  for (const id of r.nodeIds) {
    const info = await shippingInfo(r.nc(id), name)
    const link = info?.lag.find((l) => l.from === from && l.to === to && !l.stale)
    if (link !== undefined) return link.holder
  }
  return undefined
}
