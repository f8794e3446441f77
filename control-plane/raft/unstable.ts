// The tail of the log not yet persisted: entries (and maybe an incoming snapshot) that the next
// Ready hands to the driver. `offset` is the index of entries[0].
import type { Entry, Snapshot } from './types.js'
import { assert } from './errors.js'

export class Unstable {
  snapshot: Snapshot | undefined = undefined
  entries: Entry[] = []

  constructor(public offset: number) {}

  /** The first index, known only when a snapshot is pending. */
  maybeFirstIndex(): number | undefined {
    return this.snapshot === undefined ? undefined : this.snapshot.metadata.index + 1
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1
    return this.snapshot?.metadata.index
  }

  maybeTerm(index: number): number | undefined {
    if (index < this.offset) {
      if (this.snapshot !== undefined && this.snapshot.metadata.index === index) return this.snapshot.metadata.term
      return undefined
    }
    const last = this.maybeLastIndex()
    if (last === undefined || index > last) return undefined
    if (this.entries.length === 0) return this.snapshot?.metadata.term
    return this.entries[index - this.offset]?.term
  }

  /** Entries up to `index` (with term `term`) are now durable: drop them from here. */
  stableTo(index: number, term: number): void {
    const known = this.maybeTerm(index)
    // A term mismatch means the entry was replaced after the Ready was taken: keep the newer one.
    if (known === undefined || known !== term || index < this.offset) return
    this.entries = this.entries.slice(index + 1 - this.offset)
    this.offset = index + 1
  }

  stableSnapTo(index: number): void {
    if (this.snapshot !== undefined && this.snapshot.metadata.index === index) this.snapshot = undefined
  }

  restore(snapshot: Snapshot): void {
    this.offset = snapshot.metadata.index + 1
    this.entries = []
    this.snapshot = snapshot
  }

  truncateAndAppend(entries: readonly Entry[]): void {
    const first = entries[0]
    if (first === undefined) return
    const after = first.index
    if (after === this.offset + this.entries.length) {
      this.entries.push(...entries)
    } else if (after <= this.offset) {
      // Replaces everything unstable, and the stable suffix from `after` on (storage truncates).
      this.offset = after
      this.entries = [...entries]
    } else {
      this.entries = [...this.entries.slice(0, after - this.offset), ...entries]
    }
  }

  slice(lo: number, hi: number): Entry[] {
    assert(lo <= hi && lo >= this.offset && hi <= this.offset + this.entries.length, () => {
      return `unstable slice [${lo}, ${hi}) out of bounds [${this.offset}, ${this.offset + this.entries.length})`
    })
    return this.entries.slice(lo - this.offset, hi - this.offset)
  }
}
