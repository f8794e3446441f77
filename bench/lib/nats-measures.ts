// The two core measures every NATS-protocol benchmark here takes, through the official client:
// pub/sub throughput (publisher and subscriber on separate connections, first publish to last
// delivery) and sequential request/reply latency. `open` makes a connection to the server under
// test (URL, TLS, credentials are the caller's business).
import type { NatsConnection } from '@nats-io/transport-node'

export interface PubSubOptions {
  readonly messages: number
  readonly payloadBytes: number
  /** How long to wait for the last delivery before failing the round. */
  readonly timeoutMs: number
}

/** msgs/s from the first publish to the last delivery. Throws when not all arrive in time. */
export async function measurePubSub(open: () => Promise<NatsConnection>, options: PubSubOptions): Promise<number> {
  const subscriber = await open()
  const publisher = await open()
  const payload = new Uint8Array(options.payloadBytes).fill(120)
  let received = 0
  let resolveDone: () => void = () => undefined
  const done = new Promise<void>((resolve) => (resolveDone = resolve))
  subscriber.subscribe('bench.pubsub', {
    callback: () => {
      received += 1
      if (received === options.messages) resolveDone()
    },
  })
  await subscriber.flush()
  const start = process.hrtime.bigint()
  // Publish in slices so the client's outbound buffer and the event loop both get to breathe.
  const slice = 1000
  for (let sent = 0; sent < options.messages; sent += slice) {
    const end = Math.min(options.messages, sent + slice)
    for (let i = sent; i < end; i++) publisher.publish('bench.pubsub', payload)
    if ((sent / slice) % 16 === 15) await publisher.flush()
  }
  await publisher.flush()
  const timeout = setTimeout(() => resolveDone(), options.timeoutMs)
  await done
  clearTimeout(timeout)
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  await Promise.all([subscriber.close(), publisher.close()])
  if (received < options.messages) throw new Error(`received ${received} of ${options.messages} within ${options.timeoutMs} ms`)
  return options.messages / seconds
}

/** One responder, one requester: 200 warm-up requests, then `count` sequential ones; each latency in ms. */
export async function measureRequestLatencies(open: () => Promise<NatsConnection>, count: number, payloadBytes: number): Promise<number[]> {
  const responder = await open()
  const requester = await open()
  const payload = new Uint8Array(payloadBytes).fill(121)
  responder.subscribe('bench.echo', {
    callback: (_error, message) => {
      message.respond(message.data)
    },
  })
  await responder.flush()
  for (let i = 0; i < 200; i++) await requester.request('bench.echo', payload, { timeout: 5_000 })
  const samples: number[] = []
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint()
    await requester.request('bench.echo', payload, { timeout: 5_000 })
    samples.push(Number(process.hrtime.bigint() - start) / 1e6)
  }
  await Promise.all([responder.close(), requester.close()])
  return samples
}
