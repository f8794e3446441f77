// Each invariant checker must be able to fail: feed it a synthetic breach and expect a
// SimViolation naming the invariant and the seed.
import t from 'tap'
import { encodeConfChange, makeMessage } from '../../control-plane/raft/index.js'
import type { ConfState, Entry, Message } from '../../control-plane/raft/index.js'
import { RaftInvariants } from './raft-invariants.js'
import type { DurableLogView } from './raft-invariants.js'

const genesis: ConfState = { voters: ['1', '2', '3'], learners: [], votersOutgoing: [] }
const fresh = (): RaftInvariants => new RaftInvariants(99, () => 1234, genesis)
const entry = (index: number, term: number, text = `e${index}`): Entry => ({
  index,
  term,
  type: 'normal',
  data: new TextEncoder().encode(text),
})
const log = (terms: readonly number[], snapshotIndex = 0): DurableLogView => ({
  snapshotIndex,
  snapshotTerm: 0,
  lastIndex: () => snapshotIndex + terms.length,
  termAt: (index) => terms[index - snapshotIndex - 1],
})
const violation = (invariant: RegExp) => ({ name: 'SimViolation', invariant, seed: 99 })

t.test('election safety: two leaders in one term', async (t) => {
  const inv = fresh()
  inv.observeLeader('1', 3)
  inv.observeLeader('1', 3)
  inv.observeLeader('2', 4)
  t.throws(() => inv.observeLeader('2', 3), violation(/election safety/))
})

t.test('log matching: same index and term, different data or predecessor', async (t) => {
  const inv = fresh()
  inv.observePersistedEntries('1', [entry(1, 1), entry(2, 1)], 0)
  inv.observePersistedEntries('2', [entry(1, 1), entry(2, 1)], 0)
  t.throws(() => inv.observePersistedEntries('3', [entry(2, 1, 'other')], 1), violation(/log matching/))
  t.throws(() => inv.observePersistedEntries('3', [entry(2, 1)], 7), violation(/log matching/))
})

t.test('state machine safety and applied order', async (t) => {
  const inv = fresh()
  inv.observeApply('1', entry(1, 1))
  inv.observeApply('1', entry(2, 1))
  t.throws(() => inv.observeApply('2', entry(1, 2)), violation(/state machine safety/))
  t.throws(() => inv.observeApply('1', entry(4, 1)), violation(/applied never goes back/))
  inv.resetApplied('3', 0)
  inv.observeApply('3', entry(1, 1))
  t.throws(
    () => inv.observeApplySnapshot('1', { metadata: { index: 1, term: 1, confState: genesis }, data: new Uint8Array(0) }),
    violation(/applied never goes back/),
  )
})

t.test('leader completeness: a new leader missing a committed entry of an earlier term', async (t) => {
  const inv = fresh()
  inv.observeApply('1', entry(1, 1))
  inv.observeApply('1', entry(2, 2))
  inv.checkLeaderCompleteness('2', 3, log([1, 2, 3]))
  inv.checkLeaderCompleteness('2', 3, log([3], 2)) // covered by its snapshot
  t.throws(() => inv.checkLeaderCompleteness('3', 3, log([1])), violation(/leader completeness/))
  t.throws(() => inv.checkLeaderCompleteness('3', 3, log([1, 1])), violation(/leader completeness/))
})

t.test('durability: a committed entry on too few voters, counted in the latest configuration', async (t) => {
  const inv = fresh()
  inv.observeApply('1', entry(1, 1))
  const logs = new Map([
    ['1', log([1])],
    ['2', log([1])],
    ['3', log([])],
  ])
  inv.checkDurability(logs)
  t.throws(() => inv.checkDurability(new Map([...logs, ['2', log([])]])), violation(/committed entries are durable/))
  // Add voter 4: with four voters, two copies still meet every majority (of three).
  inv.observeApply('1', { index: 2, term: 1, type: 'confChange', data: encodeConfChange({ kind: 'addVoter', nodeId: '4' }) })
  t.same(inv.latestCommittedConfig.voters, ['1', '2', '3', '4'])
  inv.checkDurability(new Map([...logs, ['1', log([1, 1])], ['2', log([1, 1])], ['4', log([])]]))
  t.throws(() => inv.checkDurability(new Map([...logs, ['1', log([1, 1])], ['2', log([])]])), violation(/durable/))
})

t.test('persist before send: term, vote and acknowledged entries must be durable', async (t) => {
  const inv = fresh()
  const message = (fields: Partial<Message> & Pick<Message, 'type'>): Message =>
    makeMessage({ to: '2', from: '1', term: 5, ...fields })
  const durable = { term: 5, vote: '2', lastIndex: 10 }
  inv.checkMessagePersisted('1', message({ type: 'voteResp' }), durable)
  inv.checkMessagePersisted('1', message({ type: 'appResp', index: 10 }), durable)
  inv.checkMessagePersisted('1', message({ type: 'preVote', term: 6 }), durable)
  t.throws(() => inv.checkMessagePersisted('1', message({ type: 'heartbeat', term: 6 }), durable), violation(/persist before send/))
  t.throws(() => inv.checkMessagePersisted('1', message({ type: 'voteResp', to: '3' }), durable), violation(/persist before send/))
  t.throws(() => inv.checkMessagePersisted('1', message({ type: 'appResp', index: 11 }), durable), violation(/persist before send/))
})
