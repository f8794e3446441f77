// Building the API's answers: the success/failure envelope (shared/api/responses.ts), the
// mapping of cluster results and Raft failures, and zod issues to one readable message.
import type { z } from 'zod'
import type { ApplyResult, JsonObject } from '../../control-plane/cluster/index.js'
import { RaftRequestError } from '../../control-plane/driver/index.js'
import type { ErrorCode } from '../../shared/errors.js'

export interface ApiSuccess {
  readonly ok: true
  readonly [field: string]: unknown
}

export interface ApiFailureReply {
  readonly ok: false
  readonly error: { readonly code: ErrorCode; readonly message: string; readonly details?: Record<string, unknown> }
}

export type ApiReply = ApiSuccess | ApiFailureReply

export function failure(code: ErrorCode, message: string, details?: Record<string, unknown>): ApiFailureReply {
  return { ok: false, error: details === undefined || Object.keys(details).length === 0 ? { code, message } : { code, message, details } }
}

/** A cluster result as an API answer; `definition` is what was proposed (defaults filled in). */
export function fromApplyResult(result: ApplyResult, definition?: JsonObject): ApiReply {
  if (!result.ok) return failure(result.code, result.message, result.details as Record<string, unknown>)
  return { ok: true, outcome: result.outcome, details: result.details, ...(definition === undefined ? {} : { definition }) }
}

/**
 * A thrown error as an answer: Raft failures keep their code, reason and whether the outcome is
 * unknown (the change may still apply: ensure is idempotent, so retrying is safe).
 */
export function fromThrown(error: unknown): ApiFailureReply {
  if (error instanceof RaftRequestError) {
    return failure(error.code, error.message, { reason: error.reason, outcome: error.outcome })
  }
  return failure('RG_ERR_SERVER', `internal error: ${error instanceof Error ? error.message : String(error)}`)
}

/** `path: message; …` for the first few issues, and the issues themselves in details. */
export function fromIssues(issues: readonly z.core.$ZodIssue[]): ApiFailureReply {
  const listed = issues.slice(0, 10).map((issue) => ({ path: issue.path.map(String).join('.') || '(body)', message: issue.message }))
  return failure('RG_ERR_INVALID_ARGUMENT', listed.map((issue) => `${issue.path}: ${issue.message}`).join('; '), { issues: listed })
}

/** HTTP status of an answer (REST). */
export function httpStatusOf(reply: ApiReply): number {
  if (reply.ok) return 200
  const byCode: Partial<Record<ErrorCode, number>> = {
    RG_ERR_NOT_FOUND: 404,
    RG_ERR_AUTHORIZATION: 401,
    RG_ERR_PERMISSION: 403,
    RG_ERR_UNKNOWN_VERB: 404,
    RG_ERR_INVALID_ARGUMENT: 400,
    RG_ERR_INVALID_NAME: 400,
    RG_ERR_MALFORMED_COMMAND: 400,
    RG_ERR_CYCLE: 400,
    RG_ERR_UNKNOWN_REFERENCE: 400,
    RG_ERR_CONFLICT: 409,
    RG_ERR_IMMUTABLE_FIELD: 409,
    RG_ERR_REVISION_MISMATCH: 409,
    RG_ERR_IN_USE: 409,
    RG_ERR_NAMESPACE_PROTECTED: 409,
    RG_ERR_INVALID_STATE: 409,
    RG_ERR_WOULD_LOSE_DATA: 409,
    RG_ERR_STALE_TERM: 409,
    RG_ERR_NO_ELIGIBLE_NODE: 409,
    RG_ERR_VALUE_TOO_LARGE: 413,
    RG_ERR_LIMIT_EXCEEDED: 422,
    RG_ERR_NOT_READY: 503,
    RG_ERR_RAFT_PROPOSAL_DROPPED: 503,
    RG_ERR_RAFT_STOPPED: 503,
    RG_ERR_REQUEST_TIMEOUT: 504,
  }
  return byCode[reply.error.code] ?? 500
}
