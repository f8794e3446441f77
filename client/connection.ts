// The TCP transport: one socket, the shared protocol parser (role `client`) and the encoder, with
// coalesced writes. Hot path: `send` copies each frame once, into a chunk buffer; the chunk goes
// to the socket once per event-loop turn (setImmediate) or as soon as it fills, so a burst of
// publishes becomes a few large writes instead of one syscall (and one allocation) each.
import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { crlf, encodeOp } from '../shared/protocol/encoder.js'
import { createParser } from '../shared/protocol/parser.js'
import type { ProtocolOp, ProtocolParser } from '../shared/protocol/types.js'
import { ConnectError, OutboundBufferFullError, ProtocolError } from './errors.js'
import type { ResolvedTls } from './tls.js'
import type { DialOptions, ServerAddress, Transport, TransportHandlers } from './transport.js'

/** Size of the coalescing chunk: a full chunk is written within the same turn. */
export const writeChunkBytes = 64 * 1024
/** Worst-case UTF-8 bytes per UTF-16 code unit, to reserve room before writing a string. */
const utf8BytesPerCodeUnitMax = 3

class TcpTransport implements Transport {
  private socket: Socket
  private readonly parser: ProtocolParser
  private readonly handlers: TransportHandlers
  private readonly outboundBytesMax: number
  private chunk: Buffer = Buffer.allocUnsafe(writeChunkBytes)
  private chunkUsedBytes = 0
  private flushScheduled = false
  private closed = false

  constructor(socket: Socket, handlers: TransportHandlers, options: DialOptions, private readonly host: string) {
    this.socket = socket
    this.handlers = handlers
    this.outboundBytesMax = options.outboundBytesMax
    this.parser = createParser({ role: 'client', payloadBytesMax: options.inboundPayloadBytesMax })
    this.attach(socket)
  }

  private readonly onSocketData = (data: Buffer): void => this.onData(data)
  private readonly onSocketError = (error: Error): void => this.finish(error)
  private readonly onSocketClose = (): void => this.finish(new ConnectError('connection lost'))

  private attach(socket: Socket): void {
    socket.on('data', this.onSocketData)
    socket.on('error', this.onSocketError)
    socket.on('close', this.onSocketClose)
  }

  private detach(socket: Socket): void {
    socket.off('data', this.onSocketData)
    socket.off('error', this.onSocketError)
    socket.off('close', this.onSocketClose)
  }

  /** STARTTLS-style upgrade after the server's INFO: the same TCP socket carries TLS from now on. */
  startTls(tls: ResolvedTls): Promise<void> {
    if (this.closed) return Promise.reject(new ConnectError('connection closed before the TLS upgrade'))
    this.flushNow()
    const raw = this.socket
    this.detach(raw)
    return new Promise<void>((resolve, reject) => {
      const secure = tlsConnect({ ...tls.connectOptions(this.host), socket: raw })
      const onError = (error: Error): void => {
        secure.destroy()
        // The caller (the handshake) fails the attempt with this reason and closes the transport.
        reject(new ConnectError(`TLS handshake with ${this.host} failed: ${error.message}`, { cause: error }))
      }
      secure.once('error', onError)
      secure.once('secureConnect', () => {
        secure.off('error', onError)
        secure.setNoDelay(true)
        this.socket = secure
        this.attach(secure)
        resolve()
      })
    })
  }

  get pendingBytes(): number {
    return this.chunkUsedBytes + this.socket.writableLength
  }

  send(op: ProtocolOp): void {
    if (this.closed) return
    if (op.op === 'PUB') {
      // Hot path: control line written straight into the chunk, then the payload; one copy.
      const line = op.replyTo === undefined
        ? `PUB ${op.subject} ${op.payload.length}\r\n`
        : `PUB ${op.subject} ${op.replyTo} ${op.payload.length}\r\n`
      const frameBytesMax = line.length * utf8BytesPerCodeUnitMax + op.payload.length + 2
      this.checkBound(frameBytesMax)
      if (frameBytesMax <= writeChunkBytes) {
        if (this.chunkUsedBytes + frameBytesMax > writeChunkBytes) this.flushNow()
        this.chunkUsedBytes += this.chunk.write(line, this.chunkUsedBytes, 'utf8')
        this.chunk.set(op.payload, this.chunkUsedBytes)
        this.chunkUsedBytes += op.payload.length
        this.chunk[this.chunkUsedBytes++] = 0x0d
        this.chunk[this.chunkUsedBytes++] = 0x0a
        this.scheduleFlush()
        return
      }
      this.appendLarge([Buffer.from(line, 'utf8'), op.payload, crlf])
      return
    }
    const bytes = encodeOp(op)
    this.checkBound(bytes.length)
    if (bytes.length > writeChunkBytes) {
      this.appendLarge([bytes])
      return
    }
    if (this.chunkUsedBytes + bytes.length > writeChunkBytes) this.flushNow()
    this.chunk.set(bytes, this.chunkUsedBytes)
    this.chunkUsedBytes += bytes.length
    this.scheduleFlush()
  }

  private checkBound(frameBytes: number): void {
    if (this.chunkUsedBytes + this.socket.writableLength + frameBytes > this.outboundBytesMax) {
      throw new OutboundBufferFullError('outbound buffer', this.outboundBytesMax)
    }
  }

  /** A frame bigger than a chunk: flush what is queued (order!), then write its parts as one. */
  private appendLarge(parts: readonly Uint8Array[]): void {
    this.flushNow()
    this.socket.write(Buffer.concat(parts))
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    setImmediate(this.flushScheduledWrites)
  }

  private readonly flushScheduledWrites = (): void => {
    this.flushScheduled = false
    this.flushNow()
  }

  private flushNow(): void {
    const used = this.chunkUsedBytes
    if (used === 0 || this.closed) return
    let out: Buffer
    if (used < writeChunkBytes / 2) {
      // Small write (the request/reply case): copy out and keep the chunk, to spare the GC.
      out = Buffer.allocUnsafe(used)
      this.chunk.copy(out, 0, 0, used)
    } else {
      out = this.chunk.subarray(0, used)
      this.chunk = Buffer.allocUnsafe(writeChunkBytes)
    }
    this.chunkUsedBytes = 0
    this.socket.write(out)
  }

  close(error?: Error): void {
    if (this.closed) return
    this.flushNow()
    this.finish(error)
    this.socket.end()
    // A peer that never reads must not keep the socket open forever.
    setTimeout(() => this.socket.destroy(), 1_000).unref()
  }

  private onData(data: Buffer): void {
    if (this.closed) return
    const result = this.parser.push(data)
    if (result.ops.length > 0) this.handlers.onOps(result.ops)
    if (result.error !== undefined && !this.closed) {
      this.socket.destroy()
      this.finish(new ProtocolError(`server sent bad protocol (${result.error.kind}): ${result.error.detail}`))
    }
  }

  private finish(error: Error | undefined): void {
    if (this.closed) return
    this.closed = true
    this.chunkUsedBytes = 0
    this.handlers.onClose(error)
  }
}

/**
 * Opens a TCP connection; resolves once connected (the protocol handshake is the client's). With
 * `tls.handshakeFirst` the TLS handshake runs first and the promise resolves once it is verified.
 */
export function dialTcp(address: ServerAddress, handlers: TransportHandlers, options: DialOptions): Promise<Transport> {
  const first = options.tls?.handshakeFirst === true ? options.tls : undefined
  return new Promise((resolve, reject) => {
    const socket: Socket | TLSSocket =
      first === undefined
        ? netConnect({ host: address.host, port: address.port })
        : tlsConnect({ ...first.connectOptions(address.host), host: address.host, port: address.port })
    socket.setNoDelay(true)
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new ConnectError(`connect to ${address.url} timed out after ${options.timeoutMs} ms`))
    }, options.timeoutMs)
    const onError = (error: Error): void => {
      clearTimeout(timer)
      reject(new ConnectError(`cannot connect to ${address.url}: ${error.message}`, { cause: error }))
    }
    socket.once('error', onError)
    socket.once(first === undefined ? 'connect' : 'secureConnect', () => {
      clearTimeout(timer)
      socket.off('error', onError)
      resolve(new TcpTransport(socket, handlers, options, address.host))
    })
  })
}
