// Typed errors of the CRDT KV core. Codes come from the one list in shared/errors.ts.
// Expected failures (bytes that do not decode, a write the writer refuses) are returned as values
// carrying these errors (`Outcome` from the persistent core); only caller bugs throw.
import { RailgunError } from '../../shared/errors.js'
import type { ErrorCode } from '../../shared/errors.js'

/** CRDT KV operation bytes are truncated, garbage, over a limit, or hold an invalid field. */
export class MalformedKvOpError extends RailgunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RG_ERR_MALFORMED_KV_OP', `malformed kv operation: ${message}`, options)
    this.name = 'MalformedKvOpError'
  }
}

/**
 * A write the writer refuses: an invalid key or argument (`RG_ERR_INVALID_ARGUMENT`), a value
 * over a limit (`RG_ERR_VALUE_TOO_LARGE`), a bucket limit (`RG_ERR_LIMIT_EXCEEDED`,
 * `details.limit`), or a merge/increment on a key of another type (`RG_ERR_KV_TYPE_MISMATCH`).
 */
export class KvWriteRejection extends RailgunError {
  readonly details: Readonly<Record<string, unknown>>

  constructor(code: ErrorCode, message: string, details: Readonly<Record<string, unknown>> = {}) {
    super(code, message)
    this.name = 'KvWriteRejection'
    this.details = details
  }
}
