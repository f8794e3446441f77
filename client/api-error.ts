// The error of a control-API answer `{ok:false, error:{code, message, details}}`: a
// RailgunClientError carrying the server's RG_ERR_* code (any code of shared/errors.ts, e.g.
// RG_ERR_CONFLICT with `details.diffs`), the verb, and the details. `outcomeUnknown` is true for
// Raft failures whose change may still apply (retry: ensure verbs are idempotent).
import type { ErrorCode } from '../shared/errors.js'
import { RailgunClientError } from './errors.js'

export class ApiError extends RailgunClientError {
  readonly verb: string
  readonly details: Readonly<Record<string, unknown>>
  constructor(verb: string, code: ErrorCode, message: string, details: Readonly<Record<string, unknown>> = {}) {
    super(code, `${verb}: ${message}`)
    this.verb = verb
    this.details = details
  }

  /** The change may or may not have been applied (Raft outcome `unknown`). */
  get outcomeUnknown(): boolean {
    return this.details.outcome === 'unknown'
  }
}
