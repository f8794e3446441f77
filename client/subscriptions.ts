// The client's live subscriptions by sid. Sids are small integers, unique for the client's
// lifetime (they survive reconnects: the same sid is re-sent on the new connection). The table
// also remembers which SUBs the server has not yet confirmed, so a `-ERR` that names no sid
// ('Invalid Subject', 'Permissions Violation for Subscription to "x"') reaches the right one.
import { errorFromServerText, InvalidSubjectError, PermissionDeniedError } from './errors.js'
import type { Message } from './message.js'
import { looksLikeValidSubscribeSubject } from './subject-check.js'

export interface SubscriptionSink {
  next(message: Message): void
  error(error: Error): void
  complete(): void
}

export interface SubscriptionEntry {
  readonly sid: string
  readonly subject: string
  readonly queue: string | undefined
  /** Auto-unsubscribe after this many messages (undefined: unlimited). */
  readonly max: number | undefined
  /** Messages delivered so far (counts toward `max`). */
  received: number
  readonly sink: SubscriptionSink
}

export class SubscriptionTable {
  private sidNext = 1
  private readonly bySid = new Map<string, SubscriptionEntry>()
  /** SUBs written since the last PONG, oldest batch first; each batch ends at a PING. */
  private readonly unconfirmedBatches: SubscriptionEntry[][] = []
  private unconfirmedOpen: SubscriptionEntry[] = []

  get size(): number {
    return this.bySid.size
  }

  add(subject: string, queue: string | undefined, max: number | undefined, sink: SubscriptionSink): SubscriptionEntry {
    const sid = String(this.sidNext++)
    const entry: SubscriptionEntry = { sid, subject, queue, max, received: 0, sink }
    this.bySid.set(sid, entry)
    return entry
  }

  get(sid: string): SubscriptionEntry | undefined {
    return this.bySid.get(sid)
  }

  /** Removes the entry; returns whether it was still live (so the caller sends UNSUB once). */
  remove(entry: SubscriptionEntry): boolean {
    return this.bySid.delete(entry.sid)
  }

  entries(): SubscriptionEntry[] {
    return [...this.bySid.values()]
  }

  /** Messages still allowed under `max` (undefined: unlimited). */
  static remaining(entry: SubscriptionEntry): number | undefined {
    return entry.max === undefined ? undefined : Math.max(0, entry.max - entry.received)
  }

  /** Records a SUB just written; it stays unconfirmed until the PONG of the next PING. */
  markSent(entry: SubscriptionEntry): void {
    this.unconfirmedOpen.push(entry)
  }

  /** Whether SUBs were written since the last confirming PING was queued. */
  get hasUnsentConfirmation(): boolean {
    return this.unconfirmedOpen.length > 0
  }

  /** Closes the open batch at a PING; returns the callback to run on its PONG. */
  sealBatch(): () => void {
    const batch = this.unconfirmedOpen
    this.unconfirmedOpen = []
    this.unconfirmedBatches.push(batch)
    return () => {
      const index = this.unconfirmedBatches.indexOf(batch)
      if (index >= 0) this.unconfirmedBatches.splice(index, 1)
    }
  }

  /** Forgets confirmations (the connection that would answer them is gone). */
  resetConfirmations(): void {
    this.unconfirmedBatches.length = 0
    this.unconfirmedOpen = []
  }

  /**
   * The unconfirmed subscription a subject-less `-ERR` most likely refers to: the first in wire
   * order that `isSuspect` flags, else the oldest. With `subject`, the oldest live one on it.
   */
  blame(isSuspect: (entry: SubscriptionEntry) => boolean, subject?: string): SubscriptionEntry | undefined {
    const pending = [...this.unconfirmedBatches.flat(), ...this.unconfirmedOpen].filter((e) => this.bySid.has(e.sid))
    if (subject !== undefined) {
      return pending.find((e) => e.subject === subject) ?? this.entries().find((e) => e.subject === subject)
    }
    return pending.find(isSuspect) ?? pending[0]
  }
}

/** Where a server `-ERR` goes: one subscription's `error()`, or the connection. */
export type ServerErrorRoute =
  | { readonly to: 'subscription'; readonly entry: SubscriptionEntry; readonly error: Error }
  /** Non-fatal for the connection (a refused publish, say): report it. */
  | { readonly to: 'report'; readonly error: Error }
  /** The server closes the connection after it: it explains the coming loss. */
  | { readonly to: 'connection'; readonly error: Error }

export function routeServerError(text: string, table: SubscriptionTable): ServerErrorRoute {
  const error = errorFromServerText(text)
  if (error instanceof PermissionDeniedError && /subscription/i.test(text)) {
    const entry = table.blame(() => true, error.subject)
    if (entry !== undefined) return { to: 'subscription', entry, error }
  }
  if (error instanceof InvalidSubjectError) {
    const entry = table.blame((e) => !looksLikeValidSubscribeSubject(e.subject))
    if (entry !== undefined) return { to: 'subscription', entry, error: new InvalidSubjectError(entry.subject, `server: ${text}`) }
  }
  if (error instanceof PermissionDeniedError || error instanceof InvalidSubjectError) return { to: 'report', error }
  return { to: 'connection', error }
}
