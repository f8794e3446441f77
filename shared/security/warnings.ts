// Start-up warnings for the unsafe settings a node may run with on purpose: peers over plain
// TCP, clients in clear text, access control off. The node calls this once when it starts, so
// every node of a cluster says it in its own log (issue #7: "logs a warning on every node").
import type { Logger } from '../log.js'

export interface SecurityPosture {
  /** Client TLS configured (`tls.certFile`). */
  readonly clientTls: boolean
  /** Peer mutual TLS configured (`peerTls.certFile`). */
  readonly peerTls: boolean
  /** `access.disabled: true`. */
  readonly accessDisabled: boolean
}

export const securityWarnings = {
  peerPlaintext: 'peer links use plain TCP: traffic between nodes is not encrypted and any process that reaches the peer port can try to join (set peerTls.certFile, keyFile, caFile)',
  clientPlaintext: 'client connections are not encrypted (set tls.certFile and tls.keyFile)',
  accessDisabled: 'access control is disabled (access.disabled: true): every client may publish, subscribe and administer without credentials',
} as const

/** Logs one warning per unsafe setting; returns the warnings it logged (tests read them). */
export function warnIfPlaintext(logger: Logger, posture: SecurityPosture): string[] {
  const warnings: string[] = []
  if (!posture.peerTls) warnings.push(securityWarnings.peerPlaintext)
  if (!posture.clientTls) warnings.push(securityWarnings.clientPlaintext)
  if (posture.accessDisabled) warnings.push(securityWarnings.accessDisabled)
  for (const warning of warnings) logger.warn({ security: true }, warning)
  return warnings
}
