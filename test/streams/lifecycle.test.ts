// An engine follows the stream's definition: created with STREAM.ENSURE (persistent, placed on
// this node), stopped by STREAM.DELETE — the subject is then routed as an ephemeral one again (a
// request with no subscriber: 503). An ephemeral stream gets no engine.
import t from 'tap'
import { connect } from '@nats-io/transport-node'
import { startStreamNode, tempDir, until, untilStreamOpen } from './helpers.js'

t.test('engines follow the cluster state', { timeout: 60_000 }, async (t) => {
  const node = await startStreamNode(t, tempDir(t))
  const nc = await connect({ servers: node.clientUrl })
  t.teardown(() => nc.close())
  const call = async (verb: string, body: unknown) => (await nc.request(`$RG.API.${verb}`, JSON.stringify(body), { timeout: 10_000 })).json<{ ok: boolean }>()

  t.equal((await call('STREAM.ENSURE', { name: 'temp', kind: 'persistent' })).ok, true)
  await untilStreamOpen(node, 'temp')
  const ack = (await nc.request('temp', 'x', { timeout: 10_000 })).json<{ ok: boolean }>()
  t.equal(ack.ok, true, 'the engine answers')

  t.equal((await call('STREAM.ENSURE', { name: 'chat', kind: 'ephemeral' })).ok, true)
  t.equal((await call('STREAM.DELETE', { name: 'temp' })).ok, true)
  await until('the engine of temp stopped', () => node.persistentStreams()?.engine('default/temp') === undefined)
  t.same(node.persistentStreams()?.openStreams(), [], 'no engine left; none for the ephemeral stream')
  await t.rejects(nc.request('temp', 'x', { timeout: 5_000 }), /503|no responders/i, 'the subject is ephemeral again')
})
