// Every named maximum and default of the consumer-group driver (server/consumers). The core's
// own limits are in data-plane/persistent/consumer/limits.ts; the wire's in
// shared/api/consumer-wire.ts.

/**
 * Groups this node controls at once. Each takes one of the router's in-process subscribers
 * (`localSubscribersMax` 64, shared with persistent streams and the API); a group beyond it is
 * not started here (logged) until another stops.
 */
export const controlledGroupsPerNodeMax = 16
/** How long a new controller waits for the replicas' copies before it restores from what it has. */
export const gatherTimeoutMsDefault = 500
/** Housekeeping period: interest checks (gone members), the stream's delivered count, replication. */
export const housekeepingMsDefault = 50
/** The controller sends its progress to the other replicas at most this often (when it changed). */
export const replicateIntervalMsDefault = 100
/** A member's deliver subject is not checked for interest until this long after its JOIN (interest propagates between nodes). */
export const interestGraceMsDefault = 1_000
/** How often the designations are checked besides on every cluster event. */
export const reconcileIntervalMsDefault = 1_000
/** Replica copies of other controllers' progress kept in memory (more are read from the store each time). */
export const replicaCopiesCachedMax = 4_096
/** Events read in one call when publishing deliveries (the engine's own cap is 1,000). */
export const eventReadBatchMax = 1_000
/** Largest peer frame this driver builds (a progress snapshot over it is not replicated; logged). */
export const consumerFrameBytesMax = 4 * 1024 * 1024
