// Peer mutual TLS on the TCP transport: nodes whose certificates chain to the cluster CA link
// up and exchange frames; a node whose certificate does not chain is refused by the acceptor,
// a dialer refuses an acceptor it does not trust, a clear-text peer is refused, and the logs
// say why without any key material. Plus the start-up warnings of `warnIfPlaintext`.
import t from 'tap'
import type { Test } from 'tap'
import { readFileSync } from 'node:fs'
import { connect as netConnect } from 'node:net'
import { TcpTransport } from '../../shared/transport/index.js'
import type { TcpTransportOptions } from '../../shared/transport/index.js'
import { loadTlsMaterial } from '../../shared/security/tls-material.js'
import type { DevCertificates } from '../../shared/security/dev-certificates.js'
import { securityWarnings, warnIfPlaintext } from '../../shared/security/warnings.js'
import { collectFrames, waitForStatus } from '../transport/wait.js'
import { capturedLogger, delay, devCertificates, until } from './helpers.js'

const timings = {
  heartbeatIntervalMs: 50,
  deadAfterMs: 2_000,
  handshakeTimeoutMs: 3_000,
  backoff: { initialDelayMs: 20, maxDelayMs: 100, multiplier: 2, jitterRatio: 0.5 },
} as const

function makeTransport(t: Test, nodeId: string, options: Partial<TcpTransportOptions>): TcpTransport {
  const transport = new TcpTransport({ nodeId, clusterName: 'secure', region: 'local', ...timings, ...options })
  t.teardown(() => transport.stop())
  return transport
}

/** The peer certificate of `certs`, trusting `caFile` (the cluster CA unless told otherwise). */
function peerMaterial(certs: DevCertificates, caFile = certs.caFile) {
  return { material: loadTlsMaterial({ certFile: certs.peer.certFile, keyFile: certs.peer.keyFile, caFile }, 'peerTls') }
}

function keyLine(certs: DevCertificates): string {
  return readFileSync(certs.peer.keyFile, 'utf8').split('\n')[1] as string
}

t.test('two nodes with certificates from the cluster CA link up and exchange frames', async (t) => {
  const cluster = devCertificates(t, 'peer-ok')
  const a = makeTransport(t, 'a', { tls: peerMaterial(cluster) })
  const b = makeTransport(t, 'b', { tls: peerMaterial(cluster) })
  await a.start()
  const bAddress = await b.start()
  const frames = collectFrames(b)
  t.teardown(() => frames.stop())
  const up = waitForStatus(a, 'b', 'up')
  a.connect({ id: 'b', ...bAddress })
  await up
  await waitForStatus(b, 'a', 'up').catch(() => undefined)
  t.ok(a.send('b', 'raft', new TextEncoder().encode('over mutual TLS')), 'queued')
  await frames.waitForCount(1)
  t.equal(new TextDecoder().decode(frames.frames[0]?.payload), 'over mutual TLS')
})

t.test('a node whose certificate does not chain to the cluster CA cannot join, and the acceptor logs why', async (t) => {
  const cluster = devCertificates(t, 'peer-cluster')
  const outsider = devCertificates(t, 'peer-outsider', 'Outsider CA')
  const log = capturedLogger('acceptor')
  const acceptor = makeTransport(t, 'acceptor', { tls: peerMaterial(cluster), logger: log.logger })
  const address = await acceptor.start()
  // The outsider trusts the cluster CA (so only the acceptor's check can refuse it).
  const intruder = makeTransport(t, 'intruder', { tls: peerMaterial(outsider, cluster.caFile) })
  await intruder.start()
  intruder.connect({ id: 'acceptor', ...address })
  await until(() => /inbound peer refused: TLS handshake failed/.test(log.text()), 5_000, 'the refusal in the log')
  t.match(log.text(), /does not chain to the configured CA/, 'the reason is in the log')
  await delay(300)
  t.same(acceptor.upPeers(), [], 'the intruder never came up on the acceptor')
  t.same(intruder.upPeers(), [], 'nor on its own side')
  t.notOk(log.text().includes(keyLine(cluster)) || log.text().includes(keyLine(outsider)), 'no key material in the log')
})

t.test('a dialer refuses an acceptor whose certificate is not from the cluster CA', async (t) => {
  const cluster = devCertificates(t, 'peer-dialer')
  const impostor = devCertificates(t, 'peer-impostor', 'Impostor CA')
  const log = capturedLogger('dialer')
  // The impostor would accept the dialer (it trusts the cluster CA); the dialer must not accept it.
  const fake = makeTransport(t, 'target', { tls: peerMaterial(impostor, cluster.caFile) })
  const fakeAddress = await fake.start()
  const dialer = makeTransport(t, 'dialer', { tls: peerMaterial(cluster), logger: log.logger })
  await dialer.start()
  dialer.connect({ id: 'target', ...fakeAddress })
  await until(() => /peer TLS refused/.test(log.text()), 5_000, 'the dialer to log the refusal')
  t.match(log.text(), /"peer":"target"/)
  t.match(log.text(), /certificate/)
  t.same(dialer.upPeers(), [])
  t.same(fake.upPeers(), [], 'no link came up on the impostor either')
})

t.test('a clear-text peer is refused by a TLS transport', async (t) => {
  const cluster = devCertificates(t, 'peer-plain')
  const log = capturedLogger('tls-node')
  const secure = makeTransport(t, 'secure', { tls: peerMaterial(cluster), logger: log.logger })
  const address = await secure.start()
  const plain = makeTransport(t, 'plain', {})
  await plain.start()
  plain.connect({ id: 'secure', ...address })
  await until(() => /inbound peer refused: TLS handshake failed/.test(log.text()), 5_000, 'the refusal')
  t.same(secure.upPeers(), [])
  // And a raw socket that says nothing is closed by the handshake timeout, not kept forever.
  const silent = netConnect({ host: address.host, port: address.port })
  silent.on('error', () => undefined)
  const closed = new Promise<void>((resolve) => silent.once('close', () => resolve()))
  await closed
  t.pass('a silent socket is closed by the TLS handshake timeout')
})

t.test('warnIfPlaintext: one warning per unsafe setting, none when everything is on', async (t) => {
  const log = capturedLogger()
  const warned = warnIfPlaintext(log.logger, { clientTls: false, peerTls: false, accessDisabled: true })
  t.same(warned, [securityWarnings.peerPlaintext, securityWarnings.clientPlaintext, securityWarnings.accessDisabled])
  t.equal(log.lines.length, 3)
  for (const line of log.lines) t.match(JSON.parse(line), { level: 40, security: true })
  const quiet = capturedLogger()
  t.same(warnIfPlaintext(quiet.logger, { clientTls: true, peerTls: true, accessDisabled: false }), [])
  t.equal(quiet.lines.length, 0)
})
