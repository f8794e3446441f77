// A received message and the header values callers pass in. Decoding (string, JSON, header
// lookup) is lazy so the delivery hot path only allocates the Message itself.
import { headerValues, headersFrom, validateHeaders } from '../shared/protocol/headers.js'
import type { MsgHeaders } from '../shared/protocol/types.js'
import { InvalidArgumentError } from './errors.js'

/** Headers as callers write them: a record (a key may hold several values) or [key, value] pairs. */
export type HeadersInit =
  | Readonly<Record<string, string | readonly string[]>>
  | Iterable<readonly [string, string]>
  | MsgHeaders

export interface PublishOptions {
  readonly headers?: HeadersInit
  readonly replyTo?: string
}

export interface RespondOptions {
  readonly headers?: HeadersInit
}

/** How a Message sends its reply; the client supplies it (publish to the reply subject). */
export type ReplySender = (replyTo: string, data: Uint8Array | string, options: PublishOptions) => void

const textDecoder = new TextDecoder()
const textEncoder = new TextEncoder()

export class Message {
  readonly subject: string
  readonly data: Uint8Array
  readonly replyTo: string | undefined
  readonly headers: MsgHeaders | undefined
  private readonly replySender: ReplySender | undefined

  constructor(
    subject: string,
    data: Uint8Array,
    replyTo: string | undefined,
    headers: MsgHeaders | undefined,
    replySender: ReplySender | undefined,
  ) {
    this.subject = subject
    this.data = data
    this.replyTo = replyTo
    this.headers = headers
    this.replySender = replySender
  }

  /** The payload decoded as UTF-8. */
  string(): string {
    return textDecoder.decode(this.data)
  }

  /** The payload parsed as JSON (throws SyntaxError when it is not JSON). */
  json<T = unknown>(): T {
    return JSON.parse(this.string()) as T
  }

  /** Status code of the header block (`NATS/1.0 503` → 503), undefined when absent. */
  get status(): number | undefined {
    return this.headers?.status
  }

  /** First value of a header, compared case-insensitively. */
  header(key: string): string | undefined {
    return this.headerValues(key)[0]
  }

  /** Every value of a header, in order, compared case-insensitively. */
  headerValues(key: string): string[] {
    return this.headers === undefined ? [] : headerValues(this.headers, key)
  }

  /**
   * Replies on `replyTo`. Returns false when the message has no reply subject (nothing is sent).
   * Throws what `publish` throws (closed connection, full buffer).
   */
  respond(data: Uint8Array | string, options: RespondOptions = {}): boolean {
    if (this.replyTo === undefined || this.replySender === undefined) return false
    this.replySender(this.replyTo, data, options.headers === undefined ? {} : { headers: options.headers })
    return true
  }
}

export function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? textEncoder.encode(data) : data
}

function isMsgHeaders(init: HeadersInit): init is MsgHeaders {
  return 'entries' in init && Array.isArray((init as MsgHeaders).entries)
}

/**
 * Normalizes caller headers to the protocol form (validated with the shared header rules: no
 * CR/LF in values, token keys), appending `extra` pairs. Throws `InvalidArgumentError`.
 */
export function toMsgHeaders(init: HeadersInit, extra?: ReadonlyArray<readonly [string, string]>): MsgHeaders {
  try {
    if (isMsgHeaders(init)) {
      const merged: MsgHeaders = extra === undefined ? init : { ...init, entries: [...init.entries, ...extra] }
      validateHeaders(merged)
      return merged
    }
    const base = headersFrom(init)
    if (extra === undefined) return base
    const merged = { entries: [...base.entries, ...extra] }
    validateHeaders(merged)
    return merged
  } catch (error) {
    throw new InvalidArgumentError(error instanceof Error ? error.message : String(error), { cause: error })
  }
}
