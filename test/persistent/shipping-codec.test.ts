// The shipping codec (data-plane/persistent/shipping/codec.ts) and provenance header: every kind
// round-trips with each compression, every proper prefix is refused, garbage and single-byte
// corruption never throw, counts and lengths over their limits are refused before allocating or
// inflating (a deflate bomb included), and the compression ratio on 128-byte JSON-ish events is
// measured (printed, and required to be a real saving).
import fc from 'fast-check'
import t from 'tap'
import { deflateRawSync } from 'node:zlib'
import {
  decodeShipMessage,
  encodeShipMessage,
  formatProvenance,
  noCompression,
  parseProvenance,
  provenanceOf,
  shipMessageKinds,
  shipRefusalReasons,
  shippedHeaders,
  shippingLimits,
  sourceHeader,
} from '../../data-plane/persistent/index.js'
import type { ShipCompression, ShipMessage, StreamEvent } from '../../data-plane/persistent/index.js'
import { brotliCompression, deflateRawCompression, shipCompressions } from '../../data-plane/persistent/shipping/zlib-compression.js'
import { event, eventArb, hlcArb, originArb } from './helpers.js'

const stream = 'default/orders'
const regionArb = fc.constantFrom('east', 'west', 'us-east-1', 'ap_south', 'R9')
const seqArb = fc.oneof(fc.nat(100), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }))
const batchEventsArb = fc.array(eventArb.map((e) => ({ ...e, stream })), { minLength: 1, maxLength: 6 })

const messageArb: fc.Arbitrary<ShipMessage> = fc.oneof(
  fc.record({ kind: fc.constant('resolve' as const), stream: fc.constant(stream), sourceRegion: regionArb, term: seqArb, requestId: seqArb }),
  fc.record({ kind: fc.constant('resolved' as const), stream: fc.constant(stream), sourceRegion: regionArb, term: seqArb, requestId: seqArb, cursor: seqArb }),
  fc.record({ kind: fc.constant('batch' as const), stream: fc.constant(stream), sourceRegion: regionArb, term: seqArb, batchId: seqArb, fromSeq: fc.integer({ min: 1, max: 2 ** 40 }), events: batchEventsArb }),
  fc.record({ kind: fc.constant('batch-ack' as const), stream: fc.constant(stream), sourceRegion: regionArb, term: seqArb, batchId: seqArb, cursor: seqArb }),
  fc.record({ kind: fc.constant('refused' as const), stream: fc.constant(stream), sourceRegion: regionArb, term: seqArb, batchId: seqArb, reason: fc.constantFrom(...shipRefusalReasons), cursor: seqArb, expected: seqArb }),
)
const compressionArb = fc.constantFrom<ShipCompression>(noCompression, deflateRawCompression, brotliCompression)
const decodeOptions = { compressions: shipCompressions }

const plain = (m: ShipMessage): unknown => JSON.parse(JSON.stringify(m, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v)))

t.test('every kind round-trips, with every compression', async (t) => {
  const seen = new Set<string>()
  fc.assert(
    fc.property(messageArb, compressionArb, (m, compression) => {
      seen.add(m.kind)
      const decoded = decodeShipMessage(encodeShipMessage(m, { compression }), decodeOptions)
      if (!decoded.ok) throw decoded.error
      t.same(plain(decoded.value), plain(m))
    }),
    { numRuns: 300 },
  )
  t.same([...seen].sort(), [...shipMessageKinds].sort(), 'every kind was generated')
})

t.test('every proper prefix is refused with RG_ERR_MALFORMED_SHIPMENT', async (t) => {
  fc.assert(
    fc.property(messageArb, compressionArb, (m, compression) => {
      const bytes = encodeShipMessage(m, { compression })
      for (let n = 0; n < bytes.length; n++) {
        const decoded = decodeShipMessage(bytes.subarray(0, n), decodeOptions)
        if (decoded.ok) throw new Error(`prefix of ${n}/${bytes.length} bytes decoded`)
        if (decoded.error.code !== 'RG_ERR_MALFORMED_SHIPMENT') throw new Error(decoded.error.code)
      }
      const trailing = decodeShipMessage(Uint8Array.from([...bytes, 0]), decodeOptions)
      if (trailing.ok) throw new Error('a trailing byte was accepted')
    }),
    { numRuns: 60 },
  )
  t.pass('no prefix decodes')
})

t.test('garbage and single-byte corruption never throw', async (t) => {
  let corruptDecoded = 0
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      decodeShipMessage(bytes, decodeOptions)
      decodeShipMessage(Uint8Array.from([1, ...bytes]), decodeOptions)
    }),
    { numRuns: 500 },
  )
  fc.assert(
    fc.property(messageArb, compressionArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (m, compression, at, flip) => {
      const bytes = encodeShipMessage(m, { compression })
      const i = at % bytes.length
      bytes[i] = (bytes[i] as number) ^ flip
      const decoded = decodeShipMessage(bytes, decodeOptions)
      if (decoded.ok) corruptDecoded++
      else if (decoded.error.code !== 'RG_ERR_MALFORMED_SHIPMENT') throw new Error(decoded.error.code)
    }),
    { numRuns: 400 },
  )
  t.comment(`${corruptDecoded}/400 corrupted frames still decoded (a flipped bit in a number or payload is another valid message)`)
  t.pass('no exception')
})

t.test('limits are checked before allocating or inflating', async (t) => {
  const one = event({ origin: 'a', originSeq: 1, hlc: { wallMs: 5, logical: 0 }, id: 'x' })
  const base = encodeShipMessage({ kind: 'batch', stream, sourceRegion: 'east', term: 1, batchId: 1, fromSeq: 1, events: [one] })
  // Offsets in the batch header: version, kind, stream (2 + 14), region (1 + 4), term 8, batchId 8, fromSeq 8.
  const countAt = 1 + 1 + 2 + stream.length + 1 + 4 + 8 + 8 + 8
  const tooMany = base.slice()
  new DataView(tooMany.buffer).setUint32(countAt, shippingLimits.shipBatchEventsMax + 1)
  const refusedCount = decodeShipMessage(tooMany)
  t.notOk(refusedCount.ok)
  t.match(refusedCount.ok ? '' : refusedCount.error.message, /over shipBatchEventsMax/)
  const tooBig = base.slice()
  new DataView(tooBig.buffer).setUint32(countAt + 4 + 1, shippingLimits.shipFrameBytesMax + 1)
  const refusedSize = decodeShipMessage(tooBig)
  t.notOk(refusedSize.ok)
  t.match(refusedSize.ok ? '' : refusedSize.error.message, /over shipFrameBytesMax/)
  // A deflate bomb: 1 MiB of zeros announced as 16 bytes must not inflate past 16.
  const bomb = deflateRawSync(new Uint8Array(1024 * 1024))
  const header = base.slice(0, countAt)
  const frame = new Uint8Array(header.length + 4 + 1 + 4 + 4 + bomb.length)
  frame.set(header)
  const view = new DataView(frame.buffer)
  view.setUint32(header.length, 1)
  frame[header.length + 4] = deflateRawCompression.id
  view.setUint32(header.length + 5, 16)
  view.setUint32(header.length + 9, bomb.length)
  frame.set(bomb, header.length + 13)
  const refusedBomb = decodeShipMessage(frame, decodeOptions)
  t.notOk(refusedBomb.ok, 'a body that inflates past its announced size is refused')
  t.match(refusedBomb.ok ? '' : refusedBomb.error.message, /does not inflate|inflates to/)
  const unknown = frame.slice()
  unknown[header.length + 4] = 9
  t.match(decodeShipMessage(unknown, decodeOptions).ok ? '' : 'refused', 'refused', 'an unknown compression id is refused')
  t.throws(() => encodeShipMessage({ kind: 'batch', stream, sourceRegion: 'east', term: 1, batchId: 1, fromSeq: 1, events: [{ ...one, stream: 'other/s' }] }), /an event of other\/s/, 'encoding an event of another stream is a caller bug')
  t.throws(() => encodeShipMessage({ kind: 'resolve', stream, sourceRegion: 'no way', term: 1, requestId: 1 }), /invalid source region/)
})

t.test('provenance header: round trip, strict parse, one header per copy', async (t) => {
  fc.assert(
    fc.property(regionArb, fc.integer({ min: 1, max: 2 ** 40 }), hlcArb, originArb, fc.integer({ min: 1, max: 2 ** 32 - 1 }), fc.integer({ min: 1, max: 2 ** 40 }), (region, shipSeq, hlc, origin, incarnation, originSeq) => {
      const p = { region, shipSeq, hlc, origin, incarnation, originSeq }
      const parsed = parseProvenance(formatProvenance(p))
      if (!parsed.ok) throw parsed.error
      t.same(parsed.value, p)
    }),
    { numRuns: 200 },
  )
  for (const bad of ['', '1', '2;east;1;5;0;a;1;1', '1;east;0;5;0;a;1;1', '1;ea st;1;5;0;a;1;1', '1;east;1;5;0;a;0;1', '1;east;1;-5;0;a;1;1', '1;east;1;5;0;a;1;1;extra', '1;east;1e3;5;0;a;1;1']) {
    const parsed = parseProvenance(bad)
    t.notOk(parsed.ok, `refused: "${bad}"`)
    if (!parsed.ok) t.equal(parsed.error.code, 'RG_ERR_MALFORMED_SHIPMENT')
  }
  const original: StreamEvent = event({ origin: 'east1', originSeq: 7, hlc: { wallMs: 1000, logical: 2 }, id: 'order-1', headers: [['k', 'v']] })
  const headers = shippedHeaders(original, 'east', 42)
  t.same(headers.slice(0, 1), [['k', 'v']], 'the original headers come first, unchanged')
  const copy: StreamEvent = { ...original, origin: 'west2', originSeq: 3, hlc: { wallMs: 1300, logical: 0 }, headers }
  const p = provenanceOf(copy)
  t.ok(p.ok && p.value !== null && p.value.region === 'east' && p.value.shipSeq === 42 && p.value.origin === 'east1' && p.value.originSeq === 7 && p.value.hlc.wallMs === 1000)
  const twice = provenanceOf({ ...copy, headers: [...headers, [sourceHeader, formatProvenance({ region: 'x', shipSeq: 1, hlc: { wallMs: 1, logical: 0 }, origin: 'a', incarnation: 1, originSeq: 1 })]] })
  t.notOk(twice.ok, 'two Rg-Source headers are refused')
})

t.test('compression ratio on 128-byte JSON-ish events (measured)', async (t) => {
  // JSON-ish payloads of 128 bytes: repeated keys, random ids, numbers and timestamps (a seeded
  // xorshift, so the figure is the same every run), as an order stream; nuid-like event ids.
  let state = 0x9e3779b9
  const next = (): number => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return (state >>> 0) / 2 ** 32
  }
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
  const randomText = (n: number): string => Array.from({ length: n }, () => alphabet[Math.floor(next() * alphabet.length)]).join('')
  const payloadOf = (i: number): Uint8Array => {
    const text = JSON.stringify({ type: next() < 0.7 ? 'order.created' : 'order.paid', id: randomText(12), customer: `c-${Math.floor(next() * 1e6)}`, amount: Math.floor(next() * 1e6) / 100, cur: 'EUR', ts: 1700000000000 + i * 13 + Math.floor(next() * 10) })
    return new TextEncoder().encode(text.padEnd(128, ' ').slice(0, 128))
  }
  const events: StreamEvent[] = Array.from({ length: 512 }, (_, i) => ({
    stream,
    id: randomText(22),
    hlc: { wallMs: 1_700_000_000_000 + i * 3, logical: i % 3 },
    origin: `east${(i % 3) + 1}`,
    incarnation: 1,
    originSeq: 1 + Math.floor(i / 3),
    headers: [],
    payload: payloadOf(i),
  }))
  const m: ShipMessage = { kind: 'batch', stream, sourceRegion: 'east', term: 1, batchId: 1, fromSeq: 1, events }
  const raw = encodeShipMessage(m).length
  const rows: string[] = []
  for (const compression of [deflateRawCompression, brotliCompression]) {
    const bytes = encodeShipMessage(m, { compression })
    const decoded = decodeShipMessage(bytes, decodeOptions)
    t.ok(decoded.ok && decoded.value.kind === 'batch' && decoded.value.events.length === 512, `${compression.name} round-trips`)
    const ratio = bytes.length / raw
    rows.push(`${compression.name}: ${raw} → ${bytes.length} bytes (${(ratio * 100).toFixed(1)}%, ${(raw / bytes.length).toFixed(2)}×)`)
    t.ok(ratio < 0.75, `${compression.name} saves at least a quarter of a batch of JSON-ish events (${(ratio * 100).toFixed(1)}%)`)
  }
  t.comment(`batch of 512 events with 128-byte JSON payloads: ${rows.join('; ')}`)
})
