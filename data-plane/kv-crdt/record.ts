// One key of a CRDT KV bucket: its current reset (the greatest put/delete by id), the epoch of
// accumulative operations made on top of that reset, and operations waiting for their base.
// Pure bookkeeping; the state (state.ts) decides what to feed it.
//
// The visible value is a function of the operations held, never of their arrival order:
// - reset is a put → the put's bytes (merges/increments on top of a plain value are conflicts,
//   counted and ignored);
// - otherwise the epoch's first accumulative operation by id decides the type: json (its Automerge
//   document, once a change has applied) or counter (the PN-counter); operations of the other
//   type are conflicts, counted and ignored;
// - no reset and nothing in the epoch, or a delete and nothing in the epoch → no value.
import { maxHlc } from '../persistent/index.js'
import type { Hlc } from '../persistent/index.js'
import { PnCounter } from './counter.js'
import type { JsonDoc } from './json-doc.js'
import { compareOpId } from './op.js'
import type { JsonObject, KvAccumulativeOp, KvOpId, KvResetOp } from './op.js'

export type KvValueType = 'bytes' | 'json' | 'counter'

export type KvValue =
  | { readonly type: 'bytes'; readonly bytes: Uint8Array }
  | { readonly type: 'json'; readonly json: JsonObject }
  | { readonly type: 'counter'; readonly count: bigint }

/** A key with a value, as readers and watchers see it. */
export interface KvEntry {
  readonly key: string
  readonly value: KvValue
  /** This replica's revision of the last visible change of the key (for watch resumption). */
  readonly revision: number
  /** The greatest hlc among the reset and the epoch's operations: the same on every replica. */
  readonly updatedHlc: Hlc
  /** Operations of the epoch ignored because they hold another value type. */
  readonly conflicts: number
}

/** Accumulative operations made on top of one reset. */
export class Epoch {
  merges = 0
  increments = 0
  firstMerge: KvOpId | undefined
  firstIncrement: KvOpId | undefined
  json: JsonDoc | undefined
  counter: PnCounter | undefined
  updatedHlc: Hlc | undefined

  get empty(): boolean {
    return this.merges === 0 && this.increments === 0
  }

  note(op: KvAccumulativeOp): void {
    this.updatedHlc = this.updatedHlc === undefined ? op.id.hlc : maxHlc(this.updatedHlc, op.id.hlc)
    if (op.kind === 'merge') {
      this.merges++
      if (this.firstMerge === undefined || compareOpId(op.id, this.firstMerge) < 0) this.firstMerge = op.id
    } else {
      this.increments++
      if (this.firstIncrement === undefined || compareOpId(op.id, this.firstIncrement) < 0) this.firstIncrement = op.id
      this.counter ??= new PnCounter()
      this.counter.add(op.id, op.delta)
    }
  }
}

export class KeyRecord {
  reset: KvResetOp | undefined
  epoch = new Epoch()
  /** Accumulative operations whose base reset has not arrived (bounded by the state). */
  pending: KvAccumulativeOp[] = []
  /** Revision of the last visible change (0: none yet). */
  revision = 0
  /** Garbage collection: the clock ceiling noted when the tombstone was first known stable. */
  gcMark: Hlc | undefined

  constructor(readonly key: string) {}

  /** The epoch's type by the first accumulative operation (not considering a put). */
  #accumulativeType(): 'json' | 'counter' | undefined {
    const { firstMerge, firstIncrement } = this.epoch
    if (firstMerge === undefined) return firstIncrement === undefined ? undefined : 'counter'
    if (firstIncrement === undefined) return 'json'
    return compareOpId(firstMerge, firstIncrement) < 0 ? 'json' : 'counter'
  }

  /** The type of the epoch, whether or not its value is visible yet. */
  epochType(): KvValueType | undefined {
    if (this.reset?.kind === 'put') return 'bytes'
    return this.#accumulativeType()
  }

  /** The visible type, or undefined when the key has no value. */
  visibleType(): KvValueType | undefined {
    const type = this.epochType()
    if (type === 'json' && this.epoch.json?.hasValue !== true) return undefined
    return type
  }

  /** A string that changes exactly when the visible value changes. */
  signature(): string {
    const type = this.visibleType()
    switch (type) {
      case undefined:
        return ''
      case 'bytes': {
        const id = (this.reset as KvResetOp).id
        return `b:${id.hlc.wallMs}.${id.hlc.logical}:${id.origin}#${id.incarnation}:${id.originSeq}`
      }
      case 'json':
        return `j:${(this.epoch.json as JsonDoc).heads}`
      case 'counter':
        return `c:${(this.epoch.counter as PnCounter).value}`
    }
  }

  /** A delete with nothing on top and nothing waiting: what garbage collection may remove. */
  get isTombstone(): boolean {
    return this.reset?.kind === 'delete' && this.epoch.empty && this.pending.length === 0
  }

  /** Nothing held at all (a record that can be dropped). */
  get isEmpty(): boolean {
    return this.reset === undefined && this.epoch.empty && this.pending.length === 0
  }

  conflicts(): number {
    switch (this.epochType()) {
      case 'bytes':
        return this.epoch.merges + this.epoch.increments
      case 'json':
        return this.epoch.increments
      case 'counter':
        return this.epoch.merges
      default:
        return 0
    }
  }

  updatedHlc(): Hlc | undefined {
    const resetHlc = this.reset?.id.hlc
    const epochHlc = this.epoch.updatedHlc
    if (resetHlc === undefined) return epochHlc
    return epochHlc === undefined ? resetHlc : maxHlc(resetHlc, epochHlc)
  }

  /** The entry readers see, or undefined when the key has no value. */
  entry(): KvEntry | undefined {
    const type = this.visibleType()
    if (type === undefined) return undefined
    let value: KvValue
    if (type === 'bytes') value = { type, bytes: (this.reset as { value: Uint8Array }).value.slice() }
    else if (type === 'json') value = { type, json: (this.epoch.json as JsonDoc).value() as JsonObject }
    else value = { type, count: (this.epoch.counter as PnCounter).value }
    return { key: this.key, value, revision: this.revision, updatedHlc: this.updatedHlc() as Hlc, conflicts: this.conflicts() }
  }
}
