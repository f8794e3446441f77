// Every error the client hands to a caller: a named Error subclass with a stable `code`
// (`RG_ERR_*`) and an optional `cause`. Every code comes from the project's one list,
// `shared/errors.ts` (documented in docs/errors.md; `satisfies` below makes the compiler check
// each one is listed). `clientErrorCodes` is the subset the client raises; `client/README.md`
// maps each code to its class and a test checks that the two agree. Where the server's list has
// a code for the same condition (wire errors, status replies), the client reuses that exact code.
import type { ErrorCode } from '../shared/errors.js'

export const clientErrorCodes = {
  /** A request found no subscriber on its subject (server status 503). */
  noResponders: 'RG_ERR_NO_RESPONDERS',
  /** A request got no reply in time (server status 408, or the client's own timer). */
  timeout: 'RG_ERR_REQUEST_TIMEOUT',
  /** The server refused the request: its reply subject is already an open response stream (409). */
  responseStreamInUse: 'RG_ERR_RESPONSE_STREAM_IN_USE',
  /** The server refused the request: too many open requests for this connection (429). */
  responseStreamsExceeded: 'RG_ERR_RESPONSE_STREAMS_EXCEEDED',
  /** The responder's handler failed (status 500 reply from `respond`). */
  responder: 'RG_ERR_RESPONDER',
  /** Could not open a connection (refused, unreachable, handshake timed out). */
  connect: 'RG_ERR_CONNECT',
  /** The server rejected the credentials (`-ERR 'Authorization Violation'`). */
  authorization: 'RG_ERR_AUTHORIZATION',
  /** The server refused a subscribe or publish (`-ERR 'Permissions Violation …'`). */
  permissionDenied: 'RG_ERR_PERMISSION',
  /** A subject or queue group name is not valid. */
  invalidSubject: 'RG_ERR_INVALID_SUBJECT',
  /** A payload is larger than the server's advertised `max_payload`. */
  payloadTooLarge: 'RG_ERR_MAX_PAYLOAD',
  /** The bounded outbound (or reconnect) buffer is full: the caller must slow down. */
  outboundBufferFull: 'RG_ERR_OUTBOUND_BUFFER_FULL',
  /** The connection is closed (or draining) and cannot take the operation. */
  connectionClosed: 'RG_ERR_CONNECTION_CLOSED',
  /** The server sent bytes that do not parse as the protocol. */
  protocol: 'RG_ERR_PROTOCOL',
  /** The server sent `-ERR` that none of the above covers. */
  server: 'RG_ERR_SERVER',
  /** The server stopped answering PINGs. */
  staleConnection: 'RG_ERR_STALE_CONNECTION',
  /** An argument is out of range (bad option, bad count). */
  invalidArgument: 'RG_ERR_INVALID_ARGUMENT',
} as const satisfies Record<string, ErrorCode>
/** A code the client raises; a subset of the project-wide `ErrorCode`. */
export type ClientErrorCode = (typeof clientErrorCodes)[keyof typeof clientErrorCodes]

/** The codes the server also sends (wire errors and status replies), spelled the same. */
export const sharedClientErrorCodes = [
  clientErrorCodes.noResponders,
  clientErrorCodes.timeout,
  clientErrorCodes.authorization,
  clientErrorCodes.permissionDenied,
  clientErrorCodes.invalidSubject,
  clientErrorCodes.payloadTooLarge,
  clientErrorCodes.staleConnection,
  clientErrorCodes.responseStreamInUse,
  clientErrorCodes.responseStreamsExceeded,
] as const satisfies readonly ErrorCode[]

/**
 * Base class: `instanceof RailgunClientError` catches every client error. `code` is a client code
 * for errors the client raises itself, or any server code for a control-API answer (`ApiError`).
 */
export class RailgunClientError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

export class NoRespondersError extends RailgunClientError {
  readonly subject: string
  constructor(subject: string) {
    super(clientErrorCodes.noResponders, `no responders on subject "${subject}"`)
    this.subject = subject
  }
}

export class RequestTimeoutError extends RailgunClientError {
  readonly subject: string
  readonly timeoutMs: number
  /** `server`: the server answered 408; `client`: the client's own timer fired. */
  readonly source: 'server' | 'client'
  constructor(subject: string, timeoutMs: number, source: 'server' | 'client') {
    super(clientErrorCodes.timeout, `request on "${subject}" timed out after ${timeoutMs} ms (${source})`)
    this.subject = subject
    this.timeoutMs = timeoutMs
    this.source = source
  }
}

/** Status 409 from a Railgun server: the reply subject is in use by another open request. */
export class ResponseStreamInUseError extends RailgunClientError {
  readonly subject: string
  constructor(subject: string) {
    super(clientErrorCodes.responseStreamInUse, `request on "${subject}" refused: reply subject already in use (409)`)
    this.subject = subject
  }
}

/** Status 429 from a Railgun server: this connection has too many requests open. */
export class ResponseStreamsExceededError extends RailgunClientError {
  readonly subject: string
  constructor(subject: string) {
    super(clientErrorCodes.responseStreamsExceeded, `request on "${subject}" refused: too many open requests (429)`)
    this.subject = subject
  }
}

export class ResponderError extends RailgunClientError {
  readonly subject: string
  readonly status: number
  constructor(subject: string, status: number, description: string) {
    super(clientErrorCodes.responder, `responder on "${subject}" failed: ${status} ${description}`.trimEnd())
    this.subject = subject
    this.status = status
  }
}

export class ConnectError extends RailgunClientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(clientErrorCodes.connect, message, options)
  }
}

export class AuthorizationError extends RailgunClientError {
  constructor(serverText: string) {
    super(clientErrorCodes.authorization, `server refused credentials: ${serverText}`)
  }
}

export class PermissionDeniedError extends RailgunClientError {
  readonly subject: string | undefined
  constructor(serverText: string, subject?: string) {
    super(clientErrorCodes.permissionDenied, `permission denied: ${serverText}`)
    this.subject = subject
  }
}

export class InvalidSubjectError extends RailgunClientError {
  readonly subject: string
  constructor(subject: string, reason: string) {
    super(clientErrorCodes.invalidSubject, `invalid subject "${subject}": ${reason}`)
    this.subject = subject
  }
}

export class PayloadTooLargeError extends RailgunClientError {
  constructor(message: string) {
    super(clientErrorCodes.payloadTooLarge, message)
  }
  static of(payloadBytes: number, payloadBytesMax: number): PayloadTooLargeError {
    return new PayloadTooLargeError(`payload of ${payloadBytes} bytes exceeds max_payload ${payloadBytesMax}`)
  }
}

export class OutboundBufferFullError extends RailgunClientError {
  /** `bytes` for the socket and reconnect buffers; `publishes` for a producer's queue (await `producer.flush()`). */
  constructor(bufferName: string, limit: number, unit: 'bytes' | 'publishes' = 'bytes') {
    super(
      clientErrorCodes.outboundBufferFull,
      `${bufferName} is full (${limit} ${unit}): await ${unit === 'bytes' ? 'client' : 'producer'}.flush() or raise the limit`,
    )
  }
}

export class ConnectionClosedError extends RailgunClientError {
  constructor(message = 'connection closed', options?: { cause?: unknown }) {
    super(clientErrorCodes.connectionClosed, message, options)
  }
}

export class ProtocolError extends RailgunClientError {
  constructor(message: string) {
    super(clientErrorCodes.protocol, message)
  }
}

export class ServerError extends RailgunClientError {
  readonly serverText: string
  constructor(serverText: string) {
    super(clientErrorCodes.server, `server error: ${serverText}`)
    this.serverText = serverText
  }
}

export class StaleConnectionError extends RailgunClientError {
  constructor(message: string) {
    super(clientErrorCodes.staleConnection, message)
  }
}

export class InvalidArgumentError extends RailgunClientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(clientErrorCodes.invalidArgument, message, options)
  }
}

/** Maps a server `-ERR` text (quotes stripped) to a client error. */
export function errorFromServerText(text: string): RailgunClientError {
  const lower = text.toLowerCase()
  if (lower.startsWith('authorization violation') || lower.startsWith('authentication')) {
    return new AuthorizationError(text)
  }
  if (lower.startsWith('permissions violation')) {
    const quoted = /"([^"]*)"/.exec(text)
    return new PermissionDeniedError(text, quoted?.[1])
  }
  if (lower.startsWith('invalid subject') || lower.startsWith('invalid publish subject')) {
    return new InvalidSubjectError('', text)
  }
  if (lower.startsWith('maximum payload')) return new PayloadTooLargeError(`server: ${text}`)
  if (lower.startsWith('stale connection')) return new StaleConnectionError(`server: ${text}`)
  return new ServerError(text)
}
