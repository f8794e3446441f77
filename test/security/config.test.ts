// The security configuration sections: defaults keep a node open and in clear text (as before),
// the cross-field rules (cert and key together, verifyClients and peer TLS need a CA), and the
// helpers that load the material the sections name.
import t from 'tap'
import { clientTlsMaterial, loginRateLimitsOf, peerTlsMaterial, securityConfigDefaults, securityConfigSchema } from '../../shared/security/config.js'
import type { SecurityConfig } from '../../shared/security/config.js'
import { loadTlsMaterial, reloadTlsMaterials } from '../../shared/security/tls-material.js'
import { renameSync } from 'node:fs'
import { capturedLogger, devCertificates } from './helpers.js'

function issues(config: SecurityConfig): string[] {
  const parsed = securityConfigSchema.safeParse(config)
  return parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)
}

t.test('defaults: no TLS, access control off, and they validate', async (t) => {
  t.same(issues(securityConfigDefaults), [])
  t.equal(clientTlsMaterial(securityConfigDefaults), undefined)
  t.equal(peerTlsMaterial(securityConfigDefaults), undefined)
  t.equal(securityConfigDefaults.access.disabled, true)
  t.same(loginRateLimitsOf(securityConfigDefaults), { burst: 5, refillPerMinute: 10, sourcesMax: 10_000 })
})

t.test('cross-field rules name the field', async (t) => {
  const base = securityConfigDefaults
  t.match(issues({ ...base, tls: { ...base.tls, certFile: 'c.pem' } }), ['tls.keyFile: certFile and keyFile go together'])
  t.match(issues({ ...base, tls: { ...base.tls, certFile: 'c.pem', keyFile: 'k.pem', verifyClients: true } }), [/^tls\.caFile: verifyClients needs/])
  t.match(issues({ ...base, peerTls: { certFile: 'c.pem', keyFile: 'k.pem', caFile: '' } }), [/^peerTls\.caFile: peer TLS is mutual/])
  t.match(issues({ ...base, access: { ...base.access, loginBurst: 0 } }), [/^access\.loginBurst: expected a positive integer/])
})

t.test('the helpers load what the sections name', async (t) => {
  const certs = devCertificates(t, 'config')
  const config: SecurityConfig = {
    ...securityConfigDefaults,
    tls: { ...securityConfigDefaults.tls, certFile: certs.server.certFile, keyFile: certs.server.keyFile },
    peerTls: { certFile: certs.peer.certFile, keyFile: certs.peer.keyFile, caFile: certs.caFile },
  }
  t.same(issues(config), [])
  t.equal(clientTlsMaterial(config)?.hasCa, false)
  t.equal(peerTlsMaterial(config)?.hasCa, true)
  const broken = { ...config, peerTls: { ...config.peerTls, keyFile: certs.client.keyFile } }
  t.throws(() => peerTlsMaterial(broken), { code: 'RG_ERR_CONFIG', message: /config peerTls: certFile: cannot use/ }, 'a key that does not match is a config error at start')
})

t.test('reloadTlsMaterials (the SIGHUP handler) reloads each section and logs the outcome', async (t) => {
  const certs = devCertificates(t, 'reload-all')
  const config: SecurityConfig = {
    ...securityConfigDefaults,
    tls: { ...securityConfigDefaults.tls, certFile: certs.server.certFile, keyFile: certs.server.keyFile },
  }
  const tls = clientTlsMaterial(config)
  const broken = loadTlsMaterial({ certFile: certs.peer.certFile, keyFile: certs.peer.keyFile, caFile: certs.caFile })
  const log = capturedLogger()
  const moved = `${certs.dir}/moved-away.pem`
  renameSync(certs.peer.keyFile, moved)
  const results = reloadTlsMaterials(log.logger, { tls, peerTls: broken, unused: undefined })
  t.match(results, { tls: { ok: true }, peerTls: { ok: false, reason: /peer-key\.pem/ } })
  t.notOk('unused' in results)
  t.match(log.text(), /TLS material reloaded/)
  t.match(log.text(), /TLS material reload failed: the previous certificate stays in use/)
  t.equal(broken.generation, 1)
  t.equal(tls?.generation, 2)
})
