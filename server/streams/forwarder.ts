// Forwarding a publish to a replica (DESIGN §3.2.1: "a non-replica forwards to a replica"): used
// by a node of the region that holds no replica of the stream, and by a replica whose own
// incarnation holds no origin slot (restarted and waiting for the controller, or closed). The
// request goes over the `data` channel (data-envelope.ts `forward`) to one replica at a time —
// those that are up first, rotated so forwards spread — and the replica's ack comes back as the
// answer. A timeout, a link that is down, or an answer saying "not here" (no slot, no engine,
// not ready, timed out) moves on to the next replica with the SAME event id, so the stream's
// dedup makes the retry safe: at most one copy per window is delivered. Bounded: at most
// `forwardsInFlightMax` requests wait, each tries each replica at most once.
import { PersistentRejection } from '../../data-plane/persistent/index.js'
import type { AckLevel, EventHeader, PublishAck } from '../../data-plane/persistent/index.js'
import { errorCodes } from '../../shared/errors.js'
import type { ErrorCode } from '../../shared/errors.js'
import type { ForwardAnswer } from './data-envelope.js'
import { encodeForward } from './data-envelope.js'

/** One attempt waits this long for the replica's answer (the replica's own ack timeout is 5 s). */
export const forwardAttemptTimeoutMsDefault = 6_000
/** Forwarded publishes waiting for an answer on this node. */
export const forwardsInFlightMax = 10_000

/** Answers that mean "try another replica": nothing was refused for the event itself. */
const retryableCodes: ReadonlySet<string> = new Set(['RG_ERR_INVALID_STATE', 'RG_ERR_NOT_READY', 'RG_ERR_NOT_FOUND', 'RG_ERR_REQUEST_TIMEOUT', 'RG_ERR_LIMIT_EXCEEDED', 'RG_ERR_STORAGE_IO'])

/** The order to try replicas in: those up first, each group rotated by `turn` (spread). Pure. */
export function forwardOrder(replicas: readonly string[], up: ReadonlySet<string>, self: string, turn: number): string[] {
  const rotate = (list: string[]): string[] => (list.length === 0 ? list : [...list.slice(turn % list.length), ...list.slice(0, turn % list.length)])
  const others = [...replicas].filter((r) => r !== self).sort()
  return [...rotate(others.filter((r) => up.has(r))), ...rotate(others.filter((r) => !up.has(r)))]
}

export interface ForwardRequestInput {
  readonly stream: string
  /** The event id: retries on another replica carry the same one. */
  readonly id: string
  readonly ackLevel: AckLevel
  readonly headers: readonly EventHeader[]
  readonly payload: Uint8Array
}

export interface ForwarderOptions {
  /** Queues bytes on the `data` channel; false when the peer is not up (or the queue is full). */
  readonly send: (to: string, bytes: Uint8Array) => boolean
  readonly attemptTimeoutMs?: number
}

interface Attempt {
  readonly requestId: number
  readonly to: string
  readonly timer: NodeJS.Timeout
  readonly next: () => void
  readonly settle: (ack: PublishAck) => void
}

function codeOf(code: string): ErrorCode {
  return Object.hasOwn(errorCodes, code) ? (code as ErrorCode) : 'RG_ERR_SERVER'
}

export class Forwarder {
  readonly #options: ForwarderOptions
  readonly #attempts = new Map<number, Attempt>()
  #nextRequestId = 1
  #pending = 0
  #closed = false
  /** Forwards answered, retried on another replica, and failed after every replica. */
  readonly counters = { forwarded: 0, retried: 0, failed: 0 }

  constructor(options: ForwarderOptions) {
    this.#options = options
  }

  get inFlight(): number {
    return this.#pending
  }

  /** Request ids travel as u32: they wrap (one in flight per id at a time is all that matters). */
  #takeRequestId(): number {
    const id = this.#nextRequestId
    this.#nextRequestId = id >= 0xffffffff ? 1 : id + 1
    return id
  }

  /** Tries each of `targets` in turn; resolves with the first final answer (never rejects). */
  forward(targets: readonly string[], request: ForwardRequestInput): Promise<PublishAck> {
    const publishId = `fwd-${this.#nextRequestId}`
    const refuse = (code: ErrorCode, message: string): PublishAck => ({ ok: false, publishId, error: new PersistentRejection(code, message) })
    if (this.#closed) return Promise.resolve(refuse('RG_ERR_NOT_READY', `stream ${request.stream}: this node is stopping`))
    if (this.#pending >= forwardsInFlightMax) return Promise.resolve(refuse('RG_ERR_LIMIT_EXCEEDED', `stream ${request.stream}: forwardsInFlightMax (${forwardsInFlightMax}) publishes are already waiting for a replica`))
    if (targets.length === 0) return Promise.resolve(refuse('RG_ERR_NOT_READY', `stream ${request.stream}: no replica to forward to`))
    this.#pending++
    return new Promise<PublishAck>((resolve) => {
      const tried: string[] = []
      let last = `no replica answered (${targets.join(', ')})`
      const finish = (ack: PublishAck): void => {
        this.#pending--
        if (ack.ok) this.counters.forwarded++
        else this.counters.failed++
        resolve(ack)
      }
      const attempt = (index: number): void => {
        if (this.#closed) return finish(refuse('RG_ERR_NOT_READY', `stream ${request.stream}: this node is stopping`))
        const to = targets[index]
        if (to === undefined) return finish(refuse('RG_ERR_NOT_READY', `stream ${request.stream}: forwarded to ${tried.join(', ')}; ${last}`))
        if (index > 0) this.counters.retried++
        tried.push(to)
        const requestId = this.#takeRequestId()
        const bytes = encodeForward({ requestId, stream: request.stream, id: request.id, ackLevel: request.ackLevel, headers: request.headers, payload: request.payload })
        if (!this.#options.send(to, bytes)) {
          last = `${to} is not reachable`
          return attempt(index + 1)
        }
        const timer = setTimeout(() => {
          if (!this.#attempts.delete(requestId)) return
          last = `${to} did not answer in ${this.#options.attemptTimeoutMs ?? forwardAttemptTimeoutMsDefault} ms`
          attempt(index + 1)
        }, this.#options.attemptTimeoutMs ?? forwardAttemptTimeoutMsDefault)
        timer.unref()
        this.#attempts.set(requestId, {
          requestId,
          to,
          timer,
          next: () => attempt(index + 1),
          settle: (ack) => finish({ ...ack, publishId }),
        })
      }
      attempt(0)
    })
  }

  /** A replica's answer (from the `data` channel). */
  onAnswer(from: string, answer: ForwardAnswer): void {
    const pending = this.#attempts.get(answer.requestId)
    if (pending === undefined || pending.to !== from) return
    this.#attempts.delete(answer.requestId)
    clearTimeout(pending.timer)
    if (answer.ok) {
      pending.settle({ ok: true, publishId: '', level: answer.level, position: answer.position, duplicate: answer.duplicate, survivor: answer.survivor })
    } else if (retryableCodes.has(answer.code)) {
      pending.next()
    } else {
      pending.settle({ ok: false, publishId: '', error: new PersistentRejection(codeOf(answer.code), answer.message) })
    }
  }

  /** The link to `peer` went down: its attempts move on at once. */
  onPeerDown(peer: string): void {
    for (const attempt of [...this.#attempts.values()]) {
      if (attempt.to !== peer) continue
      this.#attempts.delete(attempt.requestId)
      clearTimeout(attempt.timer)
      attempt.next()
    }
  }

  /** Fails everything waiting (the node is stopping). */
  close(): void {
    this.#closed = true
    for (const attempt of [...this.#attempts.values()]) {
      this.#attempts.delete(attempt.requestId)
      clearTimeout(attempt.timer)
      attempt.next()
    }
  }
}
