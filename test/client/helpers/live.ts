// Helpers for live client tests: clients closed at teardown, MSG counting at the wire, bounded
// waits on Observables.
import { filter, firstValueFrom, timeout, type Observable } from 'rxjs'
import { dialTcp } from '../../../client/connection.js'
import { connect, type ClientOptions, type RailgunClient, type Status } from '../../../client/index.js'
import type { Dialer } from '../../../client/transport.js'

export interface TapLike {
  teardown(fn: () => unknown): void
}

/** Connects and registers a teardown that closes the client. */
export async function openClient(t: TapLike, url: string, options: ClientOptions = {}): Promise<RailgunClient> {
  const client = await connect(url, { timeoutMs: 3_000, ...options })
  t.teardown(() => client.close())
  return client
}

/** Counts MSG/HMSG ops per subject as they arrive off the socket (what the server delivered). */
export class WireCounter {
  readonly bySubject = new Map<string, number>()

  readonly dialer: Dialer = (address, handlers, options) =>
    dialTcp(
      address,
      {
        onOps: (ops) => {
          for (const op of ops) {
            if (op.op === 'MSG' || op.op === 'HMSG') this.bySubject.set(op.subject, (this.bySubject.get(op.subject) ?? 0) + 1)
          }
          handlers.onOps(ops)
        },
        onClose: (error) => handlers.onClose(error),
      },
      options,
    )

  count(subject: string): number {
    return this.bySubject.get(subject) ?? 0
  }
}

/** The first status of `type`, failing after `timeoutMs`. */
export function nextStatus<T extends Status['type']>(
  status$: Observable<Status>,
  type: T,
  timeoutMs = 10_000,
): Promise<Extract<Status, { type: T }>> {
  return firstValueFrom(
    status$.pipe(
      filter((s): s is Extract<Status, { type: T }> => s.type === type),
      timeout(timeoutMs),
    ),
  )
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
