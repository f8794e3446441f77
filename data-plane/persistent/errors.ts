// Typed errors of the persistent-stream core. Codes come from the one list in shared/errors.ts.
// Expected failures (a peer's clock too far ahead, bytes that do not decode, a stale controller
// term) are returned as values carrying these errors; only caller bugs throw.
import { RailgunError } from '../../shared/errors.js'
import type { ErrorCode } from '../../shared/errors.js'

/** Event bytes are truncated, garbage, over a limit, or hold an invalid field. */
export class MalformedEventError extends RailgunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RG_ERR_MALFORMED_EVENT', `malformed event: ${message}`, options)
    this.name = 'MalformedEventError'
  }
}

/** A remote HLC is further ahead of the local physical clock than the allowed skew. */
export class ClockSkewError extends RailgunError {
  readonly remoteWallMs: number
  readonly physicalMs: number
  readonly maxSkewMs: number

  constructor(remoteWallMs: number, physicalMs: number, maxSkewMs: number) {
    super('RG_ERR_CLOCK_SKEW', `remote clock ${remoteWallMs} ms is ${remoteWallMs - physicalMs} ms ahead of local ${physicalMs} ms (max skew ${maxSkewMs} ms)`)
    this.name = 'ClockSkewError'
    this.remoteWallMs = remoteWallMs
    this.physicalMs = physicalMs
    this.maxSkewMs = maxSkewMs
  }
}

/** A refused decision or operation (stale term, conflict, invalid state, limit). */
export class PersistentRejection extends RailgunError {
  readonly details: Readonly<Record<string, unknown>>

  constructor(code: ErrorCode, message: string, details: Readonly<Record<string, unknown>> = {}) {
    super(code, message)
    this.name = 'PersistentRejection'
    this.details = details
  }
}

/** A result that is either a value or a typed error (expected failures are values). */
export type Outcome<T, E extends RailgunError = RailgunError> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: E }

export const success = <T>(value: T): { readonly ok: true; readonly value: T } => ({ ok: true, value })
export const failure = <E extends RailgunError>(error: E): { readonly ok: false; readonly error: E } => ({ ok: false, error })
