// Credentials and permissions against nats-server configured with users (Railgun's RBAC is
// checked by the server's own tests; this file needs nats-server's authorization block).
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { firstValueFrom, filter, timeout } from 'rxjs'
import { AuthorizationError, connect, PermissionDeniedError } from '../../client/index.js'
import { openClient } from './helpers/live.js'
import { natsServerKind } from './helpers/processes.js'

t.test('nats-server with users and permissions', { timeout: 60_000 }, async (t) => {
  if (natsServerKind.unavailableReason !== undefined) {
    t.comment(`skipping: ${natsServerKind.unavailableReason}`)
    t.pass(`skipped: ${natsServerKind.unavailableReason}`)
    return
  }
  const directory = mkdtempSync(join(tmpdir(), 'railgun-client-auth-'))
  t.teardown(() => rmSync(directory, { recursive: true, force: true }))
  const configPath = join(directory, 'auth.conf')
  writeFileSync(
    configPath,
    `authorization {
  users = [
    { user: alice, password: secret1, permissions: { subscribe: { deny: ["forbidden.>"] }, publish: { deny: ["readonly.>"] } } }
    { user: tok, password: tokpass }
  ]
}
`,
  )
  const server = await natsServerKind.start({ extraArgs: ['-c', configPath] })
  t.teardown(() => server.dispose())

  t.test('wrong password → AuthorizationError from connect', async (t) => {
    const error = await connect(server.url, { user: 'alice', pass: 'wrong', timeoutMs: 3_000 }).catch((e: unknown) => e)
    t.ok(error instanceof AuthorizationError, String(error))
  })

  t.test('a denied subscribe → PermissionDeniedError on that subscription only', async (t) => {
    const client = await openClient(t, server.url, { user: 'alice', pass: 'secret1' })
    const denied = firstValueFrom(client.subscribe('forbidden.x').pipe(timeout(5_000))).catch((e: unknown) => e)
    const allowed = firstValueFrom(client.subscribe('allowed.x').pipe(timeout(5_000)))
    await client.flush()
    const error = await denied
    t.ok(error instanceof PermissionDeniedError, String(error))
    t.equal((error as PermissionDeniedError).subject, 'forbidden.x')
    client.publish('allowed.x', 'fine')
    t.equal((await allowed).string(), 'fine')
  })

  t.test('a denied publish → {type: error} on status$', async (t) => {
    const client = await openClient(t, server.url, { user: 'alice', pass: 'secret1' })
    const reported = firstValueFrom(client.status$.pipe(filter((s) => s.type === 'error'), timeout(5_000)))
    client.publish('readonly.x', 'nope')
    const status = await reported
    t.ok(status.type === 'error' && status.error instanceof PermissionDeniedError, String(status.type === 'error' ? status.error : status))
  })
})
