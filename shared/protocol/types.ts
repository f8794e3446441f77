// The NATS core client protocol as typed values. This file is the contract between the parser
// (bytes → ops), the encoder (ops → bytes), the server's connection handler and the client.
// Wire reference: the NATS client protocol (INFO, CONNECT, PUB, HPUB, SUB, UNSUB, MSG, HMSG,
// PING, PONG, +OK, -ERR). Verbs are case-insensitive on input; we always write upper case.

/** Named limits. Config may lower or raise the ones marked configurable. */
export const protocolLimits = {
  /** Longest control line (verb + args, without CRLF) we accept. NATS default is 4 KiB. */
  controlLineBytesMax: 4096,
  /** Default max payload (configurable, advertised in INFO as max_payload): 1 MiB. */
  payloadBytesMaxDefault: 1024 * 1024,
  /** Longest header block (part of the payload budget too). */
  headerBytesMax: 64 * 1024,
} as const

/** Headers in `NATS/1.0` form: keys keep their case; a key may carry several values. */
export interface MsgHeaders {
  /** Status code from the first line, e.g. 503 in `NATS/1.0 503`; undefined when absent. */
  readonly status?: number
  /** Status description after the code, e.g. `No Responders`. */
  readonly description?: string
  /** Ordered [key, value] pairs; repeated keys are repeated pairs. */
  readonly entries: ReadonlyArray<readonly [string, string]>
}

/** What a client sends in CONNECT (the subset we act on; unknown fields are kept in `raw`). */
export interface ConnectOptions {
  readonly verbose?: boolean
  readonly pedantic?: boolean
  readonly tls_required?: boolean
  readonly auth_token?: string
  readonly user?: string
  readonly pass?: string
  readonly name?: string
  readonly lang?: string
  readonly version?: string
  readonly protocol?: number
  readonly echo?: boolean
  readonly headers?: boolean
  readonly no_responders?: boolean
  readonly raw: Readonly<Record<string, unknown>>
}

/** What the server sends in INFO (fields as NATS names them). */
export interface ServerInfo {
  readonly server_id: string
  readonly server_name: string
  readonly version: string
  readonly proto: number
  readonly go?: string
  readonly host: string
  readonly port: number
  readonly headers: boolean
  readonly max_payload: number
  readonly client_id?: number
  readonly client_ip?: string
  readonly auth_required?: boolean
  readonly tls_required?: boolean
  readonly tls_available?: boolean
  readonly connect_urls?: readonly string[]
  readonly [extra: string]: unknown
}

/**
 * One protocol operation, either direction. Payloads are raw bytes (never decoded). A payload may
 * be a view into the chunk that was pushed or a fresh copy; the parser never writes to bytes it
 * has returned, so holders may keep them.
 */
export type ProtocolOp =
  | { readonly op: 'INFO'; readonly info: ServerInfo }
  | { readonly op: 'CONNECT'; readonly options: ConnectOptions }
  | { readonly op: 'PUB'; readonly subject: string; readonly replyTo?: string; readonly payload: Uint8Array }
  | {
      readonly op: 'HPUB'
      readonly subject: string
      readonly replyTo?: string
      readonly headers: MsgHeaders
      /**
       * The header block exactly as received (set by the parser, ignored by the encoder), so a
       * server can forward HPUB as HMSG without re-encoding the headers.
       */
      readonly rawHeaders?: Uint8Array
      readonly payload: Uint8Array
    }
  | { readonly op: 'SUB'; readonly subject: string; readonly queue?: string; readonly sid: string }
  | { readonly op: 'UNSUB'; readonly sid: string; readonly maxMsgs?: number }
  | {
      readonly op: 'MSG'
      readonly subject: string
      readonly sid: string
      readonly replyTo?: string
      readonly payload: Uint8Array
    }
  | {
      readonly op: 'HMSG'
      readonly subject: string
      readonly sid: string
      readonly replyTo?: string
      readonly headers: MsgHeaders
      /** The header block exactly as received (set by the parser, ignored by the encoder). */
      readonly rawHeaders?: Uint8Array
      readonly payload: Uint8Array
    }
  | { readonly op: 'PING' }
  | { readonly op: 'PONG' }
  | { readonly op: 'OK' }
  | { readonly op: 'ERR'; readonly message: string }

export type ProtocolOpName = ProtocolOp['op']

/**
 * Errors the parser reports. Each maps to the NATS error text the server sends before closing
 * (all parser errors are fatal to the connection).
 */
export const parserErrorTexts = {
  unknownOperation: 'Unknown Protocol Operation',
  controlLineTooLong: 'Maximum Control Line Exceeded',
  payloadTooLarge: 'Maximum Payload Violation',
  malformed: 'Parser Error',
} as const
export type ParserErrorKind = keyof typeof parserErrorTexts

export interface ParserError {
  readonly kind: ParserErrorKind
  /** Human detail for logs; never sent to the peer verbatim beyond the NATS text. */
  readonly detail: string
}

/** Which side the parser serves: a server parses client verbs, a client parses server verbs. */
export type ParserRole = 'server' | 'client'

export interface ParserOptions {
  readonly role: ParserRole
  readonly controlLineBytesMax?: number
  readonly payloadBytesMax?: number
  /** Longest header block accepted in HPUB/HMSG; defaults to protocolLimits.headerBytesMax. */
  readonly headerBytesMax?: number
}

/**
 * A resumable parser: feed it any chunking of the byte stream. `push` returns the ops
 * completed by this chunk, or stops at the first error (after which the parser is dead and the
 * connection must be closed). Ops before the error in the same chunk are still returned.
 */
export interface ProtocolParser {
  push(chunk: Uint8Array): { readonly ops: ProtocolOp[]; readonly error?: ParserError }
  /** Bytes buffered waiting for the rest of an op (bounded by the limits above). */
  readonly bufferedBytes: number
}
