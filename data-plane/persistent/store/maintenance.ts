// Retention and id-index expiry, in bounded steps (maintenanceStepEventsMax events per synced
// batch, at most maintenanceStepsPerCallMax steps per call).
//
// Retention deletes from the head only: it walks events in storage (= delivery) order from
// the head and stops at the first one no limit wants gone, so what remains is a suffix of the
// order and its order is untouched. It never passes the last delivered event: below it nothing
// can be inserted any more (the stability frontier), and appends at or below the head are
// dropped (`belowHead`), so the head never has to move back. Each step writes, in one synced
// batch, the new head and counters (metadata) with point deletes of the id-index entries; the
// events, origin-sequence and delivery-index entries below the head are then removed with
// range deletes (or point deletes in the same batch when the storage has no `deleteRange`).
// A crash between the batch and the range deletes leaves entries below the head that no read
// returns; reopen issues the range deletes again.
//
// Id-index expiry goes by the log's own time: entries of events older than the stream's
// highest hlc minus `dedupWindowMs × idIndexWindows` are deleted (lookups ignore them already).
import type { BatchOperation, Storage } from '../../../shared/storage/index.js'
import { compareBytes, decodeEvent, decodeStorageKey, originKey } from '../event.js'
import type { EventStore } from './event-store.js'
import {
  concatBytes,
  eventKey,
  eventsKeySpace,
  hlcOfStorageKey,
  idKey,
  idsKeySpace,
  indexKey,
  indexKeySpace,
  storageKeyOfIndexValue,
  originSeqKey,
  originSeqsKeySpace,
  storageKeyOfEventKey,
  streamPrefix,
} from './keys.js'
import { maintenanceStepEventsMax, maintenanceStepsPerCallMax } from './limits.js'
import { eventKeyBelowWallMs } from './reads.js'
import type { MaintenanceCallReport } from './observer.js'
import type { StreamState } from './stream-meta.js'

export interface MaintenanceResult {
  readonly deletedEvents: number
  readonly deletedBytes: number
  readonly expiredIds: number
  /** False when the step budget ran out before the work did (call again). */
  readonly done: boolean
}

const successor = (key: Uint8Array): Uint8Array => concatBytes(key, Uint8Array.of(0))
const splitOriginKey = (key: string): { origin: string; incarnation: number } => {
  const at = key.lastIndexOf('#')
  return { origin: key.slice(0, at), incarnation: Number(key.slice(at + 1)) }
}

/** Range deletes of everything below a stream's head (idempotent). */
export async function reissueRangeDeletes(storage: Storage, state: StreamState): Promise<void> {
  if (storage.deleteRange === undefined || state.head.throughKey === null) return
  await storage.deleteRange(eventsKeySpace, { gte: streamPrefix(state.streamNo), lt: successor(eventKey(state.streamNo, state.head.throughKey)) })
  if (state.head.firstIndex > 0) await storage.deleteRange(indexKeySpace, { gte: indexKey(state.streamNo, 0), lt: indexKey(state.streamNo, state.head.firstIndex) })
  for (const [key, seq] of state.head.deletedSeqs) {
    const { origin, incarnation } = splitOriginKey(key)
    await storage.deleteRange(originSeqsKeySpace, { gte: originSeqKey(state.streamNo, origin, incarnation, 0), lt: originSeqKey(state.streamNo, origin, incarnation, seq + 1) })
  }
}

const lowerBound = (streamNo: number, ...keys: ReadonlyArray<Uint8Array | null>): { gt: Uint8Array } | { gte: Uint8Array } => {
  let best: Uint8Array | null = null
  for (const key of keys) if (key !== null && (best === null || compareBytes(key, best) > 0)) best = key
  return best === null ? { gte: streamPrefix(streamNo) } : { gt: eventKey(streamNo, best) }
}

async function retentionStep(store: EventStore, stream: string, nowMs: number): Promise<{ events: number; bytes: number }> {
  const startedMs = performance.now()
  const step = await retentionStepUntimed(store, stream, nowMs)
  if (step.events > 0) store.reportMaintenanceStep({ stream, kind: 'retention', entries: step.events, bytes: step.bytes, durationMs: performance.now() - startedMs })
  return step
}

async function retentionStepUntimed(store: EventStore, stream: string, nowMs: number): Promise<{ events: number; bytes: number }> {
  const staged = store.stagedState(stream)
  const durable = store.durableState(stream)
  const { maxAgeMs, maxBytes, maxCount } = staged.config.retention
  const bound = durable.lastDeliveredKey
  if ((maxAgeMs === 0 && maxBytes === 0 && maxCount === 0) || bound === null) return { events: 0, bytes: 0 }
  const ageCutMs = maxAgeMs > 0 ? nowMs - maxAgeMs : Number.NEGATIVE_INFINITY
  const { streamNo } = durable
  const withIds = staged.config.dedupWindowMs > 0
  let count = 0
  let bytes = 0
  let lastKey: Uint8Array | null = null
  const seqs = new Map<string, number>()
  const operations: BatchOperation[] = []
  const pointDeletes = store.storage.deleteRange === undefined
  const range = store.storage.range(eventsKeySpace, { ...lowerBound(streamNo, durable.head.throughKey), lte: eventKey(streamNo, bound), limit: maintenanceStepEventsMax })
  for await (const [key, value] of range) {
    const storageKey = storageKeyOfEventKey(key)
    const size = key.length + value.length
    const wanted = (maxCount > 0 && staged.count - count > maxCount) || (maxBytes > 0 && staged.bytes - bytes > maxBytes) || hlcOfStorageKey(storageKey).wallMs < ageCutMs
    if (!wanted) break
    count++
    bytes += size
    lastKey = Uint8Array.from(storageKey)
    const position = decodeStorageKey(storageKey)
    if (!position.ok) throw position.error
    const { origin, incarnation, originSeq } = position.value
    seqs.set(originKey(origin, incarnation), Math.max(seqs.get(originKey(origin, incarnation)) ?? 0, originSeq))
    if (withIds && (durable.idExpiredThrough === null || compareBytes(storageKey, durable.idExpiredThrough) > 0)) {
      const event = decodeEvent(value)
      if (!event.ok) throw event.error
      operations.push({ type: 'delete', keySpace: idsKeySpace, key: idKey(streamNo, event.value.id, storageKey) })
    }
    if (pointDeletes) {
      operations.push({ type: 'delete', keySpace: eventsKeySpace, key: Uint8Array.from(key) })
      operations.push({ type: 'delete', keySpace: originSeqsKeySpace, key: originSeqKey(streamNo, origin, incarnation, originSeq) })
    }
  }
  if (lastKey === null) return { events: 0, bytes: 0 }
  // Delivered events among those deleted: the index entries from firstIndex up to lastKey.
  let delivered = 0
  const firstIndex = durable.head.firstIndex
  for await (const [key, value] of store.storage.range(indexKeySpace, { gte: indexKey(streamNo, firstIndex), limit: count })) {
    if (compareBytes(storageKeyOfIndexValue(value), lastKey) > 0) break
    delivered++
    if (pointDeletes) operations.push({ type: 'delete', keySpace: indexKeySpace, key: Uint8Array.from(key) })
  }
  const through = lastKey
  await store.submitOperations(() => {
    // Invariant: only maintenance moves the head, one step at a time.
    if (staged.head.firstIndex !== firstIndex) throw new Error('event store: retention head moved under a step')
    const deletedSeqs = new Map(staged.head.deletedSeqs)
    for (const [key, seq] of seqs) deletedSeqs.set(key, Math.max(deletedSeqs.get(key) ?? 0, seq))
    staged.count -= count
    staged.bytes -= bytes
    staged.head = { throughKey: through, deletedCount: staged.head.deletedCount + count, firstIndex: firstIndex + delivered, deletedSeqs }
    if (staged.idExpiredThrough === null || compareBytes(through, staged.idExpiredThrough) > 0) staged.idExpiredThrough = through
    store.markDirty(stream)
    return operations
  }, operations.length * 48 + 512)
  await reissueRangeDeletes(store.storage, store.durableState(stream))
  return { events: count, bytes }
}

async function idExpiryStep(store: EventStore, stream: string): Promise<number> {
  const startedMs = performance.now()
  const expired = await idExpiryStepUntimed(store, stream)
  if (expired > 0) store.reportMaintenanceStep({ stream, kind: 'ids', entries: expired, bytes: 0, durationMs: performance.now() - startedMs })
  return expired
}

async function idExpiryStepUntimed(store: EventStore, stream: string): Promise<number> {
  const staged = store.stagedState(stream)
  const durable = store.durableState(stream)
  if (staged.config.dedupWindowMs === 0) return 0
  const horizonMs = store.reader.idHorizonMs(durable)
  if (horizonMs <= 0) return 0
  const { streamNo } = durable
  const operations: BatchOperation[] = []
  let lastKey: Uint8Array | null = null
  const range = store.storage.range(eventsKeySpace, { ...lowerBound(streamNo, durable.idExpiredThrough, durable.head.throughKey), lt: eventKeyBelowWallMs(streamNo, horizonMs), limit: maintenanceStepEventsMax })
  for await (const [key, value] of range) {
    const storageKey = Uint8Array.from(storageKeyOfEventKey(key))
    const event = decodeEvent(value)
    if (!event.ok) throw event.error
    operations.push({ type: 'delete', keySpace: idsKeySpace, key: idKey(streamNo, event.value.id, storageKey) })
    lastKey = storageKey
  }
  if (lastKey === null) return 0
  const through = lastKey
  await store.submitOperations(() => {
    if (staged.idExpiredThrough === null || compareBytes(through, staged.idExpiredThrough) > 0) staged.idExpiredThrough = through
    store.markDirty(stream)
    return operations
  }, operations.length * 64 + 512)
  return operations.length
}

/** Runs up to `maintenanceStepsPerCallMax` steps of each kind; `stop()` is asked before every step. */
export async function runMaintenance(store: EventStore, stream: string, nowMs: number, stop: () => boolean = () => false): Promise<MaintenanceCallReport> {
  const startedMs = performance.now()
  let longestStepMs = 0
  const timed = async <T>(step: () => Promise<T>): Promise<T> => {
    const stepStartedMs = performance.now()
    const result = await step()
    longestStepMs = Math.max(longestStepMs, performance.now() - stepStartedMs)
    return result
  }
  let deletedEvents = 0
  let deletedBytes = 0
  let expiredIds = 0
  let steps = 0
  let done = false
  let stopped = false
  while (steps < maintenanceStepsPerCallMax) {
    if (stop()) {
      stopped = true
      break
    }
    steps++
    const step = await timed(() => retentionStep(store, stream, nowMs))
    deletedEvents += step.events
    deletedBytes += step.bytes
    // A step short of its bound stopped at the first event no limit wants gone (or at the
    // delivery bound): done as of its reading. What appends add meanwhile waits for the next
    // call — otherwise, under a steady load with a count or bytes limit, every call would spend
    // its whole step budget deleting two or three events per synced batch.
    if (step.events < maintenanceStepEventsMax) {
      done = true
      break
    }
  }
  let idsDone = false
  while (!stopped && steps < maintenanceStepsPerCallMax * 2) {
    if (stop()) break
    steps++
    const expired = await timed(() => idExpiryStep(store, stream))
    expiredIds += expired
    if (expired < maintenanceStepEventsMax) {
      idsDone = true
      break
    }
  }
  return { stream, deletedEvents, deletedBytes, expiredIds, done: done && idsDone, steps, durationMs: performance.now() - startedMs, longestStepMs }
}
