// Proposals and reads waiting for the log. A proposal's entry carries an 8-byte request id in
// front of the application's bytes (`requestIdBytes`); the node that proposed it recognises the
// id when the entry is applied (wherever the entry was appended: forwarded proposals too). A
// read's ReadIndex context is such an id as well. Bounded: at most `proposalsMax` / `readsMax`
// wait at once; each has a deadline.
import type { Entry, ReadState } from '../raft/index.js'
import { RaftRequestError } from './driver-errors.js'
import type { RaftRequestFailureReason } from './driver-errors.js'

/** Bytes of the request id the driver puts in front of every proposed entry. */
export const requestIdBytes = 8

export interface Applied<R> {
  readonly index: number
  readonly term: number
  /** What the application's `apply` returned for this entry. */
  readonly result: R
}

interface Waiter<T> {
  readonly term: number
  /** This node led when the request was made: it fails when the node stops leading. */
  readonly wasLeader: boolean
  readonly deadlineMs: number
  readonly resolve: (value: T) => void
  readonly reject: (error: RaftRequestError) => void
}

interface PendingProposal<R> extends Waiter<Applied<R>> {
  /** Known when proposed on the leader: the index the entry was appended at. */
  readonly index: number | undefined
}

interface PendingRead extends Waiter<{ readonly readIndex: number }> {
  readIndex: number | undefined
}

export interface RequestContext {
  readonly term: number
  readonly wasLeader: boolean
  readonly deadlineMs: number
}

/** Request ids: 4 random bytes per driver (so nodes do not collide) + a 32-bit counter. */
export class RequestIds {
  private counter = 0

  constructor(private readonly salt: number) {}

  next(): Uint8Array {
    const id = new Uint8Array(requestIdBytes)
    const view = new DataView(id.buffer)
    view.setUint32(0, this.salt >>> 0)
    view.setUint32(4, this.counter)
    this.counter = (this.counter + 1) >>> 0
    return id
  }
}

export function idKey(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex')
}

export function withRequestId(id: Uint8Array, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(requestIdBytes + data.length)
  out.set(id, 0)
  out.set(data, requestIdBytes)
  return out
}

export class PendingRequests<R> {
  private readonly proposals = new Map<string, PendingProposal<R>>()
  private readonly proposalAtIndex = new Map<number, string>()
  private readonly reads = new Map<string, PendingRead>()

  constructor(private readonly limits: { readonly proposalsMax: number; readonly readsMax: number }) {}

  get proposalCount(): number {
    return this.proposals.size
  }

  get readCount(): number {
    return this.reads.size
  }

  hasRoomForProposal(): boolean {
    return this.proposals.size < this.limits.proposalsMax
  }

  hasRoomForRead(): boolean {
    return this.reads.size < this.limits.readsMax
  }

  trackProposal(key: string, context: RequestContext, index: number | undefined): Promise<Applied<R>> {
    return new Promise((resolve, reject) => {
      this.proposals.set(key, { ...context, index, resolve, reject })
      if (index !== undefined) this.proposalAtIndex.set(index, key)
    })
  }

  trackRead(key: string, context: RequestContext): Promise<{ readonly readIndex: number }> {
    return new Promise((resolve, reject) => {
      this.reads.set(key, { ...context, readIndex: undefined, resolve, reject })
    })
  }

  /** An entry was applied with `result`: settle the proposal it carries and any it overwrote. */
  applied(entry: Entry, key: string | undefined, result: R): void {
    if (key !== undefined) {
      const proposal = this.proposals.get(key)
      if (proposal !== undefined) {
        this.removeProposal(key, proposal)
        proposal.resolve({ index: entry.index, term: entry.term, result })
      }
    }
    const expected = this.proposalAtIndex.get(entry.index)
    if (expected !== undefined && expected !== key) {
      const lost = this.proposals.get(expected)
      if (lost !== undefined) {
        this.removeProposal(expected, lost)
        lost.reject(new RaftRequestError('overwritten', `entry ${entry.index} was replaced by a later leader (term ${entry.term})`))
      }
    }
  }

  readStates(states: readonly ReadState[]): void {
    for (const state of states) {
      const read = this.reads.get(idKey(state.requestContext))
      if (read !== undefined) read.readIndex = state.index
    }
  }

  /** Resolves reads whose read index the application has reached. */
  serveReads(appliedIndex: number): void {
    for (const [key, read] of this.reads) {
      if (read.readIndex === undefined || read.readIndex > appliedIndex) continue
      this.reads.delete(key)
      read.resolve({ readIndex: read.readIndex })
    }
  }

  /**
   * Leadership moved: requests made in an older term, or made while leading by a node that no
   * longer leads, fail. A read whose index a quorum already confirmed stays (it is still safe).
   */
  leadershipChanged(term: number, isLeader: boolean): void {
    const lost = (waiter: { readonly term: number; readonly wasLeader: boolean }): boolean => waiter.term !== term || (waiter.wasLeader && !isLeader)
    for (const [key, proposal] of this.proposals) {
      if (!lost(proposal)) continue
      this.removeProposal(key, proposal)
      proposal.reject(new RaftRequestError('leadershipLost', `proposed in term ${proposal.term}${proposal.wasLeader ? ' as leader' : ''}; now term ${term}, ${isLeader ? 'leader' : 'not leader'}`))
    }
    for (const [key, read] of this.reads) {
      if (read.readIndex !== undefined || !lost(read)) continue
      this.reads.delete(key)
      read.reject(new RaftRequestError('leadershipLost', `read requested in term ${read.term}; now term ${term}`))
    }
  }

  expire(nowMs: number): void {
    for (const [key, proposal] of this.proposals) {
      if (proposal.deadlineMs > nowMs) continue
      this.removeProposal(key, proposal)
      proposal.reject(new RaftRequestError('timeout', `proposal not applied by its deadline`))
    }
    for (const [key, read] of this.reads) {
      if (read.deadlineMs > nowMs) continue
      this.reads.delete(key)
      read.reject(new RaftRequestError('timeout', read.readIndex === undefined ? 'no read index confirmed' : `read index ${read.readIndex} not applied`))
    }
  }

  failAll(reason: RaftRequestFailureReason, detail: string, cause?: unknown): void {
    const error = (): RaftRequestError => new RaftRequestError(reason, detail, cause === undefined ? undefined : { cause })
    for (const proposal of this.proposals.values()) proposal.reject(error())
    for (const read of this.reads.values()) read.reject(error())
    this.proposals.clear()
    this.proposalAtIndex.clear()
    this.reads.clear()
  }

  private removeProposal(key: string, proposal: PendingProposal<R>): void {
    this.proposals.delete(key)
    if (proposal.index !== undefined && this.proposalAtIndex.get(proposal.index) === key) this.proposalAtIndex.delete(proposal.index)
  }
}
