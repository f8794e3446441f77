// System events (events.ts): documented subjects only, payloads carry index and time, and
// secrets (password and token hashes) never leave the state machine.
import fc from 'fast-check'
import t from 'tap'
import { apply, emptyState } from '../../control-plane/cluster/index.js'
import type { ClusterEvent } from '../../control-plane/cluster/index.js'
import { commandSequenceArb, resolveCommand } from './arbitraries.js'
import { Harness, nodeCommand, streamCommand } from './helpers.js'

const subjectGrammar = [
  /^\$RG\.events\.(namespace|region|stream|group|pipeline|user|token|role|bucket)\.(created|updated|removed)$/,
  /^\$RG\.events\.node\.(joined|draining|dead|left|updated)$/,
  /^\$RG\.events\.designation\.changed$/,
  /^\$RG\.events\.placement\.changed$/,
  /^\$RG\.events\.kv\.[A-Za-z0-9_-]+\.(put|deleted)$/,
]

t.test('property: every event has a documented subject, index and time; no secrets anywhere', async (t) => {
  let events = 0
  fc.assert(
    fc.property(commandSequenceArb, (commands) => {
      let state = emptyState()
      for (const [i, raw] of commands.entries()) {
        const meta = { index: i + 1, timeMs: 5_000 + i }
        const output = apply(state, resolveCommand(state, raw), meta)
        state = output.state
        const published = JSON.stringify([output.events, output.result])
        if (published.includes('pwhash') || published.includes('tokhash')) return false
        for (const event of output.events as ClusterEvent[]) {
          events++
          if (!subjectGrammar.some((re) => re.test(event.subject))) return false
          if (event.payload.index !== meta.index || event.payload.timeMs !== meta.timeMs) return false
        }
        if (!output.result.ok && output.events.length > 0) return false
      }
      return true
    }),
    { numRuns: 150, seed: 19 },
  )
  t.ok(events > 1000, `${events} events checked`)
})

t.test('creating a stream publishes the object and its placement', async (t) => {
  const h = new Harness()
  h.must(nodeCommand('n1'))
  const created = h.must(streamCommand({ replicasPerRegion: 1 }))
  t.same(created.events.map((e) => e.subject), ['$RG.events.stream.created', '$RG.events.placement.changed', '$RG.events.designation.changed'])
  t.match(created.events[0]?.payload, { kind: 'stream', action: 'created', id: { namespace: 'default', name: 'orders' }, object: { replicasPerRegion: 1, kind: 'persistent' } })
  t.same(created.events[1]?.payload, { stream: 'default/orders', region: 'us-east', replicas: ['n1'], pending: [], retiring: [], underReplicated: false, index: h.index, timeMs: h.timeMs })
})
