// Response streams (RS): the pure bookkeeping behind request/reply. A request (a publish with a
// reply subject, sent while the requester subscribes to that reply subject) opens an RS owned by
// the requester. The RS ends at the first publish to its reply subject, when its deadline passes,
// or when its owner goes away. No timers and no clock reads of its own: the clock is injected and
// the server calls `expire()` when `nextDeadlineMs()` is due.
import type { Clock } from '../../shared/clock.js'
import { DeadlineHeap } from './deadline-heap.js'

export interface ResponseStream<Owner> {
  readonly replySubject: string
  readonly requestSubject: string
  readonly owner: Owner
  /** True when the server answers `408` at the deadline; false: forgotten silently. */
  readonly timed: boolean
  readonly openedAtMs: number
  deadlineMs: number
  heapIndex: number
}

export type OpenResult =
  | { readonly kind: 'opened' }
  /** The reply subject is an open RS of another owner; the request must not be delivered. */
  | { readonly kind: 'in-use' }
  /** The owner already holds `maxOpenPerOwner` RS; the request must not be delivered. */
  | { readonly kind: 'limit' }

// One value per verdict: `open` runs once per request and allocates no result object.
const openedResult: OpenResult = { kind: 'opened' }
const inUseResult: OpenResult = { kind: 'in-use' }
const limitResult: OpenResult = { kind: 'limit' }

export interface ResponseTrackerOptions {
  readonly clock: Clock
  /** Named limit: open RS per owner (connection). */
  readonly maxOpenPerOwner: number
  /** An RS without a timeout is forgotten (no 408) after this long, so it cannot pile up. */
  readonly untimedExpiryMs: number
}

export class ResponseTracker<Owner> {
  readonly #options: ResponseTrackerOptions
  readonly #byReply = new Map<string, ResponseStream<Owner>>()
  readonly #byOwner = new Map<Owner, Set<ResponseStream<Owner>>>()
  readonly #deadlines = new DeadlineHeap<ResponseStream<Owner>>()

  constructor(options: ResponseTrackerOptions) {
    if (!(options.maxOpenPerOwner > 0)) throw new Error('response tracker: maxOpenPerOwner must be > 0')
    if (!(options.untimedExpiryMs > 0)) throw new Error('response tracker: untimedExpiryMs must be > 0')
    this.#options = options
  }

  /** Open RS in total. */
  get size(): number {
    return this.#byReply.size
  }

  openCount(owner: Owner): number {
    return this.#byOwner.get(owner)?.size ?? 0
  }

  /** The open RS on `replySubject`, if any. */
  get(replySubject: string): ResponseStream<Owner> | undefined {
    return this.#byReply.get(replySubject)
  }

  /**
   * Open an RS for a request. `timeoutMs` 0 means no server timeout. The same owner opening the
   * same reply subject again (a client re-using its inbox) replaces its previous RS.
   */
  open(owner: Owner, replySubject: string, requestSubject: string, timeoutMs: number): OpenResult {
    const existing = this.#byReply.get(replySubject)
    if (existing !== undefined) {
      if (existing.owner !== owner) return inUseResult
      this.#remove(existing)
    } else if (this.openCount(owner) >= this.#options.maxOpenPerOwner) {
      return limitResult
    }
    const nowMs = this.#options.clock.nowMs()
    const timed = timeoutMs > 0
    const stream: ResponseStream<Owner> = {
      replySubject,
      requestSubject,
      owner,
      timed,
      openedAtMs: nowMs,
      deadlineMs: nowMs + (timed ? timeoutMs : this.#options.untimedExpiryMs),
      heapIndex: -1,
    }
    this.#byReply.set(replySubject, stream)
    let owned = this.#byOwner.get(owner)
    if (owned === undefined) this.#byOwner.set(owner, (owned = new Set()))
    owned.add(stream)
    this.#deadlines.push(stream)
    return openedResult
  }

  /** A publish to `subject`: if it answers an open RS, that RS ends and is returned. */
  respond(subject: string): ResponseStream<Owner> | undefined {
    if (this.#byReply.size === 0) return undefined
    const stream = this.#byReply.get(subject)
    if (stream !== undefined) this.#remove(stream)
    return stream
  }

  /** When the earliest open RS expires; undefined when none is open. */
  nextDeadlineMs(): number | undefined {
    return this.#deadlines.peek()?.deadlineMs
  }

  /** Remove and return every RS whose deadline has passed (timed ones need a 408 from the caller). */
  expire(): Array<ResponseStream<Owner>> {
    const nowMs = this.#options.clock.nowMs()
    const expired: Array<ResponseStream<Owner>> = []
    while (true) {
      const earliest = this.#deadlines.peek()
      if (earliest === undefined || earliest.deadlineMs > nowMs) return expired
      this.#remove(earliest)
      expired.push(earliest)
    }
  }

  /** The owner went away (disconnect): forget its RS; returns how many. */
  closeOwner(owner: Owner): number {
    const owned = this.#byOwner.get(owner)
    if (owned === undefined) return 0
    const count = owned.size
    for (const stream of [...owned]) this.#remove(stream)
    return count
  }

  #remove(stream: ResponseStream<Owner>): void {
    this.#byReply.delete(stream.replySubject)
    this.#deadlines.remove(stream)
    const owned = this.#byOwner.get(stream.owner)
    // Invariant: every open RS is in its owner's set.
    if (owned === undefined || !owned.delete(stream)) throw new Error('response tracker: RS missing from its owner set')
    if (owned.size === 0) this.#byOwner.delete(stream.owner)
  }
}
