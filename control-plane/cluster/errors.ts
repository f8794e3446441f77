// Expected failures of the cluster state machine. These are values inside a result
// (`{ok:false, code, message, details}`), never thrown: a rejected command is a normal outcome
// of applying a log entry and must be the same on every replica. Bugs are assertions instead.
// The integrator merges this list into the client-facing one in shared/errors.ts.

export const clusterErrorCodes = {
  /** A name (namespace, stream, group, stage, bucket, user, ...) breaks the rules in names.ts. */
  RG_ERR_INVALID_NAME: 'RG_ERR_INVALID_NAME',
  /** A field other than a name holds a bad value (negative size, empty regions, ...). */
  RG_ERR_INVALID_ARGUMENT: 'RG_ERR_INVALID_ARGUMENT',
  /** A log entry does not decode to a command (bad JSON, unknown type, wrong field types). */
  RG_ERR_MALFORMED_COMMAND: 'RG_ERR_MALFORMED_COMMAND',
  /** The object the command names (or one it refers to) does not exist. */
  RG_ERR_NOT_FOUND: 'RG_ERR_NOT_FOUND',
  /** An ensure differs from the stored definition and did not set `update: true`; details list the diff. */
  RG_ERR_CONFLICT: 'RG_ERR_CONFLICT',
  /** An update tries to change a field that can never change (a stream's kind). */
  RG_ERR_IMMUTABLE_FIELD: 'RG_ERR_IMMUTABLE_FIELD',
  /** A pipeline's `after`/`dependencies` form a cycle; the message names it (`a → b → a`). */
  RG_ERR_CYCLE: 'RG_ERR_CYCLE',
  /** A pipeline stage refers to a stage that does not exist, or to itself. */
  RG_ERR_UNKNOWN_REFERENCE: 'RG_ERR_UNKNOWN_REFERENCE',
  /** The `default` namespace cannot be removed. */
  RG_ERR_NAMESPACE_PROTECTED: 'RG_ERR_NAMESPACE_PROTECTED',
  /** The object is still used by others (a namespace with streams, a stream with groups). */
  RG_ERR_IN_USE: 'RG_ERR_IN_USE',
  /** A designation's controller term is not above the current one (or equal for the same holder). */
  RG_ERR_STALE_TERM: 'RG_ERR_STALE_TERM',
  /** A KV compare-and-set or conditional delete saw a different revision than expected. */
  RG_ERR_REVISION_MISMATCH: 'RG_ERR_REVISION_MISMATCH',
  /** A KV value is larger than the bucket's (or the global) limit. */
  RG_ERR_VALUE_TOO_LARGE: 'RG_ERR_VALUE_TOO_LARGE',
  /** A named limit in limits.ts (streams, stages, keys, ...) would be exceeded. */
  RG_ERR_LIMIT_EXCEEDED: 'RG_ERR_LIMIT_EXCEEDED',
  /** The node is not in a state that allows this (removing an active node, designating a dead one). */
  RG_ERR_INVALID_STATE: 'RG_ERR_INVALID_STATE',
  /** Removing the node would lose the only live copy of some streams; details name them. */
  RG_ERR_WOULD_LOSE_DATA: 'RG_ERR_WOULD_LOSE_DATA',
  /** No active node can take a designation. */
  RG_ERR_NO_ELIGIBLE_NODE: 'RG_ERR_NO_ELIGIBLE_NODE',
} as const

export type ClusterErrorCode = (typeof clusterErrorCodes)[keyof typeof clusterErrorCodes]

export const clusterErrorCodeList = Object.keys(clusterErrorCodes) as readonly ClusterErrorCode[]
