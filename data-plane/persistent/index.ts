// Public entry of the persistent-stream core (pure: no I/O, timers, clocks or randomness).
export { HybridLogicalClock, compareHlc, decodeHlc, encodeHlc, formatHlc, hlcBytes, hlcMax, hlcNow, hlcReceive, hlcZero, isValidHlc, maxHlc, minHlc } from './hlc.js'
export type { Hlc } from './hlc.js'
export {
  compareBytes,
  compareEventOrder,
  copyKeyOf,
  decodeEvent,
  decodeStorageKey,
  encodeEvent,
  encodeStorageKey,
  eventProblem,
  isValidIncarnation,
  isValidOrigin,
  isValidOriginSeq,
  originKey,
  originKeyOf,
} from './event.js'
export type { EventHeader, EventPosition, StreamEvent } from './event.js'
export { VersionTracker, dominates, mergeVersionVectors, missing, versionVectorsEqual } from './version-vector.js'
export type { RecordRefusal, SeqRange, VersionVector } from './version-vector.js'
export { DedupWindow, EventSet, dedupSurvivors } from './event-set.js'
export type { AddedEvent, EventSetOptions, InsertResult, RefusalReason, RefusedEvent, WindowSurvivor } from './event-set.js'
export { Orderer } from './order.js'
export type { CloseDecision, CloseOutcome, Delivery, Heartbeat, OrderSource, OrdererOptions, OriginIncarnation, ResumeAfter, StableBatch } from './order.js'
export { confirmsSegment, segmentsEqual, summarizeHeld, summarizeSegment } from './segment.js'
export type { SegmentSummary } from './segment.js'
export { GroupProgress } from './group-progress.js'
export type { MergeOutcome, OutstandingDot, OutstandingId } from './group-progress.js'
export { ClockSkewError, MalformedEventError, PersistentRejection, failure, success } from './errors.js'
export type { Outcome } from './errors.js'
export { addHash, hash128, hashEquals, hashHex, zeroHash } from './hash.js'
export type { Hash128 } from './hash.js'
export * as persistentLimits from './limits.js'
export * from './replica/index.js'
// The durable event store (a driver over shared/storage: group commit, timers; see store/README.md).
export * from './store/index.js'
// Cross-region shipping (pure; node:zlib compressions in shipping/zlib-compression.ts): see shipping/README.md.
export * from './shipping/index.js'
