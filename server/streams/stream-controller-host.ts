// Runs the stream controllers this node holds: for every persistent stream whose
// `psc/<ns>/<stream>/<region>` designation names this node (in the state applied here), one
// StreamControllerCore (stream-controller.ts) with the designation's term, ticked on a timer,
// its messages sent on the `data` channel, its decisions committed through the close ledger
// (close-ledger.ts: the control plane's KV). A controller stops when the designation moves
// (another holder or a new term; a new one starts if it is still this node) or when a replica
// answers with a higher term. Replica sets of one node have none (the engine closes its own
// previous life).
import type { ClusterState } from '../../control-plane/cluster/index.js'
import { streamControllerName } from '../../control-plane/cluster/index.js'
import type { ClosesAppliedMessage, FencedMessage, ReplicaMessage } from '../../data-plane/persistent/index.js'
import type { Logger } from '../../shared/log.js'
import type { ClosePort, LedgerScope } from './close-ledger.js'
import { commitClose, loadCloses } from './close-ledger.js'
import type { SlotClaim } from './stream-controller.js'
import { StreamControllerCore, streamControllerDefaults } from './stream-controller.js'

/** How often a controller ticks. */
export const controllerTickMsDefault = 50
/**
 * How often a controller re-reads the committed decisions (a linearizable read through Raft).
 * Only the current holder commits (the ledger checks the designation), so this only catches a
 * stale holder's commit that raced the designation change: rare, and harmless until read.
 */
export const ledgerRefreshMsDefault = 10_000

export interface ControllerHostOptions {
  readonly nodeId: string
  readonly region: string
  readonly state: () => ClusterState
  readonly port: ClosePort
  readonly logger: Logger
  /** Sends a replica message to a node (this node included: loop back). */
  readonly send: (to: string, message: ReplicaMessage) => void
  /** Peers reachable now (heard from recently on the `data` channel). */
  readonly upPeers: () => readonly string[]
  /** The replica set the local engine of a stream runs with, if there is one here. */
  readonly engineReplicas: (key: string) => readonly string[] | undefined
  readonly deadOriginGraceMs?: number
  readonly tickMs?: number
  readonly nowMs?: () => number
}

interface Running {
  readonly key: string
  readonly term: number
  readonly scope: LedgerScope
  readonly core: StreamControllerCore
  loaded: boolean
  loading: boolean
  committing: boolean
  lastLoadMs: number
}

export class StreamControllerHost {
  readonly #options: ControllerHostOptions
  readonly #running = new Map<string, Running>()
  readonly #timer: NodeJS.Timeout
  readonly #nowMs: () => number
  #closed = false

  constructor(options: ControllerHostOptions) {
    this.#options = options
    this.#nowMs = options.nowMs ?? Date.now
    this.#timer = setInterval(() => this.#tickAll(), options.tickMs ?? controllerTickMsDefault)
    this.#timer.unref()
  }

  /** Stream keys this node currently controls (for tests and the operator). */
  controlled(): Array<{ readonly key: string; readonly term: number }> {
    return [...this.#running.values()].filter((r) => r.core.stopped === null).map((r) => ({ key: r.key, term: r.term }))
  }

  /** Starts and stops controllers to match the designations in the applied state. */
  reconcile(): void {
    if (this.#closed) return
    const state = this.#options.state()
    const wanted = new Map<string, { term: number; scope: LedgerScope; replicas: readonly string[] }>()
    for (const [key, record] of state.streams) {
      if (record.spec.kind !== 'persistent') continue
      const placed = state.placements.get(key)?.get(this.#options.region)
      if (placed === undefined) continue
      const d = state.designations.get(streamControllerName(record.spec.namespace, record.spec.name, this.#options.region))
      if (d?.holder !== this.#options.nodeId) continue
      const replicas = this.#options.engineReplicas(key) ?? placed.replicas
      if (replicas.length < 2) continue
      wanted.set(key, { term: d.controllerTerm, scope: { namespace: record.spec.namespace, stream: record.spec.name, region: this.#options.region, createdIndex: record.createdIndex }, replicas })
    }
    for (const [key, running] of [...this.#running]) {
      const want = wanted.get(key)
      if (want === undefined || want.term !== running.term) {
        this.#running.delete(key)
        this.#options.logger.info({ stream: key, term: running.term }, 'stream controller released on this node')
      }
    }
    for (const [key, want] of wanted) {
      if (this.#running.has(key)) continue
      const core = new StreamControllerCore(
        {
          stream: key,
          replicas: want.replicas,
          term: want.term,
          deadOriginGraceMs: this.#options.deadOriginGraceMs ?? streamControllerDefaults.deadOriginGraceMs,
          fenceResendMs: streamControllerDefaults.fenceResendMs,
          distributeResendMs: streamControllerDefaults.distributeResendMs,
          fenceAllWaitMs: streamControllerDefaults.fenceAllWaitMs,
        },
        this.#nowMs(),
      )
      this.#running.set(key, { key, term: want.term, scope: want.scope, core, loaded: false, loading: false, committing: false, lastLoadMs: Number.NEGATIVE_INFINITY })
      this.#options.logger.info({ stream: key, term: want.term, replicas: want.replicas }, 'stream controller running on this node')
    }
  }

  onClaim(claim: SlotClaim & { readonly stream: string }): void {
    this.#running.get(claim.stream)?.core.onClaim(claim)
  }

  onReply(from: string, message: FencedMessage | ClosesAppliedMessage): void {
    const running = this.#running.get(message.stream)
    if (running === undefined) return
    if (message.kind === 'fenced') running.core.onFenced(from, message)
    else running.core.onClosesApplied(from, message)
  }

  close(): void {
    this.#closed = true
    clearInterval(this.#timer)
    this.#running.clear()
  }

  #load(running: Running, nowMs: number): void {
    if (running.loading) return
    running.loading = true
    running.lastLoadMs = nowMs
    loadCloses(this.#options.port, running.scope).then(
      (decisions) => {
        running.loading = false
        if (this.#running.get(running.key) !== running) return
        running.core.setCommitted(decisions)
        running.loaded = true
      },
      (error: unknown) => {
        running.loading = false
        this.#options.logger.warn({ stream: running.key, err: (error as Error).message }, 'stream controller: reading the committed close decisions failed (retrying)')
      },
    )
  }

  #tickAll(): void {
    if (this.#closed) return
    const nowMs = this.#nowMs()
    const state = this.#options.state()
    const up = new Set([...this.#options.upPeers(), this.#options.nodeId])
    for (const running of [...this.#running.values()]) {
      if (running.core.stopped !== null) continue
      if (!running.loaded || nowMs - running.lastLoadMs >= ledgerRefreshMsDefault) this.#load(running, nowMs)
      if (!running.loaded) continue
      const dead = new Set(running.core.config.replicas.filter((id) => {
        const node = state.nodes.get(id)
        return node === undefined || node.state === 'dead' || node.state === 'removed'
      }))
      const out = running.core.tick(nowMs, { dead, up })
      for (const notice of out.notices) this.#options.logger.info({ stream: running.key, term: running.term }, `stream controller: ${notice}`)
      for (const { to, message } of out.messages) this.#options.send(to, message)
      if (out.propose !== null) this.#commit(running, out.propose)
    }
  }

  #commit(running: Running, decision: Parameters<StreamControllerCore['setCommitted']>[0][number]): void {
    running.committing = true
    commitClose(this.#options.port, running.scope, running.core.config.replicas, decision, this.#options.nodeId).then(
      (outcome) => {
        running.committing = false
        if (this.#running.get(running.key) !== running) return
        running.core.setCommitted(outcome.decisions)
        if ('reason' in outcome) {
          running.core.proposalFailed(`${outcome.kind}: ${outcome.reason}`)
          return
        }
        this.#options.logger.info({ stream: running.key, term: running.term, origin: decision.origin, incarnation: decision.incarnation, atSeq: decision.atSeq, outcome: outcome.kind }, 'stream controller: close decision committed')
      },
      (error: unknown) => {
        running.committing = false
        if (this.#running.get(running.key) === running) running.core.proposalFailed((error as Error).message)
      },
    )
  }
}
