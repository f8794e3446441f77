// The tagged results of applying a command, and the field diff an ensure conflict reports.
import type { ClusterErrorCode } from './errors.js'

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue }
export type JsonObject = { readonly [key: string]: JsonValue }

export const outcomes = ['created', 'updated', 'unchanged', 'removed'] as const
export type Outcome = (typeof outcomes)[number]

export interface ApplyOk {
  readonly ok: true
  readonly outcome: Outcome
  /** Command-specific facts: a KV revision, a chosen holder, a placement, ... */
  readonly details: JsonObject
}

export interface ApplyError {
  readonly ok: false
  readonly code: ClusterErrorCode
  readonly message: string
  readonly details: JsonObject
}

export type ApplyResult = ApplyOk | ApplyError

export function ok(outcome: Outcome, details: JsonObject = {}): ApplyOk {
  return { ok: true, outcome, details }
}

export function fail(code: ClusterErrorCode, message: string, details: JsonObject = {}): ApplyError {
  return { ok: false, code, message, details }
}

/** One differing field of an ensure: `path` is dotted (`retention.maxAgeMs`). */
export interface FieldDiff {
  readonly path: string
  readonly old: JsonValue
  readonly new: JsonValue
}

function isPlainObject(value: JsonValue): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Field-by-field difference between two JSON-like values. Objects are compared key by key
 * (sorted, so the report is deterministic); arrays and scalars are compared whole.
 */
export function diffValues(oldValue: JsonValue, newValue: JsonValue, path = ''): FieldDiff[] {
  if (isPlainObject(oldValue) && isPlainObject(newValue)) {
    const keys = [...new Set([...Object.keys(oldValue), ...Object.keys(newValue)])].sort()
    const diffs: FieldDiff[] = []
    for (const key of keys) {
      const childPath = path === '' ? key : `${path}.${key}`
      diffs.push(...diffValues(oldValue[key] ?? null, newValue[key] ?? null, childPath))
    }
    return diffs
  }
  if (canonicalEqual(oldValue, newValue)) return []
  return [{ path: path === '' ? '(root)' : path, old: oldValue, new: newValue }]
}

export function canonicalEqual(a: JsonValue, b: JsonValue): boolean {
  return canonicalJson(a) === canonicalJson(b)
}

/** JSON text with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map((item: JsonValue) => canonicalJson(item)).join(',')}]`
  if (isPlainObject(value)) {
    const keys = Object.keys(value).sort()
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key] ?? null)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

export function describeDiffs(diffs: readonly FieldDiff[]): string {
  return diffs.map((d) => `${d.path}: ${canonicalJson(d.old)} → ${canonicalJson(d.new)}`).join('; ')
}

export function diffsToJson(diffs: readonly FieldDiff[]): JsonValue {
  return diffs.map((d) => ({ path: d.path, old: d.old, new: d.new }))
}
