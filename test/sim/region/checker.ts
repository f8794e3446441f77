// The region checker: DESIGN §4 invariants 1, 2, 3, 4 and 7, checked while the simulation runs
// and after it healed and quiesced. A breach throws SimViolation (with the seed).
//
//  1. Acked ⇒ durable: when an origin emits an ack, the copy is on the SYNCED disk records of
//     the origin (`write`), of a majority of the replica set (`majority`), or of every replica
//     (`all`). Disks are never wiped, so that suffices while a majority keeps its disk; at the
//     end every acked copy is held by every replica and is never cut off by a close.
//  2. One order: every delivery at index i, on any replica and in any life of it, is the same
//     copy (lives replay from index 0 and must agree). Within a life indexes are contiguous.
//  3. Convergence: after the heal and the quiet period, every replica's digest is equal.
//  4. Group delivery: the final delivered log equals the reference computed from the final set
//     (closes applied, dedup rule), so every stored event is delivered; consumers received every
//     position; the final SCC has acked them all; no producer id is delivered twice.
//  7. Terms: control-plane terms only grow; a replica never answers for a term it forgets after
//     a restart; a stale progress state never changes a replica that saw a newer term; a stale
//     closer's proposal is refused (counted by the control plane).
import { dedupSurvivors, originKey } from '../../../data-plane/persistent/index.js'
import type { ClosesAppliedMessage, CloseDecision, FencedMessage, MergeOutcome, PublishAck, ReplicaNotice, StreamEvent } from '../../../data-plane/persistent/index.js'
import { compareEventOrder, compareHlc } from '../../../data-plane/persistent/index.js'
import { SimViolation } from '../raft-invariants.js'
import { copyKeyOf } from './region-node.js'
import type { RegionNode } from './region-node.js'

type AckOk = Extract<PublishAck, { ok: true }>

export interface AckedCopy {
  readonly copyKey: string
  readonly id: string
  readonly level: AckOk['level']
  readonly node: string
}

export class RegionChecker {
  readonly #byIndex: string[] = []
  readonly acked = new Map<string, AckedCopy>()
  readonly received = new Set<number>()
  readonly #vouchedTerm = new Map<string, number>()
  readonly noticeCounts = new Map<string, number>()
  deliveries = 0

  constructor(
    readonly seed: number,
    private readonly nowMs: () => number,
    private readonly nodes: () => readonly RegionNode[],
  ) {}

  violation(invariant: string, detail: string): never {
    throw new SimViolation(this.seed, invariant, detail, this.nowMs())
  }

  get deliveredLength(): number {
    return this.#byIndex.length
  }

  onTermChange(controller: string, previous: number, next: number): void {
    if (next <= previous) this.violation('7 controller terms', `${controller}: term ${next} after ${previous}`)
  }

  onStart(node: RegionNode, incarnation: number): void {
    const vouched = this.#vouchedTerm.get(node.name) ?? 0
    const term = node.replica?.controllerTerm ?? 0
    if (term < vouched) this.violation('7 controller terms', `${node.name} restarted (inc ${incarnation}) at term ${term}, below the term ${vouched} it answered for`)
  }

  onVouch(node: RegionNode, m: FencedMessage | ClosesAppliedMessage): void {
    if (m.kind === 'fenced' && !m.ok) return
    this.#vouchedTerm.set(node.name, Math.max(this.#vouchedTerm.get(node.name) ?? 0, m.controllerTerm))
  }

  onProgressMerge(node: RegionNode, group: string, localTerm: number, incomingTerm: number, outcome: MergeOutcome, changed: boolean): void {
    if (incomingTerm < localTerm && (outcome !== 'ignored-stale-term' || changed)) {
      this.violation('7 stale holder', `${node.name}: progress of ${group} at term ${localTerm} changed by a state of term ${incomingTerm} (${outcome})`)
    }
  }

  onNotice(node: RegionNode, notice: ReplicaNotice): void {
    const key = notice.code === undefined ? notice.kind : `${notice.kind}:${notice.code}`
    this.noticeCounts.set(key, (this.noticeCounts.get(key) ?? 0) + 1)
    // The design says these never happen: a close that does not apply, or a peer's copy that
    // contradicts what is held (a reused sequence or a clock that went back).
    if (notice.kind === 'close-refused') this.violation('2 close applies everywhere', `${node.name}: ${notice.detail}`)
    if (notice.kind === 'refused-events' && /conflicting-copy|non-monotonic|invalid|wrong-stream/.test(notice.detail)) this.violation('1 copies agree', `${node.name}: ${notice.detail}`)
  }

  onAck(node: RegionNode, ack: AckOk): void {
    const copyKey = copyKeyOf(ack.position)
    const holders = this.nodes().filter((n) => n.durableCopies.has(copyKey)).map((n) => n.name)
    const n = this.nodes().length
    const needed = ack.level === 'write' ? 1 : ack.level === 'majority' ? Math.floor(n / 2) + 1 : n
    if (holders.length < needed || (ack.level === 'write' && !holders.includes(node.name))) {
      this.violation('1 acked is durable', `${node.name} acked ${copyKey} at level ${ack.level} but it is synced only on [${holders.join(',')}]`)
    }
    const event = node.held.get(ack.position.origin, ack.position.incarnation, ack.position.originSeq)
    if (event === undefined) this.violation('1 acked is durable', `${node.name} acked ${copyKey} it does not hold`)
    this.acked.set(copyKey, { copyKey, id: event.id, level: ack.level, node: node.name })
  }

  onDelivery(node: RegionNode, index: number, event: StreamEvent): void {
    this.deliveries++
    const key = copyKeyOf(event)
    const known = this.#byIndex[index]
    if (known === undefined) {
      if (index !== this.#byIndex.length) this.violation('2 one order', `${node.name} delivered index ${index} before index ${this.#byIndex.length} was delivered anywhere`)
      this.#byIndex.push(key)
    } else if (known !== key) {
      this.violation('2 one order', `${node.name} (life ${node.life}) delivered ${key} at index ${index}, another replica delivered ${known} there`)
    }
  }

  onConsumerReceive(consumer: string, position: number, copyKey: string): void {
    const known = this.#byIndex[position]
    if (known !== copyKey) this.violation('4 group delivery', `${consumer} got ${copyKey} as position ${position}, which is ${known ?? 'not delivered anywhere'}`)
    this.received.add(position)
  }

  /** After the heal and the quiet period. */
  checkFinal(decisions: readonly CloseDecision[], dedupWindowMs: number, producerIds: ReadonlySet<string>, sccCaughtUp: boolean): void {
    const nodes = this.nodes()
    const down = nodes.filter((n) => !n.up || n.replica === null)
    if (down.length > 0) this.violation('3 convergence', `nodes still down at the end: ${down.map((n) => n.name).join(',')}`)
    // Each node's written copies are its replica's set (the replica keeps only the unsettled ones in memory).
    const firstNode = nodes[0] as RegionNode
    const first = { node: firstNode.name, held: firstNode.held }
    for (const n of nodes) {
      const vector = JSON.stringify([...(n.replica as NonNullable<RegionNode['replica']>).heldVector()].filter(([, seq]) => seq > 0))
      const written = JSON.stringify([...n.held.versionVector()].filter(([, seq]) => seq > 0))
      if (vector !== written) this.violation('3 convergence', `${n.name}: the replica's held vector ${vector} is not what it wrote ${written}`)
      if (n.held.digest() !== first.held.digest()) this.violation('3 convergence', `${n.name} digest ${n.held.digest()} (${n.held.size} copies) differs from ${first.node} ${first.held.digest()} (${first.held.size} copies) after the heal`)
    }
    // Invariant 1 at the end: every acked copy is held everywhere and not cut off by a close.
    const closed = new Map(decisions.map((d) => [originKey(d.origin, d.incarnation), d] as const))
    const fromHlc = new Map(decisions.filter((d) => d.successor !== undefined).map((d) => [originKey(d.origin, d.successor?.incarnation ?? 0), d.successor?.fromHlc] as const))
    const excluded = (e: StreamEvent): boolean => {
      const key = originKey(e.origin, e.incarnation)
      const close = closed.get(key)
      if (close !== undefined && e.originSeq > close.atSeq) return true
      if (e.incarnation === 1) return false
      const from = fromHlc.get(key)
      if (from === undefined) this.violation('2 one order', `${copyKeyOf(e)} from an incarnation that never held an origin slot`)
      return compareHlc(e.hlc, from) <= 0
    }
    for (const a of this.acked.values()) {
      const [origin, incarnation, seq] = a.copyKey.split('#')
      const event = first.held.get(origin as string, Number(incarnation), Number(seq))
      if (event === undefined) this.violation('1 acked is never lost', `${a.copyKey} (acked ${a.level} by ${a.node}) is missing after the heal`)
      if (excluded(event)) this.violation('1 acked is never lost', `${a.copyKey} (acked ${a.level} by ${a.node}) lies past its incarnation's close`)
    }
    // Invariants 2 and 4: the delivered log is the reference order of the final set.
    const included = first.held.all().filter((e) => !excluded(e))
    const copiesById = new Map<string, StreamEvent[]>()
    for (const e of included) {
      const list = copiesById.get(e.id) ?? []
      list.push(e)
      copiesById.set(e.id, list)
    }
    const survivors = new Set<string>()
    for (const copies of copiesById.values()) {
      const verdicts = dedupSurvivors(copies, dedupWindowMs)
      copies.forEach((c, i) => {
        if (verdicts[i] === i) survivors.add(copyKeyOf(c))
      })
    }
    const reference = included.filter((e) => survivors.has(copyKeyOf(e))).sort(compareEventOrder).map(copyKeyOf)
    for (const node of nodes) {
      const log = node.log.map(copyKeyOf)
      if (log.length !== reference.length || log.some((k, i) => k !== reference[i])) {
        const at = log.findIndex((k, i) => k !== reference[i])
        this.violation('4 every stored event delivered', `${node.name} delivered ${log.length} events, the reference has ${reference.length} (first difference at ${at < 0 ? Math.min(log.length, reference.length) : at}: ${log[at] ?? '-'} vs ${reference[at] ?? '-'})`)
      }
    }
    const deliveredIds = new Map<string, number>()
    for (const key of reference) {
      const id = (first.held.get(...(splitCopyKey(key))) as StreamEvent).id
      deliveredIds.set(id, (deliveredIds.get(id) ?? 0) + 1)
    }
    for (const a of this.acked.values()) if (!deliveredIds.has(a.id)) this.violation('4 every stored event delivered', `acked id ${a.id} was never delivered`)
    for (const id of producerIds) if ((deliveredIds.get(id) ?? 0) > 1) this.violation('4 no duplicate inside the window', `producer id ${id} delivered ${deliveredIds.get(id)} times`)
    for (let p = 0; p < reference.length; p++) if (!this.received.has(p)) this.violation('4 group delivery', `position ${p} (${reference[p]}) never reached a consumer`)
    if (!sccCaughtUp) this.violation('4 group delivery', `the final SCC did not dispatch and get acks for all ${reference.length} positions`)
  }
}

function splitCopyKey(key: string): [string, number, number] {
  const [origin, incarnation, seq] = key.split('#')
  return [origin as string, Number(incarnation), Number(seq)]
}
