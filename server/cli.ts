// The `railgun` command line. Each verb registers itself on the commander program through a
// `register…Command(program)` function, so verbs living in other modules (client verbs, admin
// verbs) plug in without this file knowing them: add the function to `commandRegistrars`.
//
//   railgun server [--port P] [--http-port H] [--host HOST] [--data DIR] [--config FILE] [--name N]
//                  [--cluster-name C] [--node-id ID] [--peer-port P] [--advertise HOST:PORT] [--region R]
//                  [--zone Z] [--master-eligible | --no-master-eligible] [--seeds A:1,B:2] [--dns-srv NAME]
import { realpathSync } from 'node:fs'
import { setFlagsFromString } from 'node:v8'
import { fileURLToPath } from 'node:url'
import { Command, CommanderError, InvalidArgumentError } from 'commander'
import { loadConfig, splitList } from '../shared/config/index.js'
import type { ConfigSource, NodeConfig } from '../shared/config/index.js'
import { ConfigError } from '../shared/errors.js'
import { createLogger, logLevels } from '../shared/log.js'
import { securityFlagNames, securityServerFlags, securitySourceFromFlags } from '../shared/security/config.js'
import type { SecurityServerFlags } from '../shared/security/config.js'
import type { LogLevel } from '../shared/log.js'
import { registerAdminCommands } from './commands/admin-verbs.js'
import { registerAccessCommands } from './commands/access-verbs.js'
import { registerLogLevelCommand } from './commands/log-level-verb.js'
import { registerClientCommands } from './commands/client-verbs.js'
import { registerDevCommand } from './commands/dev.js'
import { startNode } from './node.js'
import { railgunVersion } from './version.js'

export type CommandRegistrar = (program: Command) => void

export interface ServerFlags extends SecurityServerFlags {
  readonly port?: number
  readonly httpPort?: number
  readonly host?: string
  readonly data?: string
  readonly config?: string
  readonly name?: string
  readonly logLevel?: string
  readonly clusterName?: string
  readonly nodeId?: string
  readonly peerPort?: number
  readonly advertise?: string
  readonly region?: string
  readonly zone?: string
  readonly masterEligible?: boolean
  readonly seeds?: string
  readonly dnsSrv?: string
  readonly peerRoute?: string[]
}

/** Flag → config field, for error messages that name the flag. */
export const serverFlagNames = {
  'server.port': '--port',
  'server.httpPort': '--http-port',
  'server.host': '--host',
  'server.name': '--name',
  'storage.dataDir': '--data',
  'log.level': '--log-level',
  'cluster.name': '--cluster-name',
  'cluster.nodeId': '--node-id',
  'cluster.peerPort': '--peer-port',
  'cluster.advertise': '--advertise',
  'cluster.region': '--region',
  'cluster.zone': '--zone',
  'cluster.masterEligible': '--master-eligible',
  'cluster.seeds': '--seeds',
  'cluster.dnsSrv': '--dns-srv',
  'cluster.peerRoutes': '--peer-route',
  ...securityFlagNames,
} as const

function integerFlag(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('expected a non-negative integer')
  return Number(value)
}

/** Turn parsed `server` flags into a config source (only the flags that were given). */
export function configSourceFromFlags(flags: ServerFlags): ConfigSource {
  const server: Record<string, unknown> = {}
  if (flags.port !== undefined) server.port = flags.port
  if (flags.httpPort !== undefined) server.httpPort = flags.httpPort
  if (flags.host !== undefined) server.host = flags.host
  if (flags.name !== undefined) server.name = flags.name
  const source: Record<string, unknown> = { server }
  if (flags.data !== undefined) source.storage = { dataDir: flags.data }
  if (flags.logLevel !== undefined) source.log = { level: flags.logLevel }
  const cluster: Record<string, unknown> = {}
  if (flags.clusterName !== undefined) cluster.name = flags.clusterName
  if (flags.nodeId !== undefined) cluster.nodeId = flags.nodeId
  if (flags.peerPort !== undefined) cluster.peerPort = flags.peerPort
  if (flags.advertise !== undefined) cluster.advertise = flags.advertise
  if (flags.region !== undefined) cluster.region = flags.region
  if (flags.zone !== undefined) cluster.zone = flags.zone
  if (flags.masterEligible !== undefined) cluster.masterEligible = flags.masterEligible
  if (flags.seeds !== undefined) cluster.seeds = splitList(flags.seeds)
  if (flags.dnsSrv !== undefined) cluster.dnsSrv = flags.dnsSrv
  if (flags.peerRoute !== undefined && flags.peerRoute.length > 0) cluster.peerRoutes = flags.peerRoute.flatMap((entry) => splitList(entry))
  if (Object.keys(cluster).length > 0) source.cluster = cluster
  Object.assign(source, securitySourceFromFlags(flags))
  return source as ConfigSource
}

/** Resolve the node configuration the `server` verb would run with. */
export function resolveServerConfig(flags: ServerFlags, env: Readonly<Record<string, string | undefined>> = process.env): NodeConfig {
  return loadConfig({
    ...(flags.config === undefined ? {} : { configPath: flags.config }),
    env,
    flags: configSourceFromFlags(flags),
    flagNames: serverFlagNames,
  })
}

/** The server's V8 heap growing factor, as `--heap-growing-percent` (100: the old generation may grow to 2× what survived the last major GC). */
export const serverHeapGrowingPercent = 100

/**
 * Run a node until SIGTERM/SIGINT, then drain and exit 0. A bad configuration exits 2 (with the
 * message on stderr); a storage or control-plane failure exits 1 (a stored node id that differs
 * from `--node-id` is reported on stderr too).
 */
export async function runServer(flags: ServerFlags): Promise<void> {
  let config: NodeConfig
  try {
    config = resolveServerConfig(flags)
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`railgun: ${error.message}\n`)
      process.exitCode = 2
      return
    }
    throw error
  }
  // V8 heap policy (issue #5; measured in data-plane/persistent/store/README.md "Measured on a
  // node"): major GCs at twice the live heap instead of V8's up-to-4× under a high allocation
  // rate — on a 500 k-event fill RSS peaked at 311 MB instead of 412 MB. NODE_OPTIONS or node
  // flags naming it win.
  if (![...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(' ')].some((flag) => flag.startsWith('--heap-growing-percent'))) setFlagsFromString(`--heap-growing-percent=${serverHeapGrowingPercent}`)
  const logger = createLogger({ nodeName: config.server.name, level: config.log.level as LogLevel })
  let node: Awaited<ReturnType<typeof startNode>>
  let stopOnFatal = (): void => undefined
  try {
    // The first admin's password (docs/security.md § Bootstrap): read once, never logged.
    const adminPassword = process.env.RAILGUN_ADMIN_PASSWORD
    node = await startNode({ config, logger, onFatal: () => stopOnFatal(), ...(adminPassword === undefined ? {} : { adminPassword }) })
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`railgun: ${error.message}\n`)
      process.exitCode = 2
      return
    }
    throw error
  }
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'signal received; draining')
    node.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.fatal({ err: (error as Error).message }, 'drain failed')
        process.exit(1)
      },
    )
  }
  // The control plane stopped on its own (storage error): drain and exit 1.
  stopOnFatal = (): void => {
    if (stopping) return
    stopping = true
    void node.close().finally(() => process.exit(1))
  }
  process.once('SIGTERM', () => stop('SIGTERM'))
  process.once('SIGINT', () => stop('SIGINT'))
  // Certificates are reloaded on SIGHUP: new handshakes use them, open connections keep theirs.
  process.on('SIGHUP', () => node.security.reload())
  try {
    await node.ready
  } catch (error) {
    // A storage error stops the node (DESIGN §3.3); so does a fatal cluster configuration problem.
    if (error instanceof ConfigError) process.stderr.write(`railgun: ${error.message}\n`)
    stopping = true
    await node.close().catch(() => undefined)
    process.exit(1)
  }
}

export function registerServerCommand(program: Command): void {
  const command = program
    .command('server')
    .description('run a Railgun node (NATS-protocol client port, admin HTTP port)')
    .option('--port <port>', 'client port (default 4222; 0 picks a free port)', integerFlag)
    .option('--http-port <port>', 'admin HTTP port (default 8222; 0 picks a free port)', integerFlag)
    .option('--host <host>', 'address to bind (default 0.0.0.0)')
    .option('--data <dir>', 'data directory (default ./data)')
    .option('--config <file>', 'YAML configuration file (e.g. railgun.yaml)')
    .option('--name <name>', 'node name (default: host name)')
    .option('--log-level <level>', `log level: ${logLevels.join(', ')}`)
    .option('--cluster-name <name>', 'cluster name; peers of another cluster are refused (default railgun)')
    .option('--node-id <id>', 'node id (default: 16 hex chars hashed from the advertised peer address)')
    .option('--peer-port <port>', 'peer (cluster) port (default 6222; 0 picks a free port)', integerFlag)
    .option('--advertise <host:port>', 'peer address other nodes dial (default: host and peer port)')
    .option('--region <region>', 'region of this node (default "default")')
    .option('--zone <zone>', 'availability zone (node tag "zone")')
    .option('--master-eligible', 'vote in the control plane (default)')
    .option('--no-master-eligible', 'never vote: follow the control plane as a learner')
    .option('--seeds <list>', 'comma-separated host:port or nodeId@host:port; the seeds are the initial voters')
    .option('--dns-srv <name>', 'discover peers through this DNS SRV name')
    .option('--peer-route <nodeId=host:port>', 'dial that peer at this address (a proxy, a NAT); repeatable', (value: string, previous: string[] = []) => [...previous, value])
  for (const entry of securityServerFlags) command.option(entry.flag, entry.description)
  command
    .action(async (flags: ServerFlags) => {
      await runServer(flags)
    })
}

/** Every verb of the `railgun` command: the node itself, then the client verbs (pub, sub, req, reply). */
export const commandRegistrars: CommandRegistrar[] = [registerServerCommand, registerClientCommands, (program) => registerAdminCommands(program), (program) => registerLogLevelCommand(program), registerDevCommand, (program) => registerAccessCommands(program)]

export function createProgram(registrars: readonly CommandRegistrar[] = commandRegistrars): Command {
  const program = new Command('railgun')
  program.description('Railgun: streams, topics and request/reply over the NATS protocol').version(railgunVersion)
  for (const register of registrars) register(program)
  return program
}

export async function main(argv: string[], registrars: readonly CommandRegistrar[] = commandRegistrars): Promise<void> {
  const program = createProgram(registrars)
  program.exitOverride()
  try {
    await program.parseAsync(argv)
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode
      return
    }
    throw error
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1]
  if (script === undefined) return false
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}

// `tsx server/cli.ts server …` (tests, development); `bin/railgun.js` imports and calls main.
if (isEntryPoint()) await main(process.argv)
