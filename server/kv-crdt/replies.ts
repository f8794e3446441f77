// The answers of the CRDT KV wire: the same envelope as the control API (`{ok:true, …}` or
// `{ok:false, error:{code, message, details?}}`, shared/api/responses.ts), cluster results and
// Raft failures mapped as server/api maps them, zod issues as one readable message.
import type { z } from 'zod'
import type { ApplyResult } from '../../control-plane/cluster/index.js'
import { RaftRequestError } from '../../control-plane/driver/index.js'
import type { ErrorCode } from '../../shared/errors.js'

export interface KvcSuccess {
  readonly ok: true
  readonly [field: string]: unknown
}

export interface KvcFailure {
  readonly ok: false
  readonly error: { readonly code: ErrorCode; readonly message: string; readonly details?: Record<string, unknown> }
}

export type KvcReply = KvcSuccess | KvcFailure

export function failure(code: ErrorCode, message: string, details?: Readonly<Record<string, unknown>>): KvcFailure {
  return { ok: false, error: details === undefined || Object.keys(details).length === 0 ? { code, message } : { code, message, details: { ...details } } }
}

export function fromApplyResult(result: ApplyResult): KvcReply {
  if (!result.ok) return failure(result.code, result.message, result.details as Record<string, unknown>)
  return { ok: true, outcome: result.outcome, details: result.details }
}

/** Raft failures keep their code, reason and outcome (`unknown`: may still apply; ENSURE is idempotent). */
export function fromThrown(error: unknown): KvcFailure {
  if (error instanceof RaftRequestError) return failure(error.code, error.message, { reason: error.reason, outcome: error.outcome })
  return failure('RG_ERR_SERVER', `internal error: ${error instanceof Error ? error.message : String(error)}`)
}

export function fromIssues(issues: readonly z.core.$ZodIssue[]): KvcFailure {
  const listed = issues.slice(0, 10).map((issue) => ({ path: issue.path.map(String).join('.') || '(body)', message: issue.message }))
  return failure('RG_ERR_INVALID_ARGUMENT', listed.map((issue) => `${issue.path}: ${issue.message}`).join('; '), { issues: listed })
}
