// Every named maximum and default of the stream replica (data-plane/persistent/replica).
// Exceeding a maximum is a refusal or a typed error, never unbounded memory.

/** Events in one replication message (a push or an anti-entropy answer). */
export const messageEventsMax = 1024
/** Encoded bytes of one replication message (events included). */
export const messageBytesMax = 64 * 1024 * 1024
/** Entries in one version vector (one per origin incarnation: the orderer's bound). */
export const vectorEntriesMax = 1024
/** Heartbeats relayed in one anti-entropy message. */
export const relayedHeartbeatsMax = 1024
/** Close decisions in one message. */
export const decisionsMax = 1024
/** Publishes accepted but not yet acked (or failed) by this replica. */
export const pendingPublishesMax = 100_000
/** Events sent to one peer in answer to one anti-entropy message. */
export const antiEntropyEventsMax = 512
/** Requests (fence, closes) whose replies wait for the disk. */
export const deferredRepliesMax = 4096

/** Defaults of `StreamReplicaTiming` (milliseconds). */
export const heartbeatIntervalMsDefault = 50
export const antiEntropyIntervalMsDefault = 200
/**
 * The HLC ceiling runs this far ahead of the clock (one small record every lease/2); a restarted
 * node emits only above it, so it may wait up to this long after a crash before writing.
 */
export const clockCeilingLeaseMsDefault = 500
export const ackTimeoutMsDefault = 5000
/** Anti-entropy reads of older copies handed to the driver and not answered yet (one per peer at a time). */
export const readsInFlightMax = 64
/**
 * A read of a delivered survivor's id (the dedup window's fingerprint matched: delivery or a
 * publish waits for it) not answered after this long is asked again. At most one copy and one
 * publish wait at a time, so these reads are as few as the fingerprint's matches for them.
 */
export const idReadRetryMs = 2000
