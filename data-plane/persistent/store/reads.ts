// Reads of the event store: by delivery index, by origin sequence range (anti-entropy pulls),
// copies of an id inside the id index's horizon, events in delivery order, index of a time.
// Every read goes to the storage; bounds come from the durable metadata, so a read never
// returns an event whose batch is not synced yet, nor one below the retention head.
import type { Storage } from '../../../shared/storage/index.js'
import { compareBytes, decodeEvent, decodeStorageKey, encodeStorageKey, isValidIncarnation, isValidOrigin, isValidOriginSeq } from '../event.js'
import type { EventPosition, StreamEvent } from '../event.js'
import { compareHlc, encodeHlc, hlcBytes } from '../hlc.js'
import type { Hlc } from '../hlc.js'
import {
  concatBytes,
  eventKey,
  eventsKeySpace,
  groupOfGroupKey,
  groupsKeySpace,
  hlcOfStorageKey,
  idPrefix,
  idsKeySpace,
  indexKey,
  idOfIndexValue,
  indexKeySpace,
  storageKeyOfIndexValue,
  originSeqKey,
  originSeqsKeySpace,
  recordKey,
  recordsKeySpace,
  seqOfOriginSeqKey,
  seqOfRecordKey,
  storageKeyFromOriginSeq,
  storageKeyOfEventKey,
  storageKeyOfIdKey,
  streamEnd,
  streamPrefix,
  fromUtf8,
  utf8,
} from './keys.js'
import { readEntriesMax } from './limits.js'
import type { StreamState } from './stream-meta.js'

/** One delivery of `visitDeliveredIds`: its id (UTF-8; a view valid during the call) and position. */
export type DeliveredIdVisitor = (idUtf8: Uint8Array, wallMs: number, logical: number, origin: string, incarnation: number, originSeq: number) => void

/** The big-endian unsigned 32-bit number at `offset`. */
const u32At = (bytes: Uint8Array, offset: number): number => (((bytes[offset] as number) << 24) | ((bytes[offset + 1] as number) << 16) | ((bytes[offset + 2] as number) << 8) | (bytes[offset + 3] as number)) >>> 0

function decodeStored(bytes: Uint8Array): StreamEvent {
  const decoded = decodeEvent(bytes)
  // Corruption of durable data is not an expected failure: stop loudly.
  if (!decoded.ok) throw decoded.error
  return decoded.value
}

function checkLimit(limit: number): number {
  if (!(Number.isInteger(limit) && limit >= 0)) throw new RangeError(`event store: limit must be an integer >= 0, got ${limit}`)
  return Math.min(limit, readEntriesMax)
}

/** The smallest key after every key that starts with `prefix`. */
function prefixEnd(prefix: Uint8Array): Uint8Array {
  const out = Uint8Array.from(prefix)
  for (let i = out.length - 1; i >= 0; i--) {
    if ((out[i] as number) < 0xff) {
      out[i] = (out[i] as number) + 1
      return out.subarray(0, i + 1)
    }
  }
  throw new Error('event store: no key follows an all-0xff prefix')
}

export class StoreReader {
  readonly #storage: Storage
  readonly #state: (stream: string) => StreamState
  readonly #idIndexWindows: number

  constructor(storage: Storage, state: (stream: string) => StreamState, idIndexWindows: number) {
    this.#storage = storage
    this.#state = state
    this.#idIndexWindows = idIndexWindows
  }

  positionOf(storageKey: Uint8Array): EventPosition {
    const decoded = decodeStorageKey(storageKey)
    if (!decoded.ok) throw decoded.error
    return decoded.value
  }

  /** Copies older than this wallMs are outside the id index (it may still hold them until expiry runs). */
  idHorizonMs(state: StreamState): number {
    return state.highHlc.wallMs - state.config.dedupWindowMs * this.#idIndexWindows
  }

  /**
   * Delivered events from `fromIndex` (raised to the first still stored), at most `limit`: a
   * merge join of the index range with the events range (both in storage order), so events
   * between them that were never delivered (duplicates) are skipped without a lookup each.
   */
  async readByIndex(stream: string, fromIndex: number, limit: number): Promise<Array<{ readonly index: number; readonly event: StreamEvent }>> {
    const state = this.#state(stream)
    const count = checkLimit(limit)
    const from = Math.max(fromIndex, state.head.firstIndex)
    const to = Math.min(from + count, state.deliveredCount)
    if (to <= from) return []
    const wanted: Array<{ index: number; key: Uint8Array }> = []
    let index = from
    for await (const [, value] of this.#storage.range(indexKeySpace, { gte: indexKey(state.streamNo, from), lt: indexKey(state.streamNo, to) })) {
      wanted.push({ index: index++, key: storageKeyOfIndexValue(value) })
    }
    if (wanted.length === 0) return []
    const out: Array<{ index: number; event: StreamEvent }> = []
    let next = 0
    const first = (wanted[0] as { key: Uint8Array }).key
    const last = (wanted[wanted.length - 1] as { key: Uint8Array }).key
    for await (const [key, value] of this.#storage.range(eventsKeySpace, { gte: eventKey(state.streamNo, first), lte: eventKey(state.streamNo, last) })) {
      const storageKey = storageKeyOfEventKey(key)
      // Skip wanted keys that are gone (retention running concurrently).
      while (next < wanted.length && compareBytes((wanted[next] as { key: Uint8Array }).key, storageKey) < 0) next++
      if (next >= wanted.length) break
      const want = wanted[next] as { index: number; key: Uint8Array }
      if (compareBytes(want.key, storageKey) === 0) {
        out.push({ index: want.index, event: decodeStored(value) })
        next++
      }
    }
    return out
  }

  /** Held copies of one origin incarnation's sequence range, in sequence order, at most `limit`. */
  async readByOriginRange(stream: string, range: { readonly originKey: string; readonly fromSeq: number; readonly toSeq: number }, limit: number): Promise<StreamEvent[]> {
    const state = this.#state(stream)
    const count = checkLimit(limit)
    const at = range.originKey.lastIndexOf('#')
    const origin = range.originKey.slice(0, at)
    const incarnation = Number(range.originKey.slice(at + 1))
    if (count === 0 || range.toSeq < range.fromSeq || !Number.isInteger(incarnation)) return []
    const keys: Uint8Array[] = []
    const bounds = { gte: originSeqKey(state.streamNo, origin, incarnation, Math.max(1, range.fromSeq)), lte: originSeqKey(state.streamNo, origin, incarnation, range.toSeq), limit: count }
    for await (const [seqKey, hlc] of this.#storage.range(originSeqsKeySpace, bounds)) {
      const storageKey = storageKeyFromOriginSeq(origin, incarnation, seqOfOriginSeqKey(seqKey), hlc)
      // Below the head: deleted by retention (its range delete may not have run yet).
      if (!state.belowHead(storageKey)) keys.push(eventKey(state.streamNo, storageKey))
    }
    const values = await Promise.all(keys.map((key) => this.#storage.get(eventsKeySpace, key)))
    const out: StreamEvent[] = []
    for (const value of values) if (value !== undefined) out.push(decodeStored(value))
    return out
  }

  /** Copies of `id` with wallMs at or above the id horizon, in delivery order. */
  async copiesOf(stream: string, id: string): Promise<StreamEvent[]> {
    const state = this.#state(stream)
    if (state.config.dedupWindowMs === 0) return []
    const horizon = this.idHorizonMs(state)
    const prefix = idPrefix(state.streamNo, id)
    const keys: Uint8Array[] = []
    for await (const [key] of this.#storage.range(idsKeySpace, { gte: prefix, lt: prefixEnd(prefix), limit: readEntriesMax })) {
      const storageKey = storageKeyOfIdKey(key)
      if (hlcOfStorageKey(storageKey).wallMs < horizon || state.belowHead(storageKey)) continue
      keys.push(eventKey(state.streamNo, storageKey))
    }
    const values = await Promise.all(keys.map((key) => this.#storage.get(eventsKeySpace, key)))
    const out: StreamEvent[] = []
    for (const value of values) if (value !== undefined) out.push(decodeStored(value))
    return out
  }

  events(stream: string, options: { readonly after?: EventPosition; readonly limit?: number }): AsyncIterable<StreamEvent> {
    const state = this.#state(stream)
    const storage = this.#storage
    const lower = options.after === undefined ? undefined : eventKey(state.streamNo, encodeStorageKey(options.after))
    const head = state.head.throughKey === null ? undefined : eventKey(state.streamNo, state.head.throughKey)
    const gt = lower === undefined ? head : head === undefined ? lower : compareBytes(lower, head) > 0 ? lower : head
    const bounds = {
      ...(gt === undefined ? { gte: streamPrefix(state.streamNo) } : { gt }),
      lt: streamEnd(state.streamNo),
      ...(options.limit === undefined ? {} : { limit: options.limit }),
    }
    return {
      [Symbol.asyncIterator]: async function* (): AsyncGenerator<StreamEvent> {
        for await (const [, value] of storage.range(eventsKeySpace, bounds)) yield decodeStored(value)
      },
    }
  }

  /** Binary search over the index (index order = hlc order): ~log2(n) point reads. */
  async indexAtOrAfter(stream: string, hlc: Hlc): Promise<number> {
    const state = this.#state(stream)
    let low = state.head.firstIndex
    let high = state.deliveredCount
    while (low < high) {
      const middle = Math.floor((low + high) / 2)
      const storageKey = await this.#storage.get(indexKeySpace, indexKey(state.streamNo, middle))
      // Retention may have removed it meanwhile: everything below is gone too.
      if (storageKey === undefined || compareHlc(hlcOfStorageKey(storageKey), hlc) < 0) low = middle + 1
      else high = middle
    }
    return low
  }

  /**
   * The highest sequence in `[0, upToSeq]` of one origin incarnation whose copy is at or below
   * `position` in delivery order, with its hlc (null when its entry is gone: retention deleted
   * it; 0 when none is). A binary search over `ps-origin-seqs` (an origin's copies rise in hlc
   * with their sequence): ~log2(upToSeq) point reads. Sequences up to `upToSeq` must be held or
   * deleted by retention (retention never passes the last delivery, so a deleted one counts as
   * at or below `position`). For a restart: the origin's settled prefix.
   */
  async lastSeqAtOrBefore(stream: string, originKey: string, upToSeq: number, position: EventPosition): Promise<{ readonly seq: number; readonly hlc: Hlc | null }> {
    const state = this.#state(stream)
    const at = originKey.lastIndexOf('#')
    const origin = originKey.slice(0, at)
    const incarnation = Number(originKey.slice(at + 1))
    const bound = encodeStorageKey(position)
    const probe = async (seq: number): Promise<{ below: boolean; hlc: Hlc | null }> => {
      const value = await this.#storage.get(originSeqsKeySpace, originSeqKey(state.streamNo, origin, incarnation, seq))
      if (value === undefined) return { below: true, hlc: null }
      return { below: compareBytes(storageKeyFromOriginSeq(origin, incarnation, seq, value), bound) <= 0, hlc: hlcOfStorageKey(storageKeyFromOriginSeq(origin, incarnation, seq, value)) }
    }
    // Invariant: low is at or below the position (0 vacuously), high + 1 is above it.
    let low = 0
    let lowHlc: Hlc | null = null
    let high = upToSeq
    while (low < high) {
      const middle = Math.ceil((low + high) / 2)
      const probed = await probe(middle)
      if (probed.below) {
        low = middle
        lowHlc = probed.hlc
      } else high = middle - 1
    }
    return { seq: low, hlc: lowHlc }
  }

  /**
   * Delivered events from `fromIndex` (raised to the first still stored) up to `toIndex`
   * (exclusive), at most `limit`, as `{id, position}` in delivery order: one scan of the delivery
   * index, which carries ids (`indexValue`); an entry written without its id costs a read of its
   * event. For a restart: the dedup window's survivors.
   */
  async deliveredIds(stream: string, fromIndex: number, toIndex: number, limit: number): Promise<Array<{ readonly index: number; readonly id: string; readonly position: EventPosition }>> {
    const state = this.#state(stream)
    const count = checkLimit(limit)
    const from = Math.max(fromIndex, state.head.firstIndex)
    const to = Math.min(toIndex, from + count, state.deliveredCount)
    if (to <= from) return []
    const out: Array<{ index: number; id: string; position: EventPosition }> = []
    let index = from
    // With its limit the range is fetched in a few large trips to the binding, not 256 entries at
    // a time; values only (the index is implied by the order): half the Buffers.
    for await (const [, value] of this.#storage.range(indexKeySpace, { gte: indexKey(state.streamNo, from), lt: indexKey(state.streamNo, to), limit: to - from, keys: false })) {
      const storageKey = storageKeyOfIndexValue(value)
      let id = idOfIndexValue(value)
      if (id === undefined) {
        const stored = await this.#storage.get(eventsKeySpace, eventKey(state.streamNo, storageKey))
        // Retention may have removed it meanwhile: it is below the head then, out of any window.
        if (stored === undefined) {
          index++
          continue
        }
        id = decodeStored(stored).id
      }
      out.push({ index: index++, id, position: this.positionOf(storageKey) })
    }
    return out
  }

  /**
   * `deliveredIds` for a restart's dedup window, without a string or an object per delivery:
   * calls `visit` with each delivery's id (UTF-8, as stored; a view valid during the call) and
   * position fields, in delivery order, from `fromIndex` (raised to the first still stored) up to
   * `toIndex` (exclusive), at most `limit`. Returns the index after the last one read (`fromIndex`
   * raised: nothing left).
   */
  async visitDeliveredIds(stream: string, fromIndex: number, toIndex: number, limit: number, visit: DeliveredIdVisitor): Promise<number> {
    const state = this.#state(stream)
    const count = checkLimit(limit)
    const from = Math.max(fromIndex, state.head.firstIndex)
    const to = Math.min(toIndex, from + count, state.deliveredCount)
    if (to <= from) return from
    let originBytes: Uint8Array = new Uint8Array(0)
    let origin = ''
    let index = from
    for await (const [, value] of this.#storage.range(indexKeySpace, { gte: indexKey(state.streamNo, from), lt: indexKey(state.streamNo, to), limit: to - from, keys: false })) {
      index++
      // hlc 8 · origin · 0x00 · incarnation u32 · originSeq u64 (a storage key), then the id.
      const terminator = value.indexOf(0, hlcBytes)
      const keyEnd = terminator + 13
      if (terminator < 0 || keyEnd > value.length) throw new Error('event store: corrupt delivery-index value')
      const wallMs = u32At(value, 0) * 2 ** 16 + (u32At(value, 4) >>> 16)
      const logical = u32At(value, 4) & 0xffff
      if (terminator - hlcBytes !== originBytes.length || compareBytes(value.subarray(hlcBytes, terminator), originBytes) !== 0) {
        originBytes = value.slice(hlcBytes, terminator)
        origin = fromUtf8(originBytes)
        if (!isValidOrigin(origin)) throw new Error('event store: corrupt delivery-index value (origin)')
      }
      const incarnation = u32At(value, terminator + 1)
      const originSeq = u32At(value, terminator + 5) * 2 ** 32 + u32At(value, terminator + 9)
      if (!isValidIncarnation(incarnation) || !isValidOriginSeq(originSeq)) throw new Error('event store: corrupt delivery-index value (position)')
      let id = value.subarray(keyEnd)
      if (id.length === 0) {
        // Written before ids were kept: read the event (retention may have removed it meanwhile: below the head then, out of any window).
        const stored = await this.#storage.get(eventsKeySpace, eventKey(state.streamNo, value.subarray(0, keyEnd)))
        if (stored === undefined) continue
        id = utf8(decodeStored(stored).id)
      }
      visit(id, wallMs, logical, origin, incarnation, originSeq)
    }
    return index
  }

  async records(stream: string, fromSeq: number, limit: number): Promise<Array<{ readonly seq: number; readonly record: Uint8Array }>> {
    const state = this.#state(stream)
    const count = checkLimit(Math.min(limit, readEntriesMax))
    const to = Math.min(state.recordCount, fromSeq + count)
    if (to <= fromSeq) return []
    const out: Array<{ seq: number; record: Uint8Array }> = []
    for await (const [key, record] of this.#storage.range(recordsKeySpace, { gte: recordKey(state.streamNo, fromSeq), lt: recordKey(state.streamNo, to) })) out.push({ seq: seqOfRecordKey(key), record })
    return out
  }

  async groups(stream: string): Promise<string[]> {
    const state = this.#state(stream)
    const out: string[] = []
    for await (const [key] of this.#storage.range(groupsKeySpace, { gte: streamPrefix(state.streamNo), lt: streamEnd(state.streamNo) })) out.push(groupOfGroupKey(key))
    return out
  }
}

/** Events-key bound for "every event with hlc below `wallMs`" of a stream. */
export const eventKeyBelowWallMs = (streamNo: number, wallMs: number): Uint8Array => concatBytes(streamPrefix(streamNo), encodeHlc({ wallMs: Math.max(0, wallMs), logical: 0 }))
