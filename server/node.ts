// The node assembly: storage, then the client listener and the admin HTTP server. Both
// listeners bind at once (so ports are known and /readyz can answer), but clients are refused
// with `-ERR 'Server Not Ready'` until storage is open and checked. `close()` drains: stop
// accepting, flush what is queued for clients, close connections, close storage.
import { join } from 'node:path'
import { nuid } from '@nats-io/nuid'
import type { NodeConfig } from '../shared/config/index.js'
import { systemClock } from '../shared/clock.js'
import type { Clock } from '../shared/clock.js'
import { createSilentLogger } from '../shared/log.js'
import type { Logger } from '../shared/log.js'
import { openRocksStorage } from '../shared/storage/index.js'
import type { Storage } from '../shared/storage/index.js'
import { startAdminServer } from './admin-http.js'
import type { AdminServer, ServerStatsView } from './admin-http.js'
import { startClientListener } from './client-listener.js'
import type { ClientListener } from './client-listener.js'
import { Router } from './router.js'
import { railgunVersion } from './version.js'

/** Key spaces (column families) the node opens. Add, never remove: RocksDB needs all at open. */
export const nodeKeySpaces = ['node-meta'] as const

/** How long a client arriving during start-up waits for readiness before it is refused. */
export const notReadyHoldMsDefault = 2_000

/** How long a drain waits for clients to take their last bytes before destroying sockets. */
export const drainTimeoutMs = 5_000

export interface StartNodeOptions {
  readonly config: NodeConfig
  readonly logger?: Logger
  readonly clock?: Clock
  /** A connection arriving before readiness waits this long, then gets `Server Not Ready`. */
  readonly notReadyHoldMs?: number
  /** How to open storage; default: RocksDB in `<dataDir>/db` with `nodeKeySpaces`. */
  readonly openStorage?: (config: NodeConfig) => Promise<Storage>
}

export interface RunningNode {
  readonly config: NodeConfig
  readonly serverId: string
  readonly clientPort: number
  readonly httpPort: number
  /** `nats://host:port` of the client listener. */
  readonly clientUrl: string
  readonly adminUrl: string
  /** Resolves when storage is open and checked; rejects (and the node stops serving) if it fails. */
  readonly ready: Promise<void>
  isReady(): boolean
  stats(): ServerStatsView
  /** The open storage, once ready. */
  storage(): Storage | undefined
  /** Drain and stop; idempotent. */
  close(): Promise<void>
}

export function defaultOpenStorage(config: NodeConfig): Promise<Storage> {
  return openRocksStorage(join(config.storage.dataDir, 'db'), { keySpaces: nodeKeySpaces })
}

function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1'
  return host.includes(':') ? `[${host}]` : host
}

export async function startNode(options: StartNodeOptions): Promise<RunningNode> {
  const { config } = options
  const logger = options.logger ?? createSilentLogger(config.server.name)
  const clock = options.clock ?? systemClock
  const serverId = nuid.next()
  const startedAtMs = clock.nowMs()
  const router = new Router(config, clock, logger)
  let storage: Storage | undefined
  let state: 'opening' | 'ready' | 'failed' | 'draining' = 'opening'
  let failure = ''

  const listener: ClientListener = await startClientListener({
    router,
    host: config.server.host,
    port: config.server.port,
    serverId,
    serverName: config.server.name,
    logger,
    isReady: () => state === 'ready',
    notReadyHoldMs: options.notReadyHoldMs ?? notReadyHoldMsDefault,
  })
  const stats = (): ServerStatsView => ({
    name: config.server.name,
    serverId,
    version: railgunVersion,
    uptimeMs: Math.round(clock.nowMs() - startedAtMs),
    connections: router.connections.size,
    subscriptions: router.subscriptionCount,
    inMsgs: router.counters.inMsgs,
    outMsgs: router.counters.outMsgs,
    inBytes: router.counters.inBytes,
    outBytes: router.counters.outBytes,
    slowConsumers: router.counters.slowConsumers,
    openResponseStreams: router.responses.size,
  })
  let admin: AdminServer
  try {
    admin = await startAdminServer(
      {
        readiness: () =>
          state === 'ready'
            ? { ready: true }
            : { ready: false, reason: state === 'opening' ? 'storage is opening' : state === 'draining' ? 'draining' : failure },
        stats,
      },
      config.server.host,
      config.server.httpPort,
    )
  } catch (error) {
    listener.stopAccepting()
    throw error
  }

  const host = displayHost(config.server.host)
  const clientUrl = `nats://${host}:${listener.port}`
  const adminUrl = `http://${host}:${admin.port}`

  const pingTimer = setInterval(() => {
    for (const connection of [...router.connections]) connection.ping()
  }, config.limits.pingIntervalMs)
  pingTimer.unref()

  logger.info(
    { serverId, version: railgunVersion, dataDir: config.storage.dataDir, clientPort: listener.port, httpPort: admin.port },
    'railgun starting: opening storage',
  )
  const open = options.openStorage ?? defaultOpenStorage
  const ready = open(config).then(
    async (opened) => {
      storage = opened
      if (state === 'draining') {
        // The node began to stop while storage was still opening: close it now.
        await opened.close()
        return
      }
      if (state !== 'opening') return
      state = 'ready'
      listener.admitWaiting()
      logger.info({ clientPort: listener.port, httpPort: admin.port }, `railgun ready client=${clientUrl} admin=${adminUrl}`)
    },
    (error: unknown) => {
      if (state === 'opening') state = 'failed'
      failure = `storage failed: ${(error as Error).message}`
      listener.refuseWaiting()
      logger.fatal({ err: (error as Error).message }, 'storage failed to open; node stops serving')
      throw error
    },
  )
  // The caller may never await `ready`; an unobserved failure is still reported through it.
  ready.catch(() => undefined)

  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= (async () => {
      state = 'draining'
      logger.info('draining: no new connections; flushing and closing clients')
      clearInterval(pingTimer)
      listener.stopAccepting()
      listener.refuseWaiting()
      router.flushNow()
      for (const connection of [...router.connections]) connection.close()
      const drained = listener.closed()
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, drainTimeoutMs).unref())
      await Promise.race([drained, timeout])
      for (const socket of listener.sockets) socket.destroy()
      router.stop()
      // Storage that is still opening closes itself when it finishes (see `ready` above).
      const storageSettled = ready.catch(() => undefined)
      await Promise.race([storageSettled, new Promise<void>((resolve) => setTimeout(resolve, drainTimeoutMs).unref())])
      if (storage !== undefined) await storage.close()
      await admin.close()
      logger.info('stopped')
    })()
    return closing
  }

  return {
    config,
    serverId,
    clientPort: listener.port,
    httpPort: admin.port,
    clientUrl,
    adminUrl,
    ready,
    isReady: () => state === 'ready',
    stats,
    storage: () => storage,
    close,
  }
}
