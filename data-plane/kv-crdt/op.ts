// The operations of a CRDT KV bucket: what a writer makes and every replica applies, in any
// order and any number of times. One bucket is one internal persistent stream; each operation is
// one event of it, and its id is that event's position (hlc, origin, incarnation, originSeq), so
// the stream layer's dedup, version vectors and shipping carry it unchanged.
//
// Four kinds, in two families:
// - resets: `put` (a plain value, last-writer-wins) and `delete` (a tombstone). The greatest reset
//   by id decides a key's epoch.
// - accumulative: `merge` (an Automerge change to the key's JSON document) and `increment` (a
//   counter delta). Each names its `base`: the reset its writer saw as the key's current one, or,
//   when the writer had none, its purge floor (state.ts explains both). It counts only in the
//   epoch of that base, so a put or delete replaces the whole value, including merges and
//   increments made concurrently by writers that had not seen it.
import { compareEventOrder, hlcZero, isValidHlc, isValidIncarnation, isValidOrigin, isValidOriginSeq } from '../persistent/index.js'
import type { EventPosition, Hlc } from '../persistent/index.js'
import { counterDeltaMax, counterDeltaMin, jsonChangeBytesMax, keyBytesMax, valueBytesMax } from './limits.js'

/** An operation's identity and its place in last-writer-wins order: the event position. */
export type KvOpId = EventPosition

/** Total order of operation ids: (hlc, origin, incarnation, originSeq). */
export const compareOpId: (a: KvOpId, b: KvOpId) => number = compareEventOrder
export const opIdEquals = (a: KvOpId, b: KvOpId): boolean => compareEventOrder(a, b) === 0

/** What an accumulative operation was made on top of. */
export type KvOpBase =
  /** The key's current reset at the writer. */
  | { readonly kind: 'reset'; readonly id: KvOpId }
  /** The writer held no reset for the key; `hlc` is its purge floor (hlcZero before any garbage collection). */
  | { readonly kind: 'floor'; readonly hlc: Hlc }

export const baseFloorZero: KvOpBase = Object.freeze({ kind: 'floor', hlc: hlcZero })

export type JsonPrimitive = string | number | boolean | null
export type JsonValue = JsonPrimitive | readonly JsonValue[] | { readonly [key: string]: JsonValue }
export type JsonObject = { readonly [key: string]: JsonValue }

interface OpCommon {
  readonly id: KvOpId
  readonly key: string
}
export interface KvPutOp extends OpCommon {
  readonly kind: 'put'
  readonly value: Uint8Array
}
export interface KvDeleteOp extends OpCommon {
  readonly kind: 'delete'
}
export interface KvMergeOp extends OpCommon {
  readonly kind: 'merge'
  readonly base: KvOpBase
  /** One Automerge change (its dependencies are changes of the same epoch). */
  readonly change: Uint8Array
}
export interface KvIncrementOp extends OpCommon {
  readonly kind: 'increment'
  readonly base: KvOpBase
  /** Signed 64-bit. */
  readonly delta: bigint
}
export type KvResetOp = KvPutOp | KvDeleteOp
export type KvAccumulativeOp = KvMergeOp | KvIncrementOp
export type KvOp = KvResetOp | KvAccumulativeOp
export type KvOpKind = KvOp['kind']

export const isResetOp = (op: KvOp): op is KvResetOp => op.kind === 'put' || op.kind === 'delete'

const encoder = new TextEncoder()
export const utf8Length = (s: string): number => encoder.encode(s).length
/** C0 controls and DEL: a key is shown in logs, CLI output and subjects. */
function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i)
    if (code < 0x20 || code === 0x7f) return true
  }
  return false
}
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Why `key` is not a valid key, or null: 1..keyBytesMax UTF-8 bytes, well-formed, no control characters. */
export function keyProblem(key: unknown): string | null {
  if (typeof key !== 'string' || key.length === 0) return 'a key must be a non-empty string'
  if (loneSurrogate.test(key)) return 'a key must be well-formed Unicode (no lone surrogates)'
  if (hasControlCharacter(key)) return 'a key must not hold control characters'
  if (utf8Length(key) > keyBytesMax) return `a key must be at most ${keyBytesMax} UTF-8 bytes`
  return null
}

function idProblem(id: KvOpId, what: string): string | null {
  if (!isValidHlc(id.hlc)) return `${what}: invalid hlc`
  if (!isValidOrigin(id.origin)) return `${what}: origin must match [A-Za-z0-9_-]{1,64}`
  if (!isValidIncarnation(id.incarnation)) return `${what}: invalid incarnation`
  if (!isValidOriginSeq(id.originSeq)) return `${what}: invalid originSeq`
  return null
}

function baseProblem(base: KvOpBase, id: KvOpId): string | null {
  if (base.kind === 'floor') return isValidHlc(base.hlc) ? null : 'base: invalid floor hlc'
  const problem = idProblem(base.id, 'base')
  if (problem !== null) return problem
  // A writer's clock passed every operation it had seen, so its base is below it.
  return compareOpId(base.id, id) < 0 ? null : 'base: a base must be below the operation'
}

/** Why `op` is not a valid operation, or null. Does not parse a merge's Automerge change (the codec does). */
export function opProblem(op: KvOp): string | null {
  const idIssue = idProblem(op.id, 'id')
  if (idIssue !== null) return idIssue
  const keyIssue = keyProblem(op.key)
  if (keyIssue !== null) return keyIssue
  switch (op.kind) {
    case 'put':
      return op.value.length <= valueBytesMax ? null : `a value must be at most ${valueBytesMax} bytes`
    case 'delete':
      return null
    case 'merge':
      if (op.change.length === 0 || op.change.length > jsonChangeBytesMax) return `a change must be 1..${jsonChangeBytesMax} bytes`
      return baseProblem(op.base, op.id)
    case 'increment':
      if (op.delta < counterDeltaMin || op.delta > counterDeltaMax) return 'a delta must be a signed 64-bit integer'
      return baseProblem(op.base, op.id)
    default:
      return `unknown kind ${(op as { kind: unknown }).kind as string}`
  }
}
