// The origin's side of durable acks: what each replica of the set reports it holds durably of
// this origin incarnation, the publishes waiting for their ack level, and the committed prefix
// (the highest sequence durable on a majority, counting this replica). Pure.
//
// Levels (DESIGN §3.2.1): `write` = this replica durable; `majority` = ⌊n/2⌋+1 of the replica
// set durable; `all` = every replica durable. Replicas report contiguous durable prefixes, so a
// report of N vouches for 1..N; reports only grow (a lower one, reordered or from before a
// restart, changes nothing).
import type { EventPosition } from '../event.js'
import { PersistentRejection } from '../errors.js'
import type { AckLevel, PublishAck } from './types.js'

interface PendingAck {
  readonly publishId: string
  readonly seq: number
  readonly level: AckLevel
  readonly position: EventPosition
  readonly survivor: EventPosition | null
  readonly deadlineMs: number
}

export class AckTracker {
  readonly #self: string
  readonly #replicas: readonly string[]
  readonly #reported = new Map<string, number>()
  readonly #pending = new Map<string, PendingAck>()

  constructor(self: string, replicas: readonly string[]) {
    if (!replicas.includes(self)) throw new RangeError(`ack tracker: ${self} is not in the replica set`)
    this.#self = self
    this.#replicas = replicas
  }

  get majority(): number {
    return Math.floor(this.#replicas.length / 2) + 1
  }

  get pendingCount(): number {
    return this.#pending.size
  }

  /** A replica (not this one) reports its durable prefix of this origin incarnation. */
  reported(replica: string, seq: number): boolean {
    if (replica === this.#self || !this.#replicas.includes(replica)) return false
    if (seq <= (this.#reported.get(replica) ?? 0)) return false
    this.#reported.set(replica, seq)
    return true
  }

  #durables(selfDurable: number): number[] {
    return this.#replicas.map((r) => (r === this.#self ? selfDurable : (this.#reported.get(r) ?? 0))).sort((a, b) => b - a)
  }

  /** Highest sequence durable on a majority (0 = none). */
  committed(selfDurable: number): number {
    return this.#durables(selfDurable)[this.majority - 1] ?? 0
  }

  /** Highest sequence durable on every replica. */
  allDurable(selfDurable: number): number {
    return this.#durables(selfDurable)[this.#replicas.length - 1] ?? 0
  }

  add(ack: PendingAck): void {
    if (this.#pending.has(ack.publishId)) throw new RangeError(`ack tracker: publish ${ack.publishId} is already pending`)
    this.#pending.set(ack.publishId, ack)
  }

  has(publishId: string): boolean {
    return this.#pending.has(publishId)
  }

  /** Acks whose level now holds. */
  take(selfDurable: number): PublishAck[] {
    const majority = this.committed(selfDurable)
    const all = this.allDurable(selfDurable)
    const out: PublishAck[] = []
    for (const [publishId, p] of this.#pending) {
      const reached = p.level === 'write' ? selfDurable : p.level === 'majority' ? majority : all
      if (p.seq > reached) continue
      this.#pending.delete(publishId)
      out.push({ ok: true, publishId, level: p.level, position: p.position, duplicate: p.survivor !== null, survivor: p.survivor })
    }
    return out
  }

  /** Publishes past their deadline fail with RG_ERR_REQUEST_TIMEOUT (the event may still be stored). */
  expire(nowMs: number): PublishAck[] {
    const out: PublishAck[] = []
    for (const [publishId, p] of this.#pending) {
      if (p.deadlineMs > nowMs) continue
      this.#pending.delete(publishId)
      out.push({ ok: false, publishId, error: new PersistentRejection('RG_ERR_REQUEST_TIMEOUT', `publish ${publishId}: ack level ${p.level} not reached in time (the event may still be stored)`, { seq: p.seq }) })
    }
    return out
  }

  /** Every pending publish fails (this incarnation was closed). */
  failAll(error: PersistentRejection): PublishAck[] {
    const out: PublishAck[] = [...this.#pending.keys()].map((publishId) => ({ ok: false as const, publishId, error }))
    this.#pending.clear()
    return out
  }
}
