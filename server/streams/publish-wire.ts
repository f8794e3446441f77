// How a publish to a persistent stream reads and answers on the wire (docs/api.md § Publishing
// to a persistent stream): the `Rg-Msg-Id` / `Rg-Ack` headers in, the JSON ack out. Pure.
import type { EngineAck } from '../../data-plane/persistent/engine/index.js'
import type { AckLevel } from '../../data-plane/persistent/replica/types.js'
import { ackLevels } from '../../data-plane/persistent/replica/types.js'
import type { EventHeader } from '../../data-plane/persistent/event.js'
import { storageKeyHex } from '../../data-plane/persistent/event.js'
import type { ErrorCode } from '../../shared/errors.js'
import { decodeHeaders } from '../../shared/protocol/index.js'
import type { MsgHeaders } from '../../shared/protocol/index.js'
import { streamAckHeader, streamMsgIdHeader, streamSubjectHeader } from '../../shared/api/index.js'
import { requestTimeoutHeader } from '../../data-plane/response/index.js'

/** Producer id: publishes with the same id inside the stream's dedup window are duplicates. */
export const msgIdHeader = streamMsgIdHeader
/** Ack level: `write` (this node's disk), `majority`, `all`; default the stream's `ackDefault`. */
export const ackHeader = streamAckHeader
/** Transport headers of a request, not kept with the event. */
const transportHeaders = new Set([requestTimeoutHeader.toLowerCase(), streamSubjectHeader.toLowerCase()])

export interface ParsedPublish {
  readonly id: string | undefined
  readonly ackLevel: AckLevel
  /** Every other header (but `Rg-Timeout-Ms`), kept with the event. */
  readonly headers: readonly EventHeader[]
}

export type ParseOutcome = { readonly ok: true; readonly value: ParsedPublish } | { readonly ok: false; readonly code: ErrorCode; readonly message: string }

/**
 * Reads a publish's headers. The subject is stored first as `Rg-Subject` (a client cannot set
 * it, nor `Rg-Timeout-Ms`, which belongs to the request). `decodedHeaders`: the block already
 * decoded (the router passes the parser's), so it is not decoded twice.
 */
export function parsePublish(subject: string, headerBlock: Uint8Array | undefined, ackDefault: AckLevel, decodedHeaders?: MsgHeaders): ParseOutcome {
  if (headerBlock === undefined) return { ok: true, value: { id: undefined, ackLevel: ackDefault, headers: [[streamSubjectHeader, subject]] } }
  let entries: MsgHeaders['entries']
  if (decodedHeaders !== undefined) {
    // The router's client publishes come with the parser's decoding of this very block.
    entries = decodedHeaders.entries
  } else {
    const decoded = decodeHeaders(headerBlock)
    if (!decoded.ok) return { ok: false, code: 'RG_ERR_INVALID_ARGUMENT', message: `headers: ${decoded.reason}` }
    entries = decoded.headers.entries
  }
  let id: string | undefined
  let ackLevel = ackDefault
  const headers: EventHeader[] = [[streamSubjectHeader, subject]]
  for (const [key, value] of entries) {
    const lower = key.toLowerCase()
    if (lower === msgIdHeader.toLowerCase()) {
      if (value.length === 0) return { ok: false, code: 'RG_ERR_INVALID_ARGUMENT', message: `${msgIdHeader}: empty` }
      id = value
    } else if (lower === ackHeader.toLowerCase()) {
      const level = ackLevels.find((candidate) => candidate === value.trim().toLowerCase())
      if (level === undefined) return { ok: false, code: 'RG_ERR_INVALID_ARGUMENT', message: `${ackHeader}: expected one of ${ackLevels.join(', ')}, got '${value}'` }
      ackLevel = level
    } else if (!transportHeaders.has(lower)) {
      headers.push([key, value])
    }
  }
  return { ok: true, value: { id, ackLevel, headers } }
}

/**
 * The ack sent on the reply subject. `position` is the event's key in the stream's order as
 * hex: positions compare as strings in delivery order. `seq` is the event's sequence on the
 * node that wrote it (per incarnation); `duplicate` says an earlier copy of the same
 * `Rg-Msg-Id` is inside the window (that copy is the one delivered).
 */
export function ackJson(stream: string, ack: EngineAck): Record<string, unknown> {
  if (!ack.ok) return { ok: false, error: { code: ack.error.code, message: ack.error.message } }
  const { position } = ack
  return {
    ok: true,
    stream,
    position: storageKeyHex(position),
    origin: position.origin,
    incarnation: position.incarnation,
    seq: position.originSeq,
    hlc: { wallMs: position.hlc.wallMs, logical: position.hlc.logical },
    duplicate: ack.duplicate,
    level: ack.level,
  }
}

/** Streams whose JSON-quoted name is kept for `ackBytes` at most (cleared when full). */
const quotedNamesMax = 1_024
const quotedNames = new Map<string, string>()

function quoted(name: string): string {
  let text = quotedNames.get(name)
  if (text === undefined) {
    if (quotedNames.size >= quotedNamesMax) quotedNames.clear()
    text = JSON.stringify(name)
    quotedNames.set(name, text)
  }
  return text
}

/**
 * `JSON.stringify(ackJson(stream, ack))` as UTF-8, byte for byte (tested), written as one
 * template: a successful ack is the per-publish reply, and building the object, stringifying
 * and encoding it was ~4 % of a node's CPU under a publish load (issue #5).
 */
export function ackBytes(stream: string, ack: EngineAck): Uint8Array {
  if (!ack.ok) return Buffer.from(JSON.stringify(ackJson(stream, ack)), 'utf8')
  const { position } = ack
  const text =
    `{"ok":true,"stream":${quoted(stream)},"position":"${storageKeyHex(position)}","origin":${quoted(position.origin)},"incarnation":${position.incarnation},` +
    `"seq":${position.originSeq},"hlc":{"wallMs":${position.hlc.wallMs},"logical":${position.hlc.logical}},"duplicate":${ack.duplicate},"level":${quoted(ack.level)}}`
  return Buffer.from(text, 'utf8')
}

export function failureJson(code: ErrorCode, message: string): Record<string, unknown> {
  return { ok: false, error: { code, message } }
}
