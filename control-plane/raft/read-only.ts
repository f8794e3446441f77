// ReadIndex bookkeeping on the leader (Raft thesis §6.4): a read request remembers the commit
// index at arrival and becomes safe once a quorum answered a heartbeat carrying its context,
// proving that no newer leader existed at that moment.
import type { Message, NodeId } from './types.js'
import { contextKey } from './messages.js'
import { assert } from './errors.js'

export interface ReadIndexStatus {
  readonly request: Message
  readonly index: number
  readonly acks: Set<NodeId>
}

export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>()
  private readonly queue: string[] = []

  constructor(readonly maxPendingRequests: number) {}

  get size(): number {
    return this.queue.length
  }

  /** Registers a request at commit index `index`. A duplicate context is ignored (returns false). */
  addRequest(index: number, request: Message): boolean {
    const key = contextKey(request.context)
    if (this.pending.has(key)) return false
    assert(this.queue.length < this.maxPendingRequests, 'too many pending read-index requests')
    this.pending.set(key, { request, index, acks: new Set() })
    this.queue.push(key)
    return true
  }

  /** Records a heartbeat acknowledgement; returns the acks so far, or undefined if unknown. */
  recvAck(from: NodeId, context: Uint8Array | undefined): ReadonlySet<NodeId> | undefined {
    const status = this.pending.get(contextKey(context))
    if (status === undefined) return undefined
    status.acks.add(from)
    return status.acks
  }

  /**
   * Releases the request with `context` and every request queued before it: a quorum that
   * acknowledged a later heartbeat also confirms the earlier ones.
   */
  advance(context: Uint8Array | undefined): ReadIndexStatus[] {
    const key = contextKey(context)
    const position = this.queue.indexOf(key)
    if (position < 0) return []
    const released: ReadIndexStatus[] = []
    for (const releasedKey of this.queue.splice(0, position + 1)) {
      const status = this.pending.get(releasedKey)
      assert(status !== undefined, 'read-index queue and map disagree')
      this.pending.delete(releasedKey)
      released.push(status)
    }
    return released
  }

  lastPendingRequestContext(): Uint8Array | undefined {
    const key = this.queue[this.queue.length - 1]
    if (key === undefined) return undefined
    return this.pending.get(key)?.request.context
  }
}
