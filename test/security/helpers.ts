// Test machinery for the security tests: a client listener with TLS and access options on
// 127.0.0.1 port 0 (the node does not wire them yet), a captured pino logger, cluster states
// built with the state machine's own `apply`, and dev certificates in a temporary directory.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { Test } from 'tap'
import { configWith } from '../../shared/config/index.js'
import { systemClock } from '../../shared/clock.js'
import { createLogger } from '../../shared/log.js'
import type { Logger } from '../../shared/log.js'
import { Router } from '../../server/router.js'
import { startClientListener } from '../../server/client-listener.js'
import type { ClientListener, ClientTlsOptions } from '../../server/client-listener.js'
import type { ClientAccess } from '../../server/client-connection.js'
import { createDevCertificates } from '../../shared/security/dev-certificates.js'
import type { DevCertificates } from '../../shared/security/dev-certificates.js'
import { hashPassword } from '../../shared/security/passwords.js'
import type { ScryptParameters } from '../../shared/security/passwords.js'
import { createToken } from '../../shared/security/tokens.js'
import type { Grant } from '../../control-plane/cluster/index.js'
import { Harness } from '../cluster/helpers.js'

/** Cheap scrypt for tests (the format and verification are the same at any cost). */
export const testScrypt: ScryptParameters = { logN: 10, r: 8, p: 1 }

export interface CapturedLog {
  readonly logger: Logger
  /** Every line written so far (raw JSON text). */
  readonly lines: string[]
  text(): string
}

export function capturedLogger(nodeName = 'security-test'): CapturedLog {
  const lines: string[] = []
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'))
      callback()
    },
  })
  const logger = createLogger({ nodeName, level: 'debug', destination })
  return { logger, lines, text: () => lines.join('') }
}

export function tempDir(t: Test, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `railgun-${prefix}-`))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export function devCertificates(t: Test, name: string, caName?: string): DevCertificates {
  return createDevCertificates({ dir: tempDir(t, name), ...(caName === undefined ? {} : { caName }) })
}

export interface TestListener {
  readonly listener: ClientListener
  readonly port: number
  readonly router: Router
}

export async function startListener(
  t: Test,
  options: { readonly tls?: ClientTlsOptions; readonly access?: ClientAccess; readonly logger?: Logger } = {},
): Promise<TestListener> {
  const config = configWith({ server: { host: '127.0.0.1', port: 0, httpPort: 0, name: 'security-test' } })
  const logger = options.logger ?? capturedLogger().logger
  const router = new Router(config, systemClock, logger)
  const listener = await startClientListener({
    router,
    host: '127.0.0.1',
    port: 0,
    serverId: 'SECURITYTEST',
    serverName: 'security-test',
    logger,
    isReady: () => true,
    notReadyHoldMs: 0,
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    ...(options.access === undefined ? {} : { access: options.access }),
  })
  t.teardown(async () => {
    listener.stopAccepting()
    for (const socket of listener.sockets) socket.destroy()
    await listener.closed()
  })
  return { listener, port: listener.port, router }
}

/** A cluster state holder built by applying commands; `current()` is what a node would read. */
export class AccessState {
  readonly harness = new Harness()

  current = () => this.harness.state

  role(name: string, grants: readonly Grant[], update = true): void {
    this.harness.must({ type: 'ensureRole', name, grants: [...grants], update })
  }

  async user(name: string, password: string, roles: readonly string[]): Promise<void> {
    const passwordHash = await hashPassword(password, testScrypt)
    this.harness.must({ type: 'ensureUser', name, passwordHash, roles: [...roles], update: true })
  }

  /** Re-assign roles, keeping the stored password hash. */
  setRoles(name: string, roles: readonly string[]): void {
    const record = this.harness.state.users.get(name)
    if (record === undefined) throw new Error(`no user ${name}`)
    this.harness.must({ type: 'ensureUser', name, passwordHash: record.passwordHash, roles: [...roles], update: true })
  }

  token(user: string, expiresAtMs = 0, id?: string): string {
    const created = createToken(id)
    this.harness.must({ type: 'addToken', id: created.id, hash: created.hash, user, expiresAtMs })
    return created.token
  }

  revoke(token: string): void {
    const id = token.slice('rgt_'.length, token.lastIndexOf('_'))
    this.harness.must({ type: 'revokeToken', id })
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export async function until(predicate: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await delay(5)
  }
}
