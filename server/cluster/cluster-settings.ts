// The `cluster` config section, checked against the cluster's own rules (control-plane/cluster
// names) and parsed (seeds, advertise). Every problem is a ConfigError naming the field, so
// `railgun server` exits with a clear message before it binds anything.
import { checkName, clusterLimits } from '../../control-plane/cluster/index.js'
import type { NameKind } from '../../control-plane/cluster/index.js'
import type { NodeConfig } from '../../shared/config/index.js'
import { ConfigError } from '../../shared/errors.js'
import { parseHostPort, parsePeerRoute, parseSeed } from './peer-address.js'
import type { HostPort, Seed } from './peer-address.js'

/** Seed entries accepted at most (each is dialed). */
export const seedsMax = 64
/** Peer route entries accepted at most. */
export const peerRoutesMax = 256

export interface ClusterSettings {
  readonly name: string
  /** '' = derived. */
  readonly configuredNodeId: string
  readonly peerPort: number
  /** Undefined = server host (0.0.0.0 → 127.0.0.1) and the bound peer port. */
  readonly advertise: HostPort | undefined
  readonly region: string
  readonly zone: string
  readonly masterEligible: boolean
  readonly seeds: readonly Seed[]
  readonly dnsSrv: string
  readonly discoveryIntervalMs: number
  readonly tickMs: number
  readonly electionTicks: number
  readonly snapshotEveryEntries: number
  readonly deadAfterMs: number
  /** Node id → where to dial it instead of its seed or advertised address. */
  readonly peerRoutes: ReadonlyMap<string, HostPort>
}

function nameProblem(kind: NameKind, field: string, value: string): string | undefined {
  const problem = checkName(kind, field, value)
  return problem === undefined ? undefined : problem.message.replace(`${field}: `, '')
}

function fail(field: string, problem: string): never {
  throw new ConfigError('cluster', `cluster.${field}`, problem)
}

/** Checks and parses `config.cluster`; throws ConfigError (source `cluster`) on the first problem. */
export function clusterSettingsOf(config: NodeConfig): ClusterSettings {
  const cluster = config.cluster
  const nameIssue = nameProblem('region', 'name', cluster.name)
  if (nameIssue !== undefined) fail('name', nameIssue.replace('region name', 'cluster name'))
  if (cluster.nodeId !== '') {
    const idIssue = nameProblem('node', 'nodeId', cluster.nodeId)
    if (idIssue !== undefined) fail('nodeId', idIssue)
  }
  const regionIssue = nameProblem('region', 'region', cluster.region)
  if (regionIssue !== undefined) fail('region', regionIssue)
  if (cluster.zone.length > clusterLimits.tagValueLengthMax) fail('zone', `longer than ${clusterLimits.tagValueLengthMax} characters`)
  let advertise: HostPort | undefined
  if (cluster.advertise !== '') {
    const parsed = parseHostPort(cluster.advertise)
    if (!parsed.ok) fail('advertise', `${parsed.problem} (expected host:port)`)
    advertise = parsed.value
  }
  if (cluster.seeds.length > seedsMax) fail('seeds', `at most ${seedsMax} entries`)
  const seeds: Seed[] = []
  for (const entry of cluster.seeds) {
    const parsed = parseSeed(entry)
    if (!parsed.ok) fail('seeds', parsed.problem)
    if (parsed.value.explicitId) {
      const idIssue = nameProblem('node', 'nodeId', parsed.value.nodeId)
      if (idIssue !== undefined) fail('seeds', `"${entry}": ${idIssue}`)
    }
    const twin = seeds.find((seed) => seed.nodeId === parsed.value.nodeId)
    if (twin !== undefined) fail('seeds', `"${entry}": node id ${twin.nodeId} appears twice`)
    seeds.push(parsed.value)
  }
  if (cluster.peerRoutes.length > peerRoutesMax) fail('peerRoutes', `at most ${peerRoutesMax} entries`)
  const peerRoutes = new Map<string, HostPort>()
  for (const entry of cluster.peerRoutes) {
    const parsed = parsePeerRoute(entry)
    if (!parsed.ok) fail('peerRoutes', parsed.problem)
    const idIssue = nameProblem('node', 'nodeId', parsed.value.nodeId)
    if (idIssue !== undefined) fail('peerRoutes', `"${entry}": ${idIssue}`)
    if (peerRoutes.has(parsed.value.nodeId)) fail('peerRoutes', `"${entry}": node id ${parsed.value.nodeId} appears twice`)
    peerRoutes.set(parsed.value.nodeId, { host: parsed.value.host, port: parsed.value.port })
  }
  if (cluster.dnsSrv !== '' && !/^[A-Za-z0-9_.-]{1,253}$/.test(cluster.dnsSrv)) fail('dnsSrv', `"${cluster.dnsSrv}" is not a DNS name`)
  return {
    name: cluster.name,
    configuredNodeId: cluster.nodeId,
    peerPort: cluster.peerPort,
    advertise,
    region: cluster.region,
    zone: cluster.zone,
    masterEligible: cluster.masterEligible,
    seeds,
    dnsSrv: cluster.dnsSrv,
    discoveryIntervalMs: cluster.discoveryIntervalMs,
    tickMs: cluster.tickMs,
    electionTicks: cluster.electionTicks,
    snapshotEveryEntries: cluster.snapshotEveryEntries,
    deadAfterMs: cluster.deadAfterMs,
    peerRoutes,
  }
}
