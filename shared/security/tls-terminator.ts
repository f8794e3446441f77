// Server-side TLS on sockets accepted by a plain `net.Server`: the client listener needs it
// because NATS sends INFO in clear text before the client upgrades (STARTTLS style), and the
// peer transport shares the same code for mutual TLS.
//
// The socket is handed to a non-listening `tls.Server` (`emit('connection', socket)`), so the
// certificate checks are Node's own (`authorized`, `authorizationError` set after OpenSSL built
// and verified the chain against the CA): a hand-made server `TLSSocket` never sets them. Bytes
// already read from the socket (the first byte tells a TLS ClientHello from clear text) are
// pushed back before the hand-over; `TLSSocket` feeds buffered bytes to OpenSSL first.
import { createServer as createTlsServer } from 'node:tls'
import type { Server as TlsServer, TLSSocket } from 'node:tls'
import type { Socket } from 'node:net'
import type { TlsMaterial } from './tls-material.js'

/** First byte of a TLS record carrying a handshake message (a ClientHello starts with it). */
export const tlsHandshakeRecordByte = 0x16

export const tlsTerminatorDefaults = {
  /** A TLS handshake not finished within this time is closed (nats-server's default is 2 s; the machine may be loaded). */
  handshakeTimeoutMs: 5_000,
} as const

export interface TlsTerminatorOptions {
  readonly material: TlsMaterial
  /** Request a certificate from the other end and require it to chain to the material's CA. */
  readonly verifyPeer: boolean
  readonly handshakeTimeoutMs?: number
}

export type TlsUpgrade = { readonly ok: true; readonly socket: TLSSocket } | { readonly ok: false; readonly reason: string }

interface Pending {
  readonly settle: (result: TlsUpgrade) => void
}

function keyOf(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string | undefined {
  if (socket.remoteAddress === undefined || socket.remotePort === undefined) return undefined
  return `${socket.remoteAddress}|${socket.remotePort}`
}

/** OpenSSL verification results (as Node names them) that mean "this certificate is not trusted". */
export const certificateErrorCodes: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
])

/** Why a verified handshake is refused, in words an operator can act on (never key material). */
export function describeAuthorizationError(code: string | Error | null | undefined): string {
  const text = code instanceof Error ? ((code as NodeJS.ErrnoException).code ?? code.message) : (code ?? 'unknown')
  switch (text) {
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'CERT_SIGNATURE_FAILURE':
      return `certificate does not chain to the configured CA (${text})`
    case 'CERT_HAS_EXPIRED':
      return `certificate has expired (${text})`
    case 'CERT_NOT_YET_VALID':
      return `certificate is not valid yet (${text})`
    default:
      return `certificate refused (${text})`
  }
}

export class TlsTerminator {
  readonly #material: TlsMaterial
  readonly #verifyPeer: boolean
  readonly #server: TlsServer
  readonly #pending = new Map<string, Pending>()
  #generation: number

  constructor(options: TlsTerminatorOptions) {
    if (options.verifyPeer && !options.material.hasCa) throw new RangeError('TLS peer verification needs a CA file (caFile)')
    this.#material = options.material
    this.#verifyPeer = options.verifyPeer
    this.#generation = options.material.generation
    this.#server = createTlsServer({
      ...options.material.contextOptions(),
      requestCert: options.verifyPeer,
      // Checked below, so the refusal carries Node's reason instead of a bare reset.
      rejectUnauthorized: false,
      handshakeTimeout: options.handshakeTimeoutMs ?? tlsTerminatorDefaults.handshakeTimeoutMs,
    })
    this.#server.on('secureConnection', (socket: TLSSocket) => this.#secured(socket))
    this.#server.on('tlsClientError', (error: Error, socket: TLSSocket) => this.#failed(socket, error))
  }

  /** Handshakes in progress. */
  get pendingCount(): number {
    return this.#pending.size
  }

  /**
   * Run the server side of a TLS handshake on `raw`. `alreadyRead` are bytes read from it
   * before (they are pushed back first). Resolves once: with the secure socket, or with the
   * reason it failed (the raw socket is then destroyed).
   */
  upgrade(raw: Socket, alreadyRead?: Uint8Array): Promise<TlsUpgrade> {
    const key = keyOf(raw)
    if (key === undefined || raw.destroyed) return Promise.resolve({ ok: false, reason: 'socket closed before the TLS handshake' })
    this.#refresh()
    return new Promise<TlsUpgrade>((resolve) => {
      let done = false
      const settle = (result: TlsUpgrade): void => {
        if (done) return
        done = true
        this.#pending.delete(key)
        raw.off('close', onClose)
        if (!result.ok) raw.destroy()
        resolve(result)
      }
      const onClose = (): void => settle({ ok: false, reason: 'connection closed during the TLS handshake' })
      raw.once('close', onClose)
      this.#pending.set(key, { settle })
      if (alreadyRead !== undefined && alreadyRead.length > 0) {
        raw.pause()
        raw.unshift(alreadyRead)
      }
      this.#server.emit('connection', raw)
    })
  }

  /** A reloaded certificate applies to the next handshake; established sockets keep theirs. */
  #refresh(): void {
    const generation = this.#material.generation
    if (generation === this.#generation) return
    this.#generation = generation
    this.#server.setSecureContext(this.#material.contextOptions())
  }

  #secured(socket: TLSSocket): void {
    const key = keyOf(socket)
    const pending = key === undefined ? undefined : this.#pending.get(key)
    if (pending === undefined) {
      socket.destroy()
      return
    }
    if (this.#verifyPeer && !socket.authorized) {
      // Without a certificate OpenSSL reports a missing issuer; say what happened instead.
      const presented = Object.keys(socket.getPeerCertificate()).length > 0
      const reason = presented ? describeAuthorizationError(socket.authorizationError) : 'no certificate presented'
      socket.destroy()
      pending.settle({ ok: false, reason })
      return
    }
    pending.settle({ ok: true, socket })
  }

  #failed(socket: TLSSocket, error: Error): void {
    const key = keyOf(socket)
    const pending = key === undefined ? undefined : this.#pending.get(key)
    const code = (error as NodeJS.ErrnoException).code
    socket.destroy()
    pending?.settle({ ok: false, reason: `TLS handshake failed: ${code === undefined ? error.message : `${code}: ${error.message}`}` })
  }
}
