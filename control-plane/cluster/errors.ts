// Expected failures of the cluster state machine. These are values inside a result
// (`{ok:false, code, message, details}`), never thrown: a rejected command is a normal outcome
// of applying a log entry and must be the same on every replica. Bugs are assertions instead.
// The codes, their meanings and their docs live in the one list, shared/errors.ts (documented in
// docs/errors.md § Control plane); this is the subset this module returns, each key mapping to
// itself and checked against that list by the compiler.
import type { ErrorCode } from '../../shared/errors.js'

export const clusterErrorCodes = {
  RG_ERR_INVALID_NAME: 'RG_ERR_INVALID_NAME',
  RG_ERR_INVALID_ARGUMENT: 'RG_ERR_INVALID_ARGUMENT',
  RG_ERR_MALFORMED_COMMAND: 'RG_ERR_MALFORMED_COMMAND',
  RG_ERR_NOT_FOUND: 'RG_ERR_NOT_FOUND',
  RG_ERR_CONFLICT: 'RG_ERR_CONFLICT',
  RG_ERR_IMMUTABLE_FIELD: 'RG_ERR_IMMUTABLE_FIELD',
  RG_ERR_CYCLE: 'RG_ERR_CYCLE',
  RG_ERR_UNKNOWN_REFERENCE: 'RG_ERR_UNKNOWN_REFERENCE',
  RG_ERR_NAMESPACE_PROTECTED: 'RG_ERR_NAMESPACE_PROTECTED',
  RG_ERR_IN_USE: 'RG_ERR_IN_USE',
  RG_ERR_STALE_TERM: 'RG_ERR_STALE_TERM',
  RG_ERR_REVISION_MISMATCH: 'RG_ERR_REVISION_MISMATCH',
  RG_ERR_VALUE_TOO_LARGE: 'RG_ERR_VALUE_TOO_LARGE',
  RG_ERR_LIMIT_EXCEEDED: 'RG_ERR_LIMIT_EXCEEDED',
  RG_ERR_INVALID_STATE: 'RG_ERR_INVALID_STATE',
  RG_ERR_WOULD_LOSE_DATA: 'RG_ERR_WOULD_LOSE_DATA',
  RG_ERR_NO_ELIGIBLE_NODE: 'RG_ERR_NO_ELIGIBLE_NODE',
} as const satisfies { readonly [K in ErrorCode]?: K }

export type ClusterErrorCode = (typeof clusterErrorCodes)[keyof typeof clusterErrorCodes]

export const clusterErrorCodeList = Object.keys(clusterErrorCodes) as readonly ClusterErrorCode[]
