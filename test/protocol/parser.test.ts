// Parser fixtures: every fixture parses the same whole, one byte at a time and in random chunkings.
import t from 'tap'
import { createParser } from '../../shared/protocol/parser.js'
import type { ParserErrorKind, ParserRole } from '../../shared/protocol/types.js'
import { bytes, chunksAt, feed, oneByteChunks, randomCuts, seededRandom } from './fixtures/feed.js'

interface Fixture {
  readonly name: string
  readonly role: ParserRole
  readonly input: string | Uint8Array
  readonly ops: unknown[]
  readonly error?: ParserErrorKind
  readonly payloadBytesMax?: number
}

const p = (text: string): number[] => Array.from(bytes(text))

const fixtures: Fixture[] = [
  { name: 'PING PONG', role: 'server', input: 'PING\r\nPONG\r\n', ops: [{ op: 'PING' }, { op: 'PONG' }] },
  { name: 'lower-case verbs', role: 'server', input: 'ping\r\npong\r\npub a 1\r\nx\r\n', ops: [{ op: 'PING' }, { op: 'PONG' }, { op: 'PUB', subject: 'a', payload: p('x') }] },
  { name: 'mixed-case verbs', role: 'server', input: 'PiNg\r\nSuB a 1\r\nUnSuB 1\r\n', ops: [{ op: 'PING' }, { op: 'SUB', subject: 'a', sid: '1' }, { op: 'UNSUB', sid: '1' }] },
  { name: 'bare LF on control lines', role: 'server', input: 'PING\nSUB a 1\nPUB a 2\nhi\r\n', ops: [{ op: 'PING' }, { op: 'SUB', subject: 'a', sid: '1' }, { op: 'PUB', subject: 'a', payload: p('hi') }] },
  { name: 'PING with trailing args is still PING', role: 'server', input: 'PING now\r\n', ops: [{ op: 'PING' }] },
  {
    name: 'CONNECT keeps unknown fields',
    role: 'server',
    input: 'CONNECT {"verbose":false,"pedantic":false,"name":"n","lang":"node","version":"3","protocol":1,"echo":true,"headers":true,"no_responders":true,"jwt":"x"}\r\n',
    ops: [{
      op: 'CONNECT',
      options: { verbose: false, pedantic: false, name: 'n', lang: 'node', version: '3', protocol: 1, echo: true, headers: true, no_responders: true, raw: { verbose: false, pedantic: false, name: 'n', lang: 'node', version: '3', protocol: 1, echo: true, headers: true, no_responders: true, jwt: 'x' } },
    }],
  },
  { name: 'CONNECT with spaces in JSON', role: 'server', input: 'CONNECT   { "user" : "a b" }  \r\n', ops: [{ op: 'CONNECT', options: { user: 'a b', raw: { user: 'a b' } } }] },
  { name: 'CONNECT bad JSON', role: 'server', input: 'CONNECT {"verbose":\r\n', ops: [], error: 'malformed' },
  { name: 'CONNECT not an object', role: 'server', input: 'CONNECT [1]\r\n', ops: [], error: 'malformed' },
  { name: 'CONNECT wrong field type', role: 'server', input: 'CONNECT {"echo":"yes"}\r\n', ops: [], error: 'malformed' },
  { name: 'CONNECT without JSON', role: 'server', input: 'CONNECT\r\n', ops: [], error: 'malformed' },
  { name: 'PUB', role: 'server', input: 'PUB foo.bar 5\r\nhello\r\n', ops: [{ op: 'PUB', subject: 'foo.bar', payload: p('hello') }] },
  { name: 'PUB with reply and extra whitespace', role: 'server', input: 'PUB \t foo   _INBOX.1 \t 3  \r\nabc\r\n', ops: [{ op: 'PUB', subject: 'foo', replyTo: '_INBOX.1', payload: p('abc') }] },
  { name: 'PUB zero bytes', role: 'server', input: 'PUB foo 0\r\n\r\nPING\r\n', ops: [{ op: 'PUB', subject: 'foo', payload: [] }, { op: 'PING' }] },
  { name: 'PUB payload holding CRLF', role: 'server', input: 'PUB foo 6\r\n\r\nPUB\n\r\n', ops: [{ op: 'PUB', subject: 'foo', payload: p('\r\nPUB\n') }] },
  { name: 'PUB UTF-8 subject', role: 'server', input: 'PUB caf\u00e9.\u65e5\u672c 1\r\nx\r\n', ops: [{ op: 'PUB', subject: 'caf\u00e9.\u65e5\u672c', payload: p('x') }] },
  { name: 'PUB payload missing CRLF', role: 'server', input: 'PUB foo 3\r\nabcPING\r\n', ops: [], error: 'malformed' },
  { name: 'PUB payload followed by LF only', role: 'server', input: 'PUB foo 3\r\nabc\nPING\r\n', ops: [], error: 'malformed' },
  { name: 'PUB payload longer than declared', role: 'server', input: 'PUB foo 2\r\nabc\r\n', ops: [], error: 'malformed' },
  { name: 'PUB bad size', role: 'server', input: 'PUB foo 1x\r\n', ops: [], error: 'malformed' },
  { name: 'PUB negative size', role: 'server', input: 'PUB foo -1\r\n', ops: [], error: 'malformed' },
  { name: 'PUB too few args', role: 'server', input: 'PUB foo\r\n', ops: [], error: 'malformed' },
  { name: 'PUB too many args', role: 'server', input: 'PUB a b c 1\r\nx\r\n', ops: [], error: 'malformed' },
  { name: 'PUB way too many args', role: 'server', input: 'PUB a b c d e f g h 1\r\nx\r\n', ops: [], error: 'malformed' },
  { name: 'PUB over max payload, before payload', role: 'server', input: 'PING\r\nPUB foo 11\r\n', ops: [{ op: 'PING' }], error: 'payloadTooLarge', payloadBytesMax: 10 },
  { name: 'PUB huge length field', role: 'server', input: 'PUB foo 99999999999999999999999\r\n', ops: [], error: 'payloadTooLarge' },
  { name: 'PUB at max payload', role: 'server', input: 'PUB foo 10\r\n0123456789\r\n', ops: [{ op: 'PUB', subject: 'foo', payload: p('0123456789') }], payloadBytesMax: 10 },
  { name: 'bare CR inside a control line', role: 'server', input: 'PUB fo\ro 1\r\nx\r\n', ops: [], error: 'malformed' },
  {
    name: 'HPUB with repeated keys',
    role: 'server',
    input: 'HPUB foo r 35 37\r\nNATS/1.0\r\nA: 1\r\nB:  2\r\na: 3\r\nX:\r\n\r\nhi\r\n',
    ops: [{ op: 'HPUB', subject: 'foo', replyTo: 'r', headers: { entries: [['A', '1'], ['B', '2'], ['a', '3'], ['X', '']] }, payload: p('hi') }],
  },
  {
    name: 'HPUB status-only block, empty body',
    role: 'server',
    input: 'HPUB foo 16 16\r\nNATS/1.0 503\r\n\r\n\r\n',
    ops: [{ op: 'HPUB', subject: 'foo', headers: { status: 503, entries: [] }, payload: [] }],
  },
  {
    // nats.js sends an empty header set this way; nats-server delivers it as a plain message.
    name: 'HPUB with an empty header block is a plain PUB',
    role: 'server',
    input: 'HPUB foo r 0 5\r\nhello\r\n',
    ops: [{ op: 'PUB', subject: 'foo', replyTo: 'r', payload: p('hello') }],
  },
  {
    name: 'HMSG with an empty header block is a plain MSG',
    role: 'client',
    input: 'HMSG foo 7 0 2\r\nhi\r\n',
    ops: [{ op: 'MSG', subject: 'foo', sid: '7', payload: p('hi') }],
  },
  { name: 'HPUB header size over total', role: 'server', input: 'HPUB foo 20 10\r\n', ops: [], error: 'malformed' },
  { name: 'HPUB wrong arg count', role: 'server', input: 'HPUB foo 10\r\n', ops: [], error: 'malformed' },
  { name: 'HPUB bad header block', role: 'server', input: 'HPUB foo 12 12\r\nHTTP/1.1\r\n\r\n\r\n', ops: [], error: 'malformed' },
  { name: 'HPUB header line without colon', role: 'server', input: 'HPUB foo 15 15\r\nNATS/1.0\r\nA\r\n\r\n\r\n', ops: [], error: 'malformed' },
  { name: 'SUB', role: 'server', input: 'SUB foo.* 7\r\n', ops: [{ op: 'SUB', subject: 'foo.*', sid: '7' }] },
  { name: 'SUB with queue', role: 'server', input: 'SUB foo.> workers 7\r\n', ops: [{ op: 'SUB', subject: 'foo.>', queue: 'workers', sid: '7' }] },
  { name: 'SUB wrong arg count', role: 'server', input: 'SUB foo\r\n', ops: [], error: 'malformed' },
  { name: 'UNSUB with max', role: 'server', input: 'UNSUB 7 10\r\n', ops: [{ op: 'UNSUB', sid: '7', maxMsgs: 10 }] },
  { name: 'UNSUB bad max', role: 'server', input: 'UNSUB 7 ten\r\n', ops: [], error: 'malformed' },
  { name: 'UNSUB no args', role: 'server', input: 'UNSUB\r\n', ops: [], error: 'malformed' },
  { name: 'unknown verb', role: 'server', input: 'PING\r\nFOO bar\r\nPING\r\n', ops: [{ op: 'PING' }], error: 'unknownOperation' },
  { name: 'empty line is unknown', role: 'server', input: '\r\n', ops: [], error: 'unknownOperation' },
  { name: 'MSG from a client is unknown', role: 'server', input: 'MSG a 1 1\r\nx\r\n', ops: [], error: 'unknownOperation' },
  { name: 'INFO from a client is unknown', role: 'server', input: 'INFO {}\r\n', ops: [], error: 'unknownOperation' },
  { name: '+OK from a client is unknown', role: 'server', input: '+OK\r\n', ops: [], error: 'unknownOperation' },
  { name: 'verb prefix is unknown', role: 'server', input: 'PUBX a 1\r\n', ops: [], error: 'unknownOperation' },
  {
    name: 'INFO',
    role: 'client',
    input: 'INFO {"server_id":"S","server_name":"n","version":"2.10","proto":1,"host":"0.0.0.0","port":4222,"headers":true,"max_payload":1048576,"x":1}\r\n',
    ops: [{ op: 'INFO', info: { server_id: 'S', server_name: 'n', version: '2.10', proto: 1, host: '0.0.0.0', port: 4222, headers: true, max_payload: 1048576, x: 1 } }],
  },
  { name: 'INFO missing fields get defaults', role: 'client', input: 'INFO {"server_id":"S"}\r\n', ops: [{ op: 'INFO', info: { server_id: 'S', server_name: '', version: '', proto: 1, host: '', port: 0, headers: false, max_payload: 1048576 } }] },
  { name: 'INFO bad JSON', role: 'client', input: 'INFO {\r\n', ops: [], error: 'malformed' },
  { name: 'INFO wrongly typed port', role: 'client', input: 'INFO {"port":"4222"}\r\n', ops: [], error: 'malformed' },
  { name: 'INFO connect_urls not strings', role: 'client', input: 'INFO {"connect_urls":[1]}\r\n', ops: [], error: 'malformed' },
  { name: 'INFO null counts as absent', role: 'client', input: 'INFO {"server_id":null,"go":null}\r\n', ops: [{ op: 'INFO', info: { server_id: '', server_name: '', version: '', proto: 1, host: '', port: 0, headers: false, max_payload: 1048576 } }] },
  { name: 'MSG', role: 'client', input: 'MSG foo.bar 9 5\r\nhello\r\n', ops: [{ op: 'MSG', subject: 'foo.bar', sid: '9', payload: p('hello') }] },
  { name: 'msg lower case with reply', role: 'client', input: 'msg foo 9 _INBOX.x 0\r\n\r\n', ops: [{ op: 'MSG', subject: 'foo', sid: '9', replyTo: '_INBOX.x', payload: [] }] },
  { name: 'MSG wrong arg count', role: 'client', input: 'MSG foo 5\r\n', ops: [], error: 'malformed' },
  {
    name: 'HMSG no responders',
    role: 'client',
    input: 'HMSG _INBOX.a 1 30 30\r\nNATS/1.0 503 No Responders\r\n\r\n\r\n',
    ops: [{ op: 'HMSG', subject: '_INBOX.a', sid: '1', headers: { status: 503, description: 'No Responders', entries: [] }, payload: [] }],
  },
  {
    name: 'HMSG with reply',
    role: 'client',
    input: 'HMSG foo 1 r 18 20\r\nNATS/1.0\r\nK: v\r\n\r\nhi\r\n',
    ops: [{ op: 'HMSG', subject: 'foo', sid: '1', replyTo: 'r', headers: { entries: [['K', 'v']] }, payload: p('hi') }],
  },
  { name: '+OK and -ERR', role: 'client', input: '+OK\r\n-ERR \'Authorization Violation\'\r\n-ERR bare\r\n', ops: [{ op: 'OK' }, { op: 'ERR', message: 'Authorization Violation' }, { op: 'ERR', message: 'bare' }] },
  { name: 'PUB from a server is unknown', role: 'client', input: 'PUB a 1\r\nx\r\n', ops: [], error: 'unknownOperation' },
  { name: 'CONNECT from a server is unknown', role: 'client', input: 'CONNECT {}\r\n', ops: [], error: 'unknownOperation' },
  { name: 'binary payload', role: 'client', input: new Uint8Array([...bytes('MSG a 1 4\r\n'), 0, 255, 13, 10, 13, 10]), ops: [{ op: 'MSG', subject: 'a', sid: '1', payload: [0, 255, 13, 10] }] },
]

for (const fixture of fixtures) {
  t.test(fixture.name, async (t) => {
    const input = typeof fixture.input === 'string' ? bytes(fixture.input) : fixture.input
    const options = { role: fixture.role, payloadBytesMax: fixture.payloadBytesMax }
    const whole = feed(options, [input])
    t.same(whole.ops, fixture.ops, 'ops (whole)')
    t.equal(whole.error, fixture.error, 'error kind (whole)')
    t.strictSame(feed(options, oneByteChunks(input)).ops, whole.ops, 'one byte at a time')
    t.equal(feed(options, oneByteChunks(input)).error, whole.error, 'error one byte at a time')
    const random = seededRandom(fixture.name.length * 7919)
    for (let round = 0; round < 30; round++) {
      const cuts = randomCuts(input.length, random)
      const chunked = feed(options, chunksAt(input, cuts))
      t.strictSame(chunked.ops, whole.ops, `ops at cuts ${cuts.join(',')}`)
      t.equal(chunked.error, whole.error, `error at cuts ${cuts.join(',')}`)
    }
  })
}

t.test('control line over the limit is reported before its CRLF arrives', async (t) => {
  const parser = createParser({ role: 'server', controlLineBytesMax: 16 })
  t.same(parser.push(bytes('PUB aaaaaaaaaaaa')).error, undefined, '16 bytes is fine')
  t.equal(parser.bufferedBytes, 16)
  t.equal(parser.push(bytes('\r')).error, undefined, 'a trailing CR still fits')
  t.equal(parser.push(bytes('a')).error?.kind, 'controlLineTooLong', 'one more byte fails at once')
  t.equal(parser.bufferedBytes, 0, 'a dead parser holds nothing')
  t.equal(parser.push(bytes('PING\r\n')).error?.kind, 'controlLineTooLong', 'dead stays dead')
})

t.test('control line exactly at the limit parses; one over fails, whole or split', async (t) => {
  const atLimit = bytes(`SUB ${'a'.repeat(10)} 1\r\n`)
  const lineBytes = atLimit.length - 2
  t.same(feed({ role: 'server', controlLineBytesMax: lineBytes }, [atLimit]).ops.length, 1)
  t.same(feed({ role: 'server', controlLineBytesMax: lineBytes }, oneByteChunks(atLimit)).ops.length, 1)
  t.equal(feed({ role: 'server', controlLineBytesMax: lineBytes - 1 }, [atLimit]).error, 'controlLineTooLong')
  t.equal(feed({ role: 'server', controlLineBytesMax: lineBytes - 1 }, oneByteChunks(atLimit)).error, 'controlLineTooLong')
  const garbage = new Uint8Array(100_000).fill(0x41)
  t.equal(feed({ role: 'server' }, [garbage]).error, 'controlLineTooLong', 'no LF anywhere')
})

t.test('payloads inside one chunk are views, split ones are copies', async (t) => {
  const input = bytes('PUB a 3\r\nabc\r\nPUB b 3\r\nxyz\r\n')
  const parser = createParser({ role: 'server' })
  const { ops } = parser.push(input)
  const first = ops[0]
  t.ok(first?.op === 'PUB' && first.payload.buffer === input.buffer, 'same backing buffer')
  const split = createParser({ role: 'server' })
  split.push(input.subarray(0, 11))
  t.equal(split.bufferedBytes, 2, 'two payload bytes buffered while waiting')
  const rest = split.push(input.subarray(11)).ops
  t.ok(rest[0]?.op === 'PUB' && rest[0].payload.buffer !== input.buffer, 'copied when split')
  t.equal(rest.length, 2)
  t.equal(split.bufferedBytes, 0)
})

t.test('512 KiB payloads, whole and in 1000-byte chunks', async (t) => {
  const payload = new Uint8Array(512 * 1024)
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) & 0xff
  const head = bytes(`PUB big.subject ${payload.length}\r\n`)
  const input = new Uint8Array(head.length + payload.length + 2)
  input.set(head)
  input.set(payload, head.length)
  input.set([13, 10], head.length + payload.length)
  const cuts = Array.from({ length: Math.floor(input.length / 1000) }, (_, i) => (i + 1) * 1000)
  for (const chunks of [[input], chunksAt(input, cuts)]) {
    const parser = createParser({ role: 'server' })
    const ops = chunks.flatMap((c) => parser.push(c).ops)
    t.equal(ops.length, 1)
    const op = ops[0]
    t.ok(op?.op === 'PUB' && Buffer.compare(op.payload, payload) === 0, 'payload intact')
    t.ok(parser.bufferedBytes === 0)
  }
})

t.test('header block over its limit is payloadTooLarge', async (t) => {
  const parser = createParser({ role: 'server', headerBytesMax: 16 })
  t.equal(parser.push(bytes('HPUB a 17 20\r\n')).error?.kind, 'payloadTooLarge')
})

t.test('HPUB/HMSG carry the raw header block for forwarding', async (t) => {
  const block = 'NATS/1.0\r\nK: v\r\n\r\n'
  const server = createParser({ role: 'server' }).push(bytes(`HPUB a 18 20\r\n${block}hi\r\n`)).ops[0]
  t.ok(server?.op === 'HPUB' && new TextDecoder().decode(server.rawHeaders) === block)
  const client = createParser({ role: 'client' }).push(bytes(`HMSG a 1 18 18\r\n${block}\r\n`)).ops[0]
  t.ok(client?.op === 'HMSG' && new TextDecoder().decode(client.rawHeaders) === block)
})
