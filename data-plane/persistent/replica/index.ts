// Public entry of the stream replica: the I/O-free state machine of one persistent stream on
// one node of a region, its replication messages and their binary codec.
export { StreamReplica, parseOriginKey } from './stream-replica.js'
export { CeilingClock } from './clock-ceiling.js'
export { restoreFromHistory } from './restore.js'
export type { ReplicaHistory } from './restore.js'
export { HeldEvents } from './held-events.js'
export { AckTracker } from './ack-tracker.js'
export { decodeReplicaMessage, encodeReplicaMessage, replicaCodecVersion } from './codec.js'
export { replicaMessageKinds } from './messages.js'
export type {
  ClosesAppliedMessage,
  ClosesMessage,
  DigestMessage,
  DurableMessage,
  FenceMessage,
  FencedMessage,
  HeartbeatMessage,
  PushMessage,
  ReplicaMessage,
  ReplicaMessageKind,
  VectorEntry,
} from './messages.js'
export { ackLevels, replicaNoticeKinds } from './types.js'
export type {
  AckLevel,
  FenceRecord,
  OutgoingMessage,
  PersistBatch,
  PublishAck,
  PublishRequest,
  ReadRequest,
  ReplicaMemory,
  ReplicaNotice,
  ReplicaNoticeKind,
  ReplicaReady,
  RestoredReplicaState,
  RestoredResume,
  StreamReplicaOptions,
  StreamReplicaTiming,
} from './types.js'
export * as replicaLimits from './limits.js'
