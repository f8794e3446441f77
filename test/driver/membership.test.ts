// Membership through the driver (`proposeConfChange`), one server at a time: a node that is not
// in its own bootstrap configuration follows the leader once the leader adds it (as etcd's
// joining nodes do), catches up from the log (or by snapshot when the log was compacted), and
// becomes a voter that counts in the quorum. Removal takes a node out again.
import t from 'tap'
import { DurableRaftStorage } from '../../control-plane/driver/durable-raft-storage.js'
import { RaftRequestError } from '../../control-plane/driver/driver-errors.js'
import { RaftDriver } from '../../control-plane/driver/raft-driver.js'
import { raftKeySpaces } from '../../control-plane/driver/raft-records.js'
import type { ConfState } from '../../control-plane/raft/index.js'
import { createSilentLogger } from '../../shared/log.js'
import { createMemoryLocation, openMemoryStorage } from '../../shared/storage/index.js'
import type { MemoryHub } from '../../shared/transport/index.js'
import { AppliedList, bytes, fastTuning, startGroup, waitForLeader, waitUntil } from './helpers.js'
import type { DriverTuning, GroupMember } from './helpers.js'

/** A node outside the group, bootstrapped with `bootstrap` (which does not list it), connected to `peers`. */
async function joiner(hub: MemoryHub, id: string, bootstrap: ConfState, peers: readonly string[], tuning: DriverTuning = {}): Promise<GroupMember & { close(): Promise<void> }> {
  const location = createMemoryLocation()
  const adapter = await openMemoryStorage(location, { keySpaces: raftKeySpaces })
  const storage = await DurableRaftStorage.open(adapter, { bootstrap })
  const transport = hub.createTransport({ nodeId: id, reconnectDelayMs: 5 })
  await transport.start()
  for (const peer of peers) transport.connect({ id: peer, host: 'memory', port: 0 })
  const app = new AppliedList()
  const driver = new RaftDriver<number>({ id, storage, transport, application: app, logger: createSilentLogger(id), ...fastTuning, ...tuning })
  driver.start()
  const log = { events: [], inFlightBatches: 0, sendsDuringBatch: 0, violations: [] }
  return {
    id,
    location,
    transport,
    log,
    app,
    driver,
    adapter,
    async close() {
      await driver.stop()
      await transport.stop()
      await adapter.close().catch(() => undefined)
    },
  }
}

t.test('a node outside the bootstrap configuration joins as a learner, is promoted to voter, then removed', async (t) => {
  const group = await startGroup(1)
  t.teardown(() => group.close())
  const leader = await waitForLeader(group.members)
  await leader.driver.propose(bytes('before'))
  const bootstrap = leader.driver.status().confState
  t.same(bootstrap.voters, ['1'])
  const newcomer = await joiner(group.hub, '2', bootstrap, ['1'])
  t.teardown(() => newcomer.close())
  leader.transport.connect({ id: '2', host: 'memory', port: 0 })
  // Not in its configuration: it never campaigns on its own.
  await new Promise((resolve) => setTimeout(resolve, 400))
  t.equal(newcomer.driver.status().role, 'follower', 'a node outside the configuration does not campaign')
  t.equal(newcomer.driver.status().term, 0, 'nor does it raise its term')

  const learner = await leader.driver.proposeConfChange({ kind: 'addLearner', nodeId: '2' })
  t.ok(learner.index > 0, 'the change resolves with its index')
  t.same(leader.driver.status().confState.learners, ['2'], 'applied on the leader when the promise resolves')
  await waitUntil('the learner follows the leader and applied the log', () => newcomer.app.texts().includes('before') && newcomer.driver.status().lead === '1')
  t.ok(newcomer.driver.status().isLearner, 'it knows it is a learner')
  await waitUntil('the leader tracks its progress', () => (leader.driver.status().progress?.['2']?.match ?? 0) >= learner.index)

  await leader.driver.proposeConfChange({ kind: 'addVoter', nodeId: '2' })
  t.same([...leader.driver.status().confState.voters].sort(), ['1', '2'])
  await waitUntil('the newcomer sees itself as a voter', () => !newcomer.driver.status().isLearner)
  // With two voters every commit needs the newcomer: isolate it and a proposal cannot commit.
  group.hub.isolate('2')
  const stuck = leader.driver.propose(bytes('needs-both'), { timeoutMs: 300 })
  await t.rejects(stuck, RaftRequestError, 'the newcomer counts in the quorum now')
  group.hub.heal()
  await waitForLeader([leader, newcomer], 10_000)
  const current = [leader, newcomer].find((m) => m.driver.status().role === 'leader')!
  const written = await current.driver.propose(bytes('after'))
  await waitUntil('both applied the write', () => [leader, newcomer].every((m) => m.driver.appliedIndex() >= written.index))
  t.same(newcomer.app.texts().filter((x) => x === 'before' || x === 'after'), leader.app.texts().filter((x) => x === 'before' || x === 'after'))

  const other = current.id === '1' ? '2' : '1'
  await current.driver.proposeConfChange({ kind: 'removeNode', nodeId: other })
  t.same(current.driver.status().confState.voters, [current.id], 'the removed node left the configuration')
})

t.test('a node with an empty configuration catches up by snapshot when the leader compacted its log', async (t) => {
  const group = await startGroup(1, { snapshotEveryEntries: 4 })
  t.teardown(() => group.close())
  const leader = await waitForLeader(group.members)
  for (let i = 0; i < 10; i += 1) await leader.driver.propose(bytes(`c${i}`))
  t.ok(leader.driver.status().firstIndex > 1, 'the leader compacted')
  const newcomer = await joiner(group.hub, '2', { voters: [], learners: [], votersOutgoing: [] }, ['1'], { snapshotEveryEntries: 4 })
  t.teardown(() => newcomer.close())
  leader.transport.connect({ id: '2', host: 'memory', port: 0 })
  await leader.driver.proposeConfChange({ kind: 'addLearner', nodeId: '2' })
  await waitUntil('the newcomer restored the snapshot and applied the rest', () => newcomer.app.texts().includes('c9'))
  t.ok(newcomer.driver.counters.snapshotsRestored >= 1, 'it restored a snapshot')
  t.same(newcomer.driver.status().confState.voters, ['1'], 'its configuration came with the snapshot')
  t.same(newcomer.driver.status().confState.learners, ['2'])
})

t.test('a conf change proposed on a follower is forwarded and resolves there; a malformed one is refused', async (t) => {
  const group = await startGroup(3)
  t.teardown(() => group.close())
  const leader = await waitForLeader(group.members)
  const follower = group.members.find((m) => m.id !== leader.id)!
  const applied = await follower.driver.proposeConfChange({ kind: 'addLearner', nodeId: '9' })
  t.ok(applied.index > 0)
  t.same(follower.driver.status().confState.learners, ['9'], 'applied on the follower when it resolves')
  await waitUntil('the leader applied it', () => leader.driver.status().confState.learners.includes('9'))
  const refused = await leader.driver.proposeConfChange({ kind: 'addVoter', nodeId: '' }).then(
    () => undefined,
    (error: unknown) => error,
  )
  t.ok(refused instanceof RaftRequestError && refused.reason === 'dropped', 'an empty node id is dropped')
})
