// The node configuration: one zod schema. Every section is declared once here; the loader
// (`load.ts`) validates each source (YAML file, environment, flags) against the partial form of
// the same sections, so an error names the source and the field.
import { z } from 'zod'
import { boolean, integerIn, nonEmptyString, nonNegativeInteger, offOrIntegerIn, port, positiveInteger, stringList, text } from './fields.js'
import { logLevels } from '../log.js'
import { checkSecurityConfig, securityConfigDefaults, securitySectionShapes } from '../security/config.js'

const mebibyte = 1024 * 1024

/**
 * Named bounds of the storage and stream tunables (config README § Storage and streams says why).
 * - memtable budget: RocksDB's `memtableMemoryBudget` per column family; below 1 MiB a family
 *   flushes tiny files all the time, above 1 GiB one family alone would break any node's budget.
 * - block cache: the binding takes a 32-bit byte count per family; 0 = no block cache.
 * - linger: every ack waits up to the linger; beyond a second it is a misconfiguration.
 * - batch bytes: at least one small event; at most the event store's append-queue bound
 *   (64 MiB), and the binding writes a batch on the JavaScript thread.
 * - maintenance interval: 0 = off; otherwise 100 ms (a pass is never started twice) to one day.
 * - dead-origin grace: replicas hear from each other every 200 ms and a peer counts as heard for
 *   1.5 s, so below 500 ms a live origin would be closed on one late digest; above 10 minutes a
 *   dead origin's unsettled writes would wait that long for delivery.
 */
export const configBounds = {
  memtableBudgetBytes: { min: mebibyte, max: 1024 * mebibyte },
  blockCacheBytes: { min: 0, max: 2 ** 32 - 1 },
  lingerMs: { min: 0, max: 1_000 },
  batchBytesMax: { min: 4_096, max: 64 * mebibyte },
  maintenanceIntervalMs: { min: 100, max: 86_400_000 },
  deadOriginGraceMs: { min: 500, max: 600_000 },
} as const

/**
 * The node's key spaces written continuously (server/node.ts `nodeKeySpaces`): a persistent
 * stream's events and their origin-sequence, id and delivery indexes and its metadata record
 * (every batch), consumer-group progress (every ack), the Raft log (every commit).
 */
export const busyKeySpacesDefault = ['ps-events', 'ps-origin-seqs', 'ps-ids', 'ps-index', 'ps-meta', 'ps-consumer', 'raft-log'] as const

/** Section shapes: each field's validator, without defaults (defaults live in `configDefaults`). */
export const sectionShapes = {
  server: {
    host: nonEmptyString(),
    port: port(),
    httpPort: port(),
    name: nonEmptyString(),
  },
  storage: {
    dataDir: nonEmptyString(),
    /**
     * RocksDB memtable budget per busy column family (level compaction: write buffers of
     * budget/4, at most 6, so a family holds at most ~1.5 × this in memtables; flushed at about 0.5 ×).
     */
    memtableBudgetBytes: integerIn(configBounds.memtableBudgetBytes.min, configBounds.memtableBudgetBytes.max),
    /** RocksDB block cache per busy column family (index and filter blocks live in it too); 0 = none. */
    blockCacheBytes: integerIn(configBounds.blockCacheBytes.min, configBounds.blockCacheBytes.max),
    /**
     * The key spaces written on every publish, ack or commit: they get the two budgets above;
     * every other column family gets 1 MiB of memtables and at most 1 MiB of block cache
     * (shared/storage tuning.ts: the binding has no budget shared between families).
     */
    busyKeySpaces: stringList(),
  },
  limits: {
    maxControlLineBytes: positiveInteger(),
    maxPayloadBytes: positiveInteger(),
    maxPendingBytes: positiveInteger(),
    maxConnections: positiveInteger(),
    maxSubscriptionsPerConnection: positiveInteger(),
    pingIntervalMs: positiveInteger(),
    maxPingsOutstanding: positiveInteger(),
  },
  responses: {
    /** 0 = the server times out only requests that carry `Rg-Timeout-Ms`. */
    defaultTimeoutMs: nonNegativeInteger(),
    maxOpenPerConnection: positiveInteger(),
    /** How long an RS without any timeout is remembered before it is silently forgotten. */
    untimedExpiryMs: positiveInteger(),
  },
  log: {
    level: z.enum(logLevels, { error: `expected one of ${logLevels.join(', ')}` }),
  },
  /**
   * The control plane of this node and how it finds the others. Name rules (cluster, node id,
   * region, zone) and the seed syntax are checked when the node starts (server/cluster), where the
   * cluster's own rules live; here only the types.
   */
  cluster: {
    name: nonEmptyString(),
    /** '' = derived: a 64-bit hash of the advertised peer address (16 hex characters). */
    nodeId: text(),
    /** 0 = any free port. */
    peerPort: port(),
    /** `host:port` peers dial; '' = server host (0.0.0.0 → 127.0.0.1) and the bound peer port. */
    advertise: text(),
    region: nonEmptyString(),
    /** '' = none; otherwise the node tag `zone`. */
    zone: text(),
    masterEligible: boolean(),
    /** `host:port` or `nodeId@host:port`; the master-eligible seeds are the initial voters. */
    seeds: stringList(),
    /** A DNS SRV name resolved at start and every `discoveryIntervalMs`; '' = off. */
    dnsSrv: text(),
    discoveryIntervalMs: positiveInteger(),
    tickMs: positiveInteger(),
    electionTicks: positiveInteger(),
    /** 0 = never snapshot. */
    snapshotEveryEntries: nonNegativeInteger(),
    /** A member whose peer link has been down this long is marked dead by the leader. */
    deadAfterMs: positiveInteger(),
    /**
     * `nodeId=host:port`: dial that peer there instead of its seed or advertised address (a
     * proxy in front of it, a NAT). The handshake still checks the peer's id.
     */
    peerRoutes: stringList(),
  },
  /** Persistent streams on this node: the event store's group commit and retention runs. */
  streams: {
    /** How long the first append into an idle group-commit queue waits for company (0 = the end of the event-loop turn). */
    lingerMs: integerIn(configBounds.lingerMs.min, configBounds.lingerMs.max),
    /** A synced batch is written at once when it reaches this many bytes (keys + values). */
    batchBytesMax: integerIn(configBounds.batchBytesMax.min, configBounds.batchBytesMax.max),
    /** How often retention (age, bytes, count) and id-index expiry run over the open streams; 0 = never. */
    maintenanceIntervalMs: offOrIntegerIn(configBounds.maintenanceIntervalMs.min, configBounds.maintenanceIntervalMs.max),
    /**
     * The stream controller closes an origin it has not heard from this long (a dead or cut-off
     * node) so delivery goes on without it; a shorter grace delivers sooner after a crash, a
     * longer one rides out longer pauses without closing a live origin.
     */
    deadOriginGraceMs: integerIn(configBounds.deadOriginGraceMs.min, configBounds.deadOriginGraceMs.max),
  },
  metrics: {
    /** How often the node publishes its key metrics on `$RG.metrics.<nodeId>`; 0 = never. */
    publishIntervalMs: nonNegativeInteger(),
  },
  /** Client TLS, peer mutual TLS, access control: shared/security/config.ts, docs/security.md. */
  ...securitySectionShapes,
} as const

export const nodeConfigSchema = z
  .object({
    server: z.object(sectionShapes.server).strict(),
    storage: z.object(sectionShapes.storage).strict(),
    limits: z.object(sectionShapes.limits).strict(),
    responses: z.object(sectionShapes.responses).strict(),
    log: z.object(sectionShapes.log).strict(),
    cluster: z.object(sectionShapes.cluster).strict(),
    streams: z.object(sectionShapes.streams).strict(),
    metrics: z.object(sectionShapes.metrics).strict(),
    tls: z.object(sectionShapes.tls).strict(),
    peerTls: z.object(sectionShapes.peerTls).strict(),
    access: z.object(sectionShapes.access).strict(),
  })
  .strict()
  .superRefine((config, context) => {
    checkSecurityConfig(config, context)
    // One message must fit in a connection's outbound budget, or every delivery of a large
    // message would be a slow consumer.
    if (config.limits.maxPayloadBytes > config.limits.maxPendingBytes) {
      context.addIssue({
        code: 'custom',
        path: ['limits', 'maxPayloadBytes'],
        message: `must not exceed limits.maxPendingBytes (${config.limits.maxPendingBytes})`,
      })
    }
  })

export type NodeConfig = z.infer<typeof nodeConfigSchema>

/** One source's contribution: any subset of any section. Unknown keys are errors. */
export const configSourceSchema = z
  .object({
    server: z.object(sectionShapes.server).partial().strict().optional(),
    storage: z.object(sectionShapes.storage).partial().strict().optional(),
    limits: z.object(sectionShapes.limits).partial().strict().optional(),
    responses: z.object(sectionShapes.responses).partial().strict().optional(),
    log: z.object(sectionShapes.log).partial().strict().optional(),
    cluster: z.object(sectionShapes.cluster).partial().strict().optional(),
    streams: z.object(sectionShapes.streams).partial().strict().optional(),
    metrics: z.object(sectionShapes.metrics).partial().strict().optional(),
    tls: z.object(sectionShapes.tls).partial().strict().optional(),
    peerTls: z.object(sectionShapes.peerTls).partial().strict().optional(),
    access: z.object(sectionShapes.access).partial().strict().optional(),
  })
  .strict()

export type ConfigSource = z.infer<typeof configSourceSchema>

export type SectionName = keyof typeof sectionShapes

/** Defaults (the lowest-precedence source). `server.name` defaults to the host name at load. */
export const configDefaults: NodeConfig = {
  server: { host: '0.0.0.0', port: 4222, httpPort: 8222, name: 'railgun' },
  // 8 MiB each: a node holding 10 M events stays well under 512 MB RSS (bench/stream-node-memory.ts).
  storage: { dataDir: './data', memtableBudgetBytes: 8 * mebibyte, blockCacheBytes: 8 * mebibyte, busyKeySpaces: [...busyKeySpacesDefault] },
  limits: {
    maxControlLineBytes: 4096,
    maxPayloadBytes: 1024 * 1024,
    maxPendingBytes: 64 * 1024 * 1024,
    maxConnections: 65536,
    maxSubscriptionsPerConnection: 65536,
    pingIntervalMs: 120_000,
    maxPingsOutstanding: 2,
  },
  responses: { defaultTimeoutMs: 0, maxOpenPerConnection: 65536, untimedExpiryMs: 120_000 },
  log: { level: 'info' },
  cluster: {
    name: 'railgun',
    nodeId: '',
    peerPort: 6222,
    advertise: '',
    region: 'default',
    zone: '',
    masterEligible: true,
    seeds: [],
    dnsSrv: '',
    discoveryIntervalMs: 30_000,
    tickMs: 50,
    electionTicks: 10,
    snapshotEveryEntries: 10_000,
    deadAfterMs: 10_000,
    peerRoutes: [],
  },
  // The event store's own defaults (data-plane/persistent/store/limits.ts); retention every 10 s.
  streams: { lingerMs: 0, batchBytesMax: mebibyte, maintenanceIntervalMs: 10_000, deadOriginGraceMs: 5_000 },
  metrics: { publishIntervalMs: 5_000 },
  ...securityConfigDefaults,
}
