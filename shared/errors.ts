// Client-facing errors: one list of stable codes (`RG_ERR_*`), each documented in docs/errors.md
// (a test keeps the two in step). Expected failures inside the server are typed values, not
// these; bugs are assertions. Every class here carries a `code` and an optional `cause`.

/**
 * Every client-facing error code. `natsText` is the exact text the server writes in
 * `-ERR '<text>'` (NATS wording where NATS has one); `fatal` says whether the connection is closed
 * after it. Codes without a wire text are raised in-process (config, storage, client API).
 */
export const errorCodes = {
  RG_ERR_UNKNOWN_OPERATION: { natsText: 'Unknown Protocol Operation', fatal: true },
  RG_ERR_MAX_PAYLOAD: { natsText: 'Maximum Payload Violation', fatal: true },
  RG_ERR_MAX_CONTROL_LINE: { natsText: 'Maximum Control Line Exceeded', fatal: true },
  RG_ERR_PARSER: { natsText: 'Parser Error', fatal: true },
  RG_ERR_SLOW_CONSUMER: { natsText: 'Slow Consumer', fatal: true },
  RG_ERR_AUTHORIZATION: { natsText: 'Authorization Violation', fatal: true },
  RG_ERR_STALE_CONNECTION: { natsText: 'Stale Connection', fatal: true },
  RG_ERR_MAX_CONNECTIONS: { natsText: 'Maximum Connections Exceeded', fatal: true },
  RG_ERR_NOT_READY: { natsText: 'Server Not Ready', fatal: true },
  RG_ERR_CONNECT_REQUIRED: { natsText: 'Authorization Violation', fatal: true },
  RG_ERR_INVALID_SUBJECT: { natsText: 'Invalid Subject', fatal: false },
  RG_ERR_MAX_SUBSCRIPTIONS: { natsText: 'Maximum Subscriptions Exceeded', fatal: false },
  RG_ERR_PERMISSION: { natsText: 'Permissions Violation', fatal: false },
  RG_ERR_RESPONSE_STREAM_IN_USE: { natsText: undefined, fatal: false },
  RG_ERR_RESPONSE_STREAMS_EXCEEDED: { natsText: undefined, fatal: false },
  RG_ERR_REQUEST_TIMEOUT: { natsText: undefined, fatal: false },
  RG_ERR_NO_RESPONDERS: { natsText: undefined, fatal: false },
  RG_ERR_CONFIG: { natsText: undefined, fatal: true },
  RG_ERR_STORAGE_IO: { natsText: undefined, fatal: true },
  RG_ERR_STORAGE_CLOSED: { natsText: undefined, fatal: false },
  RG_ERR_STORAGE_NOT_READY: { natsText: undefined, fatal: true },
  RG_ERR_STORAGE_KEY_SPACE: { natsText: undefined, fatal: false },
} as const satisfies Record<string, { natsText: string | undefined; fatal: boolean }>

export type ErrorCode = keyof typeof errorCodes

export const errorCodeList = Object.keys(errorCodes) as readonly ErrorCode[]

/** Base of every client-facing error. */
export class RailgunError extends Error {
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = 'RailgunError'
  }
}

/** An error the server sends on the wire as `-ERR '<text>'`. */
export class ProtocolViolationError extends RailgunError {
  /** The exact NATS text, without quotes. */
  readonly natsText: string
  /** Whether the connection is closed after the `-ERR`. */
  readonly fatal: boolean

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    const entry = errorCodes[code]
    const text = entry.natsText ?? code
    super(code, detail === undefined ? text : `${text}: ${detail}`, options)
    this.name = 'ProtocolViolationError'
    this.natsText = text
    this.fatal = entry.fatal
  }
}

/** A configuration source holds a bad value; the message names the source and the field. */
export class ConfigError extends RailgunError {
  readonly source: string
  readonly field: string

  constructor(source: string, field: string, problem: string, options?: { cause?: unknown }) {
    super('RG_ERR_CONFIG', `config ${source}: ${field === '' ? '(root)' : field}: ${problem}`, options)
    this.name = 'ConfigError'
    this.source = source
    this.field = field
  }
}

/** The storage engine failed to read, write, open or sync. A node stops on it. */
export class StorageIoError extends RailgunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RG_ERR_STORAGE_IO', message, options)
    this.name = 'StorageIoError'
  }
}

/** A storage handle was used after `close()` (or before `open()` finished). */
export class StorageClosedError extends RailgunError {
  constructor(operation: string, options?: { cause?: unknown }) {
    super('RG_ERR_STORAGE_CLOSED', `storage is closed: cannot ${operation}`, options)
    this.name = 'StorageClosedError'
  }
}

/** The readiness check (write, sync, read back a marker) failed. */
export class StorageNotReadyError extends RailgunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RG_ERR_STORAGE_NOT_READY', message, options)
    this.name = 'StorageNotReadyError'
  }
}

/** A key space was named that the storage was not opened with. */
export class StorageKeySpaceError extends RailgunError {
  constructor(keySpace: string, options?: { cause?: unknown }) {
    super('RG_ERR_STORAGE_KEY_SPACE', `unknown key space '${keySpace}'`, options)
    this.name = 'StorageKeySpaceError'
  }
}

/** The server answered a request with `NATS/1.0 408` (server-side response-stream timeout). */
export class RequestTimeoutError extends RailgunError {
  constructor(subject: string, options?: { cause?: unknown }) {
    super('RG_ERR_REQUEST_TIMEOUT', `request on '${subject}' timed out at the server`, options)
    this.name = 'RequestTimeoutError'
  }
}

/** The server answered a request with `NATS/1.0 503` (nobody subscribes to the subject). */
export class NoRespondersError extends RailgunError {
  constructor(subject: string, options?: { cause?: unknown }) {
    super('RG_ERR_NO_RESPONDERS', `no responders on '${subject}'`, options)
    this.name = 'NoRespondersError'
  }
}

/** Whether a `-ERR` text (quotes stripped) is one the server closes the connection after. */
export function isFatalErrorText(text: string): boolean {
  for (const code of errorCodeList) {
    const entry = errorCodes[code]
    if (entry.natsText === text) return entry.fatal
  }
  return false
}
