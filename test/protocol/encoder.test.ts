// Encoder: exact bytes for every op and the hot-path header lines.
import t from 'tap'
import {
  ProtocolEncodeError,
  encodeErr,
  encodeHmsgHeader,
  encodeHpubHeader,
  encodeMsgHeader,
  encodeOp,
  encodePubHeader,
} from '../../shared/protocol/encoder.js'
import { headersFrom } from '../../shared/protocol/headers.js'
import { bytes } from './fixtures/feed.js'

const text = (b: Uint8Array): string => new TextDecoder().decode(b)

t.test('every op encodes to its exact NATS frame', async (t) => {
  const payload = bytes('hi')
  const h = headersFrom([['K', 'v']])
  const cases: Array<[Parameters<typeof encodeOp>[0], string]> = [
    [{ op: 'PING' }, 'PING\r\n'],
    [{ op: 'PONG' }, 'PONG\r\n'],
    [{ op: 'OK' }, '+OK\r\n'],
    [{ op: 'ERR', message: 'Unknown Protocol Operation' }, "-ERR 'Unknown Protocol Operation'\r\n"],
    [{ op: 'PUB', subject: 'a.b', payload }, 'PUB a.b 2\r\nhi\r\n'],
    [{ op: 'PUB', subject: 'a', replyTo: 'r', payload: new Uint8Array(0) }, 'PUB a r 0\r\n\r\n'],
    [{ op: 'HPUB', subject: 'a', headers: h, payload }, 'HPUB a 18 20\r\nNATS/1.0\r\nK: v\r\n\r\nhi\r\n'],
    [{ op: 'SUB', subject: 'a.*', sid: '1' }, 'SUB a.* 1\r\n'],
    [{ op: 'SUB', subject: 'a.>', queue: 'q', sid: '1' }, 'SUB a.> q 1\r\n'],
    [{ op: 'UNSUB', sid: '1' }, 'UNSUB 1\r\n'],
    [{ op: 'UNSUB', sid: '1', maxMsgs: 5 }, 'UNSUB 1 5\r\n'],
    [{ op: 'MSG', subject: 'a', sid: '9', replyTo: 'r', payload }, 'MSG a 9 r 2\r\nhi\r\n'],
    [{ op: 'HMSG', subject: 'a', sid: '9', headers: h, payload }, 'HMSG a 9 18 20\r\nNATS/1.0\r\nK: v\r\n\r\nhi\r\n'],
    [{ op: 'CONNECT', options: { verbose: false, raw: { verbose: true, jwt: 'j' } } }, 'CONNECT {"verbose":false,"jwt":"j"}\r\n'],
  ]
  for (const [op, expected] of cases) t.equal(text(encodeOp(op)), expected, op.op)
  const info = text(encodeOp({ op: 'INFO', info: { server_id: 'S', server_name: 'n', version: '1', proto: 1, host: 'h', port: 1, headers: true, max_payload: 10 } }))
  t.match(info, /^INFO \{"server_id":"S".*\}\r\n$/)
})

t.test('hot-path header lines', async (t) => {
  t.equal(text(encodeMsgHeader('a.b', '7', undefined, 5)), 'MSG a.b 7 5\r\n')
  t.equal(text(encodeMsgHeader('a.b', '7', '_INBOX.x', 5)), 'MSG a.b 7 _INBOX.x 5\r\n')
  t.equal(text(encodeHmsgHeader('a', '7', undefined, 12, 20)), 'HMSG a 7 12 20\r\n')
  t.equal(text(encodeHmsgHeader('a', '7', 'r', 12, 20)), 'HMSG a 7 r 12 20\r\n')
  t.equal(text(encodePubHeader('a', undefined, 0)), 'PUB a 0\r\n')
  t.equal(text(encodeHpubHeader('a', 'r', 12, 12)), 'HPUB a r 12 12\r\n')
})

t.test('encodeOp refuses arguments that would not parse back', async (t) => {
  const payload = new Uint8Array(0)
  t.throws(() => encodeOp({ op: 'PUB', subject: 'a b', payload }), ProtocolEncodeError)
  t.throws(() => encodeOp({ op: 'PUB', subject: '', payload }), ProtocolEncodeError)
  t.throws(() => encodeOp({ op: 'SUB', subject: 'a', queue: 'q\t', sid: '1' }), ProtocolEncodeError)
  t.throws(() => encodeOp({ op: 'MSG', subject: 'a', sid: '1', replyTo: 'r\n', payload }), ProtocolEncodeError)
  t.throws(() => encodeOp({ op: 'UNSUB', sid: '1', maxMsgs: -1 }), ProtocolEncodeError)
  t.throws(() => encodeErr('a\r\nb'), ProtocolEncodeError)
})

t.test('constant frames are copies, safe to mutate', async (t) => {
  const a = encodeOp({ op: 'PING' })
  a[0] = 0
  t.equal(text(encodeOp({ op: 'PING' })), 'PING\r\n')
})
