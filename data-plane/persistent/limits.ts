// Every named maximum of the persistent-stream core (TigerBeetle: put a limit on everything).
// Exceeding one is a typed error or a refusal, never unbounded memory.

/** Default bound on how far a peer's HLC may run ahead of the local physical clock. */
export const hlcMaxSkewMsDefault = 500
/** wallMs is encoded in 48 bits (until the year 10889). */
export const hlcWallMsMax = 2 ** 48 - 1
/** logical is encoded in 16 bits; past it the clock moves wallMs forward by 1 ms. */
export const hlcLogicalMax = 2 ** 16 - 1

/** Names that appear in events and keys (stream, origin): node-id charset, so bytes sort like strings. */
export const originBytesMax = 64
export const streamBytesMax = 256
export const eventIdBytesMax = 256
export const eventHeadersMax = 64
export const headerKeyBytesMax = 256
export const headerValueBytesMax = 4096
export const eventPayloadBytesMax = 8 * 1024 * 1024
/** Incarnations and sequences: unsigned 32-bit and safe integers respectively. */
export const incarnationMax = 2 ** 32 - 1
export const originSeqMax = Number.MAX_SAFE_INTEGER

/** One `EventSet.insert` batch. */
export const insertBatchEventsMax = 100_000
/** Out-of-order sequences held per origin above its contiguous prefix (the gap buffer). */
export const gapSeqsPerOriginMax = 65_536
/** Heartbeats waiting per origin for the events they vouch for. */
export const pendingHeartbeatsPerOriginMax = 64
/** Origin incarnations an orderer tracks (live and closed). */
export const orderIncarnationsMax = 1024

/** Consumer-group progress: outstanding ids and writer identities (node@term) per group. */
export const outstandingIdsMax = 1_000_000
export const progressWritersMax = 4096
