// fast-check generators of cluster commands over small name pools, so random sequences hit
// each other (the same stream ensured twice, a node dying that holds replicas, CAS races...).
import fc from 'fast-check'
import type { ClusterState, Command } from '../../control-plane/cluster/index.js'

const nodeIds = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6']
const regions = ['r1', 'r2']
const zones = ['a', 'b', 'c']
const namespaces = ['default', 'ns1']
const streams = ['s1', 's2', 's3']
const stages = ['p', 'q', 'r', 's']
/** Placeholder node id: resolveCommand replaces it with the placement's first pending replica. */
export const anyPending = '?pending'
const pick = <T>(values: readonly T[]): fc.Arbitrary<T> => fc.constantFrom(...values)

const nodeArb = fc.record({ nodeId: pick(nodeIds), zone: pick(zones) }).map(({ nodeId, zone }): Command => ({
  type: 'addNode',
  nodeId,
  clientAddress: `${nodeId}:4222`,
  peerAddress: `${nodeId}:6222`,
  adminAddress: `${nodeId}:8222`,
  // A node's region is fixed by its id so re-joins agree.
  region: regions[Number(nodeId.slice(1)) % 2] as string,
  masterEligible: nodeId < 'n4',
  tags: { zone },
}))

const streamArb = fc
  .record({
    namespace: pick(namespaces),
    name: pick(streams),
    kind: fc.constantFrom('persistent' as const, 'persistent' as const, 'ephemeral' as const),
    regions: fc.subarray(regions, { minLength: 1 }),
    replicasPerRegion: fc.integer({ min: 1, max: 4 }),
    maxAgeMs: fc.constantFrom(0, 60_000),
    update: fc.boolean(),
  })
  .map(({ maxAgeMs, ...s }): Command => ({
    type: 'ensureStream',
    ...s,
    dedupWindowMs: 1000,
    retention: { maxAgeMs, maxBytes: 0, maxEvents: 0 },
    ackDefault: 'majority',
    deadLetter: { maxDeliveries: 3, maxLag: 0 },
  }))

const stagesArb = fc.array(fc.tuple(pick(stages), fc.subarray(stages), fc.subarray(stages)), { minLength: 1, maxLength: 4 }).map((list) => {
  const seen = new Set<string>()
  return list
    .filter(([name]) => !seen.has(name) && seen.add(name) !== undefined)
    .map(([name, after, dependencies]) => ({ name, after: after.filter((a) => a !== name && seen.has(a)), dependencies: dependencies.filter((d) => d !== name && seen.has(d)) }))
})

export const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: nodeArb },
  { weight: 2, arbitrary: pick(nodeIds).map((nodeId): Command => ({ type: 'drainNode', nodeId })) },
  { weight: 2, arbitrary: pick(nodeIds).map((nodeId): Command => ({ type: 'markNodeDead', nodeId })) },
  { weight: 2, arbitrary: fc.record({ nodeId: pick(nodeIds), force: fc.boolean() }).map((c): Command => ({ type: 'removeNode', ...c })) },
  { weight: 1, arbitrary: fc.record({ nodeId: pick(nodeIds), zone: pick(zones) }).map(({ nodeId, zone }): Command => ({ type: 'setNodeTags', nodeId, tags: { zone } })) },
  { weight: 3, arbitrary: fc.record({ namespace: pick(namespaces), stream: pick(streams), region: pick(regions), nodeId: pick([...nodeIds, anyPending]) }).map((c): Command => ({ type: 'replicaCaughtUp', ...c })) },
  { weight: 1, arbitrary: pick(['ns1', 'default']).map((name): Command => ({ type: 'ensureNamespace', name })) },
  { weight: 1, arbitrary: pick(['ns1', 'default']).map((name): Command => ({ type: 'removeNamespace', name })) },
  { weight: 1, arbitrary: pick(regions).map((name): Command => ({ type: 'ensureRegion', name })) },
  { weight: 4, arbitrary: streamArb },
  { weight: 1, arbitrary: fc.record({ namespace: pick(namespaces), name: pick(streams) }).map((c): Command => ({ type: 'removeStream', ...c })) },
  {
    weight: 1,
    arbitrary: fc.record({ stream: pick(streams), maxInFlight: fc.integer({ min: 1, max: 3 }), update: fc.boolean() }).map((c): Command => ({
      type: 'ensureConsumerGroup', namespace: 'default', name: 'g', mode: 'exclusive', ackWaitMs: 1000, maxDeliveries: 0, start: { from: 'end' }, ...c,
    })),
  },
  { weight: 1, arbitrary: pick(streams).map((stream): Command => ({ type: 'removeConsumerGroup', namespace: 'default', stream, name: 'g' })) },
  { weight: 1, arbitrary: fc.record({ triggerStream: pick(streams), stages: stagesArb, update: fc.boolean() }).map((c): Command => ({ type: 'ensurePipeline', namespace: 'default', name: 'pl', ...c })) },
  { weight: 1, arbitrary: fc.constant<Command>({ type: 'removePipeline', namespace: 'default', name: 'pl' }) },
  {
    weight: 3,
    arbitrary: fc.record({ controller: pick(['c1', 'c2', 'c3']), holder: pick(nodeIds), controllerTerm: fc.integer({ min: 1, max: 6 }), scoped: fc.boolean() }).map(
      ({ scoped, ...c }): Command => ({ type: 'designate', ...c, ...(scoped ? { region: regions[Number(c.holder.slice(1)) % 2] as string } : {}) }),
    ),
  },
  { weight: 1, arbitrary: pick(['c1', 'c2', 'c3']).map((controller): Command => ({ type: 'redesignate', controller })) },
  { weight: 1, arbitrary: fc.record({ name: pick(['u1', 'u2']), passwordHash: pick(['pwhash-1', 'pwhash-2']), roles: fc.subarray(['reader']), update: fc.boolean() }).map((c): Command => ({ type: 'ensureUser', ...c })) },
  { weight: 1, arbitrary: pick(['u1', 'u2']).map((name): Command => ({ type: 'removeUser', name })) },
  { weight: 1, arbitrary: fc.record({ id: pick(['t1', 't2']), user: pick(['u1', 'u2']), expiresAtMs: fc.nat(10) }).map((c): Command => ({ type: 'addToken', hash: 'tokhash-1', ...c })) },
  { weight: 1, arbitrary: pick(['t1', 't2']).map((id): Command => ({ type: 'revokeToken', id })) },
  { weight: 1, arbitrary: fc.record({ region: pick(['*', 'r1']), update: fc.boolean() }).map(({ region, update }): Command => ({ type: 'ensureRole', name: 'reader', grants: [{ permission: 'read', region, stream: '*' }], update })) },
  { weight: 1, arbitrary: fc.constant<Command>({ type: 'removeRole', name: 'reader' }) },
  { weight: 1, arbitrary: fc.record({ name: pick(['b1', 'b2']), maxValueBytes: fc.constantFrom(4, 8), update: fc.boolean() }).map((c): Command => ({ type: 'ensureBucket', ...c })) },
  { weight: 1, arbitrary: pick(['b1', 'b2']).map((name): Command => ({ type: 'removeBucket', name })) },
  { weight: 3, arbitrary: fc.record({ bucket: pick(['b1', 'b2']), key: pick(['k1', 'k2', 'x/k3']), value: fc.uint8Array({ maxLength: 6 }) }).map((c): Command => ({ type: 'kvPut', ...c })) },
  { weight: 2, arbitrary: fc.record({ bucket: pick(['b1', 'b2']), key: pick(['k1', 'k2']), value: fc.uint8Array({ maxLength: 6 }), expectedRevision: fc.nat(6) }).map((c): Command => ({ type: 'kvCas', ...c })) },
  { weight: 1, arbitrary: fc.record({ bucket: pick(['b1', 'b2']), key: pick(['k1', 'k2']) }).map((c): Command => ({ type: 'kvDelete', ...c })) },
)

/** A few joins and objects first (random zones), so most random commands find something to act on. */
const bootstrapArb = fc.array(pick(zones), { minLength: 4, maxLength: 4 }).map((zoneList): Command[] => [
  ...zoneList.map((zone, i): Command => ({
    type: 'addNode',
    nodeId: `n${i + 1}`,
    clientAddress: `n${i + 1}:4222`,
    peerAddress: `n${i + 1}:6222`,
    adminAddress: `n${i + 1}:8222`,
    region: regions[(i + 1) % 2] as string,
    masterEligible: i + 1 < 4,
    tags: { zone },
  })),
  { type: 'ensureNamespace', name: 'ns1' },
  { type: 'ensureBucket', name: 'b1', maxValueBytes: 8 },
  { type: 'ensureRole', name: 'reader', grants: [] },
])

export const commandSequenceArb = fc
  .tuple(bootstrapArb, fc.array(commandArb, { minLength: 1, maxLength: 120, size: 'medium' }))
  .map(([bootstrap, rest]) => [...bootstrap, ...rest])

/** Resolves placeholders against the current state (so catch-up reports hit real pending replicas). */
export function resolveCommand(state: ClusterState, command: Command): Command {
  if (command.type !== 'replicaCaughtUp' || command.nodeId !== anyPending) return command
  const pending = state.placements.get(`${command.namespace}/${command.stream}`)?.get(command.region)?.pending[0]
  return { ...command, nodeId: pending ?? 'n1' }
}
