// A CRDT KV bucket (`mode: 'crdt'`) from the client: masterless writes acknowledged by a majority
// of the local region's replicas, converging across regions (docs/kv-crdt.md). Four writes —
// `put` (plain value, last writer wins by HLC), `delete`, `merge` (a JSON merge patch into the
// key's Automerge document: concurrent edits to different fields both survive) and `increment`
// (a PN-counter) — plus `get`, `list` and `watch` (a cold Observable of the current values, then
// every change).
//
// The bucket talks to a `CrdtKvTransport`, not to the connection: `client.kvCrdt(bucket)` gives it
// the wire transport (kv-crdt-transport.ts: `$RG.KVC.<bucket>.<VERB>` requests to a node, which
// serves them from its replica of the bucket or forwards them to one); the tests and
// examples/flow-state.ts also run it over an in-process replicated harness (test/kv-crdt/harness.ts).
// The client checks what it can before sending (argument types, non-empty keys); the replica that
// takes the write checks the rest (key rules, sizes, value types) and refuses with the server's code.
import { map } from 'rxjs'
import type { Observable } from 'rxjs'
import { InvalidArgumentError } from './errors.js'

/** Milliseconds a write waits for its acknowledgement by default. */
export const crdtKvWriteTimeoutMsDefault = 5_000

export type CrdtJsonValue = string | number | boolean | null | readonly CrdtJsonValue[] | { readonly [field: string]: CrdtJsonValue }
export type CrdtJsonObject = { readonly [field: string]: CrdtJsonValue }

export type CrdtKvValue =
  | { readonly type: 'bytes'; readonly bytes: Uint8Array }
  | { readonly type: 'json'; readonly json: CrdtJsonObject }
  | { readonly type: 'counter'; readonly count: bigint }

export interface CrdtHlc {
  readonly wallMs: number
  readonly logical: number
}

/** An entry as a transport hands it over. */
export interface CrdtKvEntryView {
  readonly key: string
  readonly value: CrdtKvValue
  /** The serving replica's revision of the key's last change (resume a watch from it on the same replica). */
  readonly revision: number
  /** The greatest HLC among the writes that make the value: the same on every replica. */
  readonly updatedHlc: CrdtHlc
  /** Writes ignored because they hold another value type (concurrent `merge` and `increment`, or either over a `put`). */
  readonly conflicts: number
}

/**
 * How many replicas hold the write before it is acknowledged: `write` (the replica that took it),
 * `majority` (default: a majority of its region's replica set), `all` (the whole replica set of
 * its region). Other regions receive it asynchronously in every case.
 */
export type CrdtAckLevel = 'write' | 'majority' | 'all'

export interface CrdtKvAck {
  readonly bucket: string
  readonly key: string
  /** The replica that took the write (its origin). */
  readonly origin: string
  /** The write's HLC: its place in last-writer-wins order. */
  readonly hlc: CrdtHlc
  readonly level: CrdtAckLevel
  /** Replicas of the region holding the write when it was acknowledged, and the region's replica-set size. */
  readonly replicasHolding: number
  readonly replicas: number
}

export type CrdtKvWrite =
  | { readonly op: 'put'; readonly key: string; readonly value: Uint8Array }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'merge'; readonly key: string; readonly patch: CrdtJsonObject }
  | { readonly op: 'increment'; readonly key: string; readonly delta: bigint }

export type CrdtKvSelector = { readonly key: string } | { readonly prefix: string }

export type CrdtKvWatchEventView =
  | { readonly type: 'value'; readonly key: string; readonly entry: CrdtKvEntryView; readonly initial: boolean }
  | { readonly type: 'delete'; readonly key: string; readonly revision: number; readonly initial: boolean }
  /** Resumption was not possible: drop what you hold for this watch; the full state follows. */
  | { readonly type: 'reset'; readonly revision: number }
  /** The initial values are out; live changes follow. */
  | { readonly type: 'ready'; readonly revision: number }

/** What a CRDT bucket needs from below: one replica of the bucket in the client's region. */
export interface CrdtKvTransport {
  /** Resolves with the acknowledgement at `ack` level; rejects with the replica's refusal (`RailgunClientError` with its code) or a timeout. */
  write(bucket: string, write: CrdtKvWrite, options: { readonly ack: CrdtAckLevel; readonly timeoutMs: number }): Promise<CrdtKvAck>
  get(bucket: string, key: string): Promise<CrdtKvEntryView | undefined>
  list(bucket: string, prefix: string): Promise<{ readonly entries: readonly CrdtKvEntryView[]; readonly revision: number }>
  watch(bucket: string, selector: CrdtKvSelector, options: { readonly fromRevision?: number }): Observable<CrdtKvWatchEventView>
}

export interface CrdtKvWriteOptions {
  readonly ack?: CrdtAckLevel
  readonly timeoutMs?: number
}

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder()

/** An entry of a CRDT bucket, with typed accessors that throw on the wrong type. */
export class CrdtKvEntry implements CrdtKvEntryView {
  readonly key: string
  readonly value: CrdtKvValue
  readonly revision: number
  readonly updatedHlc: CrdtHlc
  readonly conflicts: number

  constructor(
    readonly bucket: string,
    view: CrdtKvEntryView,
  ) {
    this.key = view.key
    this.value = view.value
    this.revision = view.revision
    this.updatedHlc = view.updatedHlc
    this.conflicts = view.conflicts
  }

  get type(): CrdtKvValue['type'] {
    return this.value.type
  }

  /** A plain value's bytes. */
  bytes(): Uint8Array {
    if (this.value.type !== 'bytes') throw new InvalidArgumentError(`${this.bucket}/${this.key} holds a ${this.value.type} value, not bytes`)
    return this.value.bytes
  }

  /** A plain value decoded as UTF-8. */
  string(): string {
    return textDecoder.decode(this.bytes())
  }

  /** A JSON value (frozen). */
  json<T extends CrdtJsonObject = CrdtJsonObject>(): T {
    if (this.value.type !== 'json') throw new InvalidArgumentError(`${this.bucket}/${this.key} holds a ${this.value.type} value, not json`)
    return this.value.json as T
  }

  /** A counter's value. */
  count(): bigint {
    if (this.value.type !== 'counter') throw new InvalidArgumentError(`${this.bucket}/${this.key} holds a ${this.value.type} value, not a counter`)
    return this.value.count
  }
}

export type CrdtKvWatchEvent =
  | { readonly type: 'value'; readonly key: string; readonly entry: CrdtKvEntry; readonly initial: boolean }
  | { readonly type: 'delete'; readonly key: string; readonly revision: number; readonly initial: boolean }
  | { readonly type: 'reset'; readonly revision: number }
  | { readonly type: 'ready'; readonly revision: number }

const ackLevels: ReadonlySet<string> = new Set<CrdtAckLevel>(['write', 'majority', 'all'])
const deltaMin = -(2n ** 63n)
const deltaMax = 2n ** 63n - 1n

function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) throw new InvalidArgumentError('a CRDT KV key must be a non-empty string')
  return key
}

const isPlainObject = (value: unknown): value is CrdtJsonObject => typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype

export class CrdtKvBucket {
  readonly #ack: CrdtAckLevel
  readonly #timeoutMs: number

  constructor(
    private readonly transport: CrdtKvTransport,
    readonly bucket: string,
    defaults: CrdtKvWriteOptions = {},
  ) {
    this.#ack = this.#level(defaults.ack)
    this.#timeoutMs = this.#timeout(defaults.timeoutMs)
  }

  #level(ack: CrdtAckLevel | undefined): CrdtAckLevel {
    if (ack === undefined) return this.#ack ?? 'majority'
    if (!ackLevels.has(ack)) throw new InvalidArgumentError(`ack must be write, majority or all, not ${String(ack)}`)
    return ack
  }

  #timeout(timeoutMs: number | undefined): number {
    if (timeoutMs === undefined) return this.#timeoutMs ?? crdtKvWriteTimeoutMsDefault
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new InvalidArgumentError(`timeoutMs must be a positive integer, not ${timeoutMs}`)
    return timeoutMs
  }

  #write(write: CrdtKvWrite, options: CrdtKvWriteOptions): Promise<CrdtKvAck> {
    let settings: { ack: CrdtAckLevel; timeoutMs: number }
    try {
      settings = { ack: this.#level(options.ack), timeoutMs: this.#timeout(options.timeoutMs) }
    } catch (error) {
      return Promise.reject(error as Error)
    }
    return this.transport.write(this.bucket, write, settings)
  }

  /** Writes a plain value; the greatest HLC wins (ties: the origin's name). */
  put(key: string, value: Uint8Array | string, options: CrdtKvWriteOptions = {}): Promise<CrdtKvAck> {
    try {
      checkKey(key)
      if (typeof value !== 'string' && !(value instanceof Uint8Array)) throw new InvalidArgumentError('a value must be a Uint8Array or a string')
    } catch (error) {
      return Promise.reject(error as Error)
    }
    return this.#write({ op: 'put', key, value: typeof value === 'string' ? textEncoder.encode(value) : value.slice() }, options)
  }

  /** Deletes the key: a tombstone that replaces the value, and merges and increments not made on top of it. */
  delete(key: string, options: CrdtKvWriteOptions = {}): Promise<CrdtKvAck> {
    try {
      checkKey(key)
    } catch (error) {
      return Promise.reject(error as Error)
    }
    return this.#write({ op: 'delete', key }, options)
  }

  /** Merges a JSON merge patch (RFC 7386: objects merge per field, null removes a field) into the key's JSON value. */
  merge(key: string, patch: CrdtJsonObject, options: CrdtKvWriteOptions = {}): Promise<CrdtKvAck> {
    try {
      checkKey(key)
      if (!isPlainObject(patch)) throw new InvalidArgumentError('a merge patch must be a plain JSON object')
    } catch (error) {
      return Promise.reject(error as Error)
    }
    return this.#write({ op: 'merge', key, patch }, options)
  }

  /** Adds `delta` (a non-zero integer, default 1; negative decrements) to the key's counter. */
  increment(key: string, delta: number | bigint = 1, options: CrdtKvWriteOptions = {}): Promise<CrdtKvAck> {
    let amount: bigint
    try {
      checkKey(key)
      if (typeof delta === 'number' && !Number.isSafeInteger(delta)) throw new InvalidArgumentError(`a delta must be an integer, not ${delta}`)
      amount = BigInt(delta)
      if (amount === 0n || amount < deltaMin || amount > deltaMax) throw new InvalidArgumentError('a delta must be a non-zero signed 64-bit integer')
    } catch (error) {
      return Promise.reject(error as Error)
    }
    return this.#write({ op: 'increment', key, delta: amount }, options)
  }

  /** The key's entry on the serving replica, or undefined when it has no value there. */
  async get(key: string): Promise<CrdtKvEntry | undefined> {
    const view = await this.transport.get(this.bucket, checkKey(key))
    return view === undefined ? undefined : new CrdtKvEntry(this.bucket, view)
  }

  /** Entries whose key starts with `prefix`, in key order, as the serving replica holds them. */
  async list(prefix = ''): Promise<CrdtKvEntry[]> {
    const listed = await this.transport.list(this.bucket, prefix)
    return listed.entries.map((view) => new CrdtKvEntry(this.bucket, view))
  }

  /**
   * The current values of a key (a string) or of every key under a prefix (`{prefix}`), then
   * `ready`, then every change, each once, in the serving replica's revision order. Cold;
   * unsubscribe to stop. `fromRevision` resumes on the same replica (a `reset` says it could not).
   */
  watch(keyOrPrefix: string | { readonly prefix: string }, options: { readonly fromRevision?: number } = {}): Observable<CrdtKvWatchEvent> {
    const selector: CrdtKvSelector = typeof keyOrPrefix === 'string' ? { key: checkKey(keyOrPrefix) } : { prefix: keyOrPrefix.prefix }
    return this.transport.watch(this.bucket, selector, options).pipe(
      map((event): CrdtKvWatchEvent => (event.type === 'value' ? { ...event, entry: new CrdtKvEntry(this.bucket, event.entry) } : event)),
    )
  }
}
