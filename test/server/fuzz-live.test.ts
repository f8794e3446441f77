// Live fuzzing: >=100k random and mutated frames over many connections against an in-process node.
// Checks: no crash, no hang (every connection ends in a PONG or a close, in bounded time), memory
// stays bounded, every server-side close ends with one fatal -ERR text, and a separate healthy
// connection keeps doing request/reply the whole time. Seeded: a failure prints the seed.
import t from 'tap'
import { connect as netConnect } from 'node:net'
import { connect } from '@nats-io/transport-node'
import { errorCodes, errorCodeList } from '../../shared/errors.js'
import { delay, startTestNode } from './helpers.js'
import { generateConnectionStream, seededRandom } from './fuzz-frames.js'

const seed = Number(process.env.RAILGUN_FUZZ_SEED ?? 20261121)
const connectionsTotal = 260
const framesPerConnection = 400
const concurrentConnections = 26
const maxPayloadBytes = 8 * 1024
const settleMs = 1_500

const wireText = (code: (typeof errorCodeList)[number]): string | undefined => errorCodes[code].natsText
const fatalTexts = new Set<string>(errorCodeList.filter((code) => errorCodes[code].fatal).flatMap((code) => wireText(code) ?? []))
const allTexts = new Set<string>(errorCodeList.flatMap((code) => wireText(code) ?? []))

interface Outcome {
  readonly kind: 'alive' | 'closed' | 'stuck'
  readonly tail: string
}

/** Send one connection's stream in random chunks, then PING; wait for PONG or close. */
async function runConnection(port: number, stream: Buffer, random: () => number): Promise<Outcome> {
  const socket = netConnect({ host: '127.0.0.1', port })
  socket.setNoDelay(true)
  let tail = ''
  let pongs = 0
  let closed = false
  socket.on('data', (chunk: Buffer) => {
    // The last 5 characters cannot hold a whole `PONG\r\n`, so carrying them counts each once.
    const text = tail.slice(-5) + chunk.toString('latin1')
    pongs += text.split('PONG\r\n').length - 1
    tail = (tail + chunk.toString('latin1')).slice(-512)
  })
  socket.on('error', () => undefined)
  const closedPromise = new Promise<void>((resolve) => socket.once('close', () => ((closed = true), resolve())))
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  let offset = 0
  while (offset < stream.length && !closed) {
    const size = random() < 0.3 ? 1 + Math.floor(random() * 8) : 64 + Math.floor(random() * 4096)
    socket.write(stream.subarray(offset, offset + size))
    offset += size
    if (random() < 0.05) await delay(0)
  }
  const settled = async (): Promise<boolean> => {
    const deadline = Date.now() + settleMs
    while (Date.now() < deadline) {
      if (closed || pongs > 0) return true
      await delay(5)
    }
    return closed || pongs > 0
  }
  if (!closed) socket.write('PING\r\n')
  // A mutated length may leave the server waiting for payload bytes: pad, then ask again.
  for (let attempt = 0; attempt < 3 && !(await settled()); attempt += 1) {
    if (!closed) socket.write(Buffer.concat([Buffer.alloc(maxPayloadBytes + 2, 0x78), Buffer.from('\r\nPING\r\n')]))
  }
  const outcome: Outcome = closed ? { kind: 'closed', tail } : pongs > 0 ? { kind: 'alive', tail } : { kind: 'stuck', tail }
  socket.destroy()
  await closedPromise
  return outcome
}

t.test(`fuzz the live server (seed ${seed})`, async (t) => {
  const startedAtMs = Date.now()
  const node = await startTestNode(t, { limits: { maxPayloadBytes, maxSubscriptionsPerConnection: 64 } })
  await node.ready
  const responder = await connect({ servers: `127.0.0.1:${node.clientPort}`, reconnect: false })
  const requester = await connect({ servers: `127.0.0.1:${node.clientPort}`, reconnect: false })
  t.teardown(async () => {
    await requester.close()
    await responder.close()
  })
  responder.subscribe('health.svc', { callback: (_error, message) => void message.respond(message.data) })
  await responder.flush()

  let fuzzing = true
  let requestsOk = 0
  const requestFailures: string[] = []
  const healthLoop = (async () => {
    let index = 0
    while (fuzzing) {
      const body = `ping-${index++}`
      try {
        const reply = await requester.request('health.svc', body, { timeout: 5_000 })
        if (reply.string() === body) requestsOk += 1
        else requestFailures.push(`wrong reply ${reply.string()} for ${body}`)
      } catch (error) {
        requestFailures.push((error as Error).message)
      }
      await delay(2)
    }
  })()

  const random = seededRandom(seed)
  const baselineRssBytes = process.memoryUsage().rss
  let peakRssBytes = baselineRssBytes
  let framesSent = 0
  const outcomes: Outcome[] = []
  for (let start = 0; start < connectionsTotal; start += concurrentConnections) {
    const batch: Array<Promise<Outcome>> = []
    for (let index = start; index < Math.min(connectionsTotal, start + concurrentConnections); index += 1) {
      const connectionRandom = seededRandom(Math.floor(random() * 2 ** 32))
      const mutationRate = [0, 0.002, 0.02, 0.1, 0.3][index % 5] as number
      const { bytes, frames } = generateConnectionStream(connectionRandom, framesPerConnection, mutationRate, { maxPayloadBytes })
      framesSent += frames
      batch.push(runConnection(node.clientPort, bytes, connectionRandom))
    }
    outcomes.push(...(await Promise.all(batch)))
    peakRssBytes = Math.max(peakRssBytes, process.memoryUsage().rss)
  }
  fuzzing = false
  await healthLoop

  t.ok(framesSent >= 100_000, `sent ${framesSent} frames over ${connectionsTotal} connections`)
  const stuck = outcomes.filter((outcome) => outcome.kind === 'stuck')
  t.equal(stuck.length, 0, `no connection hangs (seed ${seed})`)
  const closed = outcomes.filter((outcome) => outcome.kind === 'closed')
  const alive = outcomes.filter((outcome) => outcome.kind === 'alive')
  const histogram: Record<string, number> = {}
  for (const outcome of closed) { const key = /-ERR .([^']*).\r\n$/.exec(outcome.tail)?.[1] ?? "?"; histogram[key] = (histogram[key] ?? 0) + 1 }
  t.comment(JSON.stringify(histogram))
  t.ok(closed.length > 0 && alive.length > 0, `both outcomes happen (closed ${closed.length}, alive ${alive.length})`)
  const badCloses = closed.filter((outcome) => {
    const last = /-ERR '([^']*)'\r\n$/.exec(outcome.tail)
    return last === null || !fatalTexts.has(last[1] as string)
  })
  t.same(badCloses.map((outcome) => JSON.stringify(outcome.tail.slice(-80))), [], `every close ends with a fatal -ERR (seed ${seed})`)
  const unknownErrors = outcomes.flatMap((outcome) => [...outcome.tail.matchAll(/-ERR '([^']*)'/g)].map((match) => match[1] as string)).filter((text) => !allTexts.has(text))
  t.same(unknownErrors, [], 'only documented -ERR texts')
  t.same(requestFailures, [], 'the healthy connection never failed a request')
  t.ok(requestsOk > 20, `healthy request/reply kept working (${requestsOk} round trips)`)
  const growthBytes = peakRssBytes - baselineRssBytes
  t.ok(growthBytes < 300 * 1024 * 1024, `RSS growth bounded (${Math.round(growthBytes / 1024 / 1024)} MiB)`)
  await delay(100)
  t.equal(node.stats().connections, 2, 'only the two healthy clients remain connected')
  t.ok(Date.now() - startedAtMs < 90_000, `bounded time (${Date.now() - startedAtMs} ms)`)
})
