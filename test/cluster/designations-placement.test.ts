// Placement-bound controller designations: the stream controller `psc/<ns>/<stream>/<region>`
// and each consumer group's controller `scc/<ns>/<stream>/<group>/<region>` are held by a
// replica of that placement, move with term + 1 when the holder dies, drains or leaves the
// placement (DESIGN §4.7: terms never go back), are vacant only when no replica can hold them,
// and go with their placement or group — a re-created stream starts above every old term, so a
// stale holder of its previous life is fenced.
import fc from 'fast-check'
import t from 'tap'
import { apply, groupControllerName, parsePlacementController, streamControllerName } from '../../control-plane/cluster/index.js'
import type { ApplyResult, ClusterState, Command } from '../../control-plane/cluster/index.js'
import { commandSequenceArb, resolveCommand } from './arbitraries.js'
import { Harness, groupCommand, nodeCommand, streamCommand } from './helpers.js'

const code = (r: ApplyResult): string => (r.ok ? r.outcome : r.code)
const psc = streamControllerName('default', 'orders', 'us-east')
const scc = groupControllerName('default', 'orders', 'billing', 'us-east')
const members = (h: Harness, region = 'us-east'): string[] => {
  const placed = h.state.placements.get('default/orders')?.get(region)
  return [...(placed?.replicas ?? []), ...(placed?.pending ?? [])]
}

function region(nodes: number, regionName = 'us-east'): Harness {
  const h = new Harness()
  for (let i = 1; i <= nodes; i++) h.must(nodeCommand(`n${i}`, regionName, { zone: `z${i}` }))
  return h
}

t.test('names: psc/<ns>/<stream>/<region> and scc/<ns>/<stream>/<group>/<region>, parsed back', async (t) => {
  t.equal(psc, 'psc/default/orders/us-east')
  t.equal(scc, 'scc/default/orders/billing/us-east')
  t.same(parsePlacementController(psc), { kind: 'stream', streamKey: 'default/orders', region: 'us-east' })
  t.same(parsePlacementController(scc), { kind: 'group', streamKey: 'default/orders', region: 'us-east', group: 'billing' })
  for (const other of ['txc', 'psc/a/b', 'scc/a/b/c', 'pcc/default/fulfil/us-east', 'psc/a/b/c/d/e']) t.equal(parsePlacementController(other), undefined, other)
})

t.test('placing a persistent stream designates its stream controller per region, held by a replica, term = entry index', async (t) => {
  const h = new Harness()
  for (const id of ['e1', 'e2', 'e3']) h.must(nodeCommand(id, 'eu'))
  for (const id of ['u1', 'u2', 'u3']) h.must(nodeCommand(id, 'us-east'))
  const created = h.must(streamCommand({ regions: ['eu', 'us-east'], replicasPerRegion: 2 }))
  for (const r of ['eu', 'us-east']) {
    const d = h.state.designations.get(streamControllerName('default', 'orders', r))
    t.ok(d !== undefined, `psc in ${r}`)
    t.ok(members(h, r).includes(d?.holder as string), `held by a replica of ${r}`)
    t.equal(d?.region, r)
    t.equal(d?.controllerTerm, h.index, 'starts at the index of the entry that placed it')
  }
  t.same(
    created.events.filter((e) => e.subject === '$RG.events.designation.changed').map((e) => [e.payload.controller, e.payload.reason, e.payload.previousHolder]),
    [
      ['psc/default/orders/eu', 'placed', null],
      ['psc/default/orders/us-east', 'placed', null],
      // A stream in two regions also gets a shipper per direction (designations-ship.test.ts).
      ['ship/default/orders/eu/us-east', 'placed', null],
      ['ship/default/orders/us-east/eu', 'placed', null],
    ],
  )
  h.must(streamCommand({ name: 'ticks', kind: 'ephemeral', regions: ['eu'] }))
  t.notOk([...h.state.designations.keys()].some((c) => c.includes('/ticks/')), 'ephemeral streams get none')
  t.equal(code(h.run(streamCommand({ regions: ['eu', 'us-east'], replicasPerRegion: 2 })).result), 'unchanged')
})

t.test('a consumer group gets one controller per region; controllers spread over the replicas (fewest held first)', async (t) => {
  const h = region(3)
  h.must(streamCommand({ replicasPerRegion: 3 }))
  h.must(groupCommand({ name: 'billing' }))
  h.must(groupCommand({ name: 'audit' }))
  const holders = [psc, scc, groupControllerName('default', 'orders', 'audit', 'us-east')].map((c) => h.state.designations.get(c)?.holder)
  t.same(new Set(holders), new Set(['n1', 'n2', 'n3']), 'three controllers on three replicas')
  const removed = h.must({ type: 'removeConsumerGroup', namespace: 'default', stream: 'orders', name: 'audit' })
  t.notOk(h.state.designations.has(groupControllerName('default', 'orders', 'audit', 'us-east')), 'goes with its group')
  t.match(removed.events.find((e) => e.subject === '$RG.events.designation.changed')?.payload, { controller: 'scc/default/orders/audit/us-east', holder: null, reason: 'removed' })
})

t.test('holder dead, drained, or out of the placement → another replica with term + 1', async (t) => {
  const h = region(5)
  h.must(streamCommand({ replicasPerRegion: 3 }))
  const start = h.state.designations.get(psc)
  const first = start?.holder as string
  const died = h.must({ type: 'markNodeDead', nodeId: first })
  let d = h.state.designations.get(psc)
  t.not(d?.holder, first)
  t.ok(members(h).includes(d?.holder as string), 'still a member of the placement')
  t.equal(d?.controllerTerm, (start?.controllerTerm as number) + 1)
  t.match(died.events.find((e) => e.subject === '$RG.events.designation.changed')?.payload, { controller: psc, previousHolder: first, reason: 'holder dead' })

  const second = d?.holder as string
  h.must({ type: 'drainNode', nodeId: second })
  d = h.state.designations.get(psc)
  t.notOk([first, second].includes(d?.holder as string))
  t.equal(d?.controllerTerm, (start?.controllerTerm as number) + 2)

  // Catch-up of the replacements drops the retiring (dead, draining) holders; the holder stays put.
  for (const id of h.state.placements.get('default/orders')?.get('us-east')?.pending ?? []) h.must({ type: 'replicaCaughtUp', namespace: 'default', stream: 'orders', region: 'us-east', nodeId: id })
  t.equal(h.state.designations.get(psc)?.controllerTerm, (start?.controllerTerm as number) + 2, 'no churn while the holder stays eligible')
})

t.test('a holder that leaves the placement while alive (stream shrinks) hands over', async (t) => {
  const h = region(3)
  h.must(streamCommand({ replicasPerRegion: 3 }))
  // Move the controller until its holder is one the shrink drops.
  const shrunk = region(3)
  shrunk.must(streamCommand({ replicasPerRegion: 1 }))
  const kept = shrunk.state.placements.get('default/orders')?.get('us-east')?.replicas[0]
  for (let moves = 0; h.state.designations.get(psc)?.holder === kept; moves++) {
    if (moves > 3) throw new Error('redesignate kept the same holder')
    h.must({ type: 'redesignate', controller: psc })
  }
  const before = h.state.designations.get(psc)
  const out = h.must(streamCommand({ replicasPerRegion: 1, update: true }))
  t.same(h.state.placements.get('default/orders')?.get('us-east')?.replicas, [kept])
  const after = h.state.designations.get(psc)
  t.equal(after?.holder, kept)
  t.equal(after?.controllerTerm, (before?.controllerTerm as number) + 1)
  t.match(out.events.find((e) => e.subject === '$RG.events.designation.changed')?.payload, { reason: 'holder left the placement', previousHolder: before?.holder })
})

t.test('no eligible replica → vacant (term + 1); filled (term + 1) when a replica is back', async (t) => {
  const h = region(1)
  h.must(streamCommand({ replicasPerRegion: 1 }))
  h.must(groupCommand())
  const term = h.state.designations.get(psc)?.controllerTerm as number
  h.must({ type: 'markNodeDead', nodeId: 'n1' })
  t.same([h.state.designations.get(psc)?.holder, h.state.designations.get(psc)?.controllerTerm], [null, term + 1])
  t.equal(h.state.designations.get(scc)?.holder, null)
  h.must(nodeCommand('n2', 'us-east', { zone: 'z2' }))
  // n2 is pending (n1, dead, still holds the only copy): a pending member may hold it.
  t.same(h.state.placements.get('default/orders')?.get('us-east')?.pending, ['n2'])
  t.same([h.state.designations.get(psc)?.holder, h.state.designations.get(psc)?.controllerTerm], ['n2', term + 2])
  // n1 rejoins: the data holder is preferred, n2 (still catching up) leaves the target, and the
  // designation follows the placement.
  h.must(nodeCommand('n1', 'us-east', { zone: 'z1' }))
  t.same(h.state.placements.get('default/orders')?.get('us-east'), { replicas: ['n1'], pending: [], retiring: [], underReplicated: false })
  t.same([h.state.designations.get(psc)?.holder, h.state.designations.get(psc)?.controllerTerm], ['n1', term + 3])
})

t.test('designate cannot set a placement-bound controller; redesignate moves it within the placement', async (t) => {
  const h = region(4)
  h.must(streamCommand({ replicasPerRegion: 2 }))
  const d = h.state.designations.get(psc)
  const outsider = ['n1', 'n2', 'n3', 'n4'].find((id) => !members(h).includes(id)) as string
  const refused = h.run({ type: 'designate', controller: psc, holder: d?.holder as string, controllerTerm: (d?.controllerTerm as number) + 5 }).result
  t.equal(code(refused), 'RG_ERR_INVALID_ARGUMENT')
  h.must({ type: 'redesignate', controller: psc })
  const moved = h.state.designations.get(psc)
  t.not(moved?.holder, d?.holder)
  t.not(moved?.holder, outsider, 'never outside the placement')
  t.equal(moved?.controllerTerm, (d?.controllerTerm as number) + 1)
  const single = region(2)
  single.must(streamCommand({ replicasPerRegion: 1 }))
  t.equal(code(single.run({ type: 'redesignate', controller: psc }).result), 'RG_ERR_NO_ELIGIBLE_NODE')
})

t.test('a re-created stream starts above every term of its previous life (stale holders fenced)', async (t) => {
  const h = region(3)
  h.must(streamCommand({ replicasPerRegion: 3 }))
  h.must(groupCommand())
  for (let i = 0; i < 6; i++) h.must({ type: 'redesignate', controller: psc })
  const old = h.state.designations.get(psc)?.controllerTerm as number
  const oldScc = h.state.designations.get(scc)?.controllerTerm as number
  t.equal(code(h.run({ type: 'removeStream', namespace: 'default', name: 'orders' }).result), 'RG_ERR_IN_USE', 'the group holds it')
  h.must({ type: 'removeConsumerGroup', namespace: 'default', stream: 'orders', name: 'billing' })
  h.must({ type: 'removeStream', namespace: 'default', name: 'orders' })
  t.notOk(h.state.designations.has(psc), 'gone with the stream')
  h.must(streamCommand({ replicasPerRegion: 3 }))
  h.must(groupCommand())
  t.ok((h.state.designations.get(psc)?.controllerTerm as number) > old, 'psc term above the old life')
  t.ok((h.state.designations.get(scc)?.controllerTerm as number) > oldScc, 'scc term above the old life')
})

t.test('random histories: terms of a name never go back, even across removal and re-creation', async (t) => {
  const extra = fc.array(fc.tuple(fc.nat(40), fc.constantFrom('psc/default/s1/r1', 'psc/ns1/s2/r2', 'scc/default/s1/g/r1', 'scc/default/s3/g/r2')), { maxLength: 10 })
  fc.assert(
    fc.property(commandSequenceArb, extra, (commands, redesignations) => {
      const h = new Harness()
      const highest = new Map<string, number>()
      const moves = new Map<number, string[]>()
      for (const [at, controller] of redesignations) moves.set(at, [...(moves.get(at) ?? []), controller])
      const check = (state: ClusterState): void => {
        for (const [controller, d] of state.designations) {
          if (parsePlacementController(controller) === undefined) continue
          const seen = highest.get(controller)
          if (seen !== undefined && d.controllerTerm < seen) throw new Error(`${controller}: term ${d.controllerTerm} below ${seen} seen before`)
          highest.set(controller, d.controllerTerm)
        }
      }
      commands.forEach((command, i) => {
        h.run(resolveCommand(h.state, command)) // the harness checks every invariant after each step
        check(h.state)
        for (const controller of moves.get(i) ?? []) {
          const redesignate: Command = { type: 'redesignate', controller }
          h.run(redesignate)
          check(h.state)
        }
      })
    }),
    { numRuns: 150 },
  )
  t.pass('no term went back')
})

t.test('apply is pure for designations: the same history twice gives the same designations', async (t) => {
  const history: Command[] = [nodeCommand('n1'), nodeCommand('n2'), nodeCommand('n3'), streamCommand({ replicasPerRegion: 2 }), groupCommand(), { type: 'markNodeDead', nodeId: 'n1' }]
  const run = (): ClusterState => history.reduce((state, command, i) => apply(state, command, { index: i + 1, timeMs: 1 }).state, new Harness().state)
  t.same([...run().designations.entries()], [...run().designations.entries()])
})
