// The replica message codec (data-plane/persistent/replica/codec.ts): every kind round-trips,
// every proper prefix is refused, garbage and single-byte corruption never throw, and counts
// over their limits are refused before anything is allocated.
import fc from 'fast-check'
import t from 'tap'
import { decodeReplicaMessage, encodeReplicaMessage, replicaLimits, replicaMessageKinds } from '../../data-plane/persistent/index.js'
import type { CloseDecision, Heartbeat, ReplicaMessage, VectorEntry } from '../../data-plane/persistent/index.js'
import { eventArb, hlcArb, originArb } from './helpers.js'

const streamArb = fc.constantFrom('default/orders', 'ns/x', 'caf\u00e9/\u65e5')
const seqArb = fc.oneof(fc.nat(100), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }))
const incarnationArb = fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 2 ** 32 - 1 }))
const entryArb: fc.Arbitrary<VectorEntry> = fc.record({ origin: originArb, incarnation: incarnationArb, seq: seqArb })
const heartbeatArb: fc.Arbitrary<Heartbeat> = fc.record({ origin: originArb, incarnation: incarnationArb, seq: seqArb, hlc: hlcArb })
const decisionArb: fc.Arbitrary<CloseDecision> = fc.oneof(
  fc.record({ origin: originArb, incarnation: incarnationArb, atSeq: seqArb, controllerTerm: seqArb }),
  fc.record({ origin: originArb, incarnation: incarnationArb, atSeq: seqArb, controllerTerm: seqArb, successor: fc.record({ incarnation: incarnationArb, fromHlc: hlcArb }) }),
)

const messageArb: fc.Arbitrary<ReplicaMessage> = fc.oneof(
  fc.record({ kind: fc.constant('push' as const), stream: streamArb, events: fc.array(eventArb, { maxLength: 4 }), commit: fc.option(entryArb, { nil: null }) }),
  fc.record({ kind: fc.constant('durable' as const), stream: streamArb, entries: fc.array(entryArb, { maxLength: 5 }) }),
  fc.record({ kind: fc.constant('heartbeat' as const), stream: streamArb, heartbeat: heartbeatArb, commitSeq: seqArb }),
  fc.record({
    kind: fc.constant('digest' as const),
    stream: streamArb,
    held: fc.array(entryArb, { maxLength: 5 }),
    durable: fc.array(entryArb, { maxLength: 5 }),
    commits: fc.array(entryArb, { maxLength: 5 }),
    heartbeats: fc.array(heartbeatArb, { maxLength: 5 }),
    closesKnown: seqArb,
  }),
  fc.record({ kind: fc.constant('closes' as const), stream: streamArb, requestId: seqArb, decisions: fc.array(decisionArb, { maxLength: 4 }) }),
  fc.record({ kind: fc.constant('closes-applied' as const), stream: streamArb, requestId: seqArb, applied: seqArb, errorCode: fc.constantFrom('', 'RG_ERR_STALE_TERM', 'RG_ERR_CONFLICT'), controllerTerm: seqArb }),
  fc.record({ kind: fc.constant('fence' as const), stream: streamArb, requestId: seqArb, origin: originArb, incarnation: incarnationArb, controllerTerm: seqArb }),
  fc.record({ kind: fc.constant('fenced' as const), stream: streamArb, requestId: seqArb, origin: originArb, incarnation: incarnationArb, ok: fc.boolean(), durableSeq: seqArb, controllerTerm: seqArb }),
)

/** Plain data for deep comparison (Uint8Array payloads as arrays). */
const plain = (m: ReplicaMessage): unknown => JSON.parse(JSON.stringify(m, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v)))

t.test('every message kind round-trips', async (t) => {
  const seen = new Set<string>()
  fc.assert(
    fc.property(messageArb, (m) => {
      seen.add(m.kind)
      const decoded = decodeReplicaMessage(encodeReplicaMessage(m))
      if (!decoded.ok) throw decoded.error
      t.same(plain(decoded.value), plain(m))
    }),
    { numRuns: 2000 },
  )
  t.same([...seen].sort(), [...replicaMessageKinds].sort(), 'the generator covers every kind')
})

t.test('every proper prefix is refused with RG_ERR_MALFORMED_EVENT, trailing bytes too', async (t) => {
  fc.assert(
    fc.property(messageArb, (m) => {
      const bytes = encodeReplicaMessage(m)
      for (let n = 0; n < bytes.length; n++) {
        const decoded = decodeReplicaMessage(bytes.subarray(0, n))
        if (decoded.ok) throw new Error(`prefix of ${n}/${bytes.length} bytes of a ${m.kind} decoded`)
        if (decoded.error.code !== 'RG_ERR_MALFORMED_EVENT') throw new Error(`code ${decoded.error.code}`)
      }
      const longer = new Uint8Array(bytes.length + 1)
      longer.set(bytes)
      if (decodeReplicaMessage(longer).ok) throw new Error('a trailing byte was accepted')
    }),
    { numRuns: 300 },
  )
  t.pass()
})

t.test('garbage and single-byte corruption never throw', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      decodeReplicaMessage(bytes)
    }),
    { numRuns: 5000 },
  )
  fc.assert(
    fc.property(messageArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (m, at, xor) => {
      const bytes = encodeReplicaMessage(m)
      const i = at % bytes.length
      bytes[i] = (bytes[i] as number) ^ xor
      const decoded = decodeReplicaMessage(bytes)
      // Either refused as malformed, or a well-formed message (a flipped bit in a number or name).
      if (!decoded.ok && decoded.error.code !== 'RG_ERR_MALFORMED_EVENT') throw new Error(decoded.error.code)
    }),
    { numRuns: 3000 },
  )
  t.pass()
})

t.test('refusals: unknown version or kind, counts over limits, invalid names', async (t) => {
  const fence: ReplicaMessage = { kind: 'fence', stream: 'default/orders', requestId: 1, origin: 'n1', incarnation: 1, controllerTerm: 2 }
  const bytes = encodeReplicaMessage(fence)
  const badVersion = Uint8Array.from(bytes)
  badVersion[0] = 2
  t.match(decodeReplicaMessage(badVersion), { ok: false, error: { code: 'RG_ERR_MALFORMED_EVENT', message: /unknown codec version 2/ } })
  const badKind = Uint8Array.from(bytes)
  badKind[1] = replicaMessageKinds.length
  t.match(decodeReplicaMessage(badKind), { ok: false, error: { message: /unknown kind/ } })
  // A durable message claiming more entries than the limit: refused before reading them.
  const head = encodeReplicaMessage({ kind: 'durable', stream: 's', entries: [] })
  const over = replicaLimits.vectorEntriesMax + 1
  const claim = Uint8Array.from([...head.subarray(0, head.length - 1), 0x80 | (over & 0x7f), over >> 7])
  t.match(decodeReplicaMessage(claim), { ok: false, error: { message: /over 1024/ } })
  // A count that the remaining bytes cannot hold.
  const short = Uint8Array.from([...head.subarray(0, head.length - 1), 100])
  t.match(decodeReplicaMessage(short), { ok: false, error: { message: /cannot fit/ } })
  // An origin outside the node-id charset.
  t.throws(() => encodeReplicaMessage({ ...fence, stream: 'x'.repeat(300) }), RangeError, 'an over-long stream is a caller bug')
  const badOrigin = encodeReplicaMessage({ ...fence, stream: 's', origin: 'ab' })
  const at = badOrigin.indexOf(0x61) // 'a'
  badOrigin[at] = 0x23 // '#'
  t.match(decodeReplicaMessage(badOrigin), { ok: false, error: { message: /invalid origin/ } })
  t.throws(() => encodeReplicaMessage({ kind: 'push', stream: 's', events: [], commit: { origin: 'a', incarnation: 1, seq: -1 } }), RangeError)
})
