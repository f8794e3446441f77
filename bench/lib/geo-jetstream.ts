// The baseline of the geo benchmark: one JetStream stream stretched over one nats-server per
// region (R = min(regions, 3)), with the latency proxy on every route, written from each region
// by the official client (`@nats-io/jetstream`) connected to its region's server, the way its
// documentation shows (`js.publish` resolves on the PubAck, sent once a majority of the replicas
// stored it). Each region also reads the stream through its own durable consumer (explicit ack):
// a delivery of an event of its own region is "delivered", any delivery is "visible here".
//
// Routes through the proxies: server i lists, for every other server j, the ProxyMesh address of
// the link i → j. nats-server gossips the route URLs it learns, and a server told of a peer it has
// no route to yet dials the advertised URL directly — which would skip the proxy. So every server
// advertises an address nobody listens on (`unreachableRouteAdvertise`): such dials fail and only
// the configured, proxied routes carry traffic. After the start, `/routez` of every server is read
// to check that every route shows (by nats-server's own round-trip measure) at least the matrix's
// round trip — reported, with the reason when not.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, StorageType, type ConsumerMessages, type JetStreamManager } from '@nats-io/jetstream'
import { ProcessController, ProxyMesh } from '../../test/harness/index.js'
import { applyLatencyMatrix, roundTripMs } from './geo-matrix.js'
import type { GeoPlan } from './geo-options.js'
import { geoGroupMaxInFlight, geoGroupName, geoPayload, geoStreamName, type GeoSystem } from './geo-system.js'
import type { RegionPublish } from './geo-load.js'
import { freePort } from './ports.js'
import { streamsBenchLimits } from './streams-target.js'

export const geoJetStreamLimits = {
  /** JetStream stream replicas at most (a stretched R3, as in the issue). */
  replicasMax: 3,
  serverReadyTimeoutMs: 30_000,
  /** The meta group electing a leader over the proxied routes, then the stream being created. */
  jetStreamReadyTimeoutMs: 90_000,
  pollMs: 250,
  stopGraceMs: 5_000,
  monitorProbeTimeoutMs: 2_000,
  routeCheckAttempts: 5,
  routeCheckRetryMs: 1_000,
} as const

/** Port 1 on loopback: nothing listens there, so a dial to a gossiped route URL fails at once. */
export const unreachableRouteAdvertise = '127.0.0.1:1'

export interface GeoJetStreamOptions {
  readonly plan: GeoPlan
  readonly binary: string
  readonly log: (line: string) => void
  /**
   * Handed the stop function as soon as there is anything to stop (before the processes start),
   * so a signal during the start still stops what was started and removes the directory.
   */
  readonly registerStop?: (stop: () => Promise<void>) => void
}

interface Server {
  readonly name: string
  readonly region: string
  readonly clientPort: number
  readonly clusterPort: number
  readonly monitorPort: number
  readonly process: ProcessController
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function retry<T>(what: string, timeoutMs: number, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await attempt()
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what}: not done after ${timeoutMs} ms: ${(error as Error).message}`, { cause: error })
      await sleep(geoJetStreamLimits.pollMs)
    }
  }
}

interface RouteView {
  readonly remote_id?: string
  /** nats-server's own measure of the route's round trip, a Go duration (`88.5ms`, `850µs`, `1.2s`). */
  readonly rtt?: string
}

const goDurationUnitsMs: Readonly<Record<string, number>> = { ns: 1e-6, 'µs': 1e-3, us: 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }

/** `1m2.5s`, `88.523ms`, `850µs` → ms; NaN when it is not a Go duration. */
export function goDurationMs(text: string): number {
  const parts = [...text.matchAll(/([0-9.]+)(ns|µs|us|ms|s|m|h)/g)]
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== text) return Number.NaN
  return parts.reduce((sum, part) => sum + Number(part[1]) * goDurationUnitsMs[part[2]!]!, 0)
}

/** Fraction of the matrix round trip a proxied route must show at least (the proxy only adds jitter). */
const routeRttShareMin = 0.9

/**
 * Whether every server has a route to every other and nats-server's own round-trip measure of
 * each route is at least the matrix's (a route that skipped the proxy shows loopback's ~0.1 ms).
 * Returns the route round trips seen, or the reason the check failed.
 */
async function checkRoutes(servers: readonly Server[], expectedRttMs: (a: string, b: string) => number): Promise<{ readonly ok: boolean; readonly text: string }> {
  const views: { server: Server; id: string; routes: RouteView[] }[] = []
  for (const server of servers) {
    try {
      const response = await fetch(`http://127.0.0.1:${server.monitorPort}/routez`, { signal: AbortSignal.timeout(geoJetStreamLimits.monitorProbeTimeoutMs) })
      const body = (await response.json()) as { server_id?: string; routes?: RouteView[] }
      views.push({ server, id: body.server_id ?? '', routes: body.routes ?? [] })
    } catch (error) {
      return { ok: false, text: `${server.name}: /routez did not answer: ${(error as Error).message}` }
    }
  }
  const nameOf = new Map(views.map((view) => [view.id, view.server.name]))
  const seen: string[] = []
  for (const view of views) {
    if (view.routes.length !== servers.length - 1) return { ok: false, text: `${view.server.name} has ${view.routes.length} routes, expected ${servers.length - 1}` }
    for (const route of view.routes) {
      const remote = servers.find((server) => server.name === nameOf.get(route.remote_id ?? ''))
      if (remote === undefined) return { ok: false, text: `${view.server.name} has a route to an unknown server ${route.remote_id ?? '?'}` }
      const rttMs = goDurationMs(route.rtt ?? '')
      const expected = expectedRttMs(view.server.region, remote.region)
      seen.push(`${view.server.name}→${remote.name} ${Number.isNaN(rttMs) ? route.rtt ?? '?' : `${rttMs.toFixed(1)} ms`}`)
      if (!(rttMs >= expected * routeRttShareMin)) return { ok: false, text: `route ${view.server.name}→${remote.name} round trip ${route.rtt ?? '?'} is below the matrix's ${expected} ms: not through the proxy` }
    }
  }
  return { ok: true, text: `route round trips (nats-server /routez): ${seen.join(', ')}` }
}

export async function startGeoJetStream(options: GeoJetStreamOptions): Promise<GeoSystem> {
  const { plan, binary } = options
  const dir = mkdtempSync(join(tmpdir(), 'railgun-bench-geo-js-'))
  const mesh = new ProxyMesh({ seed: plan.seed })
  const servers: Server[] = []
  const connections: NatsConnection[] = []
  const iterators: { readonly region: string; readonly messages: ConsumerMessages; readonly done: Promise<void> }[] = []
  const readerErrors = plan.regions.map((region) => ({ region, count: 0, first: null as string | null }))
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    for (const { messages } of iterators) messages.stop()
    await Promise.all(iterators.map(({ done }) => done.catch(() => undefined)))
    await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)))
    await Promise.all(
      servers.map(async (server) => {
        await server.process.stop(geoJetStreamLimits.stopGraceMs)
        await server.process.cleanup()
      }),
    )
    await mesh.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  options.registerStop?.(stop)
  try {
    const regionOf: Record<string, string> = {}
    const planned: Omit<Server, 'process'>[] = []
    for (const region of plan.regions) {
      const name = `js-${region}`
      regionOf[name] = region
      planned.push({ name, region, clientPort: await freePort(), clusterPort: await freePort(), monitorPort: await freePort() })
    }
    for (const server of planned) await mesh.addNode(server.name, { host: '127.0.0.1', port: server.clusterPort })
    applyLatencyMatrix(mesh, regionOf, plan.matrix)
    for (const server of planned) {
      const routes = planned.filter((other) => other.name !== server.name).map((other) => `"nats-route://127.0.0.1:${mesh.addressFor(server.name, other.name).port}"`)
      const config = [
        `server_name: ${server.name}`,
        `listen: "127.0.0.1:${server.clientPort}"`,
        `http: "127.0.0.1:${server.monitorPort}"`,
        `jetstream { store_dir: ${JSON.stringify(join(dir, server.name))} }`,
        `cluster { name: geo, listen: "127.0.0.1:${server.clusterPort}", advertise: "${unreachableRouteAdvertise}", routes: [${routes.join(', ')}] }`,
      ]
      const configFile = join(dir, `${server.name}.conf`)
      writeFileSync(configFile, `${config.join('\n')}\n`)
      const controller = new ProcessController({ name: server.name, command: binary, args: ['-c', configFile], logFile: join(dir, `${server.name}.log`) })
      servers.push({ ...server, process: controller })
      await controller.start()
    }
    for (const server of servers) await server.process.waitForLine(/Server is ready/, geoJetStreamLimits.serverReadyTimeoutMs)
    for (const server of servers) connections.push(await connect({ servers: `nats://127.0.0.1:${server.clientPort}`, name: `geo-${server.name}` }))
    const replicas = Math.min(plan.regions.length, geoJetStreamLimits.replicasMax)
    const jsm: JetStreamManager = await retry('JetStream API', geoJetStreamLimits.jetStreamReadyTimeoutMs, async () => {
      const manager = await jetstreamManager(connections[0]!, { timeout: 2_000 })
      await manager.getAccountInfo()
      return manager
    })
    await retry('stream create', geoJetStreamLimits.jetStreamReadyTimeoutMs, () => jsm.streams.add({ name: geoStreamName, subjects: [geoStreamName], storage: StorageType.File, num_replicas: replicas }))
    const info = await retry('stream leader', geoJetStreamLimits.jetStreamReadyTimeoutMs, async () => {
      const streamInfo = await jsm.streams.info(geoStreamName)
      if (streamInfo.cluster?.leader === undefined || streamInfo.cluster.leader === '') throw new Error('no stream leader yet')
      return streamInfo
    })
    const leaderServer = info.cluster?.leader ?? ''
    const leaderRegion = servers.find((server) => server.name === leaderServer)?.region ?? null
    for (let r = 0; r < plan.regions.length; r++) {
      const manager = await jetstreamManager(connections[r]!, { timeout: streamsBenchLimits.requestTimeoutMs })
      await retry(`consumer ${geoGroupName(plan.regions[r]!)}`, geoJetStreamLimits.jetStreamReadyTimeoutMs, () =>
        manager.consumers.add(geoStreamName, { durable_name: geoGroupName(plan.regions[r]!), ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, max_ack_pending: geoGroupMaxInFlight }),
      )
    }
    // A route's round trip is measured by its pings: read again a few times before calling it direct.
    let routesChecked = await checkRoutes(servers, (a, b) => roundTripMs(plan.matrix, a, b) ?? 0)
    for (let attempt = 1; !routesChecked.ok && attempt < geoJetStreamLimits.routeCheckAttempts; attempt++) {
      await sleep(geoJetStreamLimits.routeCheckRetryMs)
      routesChecked = await checkRoutes(servers, (a, b) => roundTripMs(plan.matrix, a, b) ?? 0)
    }
    if (!routesChecked.ok) options.log(`jetstream: WARNING routes not all through the latency proxies (${routesChecked.text}): its figures do not show the matrix`)
    const payload = geoPayload(plan.eventBytes, plan.seed)
    const publishers: RegionPublish[] = connections.map((nc) => {
      const js = jetstream(nc, { timeout: streamsBenchLimits.requestTimeoutMs })
      return async (id: string) => {
        await js.publish(geoStreamName, payload, { msgID: id, timeout: streamsBenchLimits.requestTimeoutMs })
      }
    })
    return {
      label: `jetstream R${replicas} stretched`,
      system: 'jetstream',
      details: {
        servers: servers.length,
        replicas,
        streamLeader: leaderServer,
        streamLeaderRegion: leaderRegion,
        durability: 'PubAck once a majority of the replicas stored it; no fsync per ack (default sync_interval)',
        routesThroughProxies: routesChecked.ok,
        routesCheck: routesChecked.text,
        readers: 'a durable consumer per region (geo-<region>, explicit ack) through the region\'s server: delivered = its own region\'s events, visible = any',
      },
      publisher: (regionIndex) => publishers[regionIndex]!,
      async startReaders(recorder, now) {
        for (let r = 0; r < plan.regions.length; r++) {
          const region = plan.regions[r]!
          const js = jetstream(connections[r]!, { timeout: streamsBenchLimits.requestTimeoutMs })
          const consumer = await js.consumers.get(geoStreamName, geoGroupName(region))
          const messages = await consumer.consume({ max_messages: geoGroupMaxInFlight })
          const done = (async () => {
            for await (const message of messages) {
              const id = message.headers?.get('Nats-Msg-Id') ?? ''
              if (id === '') {
                const entry = readerErrors[r]!
                entry.count += 1
                entry.first ??= 'a delivery without Nats-Msg-Id'
              } else {
                const at = now()
                recorder.observe('delivered', r, id, at)
                recorder.observe('visible', r, id, at)
              }
              message.ack()
            }
          })()
          iterators.push({ region, messages, done })
        }
      },
      readerErrors: () => readerErrors.map((entry) => ({ ...entry })),
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}
