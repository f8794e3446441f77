// NATS message headers: the `NATS/1.0[ code[ description]]\r\n(Key: value\r\n)*\r\n` block that
// opens the payload of HPUB/HMSG. Pure: no node:* imports.
import type { ErrorCode } from '../errors.js'
import { decodeText } from './text.js'
import type { MsgHeaders } from './types.js'

/** The version line every header block starts with. */
export const headerVersionLine = 'NATS/1.0'

/** Thrown by the encoder (and `headersFrom`) when a key, value or status cannot be written. */
export class InvalidHeaderError extends Error {
  readonly code = 'RG_ERR_INVALID_HEADER' satisfies ErrorCode
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

const versionBytes = textEncoder.encode(headerVersionLine)
const cr = 0x0d
const lf = 0x0a
const colon = 0x3a

/** Index of the CR of the CRLF ending the line that starts at `from`, or a failure reason. */
function lineEnd(block: Uint8Array, from: number): number | string {
  const end = block.indexOf(cr, from)
  if (end < 0 || block[end + 1] !== lf) return 'header line does not end in CRLF'
  const bareLf = block.indexOf(lf, from)
  if (bareLf >= 0 && bareLf < end) return 'header line contains a bare LF'
  return end
}

function parseStatusLine(rest: string, first: () => string): HeadersDecodeResult | { status?: number; description?: string } {
  if (rest.length === 0) return {}
  if (!isBlank(rest.charCodeAt(0))) return fail(`bad header version line ${JSON.stringify(first())}`)
  const trimmed = rest.replace(/^[ \t]+/, '').replace(/[ \t]+$/, '')
  if (trimmed.length === 0) return {}
  const match = /^(\d{1,3})(?:[ \t]+(.*))?$/.exec(trimmed)
  if (match === null) return fail(`bad header status ${JSON.stringify(trimmed)}`)
  const description = match[2] !== undefined && match[2].length > 0 ? match[2] : undefined
  return { status: Number(match[1]), description }
}

/**
 * Decodes one complete header block (exactly the `#header bytes` of an HPUB/HMSG). Lines must end
 * in CRLF and the block in an empty line. Values lose leading spaces/tabs (`Key:  v` → `v`) and
 * keep everything else; a repeated key gives repeated entries in order. Works on bytes: keys and
 * values are the only strings made.
 */
export function decodeHeaders(block: Uint8Array): HeadersDecodeResult {
  const length = block.length
  if (length < versionBytes.length + 4) return fail('header block is too short')
  if (block[length - 4] !== cr || block[length - 3] !== lf || block[length - 2] !== cr || block[length - 1] !== lf) {
    return fail('header block does not end with an empty CRLF line')
  }
  for (let i = 0; i < versionBytes.length; i++) {
    if (block[i] !== versionBytes[i]) return fail(`header block does not start with ${headerVersionLine}`)
  }
  const firstEnd = lineEnd(block, versionBytes.length)
  if (typeof firstEnd === 'string') return fail(firstEnd)
  let status: number | undefined
  let description: string | undefined
  if (firstEnd > versionBytes.length) {
    const rest = textDecoder.decode(block.subarray(versionBytes.length, firstEnd))
    const parsed = parseStatusLine(rest, () => textDecoder.decode(block.subarray(0, firstEnd)))
    if ('ok' in parsed) return parsed
    status = parsed.status
    description = parsed.description
  }
  const entries: Array<readonly [string, string]> = []
  const last = length - 2 // the final CRLF (the empty line)
  let pos = firstEnd + 2
  while (pos < last) {
    const end = lineEnd(block, pos)
    if (typeof end === 'string') return fail(end)
    let keyEnd = pos
    while (keyEnd < end && block[keyEnd] !== colon) {
      const c = block[keyEnd] as number
      if (c <= 0x20 || c === 0x7f) return fail(`header key ${JSON.stringify(decodeText(block, pos, end))} contains whitespace or a control character`)
      keyEnd++
    }
    if (keyEnd === end || keyEnd === pos) return fail(`header line ${JSON.stringify(decodeText(block, pos, end))} has no key`)
    let valueStart = keyEnd + 1
    while (valueStart < end && isBlank(block[valueStart] as number)) valueStart++
    entries.push([decodeText(block, pos, keyEnd), decodeText(block, valueStart, end)])
    pos = end + 2
  }
  return { ok: true, headers: new NatsHeaders(entries, status, description) }
}
