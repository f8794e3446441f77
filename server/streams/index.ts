// Public entry of server/streams: persistent streams on this node (engines + the publish wire).
export { attachPersistentStreams, persistentStreamsPerNodeMax, reconcileIntervalMsDefault } from './persistent-streams.js'
export type { PersistentStreamCounters, PersistentStreams, PersistentStreamsOptions } from './persistent-streams.js'
export { ackHeader, ackJson, msgIdHeader, parsePublish } from './publish-wire.js'
export type { ParsedPublish } from './publish-wire.js'
