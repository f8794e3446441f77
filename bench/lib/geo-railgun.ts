// The Railgun side of the geo benchmark: R regions × N real `railgun server` processes
// (test/harness RailgunCluster, node ids `<region>-<n>`, `--region`), every peer link through its
// ProxyMesh proxy set from the latency matrix, one persistent stream `geo` placed in every region
// (`replicasPerRegion` = N), driven with the official NATS client only:
//   - region r publishes to the nodes of r in turn: a request to the stream subject with
//     `Rg-Ack` and `Rg-Msg-Id: <region>.<seq>`; the reply is the ack;
//   - region r's group member (group `geo-<r>`, first node of r) reports deliveries;
//   - a reader on the last node of r tails STREAM.FETCH: what is visible in r (see
//     geo-railgun-readers.ts for why the lag across regions is read there).
// Client connections are not proxied (a client sits in its region, next to its node).
import { connect, headers, type NatsConnection } from '@nats-io/transport-node'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { RailgunCluster } from '../../test/harness/index.js'
import { applyLatencyMatrix } from './geo-matrix.js'
import type { AckLevel, GeoPlan } from './geo-options.js'
import { startFetchTail, startGroupMember, type Reader } from './geo-railgun-readers.js'
import { geoGroupMaxInFlight, geoGroupName, geoPayload, geoStreamName, type GeoSystem } from './geo-system.js'
import type { RegionPublish } from './geo-load.js'
import { streamsBenchLimits } from './streams-target.js'

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))

export const geoRailgunLimits = {
  /** Nine processes from tsx on two loaded cores take a while. */
  nodeReadyTimeoutMs: 180_000,
  leaderTimeoutMs: 120_000,
  /** The stream's engine opening on every node after STREAM.ENSURE. */
  streamOpenTimeoutMs: 60_000,
  streamOpenPollMs: 200,
  /** Lines of each node's log printed when the start fails (the directory is then removed). */
  logTailLines: 15,
} as const

export interface GeoRailgunOptions {
  readonly plan: GeoPlan
  readonly log: (line: string) => void
  /**
   * Handed the stop function as soon as there is anything to stop (before the processes start),
   * so a signal during the start still stops what was started and removes the directory.
   */
  readonly registerStop?: (stop: () => Promise<void>) => void
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

function ackReply(data: Uint8Array): void {
  const body = JSON.parse(new TextDecoder().decode(data)) as { ok?: unknown; error?: { code?: string; message?: string } }
  if (body.ok !== true) throw new Error(`${body.error?.code ?? 'RG_ERR_?'} ${body.error?.message ?? ''}`.trim())
}

async function apiRequest(nc: NatsConnection, verb: string, body: unknown): Promise<void> {
  const answer = await nc.request(`$RG.API.${verb}`, JSON.stringify(body), { timeout: streamsBenchLimits.requestTimeoutMs })
  try {
    ackReply(answer.data)
  } catch (error) {
    throw new Error(`${verb}: ${(error as Error).message}`, { cause: error })
  }
}

async function waitStreamOpen(nc: NatsConnection, node: string): Promise<void> {
  const deadline = Date.now() + geoRailgunLimits.streamOpenTimeoutMs
  for (;;) {
    try {
      await apiRequest(nc, 'STREAM.FETCH', { name: geoStreamName, max: 1 })
      return
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`stream '${geoStreamName}' not open on ${node} after ${geoRailgunLimits.streamOpenTimeoutMs} ms: ${(error as Error).message}`, { cause: error })
      await sleep(geoRailgunLimits.streamOpenPollMs)
    }
  }
}

function durability(ack: AckLevel, replicas: number): string {
  if (ack === 'write' || replicas === 1) return 'ack after fsync on the node written to'
  return ack === 'all' ? `ack after fsync on all ${replicas} replicas of the region` : `ack after fsync on a majority of the region's ${replicas} replicas`
}

/** The end of every node log in `dir` (`<id>.log`), printed before a failed start removes it. */
function logTails(dir: string, log: (line: string) => void): void {
  let files: string[]
  try {
    files = readdirSync(dir).filter((name) => name.endsWith('.log'))
  } catch {
    return
  }
  for (const file of files.sort()) {
    let text: string
    try {
      text = readFileSync(join(dir, file), 'utf8')
    } catch {
      continue
    }
    const lines = text.trimEnd().split('\n').slice(-geoRailgunLimits.logTailLines)
    log(`  --- ${file} (last ${lines.length} lines)`)
    for (const line of lines) log(`  ${line}`)
  }
}

export async function startGeoRailgun(options: GeoRailgunOptions): Promise<GeoSystem> {
  const { plan, log } = options
  const regionOf: Record<string, string> = {}
  const nodesOf = plan.regions.map((region) => Array.from({ length: plan.nodesPerRegion }, (_, i) => `${region}-${i + 1}`))
  plan.regions.forEach((region, r) => nodesOf[r]!.forEach((id) => (regionOf[id] = region)))
  const dir = mkdtempSync(join(tmpdir(), 'railgun-bench-geo-'))
  const connections: NatsConnection[] = []
  const readers: { readonly region: string; readonly reader: Reader }[] = []
  let cluster: RailgunCluster | undefined
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    await Promise.all(readers.map(({ reader }) => reader.stop().catch(() => undefined)))
    await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)))
    await cluster?.close()
    rmSync(dir, { recursive: true, force: true })
  }
  options.registerStop?.(stop)
  try {
    cluster = await RailgunCluster.start({
      nodeIds: nodesOf.flat(),
      regions: regionOf,
      seed: plan.seed,
      dir,
      logLevel: 'warn',
      readyTimeoutMs: geoRailgunLimits.nodeReadyTimeoutMs,
      ...(plan.fromSource ? {} : { cli: { command: process.execPath, args: [join(repoRoot, 'bin/railgun.js')] } }),
    })
    applyLatencyMatrix(cluster.mesh, regionOf, plan.matrix)
    const leader = await cluster.waitForLeader({ timeoutMs: geoRailgunLimits.leaderTimeoutMs })
    const running = cluster
    const nodeConnections = new Map<string, NatsConnection>()
    for (const id of running.nodeIds) {
      const nc = await connect({ servers: running.node(id).clientUrl, name: `geo-${id}` })
      connections.push(nc)
      nodeConnections.set(id, nc)
    }
    const first = nodeConnections.get(running.nodeIds[0]!)!
    await apiRequest(first, 'STREAM.ENSURE', { name: geoStreamName, regions: [...plan.regions], replicasPerRegion: plan.nodesPerRegion })
    for (const id of running.nodeIds) await waitStreamOpen(nodeConnections.get(id)!, id)
    for (const region of plan.regions) await apiRequest(first, 'GROUP.ENSURE', { stream: geoStreamName, name: geoGroupName(region), mode: 'load-balanced', maxInFlight: geoGroupMaxInFlight, start: { from: 'beginning' } })
    // Readers get their own connections, so deliveries and reads never queue behind publishes.
    const readerConnections: { member: NatsConnection; tail: NatsConnection }[] = []
    for (let r = 0; r < plan.regions.length; r++) {
      const nodes = nodesOf[r]!
      const member = await connect({ servers: running.node(nodes[0]!).clientUrl, name: `geo-member-${plan.regions[r]!}` })
      connections.push(member)
      const tail = await connect({ servers: running.node(nodes[nodes.length - 1]!).clientUrl, name: `geo-tail-${plan.regions[r]!}` })
      connections.push(tail)
      readerConnections.push({ member, tail })
    }
    const payload = geoPayload(plan.eventBytes, plan.seed)
    const publishers: RegionPublish[] = nodesOf.map((nodes) => {
      const regionConnections = nodes.map((id) => nodeConnections.get(id)!)
      let turn = 0
      return async (id: string) => {
        const nc = regionConnections[turn % regionConnections.length]!
        turn += 1
        const h = headers()
        h.set('Rg-Ack', plan.ack)
        h.set('Rg-Msg-Id', id)
        const answer = await nc.request(geoStreamName, payload, { headers: h, timeout: streamsBenchLimits.requestTimeoutMs })
        ackReply(answer.data)
      }
    })
    return {
      label: `railgun ${plan.regions.length}×${plan.nodesPerRegion} ack=${plan.ack}`,
      system: 'railgun',
      details: {
        nodes: running.nodeIds.length,
        replicasPerRegion: plan.nodesPerRegion,
        ack: plan.ack,
        durability: durability(plan.ack, plan.nodesPerRegion),
        controlPlaneLeaderAtStart: leader,
        build: plan.fromSource ? 'source (tsx)' : 'dist/',
        readers: 'deliver: group geo-<region> member on the first node of the region; visible: STREAM.FETCH tail on the last node of the region',
      },
      publisher: (regionIndex) => publishers[regionIndex]!,
      async startReaders(recorder, now) {
        for (let r = 0; r < plan.regions.length; r++) {
          const region = plan.regions[r]!
          const { member, tail } = readerConnections[r]!
          const group = { namespace: 'default', stream: geoStreamName, group: geoGroupName(region) }
          readers.push({ region, reader: await startGroupMember(member, group, geoGroupMaxInFlight, (id) => recorder.observe('delivered', r, id, now())) })
          readers.push({ region, reader: startFetchTail(tail, geoStreamName, (id) => recorder.observe('visible', r, id, now())) })
        }
      },
      readerErrors() {
        return plan.regions.map((region) => {
          let count = 0
          let first: string | null = null
          for (const entry of readers) {
            if (entry.region !== region) continue
            const errors = entry.reader.errors()
            count += errors.count
            first ??= errors.first
          }
          return { region, count, first }
        })
      },
      stop,
    }
  } catch (error) {
    logTails(dir, log)
    await stop()
    throw error
  }
}
