// The dedup window of an orderer (issue #5: a node's memory must not grow with its stream):
// each delivered id's last survivor while a later copy could still fold into it, kept in typed
// arrays as a 64-bit FINGERPRINT of the id plus the survivor's position — ~40–60 bytes per id
// and nothing on the V8 heap per id (a million ids as strings and map entries were ~80–110 MB
// and a large part of every major GC's work). Pure and deterministic.
//
// EXACT, NOT PROBABILISTIC. A fingerprint only says where to look: a copy whose fingerprint
// matches no survivor is certainly not a duplicate (equal ids have equal fingerprints); a match
// is confirmed against the survivor's REAL id before any verdict. That id comes from the
// caller's `IdLookup` (a copy still in memory), from ids learned earlier (`learnId`), or is
// missing: then the verdict is `{ unresolved: positions }` and nothing changes — the caller
// reads those survivors' ids from its store (the replica asks its driver, `ready().reads`),
// hands them to `learnId`, and asks again. Matches are rare (a producer's retry, or one
// chance in 2^64 per survivor), so the reads are too; a colliding id costs a read, never a
// wrong verdict. One exception, documented where it can occur: a survivor that the store no
// longer holds (retention deleted it inside its window) is learned as `null`, and then the
// fingerprint alone decides (a false "duplicate" needs a 64-bit collision with that survivor).
//
// THE RULE (event-set.ts) applied to copies taken in DELIVERY ORDER: a copy folds into its id's
// last survivor S iff `copy.wallMs − S.wallMs < dedupWindowMs`, else it survives and replaces S.
// A duplicate never becomes a survivor, so S is all a later copy needs; once the taken point is
// a window past S no later copy can fold into it, and it is dropped (`expire`).
//
// Layout: a ring of slots in delivery order (fingerprint 2 × u32, wallMs f64, originSeq f64,
// logical u16, origin index u16: 28 bytes) that grows by half when full and shrinks when a
// quarter full; an open-addressing table (linear probing, u32 slot numbers, load ≤ ½) from
// fingerprint to slot. A replaced survivor's slot stays in the ring, marked dead, until it
// reaches the head.
import { compareHlc } from './hlc.js'
import type { Hlc } from './hlc.js'
import type { EventPosition } from './event.js'

/** One survivor with its id (what a restart restores from the store's delivery index). */
export interface WindowSurvivor {
  readonly id: string
  readonly position: EventPosition
}

/** One survivor as the window keeps it: the id's fingerprint (16 hex digits) and the position. */
export interface WindowEntry {
  readonly fingerprint: string
  readonly position: EventPosition
}

/**
 * The id of the copy at `position` if the caller knows it without I/O (e.g. the copy is still
 * in memory), else undefined.
 */
export type IdLookup = (position: EventPosition) => string | undefined

/** Survivors whose ids must be learned (`learnId`) before the window can answer. */
export interface UnresolvedIds {
  readonly unresolved: readonly EventPosition[]
}

export const isUnresolved = (answer: EventPosition | UnresolvedIds | null): answer is UnresolvedIds => answer !== null && 'unresolved' in answer

/** Initial slots of the ring (and half the initial table). */
const ringInitialSlots = 1024
/** The ring grows by this factor when full (less slack than doubling at a million ids). */
const ringGrowthFactor = 1.5
/** The table is rehashed larger when live entries pass this share of it, smaller below a quarter of that. */
const tableLoadMax = 0.5
/** Origin incarnations the window can name (u16 slots; the last value marks a dead slot). */
const windowOriginsMax = 0xffff
const deadOrigin = 0xffff
/** What `learnId(position, null)` records: the store no longer holds that survivor. */
const unreadable = Symbol('unreadable')

// murmur3-32 over the id's UTF-8 bytes (as the event codec and the store's delivery index hold
// it, so a restart fingerprints the stored bytes without decoding them), two lanes with
// different seeds. Fingerprints never leave the process (a restart recomputes them), so the
// function may change freely.
const c1 = 0xcc9e2d51
const c2 = 0x1b873593
function mix(h: number, word: number): number {
  let k = Math.imul(word, c1)
  k = (k << 15) | (k >>> 17)
  k = Math.imul(k, c2)
  let x = h ^ k
  x = (x << 13) | (x >>> 19)
  return (Math.imul(x, 5) + 0xe6546b64) | 0
}
function finish(h: number, length: number): number {
  let x = h ^ length
  x ^= x >>> 16
  x = Math.imul(x, 0x85ebca6b)
  x ^= x >>> 13
  x = Math.imul(x, 0xc2b2ae35)
  x ^= x >>> 16
  return x >>> 0
}
/** The last fingerprint computed (two lanes), so a lookup allocates nothing. */
let fingerprintHigh = 0
let fingerprintLow = 0
// The hash under way: lanes, the partial little-endian word, its bit count, the byte count.
let laneHigh = 0
let laneLow = 0
let word = 0
let wordBits = 0
let byteCount = 0
function hashStart(): void {
  laneHigh = 0x9747b28c
  laneLow = 0x2545f491
  word = 0
  wordBits = 0
  byteCount = 0
}
function hashByte(byte: number): void {
  word |= byte << wordBits
  wordBits += 8
  byteCount++
  if (wordBits === 32) {
    laneHigh = mix(laneHigh, word)
    laneLow = mix(laneLow, word ^ 0x5bd1e995)
    word = 0
    wordBits = 0
  }
}
function hashEnd(): void {
  if (wordBits > 0) {
    laneHigh = mix(laneHigh, word)
    laneLow = mix(laneLow, word ^ 0x5bd1e995)
  }
  fingerprintHigh = finish(laneHigh, byteCount)
  fingerprintLow = finish(laneLow, byteCount)
}
/** Of a string, over its UTF-8 encoding as `TextEncoder` makes it (a lone surrogate is U+FFFD), without encoding it. */
function fingerprint(id: string): void {
  hashStart()
  const n = id.length
  for (let i = 0; i < n; i++) {
    let c = id.charCodeAt(i)
    if (c < 0x80) {
      hashByte(c)
      continue
    }
    if (c < 0x800) {
      hashByte(0xc0 | (c >> 6))
      hashByte(0x80 | (c & 0x3f))
      continue
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const next = id.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        const point = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00)
        hashByte(0xf0 | (point >> 18))
        hashByte(0x80 | ((point >> 12) & 0x3f))
        hashByte(0x80 | ((point >> 6) & 0x3f))
        hashByte(0x80 | (point & 0x3f))
        i++
        continue
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd
    hashByte(0xe0 | (c >> 12))
    hashByte(0x80 | ((c >> 6) & 0x3f))
    hashByte(0x80 | (c & 0x3f))
  }
  hashEnd()
}
/** Of UTF-8 bytes (an id as stored). */
function fingerprintBytes(bytes: Uint8Array): void {
  hashStart()
  for (let i = 0; i < bytes.length; i++) hashByte(bytes[i] as number)
  hashEnd()
}

/** The 64-bit fingerprint the window keeps for `id`, as 16 hex digits (tests, diagnostics). */
export function idFingerprint(id: string): string {
  fingerprint(id)
  return fingerprintHigh.toString(16).padStart(8, '0') + fingerprintLow.toString(16).padStart(8, '0')
}

const nextPowerOfTwo = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)))

export interface DedupWindowOptions {
  /** Replaces the id fingerprint (tests force collisions with it); two unsigned 32-bit lanes. */
  readonly fingerprintOf?: (id: string) => readonly [high: number, low: number]
}

export class DedupWindow {
  readonly dedupWindowMs: number
  readonly #fingerprintOf: DedupWindowOptions['fingerprintOf']
  // The ring: slots [#head, #head + #count) modulo the capacity, in delivery order.
  #capacity = ringInitialSlots
  #fpHigh = new Uint32Array(ringInitialSlots)
  #fpLow = new Uint32Array(ringInitialSlots)
  #wallMs = new Float64Array(ringInitialSlots)
  #seq = new Float64Array(ringInitialSlots)
  #logical = new Uint16Array(ringInitialSlots)
  #origin = new Uint16Array(ringInitialSlots)
  #head = 0
  #count = 0
  /** Slots in the table (survivors kept); the rest of the ring is dead. */
  #live = 0
  /** Open addressing: slot + 1, 0 = empty. */
  #table = new Uint32Array(2 * ringInitialSlots)
  #tableMask = 2 * ringInitialSlots - 1
  /** Ids learned for slots (confirmed matches): few, one per survivor that had a later copy. */
  #known = new Map<number, string | typeof unreadable>()
  readonly #origins: Array<{ readonly origin: string; readonly incarnation: number }> = []
  readonly #originIndex = new Map<string, Map<number, number>>()
  /** Candidates of the lookup under way (reused), and the fingerprint it looked for. */
  readonly #candidates: number[] = []
  #foundHigh = 0
  #foundLow = 0

  constructor(dedupWindowMs: number, options: DedupWindowOptions = {}) {
    if (!(Number.isInteger(dedupWindowMs) && dedupWindowMs >= 0)) throw new RangeError(`dedup window: dedupWindowMs must be an integer >= 0, got ${dedupWindowMs}`)
    this.dedupWindowMs = dedupWindowMs
    this.#fingerprintOf = options.fingerprintOf
  }

  /** Survivors kept. */
  get size(): number {
    return this.#live
  }

  /** Bytes of the typed arrays (the window's memory but for a few learned ids and origin names). */
  get bytes(): number {
    return this.#fpHigh.byteLength + this.#fpLow.byteLength + this.#wallMs.byteLength + this.#seq.byteLength + this.#logical.byteLength + this.#origin.byteLength + this.#table.byteLength
  }

  /**
   * The verdict on `copy`, the next copy in delivery order: null when it survives (it is then
   * kept as its id's survivor), the position of the survivor it folds into, or the survivors
   * whose ids must be learned first (nothing changed; ask again after `learnId`).
   */
  take(copy: { readonly id: string } & EventPosition, lookup: IdLookup): EventPosition | UnresolvedIds | null {
    if (this.dedupWindowMs === 0) return null
    const found = this.#find(copy.id, lookup)
    if (typeof found !== 'number') return found
    // The copy's fingerprint, as `#find` computed it (the lookup may have hashed something else since).
    const high = this.#foundHigh
    const low = this.#foundLow
    if (found >= 0) {
      if (copy.hlc.wallMs - (this.#wallMs[found] as number) < this.dedupWindowMs) {
        if (!this.#known.has(found)) this.#known.set(found, copy.id) // a third copy needs no read
        return this.#positionAt(found)
      }
      this.#drop(found)
    }
    fingerprintHigh = high
    fingerprintLow = low
    this.#keep(copy)
    return null
  }

  /** The id's last survivor kept, null if none, or the survivors whose ids must be learned first. */
  survivorOf(id: string, lookup: IdLookup): EventPosition | UnresolvedIds | null {
    if (this.dedupWindowMs === 0) return null
    const found = this.#find(id, lookup)
    if (typeof found !== 'number') return found
    return found < 0 ? null : this.#positionAt(found)
  }

  /**
   * The id of the survivor at `position`, read from the store; null when the store no longer
   * holds it (retention): the fingerprint then decides for that survivor. Returns false when no
   * kept survivor is at `position` (it expired meanwhile, or was replaced).
   */
  learnId(position: EventPosition, id: string | null): boolean {
    const slot = this.#slotAt(position)
    if (slot < 0) return false
    if (id !== null) {
      this.#fingerprint(id)
      // Invariant: the id read back at a kept position has the fingerprint kept for it.
      if (this.#fpHigh[slot] !== fingerprintHigh || this.#fpLow[slot] !== fingerprintLow) throw new Error(`dedup window: the id read at ${position.origin}#${position.incarnation}:${position.originSeq} is not the one kept there`)
    }
    this.#known.set(slot, id ?? unreadable)
    return true
  }

  /** Forgets survivors no copy at or after `pointWallMs` can fold into. */
  expire(pointWallMs: number): void {
    while (this.#count > 0) {
      const slot = this.#head
      if (this.#origin[slot] !== deadOrigin) {
        if (pointWallMs - (this.#wallMs[slot] as number) < this.dedupWindowMs) break
        this.#drop(slot)
      }
      this.#head = slot + 1 === this.#capacity ? 0 : slot + 1
      this.#count--
    }
    if (this.#capacity > ringInitialSlots && this.#count < this.#capacity / 4) this.#resize(Math.max(ringInitialSlots, Math.ceil(this.#count * 2)))
  }

  /** The survivors kept, in delivery order (tests; a restart rebuilds the window from the store). */
  entries(): WindowEntry[] {
    const out: WindowEntry[] = []
    for (let i = 0; i < this.#count; i++) {
      const slot = (this.#head + i) % this.#capacity
      if (this.#origin[slot] === deadOrigin) continue
      const fp = (this.#fpHigh[slot] as number).toString(16).padStart(8, '0') + (this.#fpLow[slot] as number).toString(16).padStart(8, '0')
      out.push({ fingerprint: fp, position: this.#positionAt(slot) })
    }
    return out
  }

  /** Survivors taken before a restart, in delivery order (more than the window is harmless). */
  restore(survivors: readonly WindowSurvivor[]): void {
    if (this.dedupWindowMs === 0) return
    for (const s of survivors) {
      if (this.#count > 0) {
        const last = (this.#head + this.#count - 1) % this.#capacity
        const wallMs = this.#wallMs[last] as number
        // Invariant: the ring is in delivery order (expiry walks it from the head).
        if (s.position.hlc.wallMs < wallMs || (s.position.hlc.wallMs === wallMs && s.position.hlc.logical < (this.#logical[last] as number))) throw new RangeError('dedup window: survivors restored out of delivery order')
      }
      this.#fingerprint(s.id)
      this.#keep(s.position)
    }
  }

  /**
   * `restore` of one survivor given as its UTF-8 id bytes and its position's fields (a restart
   * reading the store's delivery index: no string or object per survivor).
   */
  restoreEncoded(idUtf8: Uint8Array, wallMs: number, logical: number, origin: string, incarnation: number, originSeq: number): void {
    if (this.dedupWindowMs === 0) return
    if (this.#count > 0) {
      const last = (this.#head + this.#count - 1) % this.#capacity
      const lastWallMs = this.#wallMs[last] as number
      // Invariant: the ring is in delivery order (expiry walks it from the head).
      if (wallMs < lastWallMs || (wallMs === lastWallMs && logical < (this.#logical[last] as number))) throw new RangeError('dedup window: survivors restored out of delivery order')
    }
    if (this.#fingerprintOf === undefined) fingerprintBytes(idUtf8)
    else this.#fingerprint(new TextDecoder().decode(idUtf8))
    this.#append(wallMs, logical, originSeq, this.#originIndexOf(origin, incarnation))
  }

  /** Makes room for `survivors` more without growing step by step (a restore knows how many it reads, at most). */
  reserve(survivors: number): void {
    if (this.dedupWindowMs === 0 || this.#count + survivors <= this.#capacity) return
    this.#resize(this.#count + survivors)
    if ((this.#live + survivors) > (this.#tableMask + 1) * tableLoadMax) this.#rehash((this.#live + survivors) / tableLoadMax + 1)
  }

  // ---- internals ----

  /** The latest live slot whose id is `id` (-1: none), or the slots to learn first. */
  #find(id: string, lookup: IdLookup): number | UnresolvedIds {
    this.#fingerprint(id)
    const high = fingerprintHigh
    const low = fingerprintLow
    this.#foundHigh = high
    this.#foundLow = low
    const candidates = this.#candidates
    candidates.length = 0
    for (let at = low & this.#tableMask; ; at = (at + 1) & this.#tableMask) {
      const entry = this.#table[at] as number
      if (entry === 0) break
      const slot = entry - 1
      if (this.#fpLow[slot] === low && this.#fpHigh[slot] === high) candidates.push(slot)
    }
    if (candidates.length === 0) return -1
    // Latest first: the id's last survivor is the latest slot holding it (a restore may have kept an older one too).
    if (candidates.length > 1) candidates.sort((a, b) => this.#age(b) - this.#age(a))
    let unresolved: EventPosition[] | null = null
    for (const slot of candidates) {
      let known = this.#known.get(slot)
      if (known === undefined) known = lookup(this.#positionAt(slot))
      if (known === undefined) {
        ;(unresolved ??= []).push(this.#positionAt(slot))
        continue
      }
      if (known === unreadable || known === id) return unresolved === null ? slot : { unresolved }
    }
    return unresolved === null ? -1 : { unresolved }
  }

  /** Sets `fingerprintHigh`/`fingerprintLow` for `id`. */
  #fingerprint(id: string): void {
    if (this.#fingerprintOf === undefined) {
      fingerprint(id)
      return
    }
    const [high, low] = this.#fingerprintOf(id)
    fingerprintHigh = high >>> 0
    fingerprintLow = low >>> 0
  }

  /** How far `slot` is from the head (larger = later in delivery order). */
  #age(slot: number): number {
    return slot >= this.#head ? slot - this.#head : slot + this.#capacity - this.#head
  }

  /** Appends a survivor with the fingerprint last computed. */
  #keep(position: EventPosition): void {
    this.#append(position.hlc.wallMs, position.hlc.logical, position.originSeq, this.#originIndexOf(position.origin, position.incarnation))
  }

  #append(wallMs: number, logical: number, originSeq: number, origin: number): void {
    if (this.#count === this.#capacity) {
      const dead = this.#count - this.#live
      this.#resize(dead >= this.#capacity / 4 ? this.#capacity : Math.ceil(this.#capacity * ringGrowthFactor))
    }
    if (this.#live + 1 > (this.#tableMask + 1) * tableLoadMax) this.#rehash((this.#tableMask + 1) * 2)
    const slot = (this.#head + this.#count) % this.#capacity
    this.#fpHigh[slot] = fingerprintHigh
    this.#fpLow[slot] = fingerprintLow
    this.#wallMs[slot] = wallMs
    this.#logical[slot] = logical
    this.#seq[slot] = originSeq
    this.#origin[slot] = origin
    this.#count++
    this.#live++
    this.#insert(slot)
  }

  /** Takes a live slot out of the table (it stays in the ring, dead, until it reaches the head). */
  #drop(slot: number): void {
    const mask = this.#tableMask
    let hole = (this.#fpLow[slot] as number) & mask
    while ((this.#table[hole] as number) !== slot + 1) hole = (hole + 1) & mask
    // Backward-shift deletion (linear probing keeps no tombstones).
    this.#table[hole] = 0
    for (let at = (hole + 1) & mask; ; at = (at + 1) & mask) {
      const entry = this.#table[at] as number
      if (entry === 0) break
      const home = (this.#fpLow[entry - 1] as number) & mask
      if (((at - home) & mask) >= ((at - hole) & mask)) {
        this.#table[hole] = entry
        this.#table[at] = 0
        hole = at
      }
    }
    this.#origin[slot] = deadOrigin
    this.#known.delete(slot)
    this.#live--
    const tableSize = mask + 1
    if (tableSize > 2 * ringInitialSlots && this.#live < (tableSize * tableLoadMax) / 4) this.#rehash(tableSize / 2)
  }

  #insert(slot: number): void {
    let at = (this.#fpLow[slot] as number) & this.#tableMask
    while ((this.#table[at] as number) !== 0) at = (at + 1) & this.#tableMask
    this.#table[at] = slot + 1
  }

  #rehash(size: number): void {
    this.#table = new Uint32Array(nextPowerOfTwo(size))
    this.#tableMask = this.#table.length - 1
    for (let i = 0; i < this.#count; i++) {
      const slot = (this.#head + i) % this.#capacity
      if (this.#origin[slot] !== deadOrigin) this.#insert(slot)
    }
  }

  /** Moves the live slots to a ring of `capacity` from slot 0 (dead ones are left out). */
  #resize(capacity: number): void {
    const fpHigh = new Uint32Array(capacity)
    const fpLow = new Uint32Array(capacity)
    const wallMs = new Float64Array(capacity)
    const seq = new Float64Array(capacity)
    const logical = new Uint16Array(capacity)
    const origin = new Uint16Array(capacity)
    const known = new Map<number, string | typeof unreadable>()
    let to = 0
    for (let i = 0; i < this.#count; i++) {
      const from = (this.#head + i) % this.#capacity
      if (this.#origin[from] === deadOrigin) continue
      fpHigh[to] = this.#fpHigh[from] as number
      fpLow[to] = this.#fpLow[from] as number
      wallMs[to] = this.#wallMs[from] as number
      seq[to] = this.#seq[from] as number
      logical[to] = this.#logical[from] as number
      origin[to] = this.#origin[from] as number
      const id = this.#known.get(from)
      if (id !== undefined) known.set(to, id)
      to++
    }
    this.#capacity = capacity
    this.#fpHigh = fpHigh
    this.#fpLow = fpLow
    this.#wallMs = wallMs
    this.#seq = seq
    this.#logical = logical
    this.#origin = origin
    this.#known = known
    this.#head = 0
    this.#count = to
    this.#rehash(Math.max(2 * ringInitialSlots, this.#live / tableLoadMax + 1))
  }

  /** The live slot at exactly `position`, or -1 (binary search by hlc: the ring is in delivery order). */
  #slotAt(position: EventPosition): number {
    let lo = 0
    let hi = this.#count
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (compareHlc(this.#hlcAt((this.#head + mid) % this.#capacity), position.hlc) < 0) lo = mid + 1
      else hi = mid
    }
    for (let i = lo; i < this.#count; i++) {
      const slot = (this.#head + i) % this.#capacity
      if (compareHlc(this.#hlcAt(slot), position.hlc) !== 0) break
      const origin = this.#origin[slot] as number
      if (origin === deadOrigin || this.#seq[slot] !== position.originSeq) continue
      const o = this.#origins[origin] as { origin: string; incarnation: number }
      if (o.origin === position.origin && o.incarnation === position.incarnation) return slot
    }
    return -1
  }

  #hlcAt(slot: number): Hlc {
    return { wallMs: this.#wallMs[slot] as number, logical: this.#logical[slot] as number }
  }

  #positionAt(slot: number): EventPosition {
    const o = this.#origins[this.#origin[slot] as number] as { origin: string; incarnation: number }
    return { hlc: this.#hlcAt(slot), origin: o.origin, incarnation: o.incarnation, originSeq: this.#seq[slot] as number }
  }

  #originIndexOf(origin: string, incarnation: number): number {
    let byIncarnation = this.#originIndex.get(origin)
    if (byIncarnation === undefined) this.#originIndex.set(origin, (byIncarnation = new Map()))
    let index = byIncarnation.get(incarnation)
    if (index === undefined) {
      index = this.#origins.length
      // Invariant: far more than an orderer tracks (orderIncarnationsMax).
      if (index >= windowOriginsMax) throw new RangeError(`dedup window: more than ${windowOriginsMax - 1} origin incarnations`)
      this.#origins.push({ origin, incarnation })
      byIncarnation.set(incarnation, index)
    }
    return index
  }
}
