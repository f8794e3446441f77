// The node-to-node transport contract. Two implementations pass one conformance suite
// (test/transport/conformance.ts): TCP (tcp-transport.ts) and the in-process twin
// (memory-transport.ts). Callers see peers by node id, never sockets.
import type { Observable } from 'rxjs'

/**
 * Channels multiplex concerns over the single connection of a peer pair. The wire carries the
 * channel as one byte: its index in this list plus one (0 is the transport's own control channel).
 * Adding a channel is appending a name here; never reorder (the byte is part of the protocol).
 */
export const transportChannels = ['raft', 'data', 'admin', 'route', 'consumer', 'ship'] as const
export type TransportChannel = (typeof transportChannels)[number]

export interface PeerAddress {
  readonly id: string
  readonly host: string
  readonly port: number
}

export interface ListenAddress {
  readonly host: string
  readonly port: number
}

export interface IncomingFrame {
  readonly from: string
  readonly channel: TransportChannel
  readonly payload: Uint8Array
}

export const peerStates = ['connecting', 'up', 'down'] as const
export type PeerState = (typeof peerStates)[number]

export interface PeerStatus {
  readonly peer: string
  readonly state: PeerState
  /** Why the peer went down or a handshake failed; absent for `connecting` and `up`. */
  readonly reason?: string
}

export interface Transport {
  readonly nodeId: string
  /** Opens the listener (if any). Resolves with the address peers should dial. */
  start(): Promise<ListenAddress>
  /**
   * The node is ready (storage open and checked): from now on handshakes are accepted and
   * peers dialed. Until then (when constructed not ready) handshakes are refused `notReady`.
   */
  markReady(): void
  /** Closes every connection and the listener, cancels timers, completes both Observables. */
  stop(): Promise<void>
  /**
   * Keep a connection to this peer: dial now and re-dial with backoff whenever it drops.
   * Idempotent; a changed address is used from the next dial on.
   */
  connect(peer: PeerAddress): void
  /**
   * Stop re-dialing this peer and close the current connection. The remote may dial back if it
   * itself keeps a connection to us (`connect`); disconnect is local intent, not a ban.
   */
  disconnect(peerId: string, reason?: string): void
  /**
   * Queue one frame. `false` when the peer is not up, the payload is over the frame size limit,
   * or the per-peer outbound queue is full: the caller decides (retry, drop, back off).
   * `true` means queued in order, not delivered.
   */
  send(to: string, channel: TransportChannel, payload: Uint8Array): boolean
  /** Frames from every peer; in order per (from, channel) while a connection lasts. */
  readonly frames$: Observable<IncomingFrame>
  /** State transitions per peer (deduplicated: the same state twice in a row is not repeated). */
  readonly status$: Observable<PeerStatus>
  /** Peers that are up now. */
  upPeers(): readonly string[]
}
