// Cross-region shipping sends this region's events as soon as the region tap delivers them, not at
// the driver's next tick (server/shipping/region-shipping.ts: RegionTap `onLocalDelivered`): two
// nodes' drivers (e1 in eu holding the shipper eu → us, u1 in us receiving) on the in-process
// transport, with a tick of an hour, so nothing here can be moved by a tick. Before this, a
// delivered event waited up to `shipTickMsDefault` (50 ms) for the tick — part of the convergence
// lag the geo bench measured (bench/README.md § Geo-latency).
import t from 'tap'
import { apply, emptyState } from '../../control-plane/cluster/index.js'
import type { ClusterState, Command } from '../../control-plane/cluster/index.js'
import type { PublishAck, StreamEvent } from '../../data-plane/persistent/index.js'
import { createLogger } from '../../shared/log.js'
import { MemoryHub } from '../../shared/transport/index.js'
import type { MemoryTransport } from '../../shared/transport/index.js'
import { RegionShipping } from '../../server/shipping/index.js'
import type { ShippingEngine } from '../../server/shipping/index.js'

const streamKey = 'default/orders'
/** Longer than the test: no tick runs while it does. */
const tickNeverMs = 3_600_000
const waitStepMs = 5
/** Liveness bound for each step (generous: the machine may be loaded); never a timing assertion. */
const waitMaxMs = 10_000

const node = (nodeId: string, region: string): Command => ({ type: 'addNode', nodeId, clientAddress: `${nodeId}:4222`, peerAddress: `${nodeId}:6222`, adminAddress: `http://${nodeId}:8222`, region, masterEligible: true, tags: {} })
const stream: Command = {
  type: 'ensureStream',
  namespace: 'default',
  name: 'orders',
  kind: 'persistent',
  regions: ['eu', 'us'],
  replicasPerRegion: 1,
  dedupWindowMs: 1_000,
  retention: { maxAgeMs: 0, maxBytes: 0, maxEvents: 0 },
  ackDefault: 'majority',
  deadLetter: { maxDeliveries: 0, maxLag: 0 },
}

function stateOf(commands: Command[]): ClusterState {
  let state = emptyState()
  commands.forEach((command, i) => {
    const out = apply(state, command, { index: i + 1, timeMs: 1_700_000_000_000 + i })
    if (!out.result.ok) throw new Error(`${command.type}: ${out.result.message}`)
    state = out.state
  })
  return state
}

type Row = { readonly index: number; readonly event: StreamEvent }

/** A replica: a delivered log (all of it in the "cache"), and publishes acked at once and recorded. */
class EngineDouble implements ShippingEngine {
  readonly writable = true
  readonly log: StreamEvent[] = []
  readonly published: string[] = []
  readonly #listeners = new Set<(count: number) => void>()
  get deliveredCount(): number {
    return this.log.length
  }
  deliver(event: StreamEvent): void {
    this.log.push(event)
    for (const listener of [...this.#listeners]) listener(this.log.length)
  }
  onDelivered(listener: (count: number) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }
  cached(from: number, max: number): Row[] {
    const rows: Row[] = []
    for (let index = Math.max(0, from); index < Math.min(this.log.length, from + max); index++) rows.push({ index, event: this.log[index] as StreamEvent })
    return rows
  }
  fetch(from: number, max: number): Promise<Row[]> {
    return Promise.resolve(this.cached(from, max))
  }
  publish(request: { readonly id: string }): Promise<PublishAck> {
    this.published.push(request.id)
    return Promise.resolve({ ok: true, publishId: request.id, level: 'majority', position: { hlc: { wallMs: 1, logical: 0 }, origin: 'u1', incarnation: 1, originSeq: this.published.length }, duplicate: false, survivor: null })
  }
}

const until = async (what: string, check: () => boolean): Promise<void> => {
  for (let waited = 0; waited < waitMaxMs && !check(); waited += waitStepMs) await new Promise((resolve) => setTimeout(resolve, waitStepMs))
  if (!check()) throw new Error(`not reached within ${waitMaxMs} ms: ${what}`)
}

const localEvent = (seq: number): StreamEvent => ({
  stream: streamKey,
  id: `order-${seq}`,
  hlc: { wallMs: 1_700_000_000_000 + seq, logical: 0 },
  origin: 'e1',
  incarnation: 1,
  originSeq: seq,
  headers: [['Rg-Subject', 'orders']],
  payload: new TextEncoder().encode(`{"order":${seq}}`),
})

t.test('a delivered local event is shipped at once, without a tick', async (t) => {
  const state = stateOf([node('e1', 'eu'), node('u1', 'us'), stream])
  const hub = new MemoryHub()
  const links = new Map<string, MemoryTransport>()
  for (const id of ['e1', 'u1']) {
    const link = hub.createTransport({ nodeId: id, reconnectDelayMs: 5 })
    await link.start()
    links.set(id, link)
  }
  t.teardown(async () => {
    for (const link of links.values()) await link.stop()
  })
  links.get('e1')?.connect({ id: 'u1', host: 'memory', port: 0 })
  await until('linked', () => hub.isLinked('e1', 'u1'))
  const quiet = { write: (): void => undefined }
  const drivers = new Map<string, RegionShipping>()
  const engines = new Map<string, EngineDouble>()
  const record = state.streams.get(streamKey)
  if (record === undefined) throw new Error('no stream')
  for (const [id, region] of [['e1', 'eu'], ['u1', 'us']] as const) {
    const driver = new RegionShipping({ nodeId: id, region, state: () => state, transport: links.get(id) as MemoryTransport, logger: createLogger({ nodeName: id, level: 'warn', destination: quiet }), tickMs: tickNeverMs })
    t.teardown(() => driver.stop())
    const engine = new EngineDouble()
    driver.open(streamKey, record.spec, engine)
    drivers.set(id, driver)
    engines.set(id, engine)
  }
  const shipper = (): { readonly phase: string; readonly cursor: number } | undefined => drivers.get('e1')?.info(streamKey)?.shippers.find((s) => s.to === 'us')
  await until('e1 runs the shipper eu → us and it resolved where us stands', () => shipper()?.phase === 'shipping')

  const eu = engines.get('e1') as EngineDouble
  const us = engines.get('u1') as EngineDouble
  eu.deliver(localEvent(1))
  await until('order-1 published in us', () => us.published.includes('order-1'))
  t.same(us.published, ['order-1'], 'the first delivery reached the receiver with no tick')
  await until('the batch acked', () => shipper()?.cursor === 1)

  eu.deliver(localEvent(2))
  eu.deliver(localEvent(3))
  await until('order-2 and order-3 published in us', () => us.published.length === 3)
  t.same(us.published, ['order-1', 'order-2', 'order-3'], 'later deliveries too, in order')
  await until('cursor at 3', () => shipper()?.cursor === 3)
  t.equal(drivers.get('e1')?.counters.shippedEvents, 3, 'each event shipped once')
})
