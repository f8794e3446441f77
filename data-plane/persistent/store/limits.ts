// Every named maximum and default of the event store (TigerBeetle: put a limit on everything).
// Exceeding a maximum is a typed error, never unbounded memory.

/**
 * How long the first append into an idle queue waits for company before its batch is written.
 * 0 = until the end of the current event-loop turn (setImmediate). While a batch is being
 * written, new appends wait for it anyway: that wait is where most of the grouping comes from.
 */
export const lingerMsDefault = 0
/** A batch is written at once when its operations reach this many bytes (keys + values). */
export const batchBytesMaxDefault = 1024 * 1024
/** A batch never holds more than this many appends (each append is one caller's promise). */
export const batchAppendsMaxDefault = 4096
/**
 * Bytes waiting in the queue (not yet handed to the storage): past it `append` rejects with
 * `RG_ERR_LIMIT_EXCEEDED` (`details.limit = 'queueBytesMax'`); `whenWritable()` waits for room.
 */
export const queueBytesMaxDefault = 64 * 1024 * 1024
/** Appends waiting in the queue, at most (same error, `details.limit = 'queueAppendsMax'`). */
export const queueAppendsMaxDefault = 100_000
/** Events in one `append` call. */
export const appendEventsMax = 100_000

/** Streams one store holds (stream numbers are u32; this bounds the in-memory table). */
export const streamsMax = 100_000
/** Out-of-order sequences per origin incarnation the store tracks above its contiguous prefix. */
export const storeGapSeqsPerOriginMax = 65_536
/** Origin incarnations per stream (each has a version-vector entry in the stream's metadata). */
export const originIncarnationsPerStreamMax = 1024

/** Events examined per retention or id-expiry step (one bounded synced batch each). */
export const maintenanceStepEventsMax = 4096
/** Steps one `maintain` call runs per stream before yielding (the driver calls it again). */
export const maintenanceStepsPerCallMax = 64

/** Entries one read returns at most (by index, by origin range, copies of an id). */
export const readEntriesMax = 10_000
/** The id index keeps copies for this many dedup windows of log time (see README). */
export const idIndexWindowsDefault = 2

/** Consumer-group names and progress records. */
export const groupNameBytesMax = 256
export const groupRecordBytesMax = 16 * 1024 * 1024

/** Decision records (fences, closes) in one append, and bytes per record. */
export const recordsPerAppendMax = 1024
export const recordBytesMax = 1024 * 1024
