// Controller designations (founding note 001: "controller leadership designation is based on a
// monotonically increasing term per control group"; DESIGN §4.7: controller terms never go back).
import t from 'tap'
import type { ApplyResult } from '../../control-plane/cluster/index.js'
import { Harness, nodeCommand, threeNodeCluster } from './helpers.js'

const code = (r: ApplyResult): string => (r.ok ? r.outcome : r.code)
// A controller the state machine does not bind to a placement (psc/… and scc/… are: designations-placement.test.ts).
const scc = 'pcc/default/fulfil/us-east'

t.test('designate: created, repeated (unchanged), higher term moves it', async (t) => {
  const h = threeNodeCluster()
  const first = h.run({ type: 'designate', controller: scc, holder: 'n1', controllerTerm: 1 })
  t.equal(code(first.result), 'created')
  t.same(first.events.map((e) => e.subject), ['$RG.events.designation.changed'])
  t.same(first.events[0]?.payload, { controller: scc, holder: 'n1', previousHolder: null, controllerTerm: 1, reason: 'designate', index: h.index, timeMs: h.timeMs })
  t.equal(code(h.run({ type: 'designate', controller: scc, holder: 'n1', controllerTerm: 1 }).result), 'unchanged')
  t.equal(code(h.run({ type: 'designate', controller: scc, holder: 'n2', controllerTerm: 2 }).result), 'updated')
  t.same(h.state.designations.get(scc), { controller: scc, holder: 'n2', controllerTerm: 2, region: null, updatedIndex: h.index })
})

t.test('stale designations are rejected: lower term, or equal term for another holder', async (t) => {
  const h = threeNodeCluster()
  h.must({ type: 'designate', controller: scc, holder: 'n1', controllerTerm: 5 })
  for (const [holder, term] of [['n2', 5], ['n2', 4], ['n1', 4], ['n3', 1]] as const) {
    const result = h.run({ type: 'designate', controller: scc, holder, controllerTerm: term }).result
    t.equal(code(result), 'RG_ERR_STALE_TERM', `${holder}@${term}`)
    if (!result.ok) t.same({ currentTerm: result.details.currentTerm, currentHolder: result.details.currentHolder }, { currentTerm: 5, currentHolder: 'n1' })
  }
  t.equal(h.state.designations.get(scc)?.holder, 'n1')
  t.equal(h.state.designations.get(scc)?.controllerTerm, 5)
})

t.test('only active nodes can hold a designation', async (t) => {
  const h = threeNodeCluster()
  t.equal(code(h.run({ type: 'designate', controller: scc, holder: 'ghost', controllerTerm: 1 }).result), 'RG_ERR_NOT_FOUND')
  h.must({ type: 'drainNode', nodeId: 'n3' })
  t.equal(code(h.run({ type: 'designate', controller: scc, holder: 'n3', controllerTerm: 1 }).result), 'RG_ERR_INVALID_STATE')
})

t.test('redesignate picks another node deterministically with term + 1', async (t) => {
  const run = (): [string | null, number] => {
    const h = threeNodeCluster()
    h.must({ type: 'designate', controller: scc, holder: 'n1', controllerTerm: 3 })
    h.must({ type: 'redesignate', controller: scc })
    const d = h.state.designations.get(scc)
    return [d?.holder ?? null, d?.controllerTerm ?? 0]
  }
  const [holder, term] = run()
  t.not(holder, 'n1')
  t.equal(term, 4)
  t.same(run(), [holder, term], 'same history, same choice')
  const lonely = new Harness()
  lonely.must(nodeCommand('solo'))
  lonely.must({ type: 'designate', controller: scc, holder: 'solo', controllerTerm: 1 })
  t.equal(code(lonely.run({ type: 'redesignate', controller: scc }).result), 'RG_ERR_NO_ELIGIBLE_NODE')
  t.equal(code(lonely.run({ type: 'redesignate', controller: 'nope' }).result), 'RG_ERR_NOT_FOUND')
})

t.test('re-designation when the holder dies or drains; term grows each time', async (t) => {
  const h = threeNodeCluster()
  h.must({ type: 'designate', controller: 'txc', holder: 'n1', controllerTerm: 1 })
  h.must({ type: 'designate', controller: 'pcc', holder: 'n2', controllerTerm: 7 })
  const died = h.must({ type: 'markNodeDead', nodeId: 'n1' })
  const txc = h.state.designations.get('txc')
  t.not(txc?.holder, 'n1')
  t.equal(txc?.controllerTerm, 2)
  t.ok(died.events.some((e) => e.subject === '$RG.events.designation.changed' && e.payload.previousHolder === 'n1' && e.payload.reason === 'holder dead'))
  t.equal(h.state.designations.get('pcc')?.controllerTerm, 7, 'designations of other nodes are untouched')
  const newHolder = txc?.holder as string
  h.must({ type: 'drainNode', nodeId: newHolder })
  t.equal(h.state.designations.get('txc')?.controllerTerm, 3)
  t.notOk(['n1', newHolder].includes(h.state.designations.get('txc')?.holder as string))
})

t.test('with no eligible node a designation becomes vacant, and is filled when a node joins', async (t) => {
  const h = new Harness()
  h.must(nodeCommand('e1', 'eu'))
  h.must(nodeCommand('u1', 'us'))
  h.must({ type: 'designate', controller: 'scc/eu', holder: 'e1', controllerTerm: 1, region: 'eu' })
  t.equal(code(h.run({ type: 'designate', controller: 'scc/eu', holder: 'u1', controllerTerm: 2 }).result), 'RG_ERR_INVALID_ARGUMENT', 'region-scoped')
  h.must({ type: 'markNodeDead', nodeId: 'e1' })
  t.same([h.state.designations.get('scc/eu')?.holder, h.state.designations.get('scc/eu')?.controllerTerm], [null, 2], 'vacant, but the term still moved on')
  h.must(nodeCommand('e2', 'eu'))
  t.same([h.state.designations.get('scc/eu')?.holder, h.state.designations.get('scc/eu')?.controllerTerm], ['e2', 3])
})

t.test('a dead node that comes back does not get its designations back by itself', async (t) => {
  const h = threeNodeCluster()
  h.must({ type: 'designate', controller: 'txc', holder: 'n1', controllerTerm: 1 })
  h.must({ type: 'markNodeDead', nodeId: 'n1' })
  const after = h.state.designations.get('txc')
  const back = h.must(nodeCommand('n1', 'us-east', { zone: 'a' }))
  t.equal(back.result.ok ? back.result.outcome : 'error', 'updated')
  t.equal(h.state.nodes.get('n1')?.state, 'active')
  t.same(h.state.designations.get('txc'), after)
})
