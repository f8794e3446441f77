// Binary codec for the Raft `Message` (control-plane/raft/types.ts) on the peer transport's
// `raft` channel. Versioned (first byte) and bounds-checked: a truncated or corrupted buffer
// yields a MessageCodecError with an offset, never an exception from a typed array, a read past
// the end, or an allocation larger than the input. Pure: no node:* imports.
//
// Layout, format version 1 (varint = unsigned LEB128, at most 8 bytes, <= 2^53 - 1;
// bytes = varint length + raw; string = bytes holding UTF-8):
//   u8 version | u8 type | u8 flags (1 reject, 2 snapshot, 4 context)
//   string to | string from
//   varint term, index, logTerm, commit, rejectHint, rejectHintTerm
//   varint entryCount, then per entry: varint term | varint index | u8 entryType | bytes data
//   [snapshot] varint index | varint term | 3 × (varint count, string × count) for voters,
//              learners, votersOutgoing | bytes data
//   [context]  bytes
import type { ConfState, Entry, Message, Snapshot } from '../raft/types.js'
import { entryTypes, messageTypes } from '../raft/types.js'

export const messageCodecVersion = 1
/** A node id longer than this is corrupt (ids are decimal 64-bit hashes or short names). */
export const nodeIdBytesMax = 256
/** The longest varint we accept: 8 × 7 = 56 bits covers every safe integer. */
const varintBytesMax = 8

const flagReject = 1
const flagSnapshot = 2
const flagContext = 4
const knownFlags = flagReject | flagSnapshot | flagContext
/** Smallest encoded entry: term, index, type, data length (one byte each). */
const entryBytesMin = 4

export const messageCodecErrorKinds = ['truncated', 'corrupt', 'unsupportedVersion'] as const
export type MessageCodecErrorKind = (typeof messageCodecErrorKinds)[number]

export class MessageCodecError extends Error {
  override readonly name = 'MessageCodecError'
  constructor(
    readonly kind: MessageCodecErrorKind,
    detail: string,
    readonly offset: number,
  ) {
    super(`raft message ${kind}: ${detail} (at byte ${offset})`)
  }
}

export type MessageDecodeResult = { readonly ok: true; readonly message: Message } | { readonly ok: false; readonly error: MessageCodecError }

const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

class Writer {
  private buffer = new Uint8Array(256)
  private length = 0

  u8(value: number): void {
    this.reserve(1)
    this.buffer[this.length] = value
    this.length += 1
  }

  varint(value: number, what: string): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`raft message codec: ${what} must be a non-negative safe integer, got ${value}`)
    let rest = value
    while (rest >= 0x80) {
      this.u8((rest % 0x80) + 0x80)
      rest = Math.floor(rest / 0x80)
    }
    this.u8(rest)
  }

  bytes(value: Uint8Array, what: string): void {
    this.varint(value.byteLength, `${what} length`)
    this.reserve(value.byteLength)
    this.buffer.set(value, this.length)
    this.length += value.byteLength
  }

  string(value: string, what: string): void {
    const encoded = utf8Encoder.encode(value)
    if (encoded.byteLength > nodeIdBytesMax) throw new RangeError(`raft message codec: ${what} is longer than ${nodeIdBytesMax} bytes`)
    this.bytes(encoded, what)
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length)
  }

  private reserve(byteCount: number): void {
    if (this.length + byteCount <= this.buffer.byteLength) return
    let size = this.buffer.byteLength * 2
    while (size < this.length + byteCount) size *= 2
    const grown = new Uint8Array(size)
    grown.set(this.buffer.subarray(0, this.length))
    this.buffer = grown
  }
}

class Reader {
  offset = 0
  constructor(private readonly input: Uint8Array) {}

  remaining(): number {
    return this.input.byteLength - this.offset
  }

  u8(what: string): number {
    if (this.remaining() < 1) throw new MessageCodecError('truncated', `missing ${what}`, this.offset)
    const value = this.input[this.offset]!
    this.offset += 1
    return value
  }

  varint(what: string): number {
    const start = this.offset
    let value = 0
    let scale = 1
    for (let i = 0; i < varintBytesMax; i += 1) {
      const byte = this.u8(what)
      value += (byte & 0x7f) * scale
      if (byte < 0x80) {
        if (!Number.isSafeInteger(value)) throw new MessageCodecError('corrupt', `${what} exceeds 2^53 - 1`, start)
        if (i > 0 && byte === 0) throw new MessageCodecError('corrupt', `${what} is not minimally encoded`, start)
        return value
      }
      scale *= 0x80
    }
    throw new MessageCodecError('corrupt', `${what} varint longer than ${varintBytesMax} bytes`, start)
  }

  bytes(what: string, byteCountMax = Number.POSITIVE_INFINITY): Uint8Array {
    const start = this.offset
    const length = this.varint(`${what} length`)
    if (length > byteCountMax) throw new MessageCodecError('corrupt', `${what} of ${length} bytes exceeds ${byteCountMax}`, start)
    if (length > this.remaining()) {
      throw new MessageCodecError('truncated', `${what} needs ${length} bytes, ${this.remaining()} left`, this.offset)
    }
    const value = this.input.slice(this.offset, this.offset + length)
    this.offset += length
    return value
  }

  string(what: string): string {
    const start = this.offset
    const raw = this.bytes(what, nodeIdBytesMax)
    try {
      return utf8Decoder.decode(raw)
    } catch {
      throw new MessageCodecError('corrupt', `${what} is not valid UTF-8`, start)
    }
  }

  /** A count of items each at least `itemBytesMin` long cannot exceed what is left. */
  count(what: string, itemBytesMin: number): number {
    const start = this.offset
    const value = this.varint(what)
    if (value * itemBytesMin > this.remaining()) {
      throw new MessageCodecError('truncated', `${what} of ${value} cannot fit in ${this.remaining()} bytes`, start)
    }
    return value
  }
}

export function encodeMessage(message: Message): Uint8Array {
  const writer = new Writer()
  const typeIndex = messageTypes.indexOf(message.type)
  if (typeIndex < 0) throw new RangeError(`raft message codec: unknown message type '${String(message.type)}'`)
  writer.u8(messageCodecVersion)
  writer.u8(typeIndex)
  writer.u8((message.reject ? flagReject : 0) | (message.snapshot !== undefined ? flagSnapshot : 0) | (message.context !== undefined ? flagContext : 0))
  writer.string(message.to, 'to')
  writer.string(message.from, 'from')
  writer.varint(message.term, 'term')
  writer.varint(message.index, 'index')
  writer.varint(message.logTerm, 'logTerm')
  writer.varint(message.commit, 'commit')
  writer.varint(message.rejectHint, 'rejectHint')
  writer.varint(message.rejectHintTerm, 'rejectHintTerm')
  writer.varint(message.entries.length, 'entry count')
  for (const entry of message.entries) {
    writer.varint(entry.term, 'entry term')
    writer.varint(entry.index, 'entry index')
    const entryTypeIndex = entryTypes.indexOf(entry.type)
    if (entryTypeIndex < 0) throw new RangeError(`raft message codec: unknown entry type '${String(entry.type)}'`)
    writer.u8(entryTypeIndex)
    writer.bytes(entry.data, 'entry data')
  }
  if (message.snapshot !== undefined) {
    const { metadata, data } = message.snapshot
    writer.varint(metadata.index, 'snapshot index')
    writer.varint(metadata.term, 'snapshot term')
    for (const list of [metadata.confState.voters, metadata.confState.learners, metadata.confState.votersOutgoing]) {
      writer.varint(list.length, 'node list length')
      for (const id of list) writer.string(id, 'node id')
    }
    writer.bytes(data, 'snapshot data')
  }
  if (message.context !== undefined) writer.bytes(message.context, 'context')
  return writer.finish()
}

export function decodeMessage(input: Uint8Array): MessageDecodeResult {
  try {
    return { ok: true, message: readMessage(new Reader(input)) }
  } catch (error) {
    if (error instanceof MessageCodecError) return { ok: false, error }
    throw error
  }
}

function readMessage(reader: Reader): Message {
  const version = reader.u8('format version')
  if (version !== messageCodecVersion) {
    throw new MessageCodecError('unsupportedVersion', `format version ${version}, this node reads ${messageCodecVersion}`, 0)
  }
  const typeIndex = reader.u8('message type')
  const type = messageTypes[typeIndex]
  if (type === undefined) throw new MessageCodecError('corrupt', `unknown message type ${typeIndex}`, 1)
  const flags = reader.u8('flags')
  if ((flags & ~knownFlags) !== 0) throw new MessageCodecError('corrupt', `unknown flags 0x${flags.toString(16)}`, 2)
  const to = reader.string('to')
  const from = reader.string('from')
  const term = reader.varint('term')
  const index = reader.varint('index')
  const logTerm = reader.varint('logTerm')
  const commit = reader.varint('commit')
  const rejectHint = reader.varint('rejectHint')
  const rejectHintTerm = reader.varint('rejectHintTerm')
  const entryCount = reader.count('entry count', entryBytesMin)
  const entries: Entry[] = []
  for (let i = 0; i < entryCount; i += 1) entries.push(readEntry(reader))
  const snapshot = (flags & flagSnapshot) !== 0 ? readSnapshot(reader) : undefined
  const context = (flags & flagContext) !== 0 ? reader.bytes('context') : undefined
  if (reader.remaining() !== 0) throw new MessageCodecError('corrupt', `${reader.remaining()} trailing bytes`, reader.offset)
  return {
    type,
    to,
    from,
    term,
    index,
    logTerm,
    entries,
    commit,
    reject: (flags & flagReject) !== 0,
    rejectHint,
    rejectHintTerm,
    ...(snapshot === undefined ? {} : { snapshot }),
    ...(context === undefined ? {} : { context }),
  }
}

function readEntry(reader: Reader): Entry {
  const term = reader.varint('entry term')
  const index = reader.varint('entry index')
  const typeOffset = reader.offset
  const typeIndex = reader.u8('entry type')
  const type = entryTypes[typeIndex]
  if (type === undefined) throw new MessageCodecError('corrupt', `unknown entry type ${typeIndex}`, typeOffset)
  return { term, index, type, data: reader.bytes('entry data') }
}

function readNodeList(reader: Reader, what: string): string[] {
  // Each id takes at least its one-byte length.
  const count = reader.count(`${what} count`, 1)
  const ids: string[] = []
  for (let i = 0; i < count; i += 1) ids.push(reader.string(`${what} id`))
  return ids
}

function readSnapshot(reader: Reader): Snapshot {
  const index = reader.varint('snapshot index')
  const term = reader.varint('snapshot term')
  const confState: ConfState = {
    voters: readNodeList(reader, 'voters'),
    learners: readNodeList(reader, 'learners'),
    votersOutgoing: readNodeList(reader, 'votersOutgoing'),
  }
  return { metadata: { index, term, confState }, data: reader.bytes('snapshot data') }
}
