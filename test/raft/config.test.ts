import t from 'tap'
import { RaftConfigError, validateConfig } from '../../control-plane/raft/config.js'
import { MemoryStorage, RawNode } from '../../control-plane/raft/index.js'
import type { RaftConfig } from '../../control-plane/raft/index.js'

const base: RaftConfig = {
  id: '1',
  electionTicks: 10,
  heartbeatTicks: 1,
  storage: new MemoryStorage({ voters: ['1'] }),
  random: { int: () => 0 },
}

t.test('defaults are filled in', (t) => {
  const resolved = validateConfig(base)
  t.equal(resolved.applied, 0)
  t.equal(resolved.preVote, false)
  t.equal(resolved.checkQuorum, false)
  t.equal(resolved.disableProposalForwarding, false)
  t.ok(resolved.maxSizePerMsg > 0)
  t.ok(resolved.maxInflightMsgs > 0)
  t.ok(resolved.maxInflightBytes >= resolved.maxSizePerMsg)
  t.ok(resolved.maxUncommittedEntriesSize > 0)
  t.end()
})

const bad: [string, Partial<RaftConfig>, RegExp][] = [
  ['empty id', { id: '' }, /id must be a non-empty string/],
  ['election equal to heartbeat', { electionTicks: 3, heartbeatTicks: 3 }, /electionTicks \(3\) must be greater than heartbeatTicks \(3\)/],
  ['election below heartbeat', { electionTicks: 2, heartbeatTicks: 5 }, /must be greater than heartbeatTicks/],
  ['zero heartbeat', { heartbeatTicks: 0 }, /heartbeatTicks must be a positive integer/],
  ['fractional election', { electionTicks: 2.5 }, /electionTicks must be a positive integer/],
  ['negative applied', { applied: -1 }, /applied must be a non-negative integer/],
  ['zero max message size', { maxSizePerMsg: 0 }, /maxSizePerMsg must be a positive integer/],
  ['zero inflight messages', { maxInflightMsgs: 0 }, /maxInflightMsgs must be a positive integer/],
  ['negative inflight bytes', { maxInflightBytes: -5 }, /maxInflightBytes must be a positive integer/],
  ['zero uncommitted', { maxUncommittedEntriesSize: 0 }, /maxUncommittedEntriesSize must be a positive integer/],
  ['inflight bytes below message size', { maxInflightBytes: 10, maxSizePerMsg: 100 }, /maxInflightBytes \(10\) must be at least maxSizePerMsg \(100\)/],
]

for (const [name, override, message] of bad) {
  t.test(`rejects ${name}`, (t) => {
    t.throws(() => validateConfig({ ...base, ...override }), message)
    t.throws(() => validateConfig({ ...base, ...override }), RaftConfigError)
    // RawNode validates too, with the same error (not a fatal one).
    t.throws(() => new RawNode({ ...base, ...override }), RaftConfigError)
    t.end()
  })
}

t.test('requires storage and a random source', (t) => {
  t.throws(() => validateConfig({ ...base, random: undefined as unknown as RaftConfig['random'] }), /random/)
  t.throws(() => validateConfig({ ...base, storage: undefined as unknown as RaftConfig['storage'] }), /storage is required/)
  t.end()
})

t.test('a random source out of range is a broken invariant', (t) => {
  t.throws(() => new RawNode({ ...base, storage: new MemoryStorage({ voters: ['1'] }), random: { int: (n) => n } }), /RandomSource.int\(10\) returned 10/)
  t.end()
})
