// A sequential key-value store as a linearizability model: put, get, compare-and-set, delete.
// Keys are independent, so the history is partitioned per key (P-compositionality): each key's
// sub-history is checked alone, which keeps the search small.

import type { History, Model } from './types.js'

export type KvInput =
  | { readonly kind: 'put'; readonly key: string; readonly value: string }
  | { readonly kind: 'get'; readonly key: string }
  /** `expected === null` means "only if the key is absent". */
  | { readonly kind: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string }
  | { readonly kind: 'delete'; readonly key: string }

export type KvOutput =
  | { readonly kind: 'put' }
  | { readonly kind: 'get'; readonly value: string | null }
  | { readonly kind: 'cas'; readonly ok: boolean }
  | { readonly kind: 'delete' }

export type KvState = Readonly<Record<string, string>>

function withValue(state: KvState, key: string, value: string | null): KvState {
  const next: Record<string, string> = { ...state }
  if (value === null) delete next[key]
  else next[key] = value
  return next
}

function valueOf(state: KvState, key: string): string | null {
  return Object.prototype.hasOwnProperty.call(state, key) ? state[key]! : null
}

export const kvModel: Model<KvState, KvInput, KvOutput> = {
  init: () => ({}),
  step(state, input, output) {
    if (output !== undefined && output.kind !== input.kind) return [false, state]
    const current = valueOf(state, input.key)
    switch (input.kind) {
      case 'put':
        return [true, withValue(state, input.key, input.value)]
      case 'delete':
        return [true, withValue(state, input.key, null)]
      case 'get':
        if (output === undefined) return [true, state]
        return [output.kind === 'get' && output.value === current, state]
      case 'cas': {
        const applies = current === input.expected
        if (output !== undefined && output.kind === 'cas' && output.ok !== applies) return [false, state]
        return [true, applies ? withValue(state, input.key, input.value) : state]
      }
    }
  },
  hash(state) {
    // Keys and values are strings; NUL and SOH separators cannot be confused with content
    // unless the content holds them, and then JSON quoting keeps the encoding unambiguous.
    const keys = Object.keys(state)
    if (keys.length === 1) return `${JSON.stringify(keys[0])}\u0001${JSON.stringify(state[keys[0]!])}`
    return keys
      .sort()
      .map((key) => `${JSON.stringify(key)}\u0001${JSON.stringify(state[key])}`)
      .join('\u0000')
  },
  partition(history) {
    const byKey = new Map<string, History<KvInput, KvOutput>[number][]>()
    for (const op of history) {
      const list = byKey.get(op.input.key)
      if (list) list.push(op)
      else byKey.set(op.input.key, [op])
    }
    return [...byKey.keys()].sort().map((key) => byKey.get(key)!)
  },
  describeOperation(input, output) {
    const result = output === undefined ? '?' : describeOutput(output)
    switch (input.kind) {
      case 'put':
        return `put(${input.key}, ${JSON.stringify(input.value)}) -> ${result}`
      case 'get':
        return `get(${input.key}) -> ${result}`
      case 'cas':
        return `cas(${input.key}, ${JSON.stringify(input.expected)} => ${JSON.stringify(input.value)}) -> ${result}`
      case 'delete':
        return `delete(${input.key}) -> ${result}`
    }
  },
  describeState: (state) => JSON.stringify(state),
}

function describeOutput(output: KvOutput): string {
  switch (output.kind) {
    case 'get':
      return JSON.stringify(output.value)
    case 'cas':
      return output.ok ? 'ok' : 'failed'
    default:
      return 'ok'
  }
}
