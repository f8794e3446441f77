// Property test of the group controller with a checker (DESIGN §4.4, §4.7): random histories of
// members joining, acking, nacking (at once or delayed), extending, terminating, stalling (missed
// heartbeats), crashing (gone), leaving, anonymous FETCHes, dead-letter moves that fail and are
// retried, progress replicated to two replicas at random moments, and controller failovers that
// restore from a random subset of the replicas while the old controller keeps running (stale)
// until it is fenced. Then a drain phase where members ack everything.
//
// The checker asserts, on every step and at the end:
//  - at-least-once: every index below the stream's end reached a member and was acked (an ack
//    some controller accepted) or dead-lettered (a confirmed move); the final controller's
//    progress is empty with its head at the end;
//  - one holder at a time: a controller never sends an index while another delivery of it is
//    live (not acked/nacked, holder not gone, ack wait not passed);
//  - Rg-Deliveries never exceeds maxDeliveries; a FETCH inbox gets nothing after its 204;
//  - fencing: a stale controller's state never lands on a replica that saw a newer term, and a
//    fenced controller refuses every input with RG_ERR_STALE_TERM.
// A failure prints fast-check's seed and path; replay with { seed, path }.
import fc from 'fast-check'
import t from 'tap'
import { configArb, opArb, simulate } from './controller-sim.js'
import type { SimStats } from './controller-sim.js'

const historyArb = fc.tuple(fc.array(opArb, { minLength: 20, maxLength: 200 }), configArb, fc.integer({ min: 1, max: 40 }))

t.test('property: at-least-once, one holder at a time, bounded deliveries, fencing — under crashes, stalls and failovers', async (t) => {
  const runs = Number(process.env['RG_CONSUMER_PROPERTY_RUNS'] ?? 300)
  const stats: SimStats = { deliveries: 0, redeliveries: 0, failovers: 0, deadLetters: 0, staleRefusals: 0 }
  fc.assert(
    fc.property(historyArb, ([ops, overrides, total]) => {
      simulate(ops, overrides, total, {}, stats)
    }),
    { numRuns: runs },
  )
  // The histories must exercise what the checker is about.
  t.ok(stats.redeliveries > 0 && stats.failovers > 0 && stats.deadLetters > 0 && stats.staleRefusals > 0, `exercised: ${JSON.stringify(stats)}`)
})

t.test('the checker fails a controller that forgets outstanding messages at failover, or a driver that acks a nack', async (t) => {
  for (const sabotage of [{ loseOutstandingAtFailover: true }, { nackAsAck: true }] as const) {
    const result = fc.check(
      fc.property(historyArb, ([ops, overrides, total]) => {
        simulate(ops, overrides, total, sabotage)
      }),
      { numRuns: 300 },
    )
    t.ok(result.failed, `${JSON.stringify(sabotage)} is caught: ${result.failed ? String((result.errorInstance as Error).message) : 'not caught'}`)
  }
})
