// Every named maximum and default of the group controller core (house style: a limit on
// everything). The wire's own limits (FETCH size, nack delay, heartbeat range) live in
// shared/api/consumer-wire.ts; the progress CRDT's in ../limits.ts (outstandingIdsMax,
// progressWritersMax).

/** Members (push members joined with JOIN) of one group at once. */
export const membersPerGroupMax = 1_024
/** FETCH requests waiting in one group at once. */
export const fetchesPerGroupMax = 1_024
/** Messages (deliveries + statuses) one `ready()` hands out; the rest wait for the next call. */
export const sendsPerReadyMax = 4_096
/** Dead letters announced but not yet confirmed (the driver is publishing them). */
export const deadLettersInFlightMax = 1_024
/** A dead-letter publish that failed is announced again after this long. */
export const deadLetterRetryMsDefault = 1_000
/** Dots one outstanding index may carry in a decoded snapshot (concurrent writers of one index). */
export const dotsPerIndexMax = 4_096
