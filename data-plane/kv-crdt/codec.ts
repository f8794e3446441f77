// Binary codec of CRDT KV operations (the payload of one event of a bucket's internal stream).
// Versioned and bounded: decode refuses truncation at any byte, trailing bytes, bad UTF-8, an
// unknown version or kind, any field over its limit, an invalid id, key or base, and a merge
// whose Automerge change does not parse — with `RG_ERR_MALFORMED_KV_OP`, never a throw.
//
// v1, big-endian:
//   version u8 (1) | kind u8 (1 put, 2 delete, 3 merge, 4 increment) | id | key (u16 len, UTF-8)
//   put:       value (u32 len, bytes)
//   delete:    —
//   merge:     base | change (u32 len, bytes)
//   increment: base | delta i64
// id   = hlc 8 | incarnation u32 | originSeq u64 | origin (u8 len, ASCII)
// base = tag u8 (0 floor, 1 reset) | floor: hlc 8 | reset: id
import { decodeChange } from '@automerge/automerge'
import { decodeHlc, encodeHlc, failure, hlcBytes, success } from '../persistent/index.js'
import type { Outcome } from '../persistent/index.js'
import { MalformedKvOpError } from './errors.js'
import { keyBytesMax, jsonChangeBytesMax, valueBytesMax } from './limits.js'
import { opProblem } from './op.js'
import type { KvOp, KvOpBase, KvOpId, KvOpKind } from './op.js'

export const kvOpCodecVersion = 1
const kindCodes: Readonly<Record<KvOpKind, number>> = { put: 1, delete: 2, merge: 3, increment: 4 }
const kindOfCode: ReadonlyMap<number, KvOpKind> = new Map(Object.entries(kindCodes).map(([kind, code]) => [code, kind as KvOpKind]))
const baseTagFloor = 0
const baseTagReset = 1
const u32Max = 2 ** 32

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** Appends fields into a growing buffer. */
class Writer {
  #bytes = new Uint8Array(256)
  #view = new DataView(this.#bytes.buffer)
  #at = 0

  #room(n: number): void {
    if (this.#at + n <= this.#bytes.length) return
    let size = this.#bytes.length * 2
    while (size < this.#at + n) size *= 2
    const grown = new Uint8Array(size)
    grown.set(this.#bytes.subarray(0, this.#at))
    this.#bytes = grown
    this.#view = new DataView(grown.buffer)
  }

  u8(n: number): void {
    this.#room(1)
    this.#view.setUint8(this.#at, n)
    this.#at += 1
  }

  u16(n: number): void {
    this.#room(2)
    this.#view.setUint16(this.#at, n)
    this.#at += 2
  }

  u32(n: number): void {
    this.#room(4)
    this.#view.setUint32(this.#at, n)
    this.#at += 4
  }

  /** A safe integer as u64. */
  u64(n: number): void {
    this.u32(Math.floor(n / u32Max))
    this.u32(n % u32Max)
  }

  i64(n: bigint): void {
    this.#room(8)
    this.#view.setBigInt64(this.#at, n)
    this.#at += 8
  }

  bytes(b: Uint8Array): void {
    this.#room(b.length)
    this.#bytes.set(b, this.#at)
    this.#at += b.length
  }

  hlc(h: KvOpId['hlc']): void {
    this.#room(hlcBytes)
    encodeHlc(h, this.#bytes, this.#at)
    this.#at += hlcBytes
  }

  done(): Uint8Array {
    return this.#bytes.slice(0, this.#at)
  }
}

/** Thrown inside `decodeKvOp` only, turned into a failure value there. */
class Truncated extends Error {}

class Reader {
  readonly #view: DataView
  #at = 0

  constructor(readonly input: Uint8Array) {
    this.#view = new DataView(input.buffer, input.byteOffset, input.byteLength)
  }

  get left(): number {
    return this.input.length - this.#at
  }

  #need(n: number, what: string): void {
    if (this.left < n) throw new Truncated(`${what} needs ${n} bytes, ${this.left} left`)
  }

  u8(what: string): number {
    this.#need(1, what)
    return this.#view.getUint8(this.#at++)
  }

  u16(what: string): number {
    this.#need(2, what)
    const n = this.#view.getUint16(this.#at)
    this.#at += 2
    return n
  }

  u32(what: string): number {
    this.#need(4, what)
    const n = this.#view.getUint32(this.#at)
    this.#at += 4
    return n
  }

  u64(what: string): number {
    const high = this.u32(what)
    const low = this.u32(what)
    return high * u32Max + low // above 2^53 it is not a safe integer; opProblem refuses it
  }

  i64(what: string): bigint {
    this.#need(8, what)
    const n = this.#view.getBigInt64(this.#at)
    this.#at += 8
    return n
  }

  bytes(n: number, what: string): Uint8Array {
    this.#need(n, what)
    const out = this.input.slice(this.#at, this.#at + n)
    this.#at += n
    return out
  }

  hlc(what: string): KvOpId['hlc'] {
    this.#need(hlcBytes, what)
    const decoded = decodeHlc(this.input, this.#at)
    if (!decoded.ok) throw new Truncated(what)
    this.#at += hlcBytes
    return decoded.value
  }
}

function writeId(w: Writer, id: KvOpId): void {
  w.hlc(id.hlc)
  w.u32(id.incarnation)
  w.u64(id.originSeq)
  const origin = encoder.encode(id.origin)
  w.u8(origin.length)
  w.bytes(origin)
}

function writeBase(w: Writer, base: KvOpBase): void {
  if (base.kind === 'floor') {
    w.u8(baseTagFloor)
    w.hlc(base.hlc)
  } else {
    w.u8(baseTagReset)
    writeId(w, base.id)
  }
}

/** Encodes a valid operation. An invalid one is a caller bug and throws. */
export function encodeKvOp(op: KvOp): Uint8Array {
  const problem = opProblem(op)
  if (problem !== null) throw new RangeError(`encodeKvOp: ${problem}`)
  const w = new Writer()
  w.u8(kvOpCodecVersion)
  w.u8(kindCodes[op.kind])
  writeId(w, op.id)
  const key = encoder.encode(op.key)
  w.u16(key.length)
  w.bytes(key)
  switch (op.kind) {
    case 'put':
      w.u32(op.value.length)
      w.bytes(op.value)
      break
    case 'delete':
      break
    case 'merge':
      writeBase(w, op.base)
      w.u32(op.change.length)
      w.bytes(op.change)
      break
    case 'increment':
      writeBase(w, op.base)
      w.i64(op.delta)
      break
  }
  return w.done()
}

function text(r: Reader, length: number, what: string): string {
  const raw = r.bytes(length, what)
  try {
    return decoder.decode(raw)
  } catch {
    throw new Truncated(`${what} is not UTF-8`)
  }
}

function readId(r: Reader, what: string): KvOpId {
  const hlc = r.hlc(`${what} hlc`)
  const incarnation = r.u32(`${what} incarnation`)
  const originSeq = r.u64(`${what} originSeq`)
  const origin = text(r, r.u8(`${what} origin length`), `${what} origin`)
  return { hlc, origin, incarnation, originSeq }
}

function readBase(r: Reader): KvOpBase {
  const tag = r.u8('base tag')
  if (tag === baseTagFloor) return { kind: 'floor', hlc: r.hlc('base floor') }
  if (tag === baseTagReset) return { kind: 'reset', id: readId(r, 'base') }
  throw new Truncated(`unknown base tag ${tag}`)
}

function readLength(r: Reader, max: number, what: string): number {
  const length = r.u32(`${what} length`)
  if (length > max) throw new Truncated(`${what} of ${length} bytes is over ${max}`)
  return length
}

/** Decodes one operation, or says precisely why the bytes are not one. */
export function decodeKvOp(bytes: Uint8Array): Outcome<KvOp, MalformedKvOpError> {
  const r = new Reader(bytes)
  let op: KvOp
  try {
    const version = r.u8('version')
    if (version !== kvOpCodecVersion) return failure(new MalformedKvOpError(`unknown codec version ${version}`))
    const kindCode = r.u8('kind')
    const kind = kindOfCode.get(kindCode)
    if (kind === undefined) return failure(new MalformedKvOpError(`unknown kind ${kindCode}`))
    const id = readId(r, 'id')
    const keyLength = r.u16('key length')
    if (keyLength > keyBytesMax) return failure(new MalformedKvOpError(`key of ${keyLength} bytes is over ${keyBytesMax}`))
    const key = text(r, keyLength, 'key')
    switch (kind) {
      case 'put':
        op = { kind, id, key, value: r.bytes(readLength(r, valueBytesMax, 'value'), 'value') }
        break
      case 'delete':
        op = { kind, id, key }
        break
      case 'merge': {
        const base = readBase(r)
        op = { kind, id, key, base, change: r.bytes(readLength(r, jsonChangeBytesMax, 'change'), 'change') }
        break
      }
      case 'increment': {
        const base = readBase(r)
        op = { kind, id, key, base, delta: r.i64('delta') }
        break
      }
    }
  } catch (error) {
    if (error instanceof Truncated) return failure(new MalformedKvOpError(error.message))
    throw error
  }
  if (r.left !== 0) return failure(new MalformedKvOpError(`${r.left} trailing bytes`))
  const problem = opProblem(op)
  if (problem !== null) return failure(new MalformedKvOpError(problem))
  if (op.kind === 'merge') {
    try {
      decodeChange(op.change)
    } catch (error) {
      return failure(new MalformedKvOpError('the Automerge change does not parse', { cause: error }))
    }
  }
  return success(op)
}
