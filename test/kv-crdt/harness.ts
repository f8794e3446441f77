// A tiny in-memory replicated harness for CRDT KV buckets: R regions × N replicas, each replica a
// `CrdtKvState`, exchanging operations over a simulated network in virtual time — random delays
// (short inside a region, long between regions), duplicates, drops, partitions between regions
// or around single replicas, per-replica clock skew — plus version-vector anti-entropy that
// repairs whatever was lost. One seed drives everything; the same seed replays the same run.
//
// It stands in for the stream layer (region replication and cross-region shipping) until CRDT
// buckets are wired to it, and implements the client's `CrdtKvTransport` over one replica:
// a write is taken by that replica and acknowledged once a majority of its region's replicas
// hold it (the harness runs virtual time until then, or until the write's timeout).
import { Observable } from 'rxjs'
import { ApiError } from '../../client/api-error.js'
import type { CrdtAckLevel, CrdtKvAck, CrdtKvEntryView, CrdtKvTransport, CrdtKvWatchEventView, CrdtKvWrite } from '../../client/kv-crdt.js'
import { CrdtKvState } from '../../data-plane/kv-crdt/index.js'
import type { GcInput, KvEntry, KvOp, KvWatchEvent, KvWriteRejection } from '../../data-plane/kv-crdt/index.js'
import { compareHlc, hlcZero, maxHlc, minHlc, originKeyOf } from '../../data-plane/persistent/index.js'
import type { Hlc, Outcome } from '../../data-plane/persistent/index.js'

export interface RegionSpec {
  readonly name: string
  readonly replicas: number
}

export interface HarnessOptions {
  readonly regions: readonly RegionSpec[]
  readonly seed: number
  readonly bucket?: string
  /** One-way delay inside a region, ms (uniform in [min, max]). */
  readonly intraRegionDelayMs?: readonly [number, number]
  /** One-way delay between regions, ms. */
  readonly interRegionDelayMs?: readonly [number, number]
  readonly duplicateProbability?: number
  readonly dropProbability?: number
  /** Each replica pulls from one random peer this often. */
  readonly antiEntropyEveryMs?: number
  /** Per-replica physical clock offsets are uniform in ±this. */
  readonly clockSkewMs?: number
  /** Virtual start time (ms since the epoch). */
  readonly startMs?: number
  readonly jsonDocsLoadedMax?: number
}

/** Operations per anti-entropy answer. */
const antiEntropyBatchOpsMax = 500
/** Events processed by one `run` call before it gives up (a runaway simulation is a bug). */
const runEventsMax = 5_000_000

/** mulberry32: small, fast, seedable. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface HarnessReplica {
  readonly id: string
  readonly region: string
  readonly state: CrdtKvState
  readonly skewMs: number
  /** Every operation this replica holds, by writer then sequence (what it can send to peers). */
  readonly log: Map<string, Map<number, KvOp>>
}

interface ScheduledEvent {
  readonly at: number
  readonly order: number
  readonly run: () => void
}

/** Binary min-heap by (at, order): deterministic ties. */
class EventQueue {
  readonly #heap: ScheduledEvent[] = []

  get size(): number {
    return this.#heap.length
  }

  #less(i: number, j: number): boolean {
    const a = this.#heap[i] as ScheduledEvent
    const b = this.#heap[j] as ScheduledEvent
    return a.at < b.at || (a.at === b.at && a.order < b.order)
  }

  #swap(i: number, j: number): void {
    const tmp = this.#heap[i] as ScheduledEvent
    this.#heap[i] = this.#heap[j] as ScheduledEvent
    this.#heap[j] = tmp
  }

  push(event: ScheduledEvent): void {
    this.#heap.push(event)
    for (let i = this.#heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1
      if (!this.#less(i, parent)) break
      this.#swap(i, parent)
      i = parent
    }
  }

  peek(): ScheduledEvent | undefined {
    return this.#heap[0]
  }

  pop(): ScheduledEvent | undefined {
    const top = this.#heap[0]
    const last = this.#heap.pop()
    if (top === undefined || last === undefined || this.#heap.length === 0) return top
    this.#heap[0] = last
    for (let i = 0; ; ) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < this.#heap.length && this.#less(l, m)) m = l
      if (r < this.#heap.length && this.#less(r, m)) m = r
      if (m === i) break
      this.#swap(i, m)
      i = m
    }
    return top
  }
}

export class KvHarness {
  readonly bucket: string
  readonly replicas: readonly HarnessReplica[]
  readonly random: () => number
  readonly stats = { sent: 0, delivered: 0, duplicated: 0, dropped: 0, cut: 0, antiEntropyOps: 0, gcPurged: 0 }
  #now: number
  #order = 0
  readonly #queue = new EventQueue()
  readonly #byId = new Map<string, HarnessReplica>()
  /** Every operation any replica made (the oracle for stability). */
  readonly #issued: KvOp[] = []
  /** Cut links: `a|b` for replica ids or region names (sorted). */
  readonly #cuts = new Set<string>()
  readonly #options: Required<Omit<HarnessOptions, 'regions' | 'seed' | 'bucket' | 'startMs' | 'jsonDocsLoadedMax'>>

  constructor(options: HarnessOptions) {
    this.bucket = options.bucket ?? 'flows'
    this.random = seededRandom(options.seed)
    this.#now = options.startMs ?? 1_700_000_000_000
    this.#options = {
      intraRegionDelayMs: options.intraRegionDelayMs ?? [0.2, 2],
      interRegionDelayMs: options.interRegionDelayMs ?? [20, 120],
      duplicateProbability: options.duplicateProbability ?? 0.05,
      dropProbability: options.dropProbability ?? 0.02,
      antiEntropyEveryMs: options.antiEntropyEveryMs ?? 250,
      clockSkewMs: options.clockSkewMs ?? 30,
    }
    const replicas: HarnessReplica[] = []
    for (const region of options.regions) {
      for (let i = 1; i <= region.replicas; i++) {
        const id = `${region.name}-${i}`
        const skewMs = Math.round((this.random() * 2 - 1) * this.#options.clockSkewMs)
        const state = new CrdtKvState({ bucket: this.bucket, origin: id, incarnation: 1, ...(options.jsonDocsLoadedMax === undefined ? {} : { jsonDocsLoadedMax: options.jsonDocsLoadedMax }) })
        const replica: HarnessReplica = { id, region: region.name, state, skewMs, log: new Map() }
        replicas.push(replica)
        this.#byId.set(id, replica)
      }
    }
    this.replicas = replicas
    for (const replica of replicas) this.#schedule(this.random() * this.#options.antiEntropyEveryMs, () => this.#antiEntropy(replica))
  }

  get now(): number {
    return this.#now
  }

  get issued(): readonly KvOp[] {
    return this.#issued
  }

  replica(id: string): HarnessReplica {
    const replica = this.#byId.get(id)
    if (replica === undefined) throw new Error(`harness: no replica ${id}`)
    return replica
  }

  regionOf(id: string): HarnessReplica[] {
    const region = this.replica(id).region
    return this.replicas.filter((r) => r.region === region)
  }

  physicalMs(replica: HarnessReplica): number {
    return this.#now + replica.skewMs
  }

  #schedule(delayMs: number, run: () => void): void {
    this.#queue.push({ at: this.#now + delayMs, order: this.#order++, run })
  }

  // ---- network ----

  #linkKey(a: string, b: string): string {
    return a < b ? `${a}|${b}` : `${b}|${a}`
  }

  #linkUp(from: HarnessReplica, to: HarnessReplica): boolean {
    return !this.#cuts.has(this.#linkKey(from.id, to.id)) && !this.#cuts.has(this.#linkKey(from.region, to.region)) && !this.#cuts.has(this.#linkKey(from.id, '*')) && !this.#cuts.has(this.#linkKey(to.id, '*'))
  }

  /** Cuts every link between two regions. */
  partitionRegions(a: string, b: string): void {
    this.#cuts.add(this.#linkKey(a, b))
  }

  /** Cuts every link of one replica. */
  isolate(replicaId: string): void {
    this.#cuts.add(this.#linkKey(replicaId, '*'))
  }

  healAll(): void {
    this.#cuts.clear()
  }

  #delay(from: HarnessReplica, to: HarnessReplica): number {
    const [min, max] = from.region === to.region ? this.#options.intraRegionDelayMs : this.#options.interRegionDelayMs
    return min + this.random() * (max - min)
  }

  /** Sends `ops` from one replica to another: delayed, maybe dropped or duplicated, lost if a link is cut at either end of the trip. */
  #send(from: HarnessReplica, to: HarnessReplica, ops: readonly KvOp[]): void {
    this.stats.sent++
    if (!this.#linkUp(from, to)) {
      this.stats.cut++
      return
    }
    if (this.random() < this.#options.dropProbability) {
      this.stats.dropped++
      return
    }
    const copies = this.random() < this.#options.duplicateProbability ? 2 : 1
    if (copies === 2) this.stats.duplicated++
    for (let i = 0; i < copies; i++) {
      this.#schedule(this.#delay(from, to), () => {
        if (!this.#linkUp(from, to)) {
          this.stats.cut++
          return
        }
        this.stats.delivered++
        for (const op of ops) this.#receive(to, op)
      })
    }
  }

  #hold(replica: HarnessReplica, op: KvOp): void {
    const writer = originKeyOf(op.id)
    let ops = replica.log.get(writer)
    if (ops === undefined) {
      ops = new Map()
      replica.log.set(writer, ops)
    }
    ops.set(op.id.originSeq, op)
  }

  #receive(replica: HarnessReplica, op: KvOp): void {
    const outcome = replica.state.apply(op)
    if (outcome.status !== 'applied') return // duplicate, or refused: anti-entropy brings it again
    this.#hold(replica, op)
  }

  /** The replica asks a random peer for what its version vector lacks. */
  #antiEntropy(replica: HarnessReplica): void {
    this.#schedule(this.#options.antiEntropyEveryMs * (0.5 + this.random()), () => this.#antiEntropy(replica))
    const peers = this.replicas.filter((r) => r !== replica)
    const peer = peers[Math.floor(this.random() * peers.length)] as HarnessReplica
    if (!this.#linkUp(replica, peer)) return
    const vector = replica.state.appliedVector()
    this.#schedule(this.#delay(replica, peer), () => {
      if (!this.#linkUp(replica, peer)) return
      const answer: KvOp[] = []
      for (const [writer, ops] of [...peer.log.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
        const have = vector.get(writer) ?? 0
        for (const [seq, op] of [...ops.entries()].sort(([a], [b]) => a - b)) {
          if (seq <= have) continue
          answer.push(op)
          if (answer.length >= antiEntropyBatchOpsMax) break
        }
        if (answer.length >= antiEntropyBatchOpsMax) break
      }
      if (answer.length === 0) return
      this.stats.antiEntropyOps += answer.length
      this.#send(peer, replica, answer)
    })
  }

  // ---- writes ----

  /**
   * A write taken by `replicaId` now: applied there, pushed to every other replica. Returns the
   * operation, or the writer's refusal.
   */
  write(replicaId: string, make: (state: CrdtKvState, physicalMs: number) => Outcome<KvOp, KvWriteRejection>): Outcome<KvOp, KvWriteRejection> {
    const replica = this.replica(replicaId)
    const outcome = make(replica.state, this.physicalMs(replica))
    if (!outcome.ok) return outcome
    const op = outcome.value
    this.#issued.push(op)
    this.#hold(replica, op)
    for (const other of this.replicas) if (other !== replica) this.#send(replica, other, [op])
    return outcome
  }

  /** How many replicas of `region` hold `op`. */
  holding(op: KvOp, region: string): number {
    return this.replicas.filter((r) => r.region === region && r.state.hasApplied(op.id)).length
  }

  // ---- time ----

  /** Runs virtual time forward by `ms` (or until `until` holds). Returns whether `until` held. */
  run(ms: number, until?: () => boolean): boolean {
    const end = this.#now + ms
    for (let events = 0; events < runEventsMax; events++) {
      if (until?.() === true) return true
      const next = this.#queue.peek()
      if (next === undefined || next.at > end) break
      this.#queue.pop()
      this.#now = Math.max(this.#now, next.at)
      next.run()
    }
    if (until?.() === true) return true
    this.#now = Math.max(this.#now, end)
    return false
  }

  /** Whether every replica holds every operation made so far. */
  converged(): boolean {
    return this.replicas.every((replica) => this.#issued.every((op) => replica.state.hasApplied(op.id)))
  }

  /** Runs until every replica holds every operation (anti-entropy repairs losses); false after `maxMs`. */
  settle(maxMs = 60_000): boolean {
    return this.run(maxMs, () => this.converged())
  }

  // ---- garbage collection (the oracle computes what gossip would) ----

  /**
   * The GC input a real deployment would compute from every replica's report: the highest hlc at
   * or below which every made operation is applied everywhere and no replica can make another,
   * and the highest clock.
   */
  gcInput(): GcInput {
    let stable: Hlc | undefined
    let ceiling: Hlc = hlcZero
    for (const replica of this.replicas) {
      stable = stable === undefined ? replica.state.lastHlc : minHlc(stable, replica.state.lastHlc)
      ceiling = maxHlc(ceiling, replica.state.lastHlc)
    }
    for (const op of this.#issued) {
      if (stable === undefined || compareHlc(op.id.hlc, stable) > 0) continue
      if (this.replicas.every((replica) => replica.state.hasApplied(op.id))) continue
      stable = predecessor(op.id.hlc)
    }
    const stableHlc = stable ?? hlcZero
    return { stableHlc, clockCeiling: maxHlc(ceiling, stableHlc) }
  }

  /** Collects garbage on the replicas `pick` chooses (all by default), with the current oracle input. */
  collectGarbage(pick: (replica: HarnessReplica) => boolean = () => true): void {
    const input = this.gcInput()
    for (const replica of this.replicas) if (pick(replica)) this.stats.gcPurged += replica.state.collectGarbage(input).purged
  }

  // ---- the client's transport over one replica ----

  transport(replicaId: string): CrdtKvTransport {
    const replica = this.replica(replicaId)
    return {
      write: async (bucket, request, options) => this.#clientWrite(replica, bucket, request, options),
      get: async (bucket, key) => {
        this.#checkBucket(bucket)
        const entry = replica.state.get(key)
        return entry === undefined ? undefined : entryView(entry)
      },
      list: async (bucket, prefix) => {
        this.#checkBucket(bucket)
        return { entries: replica.state.entriesMatching({ prefix }).map(entryView), revision: replica.state.revision }
      },
      watch: (bucket, selector, options) =>
        new Observable<CrdtKvWatchEventView>((subscriber) => {
          this.#checkBucket(bucket)
          return replica.state.watch(selector, options).subscribe({ next: (event) => subscriber.next(eventView(event)), error: (e: unknown) => subscriber.error(e) })
        }),
    }
  }

  #checkBucket(bucket: string): void {
    if (bucket !== this.bucket) throw new ApiError('KVC', 'RG_ERR_NOT_FOUND', `no CRDT bucket ${bucket}`)
  }

  async #clientWrite(replica: HarnessReplica, bucket: string, request: CrdtKvWrite, options: { ack: CrdtAckLevel; timeoutMs: number }): Promise<CrdtKvAck> {
    this.#checkBucket(bucket)
    const verb = `KVC.${request.op.toUpperCase()}`
    const outcome = this.write(replica.id, (state, physicalMs) => {
      switch (request.op) {
        case 'put':
          return state.put(request.key, request.value, physicalMs)
        case 'delete':
          return state.delete(request.key, physicalMs)
        case 'merge':
          return state.merge(request.key, request.patch, physicalMs)
        case 'increment':
          return state.increment(request.key, request.delta, physicalMs)
      }
    })
    if (!outcome.ok) throw new ApiError(verb, outcome.error.code, outcome.error.message, outcome.error.details)
    const op = outcome.value
    const size = this.regionOf(replica.id).length
    const needed = options.ack === 'write' ? 1 : options.ack === 'all' ? size : Math.floor(size / 2) + 1
    const held = this.run(options.timeoutMs, () => this.holding(op, replica.region) >= needed)
    const holding = this.holding(op, replica.region)
    if (!held) throw new ApiError(verb, 'RG_ERR_REQUEST_TIMEOUT', `${op.key}: ${holding} of ${size} replicas of ${replica.region} hold the write after ${options.timeoutMs} ms (needed ${needed}); it may still spread`, { outcome: 'unknown', holding, needed })
    return { bucket, key: op.key, origin: replica.id, hlc: op.id.hlc, level: options.ack, replicasHolding: holding, replicas: size }
  }

  /** Frees every replica's JSON documents. */
  dispose(): void {
    for (const replica of this.replicas) replica.state.dispose()
  }
}

/** The greatest hlc below `h`. */
function predecessor(h: Hlc): Hlc {
  if (h.logical > 0) return { wallMs: h.wallMs, logical: h.logical - 1 }
  return h.wallMs === 0 ? hlcZero : { wallMs: h.wallMs - 1, logical: 2 ** 16 - 1 }
}

export const entryView = (entry: KvEntry): CrdtKvEntryView => ({ key: entry.key, value: entry.value, revision: entry.revision, updatedHlc: entry.updatedHlc, conflicts: entry.conflicts })

function eventView(event: KvWatchEvent): CrdtKvWatchEventView {
  return event.type === 'value' ? { ...event, entry: entryView(event.entry) } : event
}
