// Shipper designations `ship/<ns>/<stream>/<src>/<dst>` (issue #6): one per ordered pair of a
// persistent stream's regions, bound to the SOURCE region's placement (the shipper reads that
// region's delivered log), with a term that only grows (DESIGN §4.7) — created with the
// placement, moved with term + 1 when the holder dies, drains or leaves, removed when either
// region leaves the stream, and fenced across a re-created stream's lives like psc/… and scc/….
import t from 'tap'
import { parsePlacementController, shipControllerName } from '../../control-plane/cluster/index.js'
import { Harness, nodeCommand, streamCommand } from './helpers.js'

const ship = (source: string, destination: string, stream = 'orders'): string => shipControllerName('default', stream, source, destination)

function twoRegions(perRegion = 3): Harness {
  const h = new Harness()
  for (let i = 1; i <= perRegion; i++) h.must(nodeCommand(`e${i}`, 'eu', { zone: `z${i}` }))
  for (let i = 1; i <= perRegion; i++) h.must(nodeCommand(`u${i}`, 'us', { zone: `z${i}` }))
  return h
}

const members = (h: Harness, region: string): string[] => {
  const placed = h.state.placements.get('default/orders')?.get(region)
  return [...(placed?.replicas ?? []), ...(placed?.pending ?? [])]
}

t.test('names: ship/<ns>/<stream>/<src>/<dst>, parsed back with the source as its region', async (t) => {
  t.equal(ship('eu', 'us'), 'ship/default/orders/eu/us')
  t.same(parsePlacementController(ship('eu', 'us')), { kind: 'ship', streamKey: 'default/orders', region: 'eu', destination: 'us' })
  for (const other of ['ship/a/b/c', 'ship/a/b/c/d/e', 'shipx/a/b/c/d']) t.equal(parsePlacementController(other), undefined, other)
})

t.test('a stream in R regions gets R × (R − 1) shippers, each held by a replica of its source region', async (t) => {
  const h = twoRegions(3)
  for (let i = 1; i <= 2; i++) h.must(nodeCommand(`a${i}`, 'ap'))
  h.must(streamCommand({ regions: ['eu', 'us', 'ap'], replicasPerRegion: 2 }))
  const shippers = [...h.state.designations.keys()].filter((c) => parsePlacementController(c)?.kind === 'ship').sort()
  t.same(shippers, ['ship/default/orders/ap/eu', 'ship/default/orders/ap/us', 'ship/default/orders/eu/ap', 'ship/default/orders/eu/us', 'ship/default/orders/us/ap', 'ship/default/orders/us/eu'])
  for (const controller of shippers) {
    const d = h.state.designations.get(controller)
    const source = parsePlacementController(controller)?.region as string
    t.equal(d?.region, source, `${controller}: scoped to its source region`)
    t.ok(members(h, source).includes(d?.holder as string), `${controller}: held by a replica of ${source}`)
    t.equal(d?.controllerTerm, h.index, `${controller}: starts at the index of the entry that placed it`)
  }
  h.must(streamCommand({ name: 'local', regions: ['eu'], replicasPerRegion: 2 }))
  t.notOk([...h.state.designations.keys()].some((c) => c.startsWith('ship/default/local/')), 'a stream in one region ships nowhere')
})

t.test('a shipper whose holder dies or drains moves to another replica of the source region with term + 1', async (t) => {
  const h = twoRegions(3)
  h.must(streamCommand({ regions: ['eu', 'us'], replicasPerRegion: 3 }))
  const start = h.state.designations.get(ship('eu', 'us'))
  const died = h.must({ type: 'markNodeDead', nodeId: start?.holder as string })
  const moved = h.state.designations.get(ship('eu', 'us'))
  t.not(moved?.holder, start?.holder)
  t.ok(members(h, 'eu').includes(moved?.holder as string), 'still in the source region')
  t.equal(moved?.controllerTerm, (start?.controllerTerm as number) + 1)
  t.match(died.events.find((e) => e.subject === '$RG.events.designation.changed' && e.payload.controller === ship('eu', 'us'))?.payload, { previousHolder: start?.holder, reason: 'holder dead' })
  const reverse = h.state.designations.get(ship('us', 'eu'))
  h.must({ type: 'drainNode', nodeId: moved?.holder as string })
  t.equal(h.state.designations.get(ship('eu', 'us'))?.controllerTerm, (start?.controllerTerm as number) + 2, 'drained: term + 1 again')
  t.same(h.state.designations.get(ship('us', 'eu')), reverse, 'the other direction (held in us) is untouched')
  h.must({ type: 'redesignate', controller: ship('us', 'eu') })
  const redesignated = h.state.designations.get(ship('us', 'eu'))
  t.equal(redesignated?.controllerTerm, (reverse?.controllerTerm as number) + 1, 'redesignate: term + 1')
  t.ok(members(h, 'us').includes(redesignated?.holder as string), 'redesignate stays in the source placement')
})

t.test('designate refuses a shipper name; a region leaving the stream removes both directions; re-adding starts above the old terms', async (t) => {
  const h = twoRegions(2)
  h.must(streamCommand({ regions: ['eu', 'us'], replicasPerRegion: 2 }))
  const d = h.state.designations.get(ship('eu', 'us'))
  t.equal(h.run({ type: 'designate', controller: ship('eu', 'us'), holder: d?.holder as string, controllerTerm: (d?.controllerTerm as number) + 5 }).result.ok, false)
  for (let i = 0; i < 4; i++) h.must({ type: 'redesignate', controller: ship('eu', 'us') })
  const old = h.state.designations.get(ship('eu', 'us'))?.controllerTerm as number
  const shrunk = h.must(streamCommand({ regions: ['eu'], replicasPerRegion: 2, update: true }))
  t.notOk(h.state.designations.has(ship('eu', 'us')), 'eu → us removed')
  t.notOk(h.state.designations.has(ship('us', 'eu')), 'us → eu removed')
  t.same(
    shrunk.events.filter((e) => e.subject === '$RG.events.designation.changed' && String(e.payload.controller).startsWith('ship/')).map((e) => [e.payload.controller, e.payload.reason]),
    [
      [ship('eu', 'us'), 'removed'],
      [ship('us', 'eu'), 'removed'],
    ],
  )
  h.must(streamCommand({ regions: ['eu', 'us'], replicasPerRegion: 2, update: true }))
  t.ok((h.state.designations.get(ship('eu', 'us'))?.controllerTerm as number) > old, 'a shipper placed again starts above every term of its previous life')
})
