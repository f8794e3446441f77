// The event codec's hot-path form (issue #5): encodeEvent writes UTF-8 itself into one buffer
// and keeps the bytes per event object, decodeEvent keeps one copy of what it read, and
// storageKeyHex builds the ack's position without the key bytes. Each is checked against a naive
// reference: the TextEncoder-per-field encoder this codec had before, and hex(encodeStorageKey).
import fc from 'fast-check'
import t from 'tap'
import { decodeEvent, encodeEvent, encodeStorageKey, storageKeyHex } from '../../data-plane/persistent/event.js'
import type { StreamEvent } from '../../data-plane/persistent/event.js'
import { encodeHlc, hlcBytes } from '../../data-plane/persistent/hlc.js'
import { eventArb, hlcArb, originArb } from './helpers.js'

const encoder = new TextEncoder()

/** The reference: one TextEncoder call per string, fields concatenated (the codec's layout). */
function referenceEncode(e: StreamEvent): Uint8Array {
  const parts: number[] = [1]
  const u = (bytes: number, v: number): void => {
    for (let i = bytes - 1; i >= 0; i--) parts.push(Math.floor(v / 2 ** (8 * i)) % 256)
  }
  parts.push(...encodeHlc(e.hlc))
  u(4, e.incarnation)
  u(8, e.originSeq)
  const origin = encoder.encode(e.origin)
  u(1, origin.length)
  parts.push(...origin)
  for (const [width, text] of [[2, e.stream], [2, e.id]] as const) {
    const bytes = encoder.encode(text)
    u(width, bytes.length)
    parts.push(...bytes)
  }
  u(2, e.headers.length)
  for (const [k, v] of e.headers) {
    const key = encoder.encode(k)
    const value = encoder.encode(v)
    u(2, key.length)
    parts.push(...key)
    u(4, value.length)
    parts.push(...value)
  }
  u(4, e.payload.length)
  parts.push(...e.payload)
  return Uint8Array.from(parts)
}

/** Any UTF-16 string, lone surrogates included (they encode as U+FFFD, as TextEncoder does). */
const anyText = (minLength: number, maxLength: number): fc.Arbitrary<string> => fc.string({ unit: 'binary', minLength, maxLength })

const unicodeEventArb: fc.Arbitrary<StreamEvent> = fc.record({
  stream: anyText(1, 40),
  id: anyText(1, 40),
  hlc: hlcArb,
  origin: originArb,
  incarnation: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
  originSeq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  headers: fc.array(fc.tuple(anyText(1, 12), anyText(0, 24)), { maxLength: 4 }),
  payload: fc.uint8Array({ maxLength: 64 }),
})

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

t.test('property: encodeEvent writes exactly the reference bytes (any UTF-16, lone surrogates too)', async () => {
  fc.assert(
    fc.property(unicodeEventArb, (e) => hex(encodeEvent(e)) === hex(referenceEncode(e))),
    { numRuns: 3000 },
  )
})

t.test('encodeEvent: once per event object; an equal object encodes to equal bytes', async (t) => {
  fc.assert(
    fc.property(eventArb, (e) => {
      const first = encodeEvent(e)
      const again = encodeEvent(e)
      const clone = encodeEvent({ ...e })
      return first === again && clone !== first && hex(clone) === hex(first)
    }),
    { numRuns: 500 },
  )
  const valid = fc.sample(eventArb, 1)[0] as StreamEvent
  t.throws(() => encodeEvent({ ...valid, id: '' }), /id/, 'an invalid event is still refused')
})

t.test('decodeEvent keeps its own copy: encodeEvent returns it; later changes to the input do not reach the event', async () => {
  fc.assert(
    fc.property(unicodeEventArb, fc.nat(), (e, at) => {
      const wire = encodeEvent({ ...e }).slice()
      // As a peer's frame holds it: a view into a larger buffer.
      const frame = new Uint8Array(wire.length + 7)
      frame.set(wire, 3)
      const view = frame.subarray(3, 3 + wire.length)
      const decoded = decodeEvent(view)
      if (!decoded.ok) return false
      const kept = encodeEvent(decoded.value)
      if (kept === view || kept.buffer === frame.buffer || hex(kept) !== hex(wire)) return false
      const payloadBefore = hex(decoded.value.payload)
      const flip = 3 + (at % wire.length)
      frame[flip] = (frame[flip] as number) ^ 0xff
      return hex(encodeEvent(decoded.value)) === hex(wire) && hex(decoded.value.payload) === payloadBefore && payloadBefore === hex(e.payload)
    }),
    { numRuns: 1000 },
  )
})

t.test('property: storageKeyHex = hex(encodeStorageKey)', async (t) => {
  fc.assert(
    fc.property(eventArb, (e) => storageKeyHex(e) === hex(encodeStorageKey(e))),
    { numRuns: 3000 },
  )
  const edge = { hlc: { wallMs: 2 ** 48 - 1, logical: 2 ** 16 - 1 }, origin: 'z_-9', incarnation: 2 ** 32 - 1, originSeq: Number.MAX_SAFE_INTEGER }
  t.equal(storageKeyHex(edge), hex(encodeStorageKey(edge)))
  t.equal(storageKeyHex(edge).length, 2 * (hlcBytes + 4 + 1 + 4 + 8))
})
