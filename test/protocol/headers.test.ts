// NATS/1.0 header blocks: encode, decode, lookup helpers and validation.
import t from 'tap'
import {
  InvalidHeaderError,
  NatsHeaders,
  decodeHeaders,
  encodeHeaders,
  headerGet,
  headerValues,
  headersFrom,
} from '../../shared/protocol/headers.js'
import { bytes } from './fixtures/feed.js'

const text = (b: Uint8Array): string => new TextDecoder().decode(b)

t.test('encode: version line, repeated keys, case kept, blank line at the end', async (t) => {
  const h = headersFrom([['Nats-Msg-Id', 'a1'], ['X', '1'], ['x', '2'], ['X', '3']])
  t.equal(text(encodeHeaders(h)), 'NATS/1.0\r\nNats-Msg-Id: a1\r\nX: 1\r\nx: 2\r\nX: 3\r\n\r\n')
  t.equal(text(encodeHeaders(new NatsHeaders([], 503))), 'NATS/1.0 503\r\n\r\n', 'status only')
  t.equal(text(encodeHeaders(new NatsHeaders([], 408, 'Request Timeout'))), 'NATS/1.0 408 Request Timeout\r\n\r\n')
  t.equal(text(encodeHeaders(new NatsHeaders([]))), 'NATS/1.0\r\n\r\n', 'empty block')
})

t.test('headersFrom a record: arrays become repeated keys', async (t) => {
  const h = headersFrom({ A: ['1', '2'], b: 'x' }, 200)
  t.strictSame(h.entries, [['A', '1'], ['A', '2'], ['b', 'x']])
  t.equal(h.status, 200)
})

t.test('lookup is case-insensitive; values keeps order', async (t) => {
  const h = headersFrom([['Trace', 'a'], ['TRACE', 'b'], ['other', 'c']])
  t.equal(h.get('trace'), 'a')
  t.strictSame(h.values('tRaCe'), ['a', 'b'])
  t.equal(h.get('missing'), undefined)
  t.strictSame(h.values('missing'), [])
  const plain = { entries: [['K', 'v']] as const }
  t.equal(headerGet(plain, 'k'), 'v', 'free functions work on plain MsgHeaders')
  t.strictSame(headerValues(plain, 'K'), ['v'])
})

t.test('decode: trims leading value space only, keeps empty values, status and description', async (t) => {
  const r = decodeHeaders(bytes('NATS/1.0 503 No Responders\r\nA:   x y  \r\nB:\r\nC:v\r\n\r\n'))
  t.ok(r.ok)
  if (!r.ok) return
  t.equal(r.headers.status, 503)
  t.equal(r.headers.description, 'No Responders')
  t.strictSame(r.headers.entries, [['A', 'x y  '], ['B', ''], ['C', 'v']])
  const statusOnly = decodeHeaders(bytes('NATS/1.0 404\r\n\r\n'))
  t.ok(statusOnly.ok && statusOnly.headers.status === 404 && statusOnly.headers.description === undefined)
})

t.test('decode rejects malformed blocks with a reason', async (t) => {
  const bad = [
    'NATS/1.0\r\n',
    'NATS/1.0\r\nA: 1\r\n',
    'HTTP/1.0\r\n\r\n',
    'NATS/1.0x\r\n\r\n',
    'NATS/1.0 abc\r\n\r\n',
    'NATS/1.0\r\nnocolon\r\n\r\n',
    'NATS/1.0\r\n: v\r\n\r\n',
    'NATS/1.0\r\nA B: v\r\n\r\n',
    'NATS/1.0\r\nA: v\nB: w\r\n\r\n',
    'NATS/1.0\r\n\r\nA: v\r\n\r\n',
    '',
  ]
  for (const block of bad) {
    const r = decodeHeaders(bytes(block))
    t.notOk(r.ok, JSON.stringify(block))
    if (!r.ok) t.ok(r.reason.length > 0)
  }
})

t.test('encode validates keys, values and status with a clear error', async (t) => {
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['colon in key', () => headersFrom([['a:b', 'v']]), /contains ':'/],
    ['space in key', () => headersFrom([['a b', 'v']]), /whitespace/],
    ['CR in key', () => headersFrom([['a\r', 'v']]), /whitespace or a control/],
    ['empty key', () => headersFrom([['', 'v']]), /empty/],
    ['LF in value', () => headersFrom([['a', 'x\ny']]), /CR or LF/],
    ['CR in value', () => encodeHeaders(new NatsHeaders([['a', 'x\ry']])), /CR or LF/],
    ['bad status', () => encodeHeaders(new NatsHeaders([], 1000)), /0\.\.999/],
    ['description without status', () => encodeHeaders(new NatsHeaders([], undefined, 'x')), /without a status/],
  ]
  for (const [name, fn, message] of cases) {
    t.throws(fn, message, name)
    try {
      fn()
    } catch (error) {
      t.ok(error instanceof InvalidHeaderError && error.code === 'RG_ERR_INVALID_HEADER', `${name}: typed error`)
    }
  }
})
