// Publishers of the region simulation: one logical message at a time, to a random node, with a
// random ack level (write, majority, all). Most messages carry a producer id (`Rg-Msg-Id`)
// that every retry reuses; the rest get a fresh id per attempt (a nuid: no dedup). A failed or
// timed-out attempt is retried on another random node after a backoff, while the retries stay
// well inside the dedup window (DESIGN §2: exactly-once needs the retries inside the window).
import { ackLevels } from '../../../data-plane/persistent/index.js'
import type { AckLevel } from '../../../data-plane/persistent/index.js'
import type { TimerId } from '../clock.js'
import type { SimRandom } from '../random.js'
import type { RegionContext } from './context.js'

export interface PublishAttempt {
  readonly publishId: string
  readonly id: string
  readonly node: string
  readonly atMs: number
  outcome: 'pending' | 'ok' | string
}

export interface LogicalMessage {
  readonly key: string
  readonly producerId: boolean
  readonly level: AckLevel
  readonly firstMs: number
  readonly attempts: PublishAttempt[]
}

export interface PublisherConfig {
  readonly timeoutMs: number
  readonly attemptsMax: number
  readonly thinkMsMax: number
  readonly producerIdProbability: number
}

export class SimPublisher {
  readonly history: LogicalMessage[] = []
  #current: LogicalMessage | null = null
  #timer: TimerId | null = null
  #count = 0
  #stopped = false
  readonly #random: SimRandom
  readonly #encoder = new TextEncoder()

  constructor(
    readonly name: string,
    private readonly ctx: RegionContext,
    private readonly config: PublisherConfig,
  ) {
    this.#random = ctx.random.fork(`publisher-${name}`)
    ctx.network.register(name, (_from, m) => {
      if (m.kind === 'publish-ack') this.#onAck(m.publishId, m.ok, m.code)
    })
  }

  start(): void {
    this.ctx.clock.schedule(this.#random.intBetween(1, this.config.thinkMsMax), () => this.#nextMessage())
  }

  /** No new logical messages; retries of the current one go on. */
  stop(): void {
    this.#stopped = true
  }

  #nextMessage(): void {
    if (this.#stopped) return
    this.#count++
    const message: LogicalMessage = {
      key: `${this.name}-m${this.#count}`,
      producerId: this.#random.chance(this.config.producerIdProbability),
      level: this.#random.pick(ackLevels),
      firstMs: this.ctx.clock.nowMs,
      attempts: [],
    }
    this.history.push(message)
    this.#current = message
    this.#attempt()
  }

  #attempt(): void {
    const message = this.#current as LogicalMessage
    const n = message.attempts.length + 1
    const node = this.#random.pick(this.ctx.config.replicaNames)
    const attempt: PublishAttempt = { publishId: `${message.key}/${n}`, id: message.producerId ? message.key : `${message.key}-nuid${n}`, node, atMs: this.ctx.clock.nowMs, outcome: 'pending' }
    message.attempts.push(attempt)
    this.ctx.network.send(this.name, node, { kind: 'publish', publishId: attempt.publishId, id: attempt.id, level: message.level, payload: this.#encoder.encode(attempt.publishId) }, { connection: true })
    this.#timer = this.ctx.clock.schedule(this.config.timeoutMs, () => this.#onAck(attempt.publishId, false, 'timeout'))
  }

  #onAck(publishId: string, ok: boolean, code: string): void {
    const message = this.#current
    const attempt = message?.attempts[message.attempts.length - 1]
    if (message === null || attempt === undefined || attempt.publishId !== publishId || attempt.outcome !== 'pending') return
    attempt.outcome = ok ? 'ok' : code
    if (this.#timer !== null) this.ctx.clock.cancel(this.#timer)
    this.#timer = null
    const backoffMs = this.#random.intBetween(10, 60)
    // Retries stay inside half the dedup window from the first attempt.
    const retry = !ok && message.attempts.length < this.config.attemptsMax && this.ctx.clock.nowMs + backoffMs - message.firstMs < this.ctx.config.dedupWindowMs / 2 - this.config.timeoutMs
    if (retry) {
      this.ctx.clock.schedule(backoffMs, () => this.#attempt())
      return
    }
    this.#current = null
    this.ctx.clock.schedule(this.#random.intBetween(1, this.config.thinkMsMax), () => this.#nextMessage())
  }

  get idle(): boolean {
    return this.#current === null
  }
}
