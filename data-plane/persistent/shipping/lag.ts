// Replication lag of one (stream, source region → destination region) link, as `stream info`
// and the admin API show it: events = A-originated events delivered in A that B has not
// acknowledged; ms = how long the oldest of them has been waiting (the shipper node's clock minus
// its source HLC time). Pure.

export interface ReplicationLag {
  readonly events: number
  readonly ms: number
}

export const noLag: ReplicationLag = Object.freeze({ events: 0, ms: 0 })

/**
 * `head`: highest shipSeq delivered at the source; `cursor`: highest shipSeq the destination
 * acknowledged; `oldestWaitingWallMs`: source HLC wallMs of event `cursor + 1` (ignored when
 * nothing waits); `nowMs`: the shipper node's physical clock.
 */
export function replicationLag(head: number, cursor: number, oldestWaitingWallMs: number, nowMs: number): ReplicationLag {
  const events = Math.max(0, head - cursor)
  if (events === 0) return noLag
  return { events, ms: Math.max(0, nowMs - oldestWaitingWallMs) }
}
