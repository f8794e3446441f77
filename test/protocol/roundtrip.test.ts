// encode → parse identity, property-tested: any op the encoder accepts parses back to itself,
// whole, one byte at a time and at arbitrary cut points.
import fc from 'fast-check'
import t from 'tap'
import { encodeOp } from '../../shared/protocol/encoder.js'
import { NatsHeaders } from '../../shared/protocol/headers.js'
import type { ProtocolOp } from '../../shared/protocol/types.js'
import { chunksAt, feed, normalize, oneByteChunks } from './fixtures/feed.js'

/** Tokens without whitespace or control characters, including non-ASCII and wildcard-ish bytes. */
const tokenArb = fc
  .string({ unit: fc.constantFrom('a', 'B', 'z', '0', '9', '.', '*', '>', '_', '-', '$', '#', ':', '/', '\u00e9', '\u65e5', '\u{1F600}'), minLength: 1, maxLength: 24 })
const sidArb = fc.oneof(fc.nat().map(String), tokenArb)
const optionalArb = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arb, { nil: undefined })

const headerKeyArb = fc.string({ unit: fc.constantFrom('A', 'b', 'X', '-', '_', '1', 'Nats', '\u00e9'), minLength: 1, maxLength: 12 })
// Values keep their trailing spaces; a leading space is dropped by the decoder (documented).
const headerValueArb = fc
  .string({ unit: fc.constantFrom('v', ' ', ':', 'W', '9', '\t', '\u00e9', '"'), maxLength: 16 })
  .filter((v) => !v.startsWith(' ') && !v.startsWith('\t'))
const keysArb = fc.array(headerKeyArb, { minLength: 1, maxLength: 3 })
const headersArb = keysArb.chain((keys) =>
  fc
    .record({
      // Repeated keys on purpose: entries draw their keys from a small pool.
      entries: fc.array(fc.tuple(fc.constantFrom(...keys), headerValueArb), { maxLength: 8 }),
      status: optionalArb(fc.integer({ min: 100, max: 999 })),
      description: optionalArb(fc.string({ unit: fc.constantFrom('N', 'o', ' ', 'R', 's'), minLength: 1, maxLength: 20 })),
    })
    .map(({ entries, status, description }) => {
      const trimmed = description?.trim()
      return new NatsHeaders(entries, status, status === undefined || trimmed === '' ? undefined : trimmed)
    }),
)
const payloadArb = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.constant(new Uint8Array([13, 10])),
  fc.constant(new Uint8Array(0)),
  fc.uint8Array({ minLength: 1000, maxLength: 5000 }),
)

const serverBound: fc.Arbitrary<ProtocolOp> = fc.oneof(
  fc.record({ op: fc.constant('PUB' as const), subject: tokenArb, replyTo: optionalArb(tokenArb), payload: payloadArb }),
  fc.record({ op: fc.constant('HPUB' as const), subject: tokenArb, replyTo: optionalArb(tokenArb), headers: headersArb, payload: payloadArb }),
  fc.record({ op: fc.constant('SUB' as const), subject: tokenArb, queue: optionalArb(tokenArb), sid: sidArb }),
  fc.record({ op: fc.constant('UNSUB' as const), sid: sidArb, maxMsgs: optionalArb(fc.nat()) }),
  fc.constant({ op: 'PING' as const }),
  fc.constant({ op: 'PONG' as const }),
  fc
    .record({ name: optionalArb(fc.string()), echo: optionalArb(fc.boolean()), protocol: optionalArb(fc.nat(2)), pass: optionalArb(fc.string()) })
    .map((fields) => {
      const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined))
      return { op: 'CONNECT' as const, options: { ...defined, raw: { ...defined, jwt: 'x\r\ny' } } }
    }),
)

const clientBound: fc.Arbitrary<ProtocolOp> = fc.oneof(
  fc.record({ op: fc.constant('MSG' as const), subject: tokenArb, sid: sidArb, replyTo: optionalArb(tokenArb), payload: payloadArb }),
  fc.record({ op: fc.constant('HMSG' as const), subject: tokenArb, sid: sidArb, replyTo: optionalArb(tokenArb), headers: headersArb, payload: payloadArb }),
  fc.constant({ op: 'PING' as const }),
  fc.constant({ op: 'PONG' as const }),
  fc.constant({ op: 'OK' as const }),
  fc.record({ op: fc.constant('ERR' as const), message: fc.string().filter((m) => !/[\r\n]/.test(m) && m.trim() === m) }),
  fc.record({ server_id: fc.string(), port: fc.nat(65535), max_payload: fc.nat(), extra: fc.string() }).map((f) => ({
    op: 'INFO' as const,
    info: { server_name: 'n', version: '2', proto: 1, host: 'h', headers: true, ...f },
  })),
)

function concat(frames: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0))
  let offset = 0
  for (const f of frames) {
    out.set(f, offset)
    offset += f.length
  }
  return out
}

for (const [role, arb] of [['server', serverBound], ['client', clientBound]] as const) {
  t.test(`encode → parse identity (${role} parser)`, async (t) => {
    fc.assert(
      fc.property(fc.array(arb, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 10 }), (ops, cutSeeds) => {
        const input = concat(ops.map(encodeOp))
        const expected = ops.map(normalize)
        const whole = feed({ role }, [input])
        if (whole.error !== undefined) throw new Error(`parse error ${whole.error}`)
        t.strictSame(whole.ops, expected)
        const cuts = cutSeeds.map((s) => s % (input.length + 1))
        t.strictSame(feed({ role }, chunksAt(input, cuts)).ops, expected)
        if (input.length < 2000) t.strictSame(feed({ role }, oneByteChunks(input)).ops, expected)
      }),
      { numRuns: 300 },
    )
  })
}
