// The defaults the control API fills in before proposing a command (cluster commands hold every
// field explicitly, so a replayed log never changes meaning when a default changes here).

export const apiDefaults = {
  namespace: 'default',
  streamKind: 'persistent',
  /** Capped by the number of active nodes in the region (at least 1). */
  replicasPerRegion: 3,
  ackDefault: 'majority',
  /** 0 = unlimited. */
  retention: { maxAgeMs: 0, maxBytes: 0, maxEvents: 0 },
  dedupWindowMs: 120_000,
  /** 0 = off. */
  deadLetter: { maxDeliveries: 0, maxLag: 0 },
  groupMode: 'exclusive',
  maxInFlight: 1_000,
  ackWaitMs: 30_000,
  /** 0 = unlimited. */
  maxDeliveries: 0,
  groupStart: { from: 'beginning' },
  /** A bucket's largest value when not given (1 MiB is the cluster's ceiling). */
  bucketMaxValueBytes: 64 * 1024,
} as const

/** Limits of the API layer itself. */
export const apiLimits = {
  /** A request body over this is refused before parsing (the NATS max_payload bounds it too). */
  requestBytesMax: 4 * 1024 * 1024,
  /** Requests one node's API works on at once; beyond it a request is refused (RG_ERR_LIMIT_EXCEEDED). */
  inFlightRequestsMax: 4_096,
  /** Entries in one LIST answer. */
  listEntriesMax: 10_000,
} as const

/** How long the client and CLI wait for an API answer (a Raft proposal times out at 10 s). */
export const apiRequestTimeoutMsDefault = 15_000
