// Every collection in the cluster state has a named maximum (house style: put a limit on
// everything). Exceeding one is an `RG_ERR_LIMIT_EXCEEDED` result (or `RG_ERR_VALUE_TOO_LARGE`
// for KV values), never unbounded memory in every replica.

export const clusterLimits = {
  /** Longest name of any object (namespace, stream, group, stage, bucket, user, role, tag key). */
  nameLengthMax: 64,
  /** Nodes that are not removed. */
  nodesMax: 1_000,
  /** Tombstones of removed nodes kept (oldest joined dropped first), so churn cannot fill the state. */
  removedNodesKeptMax: 1_000,
  regionsMax: 64,
  namespacesMax: 1_000,
  streamsMax: 10_000,
  consumerGroupsMax: 50_000,
  pipelinesMax: 5_000,
  stagesPerPipelineMax: 256,
  /** References (`after` + `dependencies`) on one stage. */
  referencesPerStageMax: 256,
  replicasPerRegionMax: 16,
  regionsPerStreamMax: 64,
  usersMax: 10_000,
  tokensMax: 100_000,
  rolesMax: 1_000,
  rolesPerUserMax: 64,
  grantsPerRoleMax: 256,
  tagsPerNodeMax: 32,
  tagValueLengthMax: 256,
  /** Address strings (`host:port`, URLs). */
  addressLengthMax: 512,
  /** Password and token hashes are opaque strings produced outside. */
  hashLengthMax: 1_024,
  designationsMax: 100_000,
  controllerNameLengthMax: 256,
  bucketsMax: 1_000,
  /** A put copies its bucket's key map (copy-on-write), so a bucket stays small: O(keys) per write. */
  keysPerBucketMax: 10_000,
  /** Keys across all buckets: every replica holds them all in memory. */
  kvKeysTotalMax: 100_000,
  kvKeyLengthMax: 1_024,
  /** Ceiling for any bucket's `maxValueBytes`. */
  kvValueBytesMax: 1024 * 1024,
  /** Largest encoded command accepted by decodeCommand. */
  commandBytesMax: 4 * 1024 * 1024,
} as const

export type ClusterLimitName = keyof typeof clusterLimits
