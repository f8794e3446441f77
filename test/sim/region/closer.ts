// The origin closer: the controller role (designated with a term) that gives a restarted node's
// new incarnation its origin slot by closing the incarnation that held it (DESIGN §3.2.4).
//
//  1. FENCE: send `fence {origin, incarnation, term}` to every replica; each persists "never
//     vouch for more of it" and answers its durable prefix. Resent until a majority answered.
//  2. DECIDE: once a majority answered, the claimant (the restarted node, which holds its
//     previous life's disk: `write` acks) among them, atSeq = the highest answer; propose the close (with the claimed
//     successor and its fromHlc) to the control plane, which commits one decision per
//     incarnation and only from the current holder's term (a stale closer is refused).
//  3. DISTRIBUTE: every committed decision, restated under this closer's term, to every replica
//     until it answers that all are applied and durable.
// A stale closer (a newer term exists) keeps running until it notices: its fences are refused
// by replicas that saw the newer term, its proposals by the control plane.
import type { ClosesAppliedMessage, CloseDecision, FencedMessage } from '../../../data-plane/persistent/index.js'
import type { RegionContext } from './context.js'
import type { RegionNode } from './region-node.js'

interface Fencing {
  readonly origin: string
  readonly incarnation: number
  readonly requestId: number
  readonly answers: Map<string, number>
  sentAtMs: number
}

export class CloserRole {
  stopped = false
  /** When set, this (now stale) closer stops on its own at that time. */
  staleStopAtMs: number | null = null
  #fencing: Fencing | null = null
  readonly #applied = new Map<string, number>()
  #lastDistributeMs = Number.NEGATIVE_INFINITY
  #nextRequestId = 1

  constructor(
    readonly node: RegionNode,
    private readonly ctx: RegionContext,
    readonly term: number,
  ) {}

  get #majority(): number {
    return Math.floor(this.ctx.config.replicaNames.length / 2) + 1
  }

  #stop(why: string): void {
    if (this.stopped) return
    this.stopped = true
    this.ctx.trace.record(this.ctx.clock.nowMs, 'closer-stop', `${this.node.name}@${this.term} ${why}`)
  }

  tick(nowMs: number): void {
    if (this.stopped) return
    if (this.staleStopAtMs !== null && nowMs >= this.staleStopAtMs) return this.#stop('stale, stopped')
    const cp = this.ctx.controlPlane
    if (this.#fencing === null) {
      const claim = cp.pendingClaims().sort((a, b) => (a.origin < b.origin ? -1 : 1))[0]
      if (claim !== undefined) {
        this.#fencing = { origin: claim.origin, incarnation: cp.slot(claim.origin), requestId: this.#nextRequestId++, answers: new Map(), sentAtMs: Number.NEGATIVE_INFINITY }
      }
    }
    const f = this.#fencing
    if (f !== null) {
      // A majority, and the claimant itself: it holds its previous life's disk, so events acked
      // at `write` (durable on the origin only) are not cut off by the close.
      const claimant = cp.pendingClaims().find((c) => c.origin === f.origin)?.origin
      const enough = this.ctx.config.bugs.closeAnyAnswer === true ? f.answers.size >= 1 : f.answers.size >= this.#majority && (claimant === undefined || f.answers.has(claimant))
      if (enough) {
        this.#decide(f)
      } else if (nowMs - f.sentAtMs >= this.ctx.config.closerResendMs) {
        f.sentAtMs = nowMs
        for (const replica of this.ctx.config.replicaNames) {
          this.node.sendReplica(replica, { kind: 'fence', stream: this.ctx.config.stream, requestId: f.requestId, origin: f.origin, incarnation: f.incarnation, controllerTerm: this.term })
        }
      }
    }
    if (nowMs - this.#lastDistributeMs >= this.ctx.config.closerResendMs) {
      this.#lastDistributeMs = nowMs
      const decisions: CloseDecision[] = cp.decisions().map((d) => ({ ...d, controllerTerm: this.term }))
      if (decisions.length === 0) return
      for (const replica of this.ctx.config.replicaNames) {
        if ((this.#applied.get(replica) ?? 0) >= decisions.length) continue
        this.node.sendReplica(replica, { kind: 'closes', stream: this.ctx.config.stream, requestId: this.#nextRequestId++, decisions })
      }
    }
  }

  #decide(f: Fencing): void {
    this.#fencing = null
    const cp = this.ctx.controlPlane
    const claim = cp.pendingClaims().find((c) => c.origin === f.origin)
    if (claim === undefined || cp.slot(f.origin) !== f.incarnation) return
    const atSeq = Math.max(...f.answers.values())
    const outcome = cp.proposeClose(this.node.name, { origin: f.origin, incarnation: f.incarnation, atSeq, controllerTerm: this.term, successor: { incarnation: claim.incarnation, fromHlc: claim.fromHlc } })
    this.ctx.trace.record(this.ctx.clock.nowMs, 'close-propose', `${this.node.name}@${this.term} ${f.origin}#${f.incarnation} at=${atSeq} -> ${claim.incarnation}: ${outcome.kind}`)
    if (outcome.kind === 'stale') this.#stop('control plane refused a stale proposal')
    else this.#lastDistributeMs = Number.NEGATIVE_INFINITY
  }

  onReply(from: string, m: FencedMessage | ClosesAppliedMessage): void {
    if (this.stopped) return
    if (m.controllerTerm > this.term) return this.#stop(`${from} saw term ${m.controllerTerm}`)
    if (m.kind === 'fenced') {
      const f = this.#fencing
      if (f !== null && m.ok && m.requestId === f.requestId && m.origin === f.origin && m.incarnation === f.incarnation) f.answers.set(from, m.durableSeq)
      return
    }
    if (m.errorCode === '') this.#applied.set(from, Math.max(this.#applied.get(from) ?? 0, m.applied))
  }
}
