// The `data` channel envelope (server/streams/data-envelope.ts): every kind round-trips; a
// truncated, extended or random frame is a decode error, never a throw; lengths past their
// limits are refused before allocating; and the forward target order puts reachable replicas
// first, rotated.
import fc from 'fast-check'
import t from 'tap'
import { decodeEnvelope, encodeAnswer, encodeClaim, encodeForward, encodeReplicaEnvelope, envelopeKinds } from '../../server/streams/data-envelope.js'
import type { DataEnvelope } from '../../server/streams/data-envelope.js'
import { forwardOrder } from '../../server/streams/forwarder.js'

const hlc = fc.record({ wallMs: fc.integer({ min: 0, max: 2 ** 48 - 1 }), logical: fc.integer({ min: 0, max: 65_535 }) })
const name = fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/)
const position = fc.record({ hlc, origin: name, incarnation: fc.integer({ min: 1, max: 2 ** 32 - 1 }), originSeq: fc.nat() })
const forward = fc.record({
  requestId: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  stream: name,
  id: fc.string({ minLength: 1, maxLength: 40 }),
  ackLevel: fc.constantFrom('write' as const, 'majority' as const, 'all' as const),
  headers: fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), fc.string({ maxLength: 30 })), { maxLength: 5 }),
  payload: fc.uint8Array({ maxLength: 200 }),
})
const okAnswer = fc.record({ requestId: fc.nat(), level: fc.constantFrom('write' as const, 'majority' as const, 'all' as const), position, duplicate: fc.boolean(), survivor: fc.option(position, { nil: null }) })
const failedAnswer = fc.record({ requestId: fc.nat(), code: fc.constantFrom('RG_ERR_INVALID_STATE', 'RG_ERR_NOT_FOUND'), message: fc.string({ maxLength: 50 }) })
const claim = fc.record({ stream: name, origin: name, incarnation: fc.integer({ min: 1, max: 1000 }), fromHlc: hlc })

const arbitraryFrame: fc.Arbitrary<[Uint8Array, DataEnvelope]> = fc.oneof(
  forward.map((f): [Uint8Array, DataEnvelope] => [encodeForward(f), { kind: 'forward', ...f }]),
  okAnswer.map((a): [Uint8Array, DataEnvelope] => [encodeAnswer({ kind: 'answer', ok: true, ...a }), { kind: 'answer', ok: true, ...a }]),
  failedAnswer.map((a): [Uint8Array, DataEnvelope] => [encodeAnswer({ kind: 'answer', ok: false, ...a }), { kind: 'answer', ok: false, ...a }]),
  claim.map((c): [Uint8Array, DataEnvelope] => [encodeClaim(c), { kind: 'claim', ...c }]),
)

t.test('every kind round-trips', async (t) => {
  fc.assert(
    fc.property(arbitraryFrame, ([bytes, expected]) => {
      const decoded = decodeEnvelope(bytes)
      if (!decoded.ok) throw new Error(decoded.error)
      t.same(decoded.value, expected)
    }),
    { numRuns: 300 },
  )
  const replica = decodeEnvelope(encodeReplicaEnvelope(Uint8Array.of(9, 8, 7)))
  t.same(replica.ok && replica.value, { kind: 'replica', bytes: Uint8Array.of(9, 8, 7) })
})

t.test('every strict prefix, a trailing byte and random bytes: an error, never a throw', async (t) => {
  fc.assert(
    fc.property(arbitraryFrame, ([bytes]) => {
      for (let length = 0; length < bytes.length; length++) if (decodeEnvelope(bytes.subarray(0, length)).ok) throw new Error(`prefix of ${length} bytes decoded`)
      const extended = new Uint8Array(bytes.length + 1)
      extended.set(bytes)
      if (decodeEnvelope(extended).ok) throw new Error('a trailing byte decoded')
    }),
    { numRuns: 100 },
  )
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => void decodeEnvelope(bytes)))
  t.same(decodeEnvelope(Uint8Array.of(99)), { ok: false, error: 'unknown envelope kind 99' })
})

t.test('lengths past their limits are refused before reading them', async (t) => {
  const huge = new Uint8Array([envelopeKinds.claim, 0xff, 0xff, 0xff, 0xff])
  const result = decodeEnvelope(huge)
  t.equal(result.ok, false)
  t.match(!result.ok && result.error, /over the limit/)
})

t.test('forward order: reachable replicas first, each group rotated, never this node', async (t) => {
  const replicas = ['n1', 'n2', 'n3', 'n4']
  t.same(forwardOrder(replicas, new Set(['n3', 'n4']), 'n1', 0), ['n3', 'n4', 'n2'])
  t.same(forwardOrder(replicas, new Set(['n3', 'n4']), 'n1', 1), ['n4', 'n3', 'n2'])
  t.same(forwardOrder(replicas, new Set(), 'n9', 2), ['n3', 'n4', 'n1', 'n2'])
})
