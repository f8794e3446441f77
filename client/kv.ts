// A linearizable KV bucket from the client: get/put/cas/delete/list over the control API, and
// `watch(prefix)`, a cold Observable of the current values followed by every change in revision
// order. Watch subscribes to the bucket's events (`$RG.events.kv.<bucket>.*`) before it reads
// (KV.LIST answers the cluster's `kvRevision` R at the read), emits the read values, then the
// buffered and live events with a revision above R, dropping any revision already emitted: no
// gap, no duplicate while the connection stays up. After a reconnect (events published while
// down are lost) it re-reads and emits the net differences: a put for each key whose revision
// changed, a delete (carrying the read's kvRevision) for each key that is gone.
import { Observable } from 'rxjs'
import { eventSubjectRoot } from '../shared/api/index.js'
import { kvGetResponseSchema, kvListResponseSchema } from '../shared/api/index.js'
import type { KvEntryView } from '../shared/api/index.js'
import { callApi, checked } from './control-api.js'
import type { ApiCallOptions, ApiTransport, ReadOptions } from './control-api.js'
import { ProtocolError } from './errors.js'

const textDecoder = new TextDecoder()

export interface KvEntry {
  readonly bucket: string
  readonly key: string
  readonly value: Uint8Array
  readonly revision: number
  readonly createRevision: number
  /** The value decoded as UTF-8. */
  string(): string
}

/** One watch emission: a current value (`put`) or a change. `value` is set for puts. */
export interface KvChange {
  readonly type: 'put' | 'delete'
  readonly bucket: string
  readonly key: string
  readonly revision: number
  readonly value?: Uint8Array
}

function entryOf(view: KvEntryView): KvEntry {
  const value = new Uint8Array(Buffer.from(view.valueBase64, 'base64'))
  return { bucket: view.bucket, key: view.key, value, revision: view.revision, createRevision: view.createRevision, string: () => textDecoder.decode(value) }
}

function valueFields(value: Uint8Array | string): { value: string } | { valueBase64: string } {
  return typeof value === 'string' ? { value } : { valueBase64: Buffer.from(value).toString('base64') }
}

export class KvBucket {
  constructor(
    private readonly transport: ApiTransport,
    readonly bucket: string,
  ) {}

  /** The entry, or undefined when the key does not exist (RG_ERR_NOT_FOUND when the bucket does not). */
  async get(key: string, options: ReadOptions = {}): Promise<KvEntry | undefined> {
    const answer = await callApi(this.transport, 'KV.GET', { bucket: this.bucket, key, ...(options.stale === true ? { stale: true } : {}) }, options)
    const entry = checked('KV.GET', kvGetResponseSchema, answer).entry
    return entry === null ? undefined : entryOf(entry)
  }

  /** Writes the value; resolves with the new revision. */
  async put(key: string, value: Uint8Array | string, options: ApiCallOptions = {}): Promise<number> {
    const answer = await callApi(this.transport, 'KV.PUT', { bucket: this.bucket, key, ...valueFields(value) }, options)
    return (answer.details as { revision: number }).revision
  }

  /** Writes only if the key's revision is `expectedRevision` (0 = must not exist); else RG_ERR_REVISION_MISMATCH. */
  async cas(key: string, value: Uint8Array | string, expectedRevision: number, options: ApiCallOptions = {}): Promise<number> {
    const answer = await callApi(this.transport, 'KV.CAS', { bucket: this.bucket, key, ...valueFields(value), expectedRevision }, options)
    return (answer.details as { revision: number }).revision
  }

  /** Deletes the key (a missing key is `unchanged`); `expectedRevision` makes it conditional. Resolves with the outcome. */
  async delete(key: string, condition: { expectedRevision?: number } = {}, options: ApiCallOptions = {}): Promise<string> {
    const answer = await callApi(this.transport, 'KV.DELETE', { bucket: this.bucket, key, ...condition }, options)
    return answer.outcome as string
  }

  /** Entries whose key starts with `prefix`, in key order, and the KV revision they were read at. */
  async listWithRevision(prefix = '', options: ReadOptions = {}): Promise<{ entries: KvEntry[]; kvRevision: number }> {
    const answer = await callApi(this.transport, 'KV.LIST', { bucket: this.bucket, prefix, ...(options.stale === true ? { stale: true } : {}) }, options)
    const listed = checked('KV.LIST', kvListResponseSchema, answer)
    return { entries: listed.entries.map(entryOf), kvRevision: listed.kvRevision }
  }

  async list(prefix = '', options: ReadOptions = {}): Promise<KvEntry[]> {
    return (await this.listWithRevision(prefix, options)).entries
  }

  /** Current values (as `put`s, in key order), then every change in revision order. Cold; unsubscribe to stop. */
  watch(prefix = ''): Observable<KvChange> {
    return new Observable<KvChange>((subscriber) => {
      // undefined while (re-)reading: events wait in `buffered`.
      let snapshotRevision: number | undefined
      let lastRevision = 0
      const buffered: KvChange[] = []
      /** What the subscriber has been told: key → revision. */
      const known = new Map<string, number>()
      const tell = (change: KvChange): void => {
        if (change.type === 'delete') known.delete(change.key)
        else known.set(change.key, change.revision)
        subscriber.next(change)
      }
      const emitChange = (change: KvChange): void => {
        // Invariant: changes go out in strictly increasing revision order, each once.
        if (change.revision <= lastRevision) return
        lastRevision = change.revision
        tell(change)
      }
      const events = this.transport.subscribe(`${eventSubjectRoot}.kv.${this.bucket}.*`).subscribe({
        next: (message) => {
          let change: KvChange
          try {
            change = changeOf(this.bucket, message.subject, message.json())
          } catch (error) {
            subscriber.error(error)
            return
          }
          if (!change.key.startsWith(prefix)) return
          if (snapshotRevision === undefined) buffered.push(change)
          else emitChange(change)
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      })
      const read = async (): Promise<void> => {
        await this.transport.flush() // the server has our interest before we read
        const { entries, kvRevision } = await this.listWithRevision(prefix)
        if (subscriber.closed) return
        const listed = new Set<string>()
        for (const entry of entries) {
          listed.add(entry.key)
          if (known.get(entry.key) !== entry.revision) tell({ type: 'put', bucket: this.bucket, key: entry.key, revision: entry.revision, value: entry.value })
        }
        for (const key of [...known.keys()]) if (!listed.has(key)) tell({ type: 'delete', bucket: this.bucket, key, revision: kvRevision })
        snapshotRevision = kvRevision
        lastRevision = Math.max(lastRevision, kvRevision)
        for (const change of buffered.splice(0)) emitChange(change)
      }
      read().catch((error: unknown) => subscriber.error(error))
      const statusSubscription = this.transport.status$?.subscribe((status) => {
        if (status.type !== 'reconnected' || snapshotRevision === undefined) return
        snapshotRevision = undefined
        read().catch((error: unknown) => subscriber.error(error))
      })
      return () => {
        events.unsubscribe()
        statusSubscription?.unsubscribe()
      }
    })
  }
}

/** A `$RG.events.kv.<bucket>.put|deleted` event as a change. */
function changeOf(bucket: string, subject: string, payload: unknown): KvChange {
  const event = payload as { key?: unknown; revision?: unknown; value?: unknown }
  if (typeof event.key !== 'string' || typeof event.revision !== 'number') throw new ProtocolError(`bad KV event on ${subject}`)
  if (subject.endsWith('.deleted')) return { type: 'delete', bucket, key: event.key, revision: event.revision }
  const value = typeof event.value === 'string' ? new Uint8Array(Buffer.from(event.value, 'base64')) : new Uint8Array(0)
  return { type: 'put', bucket, key: event.key, revision: event.revision, value }
}
