// Client TLS options, as NATS clients take them: a CA to verify the server with, an optional
// client certificate, and the two ways to start TLS — upgrade after the server's clear-text INFO
// (`tls_required` / `tls_available`: the default), or TLS first (`handshakeFirst`: before INFO,
// for servers configured with handshakeFirst). Files are read once, when the client is created.
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { checkServerIdentity } from 'node:tls'
import type { ConnectionOptions } from 'node:tls'
import { InvalidArgumentError } from './errors.js'

export interface ClientTlsOptions {
  /** PEM CA bundle the server's certificate must chain to (default: Node's public CAs). */
  readonly ca?: string | Uint8Array
  readonly caFile?: string
  /** Client certificate and key (servers with `verifyClients`). */
  readonly cert?: string | Uint8Array
  readonly certFile?: string
  readonly key?: string | Uint8Array
  readonly keyFile?: string
  /** Default true. False accepts any server certificate: testing only. */
  readonly rejectUnauthorized?: boolean
  /** Start TLS before the server's INFO (the server must be configured for it). Default false. */
  readonly handshakeFirst?: boolean
  /** Host name to verify the certificate against; default the URL's host (IP addresses are matched as IPs). */
  readonly servername?: string
}

export interface ResolvedTls {
  readonly handshakeFirst: boolean
  /** `node:tls` options for `tls.connect` (without `socket`, `host`, `port`). */
  connectOptions(host: string): ConnectionOptions
}

function material(label: string, inline: string | Uint8Array | undefined, file: string | undefined): Buffer | undefined {
  if (inline !== undefined && file !== undefined) throw new InvalidArgumentError(`tls: give ${label} or ${label}File, not both`)
  if (inline !== undefined) return Buffer.from(inline)
  if (file === undefined) return undefined
  try {
    return readFileSync(file)
  } catch (error) {
    throw new InvalidArgumentError(`tls.${label}File ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error })
  }
}

export function resolveTls(options: ClientTlsOptions | undefined): ResolvedTls | undefined {
  if (options === undefined) return undefined
  const ca = material('ca', options.ca, options.caFile)
  const cert = material('cert', options.cert, options.certFile)
  const key = material('key', options.key, options.keyFile)
  if ((cert === undefined) !== (key === undefined)) throw new InvalidArgumentError('tls: a client certificate needs its key (cert and key go together)')
  const rejectUnauthorized = options.rejectUnauthorized !== false
  return {
    handshakeFirst: options.handshakeFirst === true,
    connectOptions: (host) => {
      const servername = options.servername ?? (isIP(host) === 0 ? host : undefined)
      return {
        ...(ca === undefined ? {} : { ca }),
        ...(cert === undefined ? {} : { cert }),
        ...(key === undefined ? {} : { key }),
        rejectUnauthorized,
        minVersion: 'TLSv1.2',
        ...(servername === undefined ? {} : { servername }),
        // An IP address has no SNI; verify the certificate's IP SANs against it.
        ...(servername === undefined && isIP(host) !== 0 ? { checkServerIdentity: ipIdentityCheck(host) } : {}),
      }
    },
  }
}

/** `tls.connect({socket})` has no host to check an IP certificate against: check the URL's IP (Node matches IP SANs). */
function ipIdentityCheck(host: string): ConnectionOptions['checkServerIdentity'] {
  return (_servername, certificate) => checkServerIdentity(host, certificate)
}
