// GroupController: one consumer group's dispatcher in one region (the SCC of DESIGN §3.2.6), as
// a pure state machine in the etcd-raft style — inputs (join, heartbeat, leave, gone, fetch, ack,
// available, tick, deadLettered, dropped, fence) change it; `ready()` hands out what to publish
// (deliveries and status messages in order, dead-letter moves), and the progress to persist and
// replicate is read from `progress` (its dirty parts). No I/O, no clock: `nowMs` comes in.
//
// Rules (docs/api.md § Consuming):
// - Delivery index order; what waits for redelivery (nack, ack wait, member gone, failover) goes
//   first, lowest index first, then fresh indexes from the head up to `available`.
// - Load-balanced: round robin over the targets with room — push members below their window,
//   FETCH requests with messages left. A nacked message avoids the member that nacked it when
//   another has room. Exclusive: one active member (the earliest live joiner) and its FETCHes; an
//   anonymous FETCH only while no member is active; a newly activated member gets `active`.
// - Invariant: an index is in flight with at most one holder; it is outstanding in `progress`
//   from its first dispatch until it is acked, dead-lettered or dropped.
// - Ack of any delivery of an outstanding index acks it (an old delivery's ack still counts);
//   nack and progress apply only to the delivery in flight (same Rg-Deliveries).
// - Dead letters: after `maxDeliveries` deliveries a message that comes back (nack, ack wait,
//   member gone, failover) moves; so does one that comes back more than `maxLag` behind the head,
//   and one the consumer `term`s. The move is announced in `ready().deadLetters`; the index stays
//   outstanding until the driver confirms with `deadLettered(index, true)`.
// - Fencing: `fence(term)` with a higher term stops the controller; every later input is refused
//   RG_ERR_STALE_TERM and `ready()` is empty (DESIGN §4.7).
import { MinHeap } from '../min-heap.js'
import { PersistentRejection, failure, success } from '../errors.js'
import type { Outcome } from '../errors.js'
import { deadLettersInFlightMax, fetchesPerGroupMax, membersPerGroupMax, sendsPerReadyMax } from './limits.js'
import type { ProgressState } from './progress-state.js'
import type {
  AckInput,
  AckVerdict,
  ControllerCounters,
  ControllerIdentity,
  ControllerReady,
  ControllerSend,
  ControllerSnapshot,
  DeadLetterOrder,
  FetchInput,
  GroupSettings,
  JoinInput,
  JoinResult,
} from './types.js'

interface Member {
  readonly id: string
  deliver: string
  maxInFlight: number
  heartbeatMs: number
  lastSeenMs: number
  readonly inFlight: Set<number>
}

interface InFlight {
  /** Member id; undefined for an anonymous FETCH. */
  readonly holder: string | undefined
  readonly attempt: number
  deadlineMs: number
}

interface PendingFetch {
  readonly requestId: string
  readonly replyTo: string
  remaining: number
  readonly expiresAtMs: number
  lastSendMs: number | undefined
  readonly member: string | undefined
}

interface Moving {
  readonly order: DeadLetterOrder
  state: 'queued' | 'announced' | 'retry'
  retryAtMs: number
}

type Target = { readonly kind: 'member'; readonly member: Member } | { readonly kind: 'fetch'; readonly fetch: PendingFetch }

interface Timed {
  readonly index: number
  readonly atMs: number
}

const byTime = (a: Timed, b: Timed): number => a.atMs - b.atMs || a.index - b.index

export interface GroupControllerOptions extends ControllerIdentity {
  readonly settings: GroupSettings
  /** The restored progress, at `term` (ProgressState.restore). */
  readonly progress: ProgressState
  /** Where a group with no progress yet starts (resolved by the driver from the group's `start`). */
  readonly startIndex: number
  /** Events delivered in the stream so far. */
  readonly available: number
  readonly nowMs: number
}

export class GroupController {
  readonly term: number
  readonly writer: string
  readonly progress: ProgressState
  #settings: GroupSettings
  #fenced = false
  #available: number
  #next: number
  readonly #members = new Map<string, Member>()
  #announcedActive: string | undefined
  readonly #inFlight = new Map<number, InFlight>()
  readonly #deadlines = new MinHeap<Timed>(byTime)
  /** index → member to avoid (a nack's), or undefined. */
  readonly #waiting = new Map<number, string | undefined>()
  readonly #waitingOrder = new MinHeap<number>((a, b) => a - b)
  readonly #delayed = new Map<number, number>()
  readonly #delayedOrder = new MinHeap<Timed>(byTime)
  readonly #fetches = new Map<string, PendingFetch>()
  readonly #moving = new Map<number, Moving>()
  #sends: ControllerSend[] = []
  #dropped: string[] = []
  #roundRobin = 0
  readonly counters: ControllerCounters = { delivered: 0, redelivered: 0, acked: 0, nacked: 0, ackWaitExpired: 0, deadLettered: 0, dropped: 0 }

  constructor(options: GroupControllerOptions) {
    if (options.progress.term !== options.term) throw new Error(`group controller: progress at term ${options.progress.term}, controller at ${options.term}`)
    this.term = options.term
    this.writer = options.writer
    this.progress = options.progress
    this.#settings = options.settings
    this.#available = options.available
    if (options.progress.isEmpty) {
      const advanced = options.progress.advanceHead({ node: this.writer, term: this.term, to: options.startIndex })
      if (!advanced.ok) throw advanced.error
    }
    this.#next = this.progress.head()
    // Everything outstanding at restore was held by the previous controller: redeliver it.
    for (const { index } of this.progress.outstanding()) this.#release(index, undefined)
    this.#pump(options.nowMs)
  }

  get settings(): GroupSettings {
    return this.#settings
  }

  get fenced(): boolean {
    return this.#fenced
  }

  /** The next index to dispatch for the first time. */
  get head(): number {
    return this.#next
  }

  #stale(): { readonly ok: false; readonly error: PersistentRejection } {
    return failure(new PersistentRejection('RG_ERR_STALE_TERM', `consumer group: the controller at term ${this.term} was superseded`, { term: this.term }))
  }

  #notFound(message: string, details: Record<string, unknown> = {}): { readonly ok: false; readonly error: PersistentRejection } {
    return failure(new PersistentRejection('RG_ERR_NOT_FOUND', `consumer group: ${message}`, details))
  }

  // ---- inputs -------------------------------------------------------------------------------

  updateSettings(settings: GroupSettings, nowMs: number): void {
    this.#settings = settings
    for (const member of this.#members.values()) member.maxInFlight = Math.min(member.maxInFlight, settings.maxInFlight)
    this.#checkActive()
    this.#pump(nowMs)
  }

  /** The stream delivered more events (its delivered count). */
  available(count: number, nowMs: number): void {
    if (this.#fenced || count <= this.#available) return
    this.#available = count
    this.#pump(nowMs)
  }

  join(input: JoinInput, nowMs: number): Outcome<JoinResult, PersistentRejection> {
    if (this.#fenced) return this.#stale()
    const maxInFlight = Math.min(input.maxInFlight ?? this.#settings.maxInFlight, this.#settings.maxInFlight)
    const heartbeatMs = input.heartbeatMs ?? this.#settings.heartbeatMsDefault
    let member = this.#members.get(input.member)
    if (member === undefined) {
      if (this.#members.size >= membersPerGroupMax) return failure(new PersistentRejection('RG_ERR_LIMIT_EXCEEDED', `consumer group: membersPerGroupMax (${membersPerGroupMax}) reached`, { limit: 'membersPerGroupMax' }))
      member = { id: input.member, deliver: input.deliver, maxInFlight, heartbeatMs, lastSeenMs: nowMs, inFlight: new Set() }
      this.#members.set(member.id, member)
    } else {
      member.deliver = input.deliver
      member.maxInFlight = maxInFlight
      member.heartbeatMs = heartbeatMs
      member.lastSeenMs = nowMs
    }
    // The joiner learns it is active from the reply, not from a status message.
    if (this.#announcedActive === undefined && this.#activeMember() === member) this.#announcedActive = member.id
    const active = this.#settings.mode === 'load-balanced' || this.#activeMember() === member
    this.#pump(nowMs)
    return success({ member: member.id, term: this.term, mode: this.#settings.mode, active, heartbeatMs, maxInFlight })
  }

  heartbeat(member: string, nowMs: number): Outcome<{ readonly term: number }, PersistentRejection> {
    if (this.#fenced) return this.#stale()
    const found = this.#members.get(member)
    if (found === undefined) return this.#notFound(`member ${member} is not joined (JOIN again)`, { member })
    found.lastSeenMs = nowMs
    return success({ term: this.term })
  }

  leave(member: string, nowMs: number): Outcome<boolean, PersistentRejection> {
    if (this.#fenced) return this.#stale()
    const removed = this.#removeMember(member)
    this.#pump(nowMs)
    return success(removed)
  }

  /** The driver saw no interest left on the member's deliver subject (its connection closed). */
  gone(member: string, nowMs: number): void {
    if (this.#fenced) return
    if (this.#removeMember(member)) this.#pump(nowMs)
  }

  members(): ReadonlyArray<{ readonly member: string; readonly deliver: string }> {
    return [...this.#members.values()].map((m) => ({ member: m.id, deliver: m.deliver }))
  }

  fetch(input: FetchInput, nowMs: number): Outcome<void, PersistentRejection> {
    if (this.#fenced) return this.#stale()
    if (input.member !== undefined && !this.#members.has(input.member)) return this.#notFound(`member ${input.member} is not joined`, { member: input.member })
    if (this.#fetches.has(input.requestId)) return failure(new PersistentRejection('RG_ERR_INVALID_ARGUMENT', `consumer group: fetch ${input.requestId} is already waiting`))
    if (this.#fetches.size >= fetchesPerGroupMax) return failure(new PersistentRejection('RG_ERR_LIMIT_EXCEEDED', `consumer group: fetchesPerGroupMax (${fetchesPerGroupMax}) reached`, { limit: 'fetchesPerGroupMax' }))
    const expiresMs = input.expiresMs ?? this.#settings.fetchExpiresMsDefault
    this.#fetches.set(input.requestId, { requestId: input.requestId, replyTo: input.replyTo, remaining: input.max, expiresAtMs: nowMs + expiresMs, lastSendMs: undefined, member: input.member })
    this.#pump(nowMs)
    // Nothing to wait for: an expiry of 0 ends at once.
    if (expiresMs === 0) this.#endFetch(input.requestId)
    return success(undefined)
  }

  ack(input: AckInput, nowMs: number): Outcome<AckVerdict, PersistentRejection> {
    if (this.#fenced) return this.#stale()
    const { index } = input
    if (this.#moving.has(index)) return success('settling')
    if (!this.progress.isOutstanding(index)) return this.#notFound(`index ${index} is not outstanding`, { index })
    const current = this.#inFlight.get(index)
    switch (input.kind) {
      case 'ack': {
        const acked = this.progress.ack({ term: this.term, index })
        if (!acked.ok) return failure(acked.error)
        this.#forget(index)
        this.counters.acked += 1
        this.#pump(nowMs)
        return success('acked')
      }
      case 'term': {
        const deliveries = Math.max(this.progress.attempts(index), input.deliveries)
        this.#forget(index)
        this.#deadLetter({ index, reason: 'term', deliveries, ...(input.reason === undefined || input.reason === '' ? {} : { detail: input.reason }) })
        this.#pump(nowMs)
        return success('terminated')
      }
      case 'nack': {
        if (current === undefined || current.attempt !== input.deliveries) return this.#notFound(`index ${index} delivery ${input.deliveries} is not in flight`, { index })
        this.counters.nacked += 1
        const delayMs = input.delayMs ?? 0
        if (delayMs > 0) {
          this.#takeInFlight(index)
          this.#delayed.set(index, nowMs + delayMs)
          this.#delayedOrder.push({ index, atMs: nowMs + delayMs })
        } else {
          this.#release(index, current.holder)
        }
        this.#pump(nowMs)
        return success('nacked')
      }
      case 'progress': {
        if (current === undefined || current.attempt !== input.deliveries) return this.#notFound(`index ${index} delivery ${input.deliveries} is not in flight`, { index })
        current.deadlineMs = nowMs + this.#settings.ackWaitMs
        this.#deadlines.push({ index, atMs: current.deadlineMs })
        return success('extended')
      }
    }
  }

  /** The driver moved (ok) or failed to move a dead letter it was handed. */
  deadLettered(index: number, ok: boolean, nowMs: number): void {
    const moving = this.#moving.get(index)
    if (moving === undefined || this.#fenced) return
    if (!ok) {
      moving.state = 'retry'
      moving.retryAtMs = nowMs + this.#settings.deadLetterRetryMs
      return
    }
    this.#moving.delete(index)
    const acked = this.progress.ack({ term: this.term, index })
    if (!acked.ok) throw acked.error
    this.counters.deadLettered += 1
    this.#pump(nowMs)
  }

  /** The event at `index` is gone from the stream (retention): it leaves the group. */
  dropped(index: number, nowMs: number): void {
    if (this.#fenced || !this.progress.isOutstanding(index)) return
    this.#forget(index)
    this.#moving.delete(index)
    const acked = this.progress.ack({ term: this.term, index })
    if (!acked.ok) throw acked.error
    this.counters.dropped += 1
    this.#pump(nowMs)
  }

  /** A newer controller term was seen: this controller stops (everything later is refused). */
  fence(term: number): boolean {
    if (term <= this.term || this.#fenced) return this.#fenced
    this.#fenced = true
    this.#sends = []
    this.#fetches.clear()
    return true
  }

  tick(nowMs: number): void {
    if (this.#fenced) return
    // Ack waits.
    for (let top = this.#deadlines.peek(); top !== undefined && top.atMs <= nowMs; top = this.#deadlines.peek()) {
      this.#deadlines.pop()
      const entry = this.#inFlight.get(top.index)
      if (entry === undefined || entry.deadlineMs !== top.atMs) continue
      this.counters.ackWaitExpired += 1
      this.#release(top.index, undefined)
    }
    // Delayed nacks.
    for (let top = this.#delayedOrder.peek(); top !== undefined && top.atMs <= nowMs; top = this.#delayedOrder.peek()) {
      this.#delayedOrder.pop()
      if (this.#delayed.get(top.index) !== top.atMs) continue
      this.#delayed.delete(top.index)
      this.#release(top.index, undefined)
    }
    // Members that missed their heartbeats.
    for (const member of [...this.#members.values()]) {
      if (nowMs - member.lastSeenMs > member.heartbeatMs * this.#settings.missedHeartbeatsMax) this.#removeMember(member.id)
    }
    // Dead letters to retry.
    for (const moving of this.#moving.values()) if (moving.state === 'retry' && moving.retryAtMs <= nowMs) moving.state = 'queued'
    this.#pump(nowMs)
    // FETCHes that expired, or went idle after sending something.
    for (const fetch of [...this.#fetches.values()]) {
      if (nowMs >= fetch.expiresAtMs || (fetch.lastSendMs !== undefined && nowMs - fetch.lastSendMs >= this.#settings.fetchIdleMs)) this.#endFetch(fetch.requestId)
    }
  }

  /** When `tick` has something to do next (undefined: nothing timed is pending). */
  nextWakeMs(): number | undefined {
    if (this.#fenced) return undefined
    let wake = Number.POSITIVE_INFINITY
    const at = (ms: number | undefined): void => {
      if (ms !== undefined && ms < wake) wake = ms
    }
    at(this.#deadlines.peek()?.atMs)
    at(this.#delayedOrder.peek()?.atMs)
    for (const member of this.#members.values()) at(member.lastSeenMs + member.heartbeatMs * this.#settings.missedHeartbeatsMax + 1)
    for (const fetch of this.#fetches.values()) {
      at(fetch.expiresAtMs)
      if (fetch.lastSendMs !== undefined) at(fetch.lastSendMs + this.#settings.fetchIdleMs)
    }
    for (const moving of this.#moving.values()) if (moving.state === 'retry') at(moving.retryAtMs)
    return wake === Number.POSITIVE_INFINITY ? undefined : wake
  }

  /** What to publish now (and forget it). */
  ready(nowMs: number): ControllerReady {
    if (this.#fenced) return { sends: [], deadLetters: [], droppedMembers: [] }
    this.#pump(nowMs)
    const sends = this.#sends
    this.#sends = []
    const droppedMembers = this.#dropped
    this.#dropped = []
    const deadLetters: DeadLetterOrder[] = []
    let announced = 0
    for (const moving of this.#moving.values()) if (moving.state === 'announced') announced += 1
    for (const moving of this.#moving.values()) {
      if (announced >= deadLettersInFlightMax) break
      if (moving.state !== 'queued') continue
      moving.state = 'announced'
      announced += 1
      deadLetters.push(moving.order)
    }
    return { sends, deadLetters, droppedMembers }
  }

  snapshot(nowMs: number): ControllerSnapshot {
    const active = this.#settings.mode === 'exclusive' ? this.#activeMember() : undefined
    return {
      term: this.term,
      mode: this.#settings.mode,
      head: this.#next,
      available: this.#available,
      outstanding: this.progress.outstandingCount,
      inFlight: this.#inFlight.size,
      waiting: this.#waiting.size,
      delayed: this.#delayed.size,
      fetches: this.#fetches.size,
      members: [...this.#members.values()].map((m) => ({
        member: m.id,
        deliver: m.deliver,
        active: this.#settings.mode === 'load-balanced' || m === active,
        inFlight: m.inFlight.size,
        maxInFlight: m.maxInFlight,
        heartbeatMs: m.heartbeatMs,
        lastSeenAgoMs: Math.max(0, nowMs - m.lastSeenMs),
      })),
      counters: { ...this.counters },
      fenced: this.#fenced,
    }
  }

  /** Indexes in flight and their holders (the checker's view). */
  inFlight(): ReadonlyMap<number, { readonly holder: string | undefined; readonly attempt: number }> {
    return this.#inFlight
  }

  // ---- internals ----------------------------------------------------------------------------

  #activeMember(): Member | undefined {
    // Map iteration is insertion order: the earliest live joiner first.
    for (const member of this.#members.values()) return member
    return undefined
  }

  #checkActive(): void {
    if (this.#settings.mode !== 'exclusive') return
    const active = this.#activeMember()
    if (active === undefined) {
      this.#announcedActive = undefined
      return
    }
    if (this.#announcedActive === active.id) return
    this.#announcedActive = active.id
    this.#sends.push({ kind: 'status', to: active.deliver, status: 'active' })
  }

  #removeMember(id: string): boolean {
    const member = this.#members.get(id)
    if (member === undefined) return false
    this.#members.delete(id)
    this.#dropped.push(id)
    // What it held is redelivered at once (not counted as an ack-wait expiry).
    for (const index of [...member.inFlight].sort((a, b) => a - b)) this.#release(index, undefined)
    for (const fetch of [...this.#fetches.values()]) if (fetch.member === id) this.#endFetch(fetch.requestId)
    this.#checkActive()
    return true
  }

  #endFetch(requestId: string): void {
    const fetch = this.#fetches.get(requestId)
    if (fetch === undefined) return
    this.#fetches.delete(requestId)
    this.#sends.push({ kind: 'status', to: fetch.replyTo, status: 'batch-complete' })
  }

  #takeInFlight(index: number): InFlight | undefined {
    const entry = this.#inFlight.get(index)
    if (entry === undefined) return undefined
    this.#inFlight.delete(index)
    if (entry.holder !== undefined) this.#members.get(entry.holder)?.inFlight.delete(index)
    return entry
  }

  /** The index leaves every local queue (acked, terminated, dropped). */
  #forget(index: number): void {
    this.#takeInFlight(index)
    this.#waiting.delete(index)
    this.#delayed.delete(index)
  }

  /**
   * An outstanding index comes back (nack, ack wait, member gone, due delayed nack, restore):
   * dead-lettered if it reached max deliveries or lags too far behind, else waits for a target.
   */
  #release(index: number, avoid: string | undefined): void {
    this.#takeInFlight(index)
    this.#delayed.delete(index)
    const attempts = this.progress.attempts(index)
    const { maxDeliveries, maxLag } = this.#settings
    if (maxDeliveries > 0 && attempts >= maxDeliveries) return this.#deadLetter({ index, reason: 'max-deliveries', deliveries: attempts })
    if (maxLag > 0 && this.#next - index > maxLag) return this.#deadLetter({ index, reason: 'max-lag', deliveries: attempts })
    if (!this.#waiting.has(index)) this.#waitingOrder.push(index)
    this.#waiting.set(index, avoid)
  }

  #deadLetter(order: DeadLetterOrder): void {
    this.#forget(order.index)
    if (this.#moving.has(order.index)) return
    this.#moving.set(order.index, { order, state: 'queued', retryAtMs: 0 })
  }

  #targets(): Target[] {
    const targets: Target[] = []
    const exclusive = this.#settings.mode === 'exclusive'
    const active = exclusive ? this.#activeMember() : undefined
    for (const member of this.#members.values()) {
      if (exclusive && member !== active) continue
      if (member.inFlight.size < member.maxInFlight) targets.push({ kind: 'member', member })
    }
    for (const fetch of this.#fetches.values()) {
      if (fetch.remaining <= 0) continue
      if (exclusive && (fetch.member === undefined ? active !== undefined : fetch.member !== active?.id)) continue
      targets.push({ kind: 'fetch', fetch })
    }
    return targets
  }

  #room(target: Target): boolean {
    return target.kind === 'member' ? target.member.inFlight.size < target.member.maxInFlight : target.fetch.remaining > 0
  }

  /** The next index to deliver (waiting first, lowest first; then fresh), without taking it. */
  #peekNext(): { readonly index: number; readonly avoid: string | undefined; readonly fresh: boolean } | undefined {
    for (let top = this.#waitingOrder.peek(); top !== undefined; top = this.#waitingOrder.peek()) {
      if (this.#waiting.has(top)) return { index: top, avoid: this.#waiting.get(top), fresh: false }
      this.#waitingOrder.pop()
    }
    if (this.#next < this.#available) return { index: this.#next, avoid: undefined, fresh: true }
    return undefined
  }

  #pump(nowMs: number): void {
    if (this.#fenced) return
    this.#checkActive()
    // Hot path (one pump per ack): nothing to hand out and no FETCH to end costs no allocation.
    if (this.#fetches.size === 0 && this.#peekNext() === undefined) return
    const targets = this.#targets()
    while (targets.length > 0 && this.#sends.length < sendsPerReadyMax) {
      const next = this.#peekNext()
      if (next === undefined) break
      if (!next.fresh && this.#settings.maxLag > 0 && this.#next - next.index > this.#settings.maxLag) {
        this.#waitingOrder.pop()
        this.#waiting.delete(next.index)
        this.#deadLetter({ index: next.index, reason: 'max-lag', deliveries: this.progress.attempts(next.index) })
        continue
      }
      let pick = this.#roundRobin % targets.length
      const candidate = targets[pick] as Target
      if (next.avoid !== undefined && targets.length > 1 && candidate.kind === 'member' && candidate.member.id === next.avoid) pick = (pick + 1) % targets.length
      const target = targets[pick] as Target
      const attempt = this.progress.dispatch({ node: this.writer, term: this.term, index: next.index })
      if (!attempt.ok) break // outstandingIdsMax: wait for acks
      if (next.fresh) this.#next += 1
      else {
        this.#waitingOrder.pop()
        this.#waiting.delete(next.index)
      }
      this.#deliver(next.index, attempt.value, target, nowMs)
      if (this.#room(target)) this.#roundRobin = pick + 1
      else {
        targets.splice(pick, 1)
        this.#roundRobin = pick
      }
    }
    if (this.#fetches.size > 0) for (const fetch of [...this.#fetches.values()]) if (fetch.remaining <= 0) this.#endFetch(fetch.requestId)
  }

  #deliver(index: number, attempt: number, target: Target, nowMs: number): void {
    const holder = target.kind === 'member' ? target.member.id : target.fetch.member
    const deadlineMs = nowMs + this.#settings.ackWaitMs
    // Invariant: one holder per index at a time.
    if (this.#inFlight.has(index)) throw new Error(`group controller: index ${index} dispatched while in flight`)
    this.#inFlight.set(index, { holder, attempt, deadlineMs })
    this.#deadlines.push({ index, atMs: deadlineMs })
    if (holder !== undefined) this.#members.get(holder)?.inFlight.add(index)
    let to: string
    if (target.kind === 'member') to = target.member.deliver
    else {
      target.fetch.remaining -= 1
      target.fetch.lastSendMs = nowMs
      to = target.fetch.replyTo
    }
    this.#sends.push({ kind: 'message', to, index, deliveries: attempt, member: holder })
    if (attempt === 1) this.counters.delivered += 1
    else this.counters.redelivered += 1
  }
}
