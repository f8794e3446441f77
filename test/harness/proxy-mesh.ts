// A proxy on every directed link between named nodes: node `from` dials node `to` at
// `addressFor(from, to)`, a proxy in front of `to`'s real port. Partitions blackhole both
// directions of every link that crosses groups; latency is set between groups or from a matrix
// of round trips between regions (each direction gets half the round trip).
import { TcpProxy } from './tcp-proxy.js'
import type { ProxyEndpoint } from './tcp-proxy.js'

export interface ProxyMeshOptions {
  /** Seeds every link's jitter (each link derives its own seed). Default 1. */
  readonly seed?: number
}

export interface LinkLatency {
  readonly oneWayMs: number
  readonly jitterMs?: number
}

function linkKey(from: string, to: string): string {
  return `${from}\u0000${to}`
}

export class ProxyMesh {
  private readonly targets = new Map<string, ProxyEndpoint>()
  private readonly proxies = new Map<string, TcpProxy>()
  private readonly seed: number
  private linkCount = 0

  constructor(options: ProxyMeshOptions = {}) {
    this.seed = options.seed ?? 1
  }

  /** Adds a node and starts the proxies of its links with every node already present. */
  async addNode(name: string, target: ProxyEndpoint): Promise<void> {
    if (this.targets.has(name)) throw new Error(`proxy mesh: node '${name}' already added`)
    const others = [...this.targets.keys()]
    this.targets.set(name, target)
    for (const other of others) {
      await this.startLink(name, other)
      await this.startLink(other, name)
    }
  }

  /** The node restarted on another port: new connections to it go there. */
  retarget(name: string, target: ProxyEndpoint): void {
    if (!this.targets.has(name)) throw new Error(`proxy mesh: unknown node '${name}'`)
    this.targets.set(name, target)
    for (const from of this.targets.keys()) if (from !== name) this.proxy(from, name).setTarget(target)
  }

  nodes(): readonly string[] {
    return [...this.targets.keys()]
  }

  /** Where `from` must dial to reach `to`. */
  addressFor(from: string, to: string): ProxyEndpoint {
    return this.proxy(from, to).address
  }

  proxy(from: string, to: string): TcpProxy {
    const proxy = this.proxies.get(linkKey(from, to))
    if (proxy === undefined) throw new Error(`proxy mesh: no link ${from} → ${to}`)
    return proxy
  }

  /** Blackhole both directions of every link between nodes of different groups. */
  partition(...groups: readonly (readonly string[])[]): void {
    for (const [from, to] of this.crossingLinks(groups)) this.proxy(from, to).blackhole('both')
  }

  /** Heal every link (latency settings stay). */
  heal(): void {
    for (const proxy of this.proxies.values()) proxy.heal('both')
  }

  /** One-way latency on every link between the two groups, both directions. */
  setLatencyBetween(groupA: readonly string[], groupB: readonly string[], latency: LinkLatency): void {
    for (const [from, to] of this.crossingLinks([groupA, groupB])) this.proxy(from, to).setLatency(latency.oneWayMs, latency.jitterMs ?? 0, 'both')
  }

  /**
   * Latency from regions: `regionOf` maps node → region, `roundTripMs[r1][r2]` the round trip
   * between regions (looked up both ways; missing = 0, e.g. inside a region).
   */
  setRegionLatencies(regionOf: Readonly<Record<string, string>>, roundTripMs: Readonly<Record<string, Readonly<Record<string, number>>>>, jitterMs = 0): void {
    for (const from of this.targets.keys()) {
      for (const to of this.targets.keys()) {
        if (from === to) continue
        const regionFrom = regionOf[from]
        const regionTo = regionOf[to]
        if (regionFrom === undefined || regionTo === undefined) throw new Error(`proxy mesh: no region for ${regionFrom === undefined ? from : to}`)
        const rttMs = roundTripMs[regionFrom]?.[regionTo] ?? roundTripMs[regionTo]?.[regionFrom] ?? 0
        this.proxy(from, to).setLatency(rttMs / 2, jitterMs, 'both')
      }
    }
  }

  /** Reset every open connection on every link. */
  resetAll(): void {
    for (const proxy of this.proxies.values()) proxy.resetAll()
  }

  async stop(): Promise<void> {
    await Promise.all([...this.proxies.values()].map((proxy) => proxy.stop()))
    this.proxies.clear()
  }

  private *crossingLinks(groups: readonly (readonly string[])[]): Generator<[string, string]> {
    for (let i = 0; i < groups.length; i += 1) {
      for (let j = 0; j < groups.length; j += 1) {
        if (i === j) continue
        for (const from of groups[i]!) for (const to of groups[j]!) if (from !== to) yield [from, to]
      }
    }
  }

  private async startLink(from: string, to: string): Promise<void> {
    const target = this.targets.get(to)!
    this.linkCount += 1
    const proxy = new TcpProxy({ target, seed: this.seed * 1_000_003 + this.linkCount, name: `${from}→${to}` })
    await proxy.start()
    this.proxies.set(linkKey(from, to), proxy)
  }
}
