// server/streams/publish-wire.ts: `ackBytes` (the per-publish reply, written as one template) is
// byte for byte the UTF-8 of JSON.stringify(ackJson(…)) — the reference — for any stream name,
// position, level and duplicate flag, and for refusals.
import fc from 'fast-check'
import t from 'tap'
import { PersistentRejection } from '../../data-plane/persistent/errors.js'
import type { EngineAck } from '../../data-plane/persistent/engine/index.js'
import { ackBytes, ackJson, parsePublish } from '../../server/streams/publish-wire.js'
import { decodeHeaders, encodeHeaders } from '../../shared/protocol/index.js'
import { hlcArb, originArb } from '../persistent/helpers.js'

const positionArb = fc.record({
  hlc: hlcArb,
  origin: originArb,
  incarnation: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
  originSeq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
})

const ackArb: fc.Arbitrary<EngineAck> = fc.oneof(
  fc.record({
    ok: fc.constant(true as const),
    publishId: fc.string(),
    level: fc.constantFrom('write' as const, 'majority' as const, 'all' as const),
    position: positionArb,
    duplicate: fc.boolean(),
    survivor: fc.option(positionArb, { nil: null }),
  }),
  fc.record({
    ok: fc.constant(false as const),
    publishId: fc.string(),
    error: fc.tuple(fc.constantFrom('RG_ERR_NOT_READY' as const, 'RG_ERR_STORAGE_IO' as const), fc.string({ unit: 'binary' })).map(([code, message]) => new PersistentRejection(code, message)),
  }),
)

const reference = (stream: string, ack: EngineAck): string => Buffer.from(JSON.stringify(ackJson(stream, ack)), 'utf8').toString('hex')

t.test('property: ackBytes = UTF-8 of JSON.stringify(ackJson)', async () => {
  fc.assert(
    fc.property(fc.oneof(fc.constantFrom('default/orders', 'a'), fc.string({ unit: 'binary', minLength: 1, maxLength: 30 })), ackArb, (stream, ack) => Buffer.from(ackBytes(stream, ack)).toString('hex') === reference(stream, ack)),
    { numRuns: 3000 },
  )
})

t.test('an ack parses back to the fields a client reads', async (t) => {
  const ack: EngineAck = { ok: true, publishId: 'p1', level: 'majority', position: { hlc: { wallMs: 1_700_000_000_123, logical: 7 }, origin: 'n1', incarnation: 2, originSeq: 42 }, duplicate: false, survivor: null }
  const parsed = JSON.parse(Buffer.from(ackBytes('default/orders', ack)).toString('utf8')) as Record<string, unknown>
  t.same(parsed, { ok: true, stream: 'default/orders', position: parsed.position, origin: 'n1', incarnation: 2, seq: 42, hlc: { wallMs: 1_700_000_000_123, logical: 7 }, duplicate: false, level: 'majority' })
  t.match(parsed.position, /^[0-9a-f]+$/)
})

t.test('property: parsePublish with the decoded headers (as the router passes them) = parsePublish decoding the block', async () => {
  const headerArb = fc.array(
    fc.tuple(
      fc.oneof(fc.constantFrom('Rg-Msg-Id', 'rg-ack', 'Rg-Timeout-Ms', 'Rg-Subject', 'X-Other'), fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,8}$/)),
      fc.oneof(fc.constantFrom('', 'write', 'MAJORITY', 'all', 'bogus'), fc.stringMatching(/^[ -~]{0,12}$/)),
    ),
    { maxLength: 5 },
  )
  fc.assert(
    fc.property(headerArb, (entries) => {
      const block = encodeHeaders({ entries })
      const decoded = decodeHeaders(block)
      if (!decoded.ok) return false
      return JSON.stringify(parsePublish('orders.eu', block, 'majority', decoded.headers)) === JSON.stringify(parsePublish('orders.eu', block, 'majority'))
    }),
    { numRuns: 2000 },
  )
})
