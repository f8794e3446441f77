// Client options, their defaults and their limits. Test seams (scheduler, random, dialer) are
// options too, so virtual-time tests need no globals.
import { asyncScheduler, type SchedulerLike } from 'rxjs'
import { InvalidArgumentError } from './errors.js'
import { reconnectPolicyDefaults, reconnectPolicyProblem, type RandomSource, type ReconnectPolicy } from './reconnect.js'
import type { Dialer } from './transport.js'
import { resolveTls } from './tls.js'
import type { ClientTlsOptions, ResolvedTls } from './tls.js'

export interface ClientOptions {
  /** Connection name shown by the server (CONNECT `name`). */
  readonly name?: string
  /** Bearer token (CONNECT `auth_token`), e.g. `rgt_…` from `railgun token create`. */
  readonly token?: string
  readonly user?: string
  readonly pass?: string
  /** TLS: CA, client certificate, `handshakeFirst`. Absent = clear text unless the server requires TLS (then an error) or the URL is `tls://`. */
  readonly tls?: ClientTlsOptions
  /** Bound on opening one connection: TCP connect + INFO/CONNECT/PING/PONG. Default 5000. */
  readonly timeoutMs?: number
  readonly reconnect?: Partial<ReconnectPolicy>
  /** Keep-alive PING period. Default 120000 (as NATS clients). */
  readonly pingIntervalMs?: number
  /** Unanswered keep-alive PINGs before the connection counts as stale. Default 2. */
  readonly maxPingsOutstanding?: number
  /** Do not deliver this connection's own publishes back to it (CONNECT `echo: false`). */
  readonly noEcho?: boolean
  /** Only `false` is supported: +OK per op would halve throughput for no information. */
  readonly verbose?: false
  /** Default `request` timeout. Default 5000. */
  readonly requestTimeoutMs?: number
  /** Bound on bytes queued for the socket. Default 64 MiB. */
  readonly outboundBytesMax?: number
  /** Bound on publishes held while reconnecting. Default 8 MiB. */
  readonly reconnectBufferBytesMax?: number
  /** Largest message accepted from the server. Default 64 MiB. */
  readonly inboundPayloadBytesMax?: number
  /** Concurrent handler calls per `respond`. Default 256. */
  readonly respondConcurrencyMax?: number
  /** Longest `drain()` waits for the server before closing anyway. Default 10000. */
  readonly drainTimeoutMs?: number
  /** Timers (request timeouts, pings, backoff). Default rxjs `asyncScheduler`. */
  readonly scheduler?: SchedulerLike
  /** Jitter source in [0, 1). Default `Math.random`. */
  readonly random?: RandomSource
  /** Opens transports. Default TCP. */
  readonly dialer?: Dialer
}

export interface ResolvedOptions {
  readonly name: string | undefined
  readonly token: string | undefined
  readonly user: string | undefined
  readonly pass: string | undefined
  readonly tls: ResolvedTls | undefined
  readonly timeoutMs: number
  readonly reconnect: ReconnectPolicy
  readonly pingIntervalMs: number
  readonly maxPingsOutstanding: number
  readonly noEcho: boolean
  readonly requestTimeoutMs: number
  readonly outboundBytesMax: number
  readonly reconnectBufferBytesMax: number
  readonly inboundPayloadBytesMax: number
  readonly respondConcurrencyMax: number
  readonly drainTimeoutMs: number
  readonly scheduler: SchedulerLike
  readonly random: RandomSource
}

export const clientDefaults = {
  timeoutMs: 5_000,
  pingIntervalMs: 120_000,
  maxPingsOutstanding: 2,
  requestTimeoutMs: 5_000,
  outboundBytesMax: 64 * 1024 * 1024,
  reconnectBufferBytesMax: 8 * 1024 * 1024,
  inboundPayloadBytesMax: 64 * 1024 * 1024,
  respondConcurrencyMax: 256,
  drainTimeoutMs: 10_000,
} as const

function positive(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback
  if (!(resolved > 0) || !Number.isFinite(resolved)) throw new InvalidArgumentError(`${name} must be a positive number, got ${resolved}`)
  return resolved
}

export function resolveOptions(options: ClientOptions): ResolvedOptions {
  if (options.verbose !== undefined && options.verbose !== false) {
    throw new InvalidArgumentError('verbose mode is not supported (set verbose: false or leave it out)')
  }
  const reconnect: ReconnectPolicy = { ...reconnectPolicyDefaults, ...options.reconnect }
  const problem = reconnectPolicyProblem(reconnect)
  if (problem !== undefined) throw new InvalidArgumentError(problem)
  return {
    name: options.name,
    token: options.token,
    user: options.user,
    pass: options.pass,
    tls: resolveTls(options.tls),
    timeoutMs: positive('timeoutMs', options.timeoutMs, clientDefaults.timeoutMs),
    reconnect,
    pingIntervalMs: positive('pingIntervalMs', options.pingIntervalMs, clientDefaults.pingIntervalMs),
    maxPingsOutstanding: positive('maxPingsOutstanding', options.maxPingsOutstanding, clientDefaults.maxPingsOutstanding),
    noEcho: options.noEcho === true,
    requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs, clientDefaults.requestTimeoutMs),
    outboundBytesMax: positive('outboundBytesMax', options.outboundBytesMax, clientDefaults.outboundBytesMax),
    reconnectBufferBytesMax: positive(
      'reconnectBufferBytesMax',
      options.reconnectBufferBytesMax,
      clientDefaults.reconnectBufferBytesMax,
    ),
    inboundPayloadBytesMax: positive('inboundPayloadBytesMax', options.inboundPayloadBytesMax, clientDefaults.inboundPayloadBytesMax),
    respondConcurrencyMax: positive('respondConcurrencyMax', options.respondConcurrencyMax, clientDefaults.respondConcurrencyMax),
    drainTimeoutMs: positive('drainTimeoutMs', options.drainTimeoutMs, clientDefaults.drainTimeoutMs),
    scheduler: options.scheduler ?? asyncScheduler,
    random: options.random ?? Math.random,
  }
}
