// Forwarding a CRDT KV request from a node that cannot serve it (no replica of the bucket here,
// or one that is not ready or holds no origin slot) to a replica of the bucket in its region, over
// cluster routing (server/routes): every node subscribes cluster-wide to its own internal subject
// `$RG.KVCI.<node>.>`; a request goes to `$RG.KVCI.<replica>.REQ` with the reply subject
// `$RG.KVCI.<node>.R.<n>`, and the replica's answer comes back there. One hop only: a replica
// that cannot serve answers `elsewhere` and the sender tries the next one.
//
// Why not the stream layer's forwarder: it carries finished events to a replica, while a CRDT
// write must be *made* by a replica's state (it names the key's current value as its base, and a
// merge is an Automerge change of the replica's document) — what travels is the request.
//
// `$RG.KVCI.…` is not a client subject: RBAC asks `admin` on `*/*` for it (any other `$…`).
import type { Router } from '../router.js'
import type { KvcReply } from './replies.js'
import { forwardsInFlightMax } from './limits.js'

export const internalSubjectPrefix = '$RG.KVCI'
/** What a node subscribes to, cluster-wide. */
export const internalWildcard = (node: string): string => `${internalSubjectPrefix}.${node}.>`
export const internalRequestSubject = (node: string): string => `${internalSubjectPrefix}.${node}.REQ`
const answerRoot = (node: string): string => `${internalSubjectPrefix}.${node}.R.`

/** What travels to the replica. */
export interface ForwardedRequest {
  readonly bucket: string
  readonly verb: string
  readonly body: unknown
}

/** A replica's answer to a forwarded request: the client's answer, or "not here". */
export type ForwardAnswer = KvcReply | { readonly ok: false; readonly elsewhere: true; readonly reason: string }

export type ForwardOutcome =
  | { readonly kind: 'answer'; readonly reply: KvcReply }
  | { readonly kind: 'elsewhere'; readonly reason: string }
  /** No route to the node (no interest seen from it): nothing was sent. */
  | { readonly kind: 'unreachable' }
  /** Sent, no answer in time: the request may have been served. */
  | { readonly kind: 'timeout' }
  | { readonly kind: 'busy' }

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export class RequestForwarder {
  readonly #router: Router
  readonly #nodeId: string
  readonly #pending = new Map<string, { resolve: (outcome: ForwardOutcome) => void; timer: NodeJS.Timeout }>()
  #counter = 0
  #closed = false

  constructor(router: Router, nodeId: string) {
    this.#router = router
    this.#nodeId = nodeId
  }

  get inFlight(): number {
    return this.#pending.size
  }

  /** Whether `subject` is an answer to one of this node's forwards. */
  isAnswer(subject: string): boolean {
    return subject.startsWith(answerRoot(this.#nodeId))
  }

  /** An answer arrived on `$RG.KVCI.<this node>.R.<n>`. */
  onAnswer(subject: string, payload: Uint8Array): void {
    const pending = this.#pending.get(subject)
    if (pending === undefined) return // late: the forward timed out
    this.#pending.delete(subject)
    clearTimeout(pending.timer)
    let answer: Record<string, unknown>
    try {
      answer = JSON.parse(decoder.decode(payload)) as Record<string, unknown>
    } catch (error) {
      pending.resolve({ kind: 'answer', reply: { ok: false, error: { code: 'RG_ERR_SERVER', message: `a replica's answer is not JSON (${(error as Error).message})` } } })
      return
    }
    pending.resolve(answer['ok'] === false && answer['elsewhere'] === true ? { kind: 'elsewhere', reason: String(answer['reason']) } : { kind: 'answer', reply: answer as unknown as KvcReply })
  }

  /** Sends `request` to `node`'s service and waits up to `timeoutMs` for its answer. */
  send(node: string, request: ForwardedRequest, timeoutMs: number): Promise<ForwardOutcome> {
    if (this.#closed) return Promise.resolve({ kind: 'unreachable' })
    if (this.#pending.size >= forwardsInFlightMax) return Promise.resolve({ kind: 'busy' })
    this.#counter += 1
    const replyTo = `${answerRoot(this.#nodeId)}${this.#counter}`
    return new Promise<ForwardOutcome>((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(replyTo)
        resolve({ kind: 'timeout' })
      }, timeoutMs)
      timer.unref()
      this.#pending.set(replyTo, { resolve, timer })
      const copies = this.#router.publishLocal(internalRequestSubject(node), replyTo, undefined, encoder.encode(JSON.stringify(request)))
      if (copies === 0 && this.#pending.delete(replyTo)) {
        clearTimeout(timer)
        resolve({ kind: 'unreachable' })
      }
    })
  }

  close(): void {
    this.#closed = true
    for (const [subject, pending] of this.#pending) {
      clearTimeout(pending.timer)
      pending.resolve({ kind: 'unreachable' })
      this.#pending.delete(subject)
    }
  }
}
