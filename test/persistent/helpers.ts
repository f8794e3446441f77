// Builders and fast-check generators for the persistent-stream core tests.
import fc from 'fast-check'
import type { Hlc, StreamEvent } from '../../data-plane/persistent/index.js'
import { hlcLogicalMax } from '../../data-plane/persistent/limits.js'

export const stream = 'default/orders'
const encoder = new TextEncoder()

export function event(fields: Partial<StreamEvent> & { origin: string; originSeq: number; hlc: Hlc; id: string }): StreamEvent {
  return { stream, incarnation: 1, headers: [], payload: encoder.encode(`${fields.id}@${fields.origin}:${fields.originSeq}`), ...fields }
}

export const hlcArb: fc.Arbitrary<Hlc> = fc.record({
  wallMs: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 2 ** 48 - 1 })),
  logical: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: hlcLogicalMax })),
})

export const originArb = fc.constantFrom('a', 'b', 'ab', 'n1', 'n10', 'n2', 'Z', 'z_-9')

export const eventArb: fc.Arbitrary<StreamEvent> = fc.record({
  stream: fc.constantFrom(stream, 'ns/x', 'caf\u00e9/\u65e5'),
  id: fc.string({ minLength: 1, maxLength: 40 }),
  hlc: hlcArb,
  origin: originArb,
  incarnation: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 2 ** 32 - 1 })),
  originSeq: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })),
  headers: fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), fc.string({ maxLength: 20 })), { maxLength: 4 }),
  payload: fc.uint8Array({ maxLength: 64 }),
})

/**
 * A pool of well-formed copies from a few origins: per origin, hlc increases with sequence;
 * ids come from a small pool so copies of one id meet inside and outside the window.
 */
export const eventPoolArb: fc.Arbitrary<StreamEvent[]> = fc
  .array(fc.record({ origin: fc.constantFrom('a', 'b', 'c'), stepMs: fc.integer({ min: 0, max: 15 }), id: fc.constantFrom('x', 'y', 'z', 'w'), skewMs: fc.integer({ min: -20, max: 20 }) }), { maxLength: 40, size: 'max' })
  .map((steps) => {
    const clocks = new Map<string, Hlc>()
    const seqs = new Map<string, number>()
    let nowMs = 100
    return steps.map((s) => {
      nowMs += s.stepMs
      const last = clocks.get(s.origin) ?? { wallMs: 0, logical: 0 }
      const physical = nowMs + s.skewMs
      const hlc = physical > last.wallMs ? { wallMs: physical, logical: 0 } : { wallMs: last.wallMs, logical: last.logical + 1 }
      clocks.set(s.origin, hlc)
      const originSeq = (seqs.get(s.origin) ?? 0) + 1
      seqs.set(s.origin, originSeq)
      return event({ origin: s.origin, originSeq, hlc, id: s.id })
    })
  })

/** A permutation of `items` chosen by fast-check. */
export function permutationArb<T>(items: readonly T[]): fc.Arbitrary<T[]> {
  return fc.array(fc.nat(), { minLength: items.length, maxLength: items.length }).map((keys) =>
    items.map((item, i) => [keys[i] as number, i, item] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, , item]) => item),
  )
}

export const keyOf = (e: StreamEvent): string => `${e.origin}#${e.incarnation}#${e.originSeq}`
