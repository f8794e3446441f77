// A throw-away certificate authority for `railgun dev --tls` and for tests: one CA and a server,
// a peer and a client certificate signed by it, written as PEM files. Keys come from Node's
// crypto (fast); node-forge only builds and signs the X.509 structures (no shell-out to openssl,
// which may be absent). Never use these for production: the CA key sits next to the certificates.
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { join } from 'node:path'
import forge from 'node-forge'

/** Named limits and defaults of the dev CA. */
export const devCertificateDefaults = {
  /** RSA modulus size: node-forge signs RSA only; 2048 is the smallest size TLS stacks accept. */
  rsaModulusBits: 2048,
  /** Validity of every certificate. */
  validDays: 30,
  /** Backdating of notBefore, so a peer whose clock is a little behind accepts the certificate. */
  backdateMs: 60 * 60 * 1000,
} as const

export const devCertificateRoles = ['server', 'peer', 'client'] as const
export type DevCertificateRole = (typeof devCertificateRoles)[number]

export interface DevCertificateFiles {
  readonly certFile: string
  readonly keyFile: string
}

export interface DevCertificates {
  readonly dir: string
  readonly caFile: string
  /** The CA's key (only to sign more certificates with `issueDevCertificate`). */
  readonly caKeyFile: string
  readonly server: DevCertificateFiles
  readonly peer: DevCertificateFiles
  readonly client: DevCertificateFiles
  /** Subject alternative names of the server and peer certificates. */
  readonly hosts: readonly string[]
}

export interface DevCertificateOptions {
  /** Created if missing; existing files with the same names are overwritten. */
  readonly dir: string
  /** Extra DNS names or IP addresses; 127.0.0.1, ::1 and localhost are always included. */
  readonly hosts?: readonly string[]
  /** Common name of the CA (default `Railgun dev CA`); tests make a second, unrelated CA with another name. */
  readonly caName?: string
  readonly validDays?: number
}

interface KeyPair {
  readonly privateKeyPem: string
  readonly publicKey: forge.pki.PublicKey
}

function newKeyPair(): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: devCertificateDefaults.rsaModulusBits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  })
  return { privateKeyPem: privateKey, publicKey: forge.pki.publicKeyFromPem(publicKey) }
}

/**
 * Signs with Node's crypto (sha256WithRSAEncryption): node-forge's pure-JS RSA takes ~80 ms
 * per signature on a loaded machine, OpenSSL a fraction of that.
 */
function signCertificate(certificate: forge.pki.Certificate, signerKeyPem: string): void {
  const oid = forge.pki.oids.sha256WithRSAEncryption as string
  certificate.signatureOid = oid
  certificate.siginfo.algorithmOid = oid
  certificate.md = forge.md.sha256.create()
  // Present in node-forge (used by its own sign()), missing from its type definitions.
  const tbs = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate(certificate)
  certificate.tbsCertificate = tbs
  const signature = sign('sha256', Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary'), signerKeyPem)
  certificate.signature = signature.toString('binary')
}

function serialNumber(): string {
  // Positive (high bit clear), 16 random bytes as RFC 5280 recommends.
  const bytes = randomBytes(16)
  bytes[0] = (bytes[0] as number) & 0x7f
  return bytes.toString('hex')
}

function validity(certificate: forge.pki.Certificate, validDays: number): void {
  const now = Date.now()
  certificate.validity.notBefore = new Date(now - devCertificateDefaults.backdateMs)
  certificate.validity.notAfter = new Date(now + validDays * 24 * 60 * 60 * 1000)
}

function altNames(hosts: readonly string[]): { type: number; value?: string; ip?: string }[] {
  // GeneralName types: 2 = dNSName, 7 = iPAddress.
  return hosts.map((host) => (isIP(host) === 0 ? { type: 2, value: host } : { type: 7, ip: host }))
}

interface Authority {
  readonly certificate: forge.pki.Certificate
  readonly keys: KeyPair
}

function createAuthority(name: string, validDays: number): Authority {
  const keys = newKeyPair()
  const certificate = forge.pki.createCertificate()
  certificate.publicKey = keys.publicKey
  certificate.serialNumber = serialNumber()
  validity(certificate, validDays)
  const subject = [{ name: 'commonName', value: name }, { name: 'organizationName', value: 'Railgun (development only)' }]
  certificate.setSubject(subject)
  certificate.setIssuer(subject)
  certificate.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ])
  signCertificate(certificate, keys.privateKeyPem)
  return { certificate, keys }
}

function issue(authority: Authority, role: DevCertificateRole, hosts: readonly string[], validDays: number): { certPem: string; keyPem: string } {
  const keys = newKeyPair()
  const certificate = forge.pki.createCertificate()
  certificate.publicKey = keys.publicKey
  certificate.serialNumber = serialNumber()
  validity(certificate, validDays)
  certificate.setSubject([{ name: 'commonName', value: `railgun-${role}` }])
  certificate.setIssuer(authority.certificate.subject.attributes)
  // A peer certificate serves both ends of a mutual-TLS link.
  const extKeyUsage = { name: 'extKeyUsage', serverAuth: role !== 'client', clientAuth: role !== 'server' }
  certificate.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    extKeyUsage,
    ...(role === 'client' ? [] : [{ name: 'subjectAltName', altNames: altNames(hosts) }]),
    { name: 'authorityKeyIdentifier', keyIdentifier: authority.certificate.generateSubjectKeyIdentifier().getBytes() },
  ])
  signCertificate(certificate, authority.keys.privateKeyPem)
  return { certPem: forge.pki.certificateToPem(certificate), keyPem: keys.privateKeyPem }
}

function writePrivate(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 })
}

/**
 * Writes `ca.pem`, `ca-key.pem`, `server.pem`/`server-key.pem`, `peer.pem`/`peer-key.pem` and
 * `client.pem`/`client-key.pem` into `dir` and returns their paths. Synchronous: four RSA keys,
 * well under a second.
 */
export function createDevCertificates(options: DevCertificateOptions): DevCertificates {
  const validDays = options.validDays ?? devCertificateDefaults.validDays
  const hosts = [...new Set(['127.0.0.1', '::1', 'localhost', ...(options.hosts ?? [])])]
  mkdirSync(options.dir, { recursive: true, mode: 0o700 })
  const authority = createAuthority(options.caName ?? 'Railgun dev CA', validDays)
  const caFile = join(options.dir, 'ca.pem')
  const caKeyFile = join(options.dir, 'ca-key.pem')
  writeFileSync(caFile, forge.pki.certificateToPem(authority.certificate))
  writePrivate(caKeyFile, authority.keys.privateKeyPem)
  const files = {} as Record<DevCertificateRole, DevCertificateFiles>
  for (const role of devCertificateRoles) {
    const { certPem, keyPem } = issue(authority, role, hosts, validDays)
    const certFile = join(options.dir, `${role}.pem`)
    const keyFile = join(options.dir, `${role}-key.pem`)
    writeFileSync(certFile, certPem)
    writePrivate(keyFile, keyPem)
    files[role] = { certFile, keyFile }
  }
  return { dir: options.dir, caFile, caKeyFile, server: files.server, peer: files.peer, client: files.client, hosts }
}
