// Who may ship what to this node (issue #7 "enforced … on cross-region shipping"). Pure: judged
// on the cluster state as applied here and the peer's node id, which the peer transport
// authenticated in its handshake (cluster name, credentials; mutual TLS when configured).
//
// A receiver takes a shipment (`resolve`, `batch`) only when:
//   - the sender is a node of the cluster (not removed) whose region is the shipment's source
//     region: a node of region C cannot write "events from A" into B;
//   - the source region is not this node's own (a region never ships to itself);
//   - the stream is a persistent stream placed in both the source region and this region.
// A shipper takes replies (`resolved`, `batch-ack`, `refused`) only from a node of the
// destination region it ships to: the driver looks the shipper up by the sender's region in the
// applied state (region-shipping.ts), so a reply from elsewhere finds none.
// Anything else is refused: not answered, counted by reason, and logged once per (peer, reason)
// per `refusalLogIntervalMs` (a misconfigured or hostile peer must not flood the log).
import type { ClusterState } from '../../control-plane/cluster/index.js'

export const shipmentRefusals = ['unknown-peer', 'wrong-region', 'own-region', 'not-placed'] as const
export type ShipmentRefusal = (typeof shipmentRefusals)[number]

export interface ShipmentVerdict {
  readonly ok: boolean
  readonly reason?: ShipmentRefusal
  readonly detail?: string
}

const accepted: ShipmentVerdict = { ok: true }

/** Whether `from` may ship `stream` from `sourceRegion` to this node (in `localRegion`). */
export function judgeShipment(state: ClusterState, localRegion: string, from: string, stream: string, sourceRegion: string): ShipmentVerdict {
  const sender = state.nodes.get(from)
  if (sender === undefined || sender.state === 'removed') return { ok: false, reason: 'unknown-peer', detail: `${from} is not a node of the cluster` }
  if (sender.region !== sourceRegion) return { ok: false, reason: 'wrong-region', detail: `${from} is in region ${sender.region}, the shipment claims source region ${sourceRegion}` }
  if (sourceRegion === localRegion) return { ok: false, reason: 'own-region', detail: `a shipment from ${from} of this node's own region ${localRegion}` }
  const record = state.streams.get(stream)
  const placement = state.placements.get(stream)
  if (record === undefined || record.spec.kind !== 'persistent' || placement === undefined) return { ok: false, reason: 'not-placed', detail: `no persistent stream ${stream}` }
  if (!placement.has(sourceRegion) || !placement.has(localRegion)) return { ok: false, reason: 'not-placed', detail: `stream ${stream} is not placed in both ${sourceRegion} and ${localRegion}` }
  return accepted
}

/** Rate limit of refusal log lines: once per key per interval, at most `keysMax` keys remembered. */
export class OncePer {
  readonly #last = new Map<string, number>()

  constructor(
    readonly intervalMs: number,
    readonly keysMax: number,
  ) {}

  /** True when `key` was not let through within the interval (and records it now). */
  take(key: string, nowMs: number): boolean {
    const last = this.#last.get(key)
    if (last !== undefined && nowMs - last < this.intervalMs) return false
    this.#last.delete(key)
    if (this.#last.size >= this.keysMax) {
      const oldest = this.#last.keys().next().value
      if (oldest !== undefined) this.#last.delete(oldest)
    }
    this.#last.set(key, nowMs)
    return true
  }
}
