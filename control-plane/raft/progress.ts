// The leader's view of one follower: how far it has matched and how to send it more.
// - probe: we do not know where its log matches; send one append per heartbeat and wait;
// - replicate: streaming optimistically, bounded by the in-flight window;
// - snapshot: a snapshot is on its way; send nothing until it is reported.
import { assert } from './errors.js'

export const progressStates = ['probe', 'replicate', 'snapshot'] as const
export type ProgressState = (typeof progressStates)[number]

/** A window of append messages sent but not yet acknowledged, bounded by count and bytes. */
export class Inflights {
  private readonly items: { lastIndex: number; bytes: number }[] = []
  private bytesInFlight = 0

  constructor(
    readonly maxMessages: number,
    readonly maxBytes: number,
  ) {}

  get count(): number {
    return this.items.length
  }

  get bytes(): number {
    return this.bytesInFlight
  }

  add(lastIndex: number, bytes: number): void {
    assert(!this.full(), 'cannot add to a full in-flight window')
    const last = this.items[this.items.length - 1]
    assert(last === undefined || last.lastIndex < lastIndex, 'in-flight indexes must increase')
    this.items.push({ lastIndex, bytes })
    this.bytesInFlight += bytes
  }

  /** Frees every message whose last index is at most `index` (they were acknowledged). */
  freeLE(index: number): void {
    let freed = 0
    while (freed < this.items.length && (this.items[freed] as { lastIndex: number }).lastIndex <= index) {
      this.bytesInFlight -= (this.items[freed] as { bytes: number }).bytes
      freed++
    }
    if (freed > 0) this.items.splice(0, freed)
  }

  full(): boolean {
    return this.items.length >= this.maxMessages || this.bytesInFlight >= this.maxBytes
  }

  reset(): void {
    this.items.length = 0
    this.bytesInFlight = 0
  }
}

export class Progress {
  match = 0
  next: number
  state: ProgressState = 'probe'
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0
  /** Heard from since the last check-quorum round. */
  recentActive = false
  /** In probe state: an append was sent and we wait for an answer or a heartbeat response. */
  probeSent = false
  readonly inflights: Inflights

  constructor(
    next: number,
    maxInflightMsgs: number,
    maxInflightBytes: number,
    public isLearner: boolean,
  ) {
    this.next = next
    this.inflights = new Inflights(maxInflightMsgs, maxInflightBytes)
  }

  /** A fresh view after a term change: nothing known but where to start probing. */
  resetTo(next: number, match: number): void {
    this.resetState('probe')
    this.next = next
    this.match = match
    this.recentActive = false
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false
    this.pendingSnapshot = 0
    this.state = state
    this.inflights.reset()
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot
      this.resetState('probe')
      this.next = Math.max(this.match + 1, pending + 1)
    } else {
      this.resetState('probe')
      this.next = this.match + 1
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate')
    this.next = this.match + 1
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot')
    this.pendingSnapshot = snapshotIndex
  }

  /** An acknowledgement of `index`; returns whether match advanced. */
  maybeUpdate(index: number): boolean {
    let updated = false
    if (this.match < index) {
      this.match = index
      updated = true
      this.probeSent = false
    }
    this.next = Math.max(this.next, index + 1)
    return updated
  }

  /** Replicate state: entries up to `lastIndex` were sent; the next send starts after them. */
  optimisticUpdate(lastIndex: number): void {
    this.next = lastIndex + 1
  }

  /**
   * A rejection of an append at `rejected`, with the follower's hint of where its log may match.
   * Returns false when the rejection is stale (out of order) and must be ignored.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false
      this.next = this.match + 1
      return true
    }
    if (this.next - 1 !== rejected) return false
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1)
    this.probeSent = false
    return true
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent
      case 'replicate':
        return this.inflights.full()
      case 'snapshot':
        return true
    }
  }
}
