// The TCP transport: one listener, at most one connection per peer pair, handshakes gated on
// readiness, heartbeats, re-dial with backoff. Framing, handshake rules, backoff and queueing
// live in their own pure files; this file is the I/O driver that wires them to sockets.
import { randomBytes } from 'node:crypto'
import { createConnection, createServer } from 'node:net'
import type { Server, Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { Subject } from 'rxjs'
import type { Clock } from '../clock.js'
import { systemClock } from '../clock.js'
import type { Logger } from '../log.js'
import { createSilentLogger } from '../log.js'
import type { BackoffPolicy, UnitRandom } from './backoff.js'
import { backoffDelayMs, checkBackoffPolicy, defaultBackoffPolicy } from './backoff.js'
import type { Hello, RejectReason } from './control-messages.js'
import { peerProtocolVersion } from './control-messages.js'
import { defaultFrameBytesMax, encodeFrame } from './frame-codec.js'
import type { LocalIdentity } from './handshake.js'
import { arbitrate, checkHello, sameTokenVerifier } from './handshake.js'
import type { OutboundLimits } from './outbound-queue.js'
import { defaultOutboundLimits } from './outbound-queue.js'
import { PeerConnection } from './peer-connection.js'
import type { IncomingFrame, ListenAddress, PeerAddress, Transport, TransportChannel } from './types.js'
import { PeerStatusBoard } from './peer-status.js'
import { channelByteOf, channelOfByte } from './channels.js'
import type { TlsMaterial } from '../security/tls-material.js'
import { TlsTerminator, certificateErrorCodes, describeAuthorizationError } from '../security/tls-terminator.js'

/** Unauthenticated connections allowed at once; more are closed on arrival. */
export const handshakingConnectionsMax = 64

export interface TcpTransportOptions {
  readonly nodeId: string
  readonly clusterName: string
  readonly region: string
  /** Opaque token sent in the hello (placeholder for the security work). Default: empty. */
  readonly credentials?: Uint8Array
  /** Default: accept exactly our own token. */
  readonly verifyCredentials?: (credentials: Uint8Array, remote: Hello) => boolean
  /** Default 127.0.0.1, port 0 (any free port). */
  readonly listen?: ListenAddress
  /**
   * Until this is true / resolved (or `markReady()` is called), inbound handshakes are refused
   * with `notReady` and no peer is dialed. Default: ready at once.
   */
  readonly ready?: boolean | PromiseLike<unknown>
  readonly heartbeatIntervalMs?: number
  readonly deadAfterMs?: number
  readonly handshakeTimeoutMs?: number
  readonly frameBytesMax?: number
  readonly outboundLimits?: Partial<OutboundLimits>
  readonly backoff?: BackoffPolicy
  readonly clock?: Clock
  readonly random?: UnitRandom
  readonly logger?: Logger
  /** Identifies this run of the node in handshakes; default 8 random bytes (hex). */
  readonly incarnation?: string
  /**
   * Mutual TLS: both ends present the material's certificate and require the other's to chain
   * to its CA (the cluster CA). Host names are not checked: the cluster CA is the membership.
   * Absent = plain TCP (the node warns at start: `warnIfPlaintext`).
   */
  readonly tls?: { readonly material: TlsMaterial }
}

export const defaultTcpTimings = { heartbeatIntervalMs: 500, deadAfterMs: 3_000, handshakeTimeoutMs: 5_000 } as const

interface DialState {
  address: PeerAddress
  attempt: number
  timer: NodeJS.Timeout | undefined
  connection: PeerConnection | undefined
}

export class TcpTransport implements Transport {
  readonly nodeId: string
  private readonly frameSubject = new Subject<IncomingFrame>()
  readonly frames$ = this.frameSubject.asObservable()
  private readonly board = new PeerStatusBoard()
  readonly status$ = this.board.status$
  private readonly identity: LocalIdentity
  private readonly hello: Hello
  private readonly heartbeatIntervalMs: number
  private readonly deadAfterMs: number
  private readonly handshakeTimeoutMs: number
  private readonly frameBytesMax: number
  private readonly outboundLimits: OutboundLimits
  private readonly backoff: BackoffPolicy
  private readonly clock: Clock
  private readonly random: UnitRandom
  private readonly logger: Logger
  private readonly verifyCredentials: (credentials: Uint8Array, remote: Hello) => boolean
  private readonly connections = new Set<PeerConnection>()
  private readonly openSockets = new Set<Socket>()
  private readonly tlsTerminator: TlsTerminator | undefined
  /** Inbound sockets in their TLS handshake (not yet a PeerConnection). */
  private readonly tlsHandshaking = new Set<Socket>()
  private readonly established = new Map<string, PeerConnection>()
  private readonly dials = new Map<string, DialState>()
  private server: Server | undefined
  private tickTimer: NodeJS.Timeout | undefined
  private ready: boolean
  /** Liveness and heartbeat check period: a quarter of deadAfterMs at most. */
  private readonly tickMs: number
  private lastTickMs: number | undefined
  private lifecycle: 'new' | 'started' | 'stopped' = 'new'

  constructor(private readonly options: TcpTransportOptions) {
    this.nodeId = options.nodeId
    const credentials = options.credentials ?? new Uint8Array(0)
    this.identity = {
      clusterName: options.clusterName,
      nodeId: options.nodeId,
      region: options.region,
      incarnation: options.incarnation ?? randomBytes(8).toString('hex'),
      credentials,
    }
    this.hello = { ...this.identity, protocolVersion: peerProtocolVersion }
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? defaultTcpTimings.heartbeatIntervalMs
    this.deadAfterMs = options.deadAfterMs ?? defaultTcpTimings.deadAfterMs
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? defaultTcpTimings.handshakeTimeoutMs
    if (!(this.heartbeatIntervalMs > 0 && this.deadAfterMs > this.heartbeatIntervalMs)) {
      throw new RangeError(`need 0 < heartbeatIntervalMs (${this.heartbeatIntervalMs}) < deadAfterMs (${this.deadAfterMs})`)
    }
    this.tickMs = Math.max(1, Math.min(this.heartbeatIntervalMs, Math.floor(this.deadAfterMs / 4)))
    this.frameBytesMax = options.frameBytesMax ?? defaultFrameBytesMax
    this.outboundLimits = { ...defaultOutboundLimits, ...options.outboundLimits }
    this.backoff = options.backoff ?? defaultBackoffPolicy
    checkBackoffPolicy(this.backoff)
    this.clock = options.clock ?? systemClock
    this.random = options.random ?? Math.random
    this.logger = options.logger ?? createSilentLogger(options.nodeId)
    this.verifyCredentials = options.verifyCredentials ?? sameTokenVerifier(credentials)
    this.ready = options.ready === undefined || options.ready === true
    this.tlsTerminator =
      options.tls === undefined ? undefined : new TlsTerminator({ material: options.tls.material, verifyPeer: true, handshakeTimeoutMs: this.handshakeTimeoutMs })
  }

  async start(): Promise<ListenAddress> {
    if (this.lifecycle !== 'new') throw new Error(`transport ${this.nodeId}: start() called twice`)
    this.lifecycle = 'started'
    const readiness = this.options.ready
    if (readiness !== undefined && typeof readiness !== 'boolean') {
      readiness.then(
        () => this.markReady(),
        (error: unknown) => this.logger.error({ err: error }, 'readiness failed: peer handshakes stay refused'),
      )
    }
    const server = createServer((socket) => this.onInbound(socket))
    this.server = server
    const listen = this.options.listen ?? { host: '127.0.0.1', port: 0 }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(listen.port, listen.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    this.tickTimer = setInterval(() => this.tick(), this.tickMs)
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('tcp transport: listener has no TCP address')
    this.logger.info({ host: address.address, port: address.port }, 'peer listener started')
    if (this.ready) for (const peerId of this.dials.keys()) if (!this.established.has(peerId)) this.dial(peerId)
    return { host: address.address, port: address.port }
  }

  /** The node is ready (storage open and checked): accept handshakes and dial peers. */
  markReady(): void {
    if (this.ready) return
    this.ready = true
    if (this.lifecycle !== 'started') return
    for (const [peerId, dial] of this.dials) {
      if (dial.connection === undefined && dial.timer === undefined && !this.established.has(peerId)) this.dial(peerId)
    }
  }

  connect(peer: PeerAddress): void {
    if (peer.id === this.nodeId) throw new Error(`transport ${this.nodeId}: cannot connect to itself`)
    if (this.lifecycle === 'stopped') return
    const existing = this.dials.get(peer.id)
    if (existing !== undefined) {
      existing.address = peer
      return
    }
    this.dials.set(peer.id, { address: peer, attempt: 0, timer: undefined, connection: undefined })
    if (this.established.has(peer.id)) return
    this.board.set(peer.id, 'connecting')
    if (this.ready && this.lifecycle === 'started') this.dial(peer.id)
  }

  disconnect(peerId: string, reason = 'disconnected locally'): void {
    const dial = this.dials.get(peerId)
    this.dials.delete(peerId)
    if (dial?.timer !== undefined) clearTimeout(dial.timer)
    const goodbye = `${this.nodeId} disconnected: ${reason}`
    dial?.connection?.close(reason, goodbye)
    this.established.get(peerId)?.close(reason, goodbye)
    this.board.set(peerId, 'down', reason)
  }

  send(to: string, channel: TransportChannel, payload: Uint8Array): boolean {
    const connection = this.established.get(to)
    if (connection === undefined) return false
    if (payload.byteLength + 1 > this.frameBytesMax) return false
    return connection.enqueue(encodeFrame(channelByteOf(channel), payload, this.frameBytesMax))
  }

  upPeers(): readonly string[] {
    return [...this.established.keys()]
  }

  async stop(): Promise<void> {
    if (this.lifecycle === 'stopped') return
    this.lifecycle = 'stopped'
    if (this.tickTimer !== undefined) clearInterval(this.tickTimer)
    for (const dial of this.dials.values()) if (dial.timer !== undefined) clearTimeout(dial.timer)
    this.dials.clear()
    for (const peerId of this.established.keys()) this.board.set(peerId, 'down', 'transport stopped')
    for (const connection of [...this.connections]) connection.close('transport stopped', `node ${this.nodeId} is stopping`)
    for (const socket of this.tlsHandshaking) socket.destroy()
    const server = this.server
    const serverClosed =
      server === undefined ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()))
    const socketsClosed = [...this.openSockets].map(
      (socket) => new Promise<void>((resolve) => (socket.destroyed && socket.closed ? resolve() : socket.once('close', () => resolve()))),
    )
    await Promise.all([serverClosed, ...socketsClosed])
    this.frameSubject.complete()
    this.board.complete()
    this.logger.info('peer transport stopped')
  }

  private dial(peerId: string): void {
    const dial = this.dials.get(peerId)
    if (dial === undefined || this.lifecycle !== 'started') return
    this.board.set(peerId, 'connecting')
    const material = this.options.tls?.material
    if (material === undefined) {
      const socket = createConnection({ host: dial.address.host, port: dial.address.port })
      dial.connection = this.track(socket, 'outbound', peerId)
      return
    }
    // Node checks the acceptor's chain against the cluster CA before any byte of ours (the hello)
    // is written; a refusal surfaces as the socket's error, which closes the connection.
    const socket = tlsConnect({
      host: dial.address.host,
      port: dial.address.port,
      secureContext: material.current(),
      rejectUnauthorized: true,
      checkServerIdentity: () => undefined,
    })
    socket.once('error', (error: Error) => {
      if (!certificateErrorCodes.has((error as NodeJS.ErrnoException).code ?? '')) return
      this.logger.warn({ peer: peerId, reason: describeAuthorizationError(error) }, 'peer TLS refused: the peer\'s certificate is not trusted')
    })
    dial.connection = this.track(socket, 'outbound', peerId)
  }

  private onInbound(socket: Socket): void {
    let handshaking = 0
    for (const connection of this.connections) if (connection.state === 'handshaking') handshaking += 1
    handshaking += this.tlsHandshaking.size
    if (this.lifecycle !== 'started' || handshaking >= handshakingConnectionsMax) {
      this.logger.warn({ handshaking }, 'inbound peer connection refused: too many handshakes in progress or stopping')
      socket.destroy()
      return
    }
    const terminator = this.tlsTerminator
    if (terminator === undefined) {
      this.track(socket, 'inbound', undefined)
      return
    }
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`
    this.tlsHandshaking.add(socket)
    this.openSockets.add(socket)
    socket.once('close', () => this.openSockets.delete(socket))
    void terminator.upgrade(socket).then((result) => {
      this.tlsHandshaking.delete(socket)
      if (!result.ok) {
        this.logger.warn({ remote, reason: result.reason }, 'inbound peer refused: TLS handshake failed')
        return
      }
      if (this.lifecycle !== 'started') {
        result.socket.destroy()
        return
      }
      this.track(result.socket, 'inbound', undefined)
    })
  }

  private track(socket: Socket, direction: 'inbound' | 'outbound', expectedPeerId: string | undefined): PeerConnection {
    this.openSockets.add(socket)
    socket.once('close', () => this.openSockets.delete(socket))
    const connection = new PeerConnection(
      socket,
      {
        direction,
        ...(expectedPeerId === undefined ? {} : { expectedPeerId }),
        localHello: this.hello,
        frameBytesMax: this.frameBytesMax,
        outboundLimits: this.outboundLimits,
        nowMs: () => this.clock.nowMs(),
      },
      {
        onHello: (c, hello) => this.onHello(c, hello),
        onFrame: (c, channelByte, payload) => this.onFrame(c, channelByte, payload),
        onClosed: (c, reason, refusedWith) => this.onClosed(c, reason, refusedWith),
      },
    )
    this.connections.add(connection)
    return connection
  }

  private onHello(connection: PeerConnection, hello: Hello): void {
    const outbound = connection.direction === 'outbound'
    const verdict = checkHello({
      local: this.identity,
      remote: hello,
      ready: outbound || this.ready,
      ...(outbound && connection.peerId !== undefined ? { expectedPeerId: connection.peerId } : {}),
      verifyCredentials: this.verifyCredentials,
    })
    if (!verdict.accept) {
      this.logger.warn({ peer: hello.nodeId, reason: verdict.reason, detail: verdict.detail }, 'peer handshake refused')
      connection.refuse(verdict.reason, verdict.detail)
      return
    }
    const peerId = hello.nodeId
    const existing = this.established.get(peerId)
    const dial = this.dials.get(peerId)
    const ownDial = dial?.connection !== undefined && dial.connection !== connection ? dial.connection : undefined
    const result = arbitrate({
      localId: this.nodeId,
      remoteId: peerId,
      remoteIncarnation: hello.incarnation,
      candidateDirection: connection.direction,
      existing:
        existing === undefined || existing.remoteHello === undefined
          ? undefined
          : { direction: existing.direction, incarnation: existing.remoteHello.incarnation, lastHeardMs: existing.lastHeardMs },
      ownDialPending: ownDial !== undefined,
      nowMs: this.clock.nowMs(),
      deadAfterMs: this.deadAfterMs,
    })
    if (result.keep === 'existing') {
      connection.refuse(result.reason, result.detail)
      return
    }
    if (result.closeExisting && existing !== undefined) {
      existing.superseded = true
      existing.close('replaced by a newer connection to the same peer', 'replaced by a newer connection')
    }
    if (result.abortOwnDial && ownDial !== undefined) {
      ownDial.superseded = true
      ownDial.close('superseded by the inbound connection (tie-break)')
    }
    connection.accept()
    this.established.set(peerId, connection)
    if (dial !== undefined) {
      dial.connection = undefined
      dial.attempt = 0
      if (dial.timer !== undefined) clearTimeout(dial.timer)
      dial.timer = undefined
    }
    this.board.set(peerId, 'up')
  }

  private onFrame(connection: PeerConnection, channelByte: number, payload: Uint8Array): void {
    const channel = channelOfByte(channelByte)
    const from = connection.peerId
    if (channel === undefined || from === undefined) {
      connection.close(`protocol error: unknown channel byte ${channelByte}`)
      return
    }
    this.frameSubject.next({ from, channel, payload })
  }

  private onClosed(connection: PeerConnection, reason: string, refusedWith: RejectReason | undefined): void {
    this.connections.delete(connection)
    const peerId = connection.peerId
    if (peerId === undefined) return
    const wasUp = this.established.get(peerId) === connection
    if (wasUp) this.established.delete(peerId)
    const dial = this.dials.get(peerId)
    if (dial !== undefined && dial.connection === connection) dial.connection = undefined
    if (wasUp || refusedWith !== undefined || connection.direction === 'outbound') {
      this.logger.warn({ peer: peerId, reason, direction: connection.direction }, 'peer connection closed')
    }
    if (this.lifecycle !== 'started' || connection.superseded || this.established.has(peerId)) return
    // An inbound connection that never came up says nothing about the peer's state: it may be
    // the loser of a tie-break while our own dial is on its way.
    const reportDown = wasUp || (connection.direction === 'outbound' && refusedWith !== 'duplicateConnection')
    if (reportDown) this.board.set(peerId, 'down', reason)
    if (dial !== undefined && (wasUp || connection.direction === 'outbound')) this.scheduleDial(peerId)
  }

  private scheduleDial(peerId: string): void {
    const dial = this.dials.get(peerId)
    if (dial === undefined || dial.timer !== undefined || dial.connection !== undefined) return
    const delayMs = backoffDelayMs(dial.attempt, this.backoff, this.random)
    dial.attempt += 1
    dial.timer = setTimeout(() => {
      dial.timer = undefined
      if (this.ready && !this.established.has(peerId)) this.dial(peerId)
    }, delayMs)
  }

  private tick(): void {
    const nowMs = this.clock.nowMs()
    // A late tick means this process was stalled (GC, CPU starvation, SIGSTOP): bytes may be
    // waiting in socket buffers that the poll phase has not read yet. Judge silence only on
    // time we were running to hear it: skip the liveness verdict this once.
    const stalled = this.lastTickMs !== undefined && nowMs - this.lastTickMs > 2 * this.tickMs
    this.lastTickMs = nowMs
    for (const connection of [...this.connections]) {
      connection.tick(nowMs, this.heartbeatIntervalMs, stalled ? Number.POSITIVE_INFINITY : this.deadAfterMs, this.handshakeTimeoutMs)
    }
  }
}
