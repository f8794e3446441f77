// Pure helpers: header normalisation (the CR/LF guard), Message accessors, server URL parsing,
// the client's own subject framing check, option validation.
import t from 'tap'
import { InvalidArgumentError } from '../../client/errors.js'
import { Message, toMsgHeaders } from '../../client/message.js'
import { resolveOptions } from '../../client/options.js'
import { looksLikeValidSubscribeSubject, subjectFramingProblem } from '../../client/subject-check.js'
import { parseServerUrl } from '../../client/transport.js'

t.test('toMsgHeaders: records, pairs and MsgHeaders; extra pairs appended', async (t) => {
  t.same(toMsgHeaders({ a: '1', b: ['2', '3'] }).entries, [['a', '1'], ['b', '2'], ['b', '3']])
  t.same(toMsgHeaders([['x', 'y']], [['Rg-Timeout-Ms', '5']]).entries, [['x', 'y'], ['Rg-Timeout-Ms', '5']])
  t.same(toMsgHeaders({ status: 500, description: 'bad', entries: [['k', 'v']] }), { status: 500, description: 'bad', entries: [['k', 'v']] })
})

t.test('toMsgHeaders refuses what would break the header block', async (t) => {
  t.throws(() => toMsgHeaders({ a: 'x\r\nInjected: 1' }), InvalidArgumentError)
  t.throws(() => toMsgHeaders({ 'bad key': 'v' }), InvalidArgumentError)
  t.throws(() => toMsgHeaders({ 'a:b': 'v' }), InvalidArgumentError)
  t.throws(() => toMsgHeaders({ status: 200, description: 'x\ny', entries: [] }), InvalidArgumentError)
})

t.test('Message: string, json, headers case-insensitive, respond without replyTo', async (t) => {
  const sent: string[] = []
  const message = new Message(
    'a.b',
    new TextEncoder().encode('{"n":1}'),
    'reply.1',
    { status: 503, entries: [['X-K', 'v1'], ['x-k', 'v2']] },
    (replyTo, data) => sent.push(`${replyTo}:${String(data)}`),
  )
  t.equal(message.string(), '{"n":1}')
  t.same(message.json(), { n: 1 })
  t.equal(message.header('x-K'), 'v1')
  t.same(message.headerValues('X-K'), ['v1', 'v2'])
  t.equal(message.status, 503)
  t.equal(message.respond('ok'), true)
  t.same(sent, ['reply.1:ok'])
  const noReply = new Message('a', new Uint8Array(0), undefined, undefined, () => t.fail('must not send'))
  t.equal(noReply.respond('x'), false)
  t.equal(noReply.header('missing'), undefined)
})

t.test('parseServerUrl', async (t) => {
  t.same(parseServerUrl('nats://127.0.0.1:4333'), { host: '127.0.0.1', port: 4333, url: 'nats://127.0.0.1:4333' })
  t.same(parseServerUrl('localhost'), { host: 'localhost', port: 4222, url: 'localhost' })
  t.same(parseServerUrl('[::1]:5000'), { host: '::1', port: 5000, url: '[::1]:5000' })
  t.throws(() => parseServerUrl('tls://x:1'), RangeError)
  t.throws(() => parseServerUrl('nats://'), RangeError)
})

t.test('subject checks: framing (client) and a NATS-style guess (for -ERR routing)', async (t) => {
  t.equal(subjectFramingProblem('a.b.*'), undefined)
  t.ok(subjectFramingProblem(''))
  t.ok(subjectFramingProblem('a b'))
  t.ok(subjectFramingProblem('a\r\nPUB x 1'))
  t.ok(looksLikeValidSubscribeSubject('a.*.>'))
  t.notOk(looksLikeValidSubscribeSubject('a..b'))
  t.notOk(looksLikeValidSubscribeSubject('a.>.b'))
})

t.test('options: defaults and refusals', async (t) => {
  const resolved = resolveOptions({})
  t.equal(resolved.timeoutMs, 5_000)
  t.equal(resolved.reconnect.enabled, true)
  t.throws(() => resolveOptions({ timeoutMs: 0 }), InvalidArgumentError)
  t.throws(() => resolveOptions({ reconnect: { delayMsMin: 10, delayMsMax: 5 } }), InvalidArgumentError)
  t.throws(() => resolveOptions({ verbose: true as unknown as false }), InvalidArgumentError)
})
