// The origin's clock with a persisted ceiling ("clock ceiling" in the persistent README).
//
// Problem: a restarted node comes back as a new origin incarnation whose events must all sort
// after everything its previous life emitted (Orderer: the successor's `fromHlc` must be at or
// above what the predecessor emitted). The HLC itself is not persisted on every tick.
// Solution (a lease on time, as in CockroachDB's persisted max offset): the node persists a
// ceiling `C` (milliseconds) and never EMITS — stamps an event or a heartbeat — a timestamp with
// `wallMs > C` until that ceiling is durable. It raises the ceiling ahead of need (to the clock
// plus `leaseMs`), so in steady state no emission waits for the disk. After a crash the new
// incarnation starts its clock at `{wallMs: C, logical: max}` and claims `fromHlc` = that:
// everything the previous life emitted is at or below it, everything the new life emits is above.
// Receiving a remote timestamp may move the clock past the ceiling; that is fine (received
// timestamps are not emitted); the next emission then waits for a raise. A restarted life emits
// nothing until its physical clock has passed the ceiling (at most `leaseMs` after the crash).
import { hlcLogicalMax } from '../limits.js'
import { hlcNow, hlcReceive, hlcZero } from '../hlc.js'
import type { Hlc } from '../hlc.js'
import type { ClockSkewError, Outcome } from '../errors.js'

export class CeilingClock {
  #last: Hlc
  #durableMs: number
  /** The ceiling this clock wants durable. */
  #wantMs: number
  /** The highest ceiling handed to the driver to persist. */
  #issuedMs: number
  readonly #fromHlc: Hlc
  readonly leaseMs: number
  readonly maxSkewMs: number

  /** `ceilingMs`: the durable ceiling of the previous life (0 for a first start). */
  constructor(options: { ceilingMs: number; leaseMs: number; maxSkewMs: number }) {
    const { ceilingMs, leaseMs } = options
    if (!(Number.isInteger(ceilingMs) && ceilingMs >= 0)) throw new RangeError(`clock ceiling: ceilingMs must be an integer >= 0, got ${ceilingMs}`)
    if (!(Number.isInteger(leaseMs) && leaseMs >= 1)) throw new RangeError(`clock ceiling: leaseMs must be an integer >= 1, got ${leaseMs}`)
    this.#fromHlc = ceilingMs === 0 ? hlcZero : { wallMs: ceilingMs, logical: hlcLogicalMax }
    this.#last = this.#fromHlc
    this.#durableMs = ceilingMs
    this.#wantMs = ceilingMs
    this.#issuedMs = ceilingMs
    this.leaseMs = leaseMs
    this.maxSkewMs = options.maxSkewMs
  }

  /** Everything the previous lives emitted is at or below this; this life emits only above it. */
  get fromHlc(): Hlc {
    return this.#fromHlc
  }

  get last(): Hlc {
    return this.#last
  }

  get durableCeilingMs(): number {
    return this.#durableMs
  }

  receive(remote: Hlc, physicalMs: number): Outcome<Hlc, ClockSkewError> {
    const result = hlcReceive(this.#last, remote, physicalMs, this.maxSkewMs)
    if (result.ok) this.#last = result.value
    return result
  }

  /**
   * The next timestamp to emit, or null when the durable ceiling does not cover it yet (a raise
   * is then requested: `takeCeilingRequest`). Invariant: an emitted wallMs ≤ the durable ceiling.
   */
  emit(physicalMs: number): Hlc | null {
    // A restarted life waits until its physical clock passes the ceiling: starting at the
    // ceiling at once could run up to `leaseMs` ahead of real time, and peers would refuse the
    // timestamps as clock skew (hlc.ts).
    if (this.#fromHlc.wallMs > 0 && physicalMs <= this.#fromHlc.wallMs) return null
    const next = hlcNow(this.#last, physicalMs)
    if (next.wallMs + this.leaseMs / 2 > this.#wantMs) this.#wantMs = next.wallMs + this.leaseMs
    if (next.wallMs > this.#durableMs) return null
    this.#last = next
    return next
  }

  /** A higher ceiling for the driver to persist with the next batch, or null. */
  takeCeilingRequest(): number | null {
    if (this.#wantMs <= this.#issuedMs) return null
    this.#issuedMs = this.#wantMs
    return this.#wantMs
  }

  /** The driver synced a batch holding `ceilingMs`. */
  ceilingPersisted(ceilingMs: number): void {
    if (ceilingMs > this.#durableMs) this.#durableMs = ceilingMs
  }
}
