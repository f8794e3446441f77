// Shared test helpers: feed a parser in various chunkings and normalise ops for comparison.
import { createParser } from '../../shared/protocol/parser.js'
import type { ParserOptionsWithHeaders } from '../../shared/protocol/parser.js'
import type { ParserErrorKind, ProtocolOp } from '../../shared/protocol/types.js'

export const textEncoder = new TextEncoder()
export const bytes = (text: string): Uint8Array => textEncoder.encode(text)

/** A plain, deep-comparable form of an op (payload → number[], headers → plain object). */
export function normalize(op: ProtocolOp): unknown {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(op)) {
    if (value === undefined) continue
    if (value instanceof Uint8Array) out[key] = Array.from(value)
    else if (key === 'headers') {
      const h = value as { status?: number; description?: string; entries: ReadonlyArray<readonly [string, string]> }
      out[key] = {
        status: h.status,
        description: h.description,
        entries: h.entries.map(([k, v]) => [k, v]),
      }
    } else out[key] = value
  }
  return out
}

export interface FeedResult {
  readonly ops: unknown[]
  readonly error?: ParserErrorKind
  readonly maxBufferedBytes: number
}

/** Splits `input` at the given cut points (sorted, deduplicated, inside the input). */
export function chunksAt(input: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < input.length))].sort((a, b) => a - b)
  const chunks: Uint8Array[] = []
  let from = 0
  for (const p of points) {
    chunks.push(input.subarray(from, p))
    from = p
  }
  chunks.push(input.subarray(from))
  return chunks
}

export function feed(options: ParserOptionsWithHeaders, chunks: readonly Uint8Array[]): FeedResult {
  const parser = createParser(options)
  const ops: unknown[] = []
  let maxBufferedBytes = 0
  for (const chunk of chunks) {
    const result = parser.push(chunk)
    for (const op of result.ops) ops.push(normalize(op))
    maxBufferedBytes = Math.max(maxBufferedBytes, parser.bufferedBytes)
    if (result.error !== undefined) return { ops, error: result.error.kind, maxBufferedBytes }
  }
  return { ops, maxBufferedBytes }
}

export function oneByteChunks(input: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = []
  for (let i = 0; i < input.length; i++) chunks.push(input.subarray(i, i + 1))
  return chunks
}

/** A small seeded PRNG (mulberry32) so failures replay from their printed seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function randomCuts(length: number, random: () => number): number[] {
  const count = Math.floor(random() * Math.min(length, 12))
  return Array.from({ length: count }, () => Math.floor(random() * length))
}
