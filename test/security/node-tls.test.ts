// Client TLS on real nodes: a `railgun server` process with TLS required serves the official NATS
// client and Railgun's client with the CA, refuses clear text, and on SIGHUP reloads its
// certificate — the open connection keeps working, new connections see the new certificate. In
// process: TLS-first, and peer mutual TLS (a node with a certificate from another CA cannot join,
// and the log says why; one from the cluster CA joins).
import t from 'tap'
import { copyFileSync } from 'node:fs'
import { connect as natsConnect } from '@nats-io/transport-node'
import { ConnectError, connect as railgunConnect } from '../../client/index.js'
import { errorCodes } from '../../shared/errors.js'
import { rawClient } from '../server/helpers.js'
import { capturedLogger, delay, devCertificates, until } from './helpers.js'
import { spawnServer, startSecureNode } from './node-helpers.js'

t.test('railgun server with TLS required: both clients with the CA, clear text refused, SIGHUP reload keeps old connections', async (t) => {
  const certs = devCertificates(t, 'tls-node', 'Railgun Test CA one')
  const next = devCertificates(t, 'tls-node-next', 'Railgun Test CA two')
  // The server reads these paths; the reload copies the next certificate over them.
  const live = devCertificates(t, 'tls-node-live', 'unused')
  copyFileSync(certs.server.certFile, live.server.certFile)
  copyFileSync(certs.server.keyFile, live.server.keyFile)
  const server = await spawnServer(t, ['--tls-cert', live.server.certFile, '--tls-key', live.server.keyFile])
  t.notMatch(server.output(), /client connections are not encrypted/)
  t.match(server.output(), /peer links use plain TCP/)

  const official = await natsConnect({ servers: server.clientUrl, tls: { caFile: certs.caFile } })
  t.teardown(() => official.close())
  t.equal(official.info?.tls_required, true)
  const ours = await railgunConnect(server.clientUrl, { tls: { caFile: certs.caFile }, reconnect: { enabled: false } })
  t.teardown(() => ours.close())
  t.match(await ours.cluster.status(), { ok: true }, 'the Railgun client speaks over TLS')

  // Clear text: our client refuses before sending CONNECT; a raw CONNECT gets the NATS text.
  await t.rejects(railgunConnect(server.clientUrl, { reconnect: { enabled: false } }), { code: 'RG_ERR_CONNECT', message: /requires TLS/ })
  const raw = await rawClient(t, server.clientPort)
  await raw.waitFor(/^INFO .*"tls_required":true.*\r\n/)
  raw.write('CONNECT {}\r\nPING\r\n')
  await raw.waitFor(`-ERR '${errorCodes.RG_ERR_TLS_REQUIRED.natsText}'`)
  await raw.closed
  // Without the CA the server certificate does not verify.
  await t.rejects(railgunConnect(server.clientUrl, { tls: {}, reconnect: { enabled: false } }), ConnectError)

  // Reload: the next certificate (another CA) replaces the files, then SIGHUP.
  copyFileSync(next.server.certFile, live.server.certFile)
  copyFileSync(next.server.keyFile, live.server.keyFile)
  server.child.kill('SIGHUP')
  await until(() => /TLS material reloaded/.test(server.output()), 20_000, 'reload log line')

  // The open connections are not dropped and still work.
  const received = new Promise<string>((resolve) => {
    const subscription = official.subscribe('after.reload', { max: 1 })
    void (async () => {
      for await (const message of subscription) resolve(message.string())
    })()
  })
  await official.flush()
  official.publish('after.reload', 'still here')
  t.equal(await received, 'still here', 'the old connection keeps working after the reload')
  t.match(await ours.cluster.status(), { ok: true }, 'our old connection too')

  // New connections see the new certificate: the old CA no longer verifies it, the new one does.
  await t.rejects(railgunConnect(server.clientUrl, { tls: { caFile: certs.caFile }, reconnect: { enabled: false } }), { code: 'RG_ERR_CONNECT', message: /TLS handshake .* failed/ })
  const renewed = await natsConnect({ servers: server.clientUrl, tls: { caFile: next.caFile } })
  t.equal(renewed.info?.tls_required, true)
  await renewed.close()
  const renewedOurs = await railgunConnect(server.clientUrl, { tls: { caFile: next.caFile }, reconnect: { enabled: false } })
  await renewedOurs.close()

  // A broken file at reload keeps the current certificate, and says why.
  copyFileSync(certs.client.keyFile, live.server.keyFile)
  server.child.kill('SIGHUP')
  await until(() => /TLS material reload failed/.test(server.output()), 20_000, 'failed reload log line')
  const stillNext = await railgunConnect(server.clientUrl, { tls: { caFile: next.caFile }, reconnect: { enabled: false } })
  await stillNext.close()
  t.notMatch(server.output(), /BEGIN (RSA |EC )?PRIVATE KEY/, 'no key material in the log')
})

t.test('TLS-first: both clients with handshakeFirst; a client waiting for clear-text INFO is not served', async (t) => {
  const certs = devCertificates(t, 'tls-first')
  const node = await startSecureNode(t, { tls: { certFile: certs.server.certFile, keyFile: certs.server.keyFile, handshakeFirst: true, handshakeTimeoutMs: 1_000 } })
  await node.ready
  const official = await natsConnect({ servers: node.clientUrl, tls: { caFile: certs.caFile, handshakeFirst: true } })
  t.equal(official.info?.tls_required, true)
  await official.close()
  const ours = await railgunConnect(node.clientUrl, { tls: { caFile: certs.caFile, handshakeFirst: true }, reconnect: { enabled: false } })
  t.match(await ours.cluster.status(), { ok: true })
  await ours.close()
  await t.rejects(railgunConnect(node.clientUrl, { timeoutMs: 3_000, reconnect: { enabled: false } }), ConnectError)
})

t.test('peer mutual TLS: a node whose certificate comes from another CA cannot join (logged); one from the cluster CA joins', async (t) => {
  const cluster = devCertificates(t, 'peer-cluster', 'Railgun Cluster CA')
  const stranger = devCertificates(t, 'peer-stranger', 'Some Other CA')
  const peerTls = (certs: typeof cluster) => ({ certFile: certs.peer.certFile, keyFile: certs.peer.keyFile, caFile: certs.caFile })
  const firstLog = capturedLogger('peer-first')
  const first = await startSecureNode(t, { server: { name: 'first' }, peerTls: peerTls(cluster) }, { logger: firstLog.logger })
  await first.ready
  t.notMatch(firstLog.text(), /peer links use plain TCP/)
  const seed = first.cluster()?.peerAddress ?? ''
  t.not(seed, '')

  const strangerLog = capturedLogger('peer-stranger')
  const outsider = await startSecureNode(t, { server: { name: 'outsider' }, peerTls: peerTls(stranger), cluster: { seeds: [seed] } }, { logger: strangerLog.logger })
  await until(() => /inbound peer refused: TLS handshake failed/.test(firstLog.text()), 15_000, 'the refusal in the first node\'s log')
  t.match(firstLog.text(), /inbound peer refused: TLS handshake failed/)
  await delay(500)
  t.notOk(outsider.isReady(), 'the outsider never becomes ready')
  t.equal(first.cluster()?.node.state.nodes.size, 1, 'the cluster state holds only the first node')
  t.match(strangerLog.text(), /peer TLS refused: the peer's certificate is not trusted/, 'the outsider logs why too')

  const member = await startSecureNode(t, { server: { name: 'member' }, peerTls: peerTls(cluster), cluster: { seeds: [seed] } })
  await member.ready
  await until(() => first.cluster()?.node.state.nodes.size === 2, 15_000, 'the member in the state')
  t.pass('a node with a certificate from the cluster CA joins')
})
