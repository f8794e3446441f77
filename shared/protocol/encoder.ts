// ProtocolOp → bytes, always upper-case verbs, single spaces and CRLF. Pure: no node:* imports.
//
// `encodeOp` asserts that subjects, sids, reply subjects and queue names are non-empty and free
// of whitespace (a bug in the caller otherwise: the frame would not parse back). The hot-path
// helpers `encodeMsgHeader`/`encodeHmsgHeader`/`encodePubHeader`/`encodeHpubHeader` skip those
// checks: their arguments come from already validated SUB/PUB ops.
import type { ErrorCode } from '../errors.js'
import { encodeHeaders } from './headers.js'
import { connectOptionsJson } from './json-ops.js'
import type { ProtocolOp } from './types.js'

const textEncoder = new TextEncoder()

/** The two bytes that end every control line and every payload; never write into them. */
export const crlf = new Uint8Array([0x0d, 0x0a])

/** Pre-encoded bodiless ops; never write into them. */
export const pingBytes = textEncoder.encode('PING\r\n')
export const pongBytes = textEncoder.encode('PONG\r\n')
export const okBytes = textEncoder.encode('+OK\r\n')

/** Thrown by encodeOp on arguments that cannot be written as a parseable frame (a caller bug). */
export class ProtocolEncodeError extends Error {
  readonly code = 'RG_ERR_PROTOCOL_ENCODE' satisfies ErrorCode
  constructor(message: string) {
    super(message)
    this.name = 'ProtocolEncodeError'
  }
}

/** True for the empty string and for any space, tab, CR, LF or other control character. */
function isBadToken(value: string): boolean {
  if (value.length === 0) return true
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c <= 0x20 || c === 0x7f) return true
  }
  return false
}

function token(what: string, value: string): string {
  if (isBadToken(value)) {
    throw new ProtocolEncodeError(`${what} ${JSON.stringify(value)} is empty or contains whitespace`)
  }
  return value
}

function optionalToken(what: string, value: string | undefined): string {
  return value === undefined ? '' : ` ${token(what, value)}`
}

/** `MSG <subject> <sid> [reply] <#bytes>\r\n` — write the payload and `crlf` after it. */
export function encodeMsgHeader(subject: string, sid: string, replyTo: string | undefined, payloadBytes: number): Uint8Array {
  return textEncoder.encode(
    replyTo === undefined
      ? `MSG ${subject} ${sid} ${payloadBytes}\r\n`
      : `MSG ${subject} ${sid} ${replyTo} ${payloadBytes}\r\n`,
  )
}

/**
 * `HMSG <subject> <sid> [reply] <#header bytes> <#total bytes>\r\n` — write the header block, the
 * payload and `crlf` after it. `totalBytes` counts header block + payload.
 */
export function encodeHmsgHeader(
  subject: string,
  sid: string,
  replyTo: string | undefined,
  headerBytes: number,
  totalBytes: number,
): Uint8Array {
  return textEncoder.encode(
    replyTo === undefined
      ? `HMSG ${subject} ${sid} ${headerBytes} ${totalBytes}\r\n`
      : `HMSG ${subject} ${sid} ${replyTo} ${headerBytes} ${totalBytes}\r\n`,
  )
}

/** `PUB <subject> [reply] <#bytes>\r\n` — the client's hot path, like encodeMsgHeader. */
export function encodePubHeader(subject: string, replyTo: string | undefined, payloadBytes: number): Uint8Array {
  return textEncoder.encode(
    replyTo === undefined ? `PUB ${subject} ${payloadBytes}\r\n` : `PUB ${subject} ${replyTo} ${payloadBytes}\r\n`,
  )
}

/** `HPUB <subject> [reply] <#header bytes> <#total bytes>\r\n`. */
export function encodeHpubHeader(
  subject: string,
  replyTo: string | undefined,
  headerBytes: number,
  totalBytes: number,
): Uint8Array {
  return textEncoder.encode(
    replyTo === undefined
      ? `HPUB ${subject} ${headerBytes} ${totalBytes}\r\n`
      : `HPUB ${subject} ${replyTo} ${headerBytes} ${totalBytes}\r\n`,
  )
}

/** `-ERR '<text>'\r\n`. The text must not contain CR or LF. */
export function encodeErr(message: string): Uint8Array {
  if (message.includes('\r') || message.includes('\n')) {
    throw new ProtocolEncodeError(`-ERR text ${JSON.stringify(message)} contains CR or LF`)
  }
  return textEncoder.encode(`-ERR '${message}'\r\n`)
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0
  for (const part of parts) length += part.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

function jsonLine(verb: string, value: unknown): Uint8Array {
  // JSON.stringify escapes CR/LF inside strings, so the line stays one line.
  return textEncoder.encode(`${verb} ${JSON.stringify(value)}\r\n`)
}

/** One complete frame for `op`, ready to write. */
export function encodeOp(op: ProtocolOp): Uint8Array {
  switch (op.op) {
    case 'PING':
      return pingBytes.slice()
    case 'PONG':
      return pongBytes.slice()
    case 'OK':
      return okBytes.slice()
    case 'ERR':
      return encodeErr(op.message)
    case 'INFO':
      return jsonLine('INFO', op.info)
    case 'CONNECT':
      return jsonLine('CONNECT', connectOptionsJson(op.options))
    case 'SUB':
      return textEncoder.encode(`SUB ${token('subject', op.subject)}${optionalToken('queue', op.queue)} ${token('sid', op.sid)}\r\n`)
    case 'UNSUB': {
      const max = op.maxMsgs
      if (max !== undefined && (!Number.isSafeInteger(max) || max < 0)) {
        throw new ProtocolEncodeError(`UNSUB max ${max} is not a non-negative integer`)
      }
      return textEncoder.encode(`UNSUB ${token('sid', op.sid)}${max === undefined ? '' : ` ${max}`}\r\n`)
    }
    case 'PUB':
      token('subject', op.subject)
      optionalToken('reply subject', op.replyTo)
      return concat([encodePubHeader(op.subject, op.replyTo, op.payload.length), op.payload, crlf])
    case 'MSG':
      token('subject', op.subject)
      token('sid', op.sid)
      optionalToken('reply subject', op.replyTo)
      return concat([encodeMsgHeader(op.subject, op.sid, op.replyTo, op.payload.length), op.payload, crlf])
    case 'HPUB': {
      token('subject', op.subject)
      optionalToken('reply subject', op.replyTo)
      const block = encodeHeaders(op.headers)
      const header = encodeHpubHeader(op.subject, op.replyTo, block.length, block.length + op.payload.length)
      return concat([header, block, op.payload, crlf])
    }
    case 'HMSG': {
      token('subject', op.subject)
      token('sid', op.sid)
      optionalToken('reply subject', op.replyTo)
      const block = encodeHeaders(op.headers)
      const header = encodeHmsgHeader(op.subject, op.sid, op.replyTo, block.length, block.length + op.payload.length)
      return concat([header, block, op.payload, crlf])
    }
  }
}
