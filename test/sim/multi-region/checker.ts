// The region checker of the multi-region simulation: test/sim/region's RegionChecker (DESIGN §4
// invariants 1, 2, 3, 4 and 7 inside one region, run unchanged on the region's raw delivery
// order), extended in two ways:
//  - it is also the TAP through which the shipping layer sees a RegionNode's deliveries, acks and
//    restarts (RegionNode reports them to its checker only; test/sim/region stays unchanged);
//  - it checks the region's GROUP sequence — the raw order after RegionDedup, what the consumer
//    group is fed: every replica, in every life, hands the group the same copy at each position
//    (invariant 2 for the group), and every position reaches a consumer (invariant 4).
// Replicas of a multi-region stream run with dedupWindowMs 0 (RegionDedup applies the window), so
// the raw reference order of RegionChecker.checkFinal is computed with window 0 and its
// "no producer id twice" check moves to the group sequence (cross-region-checks.ts).
import type { PublishAck, StreamEvent } from '../../../data-plane/persistent/index.js'
import { RegionChecker } from '../region/checker.js'
import type { RegionNode } from '../region/region-node.js'
import { copyKeyOf } from '../region/region-node.js'

type AckOk = Extract<PublishAck, { ok: true }>

/** What the shipping layer of a node needs to hear from its RegionNode. */
export interface NodeTap {
  onStart(node: RegionNode): void
  onDelivery(node: RegionNode, event: StreamEvent): void
  onAck(node: RegionNode, publishId: string): void
}

export class MultiRegionChecker extends RegionChecker {
  tap: NodeTap | null = null
  readonly #groupByIndex: string[] = []
  readonly #groupReceived = new Set<number>()

  constructor(
    seed: number,
    readonly region: string,
    nowMs: () => number,
    nodes: () => readonly RegionNode[],
  ) {
    super(seed, nowMs, nodes)
  }

  override violation(invariant: string, detail: string): never {
    return super.violation(invariant, `[${this.region}] ${detail}`)
  }

  override onStart(node: RegionNode, incarnation: number): void {
    super.onStart(node, incarnation)
    this.tap?.onStart(node)
  }

  override onDelivery(node: RegionNode, index: number, event: StreamEvent): void {
    super.onDelivery(node, index, event)
    this.tap?.onDelivery(node, event)
  }

  override onAck(node: RegionNode, ack: AckOk): void {
    super.onAck(node, ack)
    this.tap?.onAck(node, ack.publishId)
  }

  get groupLength(): number {
    return this.#groupByIndex.length
  }

  /** A replica hands its group the copy at `position` of the region's group sequence. */
  onGroupDelivery(node: string, life: number, position: number, event: StreamEvent): void {
    const key = copyKeyOf(event)
    const known = this.#groupByIndex[position]
    if (known === undefined) {
      if (position !== this.#groupByIndex.length) this.violation('2 one group sequence', `${node} handed its group position ${position} before position ${this.#groupByIndex.length} existed anywhere`)
      this.#groupByIndex.push(key)
    } else if (known !== key) {
      this.violation('2 one group sequence', `${node} (life ${life}) handed its group ${key} at position ${position}, another replica handed ${known}`)
    }
  }

  override onConsumerReceive(consumer: string, position: number, copyKey: string): void {
    const known = this.#groupByIndex[position]
    if (known !== copyKey) this.violation('4 group delivery', `${consumer} got ${copyKey} as group position ${position}, which is ${known ?? 'not in the group sequence anywhere'}`)
    this.#groupReceived.add(position)
  }

  /** After the heal and the quiet period: the region's own invariants, then its group's. */
  checkFinalRegion(decisions: Parameters<RegionChecker['checkFinal']>[0], sccCaughtUp: boolean): void {
    // Raw positions reach consumers only through the group sequence (checked just below), so
    // RegionChecker's "every raw position reached a consumer" is not asked of them.
    for (let p = 0; p < this.deliveredLength; p++) this.received.add(p)
    super.checkFinal(decisions, 0, new Set(), true)
    for (let p = 0; p < this.#groupByIndex.length; p++) {
      if (!this.#groupReceived.has(p)) this.violation('4 group delivery', `group position ${p} (${this.#groupByIndex[p]}) never reached a consumer`)
    }
    if (!sccCaughtUp) this.violation('4 group delivery', `the final SCC did not dispatch and get acks for all ${this.#groupByIndex.length} group positions`)
  }
}
