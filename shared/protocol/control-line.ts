// Parses one control line (verb + args, CR/LF already stripped) into an op, or into the header of
// a message whose payload follows. Pure: no node:* imports.
import { connectOptionsFrom, serverInfoFrom } from './json-ops.js'
import { decodeText, parseDecimal } from './text.js'
import type { ParserError, ParserRole, ProtocolOp } from './types.js'

/** A message op whose control line is parsed; its payload (`totalBytes`) is still to come. */
export interface PendingMessage {
  op: 'PUB' | 'HPUB' | 'MSG' | 'HMSG'
  subject: string
  sid: string
  replyTo: string | undefined
  /** Header block length (HPUB/HMSG), 0 otherwise. */
  headerBytes: number
  /** Payload length including the header block; the CRLF after it is not counted. */
  totalBytes: number
}

export interface ControlLineLimits {
  readonly payloadBytesMax: number
  readonly headerBytesMax: number
}

const pingOp: ProtocolOp = Object.freeze({ op: 'PING' })
const pongOp: ProtocolOp = Object.freeze({ op: 'PONG' })
const okOp: ProtocolOp = Object.freeze({ op: 'OK' })

/** Most whitespace-separated args any verb takes (HMSG: 5), plus one to detect "too many". */
const argsMax = 6
// Scratch for the tokenizer; parsing is synchronous, so one set of slots serves every parser.
const argStarts = new Int32Array(argsMax)
const argEnds = new Int32Array(argsMax)

const space = 0x20
const tab = 0x09
const carriageReturn = 0x0d

/** Splits [start, end) on runs of spaces/tabs. Returns the count, -1 for too many, -2 for a CR. */
function tokenize(buf: Uint8Array, start: number, end: number): number {
  let count = 0
  let i = start
  while (i < end) {
    const c = buf[i] as number
    if (c === space || c === tab) {
      i++
      continue
    }
    if (count === argsMax) return -1
    argStarts[count] = i
    while (i < end) {
      const d = buf[i] as number
      if (d === space || d === tab) break
      if (d === carriageReturn) return -2
      i++
    }
    argEnds[count++] = i
  }
  return count
}

function arg(buf: Uint8Array, index: number): string {
  return decodeText(buf, argStarts[index] as number, argEnds[index] as number)
}

function argNumber(buf: Uint8Array, index: number): number {
  return parseDecimal(buf, argStarts[index] as number, argEnds[index] as number)
}

const Verb = {
  unknown: 0,
  connect: 1,
  pub: 2,
  hpub: 3,
  sub: 4,
  unsub: 5,
  ping: 6,
  pong: 7,
  info: 8,
  msg: 9,
  hmsg: 10,
  ok: 11,
  err: 12,
} as const
type Verb = (typeof Verb)[keyof typeof Verb]

const serverVerbs: ReadonlySet<Verb> = new Set([Verb.connect, Verb.pub, Verb.hpub, Verb.sub, Verb.unsub, Verb.ping, Verb.pong])
const clientVerbs: ReadonlySet<Verb> = new Set([Verb.info, Verb.msg, Verb.hmsg, Verb.ping, Verb.pong, Verb.ok, Verb.err])

/** Case-insensitive compare of buf[start..] with a lower-case ASCII verb. */
function verbIs(buf: Uint8Array, start: number, lowerVerb: string): boolean {
  for (let i = 0; i < lowerVerb.length; i++) {
    const want = lowerVerb.charCodeAt(i)
    const got = buf[start + i] as number
    // Only letters fold case: `| 0x20` maps 'A'..'Z' onto 'a'..'z'.
    if (got !== want && !(want >= 0x61 && want <= 0x7a && (got | 0x20) === want)) return false
  }
  return true
}

function identifyVerb(buf: Uint8Array, start: number, length: number): Verb {
  switch (length) {
    case 3:
      if (verbIs(buf, start, 'pub')) return Verb.pub
      if (verbIs(buf, start, 'msg')) return Verb.msg
      if (verbIs(buf, start, 'sub')) return Verb.sub
      if (verbIs(buf, start, '+ok')) return Verb.ok
      return Verb.unknown
    case 4:
      if (verbIs(buf, start, 'hpub')) return Verb.hpub
      if (verbIs(buf, start, 'hmsg')) return Verb.hmsg
      if (verbIs(buf, start, 'ping')) return Verb.ping
      if (verbIs(buf, start, 'pong')) return Verb.pong
      if (verbIs(buf, start, 'info')) return Verb.info
      if (verbIs(buf, start, '-err')) return Verb.err
      return Verb.unknown
    case 5:
      return verbIs(buf, start, 'unsub') ? Verb.unsub : Verb.unknown
    case 7:
      return verbIs(buf, start, 'connect') ? Verb.connect : Verb.unknown
    default:
      return Verb.unknown
  }
}

function malformed(detail: string): ParserError {
  return { kind: 'malformed', detail }
}

/** The text after the verb, without surrounding spaces/tabs. */
function restOfLine(buf: Uint8Array, from: number, end: number): string {
  let start = from
  while (start < end && (buf[start] === space || buf[start] === tab)) start++
  let stop = end
  while (stop > start && (buf[stop - 1] === space || buf[stop - 1] === tab)) stop--
  return decodeText(buf, start, stop)
}

function parseJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) as unknown }
  } catch {
    return undefined
  }
}

/**
 * Parses [start, end) of `buf`. Returns an op, a ParserError, or null after filling `pending`
 * with a message header whose payload the caller must read next.
 */
export function parseControlLine(
  buf: Uint8Array,
  start: number,
  end: number,
  role: ParserRole,
  limits: ControlLineLimits,
  pending: PendingMessage,
): ProtocolOp | ParserError | null {
  let verbEnd = start
  while (verbEnd < end && buf[verbEnd] !== space && buf[verbEnd] !== tab) verbEnd++
  const verb = identifyVerb(buf, start, verbEnd - start)
  if (verb === Verb.unknown || !(role === 'server' ? serverVerbs : clientVerbs).has(verb)) {
    const shown = decodeText(buf, start, Math.min(verbEnd, start + 32))
    return { kind: 'unknownOperation', detail: `unknown operation ${JSON.stringify(shown)} for a ${role}` }
  }
  switch (verb) {
    // Like nats-server, anything after PING/PONG/+OK is ignored.
    case Verb.ping:
      return pingOp
    case Verb.pong:
      return pongOp
    case Verb.ok:
      return okOp
    case Verb.err: {
      let message = restOfLine(buf, verbEnd, end)
      if (message.length >= 2 && message.startsWith("'") && message.endsWith("'")) message = message.slice(1, -1)
      return { op: 'ERR', message }
    }
    case Verb.connect:
    case Verb.info: {
      const name = verb === Verb.connect ? 'CONNECT' : 'INFO'
      const parsed = parseJson(restOfLine(buf, verbEnd, end))
      if (parsed === undefined) return malformed(`${name} argument is not valid JSON`)
      if (verb === Verb.connect) {
        const options = connectOptionsFrom(parsed.value)
        return typeof options === 'string' ? malformed(options) : { op: 'CONNECT', options }
      }
      const info = serverInfoFrom(parsed.value)
      return typeof info === 'string' ? malformed(info) : { op: 'INFO', info }
    }
    default:
      break
  }
  const count = tokenize(buf, verbEnd, end)
  if (count === -2) return malformed('control line contains a bare CR')
  switch (verb) {
    case Verb.sub: {
      if (count !== 2 && count !== 3) return malformed(`SUB takes 2 or 3 arguments, got ${count < 0 ? 'too many' : count}`)
      return { op: 'SUB', subject: arg(buf, 0), queue: count === 3 ? arg(buf, 1) : undefined, sid: arg(buf, count - 1) }
    }
    case Verb.unsub: {
      if (count !== 1 && count !== 2) return malformed(`UNSUB takes 1 or 2 arguments, got ${count < 0 ? 'too many' : count}`)
      let maxMsgs: number | undefined
      if (count === 2) {
        maxMsgs = argNumber(buf, 1)
        if (maxMsgs < 0 || !Number.isSafeInteger(maxMsgs)) return malformed('UNSUB max is not a number')
      }
      return { op: 'UNSUB', sid: arg(buf, 0), maxMsgs }
    }
    case Verb.pub:
    case Verb.hpub:
    case Verb.msg:
    case Verb.hmsg:
      return parseMessageLine(buf, verb, count, limits, pending)
    default:
      return malformed('unreachable verb')
  }
}

function parseMessageLine(
  buf: Uint8Array,
  verb: Verb,
  count: number,
  limits: ControlLineLimits,
  pending: PendingMessage,
): ParserError | null {
  const withHeaders = verb === Verb.hpub || verb === Verb.hmsg
  const withSid = verb === Verb.msg || verb === Verb.hmsg
  const name = verb === Verb.pub ? 'PUB' : verb === Verb.hpub ? 'HPUB' : verb === Verb.msg ? 'MSG' : 'HMSG'
  // Fixed args: subject, [sid], [header bytes], total bytes; reply-to is the one optional arg.
  const fixed = 2 + (withSid ? 1 : 0) + (withHeaders ? 1 : 0)
  if (count !== fixed && count !== fixed + 1) {
    return malformed(`${name} takes ${fixed} or ${fixed + 1} arguments, got ${count < 0 ? 'too many' : count}`)
  }
  const totalBytes = argNumber(buf, count - 1)
  const headerBytes = withHeaders ? argNumber(buf, count - 2) : 0
  if (totalBytes < 0 || headerBytes < 0) return malformed(`${name} size is not a number`)
  if (totalBytes > limits.payloadBytesMax) {
    return { kind: 'payloadTooLarge', detail: `${name} of ${totalBytes} bytes exceeds ${limits.payloadBytesMax}` }
  }
  if (headerBytes > totalBytes) return malformed(`${name} header size ${headerBytes} exceeds total size ${totalBytes}`)
  if (headerBytes > limits.headerBytesMax) {
    return { kind: 'payloadTooLarge', detail: `${name} header block of ${headerBytes} bytes exceeds ${limits.headerBytesMax}` }
  }
  pending.op = name
  pending.subject = arg(buf, 0)
  pending.sid = withSid ? arg(buf, 1) : ''
  pending.replyTo = count === fixed + 1 ? arg(buf, withSid ? 2 : 1) : undefined
  pending.headerBytes = headerBytes
  pending.totalBytes = totalBytes
  return null
}
