// The Raft core's public entry. Drivers (the real node, the simulator) import from here only.
export * from './types.js'
export { RawNode } from './raw-node.js'
export type { RaftStatus, ProgressStatus } from './raw-node.js'
export { MemoryStorage, storageOperations } from './memory-storage.js'
export type { StorageOperation } from './memory-storage.js'
export { validateConfig, RaftConfigError } from './config.js'
export type { ResolvedRaftConfig } from './config.js'
export {
  ProposalDropped,
  proposalDropReasons,
  RaftAssertionError,
  RaftFatalError,
  RaftUsageError,
} from './errors.js'
export type { ProposalDropReason } from './errors.js'
export { encodeConfChange, decodeConfChange, nextConfState } from './conf-change.js'
export { makeMessage, isLocalMessage, isResponseMessage, limitSize } from './messages.js'
export type { ProgressState } from './progress.js'
