// JSON values of a CRDT KV bucket: one Automerge document per key and epoch (DESIGN §3.2.7:
// Automerge holds documents that change at human or control rates and need rich merge).
//
// A writer turns a JSON merge patch (RFC 7386: objects merge field by field, `null` removes a
// field, anything else replaces) into one Automerge change on its own copy of the document; every
// replica applies that change. Automerge merges concurrent changes per field, so concurrent edits
// to different fields both survive; concurrent writes of the same field keep one value, the same
// everywhere (Automerge's op-id order). Strings are stored as immutable scalars (a concurrent
// write replaces the whole string, it does not interleave characters); arrays are replaced whole,
// as in RFC 7386.
//
// A change whose dependencies have not arrived waits inside Automerge and applies when they do,
// so changes may arrive in any order. Applying a change twice does nothing.
//
// Memory: a loaded Automerge document costs ~18 KB of WASM memory here, so a bucket keeps at most
// `jsonDocsLoadedMax` loaded (state.ts); the others are *hibernated* — saved to bytes (a few
// hundred bytes), freed, with their plain value cached — and loaded again when a change arrives.
// A document holding changes that wait for dependencies is never hibernated (`save` would drop
// them).
import * as Automerge from '@automerge/automerge'
import { jsonDepthMax, jsonPatchBytesMax } from './limits.js'
import { utf8Length } from './op.js'
import type { JsonObject, JsonValue } from './op.js'

type DocRoot = Record<string, unknown>

/** The Automerge actor of a writer incarnation: its `origin#incarnation` as hex. */
export function actorOf(origin: string, incarnation: number): string {
  let hex = ''
  for (const byte of new TextEncoder().encode(`${origin}#${incarnation}`)) hex += byte.toString(16).padStart(2, '0')
  return hex
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype

/** Field names that would change an object's prototype when a reader rebuilds the value. */
const forbiddenFieldNames: ReadonlySet<string> = new Set(['__proto__'])

function valueProblem(value: unknown, depth: number, path: string): string | null {
  if (depth > jsonDepthMax) return `${path}: nested deeper than ${jsonDepthMax}`
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return null
  if (typeof value === 'number') return Number.isFinite(value) ? null : `${path}: numbers must be finite`
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = valueProblem(value[i], depth + 1, `${path}[${i}]`)
      if (problem !== null) return problem
    }
    return null
  }
  if (isPlainObject(value)) {
    for (const [field, inner] of Object.entries(value)) {
      if (forbiddenFieldNames.has(field)) return `${path}: the field name ${field} is not allowed`
      const problem = valueProblem(inner, depth + 1, `${path}.${field}`)
      if (problem !== null) return problem
    }
    return null
  }
  return `${path}: not a JSON value (${typeof value})`
}

/** Why `patch` is not a valid merge patch, or null: a JSON object, bounded in depth and bytes. */
export function jsonPatchProblem(patch: unknown): { readonly tooLarge: boolean; readonly message: string } | null {
  if (!isPlainObject(patch)) return { tooLarge: false, message: 'a merge patch must be a JSON object' }
  const problem = valueProblem(patch, 1, '$')
  if (problem !== null) return { tooLarge: false, message: problem }
  const bytes = utf8Length(JSON.stringify(patch))
  if (bytes > jsonPatchBytesMax) return { tooLarge: true, message: `a merge patch of ${bytes} bytes is over ${jsonPatchBytesMax}` }
  return null
}

/** A JSON value as Automerge stores it: strings as immutable scalars, objects without nulls (RFC 7386). */
function toStored(value: JsonValue): unknown {
  if (typeof value === 'string') return new Automerge.ImmutableString(value)
  if (Array.isArray(value)) return value.map((item: JsonValue) => toStored(item))
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [field, inner] of Object.entries(value as JsonObject)) if (inner !== null) out[field] = toStored(inner)
    return out
  }
  return value
}

const isStoredMap = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !Automerge.isImmutableString(value)

/** RFC 7386 on an Automerge draft. */
function applyPatch(target: Record<string, unknown>, patch: JsonObject): void {
  for (const [field, value] of Object.entries(patch)) {
    if (value === null) {
      if (field in target) delete target[field]
    } else if (isPlainObject(value) && isStoredMap(target[field])) {
      applyPatch(target[field] as Record<string, unknown>, value as JsonObject)
    } else {
      target[field] = toStored(value)
    }
  }
}

/** Automerge's materialized value as plain, frozen JSON. */
function toPlain(value: unknown): JsonValue {
  if (Automerge.isImmutableString(value)) return value.val
  if (Array.isArray(value)) return Object.freeze(value.map(toPlain))
  if (value !== null && typeof value === 'object') {
    const out: Record<string, JsonValue> = {}
    for (const field of Object.keys(value).sort()) out[field] = toPlain((value as Record<string, unknown>)[field])
    return Object.freeze(out)
  }
  return value as JsonValue
}

/** One key's JSON document in one epoch. */
export class JsonDoc {
  #doc: Automerge.Doc<DocRoot> | undefined
  #saved: Uint8Array | undefined
  /** Heads after the last apply/write (a change that only waits leaves them as they were). */
  #heads: string = ''
  #value: JsonObject | undefined
  #valueStale = false
  /** Whether some change waits for dependencies (Automerge's queue). */
  #waiting = false

  constructor(readonly actor: string) {
    this.#doc = Automerge.init<DocRoot>({ actor })
  }

  get loaded(): boolean {
    return this.#doc !== undefined
  }

  /** Whether a change has been applied (a document with none has no value yet). */
  get hasValue(): boolean {
    return this.#heads !== ''
  }

  /** The document's heads, joined (changes exactly when the document does). */
  get heads(): string {
    return this.#heads
  }

  get waiting(): boolean {
    return this.#waiting
  }

  #load(): Automerge.Doc<DocRoot> {
    if (this.#doc !== undefined) return this.#doc
    // Invariant: only a document without waiting changes is hibernated, so load restores it whole.
    this.#doc = Automerge.load<DocRoot>(this.#saved as Uint8Array, { actor: this.actor })
    this.#saved = undefined
    return this.#doc
  }

  #afterChange(doc: Automerge.Doc<DocRoot>): boolean {
    this.#doc = doc
    const heads = Automerge.getHeads(doc).join(',')
    const moved = heads !== this.#heads
    this.#heads = heads
    if (moved) this.#valueStale = true
    return moved
  }

  /** Applies one change; true when the document moved (false: a duplicate, or it waits for dependencies). */
  apply(change: Uint8Array): boolean {
    const [doc] = Automerge.applyChanges(this.#load(), [change])
    const moved = this.#afterChange(doc)
    // Nothing waited and the change applied: nothing waits now (skips a WASM call per change).
    if (this.#waiting || !moved) this.#waiting = Automerge.getMissingDeps(doc, []).length > 0
    return moved
  }

  /** Makes one change from a merge patch (RFC 7386) and applies it; returns its bytes. */
  write(patch: JsonObject, timeSeconds: number): Uint8Array {
    const before = this.#load()
    const headsBefore = Automerge.getHeads(before).join(',')
    let doc = Automerge.change(before, { time: timeSeconds }, (draft) => applyPatch(draft, patch))
    // A patch that changes nothing (`{}`, removing an absent field) makes no Automerge change;
    // an empty one keeps "one merge = one change" for every writer.
    if (Automerge.getHeads(doc).join(',') === headsBefore) doc = Automerge.emptyChange(doc, { time: timeSeconds })
    const change = Automerge.getLastLocalChange(doc)
    if (change === undefined) throw new Error('json-doc: Automerge made no change')
    this.#afterChange(doc)
    return change
  }

  /** The document as plain frozen JSON, or undefined before any change applied. */
  value(): JsonObject | undefined {
    if (!this.hasValue) return undefined
    if (this.#value === undefined || this.#valueStale) {
      this.#value = toPlain(Automerge.toJS(this.#load())) as JsonObject
      this.#valueStale = false
    }
    return this.#value
  }

  /** Saves to bytes and frees the WASM document (keeping the plain value); false when it cannot. */
  hibernate(): boolean {
    if (this.#doc === undefined) return true
    if (this.#waiting) return false
    this.value() // keep the plain value: reads of a hibernated document need no load
    this.#saved = Automerge.save(this.#doc)
    Automerge.free(this.#doc)
    this.#doc = undefined
    return true
  }

  /** Releases the WASM memory; the document must not be used afterwards. */
  free(): void {
    if (this.#doc !== undefined) Automerge.free(this.#doc)
    this.#doc = undefined
    this.#saved = undefined
  }
}
