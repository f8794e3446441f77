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

/** A history of operations that never overlap: each one returns before the next is invoked. */
function sequential(steps: ReadonlyArray<readonly [client: string, input: KvInput, output: KvOutput]>): HistoryRecorder<KvInput, KvOutput> {
  let nowMs = 0
  const history = new HistoryRecorder<KvInput, KvOutput>({ now: () => nowMs })
  for (const [client, input, output] of steps) {
    const operation = history.invoke(client, input)
    nowMs += 1
    operation.ok(output)
    nowMs += 1
  }
  return history
}

t.test('the verdict accepts a sequential history and rejects a stale read and a lost write', async (t) => {
  const good = sequential([
    ['c1', { kind: 'put', key: 'a', value: '1' }, { kind: 'put' }],
    ['c2', { kind: 'get', key: 'a' }, { kind: 'get', value: '1' }],
  ])
  t.ok(kvHistoryVerdict(good).ok)

  const stale = sequential([
    ['c1', { kind: 'put', key: 'a', value: '1' }, { kind: 'put' }],
    ['c1', { kind: 'put', key: 'a', value: '2' }, { kind: 'put' }],
    ['c2', { kind: 'get', key: 'a' }, { kind: 'get', value: '1' }],
  ])
  const staleVerdict = kvHistoryVerdict(stale)
  t.notOk(staleVerdict.ok, 'a read of an overwritten value after the overwrite returned is refused')
  t.match(staleVerdict.ok ? '' : staleVerdict.problem, /not linearizable/)

  const lost = sequential([
    ['c1', { kind: 'put', key: 'b', value: 'x' }, { kind: 'put' }],
    ['c2', { kind: 'get', key: 'b' }, { kind: 'get', value: null }],
  ])
  t.notOk(kvHistoryVerdict(lost).ok, 'an acknowledged put that a later read does not see is refused')
})
