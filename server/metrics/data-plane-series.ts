// Sets the persistent-stream, consumer-group, cross-region-lag and routing series from one read of
// the data plane (data-plane.ts). Counters are mirrored from the owners' monotonic values
// (CounterMirror); gauges are rebuilt at every scrape, so a group whose controller moved away or a
// link no longer shipped from here leaves the exposition. Label sets are bounded by their sources:
// streams with a role here (`persistentStreamsPerNodeMax`), groups controlled here and those
// tracked for their totals (`groupTotalsMax`), links shipped from here (`replicationLinksMax`;
// every node knows every link's lag, but only its holder exports it, so sums do not double),
// peers (`countedPeersMax`).
import type { CounterMirror } from './counter-mirror.js'
import { splitGroupKey } from './data-plane.js'
import type { DataPlaneFigures } from './data-plane.js'
import { ackLevelLabels } from './definitions.js'
import type { MetricSet } from './definitions.js'
import type { EvictedGroup } from './group-totals.js'

/** `selfId`: this node's id; lag series are exported only for the links it measures (no duplicates across nodes). */
export function applyDataPlaneSeries(metrics: MetricSet, mirror: CounterMirror, figures: DataPlaneFigures, evicted: readonly EvictedGroup[], selfId: string): void {
  for (const stream of figures.streams ?? []) {
    const labels = { stream: stream.stream }
    mirror.mirror(metrics.streamWritten, labels, stream.published)
    for (const level of ackLevelLabels) mirror.mirror(metrics.streamAcked, { stream: stream.stream, level }, stream.acked[level])
    mirror.mirror(metrics.streamPublishFailed, labels, stream.failed)
    mirror.mirror(metrics.streamForwarded, labels, stream.forwarded)
    mirror.mirror(metrics.streamDedupHits, labels, stream.duplicates)
    mirror.mirror(metrics.streamGroupDelivered, labels, stream.delivered)
    mirror.mirror(metrics.streamRedelivered, labels, stream.redelivered)
    mirror.mirror(metrics.streamDeadLettered, labels, stream.deadLettered)
  }

  for (const gauge of [metrics.groupTerm, metrics.groupHead, metrics.groupOutstanding, metrics.groupLag, metrics.groupMembers]) gauge.reset()
  for (const group of evicted) {
    const labels = { stream: group.stream, group: splitGroupKey(group.group).group }
    for (const counter of [metrics.groupDelivered, metrics.groupAcked, metrics.groupRedelivered, metrics.groupDeadLettered]) mirror.forget(counter, labels)
  }
  for (const group of figures.groups ?? []) {
    const labels = { stream: group.stream, group: group.group }
    metrics.groupTerm.set(labels, group.term)
    metrics.groupHead.set(labels, group.head)
    metrics.groupOutstanding.set(labels, group.outstanding)
    metrics.groupLag.set(labels, group.lag)
    metrics.groupMembers.set(labels, group.members)
  }
  // Totals of every group counted here, also after its controller moved away (nothing is lost
  // between the last scrape and the move).
  for (const group of figures.groupTotals ?? []) {
    const labels = { stream: group.stream, group: group.group }
    mirror.mirror(metrics.groupDelivered, labels, group.delivered)
    mirror.mirror(metrics.groupAcked, labels, group.acked)
    mirror.mirror(metrics.groupRedelivered, labels, group.redelivered)
    mirror.mirror(metrics.groupDeadLettered, labels, group.deadLettered)
  }

  metrics.streamReplicationLagEvents.reset()
  metrics.streamReplicationLag.reset()
  for (const link of figures.replicationLag ?? []) {
    if (link.holder !== selfId) continue
    const labels = { stream: link.stream, source: link.source, destination: link.destination }
    metrics.streamReplicationLagEvents.set(labels, link.events)
    metrics.streamReplicationLag.set(labels, link.ms / 1000)
  }

  metrics.routePeers.reset()
  metrics.routeInterest.reset()
  const routing = figures.routing
  if (routing === null) return
  metrics.routePeers.set({ state: 'known' }, routing.peers)
  metrics.routePeers.set({ state: 'up' }, routing.peersUp)
  metrics.routePeers.set({ state: 'synced' }, routing.peersSynced)
  metrics.routeInterest.set({ side: 'local' }, routing.localInterest)
  metrics.routeInterest.set({ side: 'remote' }, routing.remoteInterest)
  for (const peer of routing.perPeer) {
    mirror.mirror(metrics.routeMessages, { peer: peer.peer, direction: 'out' }, peer.msgsOut)
    mirror.mirror(metrics.routeMessages, { peer: peer.peer, direction: 'in' }, peer.msgsIn)
    mirror.mirror(metrics.routeBytes, { peer: peer.peer, direction: 'out' }, peer.bytesOut)
    mirror.mirror(metrics.routeBytes, { peer: peer.peer, direction: 'in' }, peer.bytesIn)
    mirror.mirror(metrics.routeDropped, { peer: peer.peer, reason: 'refused' }, peer.dropsRefused)
    mirror.mirror(metrics.routeDropped, { peer: peer.peer, reason: 'oversize' }, peer.dropsOversize)
  }
}

