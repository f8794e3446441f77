// The seam between the client logic and the wire. The client speaks in protocol ops; a Transport
// moves them. `connection.ts` is the TCP transport; tests plug in an in-memory one so cold
// subscribe/teardown and status sequences run in virtual time without sockets.
import type { ObservableInput } from 'rxjs'
import type { ProtocolOp } from '../shared/protocol/types.js'
import type { ResolvedTls } from './tls.js'

export interface ServerAddress {
  readonly host: string
  readonly port: number
  /** As the caller wrote it, for status messages. */
  readonly url: string
}

export interface TransportHandlers {
  /** Ops decoded from one inbound chunk, in wire order. */
  onOps(ops: readonly ProtocolOp[]): void
  /** Called exactly once when the transport ends; `error` is undefined for a clean close. */
  onClose(error: Error | undefined): void
}

export interface Transport {
  /**
   * Queues one op. Writes are coalesced (at most one socket write per event-loop turn, or
   * sooner when a chunk fills). Throws `OutboundBufferFullError` over `outboundBytesMax`.
   */
  send(op: ProtocolOp): void
  /** Bytes accepted but not yet handed to the kernel. */
  readonly pendingBytes: number
  /** Ends the transport (idempotent); `onClose` reports `error`. Pending writes are flushed first. */
  close(error?: Error): void
  /**
   * Upgrade to TLS in place (after the server's clear-text INFO); resolves once the handshake is
   * done and the server's certificate verified. Transports that cannot (test transports) omit it.
   */
  startTls?(tls: ResolvedTls): Promise<void>
}

export interface DialOptions {
  readonly timeoutMs: number
  /** Bound on queued outbound bytes (ours plus the socket's). */
  readonly outboundBytesMax: number
  /** Largest payload accepted from the server. */
  readonly inboundPayloadBytesMax: number
  /** Client TLS; with `handshakeFirst` the dialer starts TLS before any protocol byte. */
  readonly tls?: ResolvedTls
}

/** Opens a transport. TCP returns a Promise; test transports may return a synchronous Observable. */
export type Dialer = (
  address: ServerAddress,
  handlers: TransportHandlers,
  options: DialOptions,
) => ObservableInput<Transport>

/** Parses `nats://host:port`, `host:port`, `railgun://…` or `tcp://…`; default port 4222. TLS comes from the `tls` option. */
export function parseServerUrl(url: string): ServerAddress {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `nats://${url}`
  let parsed: URL
  try {
    parsed = new URL(withScheme)
  } catch {
    throw new RangeError(`not a server URL: ${url}`)
  }
  const scheme = parsed.protocol.replace(/:$/, '')
  if (!['nats', 'railgun', 'tcp'].includes(scheme)) throw new RangeError(`unsupported scheme in ${url} (nats, railgun or tcp; TLS is the tls option)`)
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1')
  if (host === '') throw new RangeError(`no host in server URL: ${url}`)
  const port = parsed.port === '' ? 4222 : Number(parsed.port)
  return { host, port, url }
}
