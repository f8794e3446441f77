// Named limits and defaults of the CRDT KV bucket service (TigerBeetle: a limit on everything).
// The CRDT core's own limits (key, value, patch, keys per bucket, watchers per state) are in
// data-plane/kv-crdt/limits.ts; the wire's (list size, deliver subject, write timeout) in
// shared/api/kv-crdt-wire.ts.

/** Writes one bucket replica has made and not yet seen answered by its engine; beyond it writes are refused (RG_ERR_LIMIT_EXCEEDED) before any operation is made. */
export const writesInFlightMax = 10_000

/** Events read from the engine per fetch while rebuilding or following deliveries (the engine caps a fetch at 1,000). */
export const applyFetchEventsMax = 1_000

/** A replica publishes its stability report this often when something changed since its last one (garbage collection). */
export const reportIntervalMsDefault = 10_000

/** State rebuilds (after a write that was refused unwritten) one engine incarnation may make; beyond it the node forwards its writes until the engine reopens. */
export const rebuildsPerEngineIncarnationMax = 999

/** The CRDT writer incarnation is `engineIncarnation × this + rebuilds` (unique across restarts and rebuilds). */
export const writerIncarnationFactor = rebuildsPerEngineIncarnationMax + 1

/** Watches served by one node (over all buckets); the core bounds each state at 10,000 too. */
export const watchesPerNodeMax = 10_000

/** A watch whose deliver subject has had no subscriber anywhere for this long is stopped. */
export const watchInterestCheckMsDefault = 1_000

/**
 * A forwarded write waits this long beyond its `timeoutMs` for the replica's answer (which comes
 * by `timeoutMs` at the latest): less than the client's own grace (client/kv-crdt-transport.ts
 * `crdtKvAnswerGraceMs`, 2 s), so the client hears the server's answer first.
 */
export const forwardAnswerGraceMs = 1_000

/** A forwarded read or a refused forward moves on to the next replica; reads wait this long per attempt. */
export const forwardReadAttemptMs = 5_000

/** Forwarded requests one node waits on at once; beyond it requests are refused (RG_ERR_LIMIT_EXCEEDED). */
export const forwardsInFlightMax = 10_000

/** Requests one node's service works on at once (local and forwarded); beyond it refused (RG_ERR_LIMIT_EXCEEDED). */
export const requestsInFlightMax = 10_000

/** Buckets' default placement when ENSURE names none (capped by the region's active nodes). */
export const replicasPerRegionDefault = 3

/** Dedup window of a bucket's stream: a write retried with the same event id within it is one event. */
export const bucketDedupWindowMs = 120_000

/** Malformed events logged one by one per bucket; past this, one line per 1,000. */
export const malformedLoggedMax = 10
