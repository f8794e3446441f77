// The identity verbs of the `railgun` command (docs/security.md), over the control API with the
// connection flags of the admin verbs (`--server`, `--token` / `--user` + `--password`, `--tls-ca`):
//
//   railgun user ensure NAME [--password-stdin] [--roles a,b] [--update]   (the new password is read from stdin)
//   railgun user ls | rm NAME
//   railgun token create --user U [--expires-in 24h] [--id ID]   (prints the token alone on stdout: shown once)
//   railgun token ls [--owner U] | revoke ID
//   railgun role ensure NAME --grant PERMISSION:REGION:STREAM ... [--update]   (e.g. read:us-east:default/orders)
//   railgun role ls | rm NAME
//
// On `token create`, `--user` names the token's owner; with `--password` it is also the login
// (an admin creating a token for itself); an admin creating one for someone else logs in with
// `--token` or RAILGUN_USER / RAILGUN_PASSWORD. Secrets never appear in error lines.
import { InvalidArgumentError } from 'commander'
import type { Command } from 'commander'
import type { MutationResponse, RoleView, TokenCreated, TokenView, UserView } from '../../client/index.js'
import { permissionValues } from '../../shared/api/index.js'
import type { AdminIo, CommonFlags } from './admin-verbs.js'
import { common, describeMutation, processIo, runAdminVerb, table, usageExits } from './admin-verbs.js'

/** Units `--expires-in` accepts. */
const durationUnitsMs = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** `90s`, `15m`, `24h`, `30d`, `500ms` → milliseconds. */
export function parseDuration(value: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(value.trim())
  if (match === null) throw new InvalidArgumentError('expected a duration such as 90s, 15m, 24h or 30d')
  const ms = Number(match[1]) * durationUnitsMs[match[2] as keyof typeof durationUnitsMs]
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new InvalidArgumentError('expected a positive duration')
  return ms
}

export interface GrantFlag {
  readonly permission: (typeof permissionValues)[number]
  readonly region: string
  readonly stream: string
}

/** `read:us-east:default/orders` → a grant (regions and streams may use `*`). */
export function parseGrant(value: string, previous: GrantFlag[] = []): GrantFlag[] {
  const parts = value.split(':')
  if (parts.length !== 3 || parts.some((part) => part.length === 0)) throw new InvalidArgumentError('expected PERMISSION:REGION:STREAM, e.g. read:us-east:default/orders or admin:*:*')
  const [permission, region, stream] = parts as [string, string, string]
  if (!(permissionValues as readonly string[]).includes(permission)) throw new InvalidArgumentError(`permission must be one of ${permissionValues.join(', ')}`)
  return [...previous, { permission: permission as GrantFlag['permission'], region, stream }]
}

function roleList(value: string): string[] {
  return value
    .split(',')
    .map((role) => role.trim())
    .filter((role) => role.length > 0)
}

function expiry(expiresAtMs: number): string {
  return expiresAtMs === 0 ? 'never' : new Date(expiresAtMs).toISOString()
}

/** The first line of stdin without its line ending (a password piped or typed). */
async function passwordFromStdin(io: AdminIo): Promise<string> {
  const text = Buffer.from(await io.readStdin()).toString('utf8')
  const password = text.replace(/\r?\n$/, '')
  if (password.length === 0) throw new InvalidArgumentError('--password-stdin: stdin is empty')
  return password
}

export function registerAccessCommands(program: Command, io: AdminIo = processIo): void {
  const run = (flags: CommonFlags, body: Parameters<typeof runAdminVerb>[2], human: (answer: never) => string): Promise<void> => runAdminVerb(io, flags, body, human)

  const user = program.command('user').description('users (passwords are hashed by the server)')
  common(user.command('ensure <name>'))
    .description('create a user, or confirm or (--update) change its roles and password')
    .option('--password-stdin', "read the user's password from stdin (required to create)")
    .option('--roles <list>', 'comma-separated roles', roleList)
    .option('--update', 'apply differences (roles, password) instead of reporting a conflict')
    .action(async (name: string, flags: CommonFlags & { passwordStdin?: boolean; roles?: string[]; update?: boolean }) => {
      let password: string | undefined
      if (flags.passwordStdin === true) {
        try {
          password = await passwordFromStdin(io)
        } catch (error) {
          io.stderr(`railgun: ${(error as Error).message}\n`)
          io.setExitCode(2)
          return
        }
      }
      await run(
        flags,
        (client) =>
          client.users.ensure({
            name,
            ...(password === undefined ? {} : { password }),
            ...(flags.roles === undefined ? {} : { roles: flags.roles }),
            ...(flags.update === true ? { update: true } : {}),
          }),
        (answer: MutationResponse) => describeMutation(`user ${name}`, answer),
      )
    })
  common(user.command('ls'))
    .description('list users and their roles')
    .action(async (flags: CommonFlags) =>
      run(flags, (client) => client.users.list(), (users: UserView[]) =>
        users.length === 0 ? 'no users\n' : table([['USER', 'ROLES', 'LIVE TOKENS'], ...users.map((u) => [u.name, u.roles.join(',') || '-', String(u.liveTokens)])]),
      ),
    )
  common(user.command('rm <name>'))
    .description('remove a user and its tokens')
    .action(async (name: string, flags: CommonFlags) => run(flags, (client) => client.users.remove(name), (answer: MutationResponse) => describeMutation(`user ${name}`, answer)))

  const token = program.command('token').description('bearer tokens (the server stores only their hash)')
  common(token.command('create'), { userFlag: false })
    .description('create a token; prints it once on stdout (its id and expiry on stderr)')
    .requiredOption('--user <name>', "the token's owner (and the login name with --password)")
    .option('--expires-in <duration>', 'lifetime: 90s, 15m, 24h, 30d (default: never expires)', parseDuration)
    .option('--id <id>', 'token id (default: 16 random hex characters)')
    .action(async (flags: CommonFlags & { user: string; expiresIn?: number; id?: string }) =>
      run(
        flags,
        (client) =>
          client.tokens.create({
            user: flags.user,
            ...(flags.expiresIn === undefined ? {} : { expiresInMs: flags.expiresIn }),
            ...(flags.id === undefined ? {} : { id: flags.id }),
          }),
        (answer: TokenCreated) => {
          io.stderr(`token ${answer.id} for ${answer.user}, expires ${expiry(answer.expiresAtMs)} (shown once: store it now)\n`)
          return `${answer.token}\n`
        },
      ),
    )
  common(token.command('ls'))
    .description('list tokens (ids, owners, expiry, revoked): never their secrets')
    .option('--owner <user>', "only this user's tokens")
    .action(async (flags: CommonFlags & { owner?: string }) =>
      run(flags, (client) => client.tokens.list(flags.owner === undefined ? {} : { user: flags.owner }), (tokens: TokenView[]) =>
        tokens.length === 0
          ? 'no tokens\n'
          : table([['ID', 'USER', 'EXPIRES', 'STATE'], ...tokens.map((t) => [t.id, t.user, expiry(t.expiresAtMs), t.revoked ? 'revoked' : t.expired ? 'expired' : 'valid'])]),
      ),
    )
  common(token.command('revoke <id>'))
    .description('revoke a token: refused at its next login on every node')
    .action(async (id: string, flags: CommonFlags) => run(flags, (client) => client.tokens.revoke(id), (answer: MutationResponse) => describeMutation(`token ${id}`, answer)))

  const role = program.command('role').description('roles: grants of read, write, admin on region / stream patterns')
  common(role.command('ensure <name>'))
    .description('create a role, or confirm or (--update) replace its grants')
    .option('--grant <permission:region:stream>', 'a grant, repeatable: read:us-east:default/orders, write:*:default/*, admin:*:*', parseGrant, [] as GrantFlag[])
    .option('--update', 'replace the grants instead of reporting a conflict')
    .action(async (name: string, flags: CommonFlags & { grant: GrantFlag[]; update?: boolean }) =>
      run(
        flags,
        (client) => client.roles.ensure({ name, ...(flags.grant.length === 0 ? {} : { grants: flags.grant }), ...(flags.update === true ? { update: true } : {}) }),
        (answer: MutationResponse) => describeMutation(`role ${name}`, answer),
      ),
    )
  common(role.command('ls'))
    .description('list roles and their grants')
    .action(async (flags: CommonFlags) =>
      run(flags, (client) => client.roles.list(), (roles: RoleView[]) =>
        roles.length === 0
          ? 'no roles\n'
          : table([['ROLE', 'GRANTS'], ...roles.map((r) => [r.name, r.grants.map((g) => `${g.permission}:${g.region}:${g.stream}`).join(' ') || '-'])]),
      ),
    )
  common(role.command('rm <name>'))
    .description('remove a role (refused while a user holds it)')
    .action(async (name: string, flags: CommonFlags) => run(flags, (client) => client.roles.remove(name), (answer: MutationResponse) => describeMutation(`role ${name}`, answer)))

  for (const verb of [user, token, role]) usageExits(verb)
}
