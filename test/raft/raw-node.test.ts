// The RawNode API contract: errors by tier, the Ready/advance protocol, restart from storage,
// determinism.
import t from 'tap'
import {
  MemoryStorage,
  ProposalDropped,
  RaftFatalError,
  RaftUsageError,
  RawNode,
  makeMessage,
} from '../../control-plane/raft/index.js'
import type { Message, RaftConfig, Ready } from '../../control-plane/raft/index.js'

const enc = new TextEncoder()

/** The ProposalDropped reason `action` throws, or 'accepted'. Other errors propagate. */
function dropReason(action: () => void): string {
  try {
    action()
    return 'accepted'
  } catch (error) {
    if (error instanceof ProposalDropped) return error.reason
    throw error
  }
}

function config(id: string, storage: MemoryStorage, extra: Partial<RaftConfig> = {}): RaftConfig {
  return { id, storage, electionTicks: 10, heartbeatTicks: 1, random: { int: () => 0 }, ...extra }
}

/** Persists and applies a Ready the way a driver must, then advances. Returns it. */
function handle(node: RawNode, storage: MemoryStorage): Ready {
  const rd = node.ready()
  if (rd.snapshot !== undefined) storage.applySnapshot(rd.snapshot)
  storage.append(rd.entries)
  if (rd.hardState !== undefined) storage.setHardState(rd.hardState)
  node.advance(rd)
  return rd
}

t.test('a single voter elects itself; the first Ready holds the vote, the empty entry and its commit', (t) => {
  const storage = new MemoryStorage({ voters: ['1'] })
  const node = new RawNode(config('1', storage))
  t.notOk(node.hasReady(), 'nothing to do at rest')
  node.campaign()
  t.ok(node.hasReady())
  const rd = handle(node, storage)
  t.same(rd.softState, { leader: '1', role: 'leader' })
  t.same(rd.hardState, { term: 1, vote: '1', commit: 1 })
  t.same(rd.entries.map((e) => [e.index, e.term, e.data.length]), [[1, 1, 0]])
  t.same(rd.committedEntries.map((e) => e.index), [1])
  t.same(rd.messages, [], 'never messages itself')
  t.notOk(node.hasReady())
  const status = node.status()
  t.equal(status.role, 'leader')
  t.equal(status.applied, 1)
  t.same(status.progress?.['1'], { match: 1, next: 2, state: 'replicate' })
  t.end()
})

t.test('proposals without a leader throw ProposalDropped (a typed, non-fatal error)', (t) => {
  const storage = new MemoryStorage({ voters: ['1', '2', '3'] })
  const node = new RawNode(config('1', storage))
  t.throws(() => node.propose(enc.encode('x')), { name: 'ProposalDropped', reason: 'noLeader', code: 'RG_ERR_RAFT_PROPOSAL_DROPPED' })
  t.throws(() => node.propose(enc.encode('x')), ProposalDropped)
  node.tick()
  t.equal(node.stoppedBy(), undefined, 'the node keeps running')
  t.equal(dropReason(() => node.proposeConfChange({ kind: 'bogus' as 'addVoter', nodeId: '4' })), 'invalidConfChange')
  t.end()
})

t.test('misuse throws RaftUsageError without stopping the node', (t) => {
  const storage = new MemoryStorage({ voters: ['1', '2'] })
  const node = new RawNode(config('1', storage))
  t.throws(() => node.step(makeMessage({ type: 'hup', to: '1', from: '2' })), RaftUsageError)
  t.throws(() => node.step(makeMessage({ type: 'heartbeat', to: '9', from: '2', term: 1 })), RaftUsageError)
  t.throws(() => node.readIndex(new Uint8Array()), RaftUsageError)
  t.throws(() => node.step(makeMessage({ type: 'app', to: '1', from: '2' })), /carries no term/)
  node.campaign()
  node.ready()
  t.throws(() => node.ready(), /ready\(\) called again before advance\(\)/)
  t.equal(node.stoppedBy(), undefined)
  t.end()
})

t.test('a storage error inside the core stops the node loudly and for good', (t) => {
  const storage = new MemoryStorage({ voters: ['1'] })
  const first = new RawNode(config('1', storage))
  first.campaign()
  handle(first, storage)
  first.propose(enc.encode('a'))
  handle(first, storage)
  // A restarted node must read its committed entries back from storage: that read fails.
  const node = new RawNode(config('1', storage))
  storage.failNext('entries')
  t.throws(() => node.hasReady() && node.ready(), RaftFatalError)
  const stopped = node.stoppedBy()
  t.ok(stopped, 'stoppedBy reports the cause')
  t.match(stopped?.message ?? '', /raft node 1 stopped: StorageError: injected entries failure/)
  t.equal(stopped?.code, 'RG_ERR_RAFT_STOPPED')
  // The injected failure is used up, but the node stays stopped.
  t.throws(() => node.tick(), RaftFatalError, 'refuses further input')
  t.throws(() => node.step(makeMessage({ type: 'heartbeat', to: '1', from: '2', term: 5 })), RaftFatalError)
  t.throws(() => node.propose(enc.encode('b')), RaftFatalError)
  t.end()
})

t.test('a storage error at start-up is fatal', (t) => {
  const storage = new MemoryStorage({ voters: ['1'] })
  storage.failNext('initialState')
  t.throws(() => new RawNode(config('1', storage)), { name: 'RaftFatalError', message: /cannot start/ })
  t.end()
})

t.test('restart: term, vote, commit and configuration come back from storage', (t) => {
  const storage = new MemoryStorage({ voters: ['1'] })
  const node = new RawNode(config('1', storage))
  node.campaign()
  handle(node, storage)
  node.proposeConfChange({ kind: 'addLearner', nodeId: '2' })
  handle(node, storage)
  t.same(node.status().confState.learners, ['2'])
  node.propose(enc.encode('a'))
  handle(node, storage)
  // Restart knowing everything was applied: nothing is redelivered, the learner is replayed.
  const again = new RawNode(config('1', storage, { applied: 3 }))
  const status = again.status()
  t.equal(status.term, 1)
  t.equal(status.vote, '1')
  t.equal(status.commit, 3)
  t.equal(status.applied, 3)
  t.equal(status.role, 'follower')
  t.same(status.confState.learners, ['2'])
  t.notOk(again.hasReady())
  // Restart from scratch: committed entries are delivered again, and the conf change re-applied.
  const fresh = new RawNode(config('1', storage))
  t.same(fresh.status().confState.learners, [])
  const rd = handle(fresh, storage)
  t.same(rd.committedEntries.map((e) => e.index), [1, 2, 3])
  t.same(fresh.status().confState.learners, ['2'])
  t.throws(() => new RawNode(config('1', storage, { applied: 9 })), /config.applied 9 is beyond the stored commit 3/)
  t.end()
})

t.test('one pending conf change at a time', (t) => {
  const storage = new MemoryStorage({ voters: ['1'] })
  const node = new RawNode(config('1', storage))
  node.campaign()
  handle(node, storage)
  node.proposeConfChange({ kind: 'addLearner', nodeId: '2' })
  t.equal(dropReason(() => node.proposeConfChange({ kind: 'addLearner', nodeId: '3' })), 'pendingConfChange')
  handle(node, storage)
  node.proposeConfChange({ kind: 'addLearner', nodeId: '3' })
  t.equal(dropReason(() => node.proposeConfChange({ kind: 'removeNode', nodeId: '1' })), 'pendingConfChange')
  handle(node, storage)
  t.equal(dropReason(() => node.proposeConfChange({ kind: 'removeNode', nodeId: '1' })), 'invalidConfChange', 'the last voter cannot go')
  t.end()
})

function runCluster(seed: number): string[] {
  const ids = ['1', '2', '3']
  const storages = new Map(ids.map((id) => [id, new MemoryStorage({ voters: ids })]))
  let state = seed
  const random = { int: (n: number): number => ((state = (state * 1103515245 + 12345) % 2147483648), state % n) }
  const nodes = new Map(ids.map((id) => [id, new RawNode(config(id, storages.get(id) as MemoryStorage, { random, preVote: true }))]))
  const log: string[] = []
  let inflight: Message[] = []
  for (let tick = 0; tick < 200; tick++) {
    for (const [id, node] of nodes) {
      node.tick()
      if (tick % 37 === 5 && node.status().role === 'leader') node.propose(enc.encode(`t${tick}`))
      while (node.hasReady()) {
        const rd = handle(node, storages.get(id) as MemoryStorage)
        inflight.push(...rd.messages)
        for (const e of rd.committedEntries) log.push(`${id}:${e.index}/${e.term}`)
      }
    }
    const batch = inflight
    inflight = []
    for (const m of batch) nodes.get(m.to)?.step(m)
  }
  return log
}

t.test('deterministic: the same seed gives the same history', (t) => {
  const a = runCluster(7)
  t.ok(a.length > 10, 'the cluster made progress')
  t.same(runCluster(7), a)
  t.end()
})
