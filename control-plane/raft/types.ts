// The Raft core's contract: the values that cross between the pure core and its driver.
// The core (raw-node.ts) is synchronous and deterministic; the driver (real or simulated)
// owns timers, disks and sockets. Shapes follow etcd-raft's so its literature maps over.

/** Node ids are 64-bit in the cluster (hash of host:port); bigint-free decimal strings here. */
export type NodeId = string

export const entryTypes = ['normal', 'confChange'] as const
export type EntryType = (typeof entryTypes)[number]

export interface Entry {
  readonly term: number
  readonly index: number
  readonly type: EntryType
  /** Opaque to Raft; an empty array for the leader's no-op entry. For confChange, an encoded ConfChange. */
  readonly data: Uint8Array
}

/** Persist before sending any message that depends on it (vote replies, append acks). */
export interface HardState {
  readonly term: number
  readonly vote: NodeId | null
  readonly commit: number
}

/** Voters and learners. A joint config (voters outgoing non-empty) is mid-change. */
export interface ConfState {
  readonly voters: readonly NodeId[]
  readonly learners: readonly NodeId[]
  /** Non-empty only during joint consensus. */
  readonly votersOutgoing: readonly NodeId[]
}

export interface SnapshotMetadata {
  readonly index: number
  readonly term: number
  readonly confState: ConfState
}

export interface Snapshot {
  readonly metadata: SnapshotMetadata
  /** The application's state at `metadata.index`, opaque to Raft. */
  readonly data: Uint8Array
}

export const confChangeKinds = ['addVoter', 'addLearner', 'removeNode'] as const
export type ConfChangeKind = (typeof confChangeKinds)[number]

/** One server at a time: a single add or remove per entry. */
export interface ConfChange {
  readonly kind: ConfChangeKind
  readonly nodeId: NodeId
  /** Opaque context for the application (e.g. the node's addresses). */
  readonly context?: Uint8Array
}

export const messageTypes = [
  'hup', // local: start an election (driver or tick)
  'beat', // local: leader heartbeats now
  'prop', // proposal (local or forwarded by a follower)
  'app', // AppendEntries
  'appResp',
  'vote',
  'voteResp',
  'preVote',
  'preVoteResp',
  'snap', // InstallSnapshot
  'heartbeat',
  'heartbeatResp',
  'unreachable', // local: driver reports a peer unreachable
  'snapStatus', // local: driver reports snapshot send finished or failed
  'checkQuorum', // local
  'transferLeader',
  'timeoutNow',
  'readIndex',
  'readIndexResp',
] as const
export type MessageType = (typeof messageTypes)[number]

/**
 * One wire message. Fields unused by a type are left at their zero values so the codec is one
 * flat record (easy to fuzz and to simulate).
 */
export interface Message {
  readonly type: MessageType
  readonly to: NodeId
  readonly from: NodeId
  readonly term: number
  /** app: index of the entry before `entries`; appResp: index acknowledged or rejected. */
  readonly index: number
  /** app: term of the entry at `index`. */
  readonly logTerm: number
  readonly entries: readonly Entry[]
  readonly commit: number
  readonly reject: boolean
  /** appResp on reject: the follower's hint (last index that may match). */
  readonly rejectHint: number
  /** appResp on reject: the term at rejectHint, for fast back-off. */
  readonly rejectHintTerm: number
  readonly snapshot?: Snapshot
  /** readIndex / heartbeat: the request context carried through. */
  readonly context?: Uint8Array
}

/** A linearizable read that became safe: serve reads at `index` once applied >= index. */
export interface ReadState {
  readonly index: number
  readonly requestContext: Uint8Array
}

export const roles = ['follower', 'preCandidate', 'candidate', 'leader'] as const
export type Role = (typeof roles)[number]

/** Volatile state that changed; the driver may log or expose it. */
export interface SoftState {
  readonly leader: NodeId | null
  readonly role: Role
}

/**
 * What the core asks the driver to do, in this order:
 * 1. persist `snapshot` (if any), then `entries`, then `hardState` (if any) — durably (fsync);
 * 2. send `messages` (only after step 1: they may promise what was persisted);
 * 3. apply `snapshot` then `committedEntries` to the state machine, in order;
 * 4. serve `readStates` once the applied index reaches each state's index;
 * 5. call `advance(ready)`.
 * A storage error in step 1 is fatal: the driver stops the node and never sends the messages.
 */
export interface Ready {
  readonly softState?: SoftState
  readonly hardState?: HardState
  readonly entries: readonly Entry[]
  readonly snapshot?: Snapshot
  readonly committedEntries: readonly Entry[]
  readonly messages: readonly Message[]
  readonly readStates: readonly ReadState[]
}

/**
 * Read-only view of stable storage the core consults. Implementations: in-memory (tests and
 * simulator) and RocksDB (the real node). Methods throw a StorageError on I/O failure; the core
 * treats that as fatal for the node.
 */
export interface RaftStorage {
  initialState(): { readonly hardState: HardState; readonly confState: ConfState }
  /** Entries in [lo, hi), at most `bytesMax` bytes (always at least one entry if any). */
  entries(lo: number, hi: number, bytesMax: number): Entry[]
  /** Term of the entry at `index`; the snapshot's index is answerable too. */
  term(index: number): number
  firstIndex(): number
  lastIndex(): number
  snapshot(): Snapshot
}

/** Errors storage may raise; the core distinguishes compaction (expected) from I/O (fatal). */
export const storageErrorKinds = ['compacted', 'unavailable', 'snapshotTemporarilyUnavailable', 'io'] as const
export type StorageErrorKind = (typeof storageErrorKinds)[number]

export class StorageError extends Error {
  override readonly name = 'StorageError'
  constructor(
    readonly kind: StorageErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** A seeded source of randomness injected by the driver (never Math.random inside the core). */
export interface RandomSource {
  /** Uniform integer in [0, n). */
  int(n: number): number
}

export interface RaftConfig {
  readonly id: NodeId
  readonly electionTicks: number
  readonly heartbeatTicks: number
  readonly storage: RaftStorage
  readonly random: RandomSource
  /** Last applied index on restart (entries up to it are not re-delivered as committed). */
  readonly applied?: number
  readonly maxSizePerMsg?: number
  readonly maxInflightMsgs?: number
  readonly maxInflightBytes?: number
  readonly maxUncommittedEntriesSize?: number
  readonly preVote?: boolean
  readonly checkQuorum?: boolean
  /** Drop proposals when there is no leader instead of forwarding. */
  readonly disableProposalForwarding?: boolean
}
