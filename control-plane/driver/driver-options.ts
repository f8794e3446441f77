// What a RaftDriver needs and its defaults. Time (clock, timers) and randomness are injected so
// tests can drive ticks and deadlines by hand.
import { randomInt } from 'node:crypto'
import type { Clock } from '../../shared/clock.js'
import type { Logger } from '../../shared/log.js'
import type { Transport } from '../../shared/transport/index.js'
import type { Entry, NodeId, RandomSource, RaftFatalError, SnapshotMetadata } from '../raft/index.js'
import type { WritableRaftStorage } from './durable-raft-storage.js'

/** The replicated application (e.g. the cluster state machine). Deterministic; a throw stops the node. */
export interface RaftApplication<R> {
  /**
   * Applies one committed entry, in log order. For `normal` entries `data` is what was proposed
   * (the driver's request id removed); empty for the leader's no-op. `confChange` entries come
   * through too (the core applies them to the configuration itself).
   */
  apply(entry: Entry): R
  /** The state as of the last applied entry, for a snapshot. */
  snapshot(): Uint8Array
  /** Replaces the state with a snapshot's (on start, and when a leader sends one). */
  restore(data: Uint8Array, metadata: SnapshotMetadata): void
}

/** The timer the driver ticks with (a test passes a manual one). */
export interface DriverTimers {
  setInterval(callback: () => void, intervalMs: number): unknown
  clearInterval(handle: unknown): void
}

export const systemTimers: DriverTimers = {
  setInterval: (callback, intervalMs) => setInterval(callback, intervalMs),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
}

export const systemRandom: RandomSource = { int: (n) => randomInt(n) }

export const driverStopKinds = ['requested', 'storage', 'fatal'] as const
export type DriverStopKind = (typeof driverStopKinds)[number]

/** Why the driver stopped: on request, a storage write failed, or the core / application failed. */
export type DriverStop = { readonly kind: 'requested' } | { readonly kind: 'storage' | 'fatal'; readonly error: RaftFatalError }

export interface RaftDriverOptions<R> {
  readonly id: NodeId
  readonly storage: WritableRaftStorage
  readonly transport: Transport
  readonly application: RaftApplication<R>
  readonly logger: Logger
  readonly tickMs?: number
  readonly electionTicks?: number
  readonly heartbeatTicks?: number
  readonly preVote?: boolean
  readonly checkQuorum?: boolean
  readonly maxSizePerMsg?: number
  readonly maxInflightMsgs?: number
  readonly maxUncommittedEntriesSize?: number
  /** A proposal not applied within this rejects with `timeout`. */
  readonly proposalTimeoutMs?: number
  readonly readTimeoutMs?: number
  readonly pendingProposalsMax?: number
  readonly pendingReadsMax?: number
  /** Snapshot the application and compact the log every this many applied entries (0 = never). */
  readonly snapshotEveryEntries?: number
  readonly clock?: Clock
  readonly timers?: DriverTimers
  readonly random?: RandomSource
  /** Called once, when the driver stops for any reason (also published on `stopped$`). */
  readonly onStopped?: (stop: DriverStop) => void
}

export const driverDefaults = {
  tickMs: 50,
  electionTicks: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  proposalTimeoutMs: 10_000,
  readTimeoutMs: 10_000,
  pendingProposalsMax: 4_096,
  pendingReadsMax: 1_024,
  snapshotEveryEntries: 10_000,
} as const

export interface DriverSettings {
  readonly tickMs: number
  readonly electionTicks: number
  readonly heartbeatTicks: number
  readonly preVote: boolean
  readonly checkQuorum: boolean
  readonly proposalTimeoutMs: number
  readonly readTimeoutMs: number
  readonly pendingProposalsMax: number
  readonly pendingReadsMax: number
  readonly snapshotEveryEntries: number
}

/** Options over defaults; counts must be whole and positive (snapshotEveryEntries may be 0). */
export function resolveDriverSettings(options: Partial<DriverSettings>): DriverSettings {
  const settings: DriverSettings = {
    tickMs: options.tickMs ?? driverDefaults.tickMs,
    electionTicks: options.electionTicks ?? driverDefaults.electionTicks,
    heartbeatTicks: options.heartbeatTicks ?? driverDefaults.heartbeatTicks,
    preVote: options.preVote ?? driverDefaults.preVote,
    checkQuorum: options.checkQuorum ?? driverDefaults.checkQuorum,
    proposalTimeoutMs: options.proposalTimeoutMs ?? driverDefaults.proposalTimeoutMs,
    readTimeoutMs: options.readTimeoutMs ?? driverDefaults.readTimeoutMs,
    pendingProposalsMax: options.pendingProposalsMax ?? driverDefaults.pendingProposalsMax,
    pendingReadsMax: options.pendingReadsMax ?? driverDefaults.pendingReadsMax,
    snapshotEveryEntries: options.snapshotEveryEntries ?? driverDefaults.snapshotEveryEntries,
  }
  for (const [name, value] of Object.entries(settings)) {
    if (typeof value !== 'number') continue
    const minimum = name === 'snapshotEveryEntries' ? 0 : 1
    if (!Number.isSafeInteger(value) || value < minimum) throw new RangeError(`raft driver option ${name} must be an integer >= ${minimum}, got ${value}`)
  }
  return settings
}
