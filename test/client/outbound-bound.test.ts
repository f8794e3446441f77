// The outbound buffer is bounded: against a server that stops reading, publishing hits a clear
// OutboundBufferFullError instead of growing memory. The "server" is a tiny fake on 127.0.0.1
// that completes the handshake (INFO, PONG) and then never reads again.
import t from 'tap'
import { createServer, type Socket } from 'node:net'
import { connect, OutboundBufferFullError, clientErrorCodes } from '../../client/index.js'

t.test('publish against a stalled reader throws OutboundBufferFullError', { timeout: 20_000 }, async (t) => {
  const sockets: Socket[] = []
  const server = createServer((socket) => {
    sockets.push(socket)
    socket.write('INFO {"server_id":"fake","server_name":"fake","version":"0","proto":1,"host":"127.0.0.1","port":0,"headers":true,"max_payload":1048576}\r\n')
    socket.once('data', () => {
      socket.write('PONG\r\n')
      // Stop reading: the kernel buffers fill, then the client's own buffer.
      socket.pause()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const outboundBytesMax = 256 * 1024
  const client = await connect(`nats://127.0.0.1:${port}`, { outboundBytesMax, timeoutMs: 3_000, reconnect: { enabled: false } })
  t.teardown(() => client.close())
  const payload = new Uint8Array(16 * 1024)
  let thrown: unknown
  let sentBytes = 0
  // Give the event loop turns so the socket actually writes and the kernel buffer fills.
  for (let round = 0; round < 2_000 && thrown === undefined; round++) {
    try {
      for (let i = 0; i < 16; i++) {
        client.publish('sink', payload)
        sentBytes += payload.length
      }
    } catch (error) {
      thrown = error
    }
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.ok(thrown instanceof OutboundBufferFullError, `OutboundBufferFullError after ${sentBytes} bytes`)
  t.equal((thrown as OutboundBufferFullError).code, clientErrorCodes.outboundBufferFull)
  t.match((thrown as Error).message, /outbound buffer is full/)
})
