// RBAC for CRDT buckets (docs/security.md, shared/security/subject-access.ts): a
// `$RG.KVC.<bucket>.<VERB>` publish needs `write` on `_kv/<bucket>` for PUT/DELETE/MERGE/INCR,
// `read` for INFO/GET/LIST/WATCH/UNWATCH, `admin` for ENSURE/REMOVE; a bucket token that is not a
// name, or an unknown verb, needs `admin` on everything; the nodes' internal `$RG.KVCI.…` needs
// `admin`. Then on a real node with access control on: a reader reads and watches but cannot
// write or define, a writer writes, neither reaches another bucket.
import t from 'tap'
import { PermissionDeniedError, connect } from '../../client/index.js'
import type { RailgunClient } from '../../client/index.js'
import { kvCrdtSubject, kvCrdtVerbs, parseKvCrdtSubject } from '../../shared/api/index.js'
import { accessFor } from '../../shared/security/subject-access.js'
import { startSecureNode } from '../security/node-helpers.js'
import { WatchRecorder, until, untilWritable } from './node-helpers.js'

t.test('subjects: parse and the access each needs', async (t) => {
  t.same(parseKvCrdtSubject('$RG.KVC.flows.PUT'), { bucket: 'flows', verb: 'PUT' })
  t.equal(kvCrdtSubject('flows', 'WATCH'), '$RG.KVC.flows.WATCH')
  for (const bad of ['$RG.KVC.flows', '$RG.KVC.flows.PUT.x', '$RG.KVC.fl*ws.PUT', '$RG.KVC.flows.NOPE', '$RG.API.KV.PUT', '$RG.KVC..PUT']) t.equal(parseKvCrdtSubject(bad), undefined, bad)
  const need = (verb: string) => accessFor('publish', `$RG.KVC.flows.${verb}`, 'default')
  for (const verb of ['PUT', 'DELETE', 'MERGE', 'INCR']) t.same(need(verb), { kind: 'grant', permission: 'write', stream: '_kv/flows' }, `${verb} → write`)
  for (const verb of ['INFO', 'GET', 'LIST', 'WATCH', 'UNWATCH']) t.same(need(verb), { kind: 'grant', permission: 'read', stream: '_kv/flows' }, `${verb} → read`)
  for (const verb of ['ENSURE', 'REMOVE']) t.same(need(verb), { kind: 'grant', permission: 'admin', stream: '_kv/flows' }, `${verb} → admin`)
  t.equal(kvCrdtVerbs.length, 11, 'every verb above is mapped')
  const widest = { kind: 'grant', permission: 'admin', stream: '*/*' }
  t.same(need('NOPE'), widest, 'unknown verb')
  t.same(accessFor('publish', '$RG.KVC.fl*ws.PUT', 'default'), widest, 'a wildcard bucket token')
  t.same(accessFor('publish', '$RG.KVC.flows.PUT.more', 'default'), widest, 'extra tokens')
  t.same(accessFor('publish', '$RG.KVCI.n1.REQ', 'default'), widest, 'internal forwarding')
  t.same(accessFor('subscribe', '$RG.KVC.flows.PUT', 'default'), widest, 'subscribing to the requests')
})

t.test('on a node with access control: reader, writer, admin', { timeout: 90_000 }, async (t) => {
  const adminPassword = 'kv-Admin-Secret-1'
  const node = await startSecureNode(t, { access: { disabled: false, loginBurst: 100 } }, { adminPassword })
  await node.ready
  const login = async (user: string, pass: string): Promise<RailgunClient> => {
    const c = await connect(node.clientUrl, { user, pass, reconnect: { enabled: false } })
    t.teardown(() => c.close())
    return c
  }
  const admin = await login('admin', adminPassword)
  t.match(await admin.crdtBuckets.ensure('flows'), { outcome: 'created' })
  t.match(await admin.crdtBuckets.ensure('other'), { outcome: 'created' })
  await untilWritable(node, 'flows')
  await untilWritable(node, 'other')
  await admin.kvCrdt('flows').put('k', 'v')
  await admin.kvCrdt('other').put('k', 'secret')
  await admin.roles.ensure({ name: 'flows-reader', grants: [{ permission: 'read', region: '*', stream: '_kv/flows' }] })
  await admin.roles.ensure({ name: 'flows-writer', grants: [{ permission: 'write', region: '*', stream: '_kv/flows' }, { permission: 'read', region: '*', stream: '_kv/flows' }] })
  await admin.users.ensure({ name: 'rhea', password: 'rhea-Secret-2', roles: ['flows-reader'] })
  await admin.users.ensure({ name: 'wes', password: 'wes-Secret-3', roles: ['flows-writer'] })

  const reader = await login('rhea', 'rhea-Secret-2')
  t.equal((await reader.kvCrdt('flows').get('k'))?.string(), 'v', 'a reader reads')
  const watch = new WatchRecorder(t, reader.kvCrdt('flows').watch('k'))
  await watch.until('the reader watches', (lines) => lines.includes('ready'))
  await t.rejects(reader.kvCrdt('flows').put('k', 'mine'), PermissionDeniedError, 'a reader cannot write')
  await t.rejects(reader.kvCrdt('flows').increment('n'), PermissionDeniedError)
  await t.rejects(reader.crdtBuckets.ensure('flows', { update: true }), PermissionDeniedError, 'a reader cannot define')
  await t.rejects(reader.kvCrdt('other').get('k'), PermissionDeniedError, 'another bucket is out of reach')

  const writer = await login('wes', 'wes-Secret-3')
  await writer.kvCrdt('flows').put('k', 'from-wes')
  await watch.until("the writer's change reaches the reader's watch", (lines) => lines.includes('k=from-wes'))
  await t.rejects(writer.crdtBuckets.remove('flows'), PermissionDeniedError, 'a writer cannot remove the bucket')
  await t.rejects(writer.kvCrdt('other').put('k', 'x'), PermissionDeniedError)
  await until('the value unchanged in the other bucket', async () => (await admin.kvCrdt('other').get('k'))?.string() === 'secret')
  t.pass('the other bucket kept its value')
})
