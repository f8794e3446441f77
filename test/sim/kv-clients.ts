// Simulated KV clients: each issues one operation at a time to a randomly chosen server, waits
// for the reply or a timeout, and records what it saw as a linearizability history. A timeout
// records an unknown outcome (the operation may or may not have taken effect). Clients are
// network nodes too, so drops, delays and duplicates apply to requests and replies.

import type { KvInput, KvOutput, Operation } from '../lincheck/index.js'
import type { VirtualClock } from './clock.js'
import type { SimNetwork } from './network.js'
import type { SimRandom } from './random.js'
import type { SimWireMessage } from './raft-wire.js'
import type { TraceRecorder } from './trace.js'

export interface ClientConfig {
  readonly keys: readonly string[]
  readonly requestTimeoutMs: number
  readonly thinkTimeMsMax: number
  /** Bound on recorded operations per client. */
  readonly operationsMax: number
}

export type KvOperation = Operation<KvInput, KvOutput>

interface InFlight {
  readonly requestId: number
  readonly input: KvInput
  readonly callMs: number
  readonly timer: number
}

export class SimKvClient {
  private nextRequestId = 1
  private inFlight: InFlight | null = null
  private stopped = false
  private readonly lastSeen = new Map<string, string | null>()
  readonly history: KvOperation[] = []

  constructor(
    readonly id: string,
    private readonly servers: readonly string[],
    private readonly config: ClientConfig,
    private readonly clock: VirtualClock,
    private readonly network: SimNetwork<SimWireMessage>,
    private readonly random: SimRandom,
    private readonly trace: TraceRecorder,
  ) {
    network.register(id, (from, wire) => {
      if (wire.kind === 'response') this.onResponse(wire.requestId, wire.output)
      else if (wire.kind === 'rejected') this.onRejected(wire.requestId)
    })
  }

  start(): void {
    this.scheduleNext()
  }

  /** Issue no new operations; an operation in flight may still complete or time out. */
  stop(): void {
    this.stopped = true
  }

  /** End of run: an operation still in flight has an unknown outcome. */
  abandon(): void {
    if (this.inFlight === null) return
    this.clock.cancel(this.inFlight.timer)
    this.finish(undefined)
  }

  private scheduleNext(): void {
    if (this.stopped || this.history.length >= this.config.operationsMax) return
    this.clock.schedule(this.random.int(this.config.thinkTimeMsMax + 1), () => this.issue())
  }

  private chooseInput(): KvInput {
    const key = this.random.pick(this.config.keys)
    const roll = this.random.float()
    const requestId = this.nextRequestId
    if (roll < 0.45) return { kind: 'get', key }
    const value = `${this.id}.${requestId}`
    if (roll < 0.75) return { kind: 'put', key, value }
    if (roll < 0.8) return { kind: 'delete', key }
    const seen = this.lastSeen.get(key)
    const expected = seen !== undefined && this.random.chance(0.7) ? seen : null
    return { kind: 'cas', key, expected, value }
  }

  private issue(): void {
    if (this.stopped || this.inFlight !== null) return
    const input = this.chooseInput()
    const requestId = this.nextRequestId++
    const server = this.random.pick(this.servers)
    const timer = this.clock.schedule(this.config.requestTimeoutMs, () => this.finish(undefined))
    this.inFlight = { requestId, input, callMs: this.clock.nowMs, timer }
    this.trace.record(this.clock.nowMs, 'call', `${this.id}#${requestId} @${server} ${JSON.stringify(input)}`)
    this.network.send(this.id, server, { kind: 'request', requestId, op: input }, { connection: true })
  }

  private onResponse(requestId: number, output: KvOutput): void {
    if (this.inFlight === null || this.inFlight.requestId !== requestId) return // late or duplicate reply
    this.clock.cancel(this.inFlight.timer)
    this.finish(output)
  }

  /**
   * A definite refusal: the server appended nothing, and requests travel over a connection that
   * never duplicates them, so the operation never happened and leaves no trace in the history.
   * (Were requests duplicated, a copy could be proposed after the refusal: then this would have
   * to be an unknown outcome. An early version did that and the checker caught it, seed 2131.)
   */
  private onRejected(requestId: number): void {
    if (this.inFlight === null || this.inFlight.requestId !== requestId) return
    this.clock.cancel(this.inFlight.timer)
    this.trace.record(this.clock.nowMs, 'rejected', `${this.id}#${requestId}`)
    this.inFlight = null
    this.scheduleNext()
  }

  private finish(output: KvOutput | undefined): void {
    const inFlight = this.inFlight
    if (inFlight === null) return
    this.inFlight = null
    const { input } = inFlight
    const returnMs = output === undefined ? undefined : this.clock.nowMs
    this.history.push({ clientId: this.id, input, callMs: inFlight.callMs, returnMs, output })
    this.trace.record(this.clock.nowMs, 'return', `${this.id}#${inFlight.requestId} ${output === undefined ? 'timeout' : JSON.stringify(output)}`)
    if (output !== undefined) {
      if (output.kind === 'get') this.lastSeen.set(input.key, output.value)
      if (input.kind === 'put') this.lastSeen.set(input.key, input.value)
      if (input.kind === 'delete') this.lastSeen.set(input.key, null)
      if (input.kind === 'cas' && output.kind === 'cas' && output.ok) this.lastSeen.set(input.key, input.value)
    }
    this.scheduleNext()
  }
}
