// Named limits and defaults of the persistent stream engine (the StreamReplica driver).

/** How often each engine ticks its replica (heartbeats, ack timeouts, clock ceiling). */
export const engineTickMsDefault = 10

/** Persisted engine records (incarnation + close decisions) larger than this are refused. */
export const engineRecordBytesMax = 1024 * 1024

/** Events read back per batch when a stream is restored after a restart. */
export const restoreBatchEventsMax = 10_000

/** Events one FETCH may return. */
export const fetchEventsMax = 1_000

/** Listeners of `onDelivered` on one engine (consumer groups of the stream on this node). */
export const deliveredListenersMax = 1_024
