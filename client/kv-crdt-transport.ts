// The `CrdtKvTransport` over a real connection: `$RG.KVC.<bucket>.<VERB>` requests (JSON
// request/reply, shared/api/kv-crdt-wire.ts; docs/api.md § CRDT KV buckets), and watches over a
// subscription to a fresh inbox that the serving replica publishes to. Also the bucket definition
// verbs (`CrdtBucketsApi`: ensure, info, remove).
//
// Replicas and revisions. Whichever node the client is connected to answers: its own replica of
// the bucket, or one it forwards to. Revisions are that replica state's own, so the transport
// remembers the last replica that answered for each bucket (`replica` in GET/LIST answers and
// watch messages) and sends it with a watch's `fromRevision`; another replica answers `reset`.
//
// A watch resumes by itself: when the connection comes back (`reconnected`) or the replica ends
// the feed (`end`: its state was rebuilt, the node is stopping), it watches again from the last
// revision it saw — also while the answer is RG_ERR_NOT_READY (a replica still replaying) — with
// doubling pauses (200 ms up to 2 s), at most `watchResumesMax` times in a row without an event in
// between; then it fails with the last reason. The resumed feed is what `fromRevision` gives: the keys changed
// meanwhile (`initial: true`) and another `ready` — or `reset` and the full values when it
// resumed on another replica. Messages are numbered; a gap (messages lost on the way) resumes too.
import { nuid } from '@nats-io/nuid'
import { Observable } from 'rxjs'
import type { Subscription } from 'rxjs'
import {
  kvCrdtGetAnswerSchema,
  kvCrdtInfoAnswerSchema,
  kvCrdtListAnswerSchema,
  kvCrdtSubject,
  kvCrdtWatchAnswerSchema,
  kvCrdtWatchMessageSchema,
  kvCrdtWireDefaults,
  kvCrdtWriteAckSchema,
  mutationResponseSchema,
} from '../shared/api/index.js'
import type { KvCrdtEntryView, KvCrdtInfoAnswer, KvCrdtRequest, KvCrdtVerb, KvCrdtWatchEventView, MutationResponse } from '../shared/api/index.js'
import type { ErrorCode } from '../shared/errors.js'
import { ApiError } from './api-error.js'
import { checked } from './control-api.js'
import { ProtocolError, RailgunClientError } from './errors.js'
import type { CrdtAckLevel, CrdtJsonObject, CrdtKvAck, CrdtKvEntryView, CrdtKvSelector, CrdtKvTransport, CrdtKvWatchEventView, CrdtKvWrite } from './kv-crdt.js'
import type { Message } from './message.js'
import type { RequestOptions } from './request.js'
import type { Status } from './status.js'

/** What the transport uses of the client (RailgunClient has it). */
export interface CrdtKvClientPort {
  requestPromise(subject: string, data: Uint8Array | string, options?: RequestOptions): Promise<Message>
  subscribe(subject: string): Observable<Message>
  publish(subject: string, data: Uint8Array | string): void
  flush(): Promise<void>
  readonly status$?: Observable<Status>
}

/** A write's request waits this much longer than the write's own timeout (the replica answers a timeout itself). */
export const crdtKvAnswerGraceMs = 2_000
/** Reads, watches and definitions wait this long for an answer. */
export const crdtKvRequestTimeoutMsDefault = 10_000
/** Times a watch resumes in a row (no event received in between) before it fails (~35 s of waits: a node restarting). */
export const watchResumesMax = 20
/** Pause before a watch resumes, doubled at each resumption in a row up to `watchResumeDelayMsMax`. */
export const watchResumeDelayMs = 200
export const watchResumeDelayMsMax = 2_000

const writeVerbs: Readonly<Record<CrdtKvWrite['op'], KvCrdtVerb>> = { put: 'PUT', delete: 'DELETE', merge: 'MERGE', increment: 'INCR' }

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const field of Object.values(value)) deepFreeze(field)
    Object.freeze(value)
  }
  return value
}

/** A wire entry as the client API holds it. */
export function entryOfView(view: KvCrdtEntryView): CrdtKvEntryView {
  const common = { key: view.key, revision: view.revision, updatedHlc: view.updatedHlc, conflicts: view.conflicts }
  switch (view.type) {
    case 'bytes':
      return { ...common, value: { type: 'bytes', bytes: new Uint8Array(Buffer.from(view.valueBase64, 'base64')) } }
    case 'json':
      return { ...common, value: { type: 'json', json: deepFreeze(view.json as CrdtJsonObject) } }
    case 'counter':
      return { ...common, value: { type: 'counter', count: BigInt(view.count) } }
  }
}

/** The answer as JSON; `{ok:false}` rejects with ApiError (`KVC.<VERB>`). */
async function call(client: CrdtKvClientPort, bucket: string, verb: KvCrdtVerb, body: object, timeoutMs: number): Promise<Record<string, unknown>> {
  const reply = await client.requestPromise(kvCrdtSubject(bucket, verb), JSON.stringify(body), { timeoutMs })
  let answer: unknown
  try {
    answer = reply.json()
  } catch (error) {
    throw new ProtocolError(`KVC.${verb}: the answer is not JSON (${(error as Error).message})`)
  }
  if (typeof answer !== 'object' || answer === null) throw new ProtocolError(`KVC.${verb}: the answer is not an object`)
  const fields = answer as Record<string, unknown>
  if (fields['ok'] === true) return fields
  const error = fields['error'] as { code?: unknown; message?: unknown; details?: unknown } | undefined
  if (fields['ok'] !== false || typeof error?.code !== 'string' || !error.code.startsWith('RG_ERR_')) throw new ProtocolError(`KVC.${verb}: the answer is not an API envelope`)
  throw new ApiError(`KVC.${verb}`, error.code as ErrorCode, String(error.message), (error.details ?? {}) as Record<string, unknown>)
}

function writeBody(write: CrdtKvWrite, ack: CrdtAckLevel, timeoutMs: number): object {
  const options = { ack, timeoutMs }
  switch (write.op) {
    case 'put':
      return { key: write.key, valueBase64: Buffer.from(write.value).toString('base64'), ...options }
    case 'delete':
      return { key: write.key, ...options }
    case 'merge':
      return { key: write.key, patch: write.patch, ...options }
    case 'increment':
      return { key: write.key, delta: write.delta.toString(), ...options }
  }
}

const eventOfView = (view: Exclude<KvCrdtWatchEventView, { type: 'end' }>): CrdtKvWatchEventView => (view.type === 'value' ? { ...view, entry: entryOfView(view.entry) } : view)

/** The revision a watch event carries (what a resumption starts after). */
function revisionOf(event: CrdtKvWatchEventView): number {
  return event.type === 'value' ? event.entry.revision : event.revision
}

export class WireCrdtKvTransport implements CrdtKvTransport {
  readonly #client: CrdtKvClientPort
  /** The replica that last answered for each bucket (its revisions are the ones the caller holds). */
  readonly #replicas = new Map<string, string>()

  constructor(client: CrdtKvClientPort) {
    this.#client = client
  }

  /** The replica state (`<node>#<incarnation>`) that last answered for `bucket`. */
  replicaOf(bucket: string): string | undefined {
    return this.#replicas.get(bucket)
  }

  async write(bucket: string, write: CrdtKvWrite, options: { readonly ack: CrdtAckLevel; readonly timeoutMs: number }): Promise<CrdtKvAck> {
    const verb = writeVerbs[write.op]
    const answer = await call(this.#client, bucket, verb, writeBody(write, options.ack, options.timeoutMs), options.timeoutMs + crdtKvAnswerGraceMs)
    const ack = checked(`KVC.${verb}`, kvCrdtWriteAckSchema, answer)
    return { bucket: ack.bucket, key: ack.key, origin: ack.origin, hlc: ack.hlc, level: ack.level, replicasHolding: ack.replicasHolding, replicas: ack.replicas }
  }

  async get(bucket: string, key: string): Promise<CrdtKvEntryView | undefined> {
    const answer = checked('KVC.GET', kvCrdtGetAnswerSchema, await call(this.#client, bucket, 'GET', { key }, crdtKvRequestTimeoutMsDefault))
    this.#replicas.set(bucket, answer.replica)
    return answer.entry === null ? undefined : entryOfView(answer.entry)
  }

  async list(bucket: string, prefix: string): Promise<{ readonly entries: readonly CrdtKvEntryView[]; readonly revision: number }> {
    const answer = checked('KVC.LIST', kvCrdtListAnswerSchema, await call(this.#client, bucket, 'LIST', { prefix }, crdtKvRequestTimeoutMsDefault))
    this.#replicas.set(bucket, answer.replica)
    return { entries: answer.entries.map(entryOfView), revision: answer.revision }
  }

  watch(bucket: string, selector: CrdtKvSelector, options: { readonly fromRevision?: number }): Observable<CrdtKvWatchEventView> {
    return new Observable<CrdtKvWatchEventView>((subscriber) => {
      let stopped = false
      let inbox: Subscription | undefined
      let watchId: string | undefined
      let expectedSeq = 1
      // Where a resumption starts: the last revision of a change delivered in revision order.
      let resumePoint = options.fromRevision
      // Until `ready`, a feed replays changes in revision order only when it resumed (else: key order).
      let ordered = false
      let replica = options.fromRevision === undefined ? undefined : this.#replicas.get(bucket)
      let resumes = 0
      let resumeTimer: NodeJS.Timeout | undefined

      const unwatch = (): void => {
        if (watchId === undefined) return
        try {
          this.#client.publish(kvCrdtSubject(bucket, 'UNWATCH'), JSON.stringify({ watchId }))
        } catch {
          // Closed or disconnected: the replica stops the watch itself once the inbox is gone.
        }
        watchId = undefined
      }
      const fail = (error: Error): void => {
        stopped = true
        inbox?.unsubscribe()
        subscriber.error(error)
      }
      const resume = (why: Error): void => {
        if (stopped) return
        inbox?.unsubscribe()
        inbox = undefined
        unwatch()
        resumes += 1
        if (resumes > watchResumesMax) return fail(why)
        clearTimeout(resumeTimer)
        resumeTimer = setTimeout(start, Math.min(watchResumeDelayMs * 2 ** (resumes - 1), watchResumeDelayMsMax))
      }
      const onMessage = (message: Message): void => {
        let parsed
        try {
          parsed = kvCrdtWatchMessageSchema.parse(message.json())
        } catch {
          return fail(new ProtocolError(`KVC.WATCH ${bucket}: a watch message does not match its schema`))
        }
        if (parsed.seq !== expectedSeq) return resume(new ProtocolError(`KVC.WATCH ${bucket}: watch message ${expectedSeq} was lost (got ${parsed.seq})`))
        expectedSeq += 1
        replica = parsed.replica
        this.#replicas.set(bucket, parsed.replica)
        for (const view of parsed.events) {
          if (stopped) return
          if (view.type === 'end') return resume(new ApiError('KVC.WATCH', view.code as ErrorCode, view.message))
          const event = eventOfView(view)
          if (event.type === 'reset') {
            ordered = false
            resumePoint = undefined
          } else if (event.type === 'ready') {
            ordered = true
            resumePoint = event.revision
          } else if (ordered) resumePoint = revisionOf(event)
          resumes = 0
          subscriber.next(event)
        }
      }
      const start = (): void => {
        if (stopped) return
        const deliver = `_INBOX.${nuid.next()}`
        expectedSeq = 1
        ordered = resumePoint !== undefined
        inbox = this.#client.subscribe(deliver).subscribe({ next: onMessage, error: (error: unknown) => fail(error as Error) })
        const body: KvCrdtRequest<'WATCH'> = {
          ...('key' in selector ? { key: selector.key } : { prefix: selector.prefix }),
          ...(resumePoint === undefined ? {} : { fromRevision: resumePoint, ...(replica === undefined ? {} : { replica }) }),
          deliver,
        }
        void this.#client
          .flush()
          .then(() => call(this.#client, bucket, 'WATCH', body, crdtKvRequestTimeoutMsDefault))
          .then((answer) => {
            const started = checked('KVC.WATCH', kvCrdtWatchAnswerSchema, answer)
            watchId = started.watchId
            if (stopped) unwatch()
          })
          .catch((error: unknown) => {
            // A refusal (no such bucket, permission, bad selector) is final; a lost answer resumes.
            if (error instanceof ApiError && error.code !== 'RG_ERR_NOT_READY') fail(error)
            else resume(error as Error)
          })
      }

      const statusSubscription = this.#client.status$?.subscribe((status) => {
        if (status.type === 'reconnected') resume(new RailgunClientError('RG_ERR_CONNECT', `KVC.WATCH ${bucket}: the connection was lost`))
      })
      start()
      return () => {
        stopped = true
        clearTimeout(resumeTimer)
        statusSubscription?.unsubscribe()
        inbox?.unsubscribe()
        unwatch()
      }
    })
  }
}

/** The definition verbs of CRDT buckets (`client.crdtBuckets`). */
export class CrdtBucketsApi {
  constructor(private readonly client: CrdtKvClientPort) {}

  /** Creates the bucket, confirms it (`unchanged`), or with `update: true` changes its placement; a difference without `update` rejects RG_ERR_CONFLICT. */
  async ensure(bucket: string, request: KvCrdtRequest<'ENSURE'> = {}, options: { readonly timeoutMs?: number } = {}): Promise<MutationResponse> {
    return checked('KVC.ENSURE', mutationResponseSchema, await call(this.client, bucket, 'ENSURE', request, options.timeoutMs ?? crdtKvRequestTimeoutMsDefault + kvCrdtWireDefaults.writeTimeoutMs))
  }

  /** The definition, the placement, and the answering node's replica (`local`, null when it holds none). */
  async info(bucket: string, options: { readonly timeoutMs?: number } = {}): Promise<KvCrdtInfoAnswer> {
    return checked('KVC.INFO', kvCrdtInfoAnswerSchema, await call(this.client, bucket, 'INFO', {}, options.timeoutMs ?? crdtKvRequestTimeoutMsDefault))
  }

  async remove(bucket: string, options: { readonly timeoutMs?: number } = {}): Promise<MutationResponse> {
    return checked('KVC.REMOVE', mutationResponseSchema, await call(this.client, bucket, 'REMOVE', {}, options.timeoutMs ?? crdtKvRequestTimeoutMsDefault + kvCrdtWireDefaults.writeTimeoutMs))
  }
}
