// What travels on the region simulation's network. Replica traffic is real bytes (the replica
// codec, as on the peer transport's `data` channel); clients, consumers and the SCC's progress
// replication travel as objects (their codecs are not built yet).
import type { AckLevel, GroupProgress } from '../../../data-plane/persistent/index.js'
import { replicaMessageKinds } from '../../../data-plane/persistent/index.js'

export type RegionWire =
  | { readonly kind: 'replica'; readonly bytes: Uint8Array }
  | { readonly kind: 'publish'; readonly publishId: string; readonly id: string; readonly level: AckLevel; readonly payload: Uint8Array }
  | { readonly kind: 'publish-ack'; readonly publishId: string; readonly ok: boolean; readonly code: string }
  | { readonly kind: 'dispatch'; readonly group: string; readonly term: number; readonly position: number; readonly copyKey: string }
  | { readonly kind: 'consumer-ack'; readonly group: string; readonly term: number; readonly position: number; readonly copyKey: string }
  | { readonly kind: 'progress'; readonly group: string; readonly state: GroupProgress }
  | { readonly kind: 'progress-gather'; readonly group: string; readonly term: number; readonly requestId: number }
  | { readonly kind: 'progress-state'; readonly group: string; readonly requestId: number; readonly state: GroupProgress }

export function describeRegionWire(m: RegionWire): string {
  switch (m.kind) {
    case 'replica':
      return `rep:${replicaMessageKinds[m.bytes[1] ?? 255] ?? '?'} ${m.bytes.length}B`
    case 'publish':
      return `pub ${m.publishId} ${m.id} ${m.level}`
    case 'publish-ack':
      return `puback ${m.publishId} ${m.ok ? 'ok' : m.code}`
    case 'dispatch':
    case 'consumer-ack':
      return `${m.kind} ${m.group}@${m.term} ${m.position} ${m.copyKey}`
    case 'progress':
      return `progress ${m.group}@${m.state.term} head=${m.state.head()} out=${m.state.outstandingCount}`
    case 'progress-gather':
      return `gather ${m.group}@${m.term} #${m.requestId}`
    case 'progress-state':
      return `progress-state ${m.group} #${m.requestId} term=${m.state.term}`
  }
}
