// Loopback echo servers and clients for harness tests (and for anyone checking a link works).
import { connect, createServer } from 'node:net'
import type { Server, Socket } from 'node:net'

export interface EchoServer {
  readonly port: number
  readonly server: Server
  close(): Promise<void>
}

export async function startEchoServer(): Promise<EchoServer> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => undefined)
    socket.once('close', () => sockets.delete(socket))
    socket.pipe(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('echo server: no address')
  return {
    port: address.port,
    server,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

export interface EchoClient {
  readonly socket: Socket
  /** Sends `text` and resolves with the round trip in ms once it is echoed back, or rejects. */
  roundTrip(text: string, timeoutMs: number): Promise<number>
  /** Bytes received so far. */
  received(): string
  close(): void
}

export async function openEchoClient(port: number): Promise<EchoClient> {
  const socket = connect({ host: '127.0.0.1', port })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  socket.on('error', () => undefined)
  let buffer = ''
  const listeners = new Set<() => void>()
  socket.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8')
    for (const listener of [...listeners]) listener()
  })
  return {
    socket,
    received: () => buffer,
    roundTrip(text: string, timeoutMs: number): Promise<number> {
      const startMs = performance.now()
      const expected = buffer + text
      socket.write(text)
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (buffer.length >= expected.length) {
            cleanup()
            if (buffer.startsWith(expected)) resolve(performance.now() - startMs)
            else reject(new Error(`echo mismatch: ${JSON.stringify(buffer.slice(-40))}`))
          }
        }
        const timer = setTimeout(() => {
          cleanup()
          reject(new Error(`no echo within ${timeoutMs}ms`))
        }, timeoutMs)
        const cleanup = (): void => {
          clearTimeout(timer)
          listeners.delete(check)
        }
        listeners.add(check)
        check()
      })
    },
    close: () => socket.destroy(),
  }
}
