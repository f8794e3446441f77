// Client TLS with the official NATS client (@nats-io/transport-node): the upgrade after INFO
// (the client's default), TLS-first, TLS required but clear text attempted, optional TLS,
// client certificate verification, and certificate reload (old connections stay, new ones get
// the new certificate; a bad file keeps the old one).
import t from 'tap'
import type { Test } from 'tap'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { connect as tlsConnect } from 'node:tls'
import type { TLSSocket } from 'node:tls'
import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import { rawClient } from '../server/helpers.js'
import { loadTlsMaterial } from '../../shared/security/tls-material.js'
import type { TlsMaterial } from '../../shared/security/tls-material.js'
import type { DevCertificates } from '../../shared/security/dev-certificates.js'
import { createClusterAuthenticator } from '../../shared/security/cluster-authenticator.js'
import { createClusterAuthorizer } from '../../shared/security/authorizer.js'
import { AccessState, capturedLogger, devCertificates, startListener, tempDir, until } from './helpers.js'

function serverMaterial(certs: DevCertificates, withCa = false): TlsMaterial {
  return loadTlsMaterial({ certFile: certs.server.certFile, keyFile: certs.server.keyFile, ...(withCa ? { caFile: certs.caFile } : {}) })
}

async function natsClient(t: Test, port: number, tls: Record<string, unknown> | undefined): Promise<NatsConnection> {
  const connection = await connect({ servers: `127.0.0.1:${port}`, reconnect: false, timeout: 5_000, ...(tls === undefined ? {} : { tls }) })
  t.teardown(() => connection.close())
  return connection
}

async function roundTrip(connection: NatsConnection, subject: string): Promise<string> {
  const received = new Promise<string>((resolve) => {
    connection.subscribe(subject, { max: 1, callback: (_error, message) => resolve(message.string()) })
  })
  await connection.flush()
  connection.publish(subject, `over ${subject}`)
  return received
}

/** The server's sockets as the router holds them (after TLS they are TLSSockets). */
function serverSocketsEncrypted(router: { connections: ReadonlySet<{ socket: unknown }> }): boolean[] {
  return [...router.connections].map((connection) => (connection.socket as Partial<TLSSocket>).encrypted === true)
}

t.test('upgrade after INFO (STARTTLS style, the client default): INFO says tls_required, traffic is encrypted', async (t) => {
  const certs = devCertificates(t, 'tls-upgrade')
  const { port, router } = await startListener(t, { tls: { material: serverMaterial(certs), required: true, handshakeFirst: false, verifyClients: false } })
  const nc = await natsClient(t, port, { caFile: certs.caFile })
  t.equal(nc.info?.tls_required, true, 'INFO advertises tls_required')
  t.equal(await roundTrip(nc, 'secure.upgrade'), 'over secure.upgrade')
  t.same(serverSocketsEncrypted(router), [true], 'the server side of the connection is a TLS socket')
})

t.test('TLS-first (handshakeFirst): the handshake comes before INFO', async (t) => {
  const certs = devCertificates(t, 'tls-first')
  const { port, router } = await startListener(t, { tls: { material: serverMaterial(certs), required: true, handshakeFirst: true, verifyClients: false } })
  const nc = await natsClient(t, port, { caFile: certs.caFile, handshakeFirst: true })
  t.equal(await roundTrip(nc, 'secure.first'), 'over secure.first')
  t.same(serverSocketsEncrypted(router), [true])
})

t.test('TLS required, clear text attempted: -ERR Secure Connection - TLS Required, then closed', async (t) => {
  const certs = devCertificates(t, 'tls-required')
  const { port, router } = await startListener(t, { tls: { material: serverMaterial(certs), required: true, handshakeFirst: false, verifyClients: false } })
  const raw = await rawClient(t, port)
  await raw.waitFor(/^INFO .*\r\n/)
  t.match(raw.text(), /"tls_required":true/)
  raw.write('CONNECT {"verbose":false}\r\nPING\r\n')
  await raw.waitFor("-ERR 'Secure Connection - TLS Required'\r\n")
  await raw.closed
  t.notMatch(raw.text(), /PONG/, 'nothing of the clear-text protocol was served')
  t.equal(router.connections.size, 0)
})

t.test('TLS optional: INFO says tls_available; clear text is served, and the client may upgrade', async (t) => {
  const certs = devCertificates(t, 'tls-optional')
  const { port, router } = await startListener(t, { tls: { material: serverMaterial(certs), required: false, handshakeFirst: false, verifyClients: false } })
  const raw = await rawClient(t, port)
  await raw.waitFor(/^INFO .*\r\n/)
  t.match(raw.text(), /"tls_available":true/)
  t.notMatch(raw.text(), /tls_required/)
  raw.write('CONNECT {"verbose":false}\r\nPING\r\n')
  await raw.waitFor('PONG\r\n')
  raw.destroy()
  const nc = await natsClient(t, port, { caFile: certs.caFile })
  t.equal(await roundTrip(nc, 'secure.optional'), 'over secure.optional')
  await until(() => router.connections.size === 1, 5_000, 'the raw client gone')
  t.same(serverSocketsEncrypted(router), [true], 'the NATS client upgraded (tls_available and tls options set)')
})

t.test('client certificates: required and checked against the CA', async (t) => {
  const certs = devCertificates(t, 'tls-verify')
  const stranger = devCertificates(t, 'tls-verify-other', 'Some other CA')
  const log = capturedLogger()
  const { port } = await startListener(t, {
    logger: log.logger,
    tls: { material: serverMaterial(certs, true), required: true, handshakeFirst: false, verifyClients: true },
  })
  const good = await natsClient(t, port, { caFile: certs.caFile, certFile: certs.client.certFile, keyFile: certs.client.keyFile })
  t.equal(await roundTrip(good, 'secure.mtls'), 'over secure.mtls', 'a certificate from the CA is accepted')

  const withoutCertificate = await connect({ servers: `127.0.0.1:${port}`, reconnect: false, timeout: 5_000, tls: { caFile: certs.caFile } }).catch((error: unknown) => error)
  t.ok(withoutCertificate instanceof Error, `no client certificate → refused (${String(withoutCertificate)})`)
  await until(() => /no certificate presented/.test(log.text()), 5_000, 'the missing certificate logged as such')
  const wrongCa = await connect({
    servers: `127.0.0.1:${port}`,
    reconnect: false,
    timeout: 5_000,
    tls: { caFile: certs.caFile, certFile: stranger.client.certFile, keyFile: stranger.client.keyFile },
  }).catch((error: unknown) => error)
  t.ok(wrongCa instanceof Error, `a certificate from another CA → refused (${String(wrongCa)})`)
  await until(() => /does not chain to the configured CA/.test(log.text()), 5_000, 'the refusal logged with its reason')
  t.match(log.text(), /client TLS handshake refused/)
  const keyText = readFileSync(stranger.client.keyFile, 'utf8').split('\n')[1] as string
  t.notOk(log.text().includes(keyText), 'no key material in the log')
})

/** Fingerprint of the certificate a TLS-first listener presents now. */
function presentedFingerprint(port: number, cas: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: cas.map((file) => readFileSync(file)), checkServerIdentity: () => undefined })
    socket.once('secureConnect', () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256
      socket.destroy()
      resolve(fingerprint)
    })
    socket.once('error', reject)
  })
}

t.test('reload: new handshakes get the new certificate, established connections stay, a bad file keeps the old one', async (t) => {
  const first = devCertificates(t, 'tls-reload-1')
  const second = devCertificates(t, 'tls-reload-2', 'Second CA')
  const live = tempDir(t, 'tls-reload-live')
  const certFile = `${live}/server.pem`
  const keyFile = `${live}/server-key.pem`
  copyFileSync(first.server.certFile, certFile)
  copyFileSync(first.server.keyFile, keyFile)
  const material = loadTlsMaterial({ certFile, keyFile })
  const { port } = await startListener(t, { tls: { material, required: true, handshakeFirst: true, verifyClients: false } })
  const cas = [first.caFile, second.caFile]
  const before = await presentedFingerprint(port, cas)
  const old = await natsClient(t, port, { caFile: first.caFile, handshakeFirst: true })
  t.equal(await roundTrip(old, 'before.reload'), 'over before.reload')

  copyFileSync(second.server.certFile, certFile)
  copyFileSync(second.server.keyFile, keyFile)
  const reloaded = material.reload()
  t.equal(reloaded.ok, true, 'reload succeeds')
  t.equal(material.generation, 2)
  const after = await presentedFingerprint(port, cas)
  t.not(after, before, 'a new handshake sees the new certificate')
  const fresh = await natsClient(t, port, { caFile: second.caFile, handshakeFirst: true })
  t.equal(await roundTrip(fresh, 'after.reload'), 'over after.reload', 'a client trusting only the new CA connects')
  t.equal(old.isClosed(), false, 'the connection made before the reload is still open')
  t.equal(await roundTrip(old, 'old.still.works'), 'over old.still.works', 'and still carries traffic')

  writeFileSync(certFile, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n')
  const bad = material.reload()
  t.equal(bad.ok, false, 'a bad certificate file is refused')
  if (!bad.ok) t.match(bad.reason, /server\.pem/, `the reason names the file: ${bad.reason}`)
  t.equal(material.generation, 2, 'the previous material stays')
  t.equal(await presentedFingerprint(port, cas), after, 'new handshakes still get the last good certificate')

  copyFileSync(first.server.certFile, certFile)
  const mismatch = material.reload()
  t.equal(mismatch.ok, false, 'a certificate that does not match the key is refused')
  if (!mismatch.ok) t.notMatch(mismatch.reason, /PRIVATE KEY/, 'the reason holds no key material')
})

t.test('loading material that does not exist is a configuration error naming the file', async (t) => {
  const error = (() => {
    try {
      loadTlsMaterial({ certFile: '/nonexistent/railgun/cert.pem', keyFile: '/nonexistent/railgun/key.pem' }, 'tls')
      return undefined
    } catch (caught) {
      return caught as Error & { code?: string }
    }
  })()
  t.equal(error?.code, 'RG_ERR_CONFIG')
  t.match(error?.message ?? '', /config tls: certFile: .*\/nonexistent\/railgun\/cert\.pem/)
})

t.test('TLS and authentication together: credentials travel inside TLS', async (t) => {
  const certs = devCertificates(t, 'tls-auth')
  const access = new AccessState()
  access.role('all', [{ permission: 'admin', region: '*', stream: '*' }])
  await access.user('tess', 'tess-password', ['all'])
  const log = capturedLogger()
  const { port } = await startListener(t, {
    logger: log.logger,
    tls: { material: serverMaterial(certs), required: true, handshakeFirst: false, verifyClients: false },
    access: { authenticator: createClusterAuthenticator({ state: access.current, logger: log.logger }), authorizer: createClusterAuthorizer({ state: access.current, region: 'r' }) },
  })
  const connection = await connect({ servers: `127.0.0.1:${port}`, reconnect: false, timeout: 5_000, user: 'tess', pass: 'tess-password', tls: { caFile: certs.caFile } })
  t.teardown(() => connection.close())
  t.equal(connection.info?.auth_required, true)
  t.equal(await roundTrip(connection, 'secure.auth'), 'over secure.auth')
  const refused = await connect({ servers: `127.0.0.1:${port}`, reconnect: false, timeout: 5_000, user: 'tess', pass: 'nope', tls: { caFile: certs.caFile } }).catch((error: unknown) => error)
  t.match(String(refused), /Authorization Violation/i)
  t.notOk(log.text().includes('tess-password'), 'no password in the log')
})
