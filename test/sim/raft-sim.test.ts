import t from 'tap'
import { runRaftSimulation } from './raft-cluster.js'
import type { RaftSimResult } from './raft-cluster.js'
import { SimViolation } from './raft-invariants.js'

/** Run one seed; a broken invariant fails the test with the seed's reproduction line. */
function run(seed: number, nodes: number, membershipChanges: boolean): RaftSimResult | string {
  try {
    return runRaftSimulation({ seed, nodes, membershipChanges })
  } catch (error) {
    if (error instanceof SimViolation) return error.message
    throw error
  }
}

t.test('Raft safety and KV linearizability hold across seeds (3 and 5 nodes, faults on)', async (t) => {
  const plans = [
    { nodes: 3, first: 1, count: 200, membership: false },
    { nodes: 5, first: 1_001, count: 40, membership: false },
    { nodes: 3, first: 2_001, count: 60, membership: true },
  ]
  for (const { nodes, first, count, membership } of plans) {
    const failures: string[] = []
    let unchecked = 0
    const notConverged: number[] = []
    let operationsOk = 0
    let committed = 0
    for (let seed = first; seed < first + count; seed++) {
      const result = run(seed, nodes, membership)
      if (typeof result === 'string') {
        failures.push(result)
        continue
      }
      if (!result.stats.converged) notConverged.push(seed)
      operationsOk += result.stats.operationsOk
      committed += result.stats.committedEntries
      if (result.linearizability.result === 'illegal') {
        failures.push(`seed ${seed} (${nodes} nodes): not linearizable\n${result.linearizability.explanation}`)
      } else if (result.linearizability.result === 'unknown') {
        unchecked++
      }
    }
    t.same(failures, [], `${count} seeds, ${nodes} nodes${membership ? ', membership changes' : ''}: no violations`)
    t.equal(unchecked, 0, 'every history was fully checked')
    // Liveness after the heal: one leader, every voter applied up to its commit.
    t.same(notConverged, [], 'every run converged after the network healed')
    // The run must have done real work, or "no violations" means nothing.
    t.ok(operationsOk > count * 50, `clients completed ${operationsOk} operations`)
    t.ok(committed > count * 30, `${committed} entries committed`)
  }
})

t.test('determinism: the same seed gives the same trace, another seed a different one', async (t) => {
  const first = runRaftSimulation({ seed: 4242, nodes: 5, keepTrace: true })
  const second = runRaftSimulation({ seed: 4242, nodes: 5, keepTrace: true })
  t.equal(first.traceHash, second.traceHash)
  t.same(first.traceLines, second.traceLines, 'identical traces, line for line')
  t.same(first.history, second.history)
  t.ok(first.traceEvents > 1_000, `a busy trace (${first.traceEvents} events)`)
  t.not(runRaftSimulation({ seed: 4243, nodes: 5 }).traceHash, first.traceHash)
})

t.test('without faults the cluster serves nearly every request', async (t) => {
  const result = runRaftSimulation({ seed: 7, faults: false })
  t.equal(result.linearizability.result, 'ok')
  t.ok(result.stats.operationsOk > 200, `${result.stats.operationsOk} operations completed`)
  // The network still drops 1% of messages: a lost request or reply is a timeout.
  const timedOut = result.stats.operationsUnknown
  t.ok(timedOut <= result.stats.operationsOk * 0.06, `${timedOut} timed out (lost messages, the first election)`)
  t.equal(result.stats.leaderTerms, 1, 'one election, no churn')
})

t.test('bug injection: follower reads without ReadIndex are caught by the checker', async (t) => {
  // With the bug on, some seed must produce a history the checker rejects: this fails if the
  // checker accepted everything. With it off, the same seeds pass: this fails if it rejected
  // everything.
  const seeds = Array.from({ length: 20 }, (_, i) => 500 + i)
  const rejected: number[] = []
  for (const seed of seeds) {
    const result = runRaftSimulation({ seed, bugs: { followerStaleReads: true } })
    if (result.linearizability.result === 'illegal') {
      rejected.push(seed)
      t.match(result.linearizability.explanation, /cannot place: .*get\(/, `seed ${seed}: the unplaceable operation is a read`)
    }
  }
  t.ok(rejected.length > 0, `stale reads detected for seeds ${rejected.join(', ')}`)
  for (const seed of seeds) {
    const result = runRaftSimulation({ seed })
    t.equal(result.linearizability.result, 'ok', `seed ${seed} without the bug is linearizable`)
  }
})

t.test('bug injection: sending before fsync is caught by the Raft invariants', async (t) => {
  // Acknowledging entries before they are durable lets a crash lose committed entries. The
  // simulator's own invariants (not only the core's assertions) must notice within some seeds.
  const ours = /persist before send|committed entries are durable|state machine safety|leader completeness|log matching/
  let caught: SimViolation | null = null
  let coreAssertions = 0
  for (let seed = 1; seed <= 150 && caught === null; seed++) {
    try {
      runRaftSimulation({ seed, bugs: { sendBeforeSync: true } })
    } catch (error) {
      if (!(error instanceof SimViolation)) throw error
      t.match(error.message, new RegExp(`npm run sim -- --seed ${seed}`), 'the violation names its reproduction')
      if (ours.test(error.invariant)) caught = error
      else coreAssertions++
    }
  }
  t.ok(caught !== null, `caught by an invariant: ${caught?.message ?? 'nothing'}`)
  t.comment(`the core's own assertions stopped ${coreAssertions} other run(s) first`)
})
