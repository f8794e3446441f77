// Builders for the CRDT KV tests: unwrap outcomes, generate operation sets the way real writers
// make them (several writers, each writing on top of what it has received so far, receiving
// subsets of the others' operations in any order), and a naive reference model of the visible
// state computed from the operation set alone.
import * as Automerge from '@automerge/automerge'
import fc from 'fast-check'
import { CrdtKvState, compareOpId } from '../../data-plane/kv-crdt/index.js'
import type { CrdtKvStateOptions, JsonObject, JsonValue, KvAccumulativeOp, KvOp, KvRecordView, KvResetOp } from '../../data-plane/kv-crdt/index.js'
import { compareHlc } from '../../data-plane/persistent/index.js'
import type { Outcome } from '../../data-plane/persistent/index.js'

export const bucket = 'flows'
const encoder = new TextEncoder()
export const bytes = (s: string): Uint8Array => encoder.encode(s)

export function unwrap<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) throw outcome.error
  return outcome.value
}

export const newState = (origin: string, options: Omit<CrdtKvStateOptions, 'bucket' | 'origin' | 'incarnation'> = {}): CrdtKvState =>
  new CrdtKvState({ bucket, origin, incarnation: 1, ...options })

/** A permutation of `items` chosen by fast-check. */
export function permutationArb<T>(items: readonly T[]): fc.Arbitrary<T[]> {
  return fc.array(fc.nat(), { minLength: items.length, maxLength: items.length }).map((keys) =>
    items.map((item, i) => [keys[i] as number, i, item] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, , item]) => item),
  )
}

/** `items` shuffled with some of them repeated (duplicates anywhere). */
export function shuffledWithDuplicatesArb<T>(items: readonly T[]): fc.Arbitrary<T[]> {
  return fc.subarray([...items]).chain((repeated) => permutationArb([...items, ...repeated]))
}

// ---- histories ----

export const keyPool = ['a', 'b', 'flow/1'] as const
const fieldPool = ['x', 'y', 'state'] as const

export type Command =
  | { readonly type: 'write'; readonly writer: number; readonly kind: 'put' | 'delete' | 'merge' | 'increment'; readonly key: string; readonly value: number; readonly field: string; readonly nested: boolean }
  | { readonly type: 'sync'; readonly from: number; readonly to: number; readonly mask: number; readonly reverse: boolean }

export const writersInHistory = 3

export const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    arbitrary: fc.record({
      type: fc.constant('write' as const),
      writer: fc.integer({ min: 0, max: writersInHistory - 1 }),
      kind: fc.constantFrom('put' as const, 'delete' as const, 'delete' as const, 'merge' as const, 'merge' as const, 'merge' as const, 'increment' as const, 'increment' as const, 'increment' as const),
      key: fc.constantFrom(...keyPool),
      value: fc.integer({ min: -3, max: 3 }),
      field: fc.constantFrom(...fieldPool),
      nested: fc.boolean(),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      type: fc.constant('sync' as const),
      from: fc.integer({ min: 0, max: writersInHistory - 1 }),
      to: fc.integer({ min: 0, max: writersInHistory - 1 }),
      mask: fc.nat(),
      reverse: fc.boolean(),
    }),
    weight: 3,
  },
)

function patchOf(command: Extract<Command, { type: 'write' }>): JsonObject {
  const value: JsonValue = command.value === 0 ? null : command.value > 0 ? command.value : `s${-command.value}`
  return command.nested ? { inner: { [command.field]: value } } : { [command.field]: value }
}

/**
 * Runs a history on fresh writers and returns every operation made. Writers refuse what they
 * should (type mismatches): those commands make nothing. Time moves half a millisecond per
 * command, so operations share milliseconds (logical counters and origin order matter).
 */
export function runHistory(commands: readonly Command[]): { ops: KvOp[]; writers: CrdtKvState[] } {
  const writers = Array.from({ length: writersInHistory }, (_, i) => newState(`w${i}`))
  const logs: KvOp[][] = writers.map(() => [])
  const all: KvOp[] = []
  commands.forEach((command, step) => {
    const physicalMs = 1_000 + Math.floor(step / 2)
    if (command.type === 'write') {
      const writer = writers[command.writer] as CrdtKvState
      let outcome: Outcome<KvOp>
      switch (command.kind) {
        case 'put':
          outcome = writer.put(command.key, bytes(`v${command.value}`), physicalMs)
          break
        case 'delete':
          outcome = writer.delete(command.key, physicalMs)
          break
        case 'merge':
          outcome = writer.merge(command.key, patchOf(command), physicalMs)
          break
        case 'increment':
          outcome = writer.increment(command.key, BigInt(command.value === 0 ? 1 : command.value), physicalMs)
          break
      }
      if (!outcome.ok) {
        if (outcome.error.code !== 'RG_ERR_KV_TYPE_MISMATCH') throw outcome.error
        return
      }
      ;(logs[command.writer] as KvOp[]).push(outcome.value)
      all.push(outcome.value)
      return
    }
    if (command.from === command.to) return
    const source = logs[command.from] as KvOp[]
    const picked = source.filter((_, i) => ((command.mask >>> (i % 30)) & 1) === 1)
    if (command.reverse) picked.reverse()
    const target = writers[command.to] as CrdtKvState
    for (const op of picked) {
      const outcome = target.apply(op)
      if (outcome.status === 'applied') (logs[command.to] as KvOp[]).push(op)
    }
  })
  return { ops: all, writers }
}

export const historyArb = (maxCommands = 30): fc.Arbitrary<Command[]> => fc.array(commandArb, { minLength: 1, maxLength: maxCommands, size: 'max' })

/** Applies `ops` to a fresh replica; every one must be applied or a duplicate. */
export function replay(ops: readonly KvOp[], origin = 'r0'): CrdtKvState {
  const state = newState(origin)
  for (const op of ops) {
    const outcome = state.apply(op)
    if (outcome.status === 'refused') throw new Error(`refused ${outcome.reason}`)
  }
  return state
}

// ---- naive reference model ----

function plain(value: unknown): JsonValue {
  if (Automerge.isImmutableString(value)) return value.val
  if (Array.isArray(value)) return value.map(plain)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, JsonValue> = {}
    for (const field of Object.keys(value).sort()) out[field] = plain((value as Record<string, unknown>)[field])
    return out
  }
  return value as JsonValue
}

const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join('')

/**
 * The visible value of every key, computed from the operation set alone, written independently
 * of state.ts (no garbage collection): the greatest reset by id; the accumulative operations
 * whose base is that reset (or a floor when there is none); the type of the first of them by id.
 */
export function referenceValues(ops: readonly KvOp[]): Map<string, string> {
  const unique = new Map<string, KvOp>()
  for (const op of ops) unique.set(`${op.id.origin}#${op.id.incarnation}#${op.id.originSeq}`, op)
  const byKey = new Map<string, KvOp[]>()
  for (const op of unique.values()) byKey.set(op.key, [...(byKey.get(op.key) ?? []), op])
  const out = new Map<string, string>()
  for (const [key, keyOps] of byKey) {
    const resets = keyOps.filter((op): op is KvResetOp => op.kind === 'put' || op.kind === 'delete').sort((a, b) => compareOpId(a.id, b.id))
    const reset = resets.at(-1)
    const counts = keyOps
      .filter((op): op is KvAccumulativeOp => op.kind === 'merge' || op.kind === 'increment')
      .filter((op) => (op.base.kind === 'reset' ? reset !== undefined && compareOpId(op.base.id, reset.id) === 0 : reset === undefined || compareHlc(reset.id.hlc, op.base.hlc) <= 0))
      .sort((a, b) => compareOpId(a.id, b.id))
    if (reset?.kind === 'put') {
      out.set(key, `bytes:${hex(reset.value)}`)
      continue
    }
    const first = counts[0]
    if (first === undefined) continue
    if (first.kind === 'increment') {
      let sum = 0n
      for (const op of counts) if (op.kind === 'increment') sum += op.delta
      out.set(key, `counter:${sum}`)
      continue
    }
    const changes = counts.filter((op) => op.kind === 'merge').map((op) => (op as { change: Uint8Array }).change)
    const [doc] = Automerge.applyChanges(Automerge.init<Record<string, unknown>>(), changes)
    if (Automerge.getHeads(doc).length > 0) out.set(key, `json:${JSON.stringify(plain(Automerge.toJS(doc)))}`)
    Automerge.free(doc)
  }
  return out
}

/** The visible values of a state, as `referenceValues` shows them. */
export function visibleValues(view: readonly KvRecordView[]): Map<string, string> {
  return new Map(view.filter((record) => record.value !== null).map((record) => [record.key, record.value as string]))
}

export const sortedEntries = (values: Map<string, string>): Array<[string, string]> => [...values.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
