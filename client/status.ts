// Connection status as tagged values (`status$`). The connection-state tags replay the latest
// one to late subscribers; `error` tags are events (not replayed).

export type Status =
  | { readonly type: 'connected'; readonly server: string }
  | { readonly type: 'disconnected'; readonly error?: Error }
  | { readonly type: 'reconnecting'; readonly attempt: number; readonly delayMs: number }
  | { readonly type: 'reconnected'; readonly server: string }
  | { readonly type: 'closed'; readonly error?: Error }
  /** A server `-ERR` that belongs to no subscription or request (e.g. a publish permission). */
  | { readonly type: 'error'; readonly error: Error }

export type StatusType = Status['type']
