// Every Prometheus metric a node exports, declared on the node's own registry (several nodes run
// in one process in tests, so nothing goes to prom-client's global registry). Names follow the
// Prometheus conventions: `railgun_` prefix, base units (seconds, bytes), `_total` for counters.
// The meanings are listed in server/README.md ("Metrics").
import { Counter, Gauge, Histogram } from 'prom-client'
import type { Registry } from 'prom-client'

/** Ack levels of persistent streams (control-plane/cluster `ackLevels`), a label of `railgun_stream_acked_total`. */
export const ackLevelLabels = ['write', 'majority', 'all'] as const

/** Operations per written batch: 1 … 4096. */
const batchOperationBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
/** Bytes per written batch: 64 B … 16 MiB. */
const batchByteBuckets = [64, 256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216]
/** Events per group-commit batch: 1 … 65,536. */
const batchEventBuckets = [1, 4, 16, 64, 256, 1024, 4096, 16_384, 65_536]
/** One maintenance step (≤ 4,096 events: read, synced batch, range deletes): 1 ms … 10 s. */
const maintenanceStepSecondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10]
/** fsync'd batch latency: 50 µs … 2.5 s. */
const syncSecondsBuckets = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

export function defineMetrics(registry: Registry) {
  const registers = [registry]
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) => new Gauge<L>({ name, help, labelNames, registers })
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) => new Counter<L>({ name, help, labelNames, registers })
  return {
    info: gauge('railgun_node_info', 'Always 1; labels identify the node', ['node_id', 'name', 'region', 'version']),
    ready: gauge('railgun_node_ready', '1 when the node serves clients (storage open, control plane open), else 0'),
    uptime: gauge('railgun_uptime_seconds', 'Seconds since the node started'),

    raftTerm: gauge('railgun_raft_term', 'Current Raft term as this node knows it'),
    raftCommit: gauge('railgun_raft_commit_index', 'Highest Raft log index known committed'),
    raftApplied: gauge('railgun_raft_applied_index', 'Highest Raft log index applied to the cluster state on this node'),
    raftLastIndex: gauge('railgun_raft_last_index', 'Last index in this node\'s Raft log'),
    raftIsLeader: gauge('railgun_raft_is_leader', '1 when this node is the Raft leader'),
    raftLeaderKnown: gauge('railgun_raft_leader_known', '1 when this node knows a leader (0 = election under way or quorum lost)'),
    raftVoters: gauge('railgun_raft_voters', 'Voters in the Raft configuration'),
    raftLearners: gauge('railgun_raft_learners', 'Learners in the Raft configuration'),
    raftElections: counter('railgun_raft_elections_started_total', 'Elections this node started (campaigns), sampled from its Raft status'),
    raftLeaderChanges: counter('railgun_raft_leader_changes_total', 'Leader changes seen by this node (a new leader, or the same one at a new term)'),
    raftPersistedBatches: counter('railgun_raft_persisted_batches_total', 'Raft Ready batches persisted (synced) by the driver'),
    raftMessagesSent: counter('railgun_raft_messages_sent_total', 'Raft messages handed to the peer transport'),
    raftSendsRefused: counter('railgun_raft_sends_refused_total', 'Raft messages the transport refused (peer unreachable)'),
    raftFramesDropped: counter('railgun_raft_frames_dropped_total', 'Raft frames received and dropped (undecodable or unexpected)'),
    raftSnapshotsTaken: counter('railgun_raft_snapshots_taken_total', 'Cluster-state snapshots taken (log compacted)'),
    raftSnapshotsRestored: counter('railgun_raft_snapshots_restored_total', 'Snapshots restored from the leader'),

    clientConnections: gauge('railgun_client_connections', 'Open client connections'),
    subscriptions: gauge('railgun_subscriptions', 'Client subscriptions'),
    openResponseStreams: gauge('railgun_response_streams_open', 'Open response streams (requests awaiting a reply)'),
    messagesIn: counter('railgun_client_messages_in_total', 'Messages published to this node (clients and node services)'),
    messagesOut: counter('railgun_client_messages_out_total', 'Messages delivered to client connections'),
    bytesIn: counter('railgun_client_bytes_in_total', 'Payload and header bytes published to this node'),
    bytesOut: counter('railgun_client_bytes_out_total', 'Payload and header bytes delivered to client connections'),
    slowConsumers: counter('railgun_slow_consumers_total', 'Client connections closed as slow consumers'),
    peerLinks: gauge('railgun_peer_links', 'Peer links by state', ['state']),
    peerLinkUp: gauge('railgun_peer_link_up', '1 when the link to this peer is up, else 0', ['peer']),

    streamPublished: counter('railgun_stream_published_total', 'Messages published to the stream on this node', ['stream']),
    streamPublishedBytes: counter('railgun_stream_published_bytes_total', 'Payload and header bytes published to the stream on this node', ['stream']),
    streamDelivered: counter('railgun_stream_delivered_total', 'Deliveries of the stream\'s messages made by this node (one per receiving subscription or group)', ['stream']),
    // Persistent streams and consumer groups (server/streams, server/consumers), read at scrape time.
    // Publishes are counted on the node they entered (its clients, in-process callers); `written` on
    // the node whose engine wrote them; group figures on the node running the group's controller.
    streamWritten: counter('railgun_stream_written_total', 'Persistent-stream publishes taken by this node\'s engine as their origin (entered here or forwarded to it; a duplicate id is taken and acked, not stored again)', ['stream']),
    streamAcked: counter('railgun_stream_acked_total', 'Persistent-stream publishes that entered this node and were acknowledged, by ack level (duplicates included)', ['stream', 'level']),
    streamPublishFailed: counter('railgun_stream_publish_failed_total', 'Persistent-stream publishes that entered this node and were refused or failed (error answer)', ['stream']),
    streamForwarded: counter('railgun_stream_forwarded_total', 'Persistent-stream publishes that entered this node and were forwarded to a replica', ['stream']),
    streamDedupHits: counter('railgun_stream_dedup_hits_total', 'Persistent-stream publishes acknowledged as duplicates of an id inside the dedup window (not stored again)', ['stream']),
    streamGroupDelivered: counter('railgun_stream_group_delivered_total', 'First deliveries of the stream\'s events to consumer groups, by the controllers on this node', ['stream']),
    streamRedelivered: counter('railgun_stream_redelivered_total', 'Redeliveries to consumer groups (nack, ack wait, member gone, failover), by the controllers on this node', ['stream']),
    streamDeadLettered: counter('railgun_stream_dead_lettered_total', 'Messages moved to the stream\'s dead-letter stream by the controllers on this node', ['stream']),
    streamReplicationLagEvents: gauge('railgun_stream_replication_lag_events', 'Cross-region shipping: events of the source region the destination region has not acknowledged (on the node shipping the link)', ['stream', 'source', 'destination']),
    streamReplicationLag: gauge('railgun_stream_replication_lag_seconds', 'Cross-region shipping: how long the oldest unacknowledged event of the link has waited (on the node shipping the link)', ['stream', 'source', 'destination']),

    groupTerm: gauge('railgun_group_term', 'Controller term of the consumer group controlled on this node', ['stream', 'group']),
    groupHead: gauge('railgun_group_head', 'The next delivery index the group dispatches for the first time', ['stream', 'group']),
    groupOutstanding: gauge('railgun_group_outstanding', 'Messages dispatched to the group and not acknowledged yet (in flight, waiting for redelivery, delayed)', ['stream', 'group']),
    groupLag: gauge('railgun_group_lag_events', 'Events delivered in the stream and not yet dispatched to the group (stream delivered count − head)', ['stream', 'group']),
    groupMembers: gauge('railgun_group_members', 'Members joined to the group', ['stream', 'group']),
    groupDelivered: counter('railgun_group_delivered_total', 'First deliveries to the group by controllers on this node', ['stream', 'group']),
    groupAcked: counter('railgun_group_acked_total', 'Acks applied by the group\'s controllers on this node', ['stream', 'group']),
    groupRedelivered: counter('railgun_group_redelivered_total', 'Redeliveries to the group by controllers on this node', ['stream', 'group']),
    groupDeadLettered: counter('railgun_group_dead_lettered_total', 'Messages of the group moved to the dead-letter stream by controllers on this node', ['stream', 'group']),

    // Cluster routing of pub/sub between nodes (server/routes stats()).
    routePeers: gauge('railgun_route_peers', 'Peers known to cluster routing, by state (known, up, synced = their whole interest held)', ['state']),
    routeInterest: gauge('railgun_route_interest_entries', 'Interest entries: this node\'s (pattern, queue) pairs (local) and the peers\' held here (remote)', ['side']),
    routeMessages: counter('railgun_route_messages_total', 'Messages forwarded to (out) or received from (in) the peer over cluster routes', ['peer', 'direction']),
    routeBytes: counter('railgun_route_bytes_total', 'Frame bytes of the messages forwarded to (out) or received from (in) the peer', ['peer', 'direction']),
    routeDropped: counter('railgun_route_dropped_total', 'Forwarded messages dropped: the send was refused (peer down, queue full) or the frame too large', ['peer', 'reason']),

    // The event store of persistent streams (data-plane/persistent/store), through its observer.
    streamAppendedEvents: counter('railgun_stream_appended_events_total', 'Events the event store appended to the stream on this node (synced; copies already held are not counted)', ['stream']),
    streamAppendedBytes: counter('railgun_stream_appended_bytes_total', 'Key and value bytes of the events appended to the stream on this node', ['stream']),
    streamStoredEvents: gauge('railgun_stream_stored_events', 'Events of the stream stored on this node (after retention)', ['stream']),
    streamStoredBytes: gauge('railgun_stream_stored_bytes', 'Key and value bytes of the stream\'s stored events on this node', ['stream']),
    streamDeliveredEvents: gauge('railgun_stream_delivered_events', 'Events placed in the stream\'s delivery order on this node (its next delivery index; survives restarts)', ['stream']),
    streamRetentionDeletedEvents: counter('railgun_stream_retention_deleted_events_total', 'Events deleted from the stream by retention on this node', ['stream']),
    streamRetentionDeletedBytes: counter('railgun_stream_retention_deleted_bytes_total', 'Key and value bytes deleted from the stream by retention on this node', ['stream']),
    streamExpiredIds: counter('railgun_stream_expired_ids_total', 'Id-index entries of the stream expired by log time (dedup window × windows kept)', ['stream']),
    streamMaintenanceRuns: counter('railgun_stream_maintenance_runs_total', 'Maintenance calls (retention and id expiry, at most 64 bounded steps each) made for the stream', ['stream']),
    eventStoreBatchItems: new Histogram({ name: 'railgun_event_store_batch_items', help: 'Callers\' writes (appends, deliveries, progress) acknowledged per synced group-commit batch', buckets: batchOperationBuckets, registers }),
    eventStoreBatchEvents: new Histogram({ name: 'railgun_event_store_batch_events', help: 'Events appended per synced group-commit batch', buckets: batchEventBuckets, registers }),
    eventStoreBatchBytes: new Histogram({ name: 'railgun_event_store_batch_bytes', help: 'Key and value bytes per synced group-commit batch', buckets: batchByteBuckets, registers }),
    eventStoreSyncSeconds: new Histogram({ name: 'railgun_event_store_sync_seconds', help: 'Duration of the event store\'s synced batch writes (DB::Write + fsync, on the event-loop thread)', buckets: syncSecondsBuckets, registers }),
    eventStoreMaintenanceStepSeconds: new Histogram({ name: 'railgun_event_store_maintenance_step_seconds', help: 'Duration of one maintenance step (≤ 4,096 events: read, synced batch, range deletes)', buckets: maintenanceStepSecondsBuckets, registers }),

    storageBatchOperations: new Histogram({ name: 'railgun_storage_write_batch_operations', help: 'Operations per storage write batch', buckets: batchOperationBuckets, registers }),
    storageBatchBytes: new Histogram({ name: 'railgun_storage_write_batch_bytes', help: 'Key and value bytes per storage write batch', buckets: batchByteBuckets, registers }),
    storageSyncSeconds: new Histogram({ name: 'railgun_storage_sync_seconds', help: 'Latency of synced (fsync\'d) storage write batches', buckets: syncSecondsBuckets, registers }),

    residentMemory: gauge('railgun_process_resident_memory_bytes', 'Resident set size of the process (shared by nodes in one process)'),
    heapUsed: gauge('railgun_process_heap_used_bytes', 'V8 heap in use (shared by nodes in one process)'),
    eventLoopLagMean: gauge('railgun_event_loop_lag_mean_seconds', 'Mean event-loop delay over the last window (perf_hooks.monitorEventLoopDelay)'),
    eventLoopLagP99: gauge('railgun_event_loop_lag_p99_seconds', '99th percentile event-loop delay over the last window'),
    eventLoopLagMax: gauge('railgun_event_loop_lag_max_seconds', 'Largest event-loop delay over the last window'),
  }
}

export type MetricSet = ReturnType<typeof defineMetrics>
