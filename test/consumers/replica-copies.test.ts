// The replica side of consumer groups over the `consumer` channel (server/consumers, DESIGN §4.7),
// with attachConsumerGroups on a node that is a replica but not the controller, and a peer
// played by the test over the in-memory transport: a `progress` frame is merged into this node's
// copy and saved; one from an older term is refused (the copy is unchanged) and its sender is
// told `stale` with the newer term; a `gather` is answered with the copy; a malformed frame is
// counted and dropped; a deleted group's copy is removed.
import t from 'tap'
import { firstValueFrom, filter, timeout } from 'rxjs'
import type { ClusterState, GroupSpec, StreamSpec } from '../../control-plane/cluster/index.js'
import { emptyState, groupControllerName } from '../../control-plane/cluster/index.js'
import { ProgressState } from '../../data-plane/persistent/consumer/index.js'
import { GroupStore, consumerKeySpace } from '../../data-plane/persistent/store/group-store.js'
import { attachConsumerGroups, progressKey } from '../../server/consumers/index.js'
import { decodeConsumerFrame, encodeConsumerFrame } from '../../server/consumers/peer-frames.js'
import type { ConsumerFrame } from '../../server/consumers/peer-frames.js'
import { Router } from '../../server/router.js'
import { systemClock } from '../../shared/clock.js'
import { configWith } from '../../shared/config/index.js'
import { createSilentLogger } from '../../shared/log.js'
import { createMemoryLocation, openMemoryStorage } from '../../shared/storage/index.js'
import { MemoryHub } from '../../shared/transport/memory-transport.js'
import { until } from './node-helpers.js'

const region = 'global'
const streamSpec: StreamSpec = {
  namespace: 'default',
  name: 'orders',
  kind: 'persistent',
  regions: [region],
  replicasPerRegion: 2,
  dedupWindowMs: 60_000,
  retention: { maxAgeMs: 0, maxBytes: 0, maxEvents: 0 },
  ackDefault: 'majority',
  deadLetter: { maxDeliveries: 0, maxLag: 0 },
}
const groupSpec: GroupSpec = { namespace: 'default', stream: 'orders', name: 'billing', mode: 'load-balanced', maxInFlight: 10, ackWaitMs: 1_000, maxDeliveries: 0, start: { from: 'beginning' } }
const createdIndex = 7
const key = progressKey('default', 'orders', 'billing', createdIndex)

function stateWith(groups: boolean): ClusterState {
  const base = emptyState()
  return {
    ...base,
    streams: new Map([['default/orders', { spec: streamSpec, createdIndex: 5, updatedIndex: 5 }]]),
    placements: new Map([['default/orders', new Map([[region, { replicas: ['controller', 'replica'], pending: [], retiring: [], underReplicated: false }]])]]),
    groups: groups ? new Map([['default/orders/billing', { spec: groupSpec, createdIndex, updatedIndex: createdIndex }]]) : new Map(),
    designations: groups
      ? new Map([[groupControllerName('default', 'orders', 'billing', region), { controller: groupControllerName('default', 'orders', 'billing', region), holder: 'controller', controllerTerm: 5, region, updatedIndex: 7 }]])
      : new Map(),
  }
}

function progressAt(term: number, outstanding: number[]): ProgressState {
  const restored = ProgressState.restore(term, [])
  if (!restored.ok) throw restored.error
  for (const index of outstanding) restored.value.state.dispatch({ node: `controller:${term}`, term, index })
  return restored.value.state
}

t.test('replica copies: merge and save, refuse a stale term and say so, answer a gather, drop garbage, remove with the group', async (t) => {
  const hub = new MemoryHub()
  const controllerLink = hub.createTransport({ nodeId: 'controller', reconnectDelayMs: 5 })
  const replicaLink = hub.createTransport({ nodeId: 'replica', reconnectDelayMs: 5 })
  await controllerLink.start()
  await replicaLink.start()
  t.teardown(async () => {
    await controllerLink.stop()
    await replicaLink.stop()
  })
  controllerLink.connect({ id: 'replica', host: 'memory', port: 0 })
  await until('linked', () => hub.isLinked('controller', 'replica'))
  const storage = await openMemoryStorage(createMemoryLocation(), { keySpaces: [consumerKeySpace] })
  let state = stateWith(true)
  const listeners: Array<() => void> = []
  const groups = await attachConsumerGroups({
    router: new Router(configWith({}), systemClock, createSilentLogger()),
    streams: { engine: () => undefined, store: { indexAtOrAfter: () => Promise.resolve(0) }, publish: () => Promise.resolve({ ok: false }) },
    state: () => state,
    onChange: (listener) => {
      listeners.push(listener)
      return () => undefined
    },
    nodeId: 'replica',
    region,
    storage,
    peerLink: replicaLink,
    logger: createSilentLogger(),
  })
  t.teardown(() => groups.close())
  const send = (frame: ConsumerFrame): void => {
    const bytes = encodeConsumerFrame(frame)
    if (bytes === undefined || !controllerLink.send('replica', 'consumer', bytes)) throw new Error('not sent')
  }
  const nextFrame = (kind: ConsumerFrame['kind']): Promise<ConsumerFrame> =>
    firstValueFrom(
      controllerLink.frames$.pipe(
        filter((frame) => frame.channel === 'consumer'),
        filter((frame) => decodeConsumerFrame(frame.payload)?.kind === kind),
        timeout(10_000),
      ),
    ).then((frame) => decodeConsumerFrame(frame.payload) as ConsumerFrame)
  const reader = GroupStore.open(storage)

  const current = progressAt(5, [0, 1, 2])
  current.ack({ term: 5, index: 1 })
  send({ kind: 'progress', group: key, term: 5, state: current })
  await until('the copy saved', () => groups.counters.copiesMerged === 1)
  let stored: ProgressState | undefined
  for (let i = 0; i < 100 && stored?.canonical() !== current.canonical(); i++) {
    stored = await reader.load(key)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  t.equal(stored?.canonical(), current.canonical(), 'the copy is the controller state')

  const stale = nextFrame('stale')
  send({ kind: 'progress', group: key, term: 4, state: progressAt(4, [0, 1, 2, 3, 4]) })
  t.match(await stale, { kind: 'stale', group: key, term: 5 }, 'the stale sender is told the newer term')
  t.equal(groups.counters.staleRefused, 1)
  t.equal((await reader.load(key))?.canonical(), current.canonical(), 'a stale state never lands on the copy')

  const gathered = nextFrame('gathered')
  send({ kind: 'gather', group: key, term: 6, requestId: 'r1' })
  const answer = (await gathered) as Extract<ConsumerFrame, { kind: 'gathered' }>
  t.equal(answer.requestId, 'r1')
  t.equal(answer.state?.canonical(), current.canonical(), 'gather answered with the copy')

  controllerLink.send('replica', 'consumer', new TextEncoder().encode('{"v":1,"kind":"progress","group":"x","term":1,"state":{"v":1,"term":2}}'))
  controllerLink.send('replica', 'consumer', new TextEncoder().encode('not json'))
  await until('garbage counted', () => groups.counters.malformedFrames === 2)

  t.same(groups.snapshots(), [], 'no controller here: this node is a replica')
  state = stateWith(false)
  for (const listener of listeners) listener()
  for (let i = 0; i < 100 && (await reader.load(key)) !== undefined; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(await reader.load(key), undefined, "the deleted group's copy is removed")
})
