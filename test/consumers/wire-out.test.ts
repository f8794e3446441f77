// The delivery header block (server/consumers/wire-out.ts) is built on the hot path without
// entry arrays; these tests hold it to the reference: byte for byte `encodeHeaders` of
// `deliveryHeaderEntries` (docs/api.md § Consuming: the group's headers, then the event's own,
// the event's copies of the group's names left out), over generated events, and a header value
// that would break the block (CR/LF, from a peer or the store) is refused the same way.
import t from 'tap'
import fc from 'fast-check'
import { deliveryHeaderBlock, deliveryHeaderEntries } from '../../server/consumers/wire-out.js'
import type { StreamEvent } from '../../data-plane/persistent/index.js'
import { encodeHeaders, InvalidHeaderError } from '../../shared/protocol/index.js'

const address = { namespace: 'default', stream: 'orders', group: 'billing' }
const decoder = new TextDecoder()

function event(headers: ReadonlyArray<readonly [string, string]>, id = 'e-1'): StreamEvent {
  return { stream: 'default/orders', id, hlc: { wallMs: 1_795_000_000_000, logical: 3 }, origin: 'n1', incarnation: 1, originSeq: 7, headers, payload: new Uint8Array([1, 2, 3]) }
}

t.test('the block equals encodeHeaders of the reference entries (with and without a subject)', async (t) => {
  const cases: Array<ReadonlyArray<readonly [string, string]>> = [
    [],
    [['Rg-Subject', 'orders.eu']],
    [['Rg-Subject', 'orders.eu'], ['Trace', 'abc'], ['rg-index', 'spoofed'], ['Rg-Term', '99'], ['X', '']],
    [['Trace', 'é ☃ 𝄞']],
  ]
  for (const headers of cases) {
    const e = event(headers)
    const got = decoder.decode(deliveryHeaderBlock(address, 4, 12, 2, e))
    const want = decoder.decode(encodeHeaders({ entries: deliveryHeaderEntries(address, 4, 12, 2, e) }))
    t.equal(got, want, JSON.stringify(headers))
  }
  // The event's copies of the delivery's own headers never appear twice.
  const block = decoder.decode(deliveryHeaderBlock(address, 4, 12, 2, event([['rg-index', 'spoofed']])))
  t.notMatch(block, /spoofed/)
  t.match(block, /^NATS\/1\.0\r\nRg-Stream: default\/orders\r\nRg-Group: billing\r\nRg-Index: 12\r\nRg-Deliveries: 2\r\nRg-Msg-Id: e-1\r\nRg-Time: 1795000000000\r\nRg-Term: 4\r\n\r\n$/)
})

t.test('property: same bytes as the reference for generated headers, ids and numbers', async (t) => {
  const key = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,12}$/)
  const value = fc.string({ maxLength: 20 }).filter((v) => !v.includes('\r') && !v.includes('\n'))
  const headers = fc.array(fc.tuple(fc.oneof(key, fc.constantFrom('Rg-Subject', 'Rg-Stream', 'rg-msg-id')), value), { maxLength: 6 })
  fc.assert(
    fc.property(headers, fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/), fc.nat(), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 1_000 }), (h, id, index, deliveries, term) => {
      const e = event(h, id)
      const got = deliveryHeaderBlock(address, term, index, deliveries, e)
      const want = encodeHeaders({ entries: deliveryHeaderEntries(address, term, index, deliveries, e) })
      return decoder.decode(got) === decoder.decode(want)
    }),
    { numRuns: 500 },
  )
  t.pass('500 generated cases agree')
})

t.test('a value with CR or LF is refused (InvalidHeaderError), as encodeHeaders refuses it', async (t) => {
  t.throws(() => deliveryHeaderBlock(address, 1, 0, 1, event([['Trace', 'a\r\nRg-Index: 0']])), InvalidHeaderError)
  t.throws(() => deliveryHeaderBlock(address, 1, 0, 1, event([['Rg-Subject', 'x\ny']])), InvalidHeaderError)
  t.throws(() => deliveryHeaderBlock(address, 1, 0, 1, event([], 'id\r\nX: 1')), InvalidHeaderError)
  t.throws(() => deliveryHeaderBlock(address, 1, 0, 1, event([['Bad Key', 'v']])), InvalidHeaderError)
})
