// Small helpers for transport tests: wait for a status or frame with a deadline.
import { filter, firstValueFrom, timeout } from 'rxjs'
import type { Observable } from 'rxjs'
import type { IncomingFrame, PeerState, PeerStatus, Transport } from '../../shared/transport/index.js'

export function waitForStatus(
  transport: Transport,
  peer: string,
  state: PeerState,
  timeoutMs = 5_000,
): Promise<PeerStatus> {
  return waitFor(transport.status$, (s) => s.peer === peer && s.state === state, timeoutMs, `${transport.nodeId}: ${peer} ${state}`)
}

export function waitFor<T>(source: Observable<T>, predicate: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  return firstValueFrom(
    source.pipe(
      filter(predicate),
      timeout({
        first: timeoutMs,
        with: () => {
          throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`)
        },
      }),
    ),
  )
}

/** Collects frames until stopped; `waitForCount` resolves when at least n have arrived. */
export function collectFrames(transport: Transport): { frames: IncomingFrame[]; waitForCount(n: number, timeoutMs?: number): Promise<void>; stop(): void } {
  const frames: IncomingFrame[] = []
  const waiters: { n: number; resolve: () => void }[] = []
  const subscription = transport.frames$.subscribe((frame) => {
    frames.push(frame)
    for (const waiter of [...waiters]) {
      if (frames.length >= waiter.n) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve()
      }
    }
  })
  return {
    frames,
    waitForCount(n: number, timeoutMs = 5_000): Promise<void> {
      if (frames.length >= n) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${n} frames (got ${frames.length})`)), timeoutMs)
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(timer)
            resolve()
          },
        })
      })
    },
    stop: () => subscription.unsubscribe(),
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
