// The consumer group in the region simulation: the stream consumer controller (SCC) role and
// the consumers (DESIGN §2, §3.2.6).
//
// An SCC holds a designation {holder, term}. It first GATHERS the group's progress from the
// replicas (whatever answers within `gatherMs`), takes over with GroupProgress.takeOver at its
// term, redelivers what was outstanding, then dispatches its node's delivered events in order
// (at most `maxInFlight` unacked), redelivers after `ackWaitMs`, and replicates its progress
// to every replica. A stale SCC (a newer term was designated while it ran) keeps dispatching
// and taking acks until `staleStopAtMs`: its progress is refused by replicas that saw the
// newer term (checked), and its consumers' acks are lost to the group — so those messages are
// redelivered by the new SCC (at-least-once).
import { GroupProgress } from '../../../data-plane/persistent/index.js'
import type { OutstandingId } from '../../../data-plane/persistent/index.js'
import type { RegionContext } from './context.js'
import { copyKeyOf } from './region-node.js'
import type { RegionNode } from './region-node.js'
import type { RegionWire } from './wire.js'

interface InFlight {
  readonly position: number
  readonly deadlineMs: number
}

/** What an SCC reads of the node hosting it: its name and the delivery log it dispatches. */
export type SccHost = Pick<RegionNode, 'name' | 'log'>

type ConsumerAck = Extract<RegionWire, { kind: 'consumer-ack' }>
type GatherReply = Extract<RegionWire, { kind: 'progress-state' }>

export class SccRole {
  stopped = false
  staleStopAtMs: number | null = null
  state: GroupProgress | null = null
  #next = 0
  readonly #inFlight = new Map<string, InFlight>()
  #redeliver: OutstandingId[] = []
  readonly #gathered: GroupProgress[] = []
  #gatherUntilMs: number
  readonly #requestId: number
  #lastReplicateMs = Number.NEGATIVE_INFINITY
  #roundRobin = 0

  constructor(
    readonly node: SccHost,
    private readonly ctx: RegionContext,
    readonly term: number,
  ) {
    this.#gatherUntilMs = ctx.clock.nowMs + ctx.config.gatherMs
    this.#requestId = term
    for (const replica of ctx.config.replicaNames) {
      ctx.network.send(node.name, replica, { kind: 'progress-gather', group: ctx.config.group, term, requestId: this.#requestId })
    }
  }

  #stop(why: string): void {
    if (this.stopped) return
    this.stopped = true
    this.ctx.trace.record(this.ctx.clock.nowMs, 'scc-stop', `${this.node.name}@${this.term} ${why}`)
  }

  onGatherReply(m: GatherReply): void {
    if (this.state === null && m.requestId === this.#requestId && m.group === this.ctx.config.group) this.#gathered.push(m.state)
  }

  tick(nowMs: number): void {
    if (this.stopped) return
    if (this.staleStopAtMs !== null && nowMs >= this.staleStopAtMs) return this.#stop('stale, stopped')
    if (this.state === null) {
      if (nowMs < this.#gatherUntilMs) return
      const taken = GroupProgress.takeOver(this.term, this.#gathered)
      if (!taken.ok) return this.#stop(`takeOver refused: ${taken.error.code}`)
      this.state = taken.value.state
      this.#redeliver = [...taken.value.redeliver]
      this.#next = this.state.head()
      this.ctx.trace.record(nowMs, 'scc-takeover', `${this.node.name}@${this.term} gathered=${this.#gathered.length} head=${this.#next} redeliver=${this.#redeliver.length}`)
    }
    for (const [id, f] of this.#inFlight) {
      if (f.deadlineMs > nowMs) continue
      this.#inFlight.delete(id)
      this.#redeliver.push({ id, position: f.position, attempts: 0 })
    }
    const log = this.node.log
    while (this.#redeliver.length > 0 && this.#inFlight.size < this.ctx.config.maxInFlight) {
      const r = this.#redeliver[0] as OutstandingId
      if (r.position >= log.length) break
      this.#redeliver.shift()
      if (this.#inFlight.has(r.id) || !this.state.isOutstanding(r.id)) continue
      this.#dispatch(r.position, nowMs)
    }
    while (this.#next < log.length && this.#inFlight.size < this.ctx.config.maxInFlight) this.#dispatch(this.#next++, nowMs)
    if (nowMs - this.#lastReplicateMs >= this.ctx.config.replicateEveryMs) {
      this.#lastReplicateMs = nowMs
      for (const replica of this.ctx.config.replicaNames) {
        this.ctx.network.send(this.node.name, replica, { kind: 'progress', group: this.ctx.config.group, state: this.state.clone() })
      }
    }
  }

  #dispatch(position: number, nowMs: number): void {
    const state = this.state as GroupProgress
    const event = this.node.log[position]
    if (event === undefined) throw new Error(`scc: no event at ${position}`)
    const copyKey = copyKeyOf(event)
    const dispatched = state.dispatch({ node: this.node.name, term: this.term, id: copyKey, position })
    if (!dispatched.ok) return this.#stop(`dispatch refused: ${dispatched.error.code}`)
    const consumers = this.ctx.config.consumerNames
    const consumer = consumers[this.#roundRobin++ % consumers.length] as string
    this.#inFlight.set(copyKey, { position, deadlineMs: nowMs + this.ctx.config.ackWaitMs })
    this.ctx.network.send(this.node.name, consumer, { kind: 'dispatch', group: this.ctx.config.group, term: this.term, position, copyKey }, { connection: true })
  }

  onConsumerAck(m: ConsumerAck): void {
    if (this.stopped || this.state === null || m.group !== this.ctx.config.group) return
    this.#inFlight.delete(m.copyKey)
    // The consumer processed that event: whichever SCC term dispatched it, the id is done.
    if (this.state.isOutstanding(m.copyKey)) this.state.ack({ term: this.term, id: m.copyKey })
  }

  /** Everything up to the node's log is dispatched and acked. */
  caughtUp(): boolean {
    return this.state !== null && !this.stopped && this.state.head() >= this.node.log.length && this.state.outstandingCount === 0
  }
}

/** A consumer of the group: records what it receives, acks after a short processing time. */
export class SimConsumer {
  constructor(
    readonly name: string,
    private readonly ctx: RegionContext,
  ) {
    const random = ctx.random.fork(`consumer-${name}`)
    ctx.network.register(name, (from, m) => {
      if (m.kind !== 'dispatch') return
      ctx.checker.onConsumerReceive(name, m.position, m.copyKey)
      ctx.clock.schedule(random.intBetween(1, 20), () => {
        ctx.network.send(name, from, { kind: 'consumer-ack', group: m.group, term: m.term, position: m.position, copyKey: m.copyKey }, { connection: true })
      })
    })
  }
}
