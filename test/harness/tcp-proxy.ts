// A user-space TCP proxy in front of one target port (this machine has no tc netem): latency and
// jitter per direction (seeded), bandwidth, blackhole (connections held open, nothing passes,
// nothing lost: released in order on heal), drop (bytes discarded), reset of every connection,
// and byte counters, all changeable while connections are open.
// Directions: `upstream` = client → target, `downstream` = target → client.
// An abrupt error (RST) on one side resets the other at once, even when blackholed; an orderly
// close (FIN) is a byte in the stream like any other: held by a blackhole, delayed by latency.
import { createConnection, createServer } from 'node:net'
import type { Server, Socket } from 'node:net'
import { ProxyPipe } from './proxy-pipe.js'
import type { DirectionCounters, DirectionSettings, FaultMode } from './proxy-pipe.js'
import type { SeededRandom } from './seeded-random.js'
import { createSeededRandom } from './seeded-random.js'

export const proxyDirections = ['upstream', 'downstream'] as const
export type ProxyDirection = (typeof proxyDirections)[number]
export type DirectionSelector = ProxyDirection | 'both'

export interface ProxyEndpoint {
  readonly host: string
  readonly port: number
}

export interface TcpProxyOptions {
  readonly target: ProxyEndpoint
  /** Default 127.0.0.1:0. */
  readonly listen?: ProxyEndpoint
  /** Seeds the jitter. Default 1. */
  readonly seed?: number
  readonly name?: string
}

export interface ProxyStats {
  readonly connectionsAccepted: number
  readonly connectionsOpen: number
  readonly upstream: Readonly<DirectionCounters> & { readonly bytesHeld: number }
  readonly downstream: Readonly<DirectionCounters> & { readonly bytesHeld: number }
}

interface ProxiedConnection {
  readonly client: Socket
  readonly target: Socket
  readonly upstream: ProxyPipe
  readonly downstream: ProxyPipe
}

function selected(direction: DirectionSelector): readonly ProxyDirection[] {
  return direction === 'both' ? proxyDirections : [direction]
}

export class TcpProxy {
  readonly name: string
  private target: ProxyEndpoint
  private server: Server | undefined
  private listenAddress: ProxyEndpoint | undefined
  private readonly random: SeededRandom
  private readonly settings: Record<ProxyDirection, DirectionSettings> = {
    upstream: { latencyMs: 0, jitterMs: 0, bytesPerSecond: undefined, mode: 'pass' },
    downstream: { latencyMs: 0, jitterMs: 0, bytesPerSecond: undefined, mode: 'pass' },
  }
  private readonly counters: Record<ProxyDirection, DirectionCounters> = {
    upstream: { bytesReceived: 0, bytesForwarded: 0, bytesDropped: 0 },
    downstream: { bytesReceived: 0, bytesForwarded: 0, bytesDropped: 0 },
  }
  private readonly connections = new Set<ProxiedConnection>()
  private readonly sockets = new Set<Socket>()
  private connectionsAccepted = 0

  constructor(private readonly options: TcpProxyOptions) {
    this.target = options.target
    this.name = options.name ?? `proxy→${options.target.port}`
    this.random = createSeededRandom(options.seed ?? 1)
  }

  async start(): Promise<ProxyEndpoint> {
    if (this.server !== undefined) throw new Error(`${this.name}: already started`)
    const server = createServer({ allowHalfOpen: true }, (client) => this.onClient(client))
    this.server = server
    const listen = this.options.listen ?? { host: '127.0.0.1', port: 0 }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(listen.port, listen.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error(`${this.name}: no TCP address`)
    this.listenAddress = { host: address.address, port: address.port }
    return this.listenAddress
  }

  /** Where clients connect. */
  get address(): ProxyEndpoint {
    if (this.listenAddress === undefined) throw new Error(`${this.name}: not started`)
    return this.listenAddress
  }

  /** New connections go here (e.g. after the target process restarted on another port). */
  setTarget(target: ProxyEndpoint): void {
    this.target = target
  }

  setLatency(latencyMs: number, jitterMs = 0, direction: DirectionSelector = 'both'): void {
    if (!(latencyMs >= 0 && jitterMs >= 0)) throw new RangeError(`${this.name}: latency and jitter must be >= 0`)
    for (const d of selected(direction)) {
      this.settings[d].latencyMs = latencyMs
      this.settings[d].jitterMs = jitterMs
    }
  }

  /** Undefined removes the limit. */
  setBandwidth(bytesPerSecond: number | undefined, direction: DirectionSelector = 'both'): void {
    if (bytesPerSecond !== undefined && !(bytesPerSecond > 0)) throw new RangeError(`${this.name}: bandwidth must be > 0`)
    for (const d of selected(direction)) this.settings[d].bytesPerSecond = bytesPerSecond
  }

  /** Hold connections open and pass nothing; held bytes flow again, in order, on heal. */
  blackhole(direction: DirectionSelector = 'both'): void {
    this.setMode('blackhole', direction)
  }

  /** Discard bytes (the connection stays up; the stream the receiver sees has holes). */
  drop(direction: DirectionSelector = 'both'): void {
    this.setMode('drop', direction)
  }

  /** End blackholes and drops (latency and bandwidth stay as set) and release held bytes. */
  heal(direction: DirectionSelector = 'both'): void {
    this.setMode('pass', direction)
    for (const connection of this.connections) {
      for (const d of selected(direction)) connection[d].release()
    }
  }

  /** Reset (RST) every open connection; the proxy keeps accepting new ones. */
  resetAll(): void {
    for (const connection of [...this.connections]) this.reset(connection)
  }

  mode(direction: ProxyDirection): FaultMode {
    return this.settings[direction].mode
  }

  stats(): ProxyStats {
    const held = (d: ProxyDirection): number => [...this.connections].reduce((sum, c) => sum + c[d].heldBytes, 0)
    return {
      connectionsAccepted: this.connectionsAccepted,
      connectionsOpen: this.connections.size,
      upstream: { ...this.counters.upstream, bytesHeld: held('upstream') },
      downstream: { ...this.counters.downstream, bytesHeld: held('downstream') },
    }
  }

  async stop(): Promise<void> {
    const server = this.server
    if (server === undefined) return
    this.server = undefined
    for (const connection of [...this.connections]) this.reset(connection)
    const closes = [...this.sockets].map((socket) => new Promise<void>((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve()))))
    await Promise.all([new Promise<void>((resolve) => server.close(() => resolve())), ...closes])
  }

  private setMode(mode: FaultMode, direction: DirectionSelector): void {
    for (const d of selected(direction)) this.settings[d].mode = mode
  }

  private onClient(client: Socket): void {
    this.connectionsAccepted += 1
    const target = createConnection({ host: this.target.host, port: this.target.port, allowHalfOpen: true })
    for (const socket of [client, target]) {
      socket.setNoDelay(true)
      this.sockets.add(socket)
    }
    const overflow = (reason: string): void => {
      client.destroy(new Error(reason))
      target.destroy(new Error(reason))
    }
    const connection: ProxiedConnection = {
      client,
      target,
      upstream: new ProxyPipe(client, target, this.settings.upstream, this.counters.upstream, this.random, overflow),
      downstream: new ProxyPipe(target, client, this.settings.downstream, this.counters.downstream, this.random, overflow),
    }
    this.connections.add(connection)
    const onError = (): void => this.reset(connection)
    client.on('error', onError)
    target.on('error', onError)
    let closedSides = 0
    const onClose = (socket: Socket) => (): void => {
      this.sockets.delete(socket)
      closedSides += 1
      if (closedSides === 2) this.forget(connection)
    }
    client.once('close', onClose(client))
    target.once('close', onClose(target))
  }

  private reset(connection: ProxiedConnection): void {
    this.forget(connection)
    for (const socket of [connection.client, connection.target]) {
      if (socket.destroyed) continue
      // An RST where possible (the peer sees ECONNRESET), else a plain destroy.
      if (typeof socket.resetAndDestroy === 'function' && socket.readyState === 'open') socket.resetAndDestroy()
      else socket.destroy()
    }
  }

  private forget(connection: ProxiedConnection): void {
    if (!this.connections.delete(connection)) return
    connection.upstream.dispose()
    connection.downstream.dispose()
  }
}
