// The client listener: accepts TCP connections, applies the readiness gate and the connection
// limit, sends INFO, and wires socket events to a `ClientConnection`.
// TLS (optional): TLS-first (handshake before INFO), or NATS's upgrade after INFO: INFO goes out
// in clear text with `tls_required` (or `tls_available` when TLS is optional) and the client's
// first byte tells a TLS ClientHello (upgrade) from clear-text protocol (refused with
// `Secure Connection - TLS Required` when TLS is required, served when it is optional).
import { createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { encodeErr, encodeOp } from '../shared/protocol/index.js'
import type { ServerInfo } from '../shared/protocol/index.js'
import { errorCodes } from '../shared/errors.js'
import type { Logger } from '../shared/log.js'
import { TlsTerminator, tlsHandshakeRecordByte, tlsTerminatorDefaults } from '../shared/security/tls-terminator.js'
import type { TlsMaterial } from '../shared/security/tls-material.js'
import { ClientConnection, closeLingerMs } from './client-connection.js'
import type { ClientAccess } from './client-connection.js'
import type { Router } from './router.js'
import { railgunVersion } from './version.js'

export interface ClientListenerOptions {
  readonly router: Router
  readonly host: string
  readonly port: number
  readonly serverId: string
  readonly serverName: string
  readonly logger: Logger
  /** Whether to serve clients now. */
  readonly isReady: () => boolean
  /**
   * A connection arriving before the node is ready waits this long for readiness (no INFO yet)
   * before it gets `-ERR 'Server Not Ready'` and is closed. 0 refuses at once.
   */
  readonly notReadyHoldMs: number
  /** Client TLS; absent = clear text only (INFO says nothing about TLS). */
  readonly tls?: ClientTlsOptions
  /** Authentication and permissions; absent = open (no `auth_required`). */
  readonly access?: ClientAccess
}

export interface ClientTlsOptions {
  /** Certificate, key and (for `verifyClients`) CA; `reload()` on it applies to new handshakes. */
  readonly material: TlsMaterial
  /** Refuse clear-text clients. When false, TLS is offered (`tls_available`) and clear text still served. */
  readonly required: boolean
  /** Expect the TLS handshake before INFO (nats.js `tls.handshakeFirst`); clear-text clients are not served. */
  readonly handshakeFirst: boolean
  /** Require a client certificate that chains to the material's CA. */
  readonly verifyClients: boolean
  /** Bound on the handshake, and on the wait for the client's first byte after INFO. */
  readonly handshakeTimeoutMs?: number
}

/** Connections in a TLS handshake at once (beyond it new ones are refused): handshakes cost CPU. */
export const tlsHandshakesInFlightMax = 256

export interface ClientListener {
  readonly port: number
  /** Stop accepting new connections (existing ones stay). */
  stopAccepting(): void
  /** Resolves once the listener is closed and every accepted socket is gone. */
  closed(): Promise<void>
  /** Every socket accepted and not yet closed. */
  readonly sockets: ReadonlySet<Socket>
  /** The node became ready: serve the connections that were held waiting. */
  admitWaiting(): void
  /** The node will not become ready (storage failed, or draining): refuse those waiting. */
  refuseWaiting(): void
}

function refuse(socket: Socket, text: string): void {
  socket.end(encodeErr(text))
  const timer = setTimeout(() => socket.destroy(), closeLingerMs)
  timer.unref()
  socket.once('close', () => clearTimeout(timer))
}

export async function startClientListener(options: ClientListenerOptions): Promise<ClientListener> {
  const { router, logger } = options
  const sockets = new Set<Socket>()
  let nextClientId = 1
  const infoBase = {
    server_id: options.serverId,
    server_name: options.serverName,
    version: railgunVersion,
    proto: 1,
    go: `node${process.versions.node}`,
    headers: true,
    max_payload: router.config.limits.maxPayloadBytes,
  }
  let boundPort = 0
  const tls = options.tls
  const terminator =
    tls === undefined ? undefined : new TlsTerminator({ material: tls.material, verifyPeer: tls.verifyClients, ...(tls.handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs: tls.handshakeTimeoutMs }) })
  const handshakeTimeoutMs = tls?.handshakeTimeoutMs ?? tlsTerminatorDefaults.handshakeTimeoutMs
  const tlsInfo = tls === undefined ? {} : tls.required || tls.handshakeFirst ? { tls_required: true } : { tls_available: true }
  const authInfo = options.access === undefined ? {} : { auth_required: true }
  /** Sockets between accept and `ClientConnection` (INFO sent or TLS handshake running). */
  const negotiating = new Set<Socket>()
  /** False once `stopAccepting()` ran: a handshake finishing during drain is refused, not served. */
  let accepting = true

  const waiting = new Map<Socket, NodeJS.Timeout>()
  const notReady = (socket: Socket): void => {
    waiting.delete(socket)
    refuse(socket, errorCodes.RG_ERR_NOT_READY.natsText)
  }

  const infoFor = (clientId: number, remoteAddress: string | undefined): ServerInfo => ({
    ...infoBase,
    ...tlsInfo,
    ...authInfo,
    host: options.host,
    port: boundPort,
    client_id: clientId,
    ...(remoteAddress === undefined ? {} : { client_ip: remoteAddress }),
  })

  const admit = (socket: Socket): void => {
    if (socket.destroyed) return
    if (router.connections.size + negotiating.size >= router.config.limits.maxConnections) {
      refuse(socket, errorCodes.RG_ERR_MAX_CONNECTIONS.natsText)
      return
    }
    const clientId = nextClientId++
    if (tls === undefined || terminator === undefined) {
      serve(socket, clientId, infoFor(clientId, socket.remoteAddress), undefined)
      return
    }
    if (negotiating.size >= tlsHandshakesInFlightMax) {
      logger.warn({ negotiating: negotiating.size }, 'client refused: too many TLS handshakes in progress')
      socket.destroy()
      return
    }
    negotiating.add(socket)
    socket.once('close', () => negotiating.delete(socket))
    const info = infoFor(clientId, socket.remoteAddress)
    const upgrade = (alreadyRead: Uint8Array | undefined): void => {
      void terminator.upgrade(socket, alreadyRead).then((result) => {
        negotiating.delete(socket)
        if (!result.ok) {
          logger.info({ clientId, remote: info.client_ip, reason: result.reason }, 'client TLS handshake refused')
          return
        }
        if (!accepting) {
          refuse(result.socket, errorCodes.RG_ERR_NOT_READY.natsText)
          return
        }
        // TLS-first: INFO goes out inside TLS. Upgrade: it went out in clear text already.
        serve(result.socket, clientId, info, undefined, tls.handshakeFirst ? undefined : 'sent')
      })
    }
    if (tls.handshakeFirst) {
      upgrade(undefined)
      return
    }
    socket.write(encodeOp({ op: 'INFO', info }))
    const timer = setTimeout(() => {
      logger.info({ clientId, remote: info.client_ip }, 'client sent nothing after INFO: closed')
      socket.destroy()
    }, handshakeTimeoutMs)
    timer.unref()
    socket.once('close', () => clearTimeout(timer))
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer)
      socket.pause()
      if (chunk[0] === tlsHandshakeRecordByte) {
        upgrade(chunk)
        return
      }
      negotiating.delete(socket)
      if (!accepting) {
        refuse(socket, errorCodes.RG_ERR_NOT_READY.natsText)
        return
      }
      if (tls.required) {
        refuse(socket, errorCodes.RG_ERR_TLS_REQUIRED.natsText)
        return
      }
      serve(socket, clientId, info, chunk, 'sent')
      socket.resume()
    })
  }

  /** Wire a (possibly TLS) socket to a new connection; `firstChunk` was read before. */
  const serve = (socket: Socket, clientId: number, info: ServerInfo, firstChunk: Uint8Array | undefined, infoSent?: 'sent'): void => {
    if (socket.destroyed) return
    socket.setNoDelay(true)
    const connection = new ClientConnection(router, socket, clientId, options.access)
    router.attach(connection)
    if (infoSent === undefined) {
      connection.outbound.append(encodeOp({ op: 'INFO', info }))
      connection.outbound.flush()
    }
    socket.on('data', (chunk: Buffer) => connection.receive(chunk))
    socket.on('end', () => connection.close())
    socket.on('close', () => connection.closedByPeer())
    socket.on('error', (error) => {
      logger.debug({ clientId, err: error.message }, 'client socket error')
    })
    if (firstChunk !== undefined) connection.receive(firstChunk)
  }

  const server: Server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    socket.setNoDelay(true)
    socket.on('error', () => undefined)
    if (options.isReady()) {
      admit(socket)
      return
    }
    if (options.notReadyHoldMs <= 0) {
      notReady(socket)
      return
    }
    const timer = setTimeout(() => notReady(socket), options.notReadyHoldMs)
    timer.unref()
    waiting.set(socket, timer)
    socket.once('close', () => {
      clearTimeout(timer)
      waiting.delete(socket)
    })
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  boundPort = (server.address() as AddressInfo).port

  return {
    port: boundPort,
    sockets,
    admitWaiting: () => {
      for (const [socket, timer] of [...waiting]) {
        clearTimeout(timer)
        waiting.delete(socket)
        admit(socket)
      }
    },
    refuseWaiting: () => {
      for (const [socket, timer] of [...waiting]) {
        clearTimeout(timer)
        notReady(socket)
      }
    },
    stopAccepting: () => {
      accepting = false
      if (server.listening) server.close()
    },
    closed: () =>
      new Promise<void>((resolve) => {
        if (!server.listening && sockets.size === 0) resolve()
        else server.once('close', () => resolve())
      }),
  }
}
