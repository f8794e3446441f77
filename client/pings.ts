// PING/PONG bookkeeping. Invariant: every PING written pushes exactly one waiter and every PONG
// resolves the oldest, so waiters resolve in wire order (a flush's PONG proves that everything
// written before its PING was processed).
import type { Transport } from './transport.js'

export interface PongWaiter {
  resolve(): void
  reject(error: Error): void
  /** A caller's flush: re-sent after a reconnect rather than dropped. */
  readonly resend: boolean
}

const noop = (): void => {}

export class Pings {
  private inFlight: PongWaiter[] = []
  /** Flushes waiting for a connection (asked while down, or in flight when it was lost). */
  private deferred: PongWaiter[] = []
  /** Keep-alive PINGs since the last PONG of any kind. */
  keepAliveOutstanding = 0

  /** Writes a PING for `waiter`, or defers it (flush) / resolves it (internal) when down. */
  send(transport: Transport | undefined, waiter: PongWaiter): void {
    if (transport === undefined) {
      if (waiter.resend) this.deferred.push(waiter)
      else waiter.resolve()
      return
    }
    try {
      transport.send({ op: 'PING' })
    } catch (error) {
      waiter.reject(error instanceof Error ? error : new Error(String(error)))
      return
    }
    this.inFlight.push(waiter)
  }

  /** An internal PING whose PONG runs `onPong` (keep-alive, SUB confirmation). */
  sendInternal(transport: Transport | undefined, onPong: () => void = noop): void {
    this.send(transport, { resolve: onPong, reject: noop, resend: false })
  }

  onPong(): void {
    this.keepAliveOutstanding = 0
    this.inFlight.shift()?.resolve()
  }

  /** The connection is gone: its PONGs will never come. Flushes wait for the next one. */
  onLost(): void {
    for (const waiter of this.inFlight) if (waiter.resend) this.deferred.push(waiter)
    this.inFlight = []
    this.keepAliveOutstanding = 0
  }

  /** On a new connection: the deferred flushes' PINGs (after resubscribe and buffered publishes). */
  resendDeferred(transport: Transport): void {
    const waiting = this.deferred
    this.deferred = []
    for (const waiter of waiting) this.send(transport, waiter)
  }

  rejectAll(error: Error): void {
    const all = [...this.inFlight, ...this.deferred]
    this.inFlight = []
    this.deferred = []
    for (const waiter of all) waiter.reject(error)
  }
}
