// The throw-away dev CA for `railgun dev --tls`: files with private modes, SANs for loopback and
// the given hosts, certificates that chain to the CA (checked with Node's X509Certificate), and
// fast enough to run at every `railgun dev --tls` start.
import t from 'tap'
import { X509Certificate } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { createDevCertificates, devCertificateRoles } from '../../shared/security/dev-certificates.js'
import { tempDir } from './helpers.js'

t.test('a CA and server, peer and client certificates, chained and with the right names', async (t) => {
  const dir = tempDir(t, 'devca')
  const started = performance.now()
  const certs = createDevCertificates({ dir: `${dir}/certs`, hosts: ['node-1.internal', '10.1.2.3'] })
  const elapsedMs = performance.now() - started
  // Generous: four RSA keys take ~0.5 s on a loaded 2-core machine; the bound catches a regression to pure-JS keys (tens of seconds).
  t.ok(elapsedMs < 10_000, `created in ${Math.round(elapsedMs)} ms`)
  const ca = new X509Certificate(readFileSync(certs.caFile))
  t.equal(ca.ca, true, 'the CA certificate is a CA')
  t.ok(ca.verify(ca.publicKey), 'self-signed')
  for (const role of devCertificateRoles) {
    const files = certs[role]
    const certificate = new X509Certificate(readFileSync(files.certFile))
    t.equal(certificate.ca, false, `${role}: not a CA`)
    t.ok(certificate.checkIssued(ca) && certificate.verify(ca.publicKey), `${role}: signed by the CA`)
    t.equal(statSync(files.keyFile).mode & 0o077, 0, `${role}: the key file is private to its owner`)
    if (role === 'client') continue
    const names = certificate.subjectAltName ?? ''
    for (const name of ['DNS:localhost', 'IP Address:127.0.0.1', 'DNS:node-1.internal', 'IP Address:10.1.2.3']) t.ok(names.includes(name), `${role}: SAN has ${name}`)
    t.equal(certificate.checkHost('node-1.internal'), 'node-1.internal')
    t.equal(certificate.checkIP('127.0.0.1'), '127.0.0.1')
  }
  t.equal(statSync(certs.caKeyFile).mode & 0o077, 0, 'the CA key file is private')
  const other = createDevCertificates({ dir: `${dir}/other`, caName: 'Other CA' })
  const stranger = new X509Certificate(readFileSync(other.server.certFile))
  t.notOk(stranger.verify(ca.publicKey), 'a second dev CA is unrelated to the first')
})
