// Opening one connection: dial, wait for INFO, (upgrade to TLS), send CONNECT + PING, wait for
// PONG. A `-ERR` or a close before the PONG fails the attempt (e.g. 'Authorization Violation').
// The whole exchange is bounded by `timeoutMs` on the injected scheduler, so virtual-time tests
// drive it too. TLS: the upgrade starts when INFO says `tls_required`, or `tls_available` and the
// client has `tls` options; a client with `tls` options refuses a server that offers none (no
// silent fallback to clear text). TLS-first connections arrive here already encrypted.
import { from, Observable, type SchedulerLike, type Subscription } from 'rxjs'
import type { ConnectOptions, ProtocolOp, ServerInfo } from '../shared/protocol/types.js'
import { ConnectError, errorFromServerText, ProtocolError } from './errors.js'
import type { ResolvedOptions } from './options.js'
import type { Dialer, DialOptions, ServerAddress, Transport, TransportHandlers } from './transport.js'

export interface Established {
  readonly transport: Transport
  readonly info: ServerInfo
  readonly address: ServerAddress
}

/** What the connection's ops go to once the handshake is done. */
export interface SessionHandlers {
  onOps(transport: Transport, ops: readonly ProtocolOp[]): void
  onClose(transport: Transport, error: Error | undefined): void
}

export type ConnectFields = Omit<ConnectOptions, 'raw'>

export const clientVersion = '0.1.0'

/** CONNECT as this client sends it: never verbose, headers and no-responders on, protocol 1. */
export function connectFieldsFrom(options: ResolvedOptions): ConnectFields {
  return {
    verbose: false,
    pedantic: false,
    tls_required: false,
    name: options.name,
    lang: 'typescript-railgun',
    version: clientVersion,
    protocol: 1,
    echo: !options.noEcho,
    headers: true,
    no_responders: true,
    auth_token: options.token,
    user: options.user,
    pass: options.pass,
  }
}

export function handshake$(
  dialer: Dialer,
  address: ServerAddress,
  connectFields: ConnectFields,
  dialOptions: DialOptions,
  session: SessionHandlers,
  scheduler: SchedulerLike,
): Observable<Established> {
  return new Observable<Established>((subscriber) => {
    let phase: 'dialing' | 'await-info' | 'tls-upgrade' | 'await-pong' | 'established' | 'failed' = 'dialing'
    let transport: Transport | undefined
    let info: ServerInfo | undefined
    // Ops that arrive before the dial promise hands us the transport (a test transport may
    // deliver INFO at once) wait here.
    let early: ProtocolOp[] = []

    const fail = (error: Error): void => {
      if (phase === 'established' || phase === 'failed') return
      phase = 'failed'
      transport?.close(error)
      subscriber.error(error)
    }

    const handleOps = (ops: readonly ProtocolOp[]): void => {
      if (transport === undefined) {
        early.push(...ops)
        return
      }
      const current = transport
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i] as ProtocolOp
        if (phase === 'established') {
          session.onOps(current, ops.slice(i))
          return
        }
        if (phase === 'failed') return
        if (op.op === 'ERR') return fail(errorFromServerText(op.message))
        if (phase === 'await-info') {
          if (op.op !== 'INFO') return fail(new ProtocolError(`expected INFO first, got ${op.op}`))
          info = op.info
          const tls = dialOptions.tls
          const encrypted = tls?.handshakeFirst === true
          const upgrade = !encrypted && (info.tls_required === true || (tls !== undefined && info.tls_available === true))
          if (upgrade && tls === undefined) return fail(new ConnectError(`${address.url} requires TLS: set the tls option (at least {})`))
          if (tls !== undefined && !encrypted && !upgrade) return fail(new ConnectError(`${address.url} does not offer TLS, but the client requires it`))
          const sendConnect = (): void => {
            current.send({ op: 'CONNECT', options: { ...connectFields, ...(tls === undefined ? {} : { tls_required: true }), raw: {} } })
            current.send({ op: 'PING' })
            phase = 'await-pong'
          }
          if (!upgrade || tls === undefined) {
            sendConnect()
            continue
          }
          if (current.startTls === undefined) return fail(new ConnectError(`${address.url}: this transport cannot start TLS`))
          phase = 'tls-upgrade'
          current.startTls(tls).then(
            () => {
              if (phase === 'tls-upgrade') sendConnect()
            },
            (error: unknown) => fail(error instanceof Error ? error : new ConnectError(String(error))),
          )
          return
        } else if (op.op === 'PONG') {
          phase = 'established'
          timeout.unsubscribe()
          subscriber.next({ transport: current, info: info as ServerInfo, address })
          subscriber.complete()
        } else if (op.op === 'PING') {
          current.send({ op: 'PONG' })
        } else if (op.op === 'INFO') {
          info = op.info
        }
      }
    }

    const handlers: TransportHandlers = {
      onOps: (ops) => (phase === 'established' && transport !== undefined ? session.onOps(transport, ops) : handleOps(ops)),
      onClose: (error) => {
        if (phase === 'established' && transport !== undefined) session.onClose(transport, error)
        else fail(new ConnectError(`${address.url} closed the connection during the handshake`, { cause: error }))
      },
    }

    const timeout: Subscription = scheduler.schedule(
      () => fail(new ConnectError(`handshake with ${address.url} timed out after ${dialOptions.timeoutMs} ms`)),
      dialOptions.timeoutMs,
    )
    // Not torn down with the handshake: a dial that completes after an abort must still have its
    // transport closed (the `phase === 'failed'` branch), or the socket would leak.
    from(dialer(address, handlers, dialOptions)).subscribe({
      next: (opened) => {
        if (phase === 'failed') {
          opened.close()
          return
        }
        transport = opened
        phase = 'await-info'
        const pending = early
        early = []
        if (pending.length > 0) handleOps(pending)
      },
      error: (error: unknown) => fail(error instanceof Error ? error : new ConnectError(String(error))),
    })

    return () => {
      timeout.unsubscribe()
      // Unsubscribed before success (e.g. the client closed): drop the half-open connection.
      if (phase !== 'established' && phase !== 'failed') {
        phase = 'failed'
        transport?.close()
      }
    }
  })
}
