// NATS message headers: the `NATS/1.0[ code[ description]]\r\n(Key: value\r\n)*\r\n` block that
// opens the payload of HPUB/HMSG. Pure: no node:* imports.
import type { MsgHeaders } from './types.js'

/** The version line every header block starts with. */
export const headerVersionLine = 'NATS/1.0'

/** Thrown by the encoder (and `headersFrom`) when a key, value or status cannot be written. */
export class InvalidHeaderError extends Error {
  readonly code = 'RG_ERR_INVALID_HEADER'
  constructor(message: string) {
    super(message)
    this.name = 'InvalidHeaderError'
  }
}

/**
 * A `MsgHeaders` value with lookup helpers. The decoder and `headersFrom` return this class;
 * any plain object matching `MsgHeaders` works with the free functions below as well.
 */
export class NatsHeaders implements MsgHeaders {
  readonly status?: number
  readonly description?: string
  readonly entries: ReadonlyArray<readonly [string, string]>

  constructor(entries: ReadonlyArray<readonly [string, string]>, status?: number, description?: string) {
    this.entries = entries
    if (status !== undefined) this.status = status
    if (description !== undefined) this.description = description
  }

  /** First value of `key` (case-insensitive), or undefined. */
  get(key: string): string | undefined {
    return headerGet(this, key)
  }

  /** Every value of `key` (case-insensitive), in order. */
  values(key: string): string[] {
    return headerValues(this, key)
  }
}

/** First value of `key`, compared case-insensitively (as NATS clients do); undefined if absent. */
export function headerGet(headers: MsgHeaders, key: string): string | undefined {
  const wanted = key.toLowerCase()
  for (const [k, v] of headers.entries) if (k.toLowerCase() === wanted) return v
  return undefined
}

/** Every value of `key` (case-insensitive), in block order. */
export function headerValues(headers: MsgHeaders, key: string): string[] {
  const wanted = key.toLowerCase()
  const out: string[] = []
  for (const [k, v] of headers.entries) if (k.toLowerCase() === wanted) out.push(v)
  return out
}

export type HeadersInit =
  | Readonly<Record<string, string | readonly string[]>>
  | Iterable<readonly [string, string]>

/**
 * Builds validated headers from a record (array values become repeated keys) or from
 * [key, value] pairs. Throws InvalidHeaderError on a key or value the encoder would refuse.
 */
export function headersFrom(init: HeadersInit, status?: number, description?: string): NatsHeaders {
  const entries: Array<readonly [string, string]> = []
  if (isIterable(init)) {
    for (const [k, v] of init) entries.push([k, v])
  } else {
    for (const k of Object.keys(init)) {
      const value = init[k]
      if (value === undefined) continue
      if (typeof value === 'string') entries.push([k, value])
      else for (const v of value) entries.push([k, v])
    }
  }
  const headers = new NatsHeaders(entries, status, description)
  validateHeaders(headers)
  return headers
}

function isIterable(value: HeadersInit): value is Iterable<readonly [string, string]> {
  return typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function'
}

/** Invariant enforced: keys are non-empty and hold no ':', whitespace, control characters. */
function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'header key is empty'
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    if (c === 0x3a) return `header key ${JSON.stringify(key)} contains ':'`
    if (c <= 0x20 || c === 0x7f) return `header key ${JSON.stringify(key)} contains whitespace or a control character`
  }
  return undefined
}

function valueProblem(what: string, value: string): string | undefined {
  if (value.includes('\r') || value.includes('\n')) return `${what} ${JSON.stringify(value)} contains CR or LF`
  return undefined
}

/** Throws InvalidHeaderError with a message naming the offending key or value. */
export function validateHeaders(headers: MsgHeaders): void {
  const { status, description } = headers
  if (status !== undefined && (!Number.isInteger(status) || status < 0 || status > 999)) {
    throw new InvalidHeaderError(`header status ${status} is not an integer in 0..999`)
  }
  if (description !== undefined) {
    if (status === undefined) throw new InvalidHeaderError('header description given without a status code')
    const problem = valueProblem('header description', description)
    if (problem !== undefined) throw new InvalidHeaderError(problem)
  }
  for (const [k, v] of headers.entries) {
    const problem = keyProblem(k) ?? valueProblem(`value of header ${JSON.stringify(k)}`, v)
    if (problem !== undefined) throw new InvalidHeaderError(problem)
  }
}

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder()

/** Encodes a header block (ending with the blank line). Validates first; throws InvalidHeaderError. */
export function encodeHeaders(headers: MsgHeaders): Uint8Array {
  validateHeaders(headers)
  let text = headerVersionLine
  if (headers.status !== undefined) {
    text += ` ${headers.status}`
    if (headers.description !== undefined && headers.description.length > 0) text += ` ${headers.description}`
  }
  text += '\r\n'
  for (const [k, v] of headers.entries) text += `${k}: ${v}\r\n`
  text += '\r\n'
  return textEncoder.encode(text)
}

/** Decoder outcome: headers, or a reason the block is malformed. */
export type HeadersDecodeResult =
  | { readonly ok: true; readonly headers: NatsHeaders }
  | { readonly ok: false; readonly reason: string }

function fail(reason: string): HeadersDecodeResult {
  return { ok: false, reason }
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09
}

/**
 * Decodes one complete header block (exactly the `#header bytes` of an HPUB/HMSG). Lines must end
 * in CRLF and the block in an empty line. Values lose leading spaces/tabs (`Key:  v` → `v`) and
 * keep everything else; a repeated key gives repeated entries in order.
 */
export function decodeHeaders(block: Uint8Array): HeadersDecodeResult {
  const text = textDecoder.decode(block)
  if (!text.endsWith('\r\n\r\n')) return fail('header block does not end with an empty CRLF line')
  const lines = text.slice(0, -4).split('\r\n')
  const first = lines[0] ?? ''
  if (!first.startsWith(headerVersionLine)) return fail(`header block does not start with ${headerVersionLine}`)
  let status: number | undefined
  let description: string | undefined
  const rest = first.slice(headerVersionLine.length)
  if (rest.length > 0) {
    if (!isBlank(rest.charCodeAt(0))) return fail(`bad header version line ${JSON.stringify(first)}`)
    const trimmed = rest.replace(/^[ \t]+/, '').replace(/[ \t]+$/, '')
    if (trimmed.length > 0) {
      const match = /^(\d{1,3})(?:[ \t]+(.*))?$/.exec(trimmed)
      if (match === null) return fail(`bad header status ${JSON.stringify(trimmed)}`)
      status = Number(match[1])
      if (match[2] !== undefined && match[2].length > 0) description = match[2]
    }
  }
  const entries: Array<readonly [string, string]> = []
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? ''
    if (line.includes('\r') || line.includes('\n')) return fail('header line contains a bare CR or LF')
    const colon = line.indexOf(':')
    if (colon <= 0) return fail(`header line ${JSON.stringify(line)} has no key`)
    const key = line.slice(0, colon)
    const problem = keyProblem(key)
    if (problem !== undefined) return fail(problem)
    let start = colon + 1
    while (start < line.length && isBlank(line.charCodeAt(start))) start++
    entries.push([key, line.slice(start)])
  }
  return { ok: true, headers: new NatsHeaders(entries, status, description) }
}
