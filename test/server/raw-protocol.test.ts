// The NATS wire protocol over raw sockets: exact bytes, exact -ERR texts, and which errors close
// the connection (only that one) versus which keep it open.
import t from 'tap'
import type { Test } from 'tap'
import { connect } from '@nats-io/transport-node'
import type { RunningNode } from '../../server/node.js'
import { createMemoryLocation, openMemoryStorage } from '../../shared/storage/index.js'
import type { Storage } from '../../shared/storage/index.js'
import { connectedRawClient, delay, rawClient, startTestNode, until } from './helpers.js'
import type { RawClient } from './helpers.js'

/** A second connection proves the node still serves others: SUB, PUB, receive. */
async function assertHealthy(t: Test, node: RunningNode, label: string): Promise<void> {
  const client = await connectedRawClient(undefined, node.clientPort)
  client.write('SUB health 1\r\nPUB health 2\r\nok\r\nPING\r\n')
  await client.waitFor('MSG health 1 2\r\nok\r\n')
  client.destroy()
  t.pass(`${label}: another connection still works`)
}

t.test('INFO on accept carries the NATS fields', async (t) => {
  const node = await startTestNode(t, { limits: { maxPayloadBytes: 4096 } })
  const client = await rawClient(t, node.clientPort)
  await client.waitFor(/^INFO \{.*\}\r\n/)
  const info = JSON.parse(/^INFO (\{.*\})\r\n/.exec(client.text())?.[1] ?? '{}') as Record<string, unknown>
  t.equal(info.proto, 1)
  t.equal(info.headers, true)
  t.equal(info.max_payload, 4096)
  t.equal(info.server_id, node.serverId)
  t.equal(info.server_name, 'test-node')
  t.equal(info.port, node.clientPort)
  t.type(info.client_id, 'number')
  t.type(info.version, 'string')
})

t.test('lower-case verbs and verbose +OK', async (t) => {
  const node = await startTestNode(t)
  const client = await rawClient(t, node.clientPort)
  client.write('connect {"verbose":true}\r\nsub foo 1\r\npub foo 2\r\nhi\r\nping\r\n')
  await client.waitFor('PONG\r\n')
  t.match(client.text(), /\+OK\r\n\+OK\r\n(\+OK\r\nMSG foo 1 2\r\nhi\r\n|MSG foo 1 2\r\nhi\r\n\+OK\r\n)PONG\r\n$/)
})

t.test('control lines and payloads split across many writes', async (t) => {
  const node = await startTestNode(t)
  const client = await connectedRawClient(t, node.clientPort)
  client.socket.setNoDelay(true)
  const frames = 'SUB split.subject 7\r\nHPUB split.subject reply.to 24 28\r\nNATS/1.0\r\nA: b\r\nC: d\r\n\r\nbody\r\nPING\r\n'
  for (let index = 0; index < frames.length; index += 3) {
    client.write(frames.slice(index, index + 3))
    await delay(1)
  }
  await client.waitFor('PONG\r\n')
  t.match(client.text(), 'HMSG split.subject 7 reply.to 24 28\r\nNATS/1.0\r\nA: b\r\nC: d\r\n\r\nbody\r\n')
})

const fatalCases: ReadonlyArray<{ readonly name: string; readonly connect: boolean; readonly send: string; readonly text: string }> = [
  { name: 'unknown verb', connect: true, send: 'FOO bar\r\n', text: 'Unknown Protocol Operation' },
  { name: 'server verb from a client', connect: true, send: 'MSG a 1 1\r\nx\r\n', text: 'Unknown Protocol Operation' },
  { name: 'payload over max_payload', connect: true, send: 'PUB big 5000\r\n', text: 'Maximum Payload Violation' },
  { name: 'control line too long', connect: true, send: `SUB ${'a'.repeat(5000)} 1\r\n`, text: 'Maximum Control Line Exceeded' },
  { name: 'bad size', connect: true, send: 'PUB foo notanumber\r\n', text: 'Parser Error' },
  { name: 'payload without CRLF', connect: true, send: 'PUB foo 3\r\nabcdef\r\n', text: 'Parser Error' },
  { name: 'bad header block', connect: true, send: 'HPUB foo 6 6\r\nBAD\r\n\r\n\r\n', text: 'Parser Error' },
  { name: 'PUB before CONNECT', connect: false, send: 'PUB foo 1\r\nx\r\n', text: 'Authorization Violation' },
  { name: 'SUB before CONNECT', connect: false, send: 'SUB foo 1\r\n', text: 'Authorization Violation' },
]

t.test('fatal errors: exact -ERR, that connection closes, others keep working', async (t) => {
  const node = await startTestNode(t, { limits: { maxPayloadBytes: 4096 } })
  const bystander = await connectedRawClient(t, node.clientPort)
  bystander.write('SUB bystander 1\r\n')
  for (const fatal of fatalCases) {
    const client = fatal.connect ? await connectedRawClient(t, node.clientPort) : await rawClient(t, node.clientPort)
    client.write(fatal.send)
    await client.closed
    t.match(client.text(), new RegExp(`-ERR '${fatal.text}'\\r\\n$`), `${fatal.name} → -ERR '${fatal.text}'`)
    await assertHealthy(t, node, fatal.name)
  }
  bystander.write('PUB bystander 3\r\nyes\r\n')
  await bystander.waitFor('MSG bystander 1 3\r\nyes\r\n')
  t.notOk(bystander.isClosed(), 'the bystander stayed connected throughout')
})

t.test('PING before CONNECT is allowed', async (t) => {
  const node = await startTestNode(t)
  const client = await rawClient(t, node.clientPort)
  client.write('PING\r\n')
  await client.waitFor('PONG\r\n')
  t.notOk(client.isClosed())
})

t.test('Invalid Subject and Maximum Subscriptions keep the connection open', async (t) => {
  const node = await startTestNode(t, { limits: { maxSubscriptionsPerConnection: 2 } })
  const client = await connectedRawClient(t, node.clientPort)
  client.write('SUB foo..bar 1\r\nPING\r\n')
  await client.waitFor("-ERR 'Invalid Subject'\r\nPONG\r\n")
  client.write('PUB foo.* 1\r\nx\r\nPING\r\n')
  await client.waitFor(/(-ERR 'Invalid Subject'\r\nPONG\r\n){2}$/)
  client.write('SUB a.> queue 1\r\nSUB b 2\r\nSUB c 3\r\nPING\r\n')
  await client.waitFor("-ERR 'Maximum Subscriptions Exceeded'\r\nPONG\r\n")
  client.write('PUB a.x 1\r\n1\r\nPUB c 1\r\n2\r\nPING\r\n')
  await client.waitFor(/MSG a\.x 1 1\r\n1\r\nPONG\r\n$/)
  t.notOk(client.isClosed())
  t.equal(node.stats().subscriptions, 2)
})

t.test('Maximum Connections Exceeded', async (t) => {
  const node = await startTestNode(t, { limits: { maxConnections: 2 } })
  const first = await connectedRawClient(t, node.clientPort)
  await connectedRawClient(t, node.clientPort)
  const third = await rawClient(t, node.clientPort)
  await third.closed
  t.equal(third.text(), "-ERR 'Maximum Connections Exceeded'\r\n")
  first.destroy()
  await until(() => node.stats().connections === 1)
  const fourth = await connectedRawClient(t, node.clientPort)
  t.notOk(fourth.isClosed(), 'a freed slot is usable again')
})

t.test('Slow Consumer: pending bytes beyond the limit close the reader, memory stays bounded', async (t) => {
  const maxPendingBytes = 256 * 1024
  const node = await startTestNode(t, { limits: { maxPendingBytes, maxPayloadBytes: 128 * 1024 } })
  const slow = await connectedRawClient(t, node.clientPort)
  slow.write('SUB flood 1\r\nPING\r\n')
  await slow.waitFor('PONG\r\nPONG\r\n')
  slow.socket.pause()
  const publisher = await connectedRawClient(t, node.clientPort)
  const frame = `PUB flood 65536\r\n${'x'.repeat(65536)}\r\n`
  const deadline = Date.now() + 20_000
  while (node.stats().slowConsumers === 0 && Date.now() < deadline) {
    for (let index = 0; index < 16; index += 1) publisher.write(frame)
    await delay(5)
  }
  t.equal(node.stats().slowConsumers, 1, 'the reader was marked slow')
  slow.socket.resume()
  await slow.closed
  t.match(slow.text().slice(-200), /-ERR 'Slow Consumer'\r\n$/)
  publisher.write('PING\r\n')
  await publisher.waitFor(/PONG\r\n$/)
  t.notOk(publisher.isClosed(), 'the publisher is not affected')
})

t.test('a client that sends PINGs and never reads is a Slow Consumer too (replies are bounded)', async (t) => {
  const node = await startTestNode(t, { limits: { maxPendingBytes: 64 * 1024, maxPayloadBytes: 16 * 1024 } })
  const client = await connectedRawClient(t, node.clientPort)
  client.socket.pause()
  const burst = 'PING\r\n'.repeat(100_000)
  const deadline = Date.now() + 20_000
  while (node.stats().slowConsumers === 0 && Date.now() < deadline && !client.isClosed()) {
    client.write(burst)
    await delay(5)
  }
  t.equal(node.stats().slowConsumers, 1)
  client.socket.resume()
  await client.closed
  t.match(client.text().slice(-100), /-ERR 'Slow Consumer'\r\n$/)
})

t.test('Stale Connection after unanswered server PINGs; a real client stays', async (t) => {
  const node = await startTestNode(t, { limits: { pingIntervalMs: 100, maxPingsOutstanding: 2 } })
  const healthy = await connect({ servers: `127.0.0.1:${node.clientPort}`, reconnect: false })
  t.teardown(() => healthy.close())
  const mute: RawClient = await connectedRawClient(t, node.clientPort)
  await mute.closed
  t.match(mute.text(), /PING\r\nPING\r\n-ERR 'Stale Connection'\r\n$/)
  await delay(300)
  t.equal(healthy.isClosed(), false, 'the official client answers PINGs and stays')
  t.equal((await healthy.rtt()) >= 0, true)
})

function gatedStorage(): { readonly open: () => Promise<Storage>; readonly release: () => void } {
  let release: () => void = () => undefined
  const gate = new Promise<void>((resolve) => (release = resolve))
  return {
    open: async () => {
      await gate
      return openMemoryStorage(createMemoryLocation(), { keySpaces: [] })
    },
    release: () => release(),
  }
}

t.test('not ready: refused with Server Not Ready until storage is open', async (t) => {
  const storage = gatedStorage()
  const node = await startTestNode(t, {}, storage.open, { notReadyHoldMs: 0 })
  const early = await rawClient(t, node.clientPort)
  await early.closed
  t.equal(early.text(), "-ERR 'Server Not Ready'\r\n")
  const notReady = await fetch(`${node.adminUrl}/readyz`)
  t.equal(notReady.status, 503)
  t.same(await notReady.json(), { ready: false, reason: 'storage is opening' })
  t.equal((await fetch(`${node.adminUrl}/healthz`)).status, 200, 'alive while not ready')
  storage.release()
  await node.ready
  t.equal((await fetch(`${node.adminUrl}/readyz`)).status, 200)
  const late = await connectedRawClient(t, node.clientPort)
  t.notOk(late.isClosed())
})

t.test('a client arriving during start-up is held, then served once ready', async (t) => {
  const storage = gatedStorage()
  const node = await startTestNode(t, {}, storage.open, { notReadyHoldMs: 5_000 })
  const early = await rawClient(t, node.clientPort)
  await delay(100)
  t.equal(early.text(), '', 'no INFO while not ready')
  storage.release()
  await early.waitFor(/^INFO /)
  early.write('CONNECT {}\r\nPING\r\n')
  await early.waitFor('PONG\r\n')
  t.notOk(early.isClosed())
})

t.test('a held client is refused when the hold runs out', async (t) => {
  const storage = gatedStorage()
  t.teardown(() => storage.release())
  const node = await startTestNode(t, {}, storage.open, { notReadyHoldMs: 150 })
  const started = Date.now()
  const early = await rawClient(t, node.clientPort)
  await early.closed
  t.equal(early.text(), "-ERR 'Server Not Ready'\r\n")
  t.ok(Date.now() - started >= 140, 'after the hold')
  storage.release()
  await node.ready
})

t.test('a storage failure leaves the node not ready, with the reason', async (t) => {
  const node = await startTestNode(
    t,
    {},
    async () => {
      throw new Error('disk on fire')
    },
    { notReadyHoldMs: 0 },
  )
  await t.rejects(node.ready, /disk on fire/)
  const response = await fetch(`${node.adminUrl}/readyz`)
  t.equal(response.status, 503)
  t.match(await response.json(), { ready: false, reason: /disk on fire/ })
  const client = await rawClient(t, node.clientPort)
  await client.closed
  t.equal(client.text(), "-ERR 'Server Not Ready'\r\n")
})
