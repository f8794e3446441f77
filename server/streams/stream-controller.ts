// The stream controller's logic (pure: no I/O, timers or clocks — time comes in as `nowMs`):
// the role held by the holder of the `psc/<ns>/<stream>/<region>` designation, with its
// controllerTerm. It closes origin incarnations of the region's replica set, following the
// proven model of test/sim/region/closer.ts (DESIGN §3.2.4, replica/README "Fence, then close"):
//
//  1. WATCH. An origin incarnation is closed when (a) a restarted node claims the origin's slot
//     (a successor claim with a higher incarnation), or (b) the origin's node is dead or removed
//     in the cluster state, or its link has been down for `deadOriginGraceMs` — the region's
//     delivery would otherwise wait for it forever. (b) closes without a successor: the node
//     keeps replicating but no longer writes (it forwards publishes to a replica that does);
//     so (b) never closes the last open slot of the set.
//  2. FENCE. `fence {origin, incarnation, term}` to every replica, resent until a majority
//     answered — and, for a claim, the claimant itself (it holds its previous life's disk, so
//     events acked at `write` are not cut off). Each answer is the replica's durable prefix of
//     that incarnation, frozen forever. While some replica that is up has not answered, wait up
//     to `fenceAllWaitMs` for it.
//  3. DECIDE. atSeq = the highest answer: every majority-acked or committed event is ≤ it (the
//     fenced majority meets the acking majority). The decision is proposed to the driver, which
//     commits it in the control plane (one decision per incarnation, first writer wins:
//     close-ledger.ts) and hands back the committed list.
//  4. DISTRIBUTE. Every committed decision, restated under this term, to every replica until it
//     answers that all are applied and durable.
// A stale controller (a replica answers with a higher term) stops; the driver also stops it
// when the designation moves.
import type { CloseDecision, ClosesAppliedMessage, FencedMessage, Hlc, ReplicaMessage } from '../../data-plane/persistent/index.js'

export interface StreamControllerConfig {
  /** `namespace/name`. */
  readonly stream: string
  /** The region's replica set (the engines' set, this controller's node included or not). */
  readonly replicas: readonly string[]
  /** The designation's controllerTerm. */
  readonly term: number
  /** Close an unreachable origin without a successor after this long (Infinity = never). */
  readonly deadOriginGraceMs: number
  readonly fenceResendMs: number
  readonly distributeResendMs: number
  /** After a majority answered a fence, how long to wait for the other replicas that are up. */
  readonly fenceAllWaitMs: number
  /**
   * A tick this long after the previous one means this process was stalled (GC, CPU starvation,
   * SIGSTOP): what it knows about reachability is stale, so every origin gets a fresh grace.
   */
  readonly stalledTickGapMs?: number
}

export const streamControllerDefaults = {
  deadOriginGraceMs: 5_000,
  stalledTickGapMs: 1_000,
  fenceResendMs: 500,
  distributeResendMs: 500,
  fenceAllWaitMs: 300,
} as const

export interface SlotClaim {
  readonly origin: string
  readonly incarnation: number
  readonly fromHlc: Hlc
}

/** What the driver reports each tick about the replicas. */
export interface ReplicaView {
  /** Replicas the cluster state says are dead or removed. */
  readonly dead: ReadonlySet<string>
  /** Replicas reachable now (the controller's own node counts as reachable). */
  readonly up: ReadonlySet<string>
}

export interface ControllerOutput {
  readonly messages: ReadonlyArray<{ readonly to: string; readonly message: ReplicaMessage }>
  /** A decision to commit in the control plane (then `setCommitted`, or `proposalFailed`). */
  readonly propose: CloseDecision | null
  readonly notices: readonly string[]
}

/** Which incarnation of an origin holds its slot, and whether the slot is still open. */
export interface Slot {
  readonly incarnation: number
  readonly open: boolean
}

/** The slots after a chain of committed decisions (every origin of the set starts at incarnation 1). */
export function slotsAfter(replicas: readonly string[], decisions: readonly CloseDecision[]): Map<string, Slot> {
  const slots = new Map<string, Slot>(replicas.map((origin) => [origin, { incarnation: 1, open: true }]))
  for (const d of decisions) {
    const slot = slots.get(d.origin)
    if (slot === undefined || !slot.open || slot.incarnation !== d.incarnation) continue
    slots.set(d.origin, d.successor === undefined ? { incarnation: d.incarnation, open: false } : { incarnation: d.successor.incarnation, open: true })
  }
  return slots
}

interface Fencing {
  readonly origin: string
  readonly incarnation: number
  readonly requestId: number
  readonly answers: Map<string, number>
  readonly startedMs: number
  sentAtMs: number
  /** When a majority (and the claimant) first answered. */
  enoughAtMs: number | null
}

export class StreamControllerCore {
  readonly config: StreamControllerConfig
  #committed: readonly CloseDecision[] = []
  #slots: Map<string, Slot>
  readonly #claims = new Map<string, SlotClaim>()
  readonly #lastUpMs = new Map<string, number>()
  readonly #applied = new Map<string, number>()
  #fencing: Fencing | null = null
  #proposing: CloseDecision | null = null
  #lastDistributeMs = Number.NEGATIVE_INFINITY
  #nextRequestId = 1
  #lastTickMs: number
  #stopped: string | null = null
  #messages: Array<{ to: string; message: ReplicaMessage }> = []
  #notices: string[] = []

  constructor(config: StreamControllerConfig, nowMs: number) {
    this.config = config
    this.#slots = slotsAfter(config.replicas, [])
    this.#lastTickMs = nowMs
    // A new controller gives every origin the full grace before judging it unreachable.
    for (const replica of config.replicas) this.#lastUpMs.set(replica, nowMs)
  }

  get #majority(): number {
    return Math.floor(this.config.replicas.length / 2) + 1
  }

  /** Why this controller stopped (a newer term exists), or null while it runs. */
  get stopped(): string | null {
    return this.#stopped
  }

  get committed(): readonly CloseDecision[] {
    return this.#committed
  }

  slot(origin: string): Slot | undefined {
    return this.#slots.get(origin)
  }

  /** The fence in progress, for tests and logs. */
  get fencing(): { readonly origin: string; readonly incarnation: number; readonly answers: ReadonlyMap<string, number> } | null {
    return this.#fencing
  }

  /** The control plane's committed decisions of this stream and region, in commit order. */
  setCommitted(decisions: readonly CloseDecision[]): void {
    if (decisions.length < this.#committed.length) {
      // Committed decisions are final: a shorter list is a tampered ledger, never followed.
      this.#notices.push(`the committed decisions shrank (${this.#committed.length} → ${decisions.length}): ignored`)
      return
    }
    if (decisions.length > this.#committed.length) this.#lastDistributeMs = Number.NEGATIVE_INFINITY
    this.#committed = [...decisions]
    this.#slots = slotsAfter(this.config.replicas, decisions)
    const p = this.#proposing
    if (p !== null && decisions.some((d) => d.origin === p.origin && d.incarnation === p.incarnation)) this.#proposing = null
    const f = this.#fencing
    if (f !== null && this.#slots.get(f.origin)?.incarnation !== f.incarnation) this.#fencing = null
  }

  /** The driver could not commit the proposal (it retries with a new fence later). */
  proposalFailed(reason: string): void {
    this.#notices.push(`close proposal failed: ${reason}`)
    this.#proposing = null
  }

  onClaim(claim: SlotClaim): void {
    if (!this.config.replicas.includes(claim.origin)) return
    const known = this.#claims.get(claim.origin)
    if (known === undefined || known.incarnation < claim.incarnation) this.#claims.set(claim.origin, claim)
  }

  onFenced(from: string, m: FencedMessage): void {
    if (this.#stopped !== null) return
    if (m.controllerTerm > this.config.term) return this.#stop(`${from} saw term ${m.controllerTerm}`)
    const f = this.#fencing
    if (f !== null && m.ok && m.requestId === f.requestId && m.origin === f.origin && m.incarnation === f.incarnation) f.answers.set(from, m.durableSeq)
  }

  onClosesApplied(from: string, m: ClosesAppliedMessage): void {
    if (this.#stopped !== null) return
    if (m.controllerTerm > this.config.term) return this.#stop(`${from} saw term ${m.controllerTerm}`)
    if (m.errorCode === '') this.#applied.set(from, Math.max(this.#applied.get(from) ?? 0, m.applied))
    else if (m.errorCode !== 'RG_ERR_NOT_FOUND') this.#notices.push(`${from} refused a committed close decision: ${m.errorCode}`)
  }

  /** The claim waiting for `origin`'s slot, if any (an incarnation above the slot's). */
  #pendingClaim(origin: string): SlotClaim | undefined {
    const slot = this.#slots.get(origin)
    const claim = this.#claims.get(origin)
    return slot !== undefined && slot.open && claim !== undefined && claim.incarnation > slot.incarnation ? claim : undefined
  }

  #unreachable(origin: string, nowMs: number, view: ReplicaView): boolean {
    if (view.dead.has(origin)) return true
    return nowMs - (this.#lastUpMs.get(origin) ?? nowMs) >= this.config.deadOriginGraceMs
  }

  /** The next origin incarnation to close: claims first, then unreachable origins (never the last open slot). */
  #nextWork(nowMs: number, view: ReplicaView): { origin: string; incarnation: number } | null {
    const origins = [...this.config.replicas].sort()
    for (const origin of origins) {
      if (this.#pendingClaim(origin) !== undefined) return { origin, incarnation: (this.#slots.get(origin) as Slot).incarnation }
    }
    const open = origins.filter((origin) => this.#slots.get(origin)?.open === true)
    if (open.length < 2) return null
    for (const origin of open) {
      if (this.#unreachable(origin, nowMs, view)) return { origin, incarnation: (this.#slots.get(origin) as Slot).incarnation }
    }
    return null
  }

  tick(nowMs: number, view: ReplicaView): ControllerOutput {
    const stalled = nowMs - this.#lastTickMs > (this.config.stalledTickGapMs ?? streamControllerDefaults.stalledTickGapMs)
    this.#lastTickMs = Math.max(this.#lastTickMs, nowMs)
    if (this.#stopped === null) {
      for (const replica of this.config.replicas) if (stalled || (view.up.has(replica) && !view.dead.has(replica))) this.#lastUpMs.set(replica, nowMs)
      if (this.#fencing === null && this.#proposing === null) {
        const work = this.#nextWork(nowMs, view)
        if (work !== null) this.#fencing = { ...work, requestId: this.#nextRequestId++, answers: new Map(), startedMs: nowMs, sentAtMs: Number.NEGATIVE_INFINITY, enoughAtMs: null }
      }
      this.#advanceFence(nowMs, view)
      this.#distribute(nowMs)
    }
    return this.#take()
  }

  #propose: CloseDecision | null = null

  #advanceFence(nowMs: number, view: ReplicaView): void {
    const f = this.#fencing
    if (f === null) return
    const claim = this.#pendingClaim(f.origin)
    const enough = f.answers.size >= this.#majority && (claim === undefined || f.answers.has(claim.origin))
    if (enough) {
      f.enoughAtMs ??= nowMs
      const waitingFor = this.config.replicas.filter((r) => view.up.has(r) && !f.answers.has(r))
      if (waitingFor.length === 0 || nowMs - f.enoughAtMs >= this.config.fenceAllWaitMs) return this.#decide(f, claim)
    } else {
      f.enoughAtMs = null
    }
    if (nowMs - f.sentAtMs >= this.config.fenceResendMs) {
      f.sentAtMs = nowMs
      for (const replica of this.config.replicas) {
        this.#messages.push({ to: replica, message: { kind: 'fence', stream: this.config.stream, requestId: f.requestId, origin: f.origin, incarnation: f.incarnation, controllerTerm: this.config.term } })
      }
    }
  }

  #decide(f: Fencing, claim: SlotClaim | undefined): void {
    this.#fencing = null
    const slot = this.#slots.get(f.origin)
    if (slot === undefined || !slot.open || slot.incarnation !== f.incarnation) return
    const atSeq = Math.max(...f.answers.values())
    const decision: CloseDecision = {
      origin: f.origin,
      incarnation: f.incarnation,
      atSeq,
      controllerTerm: this.config.term,
      ...(claim === undefined ? {} : { successor: { incarnation: claim.incarnation, fromHlc: claim.fromHlc } }),
    }
    this.#proposing = decision
    this.#propose = decision
    this.#notices.push(`close ${f.origin}#${f.incarnation} at ${atSeq}${claim === undefined ? ' (no successor: unreachable)' : ` → successor ${claim.incarnation}`} from ${f.answers.size} answer(s)`)
  }

  #distribute(nowMs: number): void {
    if (this.#committed.length === 0 || nowMs - this.#lastDistributeMs < this.config.distributeResendMs) return
    this.#lastDistributeMs = nowMs
    const decisions = this.#committed.map((d) => ({ ...d, controllerTerm: this.config.term }))
    for (const replica of this.config.replicas) {
      if ((this.#applied.get(replica) ?? 0) >= decisions.length) continue
      this.#messages.push({ to: replica, message: { kind: 'closes', stream: this.config.stream, requestId: this.#nextRequestId++, decisions } })
    }
  }

  #stop(why: string): void {
    if (this.#stopped !== null) return
    this.#stopped = why
    this.#fencing = null
    this.#notices.push(`stream controller stopped: ${why}`)
  }

  #take(): ControllerOutput {
    const out: ControllerOutput = { messages: this.#messages, propose: this.#propose, notices: this.#notices }
    this.#messages = []
    this.#propose = null
    this.#notices = []
    return out
  }
}
