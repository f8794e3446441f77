// The admin verbs of the `railgun` command, over the control API (`$RG.API.>`) with the Railgun
// client. Every verb takes `--server URL` (default $RAILGUN_SERVER, else nats://127.0.0.1:4222)
// and `--json` (print the API's answer as JSON), and the connection flags: credentials
// `--token` ($RAILGUN_TOKEN) or `--user` + `--password` ($RAILGUN_USER, $RAILGUN_PASSWORD), and
// TLS `--tls-ca FILE` ($RAILGUN_TLS_CA), `--tls-cert` / `--tls-key`, `--tls-first`. An API
// error prints one line `railgun: <message> (<error code>)` and exits 1; a usage error exits 2.
//
//   railgun status
//   railgun stream ensure NAME [--namespace NS] [--kind K] [--regions a,b] [--replicas N] [--dedup-window MS] [--ack L] [--max-age MS] [--max-bytes N] [--max-events N] [--update]
//   railgun stream ls [--namespace NS] | info NAME [--namespace NS] | rm NAME [--namespace NS]
//   railgun kv get|put|del BUCKET KEY [VALUE]      (put reads stdin when no VALUE)
//   railgun kv watch BUCKET [PREFIX] [--count N]
//   railgun bucket ensure NAME [--max-value-bytes N] [--update] | ls
//   railgun leader transfer [--to NODE]
//   railgun node ls | drain NODE | rm NODE [--force]
import { CommanderError, InvalidArgumentError } from 'commander'
import type { Command } from 'commander'
import { connect, RailgunClientError } from '../../client/index.js'
import type { ClientOptions, ClusterStatus, KvChange, MutationResponse, RailgunClient, StreamView } from '../../client/index.js'
import { ackLevelValues, streamKindValues } from '../../shared/api/index.js'
import { untilSignal } from './signals.js'
import { defaultServerUrl } from './client-verbs.js'

/** Where the verbs write and how they report their exit code (tests inject their own). */
export interface AdminIo {
  stdout(text: string): void
  stderr(text: string): void
  setExitCode(code: number): void
  /** Reads stdin (for `kv put` without a value). */
  readStdin(): Promise<Uint8Array>
  /** Resolves on SIGINT/SIGTERM (long-running verbs: `kv watch`). */
  untilSignal(): { readonly signalled: Promise<void>; dispose(): void }
}

/** Largest stdin value `kv put` reads (a bucket's own limit is at most 1 MiB). */
export const kvStdinBytesMax = 2 * 1024 * 1024
export const usageExitCode = 2
export const apiErrorExitCode = 1

export const processIo: AdminIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  setExitCode: (code) => {
    process.exitCode = code
  },
  readStdin: async () => {
    const chunks: Buffer[] = []
    let bytes = 0
    for await (const chunk of process.stdin) {
      bytes += (chunk as Buffer).length
      if (bytes > kvStdinBytesMax) throw new InvalidArgumentError(`stdin is larger than ${kvStdinBytesMax} bytes`)
      chunks.push(chunk as Buffer)
    }
    return Buffer.concat(chunks)
  },
  untilSignal,
}

/** How the CLI connects: credentials and TLS (flags, else the environment). */
export interface ConnectionFlags {
  readonly server: string
  readonly token?: string
  readonly user?: string
  readonly password?: string
  readonly tlsCa?: string
  readonly tlsCert?: string
  readonly tlsKey?: string
  readonly tlsFirst?: boolean
}

export interface CommonFlags extends ConnectionFlags {
  readonly json?: boolean
}

/** Adds the connection flags (server, credentials, TLS) to a verb. */
export function connectionFlags(command: Command, options: { readonly userFlag?: boolean } = {}): Command {
  command
    .option('--server <url>', 'server URL (env RAILGUN_SERVER)', process.env.RAILGUN_SERVER ?? defaultServerUrl)
    .option('--token <token>', 'bearer token (env RAILGUN_TOKEN)')
  if (options.userFlag !== false) command.option('--user <name>', 'user name, with --password (env RAILGUN_USER)')
  return command
    .option('--password <password>', 'password (env RAILGUN_PASSWORD; visible to other local users in the process list: prefer the env or a token)')
    .option('--tls-ca <file>', 'CA the server certificate must chain to (env RAILGUN_TLS_CA); turns TLS on')
    .option('--tls-cert <file>', 'client certificate (env RAILGUN_TLS_CERT)')
    .option('--tls-key <file>', 'client key (env RAILGUN_TLS_KEY)')
    .option('--tls-first', 'TLS handshake before INFO (servers with tls.handshakeFirst)')
}

/** Client options from the connection flags, falling back to `env` (RAILGUN_TOKEN, RAILGUN_USER, RAILGUN_PASSWORD, RAILGUN_TLS_*). */
export function clientOptionsOf(flags: ConnectionFlags, name: string, env: Readonly<Record<string, string | undefined>> = process.env): ClientOptions {
  const token = flags.token ?? env.RAILGUN_TOKEN
  const user = flags.user ?? env.RAILGUN_USER
  const pass = flags.password ?? env.RAILGUN_PASSWORD
  const ca = flags.tlsCa ?? env.RAILGUN_TLS_CA
  const cert = flags.tlsCert ?? env.RAILGUN_TLS_CERT
  const key = flags.tlsKey ?? env.RAILGUN_TLS_KEY
  const tlsOn = ca !== undefined || cert !== undefined || flags.tlsFirst === true
  return {
    name,
    reconnect: { enabled: false },
    ...(token === undefined || token === '' ? {} : { token }),
    ...(user === undefined || pass === undefined ? {} : { user, pass }),
    ...(tlsOn
      ? {
          tls: {
            ...(ca === undefined ? {} : { caFile: ca }),
            ...(cert === undefined ? {} : { certFile: cert }),
            ...(key === undefined ? {} : { keyFile: key }),
            ...(flags.tlsFirst === true ? { handshakeFirst: true } : {}),
          },
        }
      : {}),
  }
}

function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) throw new InvalidArgumentError('expected a positive integer')
  return Number(value)
}

function nonNegativeInteger(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('expected a non-negative integer')
  return Number(value)
}

function oneOf(values: readonly string[]): (value: string) => string {
  return (value) => {
    if (!values.includes(value)) throw new InvalidArgumentError(`expected one of ${values.join(', ')}`)
    return value
  }
}

function regionList(value: string): string[] {
  const regions = value.split(',').map((region) => region.trim()).filter((region) => region.length > 0)
  if (regions.length === 0) throw new InvalidArgumentError('expected a comma-separated list of regions')
  return regions
}

export function common(command: Command, options: { readonly userFlag?: boolean } = {}): Command {
  return connectionFlags(command, options).option('--json', 'print the API answer as JSON')
}

function describeError(error: unknown): string {
  if (error instanceof RailgunClientError) return `${error.message} (${error.code})`
  return error instanceof Error ? error.message : String(error)
}

export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? []
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('  ')).join('\n') + '\n'
}

export function describeMutation(what: string, answer: MutationResponse): string {
  const diffs = (answer.details.diffs as Array<{ path: string; old: unknown; new: unknown }> | undefined) ?? []
  const changes = diffs.map((diff) => `\n  ${diff.path}: ${JSON.stringify(diff.old)} → ${JSON.stringify(diff.new)}`).join('')
  return `${what}: ${answer.outcome}${changes}\n`
}

function describeStatus(status: ClusterStatus): string {
  const head = `leader ${status.leader ?? '(none)'}  term ${status.term}  (answered by ${status.nodeId}, ${status.role}${status.ready ? ', ready' : ', NOT READY'})\n`
  const regions = `regions: ${status.regions.length === 0 ? '(none)' : status.regions.join(', ')}\n`
  const rows = [['ID', 'REGION', 'ROLE', 'STATE', 'VOTER'], ...status.members.map((m) => [m.id, m.region || '-', m.role, m.state, m.voter ? 'yes' : 'no'])]
  return head + regions + table(rows)
}

function describeStreams(streams: readonly StreamView[]): string {
  if (streams.length === 0) return 'no streams\n'
  const rows = [['STREAM', 'KIND', 'REGIONS', 'REPLICAS', 'ACK'], ...streams.map((s) => [`${s.namespace}/${s.name}`, s.kind, s.regions.join(','), String(s.replicasPerRegion), s.ackDefault])]
  return table(rows)
}

/**
 * `stream info`: the definition as JSON, then for a stream in several regions the replication lag
 * of every link (per region, to every other region) and the answering replica's event-set digest.
 */
export function describeStreamInfo(view: StreamView): string {
  const shipping = view.shipping as { node?: string; region?: string; digest?: { events: number; hash: string } | null; lag?: Array<{ from: string; to: string; events: number; ms: number; holder: string; ageMs: number; stale: boolean }> } | undefined
  if (shipping?.lag === undefined) return `${JSON.stringify(view, null, 2)}\n`
  const rows = [['FROM', 'TO', 'LAG EVENTS', 'LAG MS', 'MEASURED BY', 'AGE MS'], ...shipping.lag.map((l) => [l.from, l.to, String(l.events), String(l.ms), l.holder, `${l.ageMs}${l.stale ? ' (stale)' : ''}`])]
  const digest = shipping.digest === null || shipping.digest === undefined ? 'no replica on this node' : `${shipping.digest.events} events, ${shipping.digest.hash}`
  return `${JSON.stringify(view, null, 2)}\nreplication lag as ${shipping.node ?? '?'} (${shipping.region ?? '?'}) knows it:\n${shipping.lag.length === 0 ? 'no link measured yet\n' : table(rows)}event-set digest on ${shipping.node ?? '?'}: ${digest}\n`
}

function describeChange(change: KvChange): string {
  if (change.type === 'delete') return `DEL ${change.key} (rev ${change.revision})\n`
  return `PUT ${change.key}=${Buffer.from(change.value ?? new Uint8Array(0)).toString('utf8')} (rev ${change.revision})\n`
}

/**
 * The verbs, writing through `io`. Each verb connects (no reconnect: one-shot verbs fail fast),
 * runs, closes; errors print one line and set exit code 1.
 */
/**
 * One verb: connect (no reconnect: one-shot verbs fail fast), run, print (JSON with --json),
 * close; errors print one line and set exit code 1.
 */
export async function runAdminVerb(io: AdminIo, flags: CommonFlags, body: (client: RailgunClient) => Promise<unknown>, human: (answer: never) => string, options: ClientOptions = {}): Promise<void> {
  let client: RailgunClient | undefined
  try {
    client = await connect(flags.server, { ...clientOptionsOf(flags, 'railgun-admin'), ...options })
    const answer = await body(client)
    io.stdout(flags.json === true ? `${JSON.stringify(answer)}\n` : human(answer as never))
  } catch (error) {
    if (flags.json === true && error instanceof RailgunClientError) {
      const details = (error as { details?: unknown }).details
      io.stdout(`${JSON.stringify({ ok: false, error: { code: error.code, message: error.message, ...(details === undefined ? {} : { details }) } })}\n`)
    }
    io.stderr(`railgun: ${describeError(error)}\n`)
    io.setExitCode(apiErrorExitCode)
  } finally {
    await client?.close()
  }
}

export function registerAdminCommands(program: Command, io: AdminIo = processIo): void {
  const run = (flags: CommonFlags, body: (client: RailgunClient) => Promise<unknown>, human: (answer: never) => string): Promise<void> => runAdminVerb(io, flags, body, human)

  common(program.command('status'))
    .description('cluster status: leader, term, members (region, role, state), regions, readiness')
    .action(async (flags: CommonFlags) => run(flags, (client) => client.cluster.status(), describeStatus))

  const stream = program.command('stream').description('persistent and ephemeral stream definitions')
  common(stream.command('ensure <name>'))
    .description('create a stream, or confirm it is as given (conflicts print the differences)')
    .option('--namespace <ns>', 'namespace (default "default")')
    .option('--kind <kind>', `stream kind: ${streamKindValues.join(', ')}`, oneOf(streamKindValues))
    .option('--regions <list>', 'comma-separated regions (default: the serving node\'s region)', regionList)
    .option('--replicas <n>', 'replicas per region (default 3, capped by the region\'s nodes)', positiveInteger)
    .option('--dedup-window <ms>', 'dedup window in ms (default 120000)', nonNegativeInteger)
    .option('--ack <level>', `default ack level: ${ackLevelValues.join(', ')}`, oneOf(ackLevelValues))
    .option('--max-age <ms>', 'retention: delete events older than this (0 = no limit)', nonNegativeInteger)
    .option('--max-bytes <n>', 'retention: keep at most this many bytes per replica (0 = no limit)', nonNegativeInteger)
    .option('--max-events <n>', 'retention: keep at most this many events (0 = no limit)', nonNegativeInteger)
    .option('--update', 'apply differences instead of reporting a conflict')
    .action(async (name: string, flags: CommonFlags & { namespace?: string; kind?: 'persistent' | 'ephemeral'; regions?: string[]; replicas?: number; dedupWindow?: number; ack?: 'write' | 'majority' | 'all'; maxAge?: number; maxBytes?: number; maxEvents?: number; update?: boolean }) =>
      run(
        flags,
        (client) =>
          client.streams.ensure({
            name,
            ...(flags.namespace === undefined ? {} : { namespace: flags.namespace }),
            ...(flags.kind === undefined ? {} : { kind: flags.kind }),
            ...(flags.regions === undefined ? {} : { regions: flags.regions }),
            ...(flags.replicas === undefined ? {} : { replicasPerRegion: flags.replicas }),
            ...(flags.dedupWindow === undefined ? {} : { dedupWindowMs: flags.dedupWindow }),
            ...(flags.ack === undefined ? {} : { ackDefault: flags.ack }),
            ...(flags.maxAge === undefined && flags.maxBytes === undefined && flags.maxEvents === undefined
              ? {}
              : {
                  retention: {
                    ...(flags.maxAge === undefined ? {} : { maxAgeMs: flags.maxAge }),
                    ...(flags.maxBytes === undefined ? {} : { maxBytes: flags.maxBytes }),
                    ...(flags.maxEvents === undefined ? {} : { maxEvents: flags.maxEvents }),
                  },
                }),
            ...(flags.update === true ? { update: true } : {}),
          }),
        (answer: MutationResponse) => describeMutation(`stream ${flags.namespace ?? 'default'}/${name}`, answer),
      ),
    )
  common(stream.command('ls'))
    .description('list streams')
    .option('--namespace <ns>', 'only this namespace')
    .action(async (flags: CommonFlags & { namespace?: string }) =>
      run(flags, (client) => client.streams.list(flags.namespace === undefined ? {} : { namespace: flags.namespace }), describeStreams),
    )
  common(stream.command('info <name>'))
    .description('one stream: definition and placement; across regions, the replication lag of every link and this node\'s digest')
    .option('--namespace <ns>', 'namespace (default "default")', 'default')
    .action(async (name: string, flags: CommonFlags & { namespace: string }) =>
      run(flags, (client) => client.streams.info(flags.namespace, name), describeStreamInfo),
    )
  common(stream.command('rm <name>'))
    .description('remove a stream')
    .option('--namespace <ns>', 'namespace (default "default")', 'default')
    .action(async (name: string, flags: CommonFlags & { namespace: string }) =>
      run(flags, (client) => client.streams.remove(flags.namespace, name), (answer: MutationResponse) => describeMutation(`stream ${flags.namespace}/${name}`, answer)),
    )

  const kv = program.command('kv').description('linearizable KV buckets')
  common(kv.command('get <bucket> <key>'))
    .description('print a value (exit 1 when the key does not exist)')
    .action(async (bucket: string, key: string, flags: CommonFlags) =>
      run(
        flags,
        async (client) => {
          const entry = await client.kv(bucket).get(key)
          if (entry === undefined) throw new NotFound(`key "${key}" not found in bucket ${bucket}`)
          return { key: entry.key, value: entry.string(), revision: entry.revision, createRevision: entry.createRevision }
        },
        (entry: { value: string }) => `${entry.value}\n`,
      ),
    )
  common(kv.command('put <bucket> <key> [value]'))
    .description('write a value (stdin when no value is given); prints the revision')
    .action(async (bucket: string, key: string, value: string | undefined, flags: CommonFlags) => {
      const bytes = value ?? (await io.readStdin())
      await run(flags, async (client) => ({ revision: await client.kv(bucket).put(key, bytes) }), (answer: { revision: number }) => `revision ${answer.revision}\n`)
    })
  common(kv.command('del <bucket> <key>'))
    .description('delete a key')
    .option('--revision <n>', 'only if the key is at this revision', nonNegativeInteger)
    .action(async (bucket: string, key: string, flags: CommonFlags & { revision?: number }) =>
      run(
        flags,
        async (client) => ({ outcome: await client.kv(bucket).delete(key, flags.revision === undefined ? {} : { expectedRevision: flags.revision }) }),
        (answer: { outcome: string }) => `${key}: ${answer.outcome}\n`,
      ),
    )
  common(kv.command('watch <bucket> [prefix]'))
    .description('print the current values, then every change, until interrupted')
    .option('--count <n>', 'exit after n lines', positiveInteger)
    .action(async (bucket: string, prefix: string | undefined, flags: CommonFlags & { count?: number }) => {
      let client: RailgunClient | undefined
      const signal = io.untilSignal()
      try {
        client = await connect(flags.server, clientOptionsOf(flags, 'railgun-kv-watch'))
        const watching = client
        let printed = 0
        await new Promise<void>((resolve, reject) => {
          const subscription = watching
            .kv(bucket)
            .watch(prefix ?? '')
            .subscribe({
              next: (change) => {
                io.stdout(flags.json === true ? `${JSON.stringify({ ...change, value: change.value === undefined ? undefined : Buffer.from(change.value).toString('utf8') })}\n` : describeChange(change))
                printed += 1
                if (flags.count !== undefined && printed >= flags.count) {
                  subscription.unsubscribe()
                  resolve()
                }
              },
              error: reject,
              complete: resolve,
            })
          void signal.signalled.then(() => {
            subscription.unsubscribe()
            resolve()
          })
        })
      } catch (error) {
        io.stderr(`railgun: ${describeError(error)}\n`)
        io.setExitCode(apiErrorExitCode)
      } finally {
        signal.dispose()
        await client?.close()
      }
    })

  const bucket = program.command('bucket').description('KV bucket definitions')
  common(bucket.command('ensure <name>'))
    .description('create a bucket, or confirm it is as given')
    .option('--max-value-bytes <n>', 'largest value (default 65536)', positiveInteger)
    .option('--update', 'apply differences instead of reporting a conflict')
    .action(async (name: string, flags: CommonFlags & { maxValueBytes?: number; update?: boolean }) =>
      run(
        flags,
        (client) => client.buckets.ensure({ name, ...(flags.maxValueBytes === undefined ? {} : { maxValueBytes: flags.maxValueBytes }), ...(flags.update === true ? { update: true } : {}) }),
        (answer: MutationResponse) => describeMutation(`bucket ${name}`, answer),
      ),
    )
  common(bucket.command('ls'))
    .description('list buckets')
    .action(async (flags: CommonFlags) =>
      run(flags, (client) => client.buckets.list(), (buckets: Array<{ name: string; keys: number; maxValueBytes: number }>) =>
        buckets.length === 0 ? 'no buckets\n' : table([['BUCKET', 'KEYS', 'MAX VALUE BYTES'], ...buckets.map((b) => [b.name, String(b.keys), String(b.maxValueBytes)])]),
      ),
    )

  const leader = program.command('leader').description('control-plane Raft leadership')
  common(leader.command('transfer'))
    .description('move leadership to another voter (any other voter when --to is not given)')
    .option('--to <node>', 'the node to lead')
    .action(async (flags: CommonFlags & { to?: string }) =>
      run(flags, (client) => client.cluster.transferLeader(flags.to), (answer: { leader: string; term: number }) => `leader is now ${answer.leader} (term ${answer.term})\n`),
    )

  const node = program.command('node').description('cluster membership')
  common(node.command('ls'))
    .description('list nodes')
    .action(async (flags: CommonFlags) =>
      run(flags, (client) => client.cluster.nodes(), (nodes: Array<{ id: string; region: string; state: string; clientAddress: string; removingLosesData: boolean }>) =>
        nodes.length === 0
          ? 'no nodes\n'
          : table([['ID', 'REGION', 'STATE', 'CLIENT', 'LAST COPY'], ...nodes.map((n) => [n.id, n.region, n.state, n.clientAddress, n.removingLosesData ? 'yes' : 'no'])]),
      ),
    )
  common(node.command('drain <node>'))
    .description('drain a node: designations move away, its replicas are replaced')
    .action(async (id: string, flags: CommonFlags) => run(flags, (client) => client.cluster.drainNode(id), (answer: MutationResponse) => describeMutation(`node ${id}`, answer)))
  common(node.command('rm <node>'))
    .description('remove a drained or dead node (refused when it holds the last copy of a stream)')
    .option('--force', 'remove even if streams lose their last live copy')
    .action(async (id: string, flags: CommonFlags & { force?: boolean }) =>
      run(flags, (client) => client.cluster.removeNode(id, flags.force === true ? { force: true } : {}), (answer: MutationResponse) => describeMutation(`node ${id}`, answer)),
    )

  for (const verb of [program.commands.find((c) => c.name() === 'status'), stream, kv, bucket, leader, node]) if (verb !== undefined) usageExits(verb)
}

/** A missing key: an API-level failure (exit 1) raised by the CLI itself. */
class NotFound extends RailgunClientError {
  constructor(message: string) {
    super('RG_ERR_NOT_FOUND', message)
  }
}

/** Usage errors of these verbs exit 2 (help and version still exit 0), in `main()` and elsewhere. */
export function usageExits(command: Command): void {
  command.exitOverride((error: CommanderError) => {
    if (error.exitCode === 0) throw error
    throw new CommanderError(usageExitCode, error.code, error.message)
  })
  for (const sub of command.commands) usageExits(sub)
}
