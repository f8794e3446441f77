// Determinism and snapshots: every replica that applies the same log reaches byte-identical
// state, whether it applied every entry or restored a snapshot half-way; the invariants hold
// after every step of random histories.
import fc from 'fast-check'
import t from 'tap'
import { apply, applyEntry, checkInvariants, deserialize, emptyState, encodeCommand, serialize } from '../../control-plane/cluster/index.js'
import type { ApplyResult, ClusterState, Command } from '../../control-plane/cluster/index.js'
import { commandSequenceArb, resolveCommand } from './arbitraries.js'
import { Harness, bytes, nodeCommand, streamCommand } from './helpers.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const meta = (i: number) => ({ index: i + 1, timeMs: 1_000 + i * 7 })

function applyAll(start: ClusterState, commands: readonly Command[], offset = 0): { state: ClusterState; results: ApplyResult[]; problems: string[] } {
  let state = start
  const results: ApplyResult[] = []
  for (const [i, raw] of commands.entries()) {
    const previous = state
    const command = resolveCommand(state, raw)
    const output = apply(state, command, meta(i + offset))
    state = output.state
    results.push(output.result)
    const problems = checkInvariants(state, previous)
    if (problems.length > 0) return { state, results, problems: [`after step ${i + offset} (${command.type}): ${problems.join('; ')}`] }
  }
  return { state, results, problems: [] }
}

t.test('property: invariants hold after every step of random command sequences', async (t) => {
  let okResults = 0
  let errorResults = 0
  fc.assert(
    fc.property(commandSequenceArb, (commands) => {
      const run = applyAll(emptyState(), commands)
      for (const r of run.results) {
        if (r.ok) okResults++
        else errorResults++
      }
      if (run.problems.length > 0) throw new Error(run.problems.join('\n'))
    }),
    { numRuns: 200, seed: 7 },
  )
  t.ok(okResults > 2000 && errorResults > 1000, `both accepted (${okResults}) and rejected (${errorResults}) commands exercised`)
})

t.test('property: the same sequence on two fresh states gives byte-identical snapshots and results', async (t) => {
  fc.assert(
    fc.property(commandSequenceArb, (commands) => {
      const a = applyAll(emptyState(), commands)
      const b = applyAll(emptyState(), commands)
      return hex(serialize(a.state)) === hex(serialize(b.state)) && JSON.stringify(a.results) === JSON.stringify(b.results)
    }),
    { numRuns: 150, seed: 11 },
  )
  t.pass('deterministic')
})

t.test('property: restoring a snapshot half-way and continuing equals applying everything', async (t) => {
  fc.assert(
    fc.property(commandSequenceArb, fc.nat(), (commands, cut) => {
      const split = cut % (commands.length + 1)
      const whole = applyAll(emptyState(), commands)
      const first = applyAll(emptyState(), commands.slice(0, split))
      const restored = deserialize(serialize(first.state))
      if (!restored.ok) throw new Error(restored.message)
      const rest = applyAll(restored.state, commands.slice(split), split)
      if (hex(serialize(whole.state)) !== hex(serialize(rest.state))) return false
      // Results after the cut agree too (a restored replica answers like the others).
      return JSON.stringify(whole.results.slice(split)) === JSON.stringify(rest.results)
    }),
    { numRuns: 150, seed: 13 },
  )
  t.pass('snapshot restore is transparent')
})

t.test('property: applying encoded entries (applyEntry, time stamped by the proposer) = applying the commands', async (t) => {
  fc.assert(
    fc.property(commandSequenceArb, (commands) => {
      const direct = applyAll(emptyState(), commands)
      let state = emptyState()
      for (const [i, raw] of commands.entries()) {
        const command = resolveCommand(state, raw)
        const output = applyEntry(state, { index: meta(i).index, data: encodeCommand(command, meta(i).timeMs) })
        if (JSON.stringify(output.result) !== JSON.stringify(direct.results[i])) return false
        state = output.state
      }
      return hex(serialize(direct.state)) === hex(serialize(state))
    }),
    { numRuns: 100, seed: 17 },
  )
  t.pass('codec is transparent')
})

t.test('snapshot round trip of a rich state, and rejection of corrupt snapshots', async (t) => {
  const h = new Harness()
  h.must(nodeCommand('n1', 'us-east', { zone: 'a' }))
  h.must(nodeCommand('n2', 'us-east', { zone: 'b' }))
  h.must(streamCommand({ replicasPerRegion: 2 }))
  h.must({ type: 'ensureBucket', name: 'flows', maxValueBytes: 16 })
  h.must({ type: 'kvPut', bucket: 'flows', key: 'k', value: bytes('\u0000\u00ff') })
  h.must({ type: 'designate', controller: 'txc', holder: 'n2', controllerTerm: 4 })
  h.must({ type: 'ensureRole', name: 'r', grants: [{ permission: 'read', region: '*', stream: '*' }] })
  h.must({ type: 'ensureUser', name: 'u', passwordHash: 'h', roles: ['r'] })
  h.must({ type: 'addToken', id: 't', hash: 'th', user: 'u', expiresAtMs: 5 })
  const snapshot = serialize(h.state)
  const restored = deserialize(snapshot)
  t.ok(restored.ok)
  if (!restored.ok) return
  t.same(restored.state, h.state, 'deep-equal state')
  t.equal(hex(serialize(restored.state)), hex(snapshot), 'same bytes again')
  const text = new TextDecoder().decode(snapshot)
  t.equal(deserialize(new TextEncoder().encode(text.slice(0, -3))).ok, false, 'truncated')
  const badRef = deserialize(new TextEncoder().encode(text.replace('"holder":"n2"', '"holder":"n9"')))
  t.equal(badRef.ok, false, 'breaks an invariant')
  if (!badRef.ok) t.match(badRef.message, 'invariants')
  const badShape = deserialize(new TextEncoder().encode(text.replace('"kvRevision":1', '"kvRevision":"1"')))
  t.equal(badShape.ok, false)
  if (!badShape.ok) t.match(badShape.message, 'kvRevision')
})

t.test('apply refuses to go back in the log (a driver bug)', async (t) => {
  const h = new Harness()
  h.must(nodeCommand('n1'))
  t.throws(() => apply(h.state, { type: 'drainNode', nodeId: 'n1' }, { index: h.index, timeMs: 0 }), /not after the last applied index/)
})
