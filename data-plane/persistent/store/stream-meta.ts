// Per-stream metadata of the event store: configuration, counters, version vector, clock
// ceiling, delivery index, retention head and id-expiry cursor. One small record per stream in
// `ps-meta`, rewritten in the same atomic batch as the events it describes, so the record and
// the events never disagree after a crash. Gaps above each origin's contiguous prefix are not
// stored: reopen finds them in `ps-origin-seqs` (bounded by storeGapSeqsPerOriginMax).
import { compareHlc, hlcZero } from '../hlc.js'
import type { Hlc } from '../hlc.js'
import { compareBytes } from '../event.js'

/** Retention per stream; 0 = no limit on that axis. Deletion is from the head only. */
export interface RetentionPolicy {
  /** Events whose hlc wallMs is older than `nowMs − maxAgeMs` (nowMs passed to `maintain`). */
  readonly maxAgeMs: number
  /** Bytes of stored events (key + value). */
  readonly maxBytes: number
  readonly maxCount: number
}

export const noRetention: RetentionPolicy = Object.freeze({ maxAgeMs: 0, maxBytes: 0, maxCount: 0 })

export interface StreamConfig {
  /** 0 = no dedup: no id index is kept. */
  readonly dedupWindowMs: number
  readonly retention: RetentionPolicy
}

/** What was cut from the head by retention. */
export interface StreamHead {
  /** Storage key of the last deleted event (inclusive), or null when nothing was deleted. */
  readonly throughKey: Uint8Array | null
  /** Events deleted so far. */
  readonly deletedCount: number
  /** Delivery index of the first delivered event still stored. */
  readonly firstIndex: number
  /** Highest deleted sequence per origin incarnation (to clear `ps-origin-seqs`). */
  readonly deletedSeqs: ReadonlyMap<string, number>
}

/** The mutable in-memory state of one stream (staged: includes appends not yet synced). */
export class StreamState {
  constructor(
    readonly streamNo: number,
    readonly name: string,
    public config: StreamConfig,
    public count = 0,
    public bytes = 0,
    public highHlc: Hlc = hlcZero,
    public clockCeilingMs = 0,
    public vector = new Map<string, number>(),
    public gaps = new Map<string, Set<number>>(),
    public deliveredCount = 0,
    public lastDeliveredKey: Uint8Array | null = null,
    public head: StreamHead = { throughKey: null, deletedCount: 0, firstIndex: 0, deletedSeqs: new Map() },
    public idExpiredThrough: Uint8Array | null = null,
    /** Decision records appended so far (the next record's sequence). */
    public recordCount = 0,
  ) {}

  clone(): StreamState {
    const gaps = new Map<string, Set<number>>()
    for (const [key, set] of this.gaps) if (set.size > 0) gaps.set(key, new Set(set))
    return new StreamState(
      this.streamNo,
      this.name,
      this.config,
      this.count,
      this.bytes,
      this.highHlc,
      this.clockCeilingMs,
      new Map(this.vector),
      gaps,
      this.deliveredCount,
      this.lastDeliveredKey,
      { ...this.head, deletedSeqs: new Map(this.head.deletedSeqs) },
      this.idExpiredThrough,
      this.recordCount,
    )
  }

  holds(originKey: string, seq: number): boolean {
    return seq <= (this.vector.get(originKey) ?? 0) || (this.gaps.get(originKey)?.has(seq) ?? false)
  }

  /** Records a held sequence (not held before); returns false when the gap buffer is full. */
  record(originKey: string, seq: number, gapMax: number): boolean {
    const contiguous = this.vector.get(originKey) ?? 0
    if (seq - contiguous > gapMax) return false
    if (seq !== contiguous + 1) {
      let gaps = this.gaps.get(originKey)
      if (gaps === undefined) {
        gaps = new Set()
        this.gaps.set(originKey, gaps)
      }
      gaps.add(seq)
      if (!this.vector.has(originKey)) this.vector.set(originKey, 0)
      return true
    }
    let next = seq
    const gaps = this.gaps.get(originKey)
    while (gaps?.delete(next + 1) === true) next++
    this.vector.set(originKey, next)
    return true
  }

  noteHlc(hlc: Hlc): void {
    if (compareHlc(hlc, this.highHlc) > 0) this.highHlc = hlc
  }

  /** Whether a storage key lies at or below what retention deleted. */
  belowHead(storageKey: Uint8Array): boolean {
    return this.head.throughKey !== null && compareBytes(storageKey, this.head.throughKey) <= 0
  }
}

const hex = (bytes: Uint8Array | null): string | null => (bytes === null ? null : Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(''))
function unhex(text: string | null): Uint8Array | null {
  if (text === null) return null
  const out = new Uint8Array(text.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(i * 2, i * 2 + 2), 16)
  return out
}

interface StreamMetaJson {
  readonly v: 1
  readonly name: string
  readonly streamNo: number
  readonly dedupWindowMs: number
  readonly retention: RetentionPolicy
  readonly count: number
  readonly bytes: number
  readonly highHlc: readonly [number, number]
  readonly clockCeilingMs: number
  readonly vector: ReadonlyArray<readonly [string, number]>
  readonly deliveredCount: number
  readonly lastDeliveredKey: string | null
  readonly head: { readonly throughKey: string | null; readonly deletedCount: number; readonly firstIndex: number; readonly deletedSeqs: ReadonlyArray<readonly [string, number]> }
  readonly idExpiredThrough: string | null
  readonly recordCount?: number
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeStreamMeta(state: StreamState): Uint8Array {
  const json: StreamMetaJson = {
    v: 1,
    name: state.name,
    streamNo: state.streamNo,
    dedupWindowMs: state.config.dedupWindowMs,
    retention: state.config.retention,
    count: state.count,
    bytes: state.bytes,
    highHlc: [state.highHlc.wallMs, state.highHlc.logical],
    clockCeilingMs: state.clockCeilingMs,
    vector: [...state.vector],
    deliveredCount: state.deliveredCount,
    lastDeliveredKey: hex(state.lastDeliveredKey),
    head: { throughKey: hex(state.head.throughKey), deletedCount: state.head.deletedCount, firstIndex: state.head.firstIndex, deletedSeqs: [...state.head.deletedSeqs] },
    idExpiredThrough: hex(state.idExpiredThrough),
    recordCount: state.recordCount,
  }
  return encoder.encode(JSON.stringify(json))
}

/** Decodes a metadata record; a record that does not parse is corruption (throws). */
export function decodeStreamMeta(bytes: Uint8Array): StreamState {
  const json = JSON.parse(decoder.decode(bytes)) as StreamMetaJson
  if (json.v !== 1 || typeof json.name !== 'string' || !Number.isInteger(json.streamNo)) throw new Error('event store: corrupt stream metadata record')
  return new StreamState(
    json.streamNo,
    json.name,
    { dedupWindowMs: json.dedupWindowMs, retention: { ...json.retention } },
    json.count,
    json.bytes,
    { wallMs: json.highHlc[0], logical: json.highHlc[1] },
    json.clockCeilingMs,
    new Map(json.vector),
    new Map(),
    json.deliveredCount,
    unhex(json.lastDeliveredKey),
    { throughKey: unhex(json.head.throughKey), deletedCount: json.head.deletedCount, firstIndex: json.head.firstIndex, deletedSeqs: new Map(json.head.deletedSeqs) },
    unhex(json.idExpiredThrough),
    json.recordCount ?? 0,
  )
}
