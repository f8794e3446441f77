// ProgressState: a consumer group's progress as the controller persists and replicates it — the
// CRDT of ../group-progress.ts (DESIGN §3.2.6–7) with what a driver needs beside it: a codec
// (JSON snapshot, and the per-index parts the group store writes as separate keys), dirty
// tracking (which parts changed since the last write) and a controller that restarts at the
// same term. Pure and deterministic.
//
// Why not GroupProgress itself: its state lives in private fields with no way to rebuild it
// from bytes, and a restored copy rebuilt by replaying operations would carry different dots
// (an acked index could come back on the next merge). Same laws, same fencing; the differences:
//  - the identity of an outstanding message is its delivery index (one event per index in the
//    region's order, invariant 2), not an id string;
//  - a (re)dispatch removes the dots of that index this state has seen, then adds its own: an
//    observed-remove + add, so an index carries one dot locally however often it is redelivered
//    (GroupProgress keeps one dot per delivery); concurrent dots from other writers survive;
//  - `restore(term, gathered)` accepts gathered states of the SAME term (a controller restarted
//    without a new designation), which is safe because every controller life writes under its
//    own writer name (`node` is the caller's: node id + a per-life nonce), so dots never collide.
//
// State = (term, content). Content: heads (writer node → next index it dispatched to; merge =
// per-node max; group head = max), outstanding (index → dots {writer, counter, attempt}),
// causal context (writer → highest counter seen). Merge is lexicographic on (term, content).
import { PersistentRejection, failure, success } from '../errors.js'
import type { Outcome } from '../errors.js'
import { outstandingIdsMax, progressWritersMax } from '../limits.js'
import { dotsPerIndexMax } from './limits.js'

export interface ProgressDot {
  /** `node@term`: the writer identity of one controller life in one term. */
  readonly writer: string
  readonly counter: number
  /** Delivery attempt this dispatch was (1 = first). */
  readonly attempt: number
}

export interface OutstandingIndex {
  readonly index: number
  /** Deliveries so far (max over its dots). */
  readonly attempts: number
}

export type ProgressMergeOutcome = 'merged' | 'adopted-newer-term' | 'ignored-stale-term'

/** The per-group part of a snapshot (everything but the outstanding entries). */
export interface ProgressMeta {
  readonly term: number
  readonly heads: ReadonlyArray<readonly [string, number]>
  readonly context: ReadonlyArray<readonly [string, number]>
}

/** One outstanding index's dots as stored: `[writer, counter, attempt]`. */
export type ProgressEntry = ReadonlyArray<readonly [string, number, number]>

/** A whole state as JSON (`v` = format version). */
export interface ProgressSnapshot extends ProgressMeta {
  readonly v: 1
  readonly outstanding: ReadonlyArray<readonly [number, ProgressEntry]>
}

export interface ProgressDirt {
  /** Term, heads or context changed. */
  readonly meta: boolean
  /** Indexes whose entry changed (write its entry, or delete it when no longer outstanding). */
  readonly indexes: readonly number[]
}

const writerOf = (node: string, term: number): string => `${node}@${term}`
const dotKey = (writer: string, counter: number): string => `${writer}/${counter}`
const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
const byKey = <V>(m: ReadonlyMap<string, V>): Array<[string, V]> => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

export class ProgressState {
  #term: number
  readonly #heads = new Map<string, number>()
  readonly #context = new Map<string, number>()
  readonly #outstanding = new Map<number, Map<string, ProgressDot>>()
  #metaDirty = false
  readonly #dirty = new Set<number>()
  #version = 0
  /** The last writer name built (`node@term`): a dispatch per message must not build and hash a new string each time. */
  #lastWriter: { readonly node: string; readonly term: number; readonly writer: string } | undefined

  constructor(term: number) {
    if (!isCount(term)) throw new RangeError(`progress: term must be an integer >= 0, got ${term}`)
    this.#term = term
  }

  get term(): number {
    return this.#term
  }

  /** Goes up on every change (what a replicator compares to know whether to send again). */
  get version(): number {
    return this.#version
  }

  /** The group's head: the highest next index any writer dispatched to (or advanced to). */
  head(): number {
    let head = 0
    for (const h of this.#heads.values()) head = Math.max(head, h)
    return head
  }

  /** True when nothing was ever dispatched or advanced (a group that has not started). */
  get isEmpty(): boolean {
    return this.#heads.size === 0 && this.#outstanding.size === 0
  }

  isOutstanding(index: number): boolean {
    return this.#outstanding.has(index)
  }

  get outstandingCount(): number {
    return this.#outstanding.size
  }

  /** Deliveries of an outstanding index so far (0 when not outstanding). */
  attempts(index: number): number {
    let attempts = 0
    for (const dot of this.#outstanding.get(index)?.values() ?? []) attempts = Math.max(attempts, dot.attempt)
    return attempts
  }

  /** Outstanding indexes in order (the redelivery order). */
  outstanding(): OutstandingIndex[] {
    const out: OutstandingIndex[] = []
    for (const index of this.#outstanding.keys()) out.push({ index, attempts: this.attempts(index) })
    return out.sort((a, b) => a.index - b.index)
  }

  #fence(term: number, what: string): PersistentRejection | null {
    if (term < this.#term) return new PersistentRejection('RG_ERR_STALE_TERM', `group progress: ${what} from term ${term}, state is at term ${this.#term}`, { currentTerm: this.#term })
    if (term > this.#term) return new PersistentRejection('RG_ERR_INVALID_STATE', `group progress: ${what} from term ${term} before restore (state at term ${this.#term})`, { currentTerm: this.#term })
    return null
  }

  #writerRoom(writer: string): PersistentRejection | null {
    if (this.#context.has(writer) || this.#context.size < progressWritersMax) return null
    return new PersistentRejection('RG_ERR_LIMIT_EXCEEDED', `group progress: progressWritersMax (${progressWritersMax}) reached`, { limit: 'progressWritersMax' })
  }

  /** Moves `node`'s head to `to` at least (a group starting at the end, a time or an index). */
  advanceHead(op: { readonly node: string; readonly term: number; readonly to: number }): Outcome<number, PersistentRejection> {
    const fenced = this.#fence(op.term, 'advance')
    if (fenced !== null) return failure(fenced)
    if (!isCount(op.to)) return failure(new PersistentRejection('RG_ERR_INVALID_ARGUMENT', `group progress: head must be an integer >= 0, got ${op.to}`))
    if (!this.#heads.has(op.node) && this.#heads.size >= progressWritersMax) {
      return failure(new PersistentRejection('RG_ERR_LIMIT_EXCEEDED', `group progress: progressWritersMax (${progressWritersMax}) reached`, { limit: 'progressWritersMax' }))
    }
    const before = this.#heads.get(op.node) ?? 0
    if (op.to > before || !this.#heads.has(op.node)) {
      this.#heads.set(op.node, Math.max(before, op.to))
      this.#metaDirty = true
      this.#version += 1
    }
    return success(this.head())
  }

  /**
   * A dispatch (first delivery or redelivery) of `index` by `node` at `term`: removes the dots of
   * `index` this state holds, adds one new dot. Returns the attempt number (Rg-Deliveries).
   */
  dispatch(op: { readonly node: string; readonly term: number; readonly index: number }): Outcome<number, PersistentRejection> {
    const fenced = this.#fence(op.term, 'dispatch')
    if (fenced !== null) return failure(fenced)
    if (!isCount(op.index)) return failure(new PersistentRejection('RG_ERR_INVALID_ARGUMENT', `group progress: index must be an integer >= 0, got ${op.index}`))
    let last = this.#lastWriter
    if (last === undefined || last.node !== op.node || last.term !== op.term) this.#lastWriter = last = { node: op.node, term: op.term, writer: writerOf(op.node, op.term) }
    const writer = last.writer
    if (!this.#outstanding.has(op.index) && this.#outstanding.size >= outstandingIdsMax) {
      return failure(new PersistentRejection('RG_ERR_LIMIT_EXCEEDED', `group progress: outstandingIdsMax (${outstandingIdsMax}) reached`, { limit: 'outstandingIdsMax' }))
    }
    const room = this.#writerRoom(writer)
    if (room !== null) return failure(room)
    const attempt = this.attempts(op.index) + 1
    const counter = (this.#context.get(writer) ?? 0) + 1
    this.#context.set(writer, counter)
    this.#outstanding.set(op.index, new Map([[dotKey(writer, counter), { writer, counter, attempt }]]))
    this.#heads.set(op.node, Math.max(this.#heads.get(op.node) ?? 0, op.index + 1))
    this.#metaDirty = true
    this.#dirty.add(op.index)
    this.#version += 1
    return success(attempt)
  }

  /** An ack (or a completed dead-letter move): removes the dots of `index` this state has seen. */
  ack(op: { readonly term: number; readonly index: number }): Outcome<boolean, PersistentRejection> {
    const fenced = this.#fence(op.term, 'ack')
    if (fenced !== null) return failure(fenced)
    const removed = this.#outstanding.delete(op.index)
    if (removed) {
      this.#dirty.add(op.index)
      this.#version += 1
    }
    return success(removed)
  }

  /** Lattice merge with another copy (this one changes). */
  merge(other: ProgressState): ProgressMergeOutcome {
    if (other.#term < this.#term) return 'ignored-stale-term'
    if (other.#term > this.#term) {
      for (const index of this.#outstanding.keys()) this.#dirty.add(index)
      this.#term = other.#term
      this.#heads.clear()
      this.#context.clear()
      this.#outstanding.clear()
      this.#joinContent(other)
      this.#metaDirty = true
      this.#version += 1
      return 'adopted-newer-term'
    }
    this.#joinContent(other)
    return 'merged'
  }

  #joinContent(other: ProgressState): void {
    let changed = false
    const touch = (index?: number): void => {
      changed = true
      if (index === undefined) this.#metaDirty = true
      else this.#dirty.add(index)
    }
    for (const [node, head] of other.#heads) {
      const mine = this.#heads.get(node)
      if (mine === undefined || head > mine) {
        this.#heads.set(node, head)
        touch()
      }
    }
    // Dots held here that the other has seen (covered by its context) but no longer holds were removed there.
    for (const [index, dots] of this.#outstanding) {
      const theirs = other.#outstanding.get(index)
      for (const [key, dot] of dots) {
        if (theirs?.has(key) !== true && dot.counter <= (other.#context.get(dot.writer) ?? 0)) {
          dots.delete(key)
          touch(index)
        }
      }
      if (dots.size === 0) this.#outstanding.delete(index)
    }
    // Dots the other holds that this copy has not seen yet are added.
    for (const [index, theirDots] of other.#outstanding) {
      for (const [key, dot] of theirDots) {
        if (dot.counter <= (this.#context.get(dot.writer) ?? 0)) continue
        let dots = this.#outstanding.get(index)
        if (dots === undefined) {
          dots = new Map()
          this.#outstanding.set(index, dots)
        }
        dots.set(key, dot)
        touch(index)
      }
    }
    for (const [writer, counter] of other.#context) {
      const mine = this.#context.get(writer)
      if (mine === undefined || counter > mine) {
        this.#context.set(writer, counter)
        touch()
      }
    }
    if (changed) this.#version += 1
  }

  clone(): ProgressState {
    const copy = new ProgressState(this.#term)
    copy.#joinContent(this)
    copy.#metaDirty = false
    copy.#dirty.clear()
    return copy
  }

  /**
   * A controller holding `term` joins every state it gathered (its own copy and the replicas'),
   * of `term` or older; a gathered state above `term` means this controller is stale. Returns the
   * state at `term` and what was outstanding (to redeliver).
   */
  static restore(term: number, gathered: readonly ProgressState[]): Outcome<{ readonly state: ProgressState; readonly redeliver: readonly OutstandingIndex[] }, PersistentRejection> {
    for (const state of gathered) {
      if (state.#term > term) return failure(new PersistentRejection('RG_ERR_STALE_TERM', `group progress: restore at term ${term} but a gathered state is at term ${state.#term}`, { currentTerm: state.#term }))
    }
    const state = new ProgressState(term)
    for (const source of gathered) state.#joinContent(source)
    state.#metaDirty = true
    return success({ state, redeliver: state.outstanding() })
  }

  // ---- codec and dirty tracking --------------------------------------------------------------

  /** What changed since the last call (and forget it). */
  takeDirty(): ProgressDirt {
    const dirt = { meta: this.#metaDirty, indexes: [...this.#dirty].sort((a, b) => a - b) }
    this.#metaDirty = false
    this.#dirty.clear()
    return dirt
  }

  get isDirty(): boolean {
    return this.#metaDirty || this.#dirty.size > 0
  }

  meta(): ProgressMeta {
    return { term: this.#term, heads: byKey(this.#heads), context: byKey(this.#context) }
  }

  /** The stored form of one outstanding index; undefined when it is not outstanding. */
  entry(index: number): ProgressEntry | undefined {
    const dots = this.#outstanding.get(index)
    if (dots === undefined) return undefined
    if (dots.size === 1) {
      // The common case (one dispatch by one controller): no sort.
      for (const d of dots.values()) return [[d.writer, d.counter, d.attempt] as const]
    }
    return byKey(dots).map(([, d]) => [d.writer, d.counter, d.attempt] as const)
  }

  snapshot(): ProgressSnapshot {
    const outstanding: Array<readonly [number, ProgressEntry]> = []
    for (const index of [...this.#outstanding.keys()].sort((a, b) => a - b)) outstanding.push([index, this.entry(index) as ProgressEntry])
    return { v: 1, ...this.meta(), outstanding }
  }

  /** Canonical text (sorted): equal states, equal text. */
  canonical(): string {
    return JSON.stringify(this.snapshot())
  }

  /** Rebuilds a state from its parts (a snapshot, or what the group store read back); validated. */
  static fromParts(meta: unknown, entries: Iterable<readonly [number, unknown]>): Outcome<ProgressState, PersistentRejection> {
    const bad = (why: string): { readonly ok: false; readonly error: PersistentRejection } => failure(new PersistentRejection('RG_ERR_INVALID_ARGUMENT', `group progress: malformed state: ${why}`))
    if (typeof meta !== 'object' || meta === null) return bad('not an object')
    const m = meta as Record<string, unknown>
    if (!isCount(m['term'])) return bad('term')
    const state = new ProgressState(m['term'])
    const pairs = (value: unknown): Array<[string, number]> | undefined => {
      if (!Array.isArray(value) || value.length > progressWritersMax) return undefined
      const out: Array<[string, number]> = []
      for (const pair of value) {
        if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || !isCount(pair[1])) return undefined
        out.push([pair[0], pair[1]])
      }
      return out
    }
    const heads = pairs(m['heads'])
    const context = pairs(m['context'])
    if (heads === undefined) return bad('heads')
    if (context === undefined) return bad('context')
    for (const [node, head] of heads) state.#heads.set(node, head)
    for (const [writer, counter] of context) state.#context.set(writer, counter)
    for (const [index, entry] of entries) {
      if (!isCount(index)) return bad('index')
      if (state.#outstanding.size >= outstandingIdsMax) return bad('over outstandingIdsMax')
      if (!Array.isArray(entry) || entry.length === 0 || entry.length > dotsPerIndexMax) return bad(`dots of ${index}`)
      const dots = new Map<string, ProgressDot>()
      for (const dot of entry as unknown[]) {
        if (!Array.isArray(dot) || dot.length !== 3 || typeof dot[0] !== 'string' || !isCount(dot[1]) || dot[1] < 1 || !isCount(dot[2]) || dot[2] < 1) return bad(`dot of ${index}`)
        const [writer, counter, attempt] = dot as [string, number, number]
        // Invariant: a held dot is covered by the context (its writer has seen its own counter).
        if (counter > (state.#context.get(writer) ?? 0)) return bad(`dot ${writer}/${counter} above the context`)
        dots.set(dotKey(writer, counter), { writer, counter, attempt })
      }
      state.#outstanding.set(index, dots)
    }
    return success(state)
  }

  static decode(value: unknown): Outcome<ProgressState, PersistentRejection> {
    if (typeof value !== 'object' || value === null || (value as { v?: unknown }).v !== 1) return failure(new PersistentRejection('RG_ERR_INVALID_ARGUMENT', 'group progress: malformed state: version'))
    const outstanding = (value as { outstanding?: unknown }).outstanding
    if (!Array.isArray(outstanding)) return failure(new PersistentRejection('RG_ERR_INVALID_ARGUMENT', 'group progress: malformed state: outstanding'))
    const entries: Array<readonly [number, unknown]> = []
    for (const item of outstanding as unknown[]) {
      if (!Array.isArray(item) || item.length !== 2) return failure(new PersistentRejection('RG_ERR_INVALID_ARGUMENT', 'group progress: malformed state: outstanding entry'))
      entries.push([item[0] as number, item[1]])
    }
    return ProgressState.fromParts(value, entries)
  }
}
