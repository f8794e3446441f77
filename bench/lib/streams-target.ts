// What the persistent-stream benchmark needs from a system under test (Railgun or JetStream):
// fresh streams to publish into and consume from with acknowledgements, through the official
// NATS client. bench/streams.ts drives every target through this one shape.
import type { AckedPublish, ConsumeFigures } from './streams-measures.js'

/** Limits shared by both sides (named so the two are driven alike). */
export const streamsBenchLimits = {
  /** One control or data request (stream create, publish ack, JOIN…). */
  requestTimeoutMs: 30_000,
  /** A consume run fails when no new message was acknowledged for this long. */
  consumeStallMs: 30_000,
  /** How long a freshly created stream may take to take publishes. */
  streamReadyTimeoutMs: 20_000,
  streamReadyPollMs: 100,
} as const

export interface ConsumeOptions {
  /** Messages to acknowledge (the stream holds exactly these). */
  readonly count: number
  /** Unacknowledged messages the server may push at once (group maxInFlight / max_ack_pending). */
  readonly window: number
}

export interface TargetStream {
  readonly name: string
  /** One publish of `payload` that resolves on the durable ack. */
  readonly publish: AckedPublish
  /** A fresh group / durable consumer from the beginning: receive and ack `count` messages. */
  consume(options: ConsumeOptions): Promise<ConsumeFigures>
  /** Best effort: the stream (and its group) go away. */
  remove(): Promise<void>
}

export interface StreamTarget {
  /** e.g. `railgun 1 node`, `jetstream R1 sync=always`. */
  readonly label: string
  readonly system: 'railgun' | 'jetstream'
  readonly replicas: number
  /** When an ack is sent, in words (printed beside the figures). */
  readonly durability: string
  createStream(name: string, payload: Uint8Array): Promise<TargetStream>
  stop(): Promise<void>
}
