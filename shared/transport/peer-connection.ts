// One TCP connection to a peer: frame decoding, the handshake exchange, heartbeats and
// liveness, the bounded outbound queue with coalesced writes, and closing with a reason.
// Decisions (accept or refuse a hello, which duplicate survives) belong to the owner
// (tcp-transport.ts); this class only carries them out.
import type { Socket } from 'node:net'
import type { Hello, RejectReason } from './control-messages.js'
import { decodeControl, encodeControl, helloBytesMax } from './control-messages.js'
import type { ConnectionDirection } from './handshake.js'
import { controlChannelByte, encodeFrame, FrameDecoder } from './frame-codec.js'
import type { OutboundLimits } from './outbound-queue.js'
import { OutboundQueue } from './outbound-queue.js'

export interface PeerConnectionEvents {
  /** The remote's hello arrived: call `accept()` or `refuse()`. */
  onHello(connection: PeerConnection, hello: Hello): void
  onFrame(connection: PeerConnection, channelByte: number, payload: Uint8Array): void
  /** Called once, synchronously from `close()` (the socket may still be flushing). */
  onClosed(connection: PeerConnection, reason: string, refusedWith: RejectReason | undefined): void
}

export interface PeerConnectionOptions {
  readonly direction: ConnectionDirection
  /** Outbound only: the node id we dialed. */
  readonly expectedPeerId?: string
  readonly localHello: Hello
  readonly frameBytesMax: number
  readonly outboundLimits: OutboundLimits
  readonly nowMs: () => number
}

export const connectionStates = ['handshaking', 'established', 'closed'] as const
export type ConnectionState = (typeof connectionStates)[number]

export class PeerConnection {
  state: ConnectionState = 'handshaking'
  remoteHello: Hello | undefined
  readonly openedMs: number
  lastHeardMs: number
  private lastSentMs: number
  /** Set when the owner closes this connection as a loser of arbitration: no `down` for it. */
  superseded = false
  private readonly decoder: FrameDecoder
  private readonly queue: OutboundQueue
  private flushScheduled = false
  private waitingForDrain = false
  private readonly heartbeatFrame: Uint8Array

  constructor(
    readonly socket: Socket,
    private readonly options: PeerConnectionOptions,
    private readonly events: PeerConnectionEvents,
  ) {
    this.openedMs = options.nowMs()
    this.lastHeardMs = this.openedMs
    this.lastSentMs = this.openedMs
    // Until the handshake completes only a hello-sized frame is acceptable.
    this.decoder = new FrameDecoder(Math.min(helloBytesMax, options.frameBytesMax))
    this.queue = new OutboundQueue(options.outboundLimits)
    this.heartbeatFrame = encodeFrame(controlChannelByte, encodeControl({ kind: 'heartbeat' }))
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', (error: Error) => this.close(`socket error: ${error.message}`))
    socket.on('end', () => this.close('peer closed the connection'))
    socket.on('close', () => this.close('connection closed'))
    if (options.direction === 'outbound') {
      socket.once('connect', () => this.writeControl(encodeControl({ kind: 'hello', hello: options.localHello })))
    }
  }

  get direction(): ConnectionDirection {
    return this.options.direction
  }

  /** The remote's id: from its hello, or the id we dialed before it answered. */
  get peerId(): string | undefined {
    return this.remoteHello?.nodeId ?? this.options.expectedPeerId
  }

  get queuedFrames(): number {
    return this.queue.frameCount
  }

  /** Handshake accepted: the acceptor answers with its own hello; both may now send data. */
  accept(): void {
    if (this.state !== 'handshaking') return
    if (this.options.direction === 'inbound') {
      this.writeControl(encodeControl({ kind: 'hello', hello: this.options.localHello }))
    }
    this.state = 'established'
    this.decoder.setFrameBytesMax(this.options.frameBytesMax)
  }

  /** Tell the remote why, then close. */
  refuse(reason: RejectReason, detail: string): void {
    if (this.state === 'closed') return
    this.endWith(encodeControl({ kind: 'reject', reason, detail }))
    this.finish(`refused peer: ${reason}: ${detail}`, undefined)
  }

  /** Queue a data frame (already encoded); false when the queue is full or the link not up. */
  enqueue(frame: Uint8Array): boolean {
    if (this.state !== 'established') return false
    if (!this.queue.push(frame)) return false
    this.scheduleFlush()
    return true
  }

  /** Heartbeat, liveness and handshake deadline; returns nothing, closes on failure. */
  tick(nowMs: number, heartbeatIntervalMs: number, deadAfterMs: number, handshakeTimeoutMs: number): void {
    if (this.state === 'handshaking') {
      if (nowMs - this.openedMs > handshakeTimeoutMs) this.close(`handshake not completed within ${handshakeTimeoutMs}ms`)
      return
    }
    if (this.state !== 'established') return
    const silentMs = nowMs - this.lastHeardMs
    if (silentMs > deadAfterMs) {
      this.close(`peer silent for ${Math.round(silentMs)}ms (deadAfterMs ${deadAfterMs})`)
      return
    }
    if (nowMs - this.lastSentMs >= heartbeatIntervalMs && this.queue.frameCount === 0) {
      this.queue.push(this.heartbeatFrame)
      this.scheduleFlush()
    }
  }

  /** Close with a reason; `goodbye` also tells the remote (orderly close). Idempotent. */
  close(reason: string, goodbye?: string): void {
    if (this.state === 'closed') return
    if (goodbye !== undefined) this.endWith(encodeControl({ kind: 'goodbye', detail: goodbye }))
    else this.socket.destroy()
    this.finish(reason, undefined)
  }

  private finish(reason: string, refusedWith: RejectReason | undefined): void {
    this.state = 'closed'
    this.queue.clear()
    this.events.onClosed(this, reason, refusedWith)
  }

  /** Write one last control frame (bypassing the queue) and half-close; the peer closes its side. */
  private endWith(controlPayload: Uint8Array): void {
    this.queue.clear()
    if (this.socket.writable) this.socket.end(encodeFrame(controlChannelByte, controlPayload))
    else this.socket.destroy()
    // Safety net: a peer that never closes its side is cut off after a short grace period.
    const timer = setTimeout(() => this.socket.destroy(), 1_000)
    this.socket.once('close', () => clearTimeout(timer))
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return
    this.lastHeardMs = this.options.nowMs()
    const error = this.decoder.push(chunk, (frame) => {
      if (this.state === 'closed') return
      if (frame.channelByte === controlChannelByte) this.onControl(frame.payload)
      else if (this.state !== 'established') this.close(`protocol error: data frame on channel ${frame.channelByte} before the handshake`)
      else this.events.onFrame(this, frame.channelByte, frame.payload)
    })
    if (error !== null) this.close(`frame error: ${error.message}`)
  }

  private onControl(payload: Uint8Array): void {
    const decoded = decodeControl(payload)
    if (!decoded.ok) {
      // During the handshake the remote may be a different program or version: tell it why.
      if (this.state === 'handshaking') this.refuse('malformed', decoded.error)
      else this.close(`protocol error: ${decoded.error}`)
      return
    }
    const message = decoded.message
    switch (message.kind) {
      case 'hello':
        if (this.state !== 'handshaking' || this.remoteHello !== undefined) {
          this.close('protocol error: second hello on one connection')
          return
        }
        this.remoteHello = message.hello
        this.events.onHello(this, message.hello)
        return
      case 'reject':
        this.socket.destroy()
        this.finish(`refused by peer: ${message.reason}: ${message.detail}`, message.reason)
        return
      case 'heartbeat':
        return
      case 'goodbye':
        this.close(`peer closed the connection: ${message.detail}`)
        return
    }
  }

  private writeControl(controlPayload: Uint8Array): void {
    if (this.state === 'closed' || !this.socket.writable) return
    this.queue.clear()
    this.socket.write(encodeFrame(controlChannelByte, controlPayload))
    this.lastSentMs = this.options.nowMs()
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.waitingForDrain) return
    this.flushScheduled = true
    // A microtask coalesces every send of the current synchronous run into few writes.
    queueMicrotask(() => {
      this.flushScheduled = false
      this.flush()
    })
  }

  private flush(): void {
    while (this.state === 'established') {
      const chunk = this.queue.takeChunk()
      if (chunk === undefined) return
      this.lastSentMs = this.options.nowMs()
      if (!this.socket.write(chunk)) {
        this.waitingForDrain = true
        this.socket.once('drain', () => {
          this.waitingForDrain = false
          this.flush()
        })
        return
      }
    }
  }
}
