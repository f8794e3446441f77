// The fault tests' KV workload helpers without a cluster: which client errors count as "did not
// happen" (fail) versus "unknown" (info), and that the history verdict rejects a stale read and a
// lost acknowledged write (so the fault tests' linearizability check can fail).
import t from 'tap'
import { ApiError, NoRespondersError, RequestTimeoutError } from '../../client/index.js'
import { HistoryRecorder } from '../harness/index.js'
import type { KvInput, KvOutput } from '../lincheck/index.js'
import { definitelyNotApplied, kvHistoryVerdict } from './kv-workload.js'

t.test('errors: refused before any effect = fail; timeouts and unknown Raft outcomes = info', async (t) => {
  t.ok(definitelyNotApplied(new NoRespondersError('$RG.API.KV.PUT')), 'no responders: the request reached no API')
  t.ok(definitelyNotApplied(new ApiError('KV.PUT', 'RG_ERR_RAFT_PROPOSAL_DROPPED', 'no leader', { reason: 'noLeader', outcome: 'notApplied' })))
  t.ok(definitelyNotApplied(new ApiError('KV.PUT', 'RG_ERR_NOT_READY', 'starting')))
  t.notOk(definitelyNotApplied(new ApiError('KV.PUT', 'RG_ERR_RAFT_PROPOSAL_DROPPED', 'lost', { reason: 'leadershipLost', outcome: 'unknown' })))
  t.notOk(definitelyNotApplied(new ApiError('KV.PUT', 'RG_ERR_REQUEST_TIMEOUT', 'timeout')))
  t.notOk(definitelyNotApplied(new ApiError('KV.PUT', 'RG_ERR_SERVER', 'boom')))
  t.notOk(definitelyNotApplied(new RequestTimeoutError('$RG.API.KV.PUT', 100, 'client')))
  t.notOk(definitelyNotApplied(new Error('connection lost')))
})

function recorder(): { history: HistoryRecorder<KvInput, KvOutput>; at: (ms: number) => void } {
  let nowMs = 0
  return { history: new HistoryRecorder<KvInput, KvOutput>({ now: () => nowMs }), at: (ms) => void (nowMs = ms) }
}

t.test('the verdict accepts a sequential history and rejects a stale read and a lost write', async (t) => {
  const good = recorder()
  good.at(0)
  const put = good.history.invoke('c1', { kind: 'put', key: 'a', value: '1' })
  good.at(1)
  put.ok({ kind: 'put' })
  good.at(2)
  const get = good.history.invoke('c2', { kind: 'get', key: 'a' })
  good.at(3)
  get.ok({ kind: 'get', value: '1' })
  t.ok(kvHistoryVerdict(good.history).ok)

  const stale = recorder()
  stale.at(0)
  const put1 = stale.history.invoke('c1', { kind: 'put', key: 'a', value: '1' })
  stale.at(1)
  put1.ok({ kind: 'put' })
  stale.at(2)
  const put2 = stale.history.invoke('c1', { kind: 'put', key: 'a', value: '2' })
  stale.at(3)
  put2.ok({ kind: 'put' })
  stale.at(4)
  const read = stale.history.invoke('c2', { kind: 'get', key: 'a' })
  stale.at(5)
  read.ok({ kind: 'get', value: '1' })
  const staleVerdict = kvHistoryVerdict(stale.history)
  t.notOk(staleVerdict.ok, 'a read of an overwritten value after the overwrite returned is refused')
  t.match(staleVerdict.ok ? '' : staleVerdict.problem, /not linearizable/)

  const lost = recorder()
  lost.at(0)
  const write = lost.history.invoke('c1', { kind: 'put', key: 'b', value: 'x' })
  lost.at(1)
  write.ok({ kind: 'put' })
  lost.at(2)
  const after = lost.history.invoke('c2', { kind: 'get', key: 'b' })
  lost.at(3)
  after.ok({ kind: 'get', value: null })
  t.notOk(kvHistoryVerdict(lost.history).ok, 'an acknowledged put that a later read does not see is refused')
})
