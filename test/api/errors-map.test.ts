// The API over a fake control plane (no Raft): Raft failures become error answers with their
// code, reason and outcome; `stale` reads skip the ReadIndex barrier; unexpected throws become
// RG_ERR_SERVER; the in-flight limit refuses at once. Uses `execute`, the entry both transports call.
import t from 'tap'
import type { Test } from 'tap'
import { NEVER } from 'rxjs'
import { emptyState } from '../../control-plane/cluster/index.js'
import type { ApplyResult, ClusterState, Command } from '../../control-plane/cluster/index.js'
import { RaftRequestError } from '../../control-plane/driver/index.js'
import type { RaftStatus } from '../../control-plane/raft/index.js'
import { attachControlApi, inFlightRequestsMax } from '../../server/api/index.js'
import type { ControlApi, ControlPlane } from '../../server/api/index.js'
import { Router } from '../../server/router.js'
import { systemClock } from '../../shared/clock.js'
import { configWith } from '../../shared/config/index.js'
import { createSilentLogger } from '../../shared/log.js'

function fakeControlPlane(behaviour: { ensure?: (command: Command) => Promise<ApplyResult>; read?: () => Promise<void> }): ControlPlane & { reads: number; proposed: Command[] } {
  const status: RaftStatus = {
    id: 'n1', term: 4, vote: 'n1', commit: 9, applied: 9, lead: 'n1', role: 'leader',
    confState: { voters: ['n1'], learners: [], votersOutgoing: [] }, lastIndex: 9, firstIndex: 1, leadTransferee: null, isLearner: false,
  }
  const plane = {
    id: 'n1',
    reads: 0,
    proposed: [] as Command[],
    get state(): ClusterState {
      return emptyState()
    },
    events$: NEVER,
    ensure: async (command: Command): Promise<ApplyResult> => {
      plane.proposed.push(command)
      return behaviour.ensure === undefined ? { ok: true, outcome: 'created', details: {} } : behaviour.ensure(command)
    },
    read: async <T>(read: (state: ClusterState) => T): Promise<T> => {
      plane.reads += 1
      await behaviour.read?.()
      return read(emptyState())
    },
    status: () => status,
    transferLeadership: () => undefined,
  }
  return plane
}

function attach(t: Test, plane: ControlPlane): ControlApi {
  const router = new Router(configWith({}), systemClock, createSilentLogger())
  const api = attachControlApi({ router, controlPlane: plane, logger: createSilentLogger(), nodeInfo: { region: 'eu' } })
  t.teardown(() => {
    api.close()
    router.stop()
  })
  return api
}

t.test('Raft failures map to error answers with code, reason and outcome', async (t) => {
  const plane = fakeControlPlane({
    ensure: async () => {
      throw new RaftRequestError('timeout', 'not applied within 10000 ms')
    },
    read: async () => {
      throw new RaftRequestError('dropped', 'no leader')
    },
  })
  const api = attach(t, plane)
  const timeout = await api.execute('KV.PUT', { bucket: 'b', key: 'k', value: 'v' })
  t.match(timeout, { ok: false, error: { code: 'RG_ERR_REQUEST_TIMEOUT', details: { reason: 'timeout', outcome: 'unknown' } } })
  const dropped = await api.execute('STREAM.LIST', {})
  t.match(dropped, { ok: false, error: { code: 'RG_ERR_RAFT_PROPOSAL_DROPPED', details: { reason: 'dropped', outcome: 'notApplied' } } })
  const stale = await api.execute('STREAM.LIST', { stale: true })
  t.same(stale, { ok: true, streams: [], truncated: false }, 'a stale read does not wait for the barrier')
  t.equal(plane.reads, 1, 'only the linearizable read went through read()')
  const stopped = fakeControlPlane({
    ensure: async () => {
      throw new RaftRequestError('stopped', 'driver stopped')
    },
  })
  t.match(await attach(t, stopped).execute('BUCKET.DELETE', { name: 'b' }), { error: { code: 'RG_ERR_RAFT_STOPPED', details: { outcome: 'unknown' } } })
})

t.test('defaults are filled in before proposing; the serving region is the default region', async (t) => {
  const plane = fakeControlPlane({})
  const api = attach(t, plane)
  await api.execute('STREAM.ENSURE', { name: 's', retention: { maxEvents: 5 } })
  t.same(plane.proposed[0], {
    type: 'ensureStream', namespace: 'default', name: 's', kind: 'persistent', regions: ['eu'], replicasPerRegion: 1, dedupWindowMs: 120_000,
    retention: { maxAgeMs: 0, maxBytes: 0, maxEvents: 5 }, ackDefault: 'majority', deadLetter: { maxDeliveries: 0, maxLag: 0 },
  })
  await api.execute('GROUP.ENSURE', { stream: 's', name: 'g', update: true })
  t.same(plane.proposed[1], { type: 'ensureConsumerGroup', namespace: 'default', stream: 's', name: 'g', mode: 'exclusive', maxInFlight: 1000, ackWaitMs: 30_000, maxDeliveries: 0, start: { from: 'beginning' }, update: true })
  await api.execute('KV.PUT', { bucket: 'b', key: 'k', valueBase64: 'AAE=' })
  t.same((plane.proposed[2] as { value: Uint8Array }).value, new Uint8Array([0, 1]))
  t.match(await api.execute('KV.PUT', { bucket: 'b', key: 'k', valueBase64: 'not base64!' }), { error: { code: 'RG_ERR_INVALID_ARGUMENT' } })
})

t.test('unexpected failures and the in-flight limit', async (t) => {
  const hanging: Array<() => void> = []
  const plane = fakeControlPlane({
    ensure: (command) => {
      if (command.type === 'removeBucket') return Promise.reject(new Error('boom'))
      return new Promise<ApplyResult>((resolve) => hanging.push(() => resolve({ ok: true, outcome: 'created', details: {} })))
    },
  })
  const api = attach(t, plane)
  t.match(await api.execute('BUCKET.DELETE', { name: 'b' }), { ok: false, error: { code: 'RG_ERR_SERVER', message: /boom/ } })
  const pending = Array.from({ length: inFlightRequestsMax }, () => api.execute('BUCKET.ENSURE', { name: 'b' }))
  t.match(await api.execute('BUCKET.ENSURE', { name: 'b' }), { ok: false, error: { code: 'RG_ERR_LIMIT_EXCEEDED' } })
  for (const release of hanging) release()
  t.equal((await Promise.all(pending)).filter((answer) => answer.ok).length, inFlightRequestsMax)
  api.close()
  t.match(await api.execute('CLUSTER.STATUS', {}), { error: { code: 'RG_ERR_NOT_READY' } }, 'closed → not ready')
})
