// `client.producer(stream, options)`: a Kafka-like producer for one persistent stream. Every
// `send` is a persistent publish with its durable ack (stream-publish.ts: timeout, retries with
// exponential backoff re-sending the same Rg-Msg-Id). At most `maxInFlight` publishes wait for
// their ack at once; further sends WAIT in a FIFO queue of at most `queueMax` (they start in send
// order as acks free slots); a send beyond that rejects at once with `OutboundBufferFullError`
// (unit `publishes`): await `producer.flush()` and send again.
import type { StreamPublishAck } from '../shared/api/index.js'
import { InvalidArgumentError, OutboundBufferFullError } from './errors.js'
import type { HeadersInit } from './message.js'
import { publishToStream, retryPolicyOf } from './stream-publish.js'
import type { Delay, StreamPublishOptions } from './stream-publish.js'
import type { ApiTransport } from './control-api.js'

export interface ProducerOptions extends Omit<StreamPublishOptions, 'id' | 'headers'> {
  /** Publishes waiting for their ack at once. Default 64. */
  readonly maxInFlight?: number
  /** Sends waiting for a slot (beyond `maxInFlight`). Default 10000; a send past it rejects. */
  readonly queueMax?: number
  /** Headers added to every event (a send's own headers come after them). */
  readonly headers?: HeadersInit
}

export interface ProducerSendOptions {
  /** Publishes on `<stream>.<topic>` (default: on `<stream>`). */
  readonly topic?: string
  /** Producer id (`Rg-Msg-Id`) for dedup; default a nuid when `retries` > 0, else none. */
  readonly id?: string
  readonly headers?: HeadersInit
}

export const producerDefaults = {
  maxInFlight: 64,
  queueMax: 10_000,
} as const

/** Bounds on the options (a producer never holds unbounded memory). */
export const producerLimits = {
  maxInFlightMax: 10_000,
  queueMaxMax: 1_000_000,
} as const

interface Pending {
  readonly start: () => Promise<StreamPublishAck>
  readonly resolve: (ack: StreamPublishAck) => void
  readonly reject: (error: unknown) => void
}

function boundedInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}], got ${value}`)
  return value
}

export class Producer {
  readonly stream: string
  private readonly maxInFlight: number
  private readonly queueMax: number
  private readonly queue: Pending[] = []
  private inFlightCount = 0
  private idleWaiters: Array<() => void> = []

  /** @internal Use `client.producer(stream, options)`. */
  constructor(
    private readonly transport: ApiTransport,
    stream: string,
    private readonly options: ProducerOptions,
    private readonly delay: Delay,
  ) {
    if (stream.length === 0 || /[\s.*>]/.test(stream)) throw new InvalidArgumentError(`producer: "${stream}" is not a stream name`)
    this.stream = stream
    this.maxInFlight = boundedInteger('maxInFlight', options.maxInFlight ?? producerDefaults.maxInFlight, 1, producerLimits.maxInFlightMax)
    this.queueMax = boundedInteger('queueMax', options.queueMax ?? producerDefaults.queueMax, 0, producerLimits.queueMaxMax)
    retryPolicyOf(options) // fail on bad retry options now rather than on the first send
  }

  /** Publishes waiting for their ack. */
  get inFlight(): number {
    return this.inFlightCount
  }

  /** Sends waiting for a slot. */
  get queued(): number {
    return this.queue.length
  }

  /**
   * Publishes one event; resolves with its durable ack. Waits for a slot when `maxInFlight`
   * publishes are pending; rejects at once with `OutboundBufferFullError` when `queueMax` sends
   * already wait.
   */
  send(data: Uint8Array | string, sendOptions: ProducerSendOptions = {}): Promise<StreamPublishAck> {
    const subject = sendOptions.topic === undefined ? this.stream : `${this.stream}.${sendOptions.topic}`
    const { maxInFlight: _maxInFlight, queueMax: _queueMax, headers: commonHeaders, ...publishOptions } = this.options
    const headers = mergedHeaders(commonHeaders, sendOptions.headers)
    const options: StreamPublishOptions = {
      ...publishOptions,
      ...(sendOptions.id === undefined ? {} : { id: sendOptions.id }),
      ...(headers === undefined ? {} : { headers }),
    }
    const start = (): Promise<StreamPublishAck> => publishToStream(this.transport, subject, data, options, this.delay)
    return new Promise<StreamPublishAck>((resolve, reject) => {
      const pending: Pending = { start, resolve, reject }
      if (this.inFlightCount < this.maxInFlight) {
        this.run(pending)
        return
      }
      if (this.queue.length >= this.queueMax) {
        reject(new OutboundBufferFullError(`producer queue of ${this.stream}`, this.queueMax, 'publishes'))
        return
      }
      this.queue.push(pending)
    })
  }

  /** Resolves once every send so far has settled (acked or failed). */
  flush(): Promise<void> {
    if (this.inFlightCount === 0 && this.queue.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private run(pending: Pending): void {
    this.inFlightCount += 1
    // Invariant: never more than maxInFlight publishes wait for an ack.
    if (this.inFlightCount > this.maxInFlight) throw new Error(`producer invariant: ${this.inFlightCount} in flight > ${this.maxInFlight}`)
    pending
      .start()
      .then(pending.resolve, pending.reject)
      .finally(() => {
        this.inFlightCount -= 1
        const next = this.queue.shift()
        if (next !== undefined) this.run(next)
        else if (this.inFlightCount === 0) {
          const waiters = this.idleWaiters
          this.idleWaiters = []
          for (const wake of waiters) wake()
        }
      })
  }
}

/** Common headers then the send's own, as [key, value] pairs; undefined when neither is given. */
function mergedHeaders(common: HeadersInit | undefined, own: HeadersInit | undefined): HeadersInit | undefined {
  if (common === undefined) return own
  if (own === undefined) return common
  return [...pairsOf(common), ...pairsOf(own)]
}

function pairsOf(init: HeadersInit): Array<readonly [string, string]> {
  if ('entries' in init && Array.isArray(init.entries)) return [...init.entries]
  if (Symbol.iterator in init) return [...(init as Iterable<readonly [string, string]>)]
  const pairs: Array<readonly [string, string]> = []
  for (const [key, value] of Object.entries(init as Readonly<Record<string, string | readonly string[]>>)) {
    if (typeof value === 'string') pairs.push([key, value])
    else for (const one of value) pairs.push([key, one])
  }
  return pairs
}
