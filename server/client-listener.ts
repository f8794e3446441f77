// The client listener: accepts TCP connections, applies the readiness gate and the connection
// limit, sends INFO, and wires socket events to a `ClientConnection`.
import { createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { encodeErr, encodeOp } from '../shared/protocol/index.js'
import type { ServerInfo } from '../shared/protocol/index.js'
import { errorCodes } from '../shared/errors.js'
import type { Logger } from '../shared/log.js'
import { ClientConnection, closeLingerMs } from './client-connection.js'
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
}

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

  const waiting = new Map<Socket, NodeJS.Timeout>()
  const notReady = (socket: Socket): void => {
    waiting.delete(socket)
    refuse(socket, errorCodes.RG_ERR_NOT_READY.natsText)
  }

  const admit = (socket: Socket): void => {
    if (socket.destroyed) return
    if (router.connections.size >= router.config.limits.maxConnections) {
      refuse(socket, errorCodes.RG_ERR_MAX_CONNECTIONS.natsText)
      return
    }
    const clientId = nextClientId++
    const connection = new ClientConnection(router, socket, clientId)
    router.attach(connection)
    const info: ServerInfo = {
      ...infoBase,
      host: options.host,
      port: boundPort,
      client_id: clientId,
      ...(socket.remoteAddress === undefined ? {} : { client_ip: socket.remoteAddress }),
    }
    connection.outbound.append(encodeOp({ op: 'INFO', info }))
    connection.outbound.flush()
    socket.on('data', (chunk: Buffer) => connection.receive(chunk))
    socket.on('end', () => connection.close())
    socket.on('close', () => connection.closedByPeer())
    socket.on('error', (error) => {
      logger.debug({ clientId, err: error.message }, 'client socket error')
    })
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
      if (server.listening) server.close()
    },
    closed: () =>
      new Promise<void>((resolve) => {
        if (!server.listening && sockets.size === 0) resolve()
        else server.once('close', () => resolve())
      }),
  }
}
