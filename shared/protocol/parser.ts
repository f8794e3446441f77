// The resumable NATS protocol parser: bytes in any chunking → ProtocolOp values. Pure: no node:*.
//
// States: `line` (collecting a control line up to LF), `payload` (copying a payload that spans
// chunks), `payloadCr` / `payloadLf` (expecting the CRLF after a payload), `dead` (after an
// error; every later push returns the same error).
//
// Control lines end in CRLF; like nats-server we also accept a bare LF (a CR right before the LF
// is dropped, a CR anywhere else on the line is malformed). Payloads must be followed by exactly
// CRLF. A payload that lies entirely inside the pushed chunk is returned as a subarray view of
// it (no copy); only a payload split across pushes is copied into a buffer of its exact size.
import { parseControlLine } from './control-line.js'
import type { PendingMessage } from './control-line.js'
import { decodeHeaders } from './headers.js'
import { protocolLimits } from './types.js'
import type { ParserError, ParserOptions, ParserRole, ProtocolOp, ProtocolParser } from './types.js'

const State = {
  line: 0,
  payload: 1,
  payloadCr: 2,
  payloadLf: 3,
  dead: 4,
} as const
type State = (typeof State)[keyof typeof State]

const lineFeed = 0x0a
const carriageReturn = 0x0d
const emptyPayload = new Uint8Array(0)

export interface ParserLimits {
  readonly controlLineBytesMax: number
  readonly payloadBytesMax: number
  readonly headerBytesMax: number
}

/**
 * The most `bufferedBytes` can ever reach under these limits: a control line (plus its CR) or
 * one payload, never both.
 */
export function bufferedBytesBound(limits: ParserLimits): number {
  return Math.max(limits.controlLineBytesMax + 1, limits.payloadBytesMax)
}

class Parser implements ProtocolParser {
  readonly role: ParserRole
  readonly limits: ParserLimits
  private state: State = State.line
  /** Holds a control line split across pushes; capacity controlLineBytesMax + 1 (its CR). */
  private lineBuffer: Uint8Array | undefined
  private lineBytes = 0
  private readonly pending: PendingMessage = {
    op: 'PUB',
    subject: '',
    sid: '',
    replyTo: undefined,
    headerBytes: 0,
    totalBytes: 0,
  }
  /** The payload being copied (state payload) or complete and awaiting CRLF (payloadCr/Lf). */
  private payload: Uint8Array = emptyPayload
  private payloadFilledBytes = 0
  private error: ParserError | undefined

  constructor(options: ParserOptions) {
    this.role = options.role
    this.limits = {
      controlLineBytesMax: options.controlLineBytesMax ?? protocolLimits.controlLineBytesMax,
      payloadBytesMax: options.payloadBytesMax ?? protocolLimits.payloadBytesMaxDefault,
      headerBytesMax: options.headerBytesMax ?? protocolLimits.headerBytesMax,
    }
  }

  get bufferedBytes(): number {
    if (this.state === State.payload) return this.payloadFilledBytes
    if (this.state === State.payloadCr || this.state === State.payloadLf) return this.payload.length
    return this.lineBytes
  }

  push(chunk: Uint8Array): { readonly ops: ProtocolOp[]; readonly error?: ParserError } {
    const ops: ProtocolOp[] = []
    if (this.error !== undefined) return { ops, error: this.error }
    const error = this.consume(chunk, ops)
    if (error === undefined) return { ops }
    this.die(error)
    return { ops, error }
  }

  private die(error: ParserError): void {
    this.error = error
    this.state = State.dead
    this.lineBytes = 0
    this.lineBuffer = undefined
    this.payload = emptyPayload
    this.payloadFilledBytes = 0
  }

  private consume(chunk: Uint8Array, ops: ProtocolOp[]): ParserError | undefined {
    const length = chunk.length
    const lineMax = this.limits.controlLineBytesMax
    let pos = 0
    while (pos < length) {
      switch (this.state) {
        case State.line: {
          const lf = chunk.indexOf(lineFeed, pos)
          if (lf < 0) return this.bufferLine(chunk, pos, length)
          let buf = chunk
          let start = pos
          let end = lf
          if (this.lineBytes > 0) {
            const tooLong = this.bufferLine(chunk, pos, lf)
            if (tooLong !== undefined) return tooLong
            buf = this.lineBuffer as Uint8Array
            start = 0
            end = this.lineBytes
            this.lineBytes = 0
          }
          pos = lf + 1
          if (end > start && buf[end - 1] === carriageReturn) end--
          if (end - start > lineMax) return lineTooLong(end - start, lineMax)
          const result = parseControlLine(buf, start, end, this.role, this.limits, this.pending)
          if (result !== null) {
            if ('kind' in result) return result
            ops.push(result)
            break
          }
          // A message: take the payload straight from this chunk when it is all here.
          const total = this.pending.totalBytes
          const available = length - pos
          if (available >= total + 2) {
            if (chunk[pos + total] !== carriageReturn || chunk[pos + total + 1] !== lineFeed) {
              return missingCrlf(this.pending.op)
            }
            const op = this.message(chunk.subarray(pos, pos + total))
            if ('kind' in op) return op
            ops.push(op)
            pos += total + 2
          } else if (available >= total) {
            this.payload = chunk.subarray(pos, pos + total)
            pos += total
            this.state = State.payloadCr
          } else {
            this.payload = new Uint8Array(total)
            this.payload.set(chunk.subarray(pos))
            this.payloadFilledBytes = available
            pos = length
            this.state = State.payload
          }
          break
        }
        case State.payload: {
          const wanted = this.payload.length - this.payloadFilledBytes
          const take = Math.min(wanted, length - pos)
          this.payload.set(chunk.subarray(pos, pos + take), this.payloadFilledBytes)
          this.payloadFilledBytes += take
          pos += take
          if (this.payloadFilledBytes === this.payload.length) {
            this.payloadFilledBytes = 0
            this.state = State.payloadCr
          }
          break
        }
        case State.payloadCr:
          if (chunk[pos] !== carriageReturn) return missingCrlf(this.pending.op)
          pos++
          this.state = State.payloadLf
          break
        case State.payloadLf: {
          if (chunk[pos] !== lineFeed) return missingCrlf(this.pending.op)
          pos++
          const op = this.message(this.payload)
          this.payload = emptyPayload
          this.state = State.line
          if ('kind' in op) return op
          ops.push(op)
          break
        }
        default:
          return this.error
      }
    }
    return undefined
  }

  /** Appends chunk[from, to) to the line buffer; errors as soon as the line cannot fit. */
  private bufferLine(chunk: Uint8Array, from: number, to: number): ParserError | undefined {
    const lineMax = this.limits.controlLineBytesMax
    const bytes = this.lineBytes + (to - from)
    // Room for lineMax bytes plus the CR that may precede the LF, no more.
    if (bytes > lineMax + 1) return lineTooLong(bytes, lineMax)
    if (bytes === lineMax + 1) {
      const last = to > from ? chunk[to - 1] : this.lineBuffer?.[this.lineBytes - 1]
      if (last !== carriageReturn) return lineTooLong(bytes, lineMax)
    }
    if (this.lineBuffer === undefined) this.lineBuffer = new Uint8Array(lineMax + 1)
    this.lineBuffer.set(chunk.subarray(from, to), this.lineBytes)
    this.lineBytes = bytes
    return undefined
  }

  private message(payload: Uint8Array): ProtocolOp | ParserError {
    const p = this.pending
    switch (p.op) {
      case 'PUB':
        return { op: 'PUB', subject: p.subject, replyTo: p.replyTo, payload }
      case 'MSG':
        return { op: 'MSG', subject: p.subject, sid: p.sid, replyTo: p.replyTo, payload }
      default: {
        // An empty header block (`HPUB subj 0 5`, which nats.js sends for an empty header set)
        // is a plain message, as nats-server treats it.
        if (p.headerBytes === 0) {
          return p.op === 'HPUB'
            ? { op: 'PUB', subject: p.subject, replyTo: p.replyTo, payload }
            : { op: 'MSG', subject: p.subject, sid: p.sid, replyTo: p.replyTo, payload }
        }
        const rawHeaders = payload.subarray(0, p.headerBytes)
        const decoded = decodeHeaders(rawHeaders)
        if (!decoded.ok) return { kind: 'malformed', detail: `${p.op} ${decoded.reason}` }
        const headers = decoded.headers
        const body = payload.subarray(p.headerBytes)
        return p.op === 'HPUB'
          ? { op: 'HPUB', subject: p.subject, replyTo: p.replyTo, headers, rawHeaders, payload: body }
          : { op: 'HMSG', subject: p.subject, sid: p.sid, replyTo: p.replyTo, headers, rawHeaders, payload: body }
      }
    }
  }
}

function lineTooLong(bytes: number, lineMax: number): ParserError {
  return { kind: 'controlLineTooLong', detail: `control line of ${bytes}+ bytes exceeds ${lineMax}` }
}

function missingCrlf(op: string): ParserError {
  return { kind: 'malformed', detail: `${op} payload is not followed by CRLF` }
}

/** A parser for one connection. `role: 'server'` parses client verbs; `'client'` server verbs. */
export function createParser(options: ParserOptions): ProtocolParser & { readonly limits: ParserLimits } {
  return new Parser(options)
}
