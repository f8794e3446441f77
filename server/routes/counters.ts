// Per-peer counters of cluster routing, kept across link flaps so an operator sees totals.
// Pure: plain objects, no I/O.

export interface PeerRouteCounters {
  /** Messages forwarded to the peer (frames the transport accepted) and their frame bytes. */
  msgsOut: number
  bytesOut: number
  /** Messages the peer forwarded to us, and their frame bytes. */
  msgsIn: number
  bytesIn: number
  /** Forwarded messages dropped because `send` refused them (peer down, outbound queue full). */
  dropsRefused: number
  /** Forwarded messages dropped because the frame would exceed `messageFrameBytesMax`. */
  dropsOversize: number
  /** Full interest snapshots sent to the peer (each may span several frames). */
  snapshotsSent: number
  /** Interest delta frames sent to the peer. */
  deltaFramesSent: number
  /** Interest frames the transport refused: the peer is re-sent a snapshot later. */
  interestSendFailures: number
  /** Snapshots we asked the peer for (gap in its interest frames, corrupt frame, unsynced). */
  resyncsRequested: number
  /** The peer's interest entries we refused because it holds `patternsPerPeerMax` already. */
  interestRefused: number
  /** Frames from the peer that did not decode (RG_ERR_MALFORMED_ROUTE_FRAME). */
  malformedFrames: number
}

export function emptyPeerCounters(): PeerRouteCounters {
  return {
    msgsOut: 0,
    bytesOut: 0,
    msgsIn: 0,
    bytesIn: 0,
    dropsRefused: 0,
    dropsOversize: 0,
    snapshotsSent: 0,
    deltaFramesSent: 0,
    interestSendFailures: 0,
    resyncsRequested: 0,
    interestRefused: 0,
    malformedFrames: 0,
  }
}

/** Named limit: peers whose counters are kept (the cluster's nodes; the oldest idle ones go first). */
export const countedPeersMax = 1024

/** Counters per peer id, bounded by `countedPeersMax`. */
export class RouteCounterBoard {
  readonly #byPeer = new Map<string, PeerRouteCounters>()

  of(peer: string): PeerRouteCounters {
    let counters = this.#byPeer.get(peer)
    if (counters === undefined) {
      if (this.#byPeer.size >= countedPeersMax) {
        const oldest = this.#byPeer.keys().next().value
        if (oldest !== undefined) this.#byPeer.delete(oldest)
      }
      counters = emptyPeerCounters()
      this.#byPeer.set(peer, counters)
    }
    return counters
  }

  entries(): Array<[string, PeerRouteCounters]> {
    return [...this.#byPeer.entries()].map(([peer, counters]) => [peer, { ...counters }])
  }
}
