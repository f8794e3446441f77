// Version vectors {origin incarnation → highest contiguous sequence} for anti-entropy
// (DESIGN §3.2.3), and the per-origin tracker that tolerates out-of-order arrival with a bounded
// gap buffer. Pure.
//
// Merge is a per-origin max (a join: commutative, associative, idempotent). `missing(mine,
// theirs)` lists the ranges a replica holding `mine` should pull from a peer holding `theirs`.
import { gapSeqsPerOriginMax } from './limits.js'

/** origin key (`origin#incarnation`) → highest contiguous sequence held (0 = none). */
export type VersionVector = ReadonlyMap<string, number>

/** A contiguous run of sequences of one origin incarnation, inclusive. */
export interface SeqRange {
  readonly originKey: string
  readonly fromSeq: number
  readonly toSeq: number
}

export function mergeVersionVectors(a: VersionVector, b: VersionVector): Map<string, number> {
  const out = new Map(a)
  for (const [key, seq] of b) if (seq > (out.get(key) ?? 0)) out.set(key, seq)
  return out
}

/** Whether `a` has everything `b` has (per origin, a ≥ b). */
export function dominates(a: VersionVector, b: VersionVector): boolean {
  for (const [key, seq] of b) if ((a.get(key) ?? 0) < seq) return false
  return true
}

export function versionVectorsEqual(a: VersionVector, b: VersionVector): boolean {
  return dominates(a, b) && dominates(b, a)
}

/** Ranges to pull, sorted by origin key: for each origin where theirs is ahead, (mine, theirs]. */
export function missing(mine: VersionVector, theirs: VersionVector): SeqRange[] {
  const out: SeqRange[] = []
  for (const key of [...theirs.keys()].sort()) {
    const have = mine.get(key) ?? 0
    const want = theirs.get(key) ?? 0
    if (want > have) out.push({ originKey: key, fromSeq: have + 1, toSeq: want })
  }
  return out
}

/** Why `record` refused a sequence. */
export type RecordRefusal = 'gap-buffer-full'

interface OriginProgress {
  contiguous: number
  /** Sequences held above `contiguous + 1` (never containing `contiguous + 1`). */
  readonly gaps: Set<number>
}

/**
 * Which sequences of each origin incarnation a replica holds: the contiguous prefix plus a gap
 * buffer of at most `gapMax` sequences beyond it. A sequence more than `gapMax` past the prefix
 * is refused (anti-entropy pulls it again once the gap fills), so memory stays bounded.
 */
export class VersionTracker {
  readonly #origins = new Map<string, OriginProgress>()
  readonly gapMax: number

  constructor(options: { gapMax?: number } = {}) {
    this.gapMax = options.gapMax ?? gapSeqsPerOriginMax
  }

  has(originKey: string, seq: number): boolean {
    const p = this.#origins.get(originKey)
    return p !== undefined && (seq <= p.contiguous || p.gaps.has(seq))
  }

  contiguous(originKey: string): number {
    return this.#origins.get(originKey)?.contiguous ?? 0
  }

  /** Whether `seq` would be accepted (not held, within the gap buffer). */
  canRecord(originKey: string, seq: number): RecordRefusal | null {
    const p = this.#origins.get(originKey)
    const contiguous = p?.contiguous ?? 0
    return seq - contiguous > this.gapMax ? 'gap-buffer-full' : null
  }

  /**
   * Records a held sequence. Returns the new contiguous prefix, or a refusal. Recording a
   * sequence already held is a caller bug (check `has` first).
   */
  record(originKey: string, seq: number): number | RecordRefusal {
    if (this.has(originKey, seq)) throw new Error(`version tracker: ${originKey}:${seq} is already held`)
    const refusal = this.canRecord(originKey, seq)
    if (refusal !== null) return refusal
    let p = this.#origins.get(originKey)
    if (p === undefined) {
      p = { contiguous: 0, gaps: new Set() }
      this.#origins.set(originKey, p)
    }
    if (seq !== p.contiguous + 1) {
      p.gaps.add(seq)
      return p.contiguous
    }
    p.contiguous = seq
    while (p.gaps.delete(p.contiguous + 1)) p.contiguous++
    return p.contiguous
  }

  /**
   * Sets an origin's state read back after a restart: its contiguous prefix and the sequences
   * held above it (at most `gapMax` past the prefix, none adjacent to it). Only for an origin not
   * tracked yet.
   */
  restore(originKey: string, contiguous: number, gaps: readonly number[]): void {
    if (this.#origins.has(originKey)) throw new Error(`version tracker: ${originKey} restored twice`)
    if (!(Number.isSafeInteger(contiguous) && contiguous >= 0)) throw new RangeError(`version tracker: ${originKey} contiguous ${contiguous}`)
    for (const seq of gaps) {
      if (!(Number.isSafeInteger(seq) && seq > contiguous + 1 && seq - contiguous <= this.gapMax)) throw new RangeError(`version tracker: ${originKey} gap ${seq} after ${contiguous}`)
    }
    this.#origins.set(originKey, { contiguous, gaps: new Set(gaps) })
  }

  /** The contiguous version vector (what anti-entropy advertises). */
  vector(): Map<string, number> {
    const out = new Map<string, number>()
    for (const key of [...this.#origins.keys()].sort()) out.set(key, (this.#origins.get(key) as OriginProgress).contiguous)
    return out
  }

  /** Sequences held out of order, per origin (sorted). */
  gaps(originKey: string): number[] {
    return [...(this.#origins.get(originKey)?.gaps ?? [])].sort((a, b) => a - b)
  }

  /**
   * Ranges to pull from a peer advertising `theirs`: like `missing(this.vector(), theirs)`, but
   * sequences already held in the gap buffer are left out (a range may split around them).
   */
  missingFrom(theirs: VersionVector): SeqRange[] {
    const out: SeqRange[] = []
    for (const range of missing(this.vector(), theirs)) {
      let from = range.fromSeq
      for (const held of this.gaps(range.originKey)) {
        if (held > range.toSeq) break
        if (held > from) out.push({ originKey: range.originKey, fromSeq: from, toSeq: held - 1 })
        from = held + 1
      }
      if (from <= range.toSeq) out.push({ originKey: range.originKey, fromSeq: from, toSeq: range.toSeq })
    }
    return out
  }
}
