// Handshake validation and connection arbitration: pure decisions, no sockets.
// Each side's first frame is a `hello`; the acceptor answers with its own hello or a `reject`
// (with a reason), the dialer checks the acceptor's hello the same way. At most one connection
// per peer pair survives: see `arbitrate`.
import type { Hello, RejectReason } from './control-messages.js'
import { peerProtocolVersion } from './control-messages.js'

export interface LocalIdentity {
  readonly clusterName: string
  readonly nodeId: string
  readonly region: string
  readonly incarnation: string
  readonly credentials: Uint8Array
}

export type HandshakeVerdict =
  | { readonly accept: true }
  | { readonly accept: false; readonly reason: RejectReason; readonly detail: string }

export interface HelloCheck {
  readonly local: LocalIdentity
  readonly remote: Hello
  /** Acceptor only: whether the node has signalled readiness (storage open and checked). */
  readonly ready: boolean
  /** Dialer only: the id we dialed; the acceptor must be that node. */
  readonly expectedPeerId?: string
  readonly verifyCredentials: (credentials: Uint8Array, remote: Hello) => boolean
}

function reject(reason: RejectReason, detail: string): HandshakeVerdict {
  return { accept: false, reason, detail }
}

/** Identity checks, in the order a human would want to hear them. */
export function checkHello(check: HelloCheck): HandshakeVerdict {
  const { local, remote } = check
  if (!check.ready) return reject('notReady', `node ${local.nodeId} is not ready (storage not open yet)`)
  if (remote.protocolVersion !== peerProtocolVersion) {
    return reject('versionMismatch', `peer protocol version ${remote.protocolVersion}, this node speaks ${peerProtocolVersion}`)
  }
  if (remote.clusterName !== local.clusterName) {
    return reject('wrongCluster', `peer is in cluster '${remote.clusterName}', this node is in '${local.clusterName}'`)
  }
  if (!check.verifyCredentials(remote.credentials, remote)) {
    return reject('badCredentials', `credentials of node '${remote.nodeId}' were refused`)
  }
  if (remote.nodeId === '' || remote.nodeId === local.nodeId) {
    return reject('duplicateId', `peer claims node id '${remote.nodeId}', which is this node's own id`)
  }
  if (check.expectedPeerId !== undefined && remote.nodeId !== check.expectedPeerId) {
    return reject('unexpectedPeer', `dialed node '${check.expectedPeerId}' but '${remote.nodeId}' answered`)
  }
  return { accept: true }
}

/** Placeholder credential check until the security work lands: the same opaque token. */
export function sameTokenVerifier(localCredentials: Uint8Array): (credentials: Uint8Array) => boolean {
  return (credentials) =>
    credentials.byteLength === localCredentials.byteLength && credentials.every((byte, i) => byte === localCredentials[i])
}

export const connectionDirections = ['inbound', 'outbound'] as const
export type ConnectionDirection = (typeof connectionDirections)[number]

/** What we know of a connection already established with the same peer id. */
export interface ExistingConnection {
  readonly direction: ConnectionDirection
  readonly incarnation: string
  readonly lastHeardMs: number
}

export interface ArbitrationInput {
  readonly localId: string
  readonly remoteId: string
  readonly remoteIncarnation: string
  /** Direction of the connection whose handshake just completed. */
  readonly candidateDirection: ConnectionDirection
  readonly existing: ExistingConnection | undefined
  /** Acceptor: whether we have our own dial to this peer still in its handshake. */
  readonly ownDialPending: boolean
  readonly nowMs: number
  readonly deadAfterMs: number
}

export type ArbitrationResult =
  /** Keep the candidate; close the existing connection and/or abort our pending dial if any. */
  | { readonly keep: 'candidate'; readonly closeExisting: boolean; readonly abortOwnDial: boolean }
  /** Refuse the candidate (the existing or pending connection stays). */
  | { readonly keep: 'existing'; readonly reason: RejectReason; readonly detail: string }

/** The id whose dial wins when both nodes dial each other: the smaller (string order). */
export function winningDialer(localId: string, remoteId: string): string {
  return localId < remoteId ? localId : remoteId
}

/**
 * One connection per peer pair. Both nodes apply the same rule, so they keep the same one:
 * - a live connection to a different incarnation of the same id means two processes claim
 *   the id: refuse (`duplicateId`); a silent one is stale (the peer restarted): replace it;
 * - the same incarnation twice means both dialed (or the peer re-dialed): keep the connection
 *   dialed by the smaller node id; a re-dial by the same dialer replaces its old connection.
 */
export function arbitrate(input: ArbitrationInput): ArbitrationResult {
  const candidateDialer = input.candidateDirection === 'inbound' ? input.remoteId : input.localId
  const winner = winningDialer(input.localId, input.remoteId)
  const existing = input.existing
  if (existing !== undefined) {
    if (existing.incarnation !== input.remoteIncarnation) {
      const silentMs = input.nowMs - existing.lastHeardMs
      if (input.candidateDirection === 'inbound' && silentMs <= input.deadAfterMs) {
        return {
          keep: 'existing',
          reason: 'duplicateId',
          detail: `node id '${input.remoteId}' is already connected (incarnation ${existing.incarnation}, heard ${Math.round(silentMs)}ms ago)`,
        }
      }
      return { keep: 'candidate', closeExisting: true, abortOwnDial: input.ownDialPending }
    }
    const existingDialer = existing.direction === 'inbound' ? input.remoteId : input.localId
    if (existingDialer === candidateDialer || candidateDialer === winner) {
      return { keep: 'candidate', closeExisting: true, abortOwnDial: input.ownDialPending }
    }
    return { keep: 'existing', reason: 'duplicateConnection', detail: `a connection dialed by '${winner}' already exists` }
  }
  if (input.candidateDirection === 'inbound' && input.ownDialPending) {
    if (candidateDialer === winner) return { keep: 'candidate', closeExisting: false, abortOwnDial: true }
    return { keep: 'existing', reason: 'duplicateConnection', detail: `both nodes dialed; the dial by '${winner}' wins` }
  }
  return { keep: 'candidate', closeExisting: false, abortOwnDial: false }
}
