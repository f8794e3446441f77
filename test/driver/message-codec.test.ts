// Raft message codec: property round trips over arbitrary messages, every truncation of a valid
// encoding rejected cleanly, corruption never crashes, hostile counts never allocate.
import t from 'tap'
import fc from 'fast-check'
import { decodeMessage, encodeMessage, messageCodecVersion, nodeIdBytesMax } from '../../control-plane/driver/message-codec.js'
import type { Entry, Message, Snapshot } from '../../control-plane/raft/types.js'
import { entryTypes, messageTypes } from '../../control-plane/raft/types.js'

const nodeIdArb = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String), fc.string({ maxLength: 20 }))
const counterArb = fc.oneof(fc.nat({ max: 1000 }), fc.maxSafeNat())
const bytesArb = fc.uint8Array({ maxLength: 64 })

const entryArb: fc.Arbitrary<Entry> = fc.record({
  term: counterArb,
  index: counterArb,
  type: fc.constantFrom(...entryTypes),
  data: bytesArb,
})

const snapshotArb: fc.Arbitrary<Snapshot> = fc.record({
  metadata: fc.record({
    index: counterArb,
    term: counterArb,
    confState: fc.record({
      voters: fc.array(nodeIdArb, { maxLength: 5 }),
      learners: fc.array(nodeIdArb, { maxLength: 3 }),
      votersOutgoing: fc.array(nodeIdArb, { maxLength: 5 }),
    }),
  }),
  data: fc.uint8Array({ maxLength: 300 }),
})

const messageArb: fc.Arbitrary<Message> = fc
  .record({
    type: fc.constantFrom(...messageTypes),
    to: nodeIdArb,
    from: nodeIdArb,
    term: counterArb,
    index: counterArb,
    logTerm: counterArb,
    entries: fc.array(entryArb, { maxLength: 6 }),
    commit: counterArb,
    reject: fc.boolean(),
    rejectHint: counterArb,
    rejectHintTerm: counterArb,
    snapshot: fc.option(snapshotArb, { nil: undefined }),
    context: fc.option(bytesArb, { nil: undefined }),
  })
  .map((m) => {
    // Absent optional fields are absent keys, as the decoder produces them.
    const { snapshot, context, ...rest } = m
    return { ...rest, ...(snapshot === undefined ? {} : { snapshot }), ...(context === undefined ? {} : { context }) }
  })

const sampleMessage: Message = {
  type: 'app',
  to: '18446744073709551615',
  from: '42',
  term: 7,
  index: 100,
  logTerm: 6,
  entries: [
    { term: 7, index: 101, type: 'normal', data: new TextEncoder().encode('put x=1') },
    { term: 7, index: 102, type: 'confChange', data: Uint8Array.of(1, 2, 3) },
  ],
  commit: 99,
  reject: false,
  rejectHint: 0,
  rejectHintTerm: 0,
  snapshot: { metadata: { index: 90, term: 5, confState: { voters: ['1', '2', '3'], learners: ['4'], votersOutgoing: [] } }, data: Uint8Array.of(9, 9) },
  context: Uint8Array.of(0xca, 0xfe),
}

t.test('a full message round trips; the first byte is the format version', async (t) => {
  const bytes = encodeMessage(sampleMessage)
  t.equal(bytes[0], messageCodecVersion)
  t.same(decodeMessage(bytes), { ok: true, message: sampleMessage })
})

t.test('property: arbitrary messages round trip exactly', async () => {
  fc.assert(
    fc.property(messageArb, (message) => {
      const result = decodeMessage(encodeMessage(message))
      if (!result.ok) throw result.error
      if (JSON.stringify(normalize(result.message)) !== JSON.stringify(normalize(message))) throw new Error('round trip differs')
    }),
    { numRuns: 500 },
  )
})

function normalize(message: Message): unknown {
  return JSON.parse(JSON.stringify(message, (_key, value: unknown) => (value instanceof Uint8Array ? { bytes: [...value] } : value)))
}

t.test('every truncation of a valid encoding is rejected as truncated', async (t) => {
  const bytes = encodeMessage(sampleMessage)
  let rejected = 0
  for (let cut = 0; cut < bytes.byteLength; cut += 1) {
    const result = decodeMessage(bytes.subarray(0, cut))
    if (result.ok) t.fail(`truncated to ${cut} of ${bytes.byteLength} bytes decoded`)
    else if (result.error.kind !== 'truncated') t.fail(`cut ${cut}: ${result.error.message}`)
    else rejected += 1
  }
  t.equal(rejected, bytes.byteLength, `all ${bytes.byteLength} truncations rejected`)
})

t.test('property: every truncation of arbitrary messages is rejected cleanly', async () => {
  fc.assert(
    fc.property(messageArb, (message) => {
      const bytes = encodeMessage(message)
      for (let cut = 0; cut < bytes.byteLength; cut += 1) {
        const result = decodeMessage(bytes.subarray(0, cut))
        if (result.ok) throw new Error(`cut at ${cut} decoded`)
      }
    }),
    { numRuns: 100 },
  )
})

t.test('property: corrupted bytes decode or fail with a MessageCodecError, never throw', async () => {
  fc.assert(
    fc.property(messageArb, fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 5 }), (message, edits) => {
      const bytes = encodeMessage(message)
      for (const edit of edits) bytes[edit.at % bytes.byteLength] = edit.value
      const result = decodeMessage(bytes)
      if (!result.ok && !(result.error.message.startsWith('raft message '))) throw new Error('unclear error')
    }),
    { numRuns: 1000 },
  )
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      decodeMessage(bytes)
    }),
    { numRuns: 1000 },
  )
})

t.test('hostile inputs: clear errors, no huge allocation', async (t) => {
  const header = [messageCodecVersion, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]
  // entry count 2^49 in a 20-byte buffer
  const hugeCount = Uint8Array.of(...header, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)
  t.match(decodeMessage(hugeCount), { ok: false, error: { kind: 'truncated', message: /entry count of \d+ cannot fit/ } })
  const longVarint = Uint8Array.of(messageCodecVersion, 3, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)
  t.match(decodeMessage(longVarint), { ok: false, error: { kind: 'corrupt', message: /longer than 8 bytes/ } })
  const overSafe = Uint8Array.of(messageCodecVersion, 3, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)
  t.match(decodeMessage(overSafe), { ok: false, error: { kind: 'corrupt', message: /exceeds 2\^53 - 1/ } })
  const longId = Uint8Array.of(messageCodecVersion, 3, 0, 0x81, 0x10)
  t.match(decodeMessage(longId), { ok: false, error: { kind: 'corrupt', message: new RegExp(`exceeds ${nodeIdBytesMax}`) } })
  t.match(decodeMessage(Uint8Array.of(2)), { ok: false, error: { kind: 'unsupportedVersion', message: /format version 2/ } })
  t.match(decodeMessage(Uint8Array.of(messageCodecVersion, 200)), { ok: false, error: { kind: 'corrupt', message: /unknown message type 200/ } })
  t.match(decodeMessage(Uint8Array.of(messageCodecVersion, 0, 0x80)), { ok: false, error: { kind: 'corrupt', message: /unknown flags/ } })
  const trailing = Uint8Array.of(...encodeMessage(sampleMessage), 0)
  t.match(decodeMessage(trailing), { ok: false, error: { kind: 'corrupt', message: /1 trailing bytes/ } })
  t.match(decodeMessage(Uint8Array.of(messageCodecVersion, 3, 0, 1, 0xff)), { ok: false, error: { kind: 'corrupt', message: /UTF-8/ } })
})

t.test('encoding a value outside the contract is a bug and throws', async (t) => {
  t.throws(() => encodeMessage({ ...sampleMessage, term: -1 }), RangeError)
  t.throws(() => encodeMessage({ ...sampleMessage, index: 1.5 }), RangeError)
  t.throws(() => encodeMessage({ ...sampleMessage, to: 'x'.repeat(nodeIdBytesMax + 1) }), RangeError)
})
