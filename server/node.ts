// The node assembly: storage, then the control plane (server/cluster: peer transport + Raft +
// cluster state), then clients. The client listener and the admin HTTP server bind at once (so
// ports are known and /readyz can answer), but clients are refused with `-ERR 'Server Not Ready'`
// until storage is open and checked AND the control plane is open. `close()` drains: stop
// accepting, flush what is queued for clients, close connections, stop the Raft driver, the
// transport, then storage.
import { join } from 'node:path'
import { nuid } from '@nats-io/nuid'
import { raftKeySpaces } from '../control-plane/driver/index.js'
import type { NodeConfig } from '../shared/config/index.js'
import { systemClock } from '../shared/clock.js'
import type { Clock } from '../shared/clock.js'
import { createSilentLogger } from '../shared/log.js'
import type { Logger } from '../shared/log.js'
import { openRocksStorage, rocksTuningOf } from '../shared/storage/index.js'
import type { RocksStorageObserver } from '../shared/storage/rocksdb.js'
import type { Storage } from '../shared/storage/index.js'
import { startAdminServer } from './admin-http.js'
import { attachOperatorView } from './dashboard/index.js'
import type { NodeMetrics } from './metrics/index.js'
import { createAdminAuth } from './admin-auth.js'
import { prepareNodeSecurity } from '../shared/security/node-security.js'
import type { NodeSecurity } from '../shared/security/node-security.js'
import type { AdminBootstrap } from '../shared/security/bootstrap-admin.js'
import { attachControlApi } from './api/index.js'
import type { ControlApi } from './api/index.js'
import { clusterSettingsOf, nodeMetaKeySpace, openClusterRuntime } from './cluster/index.js'
import type { ClusterRuntime, PeerTransportOptions, ResolveSrv } from './cluster/index.js'
import type { AdminServer, ServerStatsView } from './admin-http.js'
import { startClientListener } from './client-listener.js'
import type { ClientListener } from './client-listener.js'
import { Router } from './router.js'
import { attachClusterRoutes } from './routes/index.js'
import type { ClusterRoutes } from './routes/index.js'
import { attachPersistentStreams } from './streams/index.js'
import type { PersistentStreams } from './streams/index.js'
import { attachStreamMaintenance } from './streams/maintenance.js'
import { attachConsumerGroups, consumerKeySpace } from './consumers/index.js'
import { attachCrdtKv } from './kv-crdt/index.js'
import type { CrdtKvService } from './kv-crdt/index.js'
import type { ConsumerGroups } from './consumers/index.js'
import type { StreamMaintenance } from './streams/maintenance.js'
import { engineKeySpaces } from '../data-plane/persistent/engine/index.js'
import { railgunVersion } from './version.js'

/** Key spaces (column families) the node opens. Add, never remove: RocksDB needs all at open. */
export const nodeKeySpaces = [nodeMetaKeySpace, ...raftKeySpaces, ...engineKeySpaces, consumerKeySpace] as const

/** Key spaces the control plane needs; storage opened without them runs the node without one (see README). */
export const controlPlaneKeySpaces: readonly string[] = [nodeMetaKeySpace, ...raftKeySpaces]

/** Key spaces of persistent streams (events + engine records); storage without them runs no persistent stream. */
export const persistentStreamKeySpaces: readonly string[] = engineKeySpaces

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
  /** DNS SRV resolver for `cluster.dnsSrv` (tests); default `node:dns`. */
  readonly resolveSrv?: ResolveSrv
  /** Extra peer transport options (peer mutual TLS material, credentials, timings). */
  readonly peerTransport?: PeerTransportOptions
  /**
   * Called once if the control plane stops on its own after start (a Raft storage write failed,
   * a broken invariant): the node is then not ready (/readyz 503) and should be stopped.
   */
  readonly onFatal?: (error: Error) => void
  /** The first admin's password (`RAILGUN_ADMIN_PASSWORD`, read by the CLI); see docs/security.md § Bootstrap. */
  readonly adminPassword?: string
  /** `$RG.metrics.<nodeId>` period in ms (0 = off); default `metrics.publishIntervalMs` of the config if present, else 5 s. */
  readonly metricsPublishIntervalMs?: number
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
  /** This node's id in the cluster ('' until the control plane has resolved it). */
  readonly nodeId: string
  /** The bound peer port (0 until the control plane has bound it). */
  readonly peerPort: number
  /** The control plane, once open (undefined before, and on a node whose storage lacks its key spaces). */
  cluster(): ClusterRuntime | undefined
  /** TLS, authentication and authorization as configured (docs/security.md). */
  readonly security: NodeSecurity
  /** This node's metrics (server/metrics): registry, key metrics, the data plane's reporting hooks. */
  readonly metrics: NodeMetrics
  /** Persistent streams driven on this node (server/streams), once ready. */
  persistentStreams(): PersistentStreams | undefined
  /** Consumer groups controlled on this node (server/consumers), once ready. */
  consumerGroups(): ConsumerGroups | undefined
  /** CRDT KV buckets served on this node (server/kv-crdt), once ready. */
  crdtKv(): CrdtKvService | undefined
  /** Drain and stop; idempotent. */
  close(): Promise<void>
}

export function defaultOpenStorage(config: NodeConfig, observer?: RocksStorageObserver): Promise<Storage> {
  // RocksDB's memory budget (memtables, block cache per column family): shared/config README.
  const tuning = rocksTuningOf(config.storage)
  return openRocksStorage(join(config.storage.dataDir, 'db'), { keySpaces: nodeKeySpaces, tuning, ...(observer === undefined ? {} : { observer }) })
}

function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1'
  return host.includes(':') ? `[${host}]` : host
}

export async function startNode(options: StartNodeOptions): Promise<RunningNode> {
  const { config } = options
  // Bad cluster settings (names, seeds, advertise) stop the start before anything binds.
  const clusterSettings = clusterSettingsOf(config)
  const logger = options.logger ?? createSilentLogger(config.server.name)
  const clock = options.clock ?? systemClock
  const serverId = nuid.next()
  const startedAtMs = clock.nowMs()
  const router = new Router(config, clock, logger)
  let storage: Storage | undefined
  let runtime: ClusterRuntime | undefined
  // The control API ($RG.API.> and REST /api/v1) once the control plane is open.
  let api: ControlApi | undefined
  // Persistent streams placed on this node, once the control plane is open.
  let streams: PersistentStreams | undefined
  // Their retention runs (server/streams/maintenance.ts).
  let maintenance: StreamMaintenance | undefined
  // Consumer-group controllers and progress copies (server/consumers), once streams are open.
  let consumers: ConsumerGroups | undefined
  // CRDT KV buckets (server/kv-crdt): replicas of the bucket streams open here, requests, watches.
  let kvCrdt: CrdtKvService | undefined
  let detachStoreMetrics: (() => void) | undefined
  // Cluster routing of pub/sub between nodes (server/routes), once the control plane is open.
  let routes: ClusterRoutes | undefined
  let state: 'opening' | 'ready' | 'failed' | 'draining' = 'opening'
  let failure = ''
  let openingReason = 'storage is opening'
  // TLS files are read now (a bad one is RG_ERR_CONFIG before anything binds); warnings logged.
  const security = prepareNodeSecurity({
    config,
    logger,
    region: clusterSettings.region,
    state: () => runtime?.node.state,
    ...(options.adminPassword === undefined ? {} : { adminPassword: options.adminPassword }),
  })
  let bootstrap: AdminBootstrap | undefined

  const listener: ClientListener = await startClientListener({
    router,
    host: config.server.host,
    port: config.server.port,
    serverId,
    serverName: config.server.name,
    logger,
    isReady: () => state === 'ready',
    notReadyHoldMs: options.notReadyHoldMs ?? notReadyHoldMsDefault,
    ...(security.clientTls === undefined ? {} : { tls: security.clientTls }),
    ...(security.access === undefined ? {} : { access: security.access }),
  })
  const adminAuth = security.access === undefined ? undefined : createAdminAuth({ ...security.access, logger })
  const stats = (): ServerStatsView => ({
    name: config.server.name,
    serverId,
    version: railgunVersion,
    uptimeMs: Math.round(clock.nowMs() - startedAtMs),
    ...router.clientTraffic(),
    openResponseStreams: router.responses.size,
  })
  const readiness = (): { ready: boolean; reason?: string } =>
    state === 'ready' ? { ready: true } : { ready: false, reason: state === 'opening' ? openingReason : state === 'draining' ? 'draining' : failure }
  // Metrics, $RG.metrics, the dashboard and the log identity (server/dashboard/operator-view.ts).
  const operator = attachOperatorView({
    router,
    clock,
    logger,
    nodeName: config.server.name,
    version: railgunVersion,
    startedAtMs,
    readiness,
    cluster: () => runtime,
    metricsPublishIntervalMs: options.metricsPublishIntervalMs ?? config.metrics.publishIntervalMs,
    // Read at scrape time (server/metrics data-plane.ts); undefined until each part is attached.
    dataPlane: { streams: () => streams, groups: () => consumers, routes: () => routes },
  })
  let admin: AdminServer
  try {
    admin = await startAdminServer(
      {
        readiness,
        stats,
        ...operator.admin,
        api: (request, response, url) => api?.handleHttp(request, response, url) ?? Promise.resolve(false),
        ...(adminAuth === undefined ? {} : { auth: adminAuth.check }),
      },
      config.server.host,
      config.server.httpPort,
    )
  } catch (error) {
    operator.close()
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
  const open = options.openStorage ?? ((opening: NodeConfig) => defaultOpenStorage(opening, operator.metrics.storageObserver))
  let openedRuntime: Promise<ClusterRuntime | undefined> = Promise.resolve(undefined)
  // Aborts a control plane that is still opening (e.g. waiting for seeds to accept a join).
  const opening = new AbortController()
  const openControlPlane = (opened: Storage): Promise<ClusterRuntime | undefined> => {
    const missing = controlPlaneKeySpaces.filter((keySpace) => !opened.keySpaces.includes(keySpace))
    if (missing.length > 0) {
      logger.warn({ missing }, 'storage lacks the control-plane key spaces: running without a control plane')
      return Promise.resolve(undefined)
    }
    openingReason = 'control plane is opening'
    openedRuntime = openClusterRuntime({
      settings: clusterSettings,
      storage: opened,
      logger,
      bindHost: config.server.host,
      clientAddress: `${host}:${listener.port}`,
      adminAddress: `${host}:${admin.port}`,
      onPhase: (reason) => {
        openingReason = reason
      },
      signal: opening.signal,
      ...(options.resolveSrv === undefined ? {} : { resolveSrv: options.resolveSrv }),
      ...(options.peerTransport === undefined && security.peerTlsMaterial === undefined
        ? {}
        : { peerTransport: { ...(security.peerTlsMaterial === undefined ? {} : { tls: { material: security.peerTlsMaterial } }), ...options.peerTransport } }),
    })
    return openedRuntime
  }
  const ready = open(config)
    .then(
      async (opened) => {
        storage = opened
        if (state === 'draining') {
          // The node began to stop while storage was still opening: close it now.
          await opened.close()
          return
        }
        if (state !== 'opening') return
        try {
          runtime = await openControlPlane(opened)
        } catch (error) {
          failure = `control plane failed: ${(error as Error).message}`
          throw error
        }
        if (state !== 'opening') return // draining: close() stops the runtime
        if (runtime !== undefined) operator.controlPlaneOpened(runtime)
        // Pub/sub across nodes over the peer transport's `route` channel, before clients arrive.
        if (runtime !== undefined) routes = attachClusterRoutes({ router, transport: runtime.peerLink(), logger, clock })
        if (runtime !== undefined) {
          // Serve once this node is part of the cluster state (its own record applied here): a
          // fresh node waits for the cluster to form or accept its join; a restart has it at once.
          openingReason = 'control plane: waiting for this node to join the cluster state'
          const joined = runtime
          while (!joined.hasOwnRecord() && (state as string) === 'opening') await new Promise((resolve) => setTimeout(resolve, 10))
          if ((state as string) !== 'opening') return
        }
        runtime?.node.stopped$.subscribe((stop) => {
          if (stop.kind === 'requested') return
          // DESIGN §3.3: a storage error stops the node; it no longer serves.
          if (state === 'ready' || state === 'opening') state = 'failed'
          failure = `control plane stopped (${stop.kind}): ${stop.error.message}`
          logger.fatal({ err: stop.error.message }, failure)
          options.onFatal?.(stop.error)
        })
        if (runtime !== undefined) {
          api = attachControlApi({
            router,
            controlPlane: runtime.node,
            logger,
            nodeInfo: { region: runtime.region, isReady: () => state === 'ready' },
            ...(adminAuth === undefined ? {} : { restAccess: adminAuth.mayRunVerb }),
            streamData: () =>
              streams === undefined
                ? undefined
                : { fetch: (key, from, max) => streams?.engine(key)?.fetch(from, max), deliveredCount: (key) => streams?.engine(key)?.deliveredCount, shipping: (key) => streams?.shippingInfo(key) },
          })
          if (persistentStreamKeySpaces.every((keySpace) => opened.keySpaces.includes(keySpace))) {
            const cluster = runtime
            streams = await attachPersistentStreams({
              router,
              storage: opened,
              logger,
              nodeId: cluster.nodeId,
              region: cluster.region,
              state: () => cluster.node.state,
              // Replica sets of several nodes: the data channel between replicas, close decisions through the control plane.
              transport: cluster.peerLink(),
              controlPlane: cluster.node,
              storeSettings: config.streams,
              deadOriginGraceMs: config.streams.deadOriginGraceMs,
              onChange: (listener) => {
                const subscription = cluster.node.events$.subscribe(() => listener())
                return () => subscription.unsubscribe()
              },
            })
            if ((state as string) !== 'opening') {
              // Draining began while the streams opened: close() has passed them already.
              await streams.close()
              return
            }
            // Retention over the open streams, every streams.maintenanceIntervalMs (0 = off); the
            // event store's metrics (server/metrics: its observer and metadata).
            const attached = streams
            detachStoreMetrics = operator.metrics.attachEventStore(attached.store)
            if (config.streams.maintenanceIntervalMs > 0) {
              maintenance = attachStreamMaintenance({ store: attached.store, streams: () => attached.openStreams(), intervalMs: config.streams.maintenanceIntervalMs, logger })
            }
            // CRDT KV buckets: a state per bucket stream open here; `$RG.KVC.>` requests.
            kvCrdt = attachCrdtKv({
              router,
              nodeId: cluster.nodeId,
              region: cluster.region,
              state: () => cluster.node.state,
              onChange: (listener) => {
                const subscription = cluster.node.events$.subscribe(() => listener())
                return () => subscription.unsubscribe()
              },
              engineOf: (key) => attached.engine(key),
              ensure: (command) => cluster.node.ensure(command),
              upPeers: () => cluster.peerLink().upPeers(),
              logger,
              isReady: () => state === 'ready',
            })
            if ((state as string) !== 'opening') {
              kvCrdt.close() // draining began meanwhile: close() has passed it
              return
            }
            // Consumer groups: controllers of the groups this node is designated for, progress copies.
            if (opened.keySpaces.includes(consumerKeySpace)) {
              consumers = await attachConsumerGroups({
                router,
                streams: attached,
                state: () => cluster.node.state,
                onChange: (listener) => {
                  const subscription = cluster.node.events$.subscribe(() => listener())
                  return () => subscription.unsubscribe()
                },
                nodeId: cluster.nodeId,
                region: cluster.region,
                storage: opened,
                peerLink: cluster.peerLink(),
                ensure: (command) => cluster.node.ensure(command),
                logger,
              })
              if ((state as string) !== 'opening') {
                await consumers.close() // draining began meanwhile: close() has passed them
                return
              }
            }
          }
          // Access on and no user yet: create the first admin (or refuse a lone node that cannot).
          bootstrap = security.startBootstrap(runtime.node)
          if (bootstrap !== undefined) {
            openingReason = 'access control: bootstrapping the first admin'
            try {
              await bootstrap.first
            } catch (error) {
              failure = (error as Error).message
              throw error
            }
            if ((state as string) !== 'opening') return
          }
        }
        state = 'ready'
        listener.admitWaiting()
        logger.info(
          { clientPort: listener.port, httpPort: admin.port, nodeId: runtime?.nodeId, peerPort: runtime?.peerPort },
          `railgun ready client=${clientUrl} admin=${adminUrl}${runtime === undefined ? '' : ` peer=${runtime.peerAddress} node=${runtime.nodeId}`}`,
        )
      },
      (error: unknown) => {
        failure = `storage failed: ${(error as Error).message}`
        throw error
      },
    )
    .catch((error: unknown) => {
      if (state === 'draining') return // stopped while opening: not a failure
      if (state === 'opening') state = 'failed'
      listener.refuseWaiting()
      logger.fatal({ err: (error as Error).message }, storage === undefined ? 'storage failed to open; node stops serving' : `${failure}; node stops serving`)
      throw error
    })
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
      api?.close()
      await maintenance?.close()
      await consumers?.close().catch((error: unknown) => logger.error({ err: (error as Error).message }, 'consumer groups failed to stop cleanly'))
      kvCrdt?.close()
      detachStoreMetrics?.()
      await streams?.close().catch((error: unknown) => logger.error({ err: (error as Error).message }, 'persistent streams failed to stop cleanly'))
      operator.close()
      bootstrap?.stop()
      routes?.close()
      router.stop()
      opening.abort()
      // Storage that is still opening closes itself when it finishes (see `ready` above).
      const storageSettled = ready.catch(() => undefined)
      await Promise.race([storageSettled, new Promise<void>((resolve) => setTimeout(resolve, drainTimeoutMs).unref())])
      // The control plane stops before storage: the driver, then the transport.
      const openingRuntime = await openedRuntime.catch(() => undefined)
      await (runtime ?? openingRuntime)?.close().catch((error: unknown) => logger.error({ err: (error as Error).message }, 'control plane failed to stop cleanly'))
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
    get nodeId() {
      return runtime?.nodeId ?? ''
    },
    get peerPort() {
      return runtime?.peerPort ?? 0
    },
    cluster: () => runtime,
    security,
    metrics: operator.metrics,
    persistentStreams: () => streams,
    consumerGroups: () => consumers,
    crdtKv: () => kvCrdt,
    close,
  }
}
