// The control plane of one `railgun server`: the peer transport, the node id, forming or joining
// the cluster, the ClusterNode (Raft + cluster state machine), and the maintenance loop that
// keeps Raft membership and the peer links in line with the cluster state:
//   - dial seeds and every node's `peerAddress` in the state (disconnect removed ones), or the
//     address `cluster.peerRoutes` gives for that node id;
//   - once a leader is known, ensure this node's own `addNode` record (idempotent);
//   - on the leader: one membership step at a time (reconcile.ts), and `markNodeDead` for an
//     active member whose link has been down for `deadAfterMs`;
//   - answer join requests on the `admin` channel (join-protocol.ts).
import type { Subscription } from 'rxjs'
import type { NodeRecord } from '../../control-plane/cluster/index.js'
import { ClusterNode } from '../../control-plane/driver/index.js'
import type { NodeId } from '../../control-plane/raft/index.js'
import { ConfigError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import type { Storage } from '../../shared/storage/index.js'
import { TcpTransport } from '../../shared/transport/index.js'
import type { PeerStatus, TcpTransportOptions, Transport } from '../../shared/transport/index.js'
import type { ClusterSettings } from './cluster-settings.js'
import { discoverSrvSeeds } from './dns-discovery.js'
import type { ResolveSrv } from './dns-discovery.js'
import { JoinClient, answerJoinRequest } from './join.js'
import type { AddNodeFields } from './join-protocol.js'
import { decodeJoinMessage } from './join-protocol.js'
import { nodeIdFromAddress, resolveNodeId } from './node-id.js'
import { formatHostPort, parseHostPort, reachableHost } from './peer-address.js'
import type { HostPort, Seed } from './peer-address.js'
import { reservePort } from './reserve-port.js'
import { nextMembershipStep } from './reconcile.js'

/** How often the maintenance loop runs at most (it runs every 4 Raft ticks, capped by this). */
export const maintenanceIntervalMsMax = 250
/** A failed or conflicting ensure of this node's own record is retried after this long. */
export const selfEnsureRetryMs = 5_000
/** Dynamic seeds (from DNS SRV) kept at most. */
export const discoveredSeedsMax = 256

export interface ClusterRuntimeOptions {
  readonly settings: ClusterSettings
  /** Opened with `raftKeySpaces` and `node-meta`; owned by the caller (closed after `close()`). */
  readonly storage: Storage
  readonly logger: Logger
  /** The host the node binds (server.host); the peer listener binds it too. */
  readonly bindHost: string
  /** `host:port` clients and admins reach this node at (for its `addNode` record). */
  readonly clientAddress: string
  readonly adminAddress: string
  /** Readiness reason while the control plane opens (`/readyz`). */
  readonly onPhase?: (reason: string) => void
  /** DNS SRV resolver (tests inject one); default `node:dns` `resolveSrv`. */
  readonly resolveSrv?: ResolveSrv
  /** Aborting stops a runtime that is still opening (the open rejects). */
  readonly signal?: AbortSignal
  /** Passed to the TcpTransport (e.g. `tls` for peer mutual TLS, `credentials`). */
  readonly peerTransport?: PeerTransportOptions
}

/** Transport options the node may add (peer TLS, credentials, timings); identity and listen address are the runtime's. */
export type PeerTransportOptions = Partial<Omit<TcpTransportOptions, 'nodeId' | 'clusterName' | 'region' | 'listen' | 'ready' | 'logger'>>

/** What the rest of the node (and the admin API) sees of the control plane. */
export interface ClusterRuntime {
  readonly node: ClusterNode
  readonly nodeId: NodeId
  readonly region: string
  /** The bound peer port. */
  readonly peerPort: number
  /** `host:port` other nodes dial. */
  readonly peerAddress: string
  isLeader(): boolean
  /** The leader's id as this node knows it, or null. */
  leader(): NodeId | null
  /** The last known status of every peer link, sorted by peer id. */
  peers(): PeerStatus[]
  /**
   * The peer transport, for the data plane's own channels (`data`, `route`, `consumer`): send to a
   * peer, and `frames$` filtered by channel. Raft and `admin` frames belong to the control plane.
   */
  peerLink(): Transport
  /** True once this node's own record is in the locally applied state (and not removed). */
  hasOwnRecord(): boolean
  /** Stops the loop, the Raft driver, then the transport (the caller closes storage). */
  close(): Promise<void>
}

type Mode = 'restart' | 'alone' | 'seeded' | 'join'

/** Opens the control plane on `options.storage`. Throws ConfigError for a fatal configuration problem. */
export async function openClusterRuntime(options: ClusterRuntimeOptions): Promise<ClusterRuntime> {
  const runtime = new Runtime(options)
  const abort = (): void => void runtime.close()
  options.signal?.addEventListener('abort', abort, { once: true })
  try {
    if (options.signal?.aborted === true) throw new Error('control plane start aborted')
    await runtime.open()
  } catch (error) {
    await runtime.close().catch(() => undefined)
    throw error
  } finally {
    options.signal?.removeEventListener('abort', abort)
  }
  return runtime
}

class Runtime implements ClusterRuntime {
  private readonly settings: ClusterSettings
  private readonly logger: Logger
  private transport: TcpTransport | undefined
  private clusterNode: ClusterNode | undefined
  private id = ''
  private port = 0
  private advertise: HostPort = { host: '', port: 0 }
  private seeds: Seed[] = []
  private discovered: Seed[] = []
  private readonly dialed = new Map<NodeId, string>()
  private readonly peerStates = new Map<NodeId, PeerStatus>()
  private readonly downSinceMs = new Map<NodeId, number>()
  private readonly markingDead = new Set<NodeId>()
  private readonly subscriptions: Subscription[] = []
  private readonly timers: NodeJS.Timeout[] = []
  private joinClient: JoinClient | undefined
  private membershipInFlight = false
  private transferCooldownUntilMs = 0
  private selfInFlight = false
  private selfRetryAtMs = 0
  private reportedRemoved = false
  private wasLeader = false
  private closing: Promise<void> | undefined

  constructor(private readonly options: ClusterRuntimeOptions) {
    this.settings = options.settings
    this.logger = options.logger
  }

  get node(): ClusterNode {
    if (this.clusterNode === undefined) throw new Error('cluster runtime: the control plane is not open')
    return this.clusterNode
  }

  get nodeId(): NodeId {
    return this.id
  }

  get region(): string {
    return this.settings.region
  }

  get peerPort(): number {
    return this.port
  }

  get peerAddress(): string {
    return formatHostPort(this.advertise)
  }

  isLeader(): boolean {
    return this.clusterNode?.status().role === 'leader'
  }

  leader(): NodeId | null {
    return this.clusterNode?.status().lead ?? null
  }

  hasOwnRecord(): boolean {
    const record = this.clusterNode?.state.nodes.get(this.id)
    return record !== undefined && record.state !== 'removed'
  }

  peerLink(): Transport {
    if (this.transport === undefined) throw new Error('control plane: the peer transport is not started')
    return this.transport
  }

  peers(): PeerStatus[] {
    // Peers we dial, plus any that is up (it dialed us); a hung-up peer drops out.
    return [...this.peerStates.values()].filter((status) => this.dialed.has(status.peer) || status.state === 'up').sort((a, b) => (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0))
  }

  async open(): Promise<void> {
    const { settings, storage } = this.options
    this.phase('control plane: reserving the peer port')
    this.port = settings.peerPort === 0 ? await reservePort(this.options.bindHost) : settings.peerPort
    this.advertise = settings.advertise ?? { host: reachableHost(this.options.bindHost), port: this.port }
    const resolved = await resolveNodeId(storage, settings.configuredNodeId, () => nodeIdFromAddress(formatHostPort(this.advertise)))
    this.id = resolved.id
    this.logger.info({ nodeId: this.id, source: resolved.source, peerAddress: this.peerAddress }, `node id ${this.id} (${resolved.source})`)
    this.seeds = [...settings.seeds]
    if (settings.dnsSrv !== '') this.discovered = await this.discover()
    const mode = await this.mode()
    const transport = new TcpTransport({
      ...this.options.peerTransport,
      nodeId: this.id,
      clusterName: settings.name,
      region: settings.region,
      listen: { host: this.options.bindHost, port: this.port },
      ready: false,
      logger: this.logger,
    })
    this.transport = transport
    await transport.start()
    this.subscriptions.push(transport.status$.subscribe((status) => this.onPeerStatus(status)))
    this.subscriptions.push(
      transport.frames$.subscribe((frame) => {
        if (frame.channel !== 'admin') return
        const message = decodeJoinMessage(frame.payload)
        if (message === undefined) return
        if (message.rg === 'joinReply') this.joinClient?.onReply(frame.from, message)
        else if (this.clusterNode !== undefined) void answerJoinRequest(this.clusterNode, transport, frame.from, message, this.logger)
      }),
    )
    let voters: NodeId[] = []
    let learners: NodeId[] = []
    if (mode === 'alone') voters = [this.id]
    if (mode === 'seeded') voters = [...new Set(this.allSeeds().map((seed) => seed.nodeId))].sort()
    if (mode === 'join') {
      // Storage is open and checked: peers may handshake now; the Raft driver comes after the join.
      transport.markReady()
      this.syncPeers()
      this.phase(`control plane: joining the cluster through seeds ${this.allSeeds().map(formatHostPort).join(', ')}`)
      this.joinClient = new JoinClient(transport, this.logger)
      const configuration = await this.joinClient.join(() => this.allSeeds().map((seed) => seed.nodeId), this.addNodeFields())
      this.joinClient = undefined
      voters = configuration.voters
      learners = configuration.learners
    }
    if (this.closing !== undefined) throw new Error('cluster runtime closed while opening')
    this.phase('control plane: opening Raft storage')
    this.logger.info({ mode, voters, learners, seeds: this.allSeeds().map((seed) => `${seed.nodeId}@${formatHostPort(seed)}`) }, `control plane opening (${mode})`)
    this.clusterNode = await ClusterNode.open({
      id: this.id,
      storage,
      transport,
      voters,
      learners,
      logger: this.logger,
      driver: { tickMs: settings.tickMs, electionTicks: settings.electionTicks, snapshotEveryEntries: settings.snapshotEveryEntries },
    })
    if (this.closing !== undefined) {
      // close() ran while the node was opening: it could not stop what did not exist yet.
      await this.clusterNode.stop()
      throw new Error('cluster runtime closed while opening')
    }
    this.syncPeers()
    const intervalMs = Math.min(maintenanceIntervalMsMax, settings.tickMs * 4)
    this.timers.push(setInterval(() => this.maintain(), intervalMs))
    if (settings.dnsSrv !== '') {
      this.timers.push(
        setInterval(() => {
          void this.discover().then((seeds) => {
            this.discovered = seeds
          })
        }, settings.discoveryIntervalMs),
      )
    }
  }

  async close(): Promise<void> {
    this.closing ??= (async () => {
      for (const timer of this.timers) clearInterval(timer)
      this.joinClient?.abort()
      await this.clusterNode?.stop()
      for (const subscription of this.subscriptions) subscription.unsubscribe()
      await this.transport?.stop()
    })()
    return this.closing
  }

  private phase(reason: string): void {
    this.options.onPhase?.(reason)
  }

  private allSeeds(): Seed[] {
    const byId = new Map<NodeId, Seed>()
    for (const seed of [...this.seeds, ...this.discovered]) if (!byId.has(seed.nodeId)) byId.set(seed.nodeId, seed)
    return [...byId.values()]
  }

  private async mode(): Promise<Mode> {
    if (await ClusterNode.hasRaftState(this.options.storage)) return 'restart'
    const seeds = this.allSeeds()
    if (seeds.length === 0) return 'alone'
    if (!seeds.some((seed) => seed.nodeId === this.id)) return 'join'
    if (!this.settings.masterEligible) {
      throw new ConfigError('cluster', 'cluster.seeds', `this node (${this.id}) is in its own seed list, which makes it an initial voter, but it is not master-eligible`)
    }
    return 'seeded'
  }

  private async discover(): Promise<Seed[]> {
    try {
      const seeds = await discoverSrvSeeds(this.settings.dnsSrv, this.options.resolveSrv)
      return seeds.slice(0, discoveredSeedsMax)
    } catch (error) {
      this.logger.warn({ err: (error as Error).message, dnsSrv: this.settings.dnsSrv }, 'DNS SRV discovery failed; keeping the previous peers')
      return this.discovered
    }
  }

  private addNodeFields(): AddNodeFields {
    return {
      nodeId: this.id,
      clientAddress: this.options.clientAddress,
      peerAddress: this.peerAddress,
      adminAddress: this.options.adminAddress,
      region: this.settings.region,
      masterEligible: this.settings.masterEligible,
      tags: this.settings.zone === '' ? {} : { zone: this.settings.zone },
    }
  }

  private onPeerStatus(status: PeerStatus): void {
    const previous = this.peerStates.get(status.peer)
    this.peerStates.set(status.peer, status)
    if (status.state === 'up') this.logger.info({ peer: status.peer }, 'peer link up')
    // A link that was up and dropped is news; a failed re-dial of a peer that is away is not
    // (one line per attempt would flood the log while a seed is down).
    else if (status.state === 'down' && previous?.state === 'up') this.logger.info({ peer: status.peer, reason: status.reason }, 'peer link down')
    else if (status.state === 'down') this.logger.debug({ peer: status.peer, reason: status.reason }, 'peer dial failed')
  }

  /** Dial seeds and every known node; hang up on nodes removed from the state. */
  private syncPeers(): void {
    const transport = this.transport
    if (transport === undefined) return
    const wanted = new Map<NodeId, HostPort>()
    for (const seed of this.allSeeds()) wanted.set(seed.nodeId, seed)
    const state = this.clusterNode?.state
    if (state !== undefined) {
      for (const record of state.nodes.values()) {
        if (record.state === 'removed') {
          wanted.delete(record.id)
          continue
        }
        const address = parseHostPort(record.peerAddress)
        if (address.ok) wanted.set(record.id, address.value)
      }
    }
    wanted.delete(this.id)
    // A configured route wins over the seed and the advertised address (a proxy, a NAT).
    for (const id of wanted.keys()) {
      const route = this.settings.peerRoutes.get(id)
      if (route !== undefined) wanted.set(id, route)
    }
    for (const [id, address] of wanted) {
      const text = formatHostPort(address)
      if (this.dialed.get(id) === text) continue
      this.dialed.set(id, text)
      transport.connect({ id, host: address.host, port: address.port })
    }
    for (const id of [...this.dialed.keys()]) {
      if (wanted.has(id)) continue
      this.dialed.delete(id)
      transport.disconnect(id, 'removed from the cluster')
      this.peerStates.delete(id)
    }
  }

  private maintain(): void {
    const node = this.clusterNode
    if (node === undefined || this.closing !== undefined) return
    this.syncPeers()
    const status = node.status()
    const isLeader = status.role === 'leader'
    if (isLeader !== this.wasLeader) {
      // A new leader measures link downtime from its own observations.
      this.downSinceMs.clear()
      this.wasLeader = isLeader
    }
    if (status.lead !== null) this.ensureSelf(node)
    if (!isLeader) return
    this.reconcileMembership(node)
    this.markDeadMembers(node)
  }

  /** Ensures this node's `addNode` record once a leader is known (again after being marked dead). */
  private ensureSelf(node: ClusterNode): void {
    const wanted = this.addNodeFields()
    const record = node.state.nodes.get(this.id)
    if (record?.state === 'removed') {
      // Removal is an operator's decision: do not undo it by re-joining.
      if (!this.reportedRemoved) this.logger.error(`this node (${this.id}) was removed from the cluster; start it with a fresh data directory to join again`)
      this.reportedRemoved = true
      return
    }
    this.reportedRemoved = false
    // Active or draining with the same definition: nothing to do. Missing, dead, or changed: ensure.
    if (record !== undefined && record.state !== 'dead' && sameRecord(record, wanted)) return
    if (this.selfInFlight || Date.now() < this.selfRetryAtMs) return
    this.selfInFlight = true
    node
      .ensure({ type: 'addNode', ...wanted, update: true })
      .then(
        (result) => {
          if (result.ok) {
            this.logger.info({ outcome: result.outcome }, `own node record ${result.outcome} (region ${wanted.region})`)
            return
          }
          this.selfRetryAtMs = Date.now() + selfEnsureRetryMs
          // A changed address, region or eligibility conflicts with the stored record: say so.
          this.logger.error({ code: result.code, details: result.details }, `own node record not accepted: ${result.message}`)
        },
        (error: unknown) => {
          this.selfRetryAtMs = Date.now() + Math.min(selfEnsureRetryMs, this.settings.tickMs * this.settings.electionTicks)
          this.logger.debug({ err: (error as Error).message }, 'own node record: proposal failed; will retry')
        },
      )
      .finally(() => {
        this.selfInFlight = false
      })
  }

  private reconcileMembership(node: ClusterNode): void {
    if (this.membershipInFlight) return
    const status = node.status()
    if (status.progress === undefined) return
    const step = nextMembershipStep({ state: node.state, confState: status.confState, progress: status.progress, leaderId: this.id, lastIndex: status.lastIndex })
    if (step.kind === 'none') return
    if (step.kind === 'transfer') {
      if (Date.now() < this.transferCooldownUntilMs) return
      this.transferCooldownUntilMs = Date.now() + 2 * this.settings.tickMs * this.settings.electionTicks
      this.logger.info({ to: step.to }, `membership: transferring leadership (${step.why})`)
      node.transferLeadership(step.to)
      return
    }
    this.membershipInFlight = true
    this.logger.info({ change: step.change }, `membership: ${step.change.kind} ${step.change.nodeId} (${step.why})`)
    node
      .proposeConfChange(step.change)
      .then(
        (applied) => this.logger.info({ index: applied.index, confState: applied.confState }, `membership: ${step.change.kind} ${step.change.nodeId} applied`),
        (error: unknown) => this.logger.debug({ err: (error as Error).message }, 'membership change not applied; will retry'),
      )
      .finally(() => {
        this.membershipInFlight = false
      })
  }

  /** On the leader: an active member whose link has been down for `deadAfterMs` is marked dead. */
  private markDeadMembers(node: ClusterNode): void {
    const transport = this.transport
    if (transport === undefined) return
    const up = new Set(transport.upPeers())
    const nowMs = Date.now()
    for (const record of node.state.nodes.values()) {
      if (record.id === this.id || record.state !== 'active' || up.has(record.id)) {
        this.downSinceMs.delete(record.id)
        continue
      }
      const since = this.downSinceMs.get(record.id)
      if (since === undefined) {
        this.downSinceMs.set(record.id, nowMs)
        continue
      }
      if (nowMs - since < this.settings.deadAfterMs || this.markingDead.has(record.id)) continue
      this.markingDead.add(record.id)
      this.logger.warn({ peer: record.id, downForMs: nowMs - since }, `node ${record.id}: peer link down for ${nowMs - since} ms; marking it dead`)
      node
        .ensure({ type: 'markNodeDead', nodeId: record.id })
        .catch((error: unknown) => this.logger.debug({ err: (error as Error).message }, 'markNodeDead not applied; will retry'))
        .finally(() => {
          this.markingDead.delete(record.id)
        })
    }
  }
}

function sameRecord(record: NodeRecord, wanted: AddNodeFields): boolean {
  const tags = Object.entries(record.tags)
  const wantedTags = Object.entries(wanted.tags)
  return (
    record.clientAddress === wanted.clientAddress &&
    record.peerAddress === wanted.peerAddress &&
    record.adminAddress === wanted.adminAddress &&
    record.region === wanted.region &&
    record.masterEligible === wanted.masterEligible &&
    tags.length === wantedTags.length &&
    wantedTags.every(([key, value]) => record.tags[key] === value)
  )
}
