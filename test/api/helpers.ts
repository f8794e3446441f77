// A control-API fixture from public pieces: per node a ClusterNode (MemoryHub + memory storage),
// a Router with a client listener on 127.0.0.1:0, attachControlApi, and an admin HTTP server
// whose delegate is the API's REST handler. The nodes join the cluster state (addNode, region
// us-east) once a leader is elected. Everything stops when the test ends.
import type { Test } from 'tap'
import { ClusterNode, raftKeySpaces } from '../../control-plane/driver/index.js'
import { startAdminServer } from '../../server/admin-http.js'
import type { AdminServer } from '../../server/admin-http.js'
import { attachControlApi } from '../../server/api/index.js'
import type { ControlApi } from '../../server/api/index.js'
import { startClientListener } from '../../server/client-listener.js'
import type { ClientListener } from '../../server/client-listener.js'
import { Router } from '../../server/router.js'
import { systemClock } from '../../shared/clock.js'
import { configWith } from '../../shared/config/index.js'
import { createSilentLogger } from '../../shared/log.js'
import { createMemoryLocation, openMemoryStorage } from '../../shared/storage/index.js'
import type { Storage } from '../../shared/storage/index.js'
import { MemoryHub } from '../../shared/transport/index.js'
import type { MemoryTransport } from '../../shared/transport/index.js'

export const region = 'us-east'

export interface ApiNode {
  readonly id: string
  readonly cluster: ClusterNode
  readonly router: Router
  readonly api: ControlApi
  readonly listener: ClientListener
  readonly admin: AdminServer
  readonly clientUrl: string
  readonly adminUrl: string
  ready: boolean
}

export interface ApiCluster {
  readonly hub: MemoryHub
  readonly nodes: ApiNode[]
  leader(): ApiNode
  follower(): ApiNode
}

export async function waitFor(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

export async function startApiCluster(t: Test, count = 1): Promise<ApiCluster> {
  const hub = new MemoryHub()
  const ids = Array.from({ length: count }, (_, index) => `n${index + 1}`)
  const nodes: ApiNode[] = []
  const transports: MemoryTransport[] = []
  const cleanups: Array<() => Promise<void>> = []
  t.teardown(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined)
  })
  for (const id of ids) {
    const logger = createSilentLogger(id)
    const storage: Storage = await openMemoryStorage(createMemoryLocation(), { keySpaces: raftKeySpaces })
    const transport: MemoryTransport = hub.createTransport({ nodeId: id, reconnectDelayMs: 5 })
    await transport.start()
    transports.push(transport)
    const cluster = await ClusterNode.open({
      id,
      storage,
      transport,
      voters: ids,
      logger,
      driver: { tickMs: 10, electionTicks: 30, heartbeatTicks: 1, proposalTimeoutMs: 5_000, readTimeoutMs: 5_000 },
    })
    const router = new Router(configWith({ server: { host: '127.0.0.1', port: 0, httpPort: 0, name: id } }), systemClock, logger)
    const holder: { ready: boolean } = { ready: true }
    const api = attachControlApi({ router, controlPlane: cluster, logger, nodeInfo: { region, isReady: () => holder.ready } })
    const listener = await startClientListener({ router, host: '127.0.0.1', port: 0, serverId: `server-${id}`, serverName: id, logger, isReady: () => true, notReadyHoldMs: 0 })
    const admin = await startAdminServer(
      {
        readiness: () => ({ ready: true }),
        stats: () => ({ name: id, serverId: id, version: 'test', uptimeMs: 0, connections: 0, subscriptions: 0, inMsgs: 0, outMsgs: 0, inBytes: 0, outBytes: 0, slowConsumers: 0, openResponseStreams: 0 }),
        api: api.handleHttp,
      },
      '127.0.0.1',
      0,
    )
    cleanups.push(async () => {
      api.close()
      listener.stopAccepting()
      for (const connection of [...router.connections]) connection.close()
      for (const socket of listener.sockets) socket.destroy()
      router.stop()
      await admin.close()
      await cluster.stop()
      await transport.stop()
      await storage.close()
    })
    const node: ApiNode = {
      id,
      cluster,
      router,
      api,
      listener,
      admin,
      clientUrl: `nats://127.0.0.1:${listener.port}`,
      adminUrl: `http://127.0.0.1:${admin.port}`,
      get ready() {
        return holder.ready
      },
      set ready(value: boolean) {
        holder.ready = value
      },
    }
    nodes.push(node)
  }
  for (const transport of transports) for (const other of ids) if (other !== transport.nodeId) transport.connect({ id: other, host: 'memory', port: 0 })
  const leader = (): ApiNode => {
    const found = nodes.find((node) => node.cluster.status().role === 'leader')
    if (found === undefined) throw new Error('no leader')
    return found
  }
  await waitFor('one leader known to all', () => {
    const leaders = nodes.filter((node) => node.cluster.status().role === 'leader')
    const lead = leaders[0]
    return leaders.length === 1 && lead !== undefined && nodes.every((node) => node.cluster.status().lead === lead.id)
  })
  for (const node of nodes) {
    const result = await leader().cluster.ensure({
      type: 'addNode',
      nodeId: node.id,
      clientAddress: node.clientUrl,
      peerAddress: `memory:${node.id}`,
      adminAddress: node.adminUrl,
      region,
      masterEligible: true,
      tags: {},
    })
    if (!result.ok) throw new Error(`addNode ${node.id}: ${result.message}`)
  }
  const applied = leader().cluster.appliedIndex()
  await waitFor('every node applied the joins', () => nodes.every((node) => node.cluster.appliedIndex() >= applied))
  return {
    hub,
    nodes,
    leader,
    follower: () => {
      const found = nodes.find((node) => node.cluster.status().role === 'follower')
      if (found === undefined) throw new Error('no follower')
      return found
    },
  }
}
