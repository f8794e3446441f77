// Every named maximum and default of cross-region shipping on a node (TigerBeetle: put a limit
// on everything). The pure core's own limits are in data-plane/persistent/shipping/limits.ts.

/** The shipping driver's tick: receivers' publish timeouts, shippers' timeouts and windows. */
export const shipTickMsDefault = 50
/** A shipper holder sends its links' lag to every node this often. */
export const lagReportIntervalMsDefault = 1_000
/** A lag report older than this is shown as stale (its holder stopped reporting). */
export const lagReportStaleMs = 10_000
/** Lag reports kept per node (one per shipper designation; beyond it new links are not kept). */
export const lagReportsKeptMax = 4_096
/** Nodes a lag report is sent to at most (every active node of the cluster, up to this). */
export const lagReportPeersMax = 256
/** Bytes of one lag report frame at most (JSON); a larger one is dropped and counted. */
export const lagReportBytesMax = 4_096

/** Deliveries one step of the region tap reads at once (cache or store). */
export const tapReadEventsMax = 1_000

/**
 * Events a shipper's source window holds for one link at most: what is in flight plus what the
 * next `ready()` may send (the core's window × batch size is 4 × 512 by default).
 */
export const shipWindowEventsMax = 4_096
/** Bytes (payload + headers, estimated) of one link's source window (at least one event). */
export const shipWindowBytesMax = 16 * 1024 * 1024

/** Refused shipments are logged once per (peer, reason) per this interval. */
export const refusalLogIntervalMs = 60_000
/** (peer, reason) pairs remembered for that rate limit (oldest forgotten first). */
export const refusalLogKeysMax = 1_024
/** Shipper and receiver notices logged per link per this interval (partitions make many). */
export const noticeLogIntervalMs = 10_000
