// Every named maximum and default of cross-region shipping (TigerBeetle: put a limit on
// everything). Exceeding a maximum is a refusal or a typed error, never unbounded memory.

/** Region names: the node-id charset (they travel in headers and sort like strings). */
export const regionNameBytesMax = 64
/** Regions a stream may be placed in. */
export const streamRegionsMax = 16

/** Events in one shipped batch (the decoder refuses more before allocating). */
export const shipBatchEventsMax = 1024
/** Default: events the shipper puts in one batch. */
export const shipBatchEventsDefault = 512
/**
 * Default soft budget of a batch's encoded events, before compression. A batch always holds at
 * least one event, so a single event up to the event payload limit (8 MiB) still ships.
 */
export const shipBatchBytesDefault = 256 * 1024
/** One frame, decoded or compressed (covers one maximal event plus framing). */
export const shipFrameBytesMax = 64 * 1024 * 1024

/** Default: batches a shipper keeps in flight (sent, not acknowledged). */
export const shipWindowBatchesDefault = 4
/** Upper bound a configuration may ask for. */
export const shipWindowBatchesMax = 64
/** Default: a batch not acknowledged within this is given up, and the shipper asks again where the receiver stands. */
export const shipAckTimeoutMsDefault = 2_000
/** Default: a `resolve` not answered within this is sent to the next receiver candidate. */
export const shipResolveTimeoutMsDefault = 1_000
/** Default backoff after a failure: doubles from min up to max. */
export const shipBackoffMsMinDefault = 50
export const shipBackoffMsMaxDefault = 5_000

/** Receiver: publishes into its region not yet acknowledged. */
export const receiverPendingPublishesMax = 8 * 1024
/** Receiver: batches waiting for their events to be acknowledged in the region. */
export const receiverWaitingBatchesMax = 64
/** Default: a publish of a shipped event not acknowledged within this fails the receiver's run. */
export const receiverPublishTimeoutMsDefault = 3_000

/** Region dedup: ids tracked inside the window (beyond it the oldest are evicted and counted). */
export const dedupIdsMaxDefault = 1_000_000
/** Region dedup: shipped positions delivered above a source's contiguous prefix. */
export const dedupGapPositionsMax = 65_536
/**
 * Region dedup: a region that has been silent (or cut off) for longer than this no longer holds
 * the dedup state back; a copy of an id arriving from it later than this is judged against what
 * is left (best effort). Exact below it.
 */
export const dedupHorizonMsDefault = 10 * 60 * 1_000
