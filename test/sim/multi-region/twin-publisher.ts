// A publisher that writes the SAME producer id in two regions inside the dedup window (issue #6:
// "an id published in two regions inside the window is delivered once per group in each
// region"). Each logical message picks two regions; the second half starts up to
// `secondRegionDelayMsMax` after the first; each half retries on another node of its region
// like the region publishers (test/sim/region/publishers.ts), while the retries stay inside half
// the window from the half's first attempt. So every copy of a message lies within
// secondRegionDelayMsMax + window/2 (+ clock skew) of its first: inside one window.
import { ackLevels } from '../../../data-plane/persistent/index.js'
import type { AckLevel } from '../../../data-plane/persistent/index.js'
import type { TimerId } from '../clock.js'
import type { SimRandom } from '../random.js'
import type { LogicalMessage, PublishAttempt } from '../region/publishers.js'
import type { MultiRegionContext, RegionStack } from './context.js'

export interface TwinPublisherConfig {
  readonly timeoutMs: number
  readonly attemptsMax: number
  readonly thinkMsMax: number
  readonly secondRegionDelayMsMax: number
}

interface Half {
  readonly region: RegionStack
  readonly firstMs: number
  timer: TimerId | null
  done: boolean
}

/** A logical message of this publisher: attempts in both regions, one producer id. */
export interface TwinMessage extends LogicalMessage {
  readonly regions: readonly string[]
}

export class TwinPublisher {
  readonly history: TwinMessage[] = []
  #count = 0
  #stopped = false
  #halves: Half[] = []
  #current: TwinMessage | null = null
  readonly #random: SimRandom
  readonly #encoder = new TextEncoder()

  constructor(
    readonly name: string,
    private readonly ctx: MultiRegionContext,
    private readonly config: TwinPublisherConfig,
  ) {
    this.#random = ctx.random.fork(`twin-${name}`)
    for (const stack of ctx.regions.values()) {
      stack.ctx.network.register(name, (_from, m) => {
        if (m.kind === 'publish-ack') this.#onAck(m.publishId, m.ok, m.code)
      })
    }
  }

  start(): void {
    this.ctx.clock.schedule(this.#random.intBetween(1, this.config.thinkMsMax), () => this.#next())
  }

  stop(): void {
    this.#stopped = true
  }

  #next(): void {
    if (this.#stopped) return
    this.#count++
    const stacks = [...this.ctx.regions.values()]
    const first = this.#random.pick(stacks)
    const second = this.#random.pick(stacks.filter((s) => s !== first))
    const level: AckLevel = this.#random.pick(ackLevels)
    const message: TwinMessage = { key: `${this.name}-m${this.#count}`, producerId: true, level, firstMs: this.ctx.clock.nowMs, attempts: [], regions: [first.name, second.name] }
    this.history.push(message)
    this.#current = message
    const delayMs = this.#random.intBetween(0, this.config.secondRegionDelayMsMax)
    this.#halves = []
    this.#startHalf(first, 0)
    this.#startHalf(second, delayMs)
  }

  #startHalf(region: RegionStack, delayMs: number): void {
    const half: Half = { region, firstMs: this.ctx.clock.nowMs + delayMs, timer: null, done: false }
    this.#halves.push(half)
    this.ctx.clock.schedule(delayMs, () => this.#attempt(half))
  }

  #attempt(half: Half): void {
    const message = this.#current as TwinMessage
    const n = message.attempts.length + 1
    const node = this.#random.pick(half.region.ctx.config.replicaNames)
    const attempt: PublishAttempt = { publishId: `${message.key}/${half.region.name}/${n}`, id: message.key, node, atMs: this.ctx.clock.nowMs, outcome: 'pending' }
    message.attempts.push(attempt)
    half.region.ctx.network.send(this.name, node, { kind: 'publish', publishId: attempt.publishId, id: attempt.id, level: message.level, payload: this.#encoder.encode(attempt.publishId) }, { connection: true })
    half.timer = this.ctx.clock.schedule(this.config.timeoutMs, () => this.#onAck(attempt.publishId, false, 'timeout'))
  }

  #onAck(publishId: string, ok: boolean, code: string): void {
    const message = this.#current
    if (message === null) return
    const attempt = message.attempts.find((a) => a.publishId === publishId)
    const half = this.#halves.find((h) => publishId.startsWith(`${message.key}/${h.region.name}/`))
    if (attempt === undefined || half === undefined || attempt.outcome !== 'pending' || half.done) return
    attempt.outcome = ok ? 'ok' : code
    if (half.timer !== null) this.ctx.clock.cancel(half.timer)
    half.timer = null
    const halfAttempts = message.attempts.filter((a) => a.publishId.startsWith(`${message.key}/${half.region.name}/`)).length
    const backoffMs = this.#random.intBetween(10, 60)
    const windowMs = this.ctx.config.dedupWindowMs
    if (!ok && halfAttempts < this.config.attemptsMax && this.ctx.clock.nowMs + backoffMs - half.firstMs < windowMs / 2 - this.config.timeoutMs) {
      this.ctx.clock.schedule(backoffMs, () => this.#attempt(half))
      return
    }
    half.done = true
    if (this.#halves.length === 2 && this.#halves.every((h) => h.done)) {
      this.#current = null
      this.ctx.clock.schedule(this.#random.intBetween(1, this.config.thinkMsMax), () => this.#next())
    }
  }
}
