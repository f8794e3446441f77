// Every `RG_ERR_*` code in the project: one list, each code documented in docs/errors.md (a test
// keeps the two in step, and checks that no source file uses a code that is not listed here).
// Other modules take their codes from `ErrorCode` (client/errors.ts, control-plane/cluster,
// control-plane/raft, shared/protocol), so a code cannot be used without being listed.
// Expected failures inside the server are typed values, not these; bugs are assertions. Every
// class here carries a `code` and an optional `cause`. Pure: no node:* imports (the Raft core and
// the cluster state machine import this file).

/** The section of docs/errors.md a code is documented in. */
export const errorGroups = ['wire', 'status', 'client', 'cluster', 'raft', 'protocol', 'configStorage'] as const
export type ErrorGroup = (typeof errorGroups)[number]

export interface ErrorCodeEntry {
  /** The section of docs/errors.md that documents the code. */
  readonly group: ErrorGroup
  /** The exact text the server writes in `-ERR '<text>'`; undefined for codes not sent as `-ERR`. */
  readonly natsText: string | undefined
  /** For status replies: the status code of the `NATS/1.0 <status>` header line. */
  readonly status?: number
  /**
   * Wire errors: the connection is closed after the `-ERR`. Other codes: the component that
   * raised it (connection, node, storage handle, Raft node) cannot go on; retrying on it is useless.
   */
  readonly fatal: boolean
  /** One line: when the code is raised. docs/errors.md shows the same text. */
  readonly meaning: string
}

/**
 * Every error code. `natsText` is the exact text the server writes in `-ERR '<text>'` (NATS
 * wording where NATS has one). Codes without a wire text are status replies or are raised
 * in-process (client API, cluster state machine, Raft, protocol encoding, config, storage).
 */
export const errorCodes = {
  // Wire errors (`-ERR`)
  RG_ERR_UNKNOWN_OPERATION: { group: 'wire', natsText: 'Unknown Protocol Operation', fatal: true, meaning: 'the verb is not a client verb of the NATS protocol' },
  RG_ERR_MAX_PAYLOAD: { group: 'wire', natsText: 'Maximum Payload Violation', fatal: true, meaning: 'a PUB/HPUB announces more bytes than `limits.maxPayloadBytes` (advertised as `max_payload`); the client raises it before sending' },
  RG_ERR_MAX_CONTROL_LINE: { group: 'wire', natsText: 'Maximum Control Line Exceeded', fatal: true, meaning: 'a control line is longer than `limits.maxControlLineBytes`' },
  RG_ERR_PARSER: { group: 'wire', natsText: 'Parser Error', fatal: true, meaning: 'malformed arguments, sizes, CRLF framing or headers' },
  RG_ERR_SLOW_CONSUMER: { group: 'wire', natsText: 'Slow Consumer', fatal: true, meaning: 'bytes waiting to be written to the connection exceed `limits.maxPendingBytes`' },
  RG_ERR_AUTHORIZATION: { group: 'wire', natsText: 'Authorization Violation', fatal: true, meaning: 'CONNECT credentials (user/pass or auth_token) refused: unknown, wrong, expired, revoked, missing, or too many failed logins from this address' },
  RG_ERR_STALE_CONNECTION: { group: 'wire', natsText: 'Stale Connection', fatal: true, meaning: '`limits.maxPingsOutstanding` PINGs went unanswered (the client raises it for its own PINGs too)' },
  RG_ERR_MAX_CONNECTIONS: { group: 'wire', natsText: 'Maximum Connections Exceeded', fatal: true, meaning: 'the node already holds `limits.maxConnections` client connections' },
  RG_ERR_NOT_READY: { group: 'wire', natsText: 'Server Not Ready', fatal: true, meaning: 'the node has not opened and checked its storage yet (or is draining)' },
  RG_ERR_CONNECT_REQUIRED: { group: 'wire', natsText: 'Authorization Violation', fatal: true, meaning: 'PUB/HPUB/SUB/UNSUB before CONNECT (PING and PONG are allowed)' },
  RG_ERR_INVALID_SUBJECT: { group: 'wire', natsText: 'Invalid Subject', fatal: false, meaning: 'a subject, queue name or reply subject is not valid (refused by the server, or by the client before sending)' },
  RG_ERR_MAX_SUBSCRIPTIONS: { group: 'wire', natsText: 'Maximum Subscriptions Exceeded', fatal: false, meaning: 'a SUB beyond `limits.maxSubscriptionsPerConnection`' },
  RG_ERR_PERMISSION: { group: 'wire', natsText: 'Permissions Violation', fatal: false, meaning: 'the user\'s roles do not permit this publish or subscribe; the text goes on `for Publish to "<subject>"` or `for Subscription to "<subject>"`' },
  RG_ERR_AUTH_TIMEOUT: { group: 'wire', natsText: 'Authentication Timeout', fatal: true, meaning: 'access control is on and no accepted CONNECT arrived within the authentication timeout' },
  RG_ERR_TLS_REQUIRED: { group: 'wire', natsText: 'Secure Connection - TLS Required', fatal: true, meaning: 'the node requires TLS and the client sent clear text after INFO instead of a TLS handshake' },
  // Status replies on response streams
  RG_ERR_NO_RESPONDERS: { group: 'status', natsText: undefined, status: 503, fatal: false, meaning: 'a request matched no subscriber and the requester set `headers` and `no_responders` in CONNECT' },
  RG_ERR_REQUEST_TIMEOUT: { group: 'status', natsText: undefined, status: 408, fatal: false, meaning: 'no response arrived within `Rg-Timeout-Ms` (or `responses.defaultTimeoutMs` when non-zero), or the client\'s own timer fired' },
  RG_ERR_RESPONSE_STREAM_IN_USE: { group: 'status', natsText: undefined, status: 409, fatal: false, meaning: 'the reply subject is an open response stream of another connection; the request is not delivered' },
  RG_ERR_RESPONSE_STREAMS_EXCEEDED: { group: 'status', natsText: undefined, status: 429, fatal: false, meaning: 'the connection already holds `responses.maxOpenPerConnection` open response streams; the request is not delivered' },
  // Client API (client/errors.ts)
  RG_ERR_RESPONDER: { group: 'client', natsText: undefined, fatal: false, meaning: 'the responder failed (status >= 400 other than 408/409/429/503, empty body)' },
  RG_ERR_CONNECT: { group: 'client', natsText: undefined, fatal: true, meaning: 'cannot connect, the handshake timed out, TLS is required, or the connection was lost' },
  RG_ERR_OUTBOUND_BUFFER_FULL: { group: 'client', natsText: undefined, fatal: false, meaning: 'the bounded outbound or reconnect buffer is full: await `flush()` and retry' },
  RG_ERR_CONNECTION_CLOSED: { group: 'client', natsText: undefined, fatal: true, meaning: 'the client is closed or draining (or closed while the operation waited)' },
  RG_ERR_PROTOCOL: { group: 'client', natsText: undefined, fatal: true, meaning: 'the server sent bytes that do not parse as the protocol' },
  RG_ERR_SERVER: { group: 'client', natsText: undefined, fatal: false, meaning: 'the server sent an `-ERR` that no other code covers (its text is in `serverText`)' },
  RG_ERR_INVALID_ARGUMENT: { group: 'client', natsText: undefined, fatal: false, meaning: 'an argument or field holds a bad value (client option, count or header; cluster command field such as a duplicate region)' },
  // Control plane: cluster state machine (control-plane/cluster), returned in `{ok: false}` results
  RG_ERR_INVALID_NAME: { group: 'cluster', natsText: undefined, fatal: false, meaning: 'a name (namespace, stream, group, stage, bucket, user, ...) breaks the naming rules (`details.field`)' },
  RG_ERR_MALFORMED_COMMAND: { group: 'cluster', natsText: undefined, fatal: false, meaning: 'a log entry or command does not match the schema (bad JSON, unknown type, wrong field types)' },
  RG_ERR_NOT_FOUND: { group: 'cluster', natsText: undefined, fatal: false, meaning: 'the object a command names, or one it refers to, does not exist' },
  RG_ERR_CONFLICT: { group: 'cluster', natsText: undefined, fatal: false, meaning: 'an ensure differs from the stored definition without `update: true` (`details.diffs`)' },
  RG_ERR_IMMUTABLE_FIELD: { group: 'cluster', natsText: undefined, fatal: false, meaning: 'an update would change a field that never changes (a stream\'s `kind`)' },
  RG_ERR_CYCLE: { group: 'cluster', natsText: undefined, fatal: false, meaning: 'pipeline stages form a cycle or refer to themselves (`details.cycle`)' },
  RG_ERR_UNKNOWN_REFERENCE: { group: 'cluster', natsText: undefined, fatal: false, meaning: 'a pipeline stage refers to a stage that does not exist' },
  RG_ERR_NAMESPACE_PROTECTED: { group: 'cluster', natsText: undefined, fatal: false, meaning: 'the `default` namespace cannot be removed' },
  RG_ERR_IN_USE: { group: 'cluster', natsText: undefined, fatal: false, meaning: 'removing something still used by others (names the users)' },
  RG_ERR_STALE_TERM: { group: 'cluster', natsText: undefined, fatal: false, meaning: 'a designation\'s controller term is not above the current one (details: current term and holder)' },
  RG_ERR_REVISION_MISMATCH: { group: 'cluster', natsText: undefined, fatal: false, meaning: 'a KV compare-and-set or conditional delete saw a different revision than expected' },
  RG_ERR_VALUE_TOO_LARGE: { group: 'cluster', natsText: undefined, fatal: false, meaning: 'a KV value is over the bucket (or global) limit, or a limit would shrink below a stored value' },
  RG_ERR_LIMIT_EXCEEDED: { group: 'cluster', natsText: undefined, fatal: false, meaning: 'a named limit in `limits.ts` would be exceeded (`details.limit`)' },
  RG_ERR_INVALID_STATE: { group: 'cluster', natsText: undefined, fatal: false, meaning: 'the node\'s state forbids it (removing an active node, draining a dead one, designating a non-active one)' },
  RG_ERR_WOULD_LOSE_DATA: { group: 'cluster', natsText: undefined, fatal: false, meaning: 'removing the node would lose the last live copy of some streams (`details.streams`)' },
  RG_ERR_NO_ELIGIBLE_NODE: { group: 'cluster', natsText: undefined, fatal: false, meaning: 'no other active node can take a designation' },
  RG_ERR_UNKNOWN_VERB: { group: 'cluster', natsText: undefined, fatal: false, meaning: 'an `$RG.API.>` subject or `/api/v1` route names no known verb (server/api)' },
  RG_ERR_KV_TYPE_MISMATCH: { group: 'cluster', natsText: undefined, fatal: false, meaning: 'a CRDT KV merge or increment on a key that holds another value type (plain bytes, JSON or counter); delete the key first (data-plane/kv-crdt)' },
  RG_ERR_KV_MODE_MISMATCH: { group: 'cluster', natsText: undefined, fatal: false, meaning: 'a `$RG.KVC.<bucket>.*` request names a linearizable bucket (use `$RG.API.KV.*`), or ENSURE would create a CRDT bucket where a linearizable bucket has the name (server/kv-crdt)' },
  // Raft core (control-plane/raft)
  RG_ERR_RAFT_PROPOSAL_DROPPED: { group: 'raft', natsText: undefined, fatal: false, meaning: '`ProposalDropped`: a proposal was not appended (`reason`); retry later or on another node' },
  RG_ERR_RAFT_STOPPED: { group: 'raft', natsText: undefined, fatal: true, meaning: '`RaftFatalError`: a storage error or broken invariant stopped the Raft node (`cause` set)' },
  RG_ERR_RAFT_CONFIG: { group: 'raft', natsText: undefined, fatal: true, meaning: '`RaftConfigError`: a Raft config value is out of range' },
  // Protocol encoding (shared/protocol)
  RG_ERR_PROTOCOL_ENCODE: { group: 'protocol', natsText: undefined, fatal: false, meaning: '`ProtocolEncodeError`: an op cannot be written as a parseable frame (a caller bug)' },
  RG_ERR_INVALID_HEADER: { group: 'protocol', natsText: undefined, fatal: false, meaning: '`InvalidHeaderError`: a header key, value or status cannot be written' },
  RG_ERR_MALFORMED_EVENT: { group: 'protocol', natsText: undefined, fatal: false, meaning: '`MalformedEventError` (data-plane/persistent): stored or replicated event bytes are truncated, garbage, over a limit, or hold an invalid field' },
  RG_ERR_CLOCK_SKEW: { group: 'protocol', natsText: undefined, fatal: false, meaning: '`ClockSkewError` (data-plane/persistent): a peer\'s hybrid logical clock is further ahead of the local clock than `hlcMaxSkewMs`; its message is refused' },
  RG_ERR_MALFORMED_ROUTE_FRAME: { group: 'protocol', natsText: undefined, fatal: false, meaning: '`RouteFrameError` (server/routes): a frame on the peer `route` channel is truncated, over a limit, holds an invalid subject or an unknown kind; it is dropped, counted, and the peer is asked for a fresh interest snapshot' },
  RG_ERR_MALFORMED_SHIPMENT: { group: 'protocol', natsText: undefined, fatal: false, meaning: '`MalformedShipmentError` (data-plane/persistent/shipping): a cross-region shipping frame is truncated, garbage, over a limit, compressed wrongly or holds an invalid field; it is dropped and the shipper resends' },
  RG_ERR_MALFORMED_KV_OP: { group: 'protocol', natsText: undefined, fatal: false, meaning: '`MalformedKvOpError` (data-plane/kv-crdt): CRDT KV operation bytes are truncated, garbage, over a limit, of an unknown version or kind, or hold an invalid field (key, origin, Automerge change)' },
  // Configuration and storage (this file)
  RG_ERR_CONFIG: { group: 'configStorage', natsText: undefined, fatal: true, meaning: '`ConfigError`: a configuration source holds a bad value; the message names the source and field' },
  RG_ERR_STORAGE_IO: { group: 'configStorage', natsText: undefined, fatal: true, meaning: '`StorageIoError`: the storage engine failed to open, read, write or sync (the node stops)' },
  RG_ERR_STORAGE_CLOSED: { group: 'configStorage', natsText: undefined, fatal: false, meaning: '`StorageClosedError`: a storage handle was used after `close()`' },
  RG_ERR_STORAGE_NOT_READY: { group: 'configStorage', natsText: undefined, fatal: true, meaning: '`StorageNotReadyError`: the readiness check (write, sync, read back a marker) failed' },
  RG_ERR_STORAGE_KEY_SPACE: { group: 'configStorage', natsText: undefined, fatal: false, meaning: '`StorageKeySpaceError`: a key space was used that the storage was not opened with' },
} as const satisfies Record<`RG_ERR_${string}`, ErrorCodeEntry>

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
