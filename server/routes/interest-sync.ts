// Keeping each peer's view of our interest, and our view of each peer's, in step. Pure: the
// send function and the clock are injected; no timers, no node:* imports.
//
// Outbound, per up peer: a full snapshot first (and whenever the peer asks, or a send failed),
// then the 0↔1 transitions as deltas, numbered by a per-peer sequence. Deltas queued while a
// snapshot is due are not sent: the snapshot, built from the table at send time, holds them.
// Inbound, per peer: a snapshot's first frame replaces what we held; deltas must follow without
// a gap (seq + 1). A gap, a delta before any snapshot, or a corrupt frame makes us ask the peer
// for a new snapshot (at most once per `resyncRequestIntervalMs`) and ignore its deltas until
// then. A snapshot carrying a session other than the one we knew means the peer restarted
// without our link going down (the transport replaced the connection): we re-send ours too.
import { encodeDeltas, encodeResync, encodeSnapshot, routeLimits } from './codec.js'
import type { InterestEntry, InterestOp, RouteFrame } from './codec.js'
import type { RouteCounterBoard } from './counters.js'
import type { RemoteInterestTable } from './remote-interest.js'

export interface InterestSyncOptions {
  /** This router's session (random per start). */
  readonly session: number
  /** Queue one frame to a peer; false when refused (down, full, too big). */
  readonly send: (peer: string, bytes: Uint8Array) => boolean
  /** This node's interest now (for snapshots). */
  readonly localEntries: () => readonly InterestEntry[]
  readonly remote: RemoteInterestTable
  readonly counters: RouteCounterBoard
  readonly nowMs: () => number
  /** A peer that owes us a snapshot is asked again after this long. */
  readonly resyncRequestIntervalMs: number
  readonly interestFrameBytesMax?: number
}

interface Outbound {
  nextSeq: number
  snapshotDue: boolean
  /** Pending ops before this index were covered by the last snapshot sent (this turn). */
  pendingFrom: number
}

interface Inbound {
  /** A complete snapshot arrived and every frame since followed without a gap. */
  synced: boolean
  /** Between a snapshot's first and last frame. */
  inSnapshot: boolean
  expectedSeq: number
  /** The session of the peer's last snapshot; undefined until one arrives on this link. */
  session: number | undefined
  /** When we last asked for a snapshot (-Infinity: never on this link). */
  requestedAtMs: number
}

/** What receiving an interest frame did, for the driver's logs. */
export type InterestReceipt = 'applied' | 'gap' | 'refused-entries'

export class InterestSync {
  readonly #options: InterestSyncOptions
  readonly #outbound = new Map<string, Outbound>()
  readonly #inbound = new Map<string, Inbound>()
  /** Local transitions not yet sent (every up peer gets them in this order). */
  #pending: InterestOp[] = []

  constructor(options: InterestSyncOptions) {
    this.#options = options
  }

  get hasPending(): boolean {
    return this.#pending.length > 0
  }

  upPeers(): string[] {
    return [...this.#outbound.keys()]
  }

  isSyncedFrom(peer: string): boolean {
    return this.#inbound.get(peer)?.synced === true
  }

  /**
   * A peer is up: it gets our snapshot. `askForTheirs`: also ask for its snapshot (we attached
   * after the link came up, so what it sent at link-up may have been missed). Idempotent.
   */
  peerUp(peer: string, askForTheirs = false): void {
    if (!this.#outbound.has(peer)) {
      this.#outbound.set(peer, { nextSeq: 0, snapshotDue: true, pendingFrom: this.#pending.length })
      this.#inbound.set(peer, this.#inbound.get(peer) ?? freshInbound())
      this.#sendSnapshot(peer)
    }
    if (askForTheirs) this.#requestResync(peer)
  }

  /** The link went down: the peer's interest is dropped; the next link starts afresh. */
  peerDown(peer: string): number {
    this.#outbound.delete(peer)
    this.#inbound.delete(peer)
    return this.#options.remote.dropPeer(peer)
  }

  localChanged(op: InterestOp): void {
    this.#pending.push(op)
  }

  /** Send pending transitions to every up peer (before any forwarded message, and once per turn). */
  flush(): void {
    const pending = this.#pending
    if (pending.length === 0) return
    for (const [peer, outbound] of this.#outbound) {
      if (outbound.snapshotDue) continue
      const ops = outbound.pendingFrom === 0 ? pending : pending.slice(outbound.pendingFrom)
      if (ops.length === 0) continue
      const frames = encodeDeltas(ops, outbound.nextSeq, this.#frameBytesMax)
      const counters = this.#options.counters.of(peer)
      for (const frame of frames) {
        if (!this.#options.send(peer, frame)) {
          counters.interestSendFailures += 1
          outbound.snapshotDue = true
          break
        }
        outbound.nextSeq = (outbound.nextSeq + 1) >>> 0
        counters.deltaFramesSent += 1
      }
    }
    this.#pending = []
    for (const outbound of this.#outbound.values()) outbound.pendingFrom = 0
  }

  /** Periodic: re-send due snapshots, re-ask peers that still owe us one. */
  retry(): void {
    for (const [peer, outbound] of this.#outbound) if (outbound.snapshotDue) this.#sendSnapshot(peer)
    const nowMs = this.#options.nowMs()
    for (const [peer, inbound] of this.#inbound) {
      if (!inbound.synced && nowMs - inbound.requestedAtMs >= this.#options.resyncRequestIntervalMs) this.#requestResync(peer)
    }
  }

  /** Something from this peer could not be trusted (a corrupt frame): ask for a new snapshot. */
  distrust(peer: string): void {
    const inbound = this.#inboundOf(peer)
    inbound.synced = false
    inbound.inSnapshot = false
    this.#requestResync(peer)
  }

  /** An interest frame (snapshot, delta, resync request) from `peer`. */
  receive(peer: string, frame: Exclude<RouteFrame, { kind: 'message' | 'batch' }>): InterestReceipt {
    if (!this.#outbound.has(peer)) {
      // The link is up (the transport delivered this) though its status has not reached us yet.
      this.peerUp(peer)
      if (frame.kind === 'resync') return 'applied'
    }
    const inbound = this.#inboundOf(peer)
    switch (frame.kind) {
      case 'resync': {
        const outbound = this.#outbound.get(peer) as Outbound
        outbound.snapshotDue = true
        this.#sendSnapshot(peer)
        return 'applied'
      }
      case 'snapshot': {
        if (frame.first) {
          if (inbound.session !== undefined && inbound.session !== frame.session) {
            // The peer restarted while our link stayed up: it knows nothing of our interest.
            ;(this.#outbound.get(peer) as Outbound).snapshotDue = true
            this.#sendSnapshot(peer)
          }
          inbound.session = frame.session
          this.#options.remote.dropPeer(peer)
          inbound.inSnapshot = true
          inbound.synced = false
        } else if (!inbound.inSnapshot || frame.seq !== inbound.expectedSeq) {
          return this.#gap(peer, inbound)
        }
        inbound.expectedSeq = (frame.seq + 1) >>> 0
        const refused = this.#addAll(peer, frame.entries)
        if (frame.last) {
          inbound.inSnapshot = false
          inbound.synced = true
        }
        return refused ? 'refused-entries' : 'applied'
      }
      case 'delta': {
        if (!inbound.synced || frame.seq !== inbound.expectedSeq) return this.#gap(peer, inbound)
        inbound.expectedSeq = (frame.seq + 1) >>> 0
        let refused = false
        for (const op of frame.ops) {
          if (op.op === 'remove') this.#options.remote.remove(peer, op.pattern, op.queue)
          else if (this.#options.remote.add(peer, op.pattern, op.queue) === 'full') {
            this.#options.counters.of(peer).interestRefused += 1
            refused = true
          }
        }
        return refused ? 'refused-entries' : 'applied'
      }
    }
  }

  get #frameBytesMax(): number {
    return this.#options.interestFrameBytesMax ?? routeLimits.interestFrameBytesMax
  }

  #inboundOf(peer: string): Inbound {
    let inbound = this.#inbound.get(peer)
    if (inbound === undefined) {
      inbound = freshInbound()
      this.#inbound.set(peer, inbound)
    }
    return inbound
  }

  #addAll(peer: string, entries: readonly InterestEntry[]): boolean {
    let refused = false
    for (const entry of entries) {
      if (this.#options.remote.add(peer, entry.pattern, entry.queue) === 'full') {
        this.#options.counters.of(peer).interestRefused += 1
        refused = true
      }
    }
    return refused
  }

  #gap(peer: string, inbound: Inbound): InterestReceipt {
    // Deltas are ignored until a new snapshot replaces everything; what we hold stays meanwhile
    // (better stale interest for a moment than none: core pub/sub is at-most-once either way).
    inbound.synced = false
    inbound.inSnapshot = false
    if (this.#options.nowMs() - inbound.requestedAtMs >= this.#options.resyncRequestIntervalMs) this.#requestResync(peer)
    return 'gap'
  }

  #requestResync(peer: string): void {
    const inbound = this.#inboundOf(peer)
    if (this.#options.send(peer, encodeResync())) {
      inbound.requestedAtMs = this.#options.nowMs()
      this.#options.counters.of(peer).resyncsRequested += 1
    }
  }

  #sendSnapshot(peer: string): void {
    const outbound = this.#outbound.get(peer)
    if (outbound === undefined) return
    const frames = encodeSnapshot(this.#options.localEntries(), this.#options.session, outbound.nextSeq, this.#frameBytesMax)
    const counters = this.#options.counters.of(peer)
    for (const frame of frames) {
      if (!this.#options.send(peer, frame)) {
        // Retried by `retry()`; the peer, holding a partial snapshot, waits for a first frame.
        counters.interestSendFailures += 1
        outbound.snapshotDue = true
        return
      }
      outbound.nextSeq = (outbound.nextSeq + 1) >>> 0
    }
    counters.snapshotsSent += 1
    outbound.snapshotDue = false
    // Transitions queued before now are in the snapshot.
    outbound.pendingFrom = this.#pending.length
  }
}

function freshInbound(): Inbound {
  return { synced: false, inSnapshot: false, expectedSeq: 0, session: undefined, requestedAtMs: Number.NEGATIVE_INFINITY }
}
