// Declarative ensure: compare the wanted definition with the stored one.
//   absent                      → create
//   equal                       → unchanged (the same request twice is a no-op)
//   different, update not set   → RG_ERR_CONFLICT listing every differing field (path, old → new)
//   different, update: true     → update (the diff is returned in the result details)
// Fields listed in `redacted` (password hashes) are reported as changed without their values.
import type { ApplyError, FieldDiff, JsonObject, JsonValue } from './result.js'
import { describeDiffs, diffValues, diffsToJson, fail } from './result.js'

export type EnsureDecision =
  | { readonly kind: 'create' }
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'update'; readonly diffs: readonly FieldDiff[] }
  | { readonly kind: 'conflict'; readonly error: ApplyError }

export const redactedText = '<redacted>'

export function decideEnsure(
  what: string,
  existing: JsonObject | undefined,
  wanted: JsonObject,
  update: boolean | undefined,
  redacted: readonly string[] = [],
): EnsureDecision {
  if (existing === undefined) return { kind: 'create' }
  const raw = diffValues(existing, wanted)
  if (raw.length === 0) return { kind: 'unchanged' }
  const diffs = raw.map((d) => (redacted.includes(d.path) ? { path: d.path, old: redactedText, new: redactedText } : d))
  if (update === true) return { kind: 'update', diffs }
  return {
    kind: 'conflict',
    error: fail('RG_ERR_CONFLICT', `${what} exists with a different definition (set update: true to change it): ${describeDiffs(diffs)}`, {
      object: what,
      diffs: diffsToJson(diffs),
    }),
  }
}

export function diffDetails(diffs: readonly FieldDiff[]): JsonValue {
  return diffsToJson(diffs)
}
