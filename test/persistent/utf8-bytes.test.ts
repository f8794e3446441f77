// utf8Bytes (data-plane/persistent/event.ts) counts what TextEncoder would produce, for any
// string: ASCII, 2- and 3-byte characters, surrogate pairs and lone surrogates.
import t from 'tap'
import fc from 'fast-check'
import { utf8Bytes } from '../../data-plane/persistent/event.js'

const encoder = new TextEncoder()

t.test('utf8Bytes equals TextEncoder length', async (t) => {
  for (const s of ['', 'orders', 'é', '€', '😀', '\ud800', '\udc00x', 'a\ud83d', '\ud83d\ude00\ud83d']) {
    t.equal(utf8Bytes(s), encoder.encode(s).length, JSON.stringify(s))
  }
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (s) => utf8Bytes(s) === encoder.encode(s).length),
    { numRuns: 2_000 },
  )
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 32 }), (codes) => {
      const s = String.fromCharCode(...codes)
      return utf8Bytes(s) === encoder.encode(s).length
    }),
    { numRuns: 2_000 },
  )
})
