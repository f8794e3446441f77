// The Railgun side of the persistent-stream benchmark: real `railgun server` processes (the
// test/harness RailgunCluster, peers linked directly, RocksDB in a temp directory) — one node, or
// three nodes in one region with streams `replicasPerRegion: 3` — driven with the official NATS
// client only, as any NATS user would (docs/api.md, docs/api.md § Consuming):
//   - streams are made with `$RG.API.STREAM.ENSURE` and are ready once `$RG.API.STREAM.FETCH`
//     answers on every node (the engine is open there);
//   - a publish is a request to the stream's subject with `Rg-Ack: majority`; the reply is the
//     durable ack (sent after the group commit's fsync on a majority of the replica set);
//   - consuming is the consumer-group wire protocol: `$RG.API.GROUP.ENSURE`, then JOIN on
//     `$RG.C.<ns>.<stream>.<group>.JOIN` with a deliver inbox, heartbeats, and one ack per
//     message published to the message's reply subject; the last ack is sent as a request so
//     its confirmation says the controller has applied every ack before it.
import { connect, createInbox, headers, NoRespondersError, RequestError, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node'
import { nuid } from '@nats-io/nuid'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { consumerHeaders, consumerSubject, joinReplySchema, type GroupAddress } from '../../shared/api/consumer-wire.js'
import { RailgunCluster } from '../../test/harness/index.js'
import { consumeFigures, type ConsumeFigures } from './streams-measures.js'
import { streamsBenchLimits, type ConsumeOptions, type StreamTarget, type TargetStream } from './streams-target.js'

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
const namespace = 'default'
const groupName = 'bench'

export interface RailgunTargetOptions {
  readonly nodes: 1 | 3
  /** Run the compiled build (`npm run build` first) instead of the sources through tsx. */
  readonly fromBuild: boolean
  readonly groupMode: 'exclusive' | 'load-balanced'
  /** `Rg-Ack` of every publish (docs/api.md § Publishing); the figure is `majority`. */
  readonly ackLevel: 'write' | 'majority' | 'all'
  /**
   * Node.js options put before the CLI of every node (e.g. `--cpu-prof --cpu-prof-dir=…`). With
   * any, `stop()` ends the nodes with SIGTERM (a drain, so a profile is written) before the close.
   */
  readonly nodeArgs?: readonly string[]
}

/** How long `stop()` waits for a node's drain when `nodeArgs` are set (a profile is written at exit). */
const profiledStopGraceMs = 30_000

interface Envelope {
  readonly ok: boolean
  readonly error?: { readonly code?: string; readonly message?: string }
  readonly [field: string]: unknown
}

function decodeEnvelope(message: Msg, what: string): Envelope {
  let body: unknown
  try {
    body = message.json()
  } catch {
    throw new Error(`${what}: the answer is not JSON: ${message.string().slice(0, 200)}`)
  }
  if (typeof body !== 'object' || body === null || typeof (body as { ok?: unknown }).ok !== 'boolean') throw new Error(`${what}: not an envelope: ${message.string().slice(0, 200)}`)
  const envelope = body as Envelope
  if (!envelope.ok) throw new Error(`${what}: ${envelope.error?.code ?? 'RG_ERR_?'} ${envelope.error?.message ?? ''}`.trim())
  return envelope
}

async function request(nc: NatsConnection, subject: string, body: unknown, what: string): Promise<Envelope> {
  const answer = await nc.request(subject, JSON.stringify(body), { timeout: streamsBenchLimits.requestTimeoutMs })
  return decodeEnvelope(answer, what)
}

function api(nc: NatsConnection, verb: string, body: unknown): Promise<Envelope> {
  return request(nc, `$RG.API.${verb}`, body, verb)
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls STREAM.FETCH on each connection until every node has the stream's engine open. */
async function waitStreamOpen(connections: readonly NatsConnection[], name: string): Promise<void> {
  const deadline = Date.now() + streamsBenchLimits.streamReadyTimeoutMs
  for (const nc of connections) {
    for (;;) {
      try {
        await api(nc, 'STREAM.FETCH', { name, max: 1 })
        break
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`stream '${name}' not open on every node after ${streamsBenchLimits.streamReadyTimeoutMs} ms: ${(error as Error).message}`, { cause: error })
        await sleep(streamsBenchLimits.streamReadyPollMs)
      }
    }
  }
}

function isNoResponders(error: unknown): boolean {
  return error instanceof NoRespondersError || (error instanceof RequestError && error.isNoResponders()) || (error instanceof Error && isNoResponders(error.cause))
}

/**
 * JOIN, retried while nobody answers: right after GROUP.ENSURE the group's controller may not be
 * designated and subscribed yet (a client library retries the same way).
 */
async function joinGroup(nc: NatsConnection, group: GroupAddress, body: unknown): Promise<Envelope> {
  const deadline = Date.now() + streamsBenchLimits.streamReadyTimeoutMs
  for (;;) {
    try {
      return await request(nc, consumerSubject(group, 'JOIN'), body, 'JOIN')
    } catch (error) {
      if (!isNoResponders(error) || Date.now() > deadline) throw error
      await sleep(streamsBenchLimits.streamReadyPollMs)
    }
  }
}

/** Consume+ack through the consumer-group wire protocol with one member (exported for ad-hoc drivers). */
export async function consumeGroup(nc: NatsConnection, stream: string, mode: RailgunTargetOptions['groupMode'], options: ConsumeOptions): Promise<ConsumeFigures> {
  await api(nc, 'GROUP.ENSURE', { stream, name: groupName, mode, maxInFlight: options.window, start: { from: 'beginning' } })
  const group: GroupAddress = { namespace, stream, group: groupName }
  const member = nuid.next()
  const deliver = createInbox()
  const acked = new Set<number>()
  let redeliveries = 0
  let lastProgressAt = Date.now()
  let settle: (error?: Error) => void = () => undefined
  const done = new Promise<void>((resolve, reject) => {
    settle = (error) => (error === undefined ? resolve() : reject(error))
  })
  // A failure that comes after JOIN itself failed has nobody awaiting it.
  done.catch(() => undefined)
  const onMessage = (message: Msg): void => {
    const status = message.headers?.get(consumerHeaders.status) ?? ''
    if (status !== '') return // e.g. `active`: this member now gets the messages
    const index = Number(message.headers?.get(consumerHeaders.index))
    const deliveries = Number(message.headers?.get(consumerHeaders.deliveries))
    if (!Number.isInteger(index) || message.reply === undefined || message.reply === '') {
      settle(new Error(`a delivered message without Rg-Index or reply subject (headers: ${message.headers?.toString() ?? 'none'})`))
      return
    }
    if (deliveries > 1) redeliveries += 1
    const fresh = !acked.has(index)
    if (fresh) {
      acked.add(index)
      lastProgressAt = Date.now()
    }
    if (fresh && acked.size === options.count) {
      // The last ack as a request: its answer comes after the controller applied it (and, on one
      // connection, every ack published before it).
      nc.request(message.reply, new Uint8Array(0), { timeout: streamsBenchLimits.requestTimeoutMs }).then(
        () => settle(),
        (error: unknown) => settle(new Error(`the last ack was not confirmed: ${(error as Error).message}`)),
      )
      return
    }
    nc.publish(message.reply, new Uint8Array(0))
  }
  const started = performance.now()
  const subscription: Subscription = nc.subscribe(deliver, {
    callback: (error, message) => {
      if (error !== null) settle(error)
      else onMessage(message)
    },
  })
  let heartbeat: NodeJS.Timeout | undefined
  const stall = setInterval(() => {
    if (Date.now() - lastProgressAt > streamsBenchLimits.consumeStallMs) settle(new Error(`acked ${acked.size} of ${options.count}; nothing new for ${streamsBenchLimits.consumeStallMs} ms`))
  }, 1_000)
  try {
    const answer = await joinGroup(nc, group, { member, deliver, maxInFlight: options.window })
    const joined = joinReplySchema.safeParse(answer)
    if (!joined.success) throw new Error(`JOIN: an answer off the wire contract: ${JSON.stringify(answer).slice(0, 300)}`)
    const joinBody = { member, deliver, maxInFlight: options.window }
    heartbeat = setInterval(() => {
      // HB answered NOT_FOUND: the controller dropped this member (or a new one took over): join again.
      request(nc, consumerSubject(group, 'HB'), { member }, 'HB').catch((error: unknown) => {
        if (error instanceof Error && error.message.includes('RG_ERR_NOT_FOUND')) joinGroup(nc, group, joinBody).catch(() => undefined)
      })
    }, joined.data.heartbeatMs)
    await done
    const elapsedMs = performance.now() - started
    return consumeFigures(acked.size, redeliveries, elapsedMs)
  } finally {
    clearInterval(stall)
    if (heartbeat !== undefined) clearInterval(heartbeat)
    await request(nc, consumerSubject(group, 'LEAVE'), { member }, 'LEAVE').catch(() => undefined)
    subscription.unsubscribe()
  }
}

/** Starts the nodes; the target's streams are made through node n1. */
export async function startRailgunTarget(options: RailgunTargetOptions): Promise<StreamTarget> {
  const nodeArgs = options.nodeArgs ?? []
  const cliArgs = options.fromBuild ? [join(repoRoot, 'bin/railgun.js')] : ['--import', 'tsx', join(repoRoot, 'server/cli.ts')]
  const cluster = await RailgunCluster.start({
    nodes: options.nodes,
    peerProxies: false,
    logLevel: 'warn',
    ...(options.fromBuild || nodeArgs.length > 0 ? { cli: { command: process.execPath, args: [...nodeArgs, ...cliArgs] } } : {}),
  })
  const connections: NatsConnection[] = []
  try {
    await cluster.waitForLeader({ timeoutMs: 60_000 })
    for (const id of cluster.nodeIds) connections.push(await connect({ servers: cluster.node(id).clientUrl, name: `bench-${id}` }))
    // A separate connection for consuming, so acks and deliveries do not queue behind publishes.
    connections.push(await connect({ servers: cluster.node(cluster.nodeIds[0] as string).clientUrl, name: 'bench-consumer' }))
  } catch (error) {
    await Promise.all(connections.map((nc) => nc.close()))
    await cluster.close()
    throw error
  }
  const publisher = connections[0] as NatsConnection
  const consumer = connections[connections.length - 1] as NatsConnection
  const nodeConnections = connections.slice(0, cluster.nodeIds.length)
  const ackHeaders = headers()
  const ackLevel = options.ackLevel
  ackHeaders.set('Rg-Ack', ackLevel)

  return {
    label: options.nodes === 1 ? 'railgun 1 node' : `railgun ${options.nodes} nodes R${options.nodes}`,
    system: 'railgun',
    replicas: options.nodes,
    durability: `ack after fsync of the group-commit batch on ${options.nodes === 1 || ackLevel === 'write' ? 'the node' : ackLevel === 'all' ? 'every replica' : 'a majority of the replicas'} (Rg-Ack: ${ackLevel})`,
    async createStream(name: string, payload: Uint8Array): Promise<TargetStream> {
      await api(publisher, 'STREAM.ENSURE', { name, replicasPerRegion: options.nodes })
      await waitStreamOpen(nodeConnections, name)
      return {
        name,
        publish: async () => {
          const answer = await publisher.request(name, payload, { headers: ackHeaders, timeout: streamsBenchLimits.requestTimeoutMs })
          decodeEnvelope(answer, 'publish')
        },
        consume: (consumeOptions) => consumeGroup(consumer, name, options.groupMode, consumeOptions),
        async remove() {
          await api(publisher, 'GROUP.DELETE', { stream: name, name: groupName }).catch(() => undefined)
          await api(publisher, 'STREAM.DELETE', { name }).catch(() => undefined)
        },
      }
    },
    async stop() {
      await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)))
      if (nodeArgs.length > 0) await Promise.all(cluster.nodeIds.map((id) => cluster.stop(id, profiledStopGraceMs).catch(() => undefined)))
      await cluster.close()
    },
  }
}
