// Against a fake server on 127.0.0.1 that misbehaves on purpose: bytes that do not parse close
// the connection and surface a ProtocolError on status$; an -ERR during the handshake fails
// connect with the mapped error.
import t from 'tap'
import { createServer, type Socket } from 'node:net'
import { firstValueFrom, filter, timeout, toArray, takeWhile } from 'rxjs'
import { AuthorizationError, connect, ProtocolError, type Status } from '../../client/index.js'

const info =
  'INFO {"server_id":"fake","server_name":"fake","version":"0","proto":1,"host":"127.0.0.1","port":0,"headers":true,"max_payload":1048576}\r\n'

async function fakeServer(
  t: { teardown(fn: () => unknown): void },
  onConnect: (socket: Socket) => void,
): Promise<number> {
  const sockets: Socket[] = []
  const server = createServer((socket) => {
    sockets.push(socket)
    socket.on('error', () => undefined)
    onConnect(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  const address = server.address()
  return typeof address === 'object' && address !== null ? address.port : 0
}

t.test('garbage from the server: connection closed, ProtocolError on status$', { timeout: 15_000 }, async (t) => {
  const port = await fakeServer(t, (socket) => {
    socket.write(info)
    socket.once('data', () => {
      socket.write('PONG\r\n')
      setTimeout(() => socket.write('BOGUS VERB\r\n'), 50)
    })
  })
  const client = await connect(`nats://127.0.0.1:${port}`, { reconnect: { enabled: false }, timeoutMs: 3_000 })
  t.teardown(() => client.close())
  const statuses = await firstValueFrom(
    client.status$.pipe(
      takeWhile((s: Status) => s.type !== 'closed', true),
      toArray(),
      timeout(5_000),
    ),
  )
  const disconnected = statuses.find((s) => s.type === 'disconnected')
  t.ok(disconnected !== undefined && disconnected.type === 'disconnected' && disconnected.error instanceof ProtocolError, 'ProtocolError on disconnected')
  t.equal(statuses[statuses.length - 1]?.type, 'closed', 'reconnect disabled: closed')
})

t.test('-ERR during the handshake rejects connect with the mapped error', { timeout: 15_000 }, async (t) => {
  const port = await fakeServer(t, (socket) => {
    socket.write(info)
    socket.once('data', () => {
      socket.write("-ERR 'Authorization Violation'\r\n")
      socket.end()
    })
  })
  const error = await connect(`nats://127.0.0.1:${port}`, { timeoutMs: 3_000 }).catch((e: unknown) => e)
  t.ok(error instanceof AuthorizationError, String(error))
})

t.test('a server that never sends INFO: connect times out', { timeout: 15_000 }, async (t) => {
  const port = await fakeServer(t, () => undefined)
  const started = Date.now()
  const error = await connect(`nats://127.0.0.1:${port}`, { timeoutMs: 300 }).catch((e: unknown) => e)
  t.match(String(error), /timed out after 300 ms/)
  t.ok(Date.now() - started < 3_000)
})

t.test('several URLs: the first reachable one wins', { timeout: 15_000 }, async (t) => {
  const port = await fakeServer(t, (socket) => {
    socket.write(info)
    socket.on('data', (data: Buffer) => {
      if (data.toString().includes('PING')) socket.write('PONG\r\n')
    })
  })
  const client = await connect(['nats://127.0.0.1:1', `nats://127.0.0.1:${port}`], { timeoutMs: 3_000 })
  t.teardown(() => client.close())
  const connected = await firstValueFrom(client.status$.pipe(filter((s) => s.type === 'connected')))
  t.equal(connected.type === 'connected' ? connected.server : '', `nats://127.0.0.1:${port}`)
})
