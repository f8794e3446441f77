// The JetStream side of the persistent-stream benchmark: nats-server with JetStream file storage,
// one server (R1) or three clustered on loopback (R3), each with its own temp store directory,
// driven with the official client (`@nats-io/jetstream` over `@nats-io/transport-node`), the way
// its documentation shows: `js.publish` (resolves on the PubAck), and a durable pull consumer
// read with `consumer.consume()` and `m.ack()` per message (the last one `ackAck()`, so its
// confirmation says the server applied it).
//
// Durability: nats-server by default acks a write once it is in the OS page cache (with R3, once
// a majority has it); it fsyncs on a timer (`sync_interval`, 2 min). `sync: always` asks for
// `sync_interval: always` (fsync per write), the like-for-like of Railgun's synced acks; that
// option came with nats-server 2.10, so `jetStreamSyncAlwaysSupport` checks the binary first.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream'
import { freePort } from './ports.js'
import { whichBinary } from './processes.js'
import { consumeFigures, type ConsumeFigures } from './streams-measures.js'
import { streamsBenchLimits, type ConsumeOptions, type StreamTarget, type TargetStream } from './streams-target.js'

const durableName = 'bench'
const serverReadyTimeoutMs = 20_000
const jetStreamReadyTimeoutMs = 30_000
const stopGraceMs = 5_000
const pollMs = 100

export type JetStreamSync = 'default' | 'always'

export interface JetStreamTargetOptions {
  readonly binary: string
  readonly replicas: 1 | 3
  readonly sync: JetStreamSync
}

/** The nats-server binary: `NATS_SERVER_BIN`, else `nats-server` on the PATH; a reason when absent. */
export function findNatsServer(): { readonly binary: string; readonly version: string } | string {
  const binary = process.env.NATS_SERVER_BIN ?? whichBinary('nats-server')
  if (binary === undefined) return 'nats-server is not installed (npm run bench:peers, or set NATS_SERVER_BIN)'
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8' })
  if (version.error !== undefined || version.status !== 0) return `${binary} --version failed: ${version.error?.message ?? String(version.stderr).trim()}`
  return { binary, version: version.stdout.trim() }
}

/** Whether this nats-server accepts `sync_interval: always` (`-t` checks a config and exits); a reason when not. */
export function jetStreamSyncAlwaysSupport(binary: string): true | string {
  const dir = mkdtempSync(join(tmpdir(), 'railgun-bench-js-probe-'))
  try {
    const file = join(dir, 'probe.conf')
    writeFileSync(file, `jetstream { store_dir: ${JSON.stringify(join(dir, 'store'))}, sync_interval: always }\n`)
    const checked = spawnSync(binary, ['-c', file, '-t'], { encoding: 'utf8' })
    return checked.status === 0 ? true : `this nats-server refuses sync_interval (it needs 2.10 or later): ${(checked.stderr || checked.stdout).trim()}`
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

interface NatsProcess {
  readonly port: number
  readonly child: ChildProcess
}

async function waitForInfo(port: number, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + serverReadyTimeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode} before listening (log: ${logFile})`)
    const open = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(port, '127.0.0.1')
      socket.once('data', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
      socket.setTimeout(500, () => {
        socket.destroy()
        resolve(false)
      })
    })
    if (open) return
    await new Promise((resolve) => setTimeout(resolve, pollMs))
  }
  throw new Error(`nats-server on port ${port} not listening after ${serverReadyTimeoutMs} ms (log: ${logFile})`)
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), stopGraceMs)
  await exited
  clearTimeout(timer)
}

/** Waits until the JetStream API answers (for R3: a meta leader is elected). */
async function waitJetStream(nc: NatsConnection): Promise<JetStreamManager> {
  const deadline = Date.now() + jetStreamReadyTimeoutMs
  for (;;) {
    try {
      const jsm = await jetstreamManager(nc, { timeout: 2_000 })
      await jsm.getAccountInfo()
      return jsm
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`JetStream not ready after ${jetStreamReadyTimeoutMs} ms: ${(error as Error).message}`, { cause: error })
      await new Promise((resolve) => setTimeout(resolve, pollMs))
    }
  }
}

async function consumeDurable(js: JetStreamClient, jsm: JetStreamManager, stream: string, options: ConsumeOptions): Promise<ConsumeFigures> {
  await jsm.consumers.add(stream, { durable_name: durableName, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, max_ack_pending: options.window })
  const consumer = await js.consumers.get(stream, durableName)
  const acked = new Set<number>()
  let redeliveries = 0
  let lastProgressAt = Date.now()
  let stalled = false
  const started = performance.now()
  const messages = await consumer.consume({ max_messages: options.window })
  const stall = setInterval(() => {
    if (Date.now() - lastProgressAt > streamsBenchLimits.consumeStallMs) {
      stalled = true
      messages.stop()
    }
  }, 1_000)
  try {
    for await (const message of messages) {
      if (message.info.deliveryCount > 1) redeliveries += 1
      const fresh = !acked.has(message.seq)
      if (fresh) {
        acked.add(message.seq)
        lastProgressAt = Date.now()
      }
      if (fresh && acked.size === options.count) {
        await message.ackAck({ timeout: streamsBenchLimits.requestTimeoutMs })
        break
      }
      message.ack()
    }
  } finally {
    clearInterval(stall)
    messages.stop()
  }
  const elapsedMs = performance.now() - started
  if (stalled || acked.size < options.count) throw new Error(`acked ${acked.size} of ${options.count}; nothing new for ${streamsBenchLimits.consumeStallMs} ms`)
  return consumeFigures(acked.size, redeliveries, elapsedMs)
}

/** Starts `replicas` nats-servers (clustered when 3) with JetStream file storage in a temp directory. */
export async function startJetStreamTarget(options: JetStreamTargetOptions): Promise<StreamTarget> {
  const dir = mkdtempSync(join(tmpdir(), `railgun-bench-js-r${options.replicas}-`))
  const clientPorts: number[] = []
  const clusterPorts: number[] = []
  for (let i = 0; i < options.replicas; i++) {
    clientPorts.push(await freePort())
    clusterPorts.push(await freePort())
  }
  const processes: NatsProcess[] = []
  const connections: NatsConnection[] = []
  const stopAll = async (): Promise<void> => {
    await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)))
    await Promise.all(processes.map((p) => stopProcess(p.child)))
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    for (let i = 0; i < options.replicas; i++) {
      const serverName = `js${i + 1}`
      const port = clientPorts[i] as number
      const lines = [
        `server_name: ${serverName}`,
        `listen: "127.0.0.1:${port}"`,
        `jetstream { store_dir: ${JSON.stringify(join(dir, serverName))}${options.sync === 'always' ? ', sync_interval: always' : ''} }`,
      ]
      if (options.replicas > 1) {
        const routes = clusterPorts.map((clusterPort) => `"nats-route://127.0.0.1:${clusterPort}"`).join(', ')
        lines.push(`cluster { name: bench, listen: "127.0.0.1:${clusterPorts[i] as number}", routes: [${routes}] }`)
      }
      const configFile = join(dir, `${serverName}.conf`)
      writeFileSync(configFile, `${lines.join('\n')}\n`)
      const logFile = join(dir, `${serverName}.log`)
      const child = spawn(options.binary, ['-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'] })
      child.stderr?.pipe(createWriteStream(logFile))
      processes.push({ port, child })
      await waitForInfo(port, child, logFile)
    }
    const publisher = await connect({ servers: `nats://127.0.0.1:${clientPorts[0] as number}`, name: 'bench-publisher' })
    connections.push(publisher)
    const consumerConnection = await connect({ servers: `nats://127.0.0.1:${clientPorts[0] as number}`, name: 'bench-consumer' })
    connections.push(consumerConnection)
    const jsm = await waitJetStream(publisher)
    const js = jetstream(publisher, { timeout: streamsBenchLimits.requestTimeoutMs })
    const consumerJs = jetstream(consumerConnection, { timeout: streamsBenchLimits.requestTimeoutMs })
    const syncWords = options.sync === 'always' ? 'fsync per write (sync_interval: always)' : 'no fsync per ack (default sync_interval: 2 min)'
    return {
      label: `jetstream R${options.replicas} sync=${options.sync}`,
      system: 'jetstream',
      replicas: options.replicas,
      durability: `${options.replicas === 1 ? 'ack once written by the server' : 'ack once a majority of the replicas wrote it'}; ${syncWords}`,
      async createStream(name: string, payload: Uint8Array): Promise<TargetStream> {
        await jsm.streams.add({ name, subjects: [name], storage: StorageType.File, num_replicas: options.replicas })
        return {
          name,
          publish: async () => {
            await js.publish(name, payload, { timeout: streamsBenchLimits.requestTimeoutMs })
          },
          consume: (consumeOptions) => consumeDurable(consumerJs, jsm, name, consumeOptions),
          async remove() {
            await jsm.streams.delete(name).catch(() => undefined)
          },
        }
      },
      stop: stopAll,
    }
  } catch (error) {
    await stopAll()
    throw error
  }
}
