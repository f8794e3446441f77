// Public entry of server/streams: persistent streams on this node (engines, the publish wire,
// forwarding, the stream controllers).
export { attachPersistentStreams, claimResendMsDefault, peerHeardWindowMsDefault, persistentStreamsPerNodeMax, reconcileIntervalMsDefault } from './persistent-streams.js'
export type { PersistentStreamCounters, PersistentStreams, PersistentStreamsOptions, StreamCounters, StreamPublish } from './persistent-streams.js'
export { ackHeader, ackJson, msgIdHeader, parsePublish } from './publish-wire.js'
export type { ParsedPublish } from './publish-wire.js'
export { StreamControllerCore, slotsAfter, streamControllerDefaults } from './stream-controller.js'
export type { ControllerOutput, ReplicaView, Slot, SlotClaim, StreamControllerConfig } from './stream-controller.js'
export { closeLedgerBucket, commitClose, ledgerKey, loadCloses } from './close-ledger.js'
export type { ClosePort, CommitOutcome, LedgerScope } from './close-ledger.js'
