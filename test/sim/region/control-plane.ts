// The control plane as the region simulation sees it: a linearizable register (the Raft group
// is simulated and checked on its own in ../raft-*.ts; here its decisions are instant and
// always reachable). It holds:
//  - controller designations {holder, term}: the origin closer ("closer") and each consumer
//    group's SCC ("scc:<group>"); every new designation takes term + 1 (DESIGN §4.7);
//  - close decisions per stream, at most one per origin incarnation, committed only when
//    proposed by the current holder of "closer" with its current term (a stale holder's
//    proposal is refused: it cannot change state);
//  - successor claims: a restarted node's incarnation and fromHlc, waiting for its slot.
import type { CloseDecision, Hlc } from '../../../data-plane/persistent/index.js'

export interface Designation {
  readonly holder: string
  readonly term: number
}

export interface SuccessorClaim {
  readonly origin: string
  readonly incarnation: number
  readonly fromHlc: Hlc
}

export type ProposeOutcome = { readonly kind: 'committed' | 'existing'; readonly decision: CloseDecision } | { readonly kind: 'stale'; readonly currentTerm: number } | { readonly kind: 'not-slot'; readonly slot: number }

export class RegionControlPlane {
  readonly #designations = new Map<string, Designation>()
  readonly #decisions: CloseDecision[] = []
  /** origin → the incarnation currently holding its slot (1 at the start). */
  readonly #slots = new Map<string, number>()
  readonly #claims = new Map<string, SuccessorClaim>()
  staleProposals = 0

  constructor(origins: readonly string[], private readonly onTermChange: (controller: string, previous: number, next: number) => void) {
    for (const origin of origins) this.#slots.set(origin, 1)
  }

  designate(controller: string, holder: string): Designation {
    const previous = this.#designations.get(controller)?.term ?? 0
    const designation = { holder, term: previous + 1 }
    this.onTermChange(controller, previous, designation.term)
    this.#designations.set(controller, designation)
    return designation
  }

  designation(controller: string): Designation | undefined {
    return this.#designations.get(controller)
  }

  isCurrent(controller: string, holder: string, term: number): boolean {
    const d = this.#designations.get(controller)
    return d !== undefined && d.holder === holder && d.term === term
  }

  slot(origin: string): number {
    return this.#slots.get(origin) ?? 0
  }

  /** A restarted node announces its new incarnation (the latest one wins). */
  announce(claim: SuccessorClaim): void {
    const known = this.#claims.get(claim.origin)
    if (known === undefined || known.incarnation < claim.incarnation) this.#claims.set(claim.origin, claim)
  }

  /** Claims whose origin's slot is still held by an older incarnation. */
  pendingClaims(): SuccessorClaim[] {
    return [...this.#claims.values()].filter((c) => this.slot(c.origin) < c.incarnation)
  }

  decisions(): readonly CloseDecision[] {
    return this.#decisions
  }

  /** Commits a close decision of the slot's incarnation, once; only from the current closer. */
  proposeClose(holder: string, decision: CloseDecision): ProposeOutcome {
    if (!this.isCurrent('closer', holder, decision.controllerTerm)) {
      this.staleProposals++
      return { kind: 'stale', currentTerm: this.#designations.get('closer')?.term ?? 0 }
    }
    const existing = this.#decisions.find((d) => d.origin === decision.origin && d.incarnation === decision.incarnation)
    if (existing !== undefined) return { kind: 'existing', decision: existing }
    const slot = this.slot(decision.origin)
    if (decision.incarnation !== slot || decision.successor === undefined) return { kind: 'not-slot', slot }
    this.#decisions.push(decision)
    this.#slots.set(decision.origin, decision.successor.incarnation)
    return { kind: 'committed', decision }
  }
}
