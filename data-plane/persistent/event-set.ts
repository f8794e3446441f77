// A replica's events of one stream: a grow-only set whose merge is union, with dedup inside
// the window as part of the CRDT (DESIGN §3.2.2). Pure and deterministic.
//
// THE DEDUP RULE. Copies are events that share an `id`. Sort all copies of an id held by the
// set in delivery order (hlc, origin, incarnation, originSeq). Walk them in that order keeping
// the last survivor S: the first copy survives; a later copy C is a duplicate of S when
// `C.hlc.wallMs − S.hlc.wallMs < dedupWindowMs`, otherwise C survives and becomes S.
// Consequences:
//  - Whether a copy survives is a function of the set alone (never of arrival order), so equal
//    sets deduplicate equally on every replica, and merge (union) stays a join.
//  - Among copies inside one window the survivor is the lowest (hlc, origin): the first in log
//    order. No two survivors of an id are less than a window apart; every duplicate lies less
//    than a window after its survivor.
//  - The verdict for a copy depends only on copies *before* it in delivery order. So once a
//    copy is below the stability frontier (order.ts: no replica can still receive anything
//    before it), its verdict is final: exact dedup needs readers to stay below the point every
//    replica has passed — exactly where delivery reads (DESIGN §3.2.7).
//  - Before that, a late copy with a lower hlc can change verdicts (it may become the survivor,
//    and a copy a window after it may flip back to surviving). That is why duplicates are kept
//    as full members of the set (version vectors stay contiguous, anti-entropy converges) and
//    only skipped at delivery.
import { addHash, hash128, hashHex, zeroHash } from './hash.js'
import type { Hash128 } from './hash.js'
import { compareEventOrder, encodeEvent, eventProblem, originKey, originKeyOf } from './event.js'
import type { EventPosition, StreamEvent } from './event.js'
import { PersistentRejection } from './errors.js'
import { compareHlc } from './hlc.js'
import type { Hlc } from './hlc.js'
import { insertBatchEventsMax } from './limits.js'
import { VersionTracker } from './version-vector.js'
import type { SeqRange, VersionVector } from './version-vector.js'

export interface EventSetOptions {
  readonly stream: string
  /** The stream's dedup window; 0 turns dedup off (every copy survives). */
  readonly dedupWindowMs: number
  /** Gap buffer per origin (defaults to limits.gapSeqsPerOriginMax). */
  readonly gapMax?: number
}

export interface AddedEvent {
  readonly event: StreamEvent
  /** The survivor this copy folds into, judged on what this replica held after the batch; null = it survives. */
  readonly duplicateOf: StreamEvent | null
}

export type RefusalReason =
  /** Fails `eventProblem` (a peer bug or corruption). */
  | 'invalid'
  | 'wrong-stream'
  /** Too far past the origin's contiguous prefix; pull it again later. */
  | 'gap-buffer-full'
  /** Same (origin, incarnation, seq) already held with other content (a broken origin). */
  | 'conflicting-copy'
  /** Its hlc does not increase with originSeq against a held neighbour of the same origin. */
  | 'non-monotonic'

export interface RefusedEvent {
  readonly event: StreamEvent
  readonly reason: RefusalReason
}

export interface InsertResult {
  /** New copies, in batch order: persist and forward these. */
  readonly added: readonly AddedEvent[]
  /** Copies that were already held (same content). */
  readonly alreadyHeld: number
  readonly refused: readonly RefusedEvent[]
}

/**
 * For copies of one id sorted in delivery order: for each, the index of the survivor it folds
 * into (its own index when it survives). The dedup rule above, as a pure function.
 */
export function dedupSurvivors(copies: readonly StreamEvent[], dedupWindowMs: number): number[] {
  const out: number[] = []
  let survivor = -1
  for (let i = 0; i < copies.length; i++) {
    const copy = copies[i] as StreamEvent
    if (survivor >= 0 && copy.hlc.wallMs - (copies[survivor] as StreamEvent).hlc.wallMs < dedupWindowMs) {
      out.push(survivor)
    } else {
      survivor = i
      out.push(i)
    }
  }
  return out
}

interface Held {
  readonly event: StreamEvent
  readonly hash: Hash128
}

function sortedInsert(list: StreamEvent[], event: StreamEvent): void {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (compareEventOrder(list[mid] as StreamEvent, event) < 0) lo = mid + 1
    else hi = mid
  }
  list.splice(lo, 0, event)
}

export class EventSet {
  readonly stream: string
  readonly dedupWindowMs: number
  /** origin key → sequence → copy. */
  readonly #origins = new Map<string, Map<number, Held>>()
  #size = 0
  readonly #byId = new Map<string, StreamEvent[]>()
  readonly #tracker: VersionTracker
  #digest: Hash128 = zeroHash

  constructor(options: EventSetOptions) {
    if (!(Number.isInteger(options.dedupWindowMs) && options.dedupWindowMs >= 0)) throw new RangeError(`event set: dedupWindowMs must be an integer >= 0, got ${options.dedupWindowMs}`)
    this.stream = options.stream
    this.dedupWindowMs = options.dedupWindowMs
    this.#tracker = new VersionTracker(options.gapMax === undefined ? {} : { gapMax: options.gapMax })
  }

  get size(): number {
    return this.#size
  }

  /** Sequences held per origin beyond its contiguous prefix, at most. */
  get gapMax(): number {
    return this.#tracker.gapMax
  }

  /** Adds a batch (any order, duplicates and re-sends welcome). Returns what is new. */
  insert(batch: readonly StreamEvent[]): InsertResult {
    if (batch.length > insertBatchEventsMax) {
      throw new PersistentRejection('RG_ERR_LIMIT_EXCEEDED', `event set: batch of ${batch.length} events over insertBatchEventsMax (${insertBatchEventsMax})`, { limit: 'insertBatchEventsMax' })
    }
    const newlyAdded: StreamEvent[] = []
    const refused: RefusedEvent[] = []
    let alreadyHeld = 0
    for (const event of batch) {
      if (event.stream !== this.stream) {
        refused.push({ event, reason: 'wrong-stream' })
        continue
      }
      if (eventProblem(event) !== null) {
        refused.push({ event, reason: 'invalid' })
        continue
      }
      const hash = hash128(encodeEvent(event))
      const held = this.#held(event.origin, event.incarnation, event.originSeq)
      if (held !== undefined) {
        if (held.hash[0] === hash[0] && held.hash[1] === hash[1] && held.hash[2] === hash[2] && held.hash[3] === hash[3]) alreadyHeld++
        else refused.push({ event, reason: 'conflicting-copy' })
        continue
      }
      if (!this.#monotonic(event)) {
        refused.push({ event, reason: 'non-monotonic' })
        continue
      }
      const recorded = this.#tracker.record(originKeyOf(event), event.originSeq)
      if (typeof recorded === 'string') {
        refused.push({ event, reason: recorded })
        continue
      }
      const origin = originKeyOf(event)
      let bySeq = this.#origins.get(origin)
      if (bySeq === undefined) {
        bySeq = new Map()
        this.#origins.set(origin, bySeq)
      }
      bySeq.set(event.originSeq, { event, hash })
      this.#size++
      let list = this.#byId.get(event.id)
      if (list === undefined) {
        list = []
        this.#byId.set(event.id, list)
      }
      sortedInsert(list, event)
      this.#digest = addHash(this.#digest, hash)
      newlyAdded.push(event)
    }
    return { added: newlyAdded.map((event) => ({ event, duplicateOf: this.duplicateOf(event) })), alreadyHeld, refused }
  }

  /** Union: inserts everything `other` holds (for tests and full-state anti-entropy). */
  merge(other: EventSet): InsertResult {
    return this.insert(other.all())
  }

  #monotonic(event: StreamEvent): boolean {
    const before = this.get(event.origin, event.incarnation, event.originSeq - 1)
    if (before !== undefined && compareHlc(before.hlc, event.hlc) >= 0) return false
    const after = this.get(event.origin, event.incarnation, event.originSeq + 1)
    return after === undefined || compareHlc(event.hlc, after.hlc) < 0
  }

  get(origin: string, incarnation: number, originSeq: number): StreamEvent | undefined {
    return this.#held(origin, incarnation, originSeq)?.event
  }

  /** The hlc of a held copy (the orderer's `OrderSource`). */
  hlcAt(origin: string, incarnation: number, originSeq: number): Hlc | undefined {
    return this.#held(origin, incarnation, originSeq)?.event.hlc
  }

  /** The id of a held copy (the orderer's `OrderSource`: confirms its dedup window's fingerprints). */
  idAt(origin: string, incarnation: number, originSeq: number): string | undefined {
    return this.#held(origin, incarnation, originSeq)?.event.id
  }

  #held(origin: string, incarnation: number, originSeq: number): Held | undefined {
    return this.#origins.get(originKey(origin, incarnation))?.get(originSeq)
  }

  has(p: EventPosition): boolean {
    return this.#held(p.origin, p.incarnation, p.originSeq) !== undefined
  }

  /** Every held copy of `id`, in delivery order. */
  copiesOf(id: string): readonly StreamEvent[] {
    return this.#byId.get(id) ?? []
  }

  /** The survivor `event` folds into given what is held now, or null when it survives itself. */
  duplicateOf(event: StreamEvent): StreamEvent | null {
    const copies = this.#byId.get(event.id)
    if (copies === undefined) throw new Error('event set: duplicateOf an event that is not held')
    // Only copies before `event` matter; walk them (the verdict never looks ahead).
    let survivor: StreamEvent | null = null
    for (const copy of copies) {
      const isEvent = compareEventOrder(copy, event) === 0
      const folds = survivor !== null && copy.hlc.wallMs - survivor.hlc.wallMs < this.dedupWindowMs
      if (isEvent) return folds ? survivor : null
      if (!folds) survivor = copy
    }
    throw new Error('event set: held event missing from its id index')
  }

  isDuplicate(event: StreamEvent): boolean {
    return this.duplicateOf(event) !== null
  }

  /** Highest contiguous sequence held of one origin incarnation. */
  contiguous(origin: string, incarnation: number): number {
    return this.#tracker.contiguous(originKey(origin, incarnation))
  }

  versionVector(): Map<string, number> {
    return this.#tracker.vector()
  }

  /** Ranges to pull from a peer advertising `theirs` (gap-buffer sequences left out). */
  missingFrom(theirs: VersionVector): SeqRange[] {
    return this.#tracker.missingFrom(theirs)
  }

  /** Held copies of a range, in sequence order, at most `limit` (to answer a pull). */
  eventsInRange(range: SeqRange, limit = Number.MAX_SAFE_INTEGER): StreamEvent[] {
    const bySeq = this.#origins.get(range.originKey)
    if (bySeq === undefined) return []
    const out: StreamEvent[] = []
    if (range.toSeq - range.fromSeq + 1 > bySeq.size) {
      // A wide range over few copies: walk the copies, not the sequence numbers.
      for (const [seq, held] of bySeq) if (seq >= range.fromSeq && seq <= range.toSeq) out.push(held.event)
      out.sort((a, b) => a.originSeq - b.originSeq)
      return out.slice(0, limit)
    }
    for (let seq = range.fromSeq; seq <= range.toSeq && out.length < limit; seq++) {
      const held = bySeq.get(seq)
      if (held !== undefined) out.push(held.event)
    }
    return out
  }

  /** Every held copy, in delivery order. */
  all(): StreamEvent[] {
    const out: StreamEvent[] = []
    for (const bySeq of this.#origins.values()) for (const held of bySeq.values()) out.push(held.event)
    return out.sort(compareEventOrder)
  }

  /** The deduplicated log: survivors in delivery order (final only below the stability frontier). */
  survivors(): StreamEvent[] {
    return this.all().filter((event) => this.duplicateOf(event) === null)
  }

  /**
   * Order-independent digest of the held copies (lane-wise sum of each encoded copy's 128-bit
   * hash): equal sets give equal digests; different sets differ but for negligible chance.
   */
  digest(): string {
    return hashHex(this.#digest)
  }
}

// The orderer's dedup window moved to its own file (a compact, fingerprinted form); re-exported
// here, where the rule it applies lives.
export { DedupWindow, idFingerprint, isUnresolved } from './dedup-window.js'
export type { IdLookup, UnresolvedIds, WindowEntry, WindowSurvivor } from './dedup-window.js'
