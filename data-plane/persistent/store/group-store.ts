// GroupStore: this node's copy of consumer-group progress (consumer/progress-state.ts) on the
// storage adapter, in its own key space `ps-consumer` — the controller's durable state and every
// replica's copy look the same. Writes go through a GroupCommitter (group-commit.ts): every
// group's changes since its last write share one synced batch, and a write carries only what
// changed (the meta record when term/heads/context moved, one entry per index whose dots
// changed, a delete for an index no longer outstanding), so a busy group costs O(changes) per
// batch, not O(outstanding). Batches are atomic, so the meta and entries on disk always form a
// state the controller really had (never a head without the outstanding entries below it).
//
//   ps-consumer   'm' | group                          → meta JSON {term, heads, context}
//                 'o' | groupLen u16 | group | index u64 → entry JSON [[writer, counter, attempt], …]
//
// `group` = `namespace/stream/group` (UTF-8, at most `groupStoreNameBytesMax`). A driver: it does
// I/O through `Storage` and uses the committer's timers; no `node:*` import.
import { PersistentRejection } from '../errors.js'
import type { BatchOperation, Storage } from '../../../shared/storage/index.js'
import { ProgressState } from '../consumer/progress-state.js'
import { GroupCommitter } from './group-commit.js'
import type { GroupCommitOptions, GroupCommitStats } from './group-commit.js'
import { concatBytes, readU64 } from './keys.js'

/** The key space of group progress copies: open the storage with it. */
export const consumerKeySpace = 'ps-consumer'
/** Longest group key (`namespace/stream/group`) in bytes. */
export const groupStoreNameBytesMax = 1_024
/** Entries read per range call while loading a group. */
export const groupStoreLoadBatchMax = 4_096

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })
const metaTag = encoder.encode('m')
const entryTag = encoder.encode('o')

function groupBytes(group: string): Uint8Array {
  const bytes = encoder.encode(group)
  if (bytes.length === 0 || bytes.length > groupStoreNameBytesMax) throw new PersistentRejection('RG_ERR_INVALID_NAME', `group store: group key must be 1..${groupStoreNameBytesMax} bytes`, { field: 'group' })
  return bytes
}

const metaKey = (group: Uint8Array): Uint8Array => concatBytes(metaTag, group)

function entryPrefix(group: Uint8Array): Uint8Array {
  const length = new Uint8Array(2)
  new DataView(length.buffer).setUint16(0, group.length)
  return concatBytes(entryTag, length, group)
}

function entryKey(prefix: Uint8Array, index: number): Uint8Array {
  const out = new Uint8Array(prefix.length + 8)
  out.set(prefix, 0)
  const view = new DataView(out.buffer)
  view.setUint32(prefix.length, Math.floor(index / 2 ** 32))
  view.setUint32(prefix.length + 4, index % 2 ** 32)
  return out
}

/** The first key after every key starting with `prefix`. */
function prefixEnd(prefix: Uint8Array): Uint8Array {
  const out = prefix.slice()
  for (let i = out.length - 1; i >= 0; i--) {
    if ((out[i] as number) < 0xff) {
      out[i] = (out[i] as number) + 1
      return out.subarray(0, i + 1)
    }
  }
  throw new Error('group store: no key follows an all-0xff prefix')
}

const json = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value))

interface Queued {
  readonly promise: Promise<void>
}

export class GroupStore {
  readonly #storage: Storage
  readonly #committer: GroupCommitter
  /** Per group: a write queued but not sealed yet (later saves join it). */
  readonly #queued = new Map<string, Queued>()
  #closed = false

  private constructor(storage: Storage, options: GroupCommitOptions) {
    this.#storage = storage
    this.#committer = new GroupCommitter(storage, { seal: () => ({ operations: [], durable: () => undefined }) }, options)
  }

  static open(storage: Storage, options: GroupCommitOptions = {}): GroupStore {
    if (!storage.keySpaces.includes(consumerKeySpace)) throw new PersistentRejection('RG_ERR_INVALID_STATE', `group store: the storage was not opened with the key space ${consumerKeySpace}`)
    return new GroupStore(storage, options)
  }

  get commitStats(): GroupCommitStats {
    return this.#committer.stats
  }

  /**
   * Makes `state`'s changes since its last save durable. Resolves once the batch holding them is
   * synced. Saves of one group before its batch is sealed share one write (the dirty parts are
   * taken when the batch is sealed, so the latest changes go in).
   */
  save(group: string, state: ProgressState): Promise<void> {
    if (this.#closed) return Promise.reject(new PersistentRejection('RG_ERR_NOT_READY', 'group store: closed'))
    const queued = this.#queued.get(group)
    if (queued !== undefined) return queued.promise
    const bytes = groupBytes(group)
    const prefix = entryPrefix(bytes)
    const promise = this.#committer.submit({
      bytes: 256 + 64 * state.outstandingCount,
      build: () => {
        this.#queued.delete(group)
        const dirt = state.takeDirty()
        const operations: BatchOperation[] = []
        if (dirt.meta) operations.push({ type: 'put', keySpace: consumerKeySpace, key: metaKey(bytes), value: json(state.meta()) })
        for (const index of dirt.indexes) {
          const entry = state.entry(index)
          const key = entryKey(prefix, index)
          operations.push(entry === undefined ? { type: 'delete', keySpace: consumerKeySpace, key } : { type: 'put', keySpace: consumerKeySpace, key, value: json(entry) })
        }
        return { operations, result: undefined }
      },
    })
    this.#queued.set(group, { promise })
    // A refused submit (queue full, store stopped) must not stick: the next save tries again.
    promise.catch(() => {
      if (this.#queued.get(group)?.promise === promise) this.#queued.delete(group)
    })
    return promise
  }

  /** This node's copy of `group`, or undefined when it has none. Throws on a malformed record. */
  async load(group: string): Promise<ProgressState | undefined> {
    const bytes = groupBytes(group)
    const metaBytes = await this.#storage.get(consumerKeySpace, metaKey(bytes))
    if (metaBytes === undefined) return undefined
    const prefix = entryPrefix(bytes)
    const end = prefixEnd(prefix)
    const entries: Array<readonly [number, unknown]> = []
    let after: Uint8Array | undefined
    for (;;) {
      let read = 0
      for await (const [key, value] of this.#storage.range(consumerKeySpace, { ...(after === undefined ? { gte: prefix } : { gt: after }), lt: end, limit: groupStoreLoadBatchMax })) {
        entries.push([readU64(key, prefix.length), JSON.parse(decoder.decode(value)) as unknown])
        after = key
        read += 1
      }
      if (read < groupStoreLoadBatchMax) break
    }
    const state = ProgressState.fromParts(JSON.parse(decoder.decode(metaBytes)) as unknown, entries)
    if (!state.ok) throw new PersistentRejection('RG_ERR_STORAGE_IO', `group store: the stored progress of ${group} is malformed: ${state.error.message}`)
    return state.value
  }

  /** Removes this node's copy of `group` (durable once the next synced write is). */
  async remove(group: string): Promise<void> {
    const bytes = groupBytes(group)
    const prefix = entryPrefix(bytes)
    const operations: BatchOperation[] = [{ type: 'delete', keySpace: consumerKeySpace, key: metaKey(bytes) }]
    const end = prefixEnd(prefix)
    for (;;) {
      const keys: Uint8Array[] = []
      for await (const [key] of this.#storage.range(consumerKeySpace, { gte: prefix, lt: end, limit: groupStoreLoadBatchMax })) keys.push(key)
      if (keys.length === 0) break
      await this.#committer.submit({ bytes: 32 * keys.length, build: () => ({ operations: keys.map((key) => ({ type: 'delete' as const, keySpace: consumerKeySpace, key })), result: undefined }) })
      if (keys.length < groupStoreLoadBatchMax) break
    }
    await this.#committer.submit({ bytes: 32, build: () => ({ operations, result: undefined }) })
  }

  /** Group keys this node holds a copy of. */
  async groups(): Promise<string[]> {
    const out: string[] = []
    for await (const [key] of this.#storage.range(consumerKeySpace, { gte: metaTag, lt: prefixEnd(metaTag) })) out.push(decoder.decode(key.subarray(metaTag.length)))
    return out
  }

  /** Waits for queued writes, then refuses new ones. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#committer.drain()
    this.#committer.stop(new PersistentRejection('RG_ERR_NOT_READY', 'group store: closed'))
  }
}
