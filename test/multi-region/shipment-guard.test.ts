// Issue #7 on cross-region shipping, through the node's driver (server/shipping/region-shipping.ts)
// on the in-process transport: a receiver in region `us` takes a shipment only from a node whose
// region (in the applied cluster state) is the shipment's source region, and only for a stream
// placed in both regions. Anything else is refused: nothing is written, nothing is answered, the
// refusal is counted by reason and logged once per (peer, reason). A legitimate shipper is
// answered and its events are published into the local replica with `Rg-Source`.
import t from 'tap'
import { apply, emptyState } from '../../control-plane/cluster/index.js'
import type { ClusterState, Command } from '../../control-plane/cluster/index.js'
import { decodeShipMessage, encodeShipMessage, parseProvenance, sourceHeader } from '../../data-plane/persistent/index.js'
import type { PublishAck, ShipMessage, StreamEvent } from '../../data-plane/persistent/index.js'
import { deflateRawCompression, shipCompressions } from '../../data-plane/persistent/shipping/zlib-compression.js'
import { createLogger } from '../../shared/log.js'
import { MemoryHub } from '../../shared/transport/index.js'
import type { MemoryTransport } from '../../shared/transport/index.js'
import { RegionShipping, decodeShipEnvelope, encodeShipEnvelope } from '../../server/shipping/index.js'
import type { ShippingEngine } from '../../server/shipping/index.js'

const node = (nodeId: string, region: string): Command => ({ type: 'addNode', nodeId, clientAddress: `${nodeId}:4222`, peerAddress: `${nodeId}:6222`, adminAddress: `http://${nodeId}:8222`, region, masterEligible: true, tags: {} })
const stream = (name: string, regions: string[]): Command => ({
  type: 'ensureStream',
  namespace: 'default',
  name,
  kind: 'persistent',
  regions,
  replicasPerRegion: 1,
  dedupWindowMs: 1_000,
  retention: { maxAgeMs: 0, maxBytes: 0, maxEvents: 0 },
  ackDefault: 'majority',
  deadLetter: { maxDeliveries: 0, maxLag: 0 },
})

function stateOf(commands: Command[]): ClusterState {
  let state = emptyState()
  commands.forEach((command, i) => {
    const out = apply(state, command, { index: i + 1, timeMs: 1_700_000_000_000 + i })
    if (!out.result.ok) throw new Error(`${command.type}: ${out.result.message}`)
    state = out.state
  })
  return state
}

/** A replica of an empty stream that acks every publish at once and records it. */
function engineDouble(): ShippingEngine & { readonly published: Array<{ id: string; headers: readonly (readonly [string, string])[] }> } {
  const published: Array<{ id: string; headers: readonly (readonly [string, string])[] }> = []
  return {
    published,
    writable: true,
    deliveredCount: 0,
    onDelivered: () => () => undefined,
    fetch: () => Promise.resolve([]),
    cached: () => [],
    publish: (request) => {
      published.push({ id: request.id, headers: request.headers })
      const ack: PublishAck = { ok: true, publishId: 'p', level: 'majority', position: { hlc: { wallMs: 1, logical: 0 }, origin: 'u1', incarnation: 1, originSeq: published.length }, duplicate: false, survivor: null }
      return Promise.resolve(ack)
    },
  }
}

const until = async (what: string, check: () => boolean): Promise<void> => {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 5))
  if (!check()) throw new Error(`not reached: ${what}`)
}

function batch(streamKey: string, sourceRegion: string): ShipMessage {
  const event: StreamEvent = { stream: streamKey, id: 'order-1', hlc: { wallMs: 1_700_000_000_000, logical: 0 }, origin: 'e1', incarnation: 1, originSeq: 1, headers: [['Rg-Subject', 'orders']], payload: new TextEncoder().encode('{"total":12}') }
  return { kind: 'batch', stream: streamKey, sourceRegion, term: 7, batchId: 1, fromSeq: 1, events: [event] }
}

const frameOf = (message: ShipMessage): Uint8Array => encodeShipEnvelope(encodeShipMessage(message, { compression: deflateRawCompression }))

t.test('a shipment is refused unless its sender is in its source region and the stream is placed in both regions', async (t) => {
  const state = stateOf([node('e1', 'eu'), node('a1', 'ap'), node('u1', 'us'), stream('orders', ['eu', 'us']), stream('eu-ap', ['eu', 'ap'])])
  const hub = new MemoryHub()
  const links = new Map<string, MemoryTransport>()
  for (const id of ['u1', 'e1', 'a1']) {
    const link = hub.createTransport({ nodeId: id, reconnectDelayMs: 5 })
    await link.start()
    links.set(id, link)
  }
  t.teardown(async () => {
    for (const link of links.values()) await link.stop()
  })
  for (const id of ['e1', 'a1']) links.get(id)?.connect({ id: 'u1', host: 'memory', port: 0 })
  await until('linked', () => hub.isLinked('e1', 'u1') && hub.isLinked('a1', 'u1'))
  const lines: string[] = []
  const logger = createLogger({ nodeName: 'u1', level: 'info', destination: { write: (line: string) => lines.push(line) } })
  const shipping = new RegionShipping({ nodeId: 'u1', region: 'us', state: () => state, transport: links.get('u1') as MemoryTransport, logger, tickMs: 10 })
  t.teardown(() => shipping.stop())
  const engine = engineDouble()
  const record = state.streams.get('default/orders')
  if (record === undefined) throw new Error('no stream')
  shipping.open('default/orders', record.spec, engine)
  const repliesTo = (id: string): ShipMessage[] => {
    const replies: ShipMessage[] = []
    links.get(id)?.frames$.subscribe((frame) => {
      if (frame.channel !== 'ship') return
      const envelope = decodeShipEnvelope(frame.payload)
      if (!envelope.ok || envelope.value.kind !== 'message') return
      const decoded = decodeShipMessage(envelope.value.bytes, { compressions: shipCompressions })
      if (decoded.ok) replies.push(decoded.value)
    })
    return replies
  }
  const toA1 = repliesTo('a1')
  const toE1 = repliesTo('e1')

  // a1 is in ap: it cannot ship "events from eu" into us, however often it tries.
  for (let i = 0; i < 3; i++) links.get('a1')?.send('u1', 'ship', frameOf(batch('default/orders', 'eu')))
  await until('refused', () => shipping.counters.refused['wrong-region'] === 3)
  // e1 is in eu, but eu-ap is not placed in us.
  links.get('e1')?.send('u1', 'ship', frameOf(batch('default/eu-ap', 'eu')))
  await until('refused', () => shipping.counters.refused['not-placed'] === 1)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(engine.published, [], 'nothing written for a refused shipment')
  t.same(toA1, [], 'a refused shipment is not answered')
  const refusals = lines.filter((line) => line.includes('shipment refused'))
  t.equal(refusals.filter((line) => line.includes('"reason":"wrong-region"')).length, 1, 'logged once per peer and reason (3 refusals, 1 line)')
  t.match(refusals.find((line) => line.includes('wrong-region')) ?? '', /a1 is in region ap, the shipment claims source region eu/, 'the log says why')
  t.equal(refusals.filter((line) => line.includes('"reason":"not-placed"')).length, 1)

  // The legitimate shipper: e1 (eu) → us, for a stream placed in both.
  links.get('e1')?.send('u1', 'ship', frameOf({ kind: 'resolve', stream: 'default/orders', sourceRegion: 'eu', term: 7, requestId: 1 }))
  await until('resolved', () => toE1.some((m) => m.kind === 'resolved'))
  t.match(toE1.find((m) => m.kind === 'resolved'), { kind: 'resolved', cursor: 0, term: 7 }, 'a resolve from the source region is answered')
  links.get('e1')?.send('u1', 'ship', frameOf(batch('default/orders', 'eu')))
  await until('acked', () => toE1.some((m) => m.kind === 'batch-ack'))
  t.equal(engine.published.length, 1, 'the shipped event is published into the local replica')
  t.equal(engine.published[0]?.id, 'order-1', 'with the same id')
  const provenance = engine.published[0]?.headers.find(([key]) => key === sourceHeader)?.[1]
  const parsed = parseProvenance(provenance ?? '')
  t.match(parsed.ok ? parsed.value : undefined, { region: 'eu', shipSeq: 1, origin: 'e1', originSeq: 1 }, 'and its provenance')
  t.match(toE1.find((m) => m.kind === 'batch-ack'), { kind: 'batch-ack', batchId: 1, cursor: 1 }, 'acked once committed at majority')
  t.equal(shipping.counters.refused['wrong-region'], 3)
})
