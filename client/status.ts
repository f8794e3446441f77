// Connection status as tagged values (`status$`). The connection-state tags replay the latest
// one to late subscribers; `error` tags are events (not replayed).
import { Observable, Subject } from 'rxjs'

export type Status =
  | { readonly type: 'connected'; readonly server: string }
  | { readonly type: 'disconnected'; readonly error?: Error }
  | { readonly type: 'reconnecting'; readonly attempt: number; readonly delayMs: number }
  | { readonly type: 'reconnected'; readonly server: string }
  | { readonly type: 'closed'; readonly error?: Error }
  /** A server `-ERR` that belongs to no subscription or request (e.g. a publish permission). */
  | { readonly type: 'error'; readonly error: Error }

export type StatusType = Status['type']

/**
 * The status stream: connection-state tags are remembered and replayed to late subscribers;
 * `error` tags are events. Completes (after `closed`) for current and late subscribers alike.
 */
export class StatusStream {
  private readonly subject = new Subject<Status>()
  private lastState: Status | undefined
  private completed = false

  readonly status$: Observable<Status> = new Observable<Status>((subscriber) => {
    if (this.lastState !== undefined) subscriber.next(this.lastState)
    if (this.completed) {
      subscriber.complete()
      return
    }
    return this.subject.subscribe(subscriber)
  })

  emit(status: Status): void {
    if (status.type !== 'error') this.lastState = status
    this.subject.next(status)
  }

  complete(): void {
    this.completed = true
    this.subject.complete()
  }
}
