// Event codec (round trip; truncation and garbage refused with a typed error) and the storage
// key (round trip; RocksDB byte order = delivery order).
import fc from 'fast-check'
import t from 'tap'
import {
  MalformedEventError,
  compareBytes,
  compareEventOrder,
  decodeEvent,
  decodeStorageKey,
  encodeEvent,
  encodeStorageKey,
} from '../../data-plane/persistent/index.js'
import { event, eventArb } from './helpers.js'

t.test('property: encode → decode is the identity', async () => {
  fc.assert(
    fc.property(eventArb, (e) => {
      const back = decodeEvent(encodeEvent(e))
      if (!back.ok) return false
      const b = back.value
      return (
        b.stream === e.stream && b.id === e.id && compareEventOrder(b, e) === 0 && JSON.stringify(b.headers) === JSON.stringify(e.headers) && Buffer.from(b.payload).equals(Buffer.from(e.payload))
      )
    }),
    { numRuns: 1000 },
  )
})

t.test('property: every truncation and any trailing byte is refused', async () => {
  fc.assert(
    fc.property(eventArb, fc.integer({ min: 0, max: 255 }), (e, extra) => {
      const bytes = encodeEvent(e)
      for (let n = 0; n < bytes.length; n++) {
        const r = decodeEvent(bytes.subarray(0, n))
        if (r.ok || !(r.error instanceof MalformedEventError) || r.error.code !== 'RG_ERR_MALFORMED_EVENT') return false
      }
      const longer = new Uint8Array(bytes.length + 1)
      longer.set(bytes)
      longer[bytes.length] = extra
      return !decodeEvent(longer).ok
    }),
    { numRuns: 150 },
  )
})

t.test('property: garbage never throws; what decodes re-encodes to the same bytes', async () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const r = decodeEvent(bytes)
      // A fresh object: encodeEvent(r.value) would return the bytes decodeEvent kept.
      return r.ok ? Buffer.from(encodeEvent({ ...r.value })).equals(Buffer.from(bytes)) : r.error instanceof MalformedEventError
    }),
    { numRuns: 3000 },
  )
  // Single-byte corruptions of valid events: never a throw.
  fc.assert(
    fc.property(eventArb, fc.nat(), fc.integer({ min: 0, max: 255 }), (e, at, value) => {
      const bytes = encodeEvent(e).slice() // encodeEvent's bytes are shared: never modified
      bytes[at % bytes.length] = value
      const r = decodeEvent(bytes)
      return r.ok || r.error instanceof MalformedEventError
    }),
    { numRuns: 2000 },
  )
})

t.test('invalid fields: refused at encode (caller bug) and at decode (named)', async (t) => {
  const good = event({ origin: 'n1', originSeq: 1, hlc: { wallMs: 1, logical: 0 }, id: 'x' })
  const cases: Array<[string, Partial<typeof good>, RegExp]> = [
    ['origin with a dot', { origin: 'n.1' }, /origin/],
    ['empty id', { id: '' }, /id/],
    ['sequence 0', { originSeq: 0 }, /originSeq/],
    ['incarnation 0', { incarnation: 0 }, /incarnation/],
    ['empty stream', { stream: '' }, /stream/],
    ['header without key', { headers: [['', 'v']] }, /header key/],
  ]
  for (const [name, patch, reason] of cases) {
    t.throws(() => encodeEvent({ ...good, ...patch }), reason, name)
  }
  // Decode: an unknown version byte, and invalid UTF-8 inside the id.
  const bytes = encodeEvent(good)
  const badVersion = bytes.slice()
  badVersion[0] = 9
  const r1 = decodeEvent(badVersion)
  t.match(!r1.ok && r1.error.message, /unknown codec version 9/)
  const idAt = bytes.length - 2 - 4 - good.payload.length - 1 // last byte of the id ('x')
  t.equal(bytes[idAt], 'x'.charCodeAt(0))
  const badUtf8 = bytes.slice()
  badUtf8[idAt] = 0xff
  const r2 = decodeEvent(badUtf8)
  t.equal(r2.ok, false, 'invalid UTF-8 is refused')
})

t.test('property: storage key round-trips and its byte order is delivery order', async () => {
  fc.assert(
    fc.property(eventArb, eventArb, (a, b) => {
      const ka = encodeStorageKey(a)
      const kb = encodeStorageKey(b)
      const back = decodeStorageKey(ka)
      return back.ok && compareEventOrder(back.value, a) === 0 && Math.sign(compareBytes(ka, kb)) === Math.sign(compareEventOrder(a, b))
    }),
    { numRuns: 3000 },
  )
})

t.test('storage key: a prefix origin sorts first; same hlc orders by origin, incarnation, sequence', async (t) => {
  const hlc = { wallMs: 7, logical: 0 }
  const keys = [
    { hlc, origin: 'a', incarnation: 1, originSeq: 2 },
    { hlc, origin: 'ab', incarnation: 1, originSeq: 1 },
    { hlc, origin: 'a', incarnation: 2, originSeq: 1 },
    { hlc, origin: 'a', incarnation: 1, originSeq: 10 },
  ]
  const byBytes = [...keys].sort((x, y) => compareBytes(encodeStorageKey(x), encodeStorageKey(y)))
  t.same(byBytes.map((k) => `${k.origin}#${k.incarnation}#${k.originSeq}`), ['a#1#2', 'a#1#10', 'a#2#1', 'ab#1#1'])
  t.equal(decodeStorageKey(new Uint8Array(12)).ok, false)
})
