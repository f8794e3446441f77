// Replica placement (placement.ts; founding note 004: "If the cluster master detects that all
// replicas of a partition are in the same AZ, then a new replica will be selected and data will
// be moved to the new replica").
import fc from 'fast-check'
import t from 'tap'
import { apply, chooseReplicas, emptyState, reconcile, targetMembers } from '../../control-plane/cluster/index.js'
import type { NodeRecord, RegionPlacement } from '../../control-plane/cluster/index.js'
import { commandSequenceArb, resolveCommand } from './arbitraries.js'
import { Harness, nodeCommand, streamCommand } from './helpers.js'

const placementOf = (h: Harness, stream = 'default/orders', region = 'us-east'): RegionPlacement | undefined => h.state.placements.get(stream)?.get(region)
const zoneOf = (h: Harness, id: string): string | undefined => h.state.nodes.get(id)?.tags.zone

t.test('replicas spread over distinct zones when they can', async (t) => {
  const h = new Harness()
  for (const [id, zone] of [['n1', 'a'], ['n2', 'a'], ['n3', 'a'], ['n4', 'b'], ['n5', 'c']] as const) h.must(nodeCommand(id, 'us-east', { zone }))
  for (let i = 0; i < 10; i++) {
    h.must(streamCommand({ name: `s${i}` }))
    const placed = placementOf(h, `default/s${i}`)
    t.equal(placed?.replicas.length, 3)
    t.same(new Set(placed?.replicas.map((id) => zoneOf(h, id))), new Set(['a', 'b', 'c']), `s${i} covers zones a, b, c`)
    t.equal(placed?.underReplicated, false)
  }
})

t.test('placement is deterministic and independent of join order', async (t) => {
  const build = (order: string[]): Harness => {
    const h = new Harness()
    for (const id of order) h.must(nodeCommand(id, 'us-east', { zone: `z${Number(id.slice(1)) % 3}` }))
    for (let i = 0; i < 20; i++) h.must(streamCommand({ name: `s${i}`, replicasPerRegion: 2 }))
    return h
  }
  const ids = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7']
  const a = build(ids)
  const b = build(ids)
  const c = build([...ids].reverse())
  for (let i = 0; i < 20; i++) {
    const key = `default/s${i}`
    t.same(placementOf(a, key), placementOf(b, key), `${key}: same input, same output`)
    t.same(placementOf(a, key), placementOf(c, key), `${key}: join order does not matter`)
  }
})

t.test('least-loaded preference balances replicas across nodes', async (t) => {
  const h = new Harness()
  for (const id of ['n1', 'n2', 'n3', 'n4', 'n5', 'n6']) h.must(nodeCommand(id))
  for (let i = 0; i < 60; i++) h.must(streamCommand({ name: `s${i}`, replicasPerRegion: 2 }))
  const load = new Map<string, number>()
  for (const placement of h.state.placements.values()) for (const id of placement.get('us-east')?.replicas ?? []) load.set(id, (load.get(id) ?? 0) + 1)
  t.same([...load.values()].sort(), [20, 20, 20, 20, 20, 20], '120 replicas over 6 nodes: 20 each')
})

t.test('fewer nodes than replicas: place on what exists and report underReplicated', async (t) => {
  const h = new Harness()
  h.must(nodeCommand('n1', 'us-east', { zone: 'a' }))
  h.must(nodeCommand('n2', 'us-east', { zone: 'b' }))
  const created = h.must(streamCommand({ replicasPerRegion: 3 }))
  t.same(placementOf(h), { replicas: ['n1', 'n2'], pending: [], retiring: [], underReplicated: true })
  t.same(created.result.ok ? created.result.details.placement : null, { 'us-east': { replicas: ['n1', 'n2'], pending: [], retiring: [], underReplicated: true } })
  const joined = h.must(nodeCommand('n3', 'us-east', { zone: 'c' }))
  t.same(placementOf(h), { replicas: ['n1', 'n2'], pending: ['n3'], retiring: [], underReplicated: false }, 'the newcomer catches up first')
  t.ok(joined.events.some((e) => e.subject === '$RG.events.placement.changed'), 'the join publishes the placement change')
  h.must({ type: 'replicaCaughtUp', namespace: 'default', stream: 'orders', region: 'us-east', nodeId: 'n3' })
  t.same(placementOf(h), { replicas: ['n1', 'n2', 'n3'], pending: [], retiring: [], underReplicated: false })
})

t.test('a region with no nodes gets an empty, under-replicated placement', async (t) => {
  const h = new Harness()
  h.must({ type: 'ensureRegion', name: 'eu' })
  h.must(streamCommand({ regions: ['eu'] }))
  t.same(placementOf(h, 'default/orders', 'eu'), { replicas: [], pending: [], retiring: [], underReplicated: true })
})

t.test('rebalance after a join that makes zone spread possible: add before drop', async (t) => {
  const h = new Harness()
  h.must(nodeCommand('n1', 'us-east', { zone: 'a' }))
  h.must(nodeCommand('n2', 'us-east', { zone: 'a' }))
  h.must(streamCommand({ replicasPerRegion: 2 }))
  t.same(placementOf(h)?.replicas, ['n1', 'n2'])
  h.must(nodeCommand('n3', 'us-east', { zone: 'b' }))
  const moving = placementOf(h)
  t.same(moving?.pending, ['n3'], 'the new zone is added as a pending replica')
  t.equal(moving?.retiring.length, 1, 'one same-zone replica is retiring')
  t.same(moving?.replicas, ['n1', 'n2'], 'but nothing is dropped before the newcomer caught up')
  const retiring = moving?.retiring[0] as string
  h.must({ type: 'replicaCaughtUp', namespace: 'default', stream: 'orders', region: 'us-east', nodeId: 'n3' })
  const settled = placementOf(h)
  t.same(settled?.pending, [])
  t.same(settled?.retiring, [])
  t.equal(settled?.replicas.length, 2)
  t.notOk(settled?.replicas.includes(retiring), 'the retiring replica left once the new one caught up')
  t.same(new Set(settled?.replicas.map((id) => zoneOf(h, id))), new Set(['a', 'b']))
  // Nothing else to improve: another same-zone join does not move anything.
  h.must(nodeCommand('n4', 'us-east', { zone: 'a' }))
  t.same(placementOf(h), settled, 'no churn without a spread improvement')
  const again = h.run({ type: 'replicaCaughtUp', namespace: 'default', stream: 'orders', region: 'us-east', nodeId: 'n3' })
  t.equal(again.result.ok ? again.result.outcome : 'error', 'unchanged')
})

t.test('a dead replica is replaced; it leaves the set once the replacement caught up', async (t) => {
  const h = new Harness()
  for (const id of ['n1', 'n2', 'n3', 'n4']) h.must(nodeCommand(id))
  h.must(streamCommand({ replicasPerRegion: 3 }))
  const before = placementOf(h)?.replicas ?? []
  const spare = ['n1', 'n2', 'n3', 'n4'].find((id) => !before.includes(id)) as string
  const victim = before[0] as string
  h.must({ type: 'markNodeDead', nodeId: victim })
  t.same(placementOf(h)?.pending, [spare])
  t.same(placementOf(h)?.retiring, [victim])
  h.must({ type: 'replicaCaughtUp', namespace: 'default', stream: 'orders', region: 'us-east', nodeId: spare })
  t.same(placementOf(h)?.replicas, [...before.slice(1), spare].sort())
  t.same(placementOf(h)?.retiring, [])
})

t.test('changing replicasPerRegion and regions re-places the stream', async (t) => {
  const h = new Harness()
  for (const id of ['n1', 'n2', 'n3']) h.must(nodeCommand(id))
  h.must(nodeCommand('e1', 'eu'))
  h.must(streamCommand({ replicasPerRegion: 3 }))
  h.must(streamCommand({ replicasPerRegion: 2, regions: ['us-east', 'eu'], update: true }))
  t.equal(placementOf(h)?.replicas.length, 2, 'shrinking drops a replica at once (nothing to catch up)')
  t.same(placementOf(h, 'default/orders', 'eu'), { replicas: ['e1'], pending: [], retiring: [], underReplicated: true })
  h.must(streamCommand({ replicasPerRegion: 2, regions: ['eu'], update: true }))
  t.notOk(h.state.placements.get('default/orders')?.has('us-east'), 'leaving a region drops its replica set')
})

t.test('chooseReplicas: pure choice, current members kept unless spread improves', async (t) => {
  const node = (id: string, zone: string): NodeRecord => ({
    id, clientAddress: 'c', peerAddress: 'p', adminAddress: 'a', region: 'r', masterEligible: true, tags: { zone }, state: 'active', removingLosesData: false, joinedIndex: 1,
  })
  const candidates = [node('a1', 'a'), node('a2', 'a'), node('b1', 'b')]
  const input = { candidates, count: 2, streamKey: 's', load: new Map<string, number>(), keep: new Set<string>() }
  t.same(chooseReplicas(input), chooseReplicas({ ...input, candidates: [...candidates].reverse() }))
  t.ok(chooseReplicas(input).includes('b1'))
  t.same(chooseReplicas({ ...input, candidates: candidates.slice(0, 2), keep: new Set(['a2']) }).length, 2)
  t.same(chooseReplicas({ ...input, count: 1, keep: new Set(['a2']) }), ['a2'], 'a current member is kept')
  t.same(chooseReplicas({ ...input, count: 1, load: new Map([['a1', 5], ['a2', 5]]) }), ['b1'], 'least loaded wins')
})

t.test('reconcile never drops the last holders when no target node holds the data', async (t) => {
  const current: RegionPlacement = { replicas: ['d1'], pending: [], retiring: [], underReplicated: false }
  t.same(reconcile(current, [], 1), { replicas: ['d1'], pending: [], retiring: ['d1'], underReplicated: true })
  t.same(reconcile(current, ['n2'], 1), { replicas: ['d1'], pending: ['n2'], retiring: ['d1'], underReplicated: false })
  const next = reconcile(current, ['n2'], 1)
  t.same(reconcile(next, ['n2'], 1), next, 'idempotent')
})

t.test('a sole holder that died and came back is reused rather than replaced', async (t) => {
  const h = new Harness()
  h.must(nodeCommand('n1'))
  h.must(streamCommand({ replicasPerRegion: 1 }))
  h.must({ type: 'markNodeDead', nodeId: 'n1' })
  t.same(placementOf(h), { replicas: ['n1'], pending: [], retiring: ['n1'], underReplicated: true }, 'the dead holder is kept: the data lives nowhere else')
  t.equal(h.state.nodes.get('n1')?.removingLosesData, true)
  h.must(nodeCommand('n2'))
  h.must(nodeCommand('n1'))
  t.same(placementOf(h), { replicas: ['n1'], pending: [], retiring: [], underReplicated: false }, 'n1 holds the data: it is chosen again, n2 dropped from pending')
})

t.test('property: after every step, each target set is as large and as zone-spread as the active nodes allow', async (t) => {
  let checked = 0
  fc.assert(
    fc.property(commandSequenceArb, (commands) => {
      let state = emptyState()
      for (const [i, raw] of commands.entries()) {
        state = apply(state, resolveCommand(state, raw), { index: i + 1, timeMs: i }).state
        for (const [key, placement] of state.placements) {
          const wanted = state.streams.get(key)?.spec.replicasPerRegion ?? 0
          for (const [region, placed] of placement) {
            const active = [...state.nodes.values()].filter((n) => n.region === region && n.state === 'active')
            const target = targetMembers(placed)
            const zones = (ids: readonly string[]): number => new Set(ids.map((id) => state.nodes.get(id)?.tags.zone ?? '')).size
            if (target.length !== Math.min(wanted, active.length)) return false
            if (zones(target) !== Math.min(target.length, zones(active.map((n) => n.id)))) return false
            if (placed.underReplicated !== target.length < wanted) return false
            checked++
          }
        }
      }
      return true
    }),
    { numRuns: 100, seed: 23 },
  )
  t.ok(checked > 1000, `${checked} replica sets checked`)
})
