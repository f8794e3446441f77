// Consumer-group progress as a CRDT (DESIGN §3.2.6–7): what a stream consumer controller (SCC)
// replicates to the region's replicas, tagged with its controller term. Pure and deterministic.
//
// State = (term, content). Content:
//  - heads: node → next position (in the region's delivery sequence) that node dispatched up
//    to; merge = per-node max. The group's head is the max over nodes. (A single
//    last-writer-wins head could go backwards on merge.)
//  - outstanding: an add-wins (observed-remove) set of event ids. Each dispatch of an id adds a
//    unique dot (writer = node@term, counter); an ack removes the dots of that id its state has
//    seen. The causal context (writer → highest counter seen) tells a merge whether a missing
//    dot was removed (covered) or just not seen yet (kept). So an ack racing a redelivery keeps
//    the id outstanding: at-least-once, never lost.
//  - delivery count: each dot carries its attempt number (1 + the highest attempt its writer
//    had seen for the id); the count of an outstanding id is the max over its dots. It is a
//    function of the surviving dots, so it merges exactly; deliveries by two concurrent writers
//    of one id count once (a sum of counters could not be garbage-collected with the id).
// Merge is lexicographic on (term, content): the higher term wins whole; equal terms join the
// content. That is a join semilattice (commutative, associative, idempotent), and it FENCES a
// stale SCC: its state and operations from a lower term are refused or dominated
// (DESIGN §4.7). A new SCC calls `takeOver`: it joins the content of every state it gathered
// (of any older term), stamps its higher term, and gets the outstanding ids to redeliver.
import { PersistentRejection, failure, success } from './errors.js'
import type { Outcome } from './errors.js'
import { outstandingIdsMax, progressWritersMax } from './limits.js'

export interface OutstandingDot {
  /** `node@term`: one writer identity per SCC term, so counters never collide across terms. */
  readonly writer: string
  readonly counter: number
  /** Delivery attempt this dispatch was (1 = first). */
  readonly attempt: number
  /** The event's position in the region's delivery sequence. */
  readonly position: number
}

export interface OutstandingId {
  readonly id: string
  readonly position: number
  readonly attempts: number
}

export type MergeOutcome = 'merged' | 'adopted-newer-term' | 'ignored-stale-term'

const writerOf = (node: string, term: number): string => `${node}@${term}`

export class GroupProgress {
  #term: number
  readonly #heads = new Map<string, number>()
  readonly #context = new Map<string, number>()
  /** id → dots (key `writer/counter`). */
  readonly #outstanding = new Map<string, Map<string, OutstandingDot>>()

  constructor(term: number) {
    if (!(Number.isInteger(term) && term >= 0)) throw new RangeError(`group progress: term must be an integer >= 0, got ${term}`)
    this.#term = term
  }

  get term(): number {
    return this.#term
  }

  /** The group's head: the highest next-position any node dispatched to. */
  head(): number {
    let head = 0
    for (const h of this.#heads.values()) head = Math.max(head, h)
    return head
  }

  heads(): ReadonlyMap<string, number> {
    return new Map([...this.#heads.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  }

  isOutstanding(id: string): boolean {
    return this.#outstanding.has(id)
  }

  get outstandingCount(): number {
    return this.#outstanding.size
  }

  /** Delivery attempts of an outstanding id (0 when not outstanding). */
  attempts(id: string): number {
    let attempts = 0
    for (const dot of this.#outstanding.get(id)?.values() ?? []) attempts = Math.max(attempts, dot.attempt)
    return attempts
  }

  /** Outstanding ids by (position, id): the redelivery order. */
  outstanding(): OutstandingId[] {
    const out: OutstandingId[] = []
    for (const [id, dots] of this.#outstanding) {
      let position = Number.MAX_SAFE_INTEGER
      let attempts = 0
      for (const dot of dots.values()) {
        position = Math.min(position, dot.position)
        attempts = Math.max(attempts, dot.attempt)
      }
      out.push({ id, position, attempts })
    }
    return out.sort((a, b) => a.position - b.position || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  #fence(term: number, what: string): PersistentRejection | null {
    if (term < this.#term) return new PersistentRejection('RG_ERR_STALE_TERM', `group progress: ${what} from term ${term}, state is at term ${this.#term}`, { currentTerm: this.#term })
    if (term > this.#term) return new PersistentRejection('RG_ERR_INVALID_STATE', `group progress: ${what} from term ${term} before takeOver (state at term ${this.#term})`, { currentTerm: this.#term })
    return null
  }

  /**
   * Records a dispatch (first delivery or redelivery) of `id` at `position` by `node` holding
   * `term`. Returns the attempt number. The head of `node` moves to position + 1 at least.
   */
  dispatch(op: { readonly node: string; readonly term: number; readonly id: string; readonly position: number }): Outcome<number, PersistentRejection> {
    const fenced = this.#fence(op.term, 'dispatch')
    if (fenced !== null) return failure(fenced)
    if (!(Number.isInteger(op.position) && op.position >= 0)) return failure(new PersistentRejection('RG_ERR_INVALID_ARGUMENT', `group progress: position must be an integer >= 0, got ${op.position}`))
    const writer = writerOf(op.node, op.term)
    if (!this.#outstanding.has(op.id) && this.#outstanding.size >= outstandingIdsMax) {
      return failure(new PersistentRejection('RG_ERR_LIMIT_EXCEEDED', `group progress: outstandingIdsMax (${outstandingIdsMax}) reached`, { limit: 'outstandingIdsMax' }))
    }
    if (!this.#context.has(writer) && this.#context.size >= progressWritersMax) {
      return failure(new PersistentRejection('RG_ERR_LIMIT_EXCEEDED', `group progress: progressWritersMax (${progressWritersMax}) reached`, { limit: 'progressWritersMax' }))
    }
    const counter = (this.#context.get(writer) ?? 0) + 1
    this.#context.set(writer, counter)
    const attempt = this.attempts(op.id) + 1
    let dots = this.#outstanding.get(op.id)
    if (dots === undefined) {
      dots = new Map()
      this.#outstanding.set(op.id, dots)
    }
    dots.set(`${writer}/${counter}`, { writer, counter, attempt, position: op.position })
    this.#heads.set(op.node, Math.max(this.#heads.get(op.node) ?? 0, op.position + 1))
    return success(attempt)
  }

  /** Records an ack (or a term/dead-letter): removes the dots of `id` this state has seen. */
  ack(op: { readonly term: number; readonly id: string }): Outcome<boolean, PersistentRejection> {
    const fenced = this.#fence(op.term, 'ack')
    if (fenced !== null) return failure(fenced)
    return success(this.#outstanding.delete(op.id))
  }

  /** Lattice merge with another replica's state (the receiver changes). */
  merge(other: GroupProgress): MergeOutcome {
    if (other.#term < this.#term) return 'ignored-stale-term'
    if (other.#term > this.#term) {
      this.#replaceWith(other)
      return 'adopted-newer-term'
    }
    this.#joinContent(other)
    return 'merged'
  }

  #replaceWith(other: GroupProgress): void {
    this.#term = other.#term
    this.#heads.clear()
    this.#context.clear()
    this.#outstanding.clear()
    this.#joinContent(other)
  }

  #joinContent(other: GroupProgress): void {
    for (const [node, head] of other.#heads) this.#heads.set(node, Math.max(this.#heads.get(node) ?? 0, head))
    // Dots this state holds that the other has seen (covered) but no longer holds were removed there.
    for (const [id, dots] of this.#outstanding) {
      const theirs = other.#outstanding.get(id)
      for (const [key, dot] of dots) {
        if (theirs?.has(key) !== true && dot.counter <= (other.#context.get(dot.writer) ?? 0)) dots.delete(key)
      }
      if (dots.size === 0) this.#outstanding.delete(id)
    }
    // Dots the other holds that this state has not seen yet are added.
    for (const [id, theirDots] of other.#outstanding) {
      for (const [key, dot] of theirDots) {
        if (dot.counter <= (this.#context.get(dot.writer) ?? 0)) continue // seen here: kept above or removed here
        let dots = this.#outstanding.get(id)
        if (dots === undefined) {
          dots = new Map()
          this.#outstanding.set(id, dots)
        }
        dots.set(key, dot)
      }
    }
    for (const [writer, counter] of other.#context) this.#context.set(writer, Math.max(this.#context.get(writer) ?? 0, counter))
  }

  clone(): GroupProgress {
    const copy = new GroupProgress(this.#term)
    copy.#joinContent(this)
    return copy
  }

  /**
   * A new SCC with `term` (above every gathered state's term) joins the content of all the
   * states it gathered from replicas and gets what was outstanding, to redeliver.
   */
  static takeOver(term: number, gathered: readonly GroupProgress[]): Outcome<{ readonly state: GroupProgress; readonly redeliver: readonly OutstandingId[] }, PersistentRejection> {
    for (const state of gathered) {
      if (state.#term >= term) return failure(new PersistentRejection('RG_ERR_STALE_TERM', `group progress: takeOver at term ${term} but a gathered state is at term ${state.#term}`, { currentTerm: state.#term }))
    }
    const state = new GroupProgress(term)
    for (const source of gathered) state.#joinContent(source)
    return success({ state, redeliver: state.outstanding() })
  }

  /** Canonical form (sorted), for equality checks and digests. */
  canonical(): string {
    const sortedEntries = <V>(m: ReadonlyMap<string, V>): [string, V][] => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return JSON.stringify({
      term: this.#term,
      heads: sortedEntries(this.#heads),
      context: sortedEntries(this.#context),
      outstanding: sortedEntries(this.#outstanding).map(([id, dots]) => [id, sortedEntries(dots).map(([, d]) => [d.writer, d.counter, d.attempt, d.position])]),
    })
  }
}
