// Public entry of the durable event store (the RocksDB driver of persistent streams' events).
export { EventStore } from './event-store.js'
export type { AppendOptions, AppendResult, EnsureStreamOptions, EventStoreOptions, RecordedDelivery, StreamInfo } from './event-store.js'
export { GroupCommitter } from './group-commit.js'
export type { CommitHooks, CommitItem, GroupCommitOptions, GroupCommitStats } from './group-commit.js'
export type { MaintenanceResult } from './maintenance.js'
export type { RetentionPolicy, StreamConfig } from './stream-meta.js'
export { eventStoreKeySpaces } from './keys.js'
export * as eventStoreLimits from './limits.js'
