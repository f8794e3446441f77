// Response streams (RS) on the wire: exclusive reply subjects, per-connection limit, the first
// response ends the RS (later ones are ordinary messages), server 408 only to the requester,
// 503 only for clients that asked for no_responders, cleanup on disconnect.
import t from 'tap'
import { connectedRawClient, delay, startTestNode, until } from './helpers.js'

const timeoutHeaders = (ms: number): string => `NATS/1.0\r\nRg-Timeout-Ms: ${ms}\r\n\r\n`
function hpub(subject: string, reply: string, block: string, body = ''): string {
  return `HPUB ${subject} ${reply} ${block.length} ${block.length + body.length}\r\n${block}${body}\r\n`
}
const status = (code: number, text: string): string => `NATS/1.0 ${code} ${text}\r\n\r\n`

t.test('a reply subject open for one requester is refused to another with 409', async (t) => {
  const node = await startTestNode(t)
  const responder = await connectedRawClient(t, node.clientPort)
  responder.write('SUB svc 9\r\nPING\r\n')
  await responder.waitFor(/PONG\r\nPONG\r\n$/)
  const owner = await connectedRawClient(t, node.clientPort)
  const intruder = await connectedRawClient(t, node.clientPort)
  owner.write(`SUB inbox.shared 1\r\n${hpub('svc', 'inbox.shared', timeoutHeaders(2_000), 'first')}PING\r\n`)
  await owner.waitFor(/PONG\r\nPONG\r\n$/)
  intruder.write('SUB inbox.shared 1\r\nPUB svc inbox.shared 6\r\nsecond\r\nPING\r\n')
  const block = status(409, 'Response Stream In Use')
  await intruder.waitFor(`HMSG inbox.shared 1 ${block.length} ${block.length}\r\n${block}\r\nPONG\r\n`)
  responder.write('PING\r\n')
  await responder.waitFor(/PONG\r\n$/)
  t.match(responder.text(), 'first')
  t.notMatch(responder.text(), 'second', 'the refused request was not delivered')
  t.equal(node.stats().openResponseStreams, 1)
})

t.test('per-connection RS limit answers 429 and does not deliver', async (t) => {
  const node = await startTestNode(t, { responses: { maxOpenPerConnection: 2 } })
  const responder = await connectedRawClient(t, node.clientPort)
  responder.write('SUB svc 9\r\nPING\r\n')
  await responder.waitFor(/PONG\r\nPONG\r\n$/)
  const requester = await connectedRawClient(t, node.clientPort)
  requester.write('SUB _INBOX.a.* 1\r\nPUB svc _INBOX.a.1 1\r\n1\r\nPUB svc _INBOX.a.2 1\r\n2\r\nPUB svc _INBOX.a.3 1\r\n3\r\nPING\r\n')
  const block = status(429, 'Too Many Open Requests')
  await requester.waitFor(`HMSG _INBOX.a.3 1 ${block.length} ${block.length}\r\n${block}\r\nPONG\r\n`)
  responder.write('PING\r\n')
  await responder.waitFor(/PONG\r\n$/)
  t.equal(responder.text().split('MSG svc 9').length - 1, 2, 'two requests delivered, the third refused')
  responder.write('PUB _INBOX.a.1 2\r\nok\r\n')
  await requester.waitFor('MSG _INBOX.a.1 1 2\r\nok\r\n')
  requester.write('PUB svc _INBOX.a.4 1\r\n4\r\nPING\r\n')
  await until(() => responder.text().split('MSG svc 9').length - 1 === 3, 2_000, 'a freed slot lets a request through')
  t.pass('answering one frees a slot')
})

t.test('the first response ends the RS; later responses are delivered as ordinary messages', async (t) => {
  const node = await startTestNode(t)
  const responder = await connectedRawClient(t, node.clientPort)
  responder.write('SUB svc 9\r\nPING\r\n')
  await responder.waitFor(/PONG\r\nPONG\r\n$/)
  const requester = await connectedRawClient(t, node.clientPort)
  requester.write(`SUB inbox.x 1\r\n${hpub('svc', 'inbox.x', timeoutHeaders(200))}PING\r\n`)
  await responder.waitFor('HMSG svc 9 inbox.x')
  responder.write('PUB inbox.x 3\r\none\r\nPUB inbox.x 3\r\ntwo\r\n')
  await requester.waitFor('MSG inbox.x 1 3\r\none\r\nMSG inbox.x 1 3\r\ntwo\r\n')
  t.equal(node.stats().openResponseStreams, 0)
  await delay(350)
  t.notMatch(requester.text(), '408', 'no timeout after the RS was answered')
})

t.test('408 goes only to the requester, not to other subscribers of the reply subject', async (t) => {
  const node = await startTestNode(t)
  const responder = await connectedRawClient(t, node.clientPort)
  responder.write('SUB svc 9\r\nPING\r\n')
  await responder.waitFor(/PONG\r\nPONG\r\n$/)
  const requester = await connectedRawClient(t, node.clientPort)
  const listener = await connectedRawClient(t, node.clientPort)
  listener.write('SUB inbox.y 5\r\nPING\r\n')
  await listener.waitFor(/PONG\r\nPONG\r\n$/)
  requester.write(`SUB inbox.y 1\r\n${hpub('svc', 'inbox.y', timeoutHeaders(100))}`)
  const block = status(408, 'Request Timeout')
  await requester.waitFor(`HMSG inbox.y 1 ${block.length} ${block.length}\r\n${block}\r\n`)
  await delay(50)
  t.notMatch(listener.text(), '408')
})

t.test('503 only for clients that asked for headers and no_responders', async (t) => {
  const node = await startTestNode(t)
  const modern = await connectedRawClient(t, node.clientPort, { headers: true, no_responders: true })
  modern.write('SUB inbox.m 1\r\nPUB nobody inbox.m 0\r\n\r\nPING\r\n')
  await modern.waitFor('HMSG inbox.m 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\nPONG\r\n')
  const plain = await connectedRawClient(t, node.clientPort, { headers: true, no_responders: false })
  plain.write('SUB inbox.p 1\r\nPUB nobody inbox.p 0\r\n\r\nPING\r\n')
  await plain.waitFor(/PONG\r\nPONG\r\n$/)
  t.notMatch(plain.text(), '503')
  t.equal(node.stats().openResponseStreams, 0, 'an unanswerable request leaves no RS behind')
})

t.test('a requester that disconnects leaves no RS behind', async (t) => {
  const node = await startTestNode(t)
  const responder = await connectedRawClient(t, node.clientPort)
  responder.write('SUB svc 9\r\nPING\r\n')
  await responder.waitFor(/PONG\r\nPONG\r\n$/)
  const requester = await connectedRawClient(t, node.clientPort)
  requester.write('SUB _INBOX.z.* 1\r\nPUB svc _INBOX.z.1 0\r\n\r\nPUB svc _INBOX.z.2 0\r\n\r\nPING\r\n')
  await requester.waitFor(/PONG\r\nPONG\r\n$/)
  t.equal(node.stats().openResponseStreams, 2)
  requester.destroy()
  await until(() => node.stats().openResponseStreams === 0, 2_000, 'RS cleanup')
  t.pass('closed with the connection')
})
