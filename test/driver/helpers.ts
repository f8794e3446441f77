// Test machinery for the Raft driver: a tiny replicated application (a list of applied strings),
// a group of drivers over the in-memory transport and storage adapter, spies, and waiting.
import { delegateStorage } from '../storage/delegate.js'
import { DurableRaftStorage } from '../../control-plane/driver/durable-raft-storage.js'
import type { RaftApplication, RaftDriverOptions } from '../../control-plane/driver/driver-options.js'
import { RaftDriver } from '../../control-plane/driver/raft-driver.js'
import { raftKeySpaces, raftStateKeySpace } from '../../control-plane/driver/raft-records.js'
import type { Entry, Message } from '../../control-plane/raft/index.js'
import { decodeMessage } from '../../control-plane/driver/message-codec.js'
import { createSilentLogger } from '../../shared/log.js'
import { createMemoryLocation, openMemoryStorage } from '../../shared/storage/index.js'
import type { BatchOperation, MemoryLocation, Storage, WriteOptions } from '../../shared/storage/index.js'
import { MemoryHub } from '../../shared/transport/index.js'
import type { MemoryTransport, Transport, TransportChannel } from '../../shared/transport/index.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export const bytes = (text: string): Uint8Array => encoder.encode(text)

/** The application under test: remembers every applied normal entry as "index:text". */
export class AppliedList implements RaftApplication<number> {
  items: string[] = []

  apply(entry: Entry): number {
    if (entry.type === 'normal' && entry.data.length > 0) this.items.push(`${entry.index}:${decoder.decode(entry.data)}`)
    return entry.index
  }

  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify(this.items))
  }

  restore(data: Uint8Array): void {
    this.items = JSON.parse(decoder.decode(data)) as string[]
  }

  texts(): string[] {
    return this.items.map((item) => item.slice(item.indexOf(':') + 1))
  }
}

/** Records the order of storage batches and transport sends (to check "persist before send"). */
export interface EventLog {
  readonly events: string[]
  inFlightBatches: number
  sendsDuringBatch: number
  /** Messages that promised what was not yet durable (see `checkPersisted`). */
  readonly violations: string[]
}

/** What a restart would see right now: the durable storage's persisted view. */
export interface DurableView {
  readonly term: number
  readonly vote: string | null
  readonly lastIndex: number
}

/**
 * The Ready contract from the receiver's side: a message may only promise what is durable —
 * its term (pre-votes aside), a granted vote, an acknowledged or sent index.
 */
export function checkPersisted(message: Message, durable: DurableView): string | undefined {
  const what = `${message.type} from ${message.from} to ${message.to}`
  if (message.type !== 'preVote' && message.type !== 'preVoteResp' && message.term > durable.term) {
    return `${what} at term ${message.term}, persisted term ${durable.term}`
  }
  if (message.type === 'voteResp' && !message.reject && durable.vote !== message.to) return `${what} grants a vote not persisted (${durable.vote})`
  if (message.type === 'appResp' && !message.reject && message.index > durable.lastIndex) {
    return `${what} acknowledges ${message.index}, persisted last index ${durable.lastIndex}`
  }
  const last = message.entries[message.entries.length - 1]
  if (message.type === 'app' && last !== undefined && last.index > durable.lastIndex) {
    return `${what} sends entry ${last.index}, persisted last index ${durable.lastIndex}`
  }
  return undefined
}

export function spyStorage(inner: Storage, log: EventLog): Storage {
  return delegateStorage(inner, {
    async batch(operations: readonly BatchOperation[], options?: WriteOptions): Promise<void> {
      log.inFlightBatches += 1
      const onlyHardState = operations.length === 1 && operations[0]?.keySpace === raftStateKeySpace && new TextDecoder().decode(operations[0].key) === 'hard'
      log.events.push(`batch sync=${options?.sync === true}${onlyHardState ? ' hard-state-only' : ''}`)
      // A real disk takes time: let other work interleave while the batch is "syncing".
      await new Promise((resolve) => setTimeout(resolve, 1))
      try {
        await inner.batch(operations, options)
      } finally {
        log.inFlightBatches -= 1
      }
    },
  })
}

export function spyTransport(inner: Transport, log: EventLog, durable: () => DurableView): Transport {
  return {
    nodeId: inner.nodeId,
    start: () => inner.start(),
    markReady: () => inner.markReady(),
    stop: () => inner.stop(),
    connect: (peer) => inner.connect(peer),
    disconnect: (peerId, reason) => inner.disconnect(peerId, reason),
    frames$: inner.frames$,
    status$: inner.status$,
    upPeers: () => inner.upPeers(),
    send(to: string, channel: TransportChannel, payload: Uint8Array): boolean {
      if (log.inFlightBatches > 0) log.sendsDuringBatch += 1
      log.events.push(`send ${channel} to ${to}`)
      const decoded = channel === 'raft' ? decodeMessage(payload) : undefined
      if (decoded !== undefined && decoded.ok) {
        const violation = checkPersisted(decoded.message, durable())
        if (violation !== undefined) log.violations.push(violation)
      }
      return inner.send(to, channel, payload)
    },
  }
}

export interface GroupMember {
  readonly id: string
  readonly location: MemoryLocation
  readonly transport: MemoryTransport
  readonly log: EventLog
  app: AppliedList
  driver: RaftDriver<number>
  adapter: Storage
}

export type DriverTuning = Partial<Omit<RaftDriverOptions<number>, 'id' | 'storage' | 'transport' | 'application' | 'logger'>>

export const fastTuning: DriverTuning = { tickMs: 10, electionTicks: 30, heartbeatTicks: 1, proposalTimeoutMs: 3_000, readTimeoutMs: 3_000 }

/** `count` drivers on a MemoryHub with memory storage, all connected and started. */
export async function startGroup(count: number, tuning: DriverTuning = {}): Promise<{ hub: MemoryHub; members: GroupMember[]; close(): Promise<void> }> {
  const hub = new MemoryHub()
  const ids = Array.from({ length: count }, (_, i) => String(i + 1))
  const members: GroupMember[] = []
  for (const id of ids) {
    const location = createMemoryLocation()
    const log: EventLog = { events: [], inFlightBatches: 0, sendsDuringBatch: 0, violations: [] }
    const adapter = spyStorage(await openMemoryStorage(location, { keySpaces: raftKeySpaces }), log)
    const storage = await DurableRaftStorage.open(adapter, { bootstrap: { voters: ids } })
    const transport = hub.createTransport({ nodeId: id, reconnectDelayMs: 5 })
    await transport.start()
    const app = new AppliedList()
    const driver = new RaftDriver<number>({ id, storage, transport: spyTransport(transport, log, () => ({ ...storage.hardStateNow(), lastIndex: storage.lastIndex() })), application: app, logger: createSilentLogger(id), ...fastTuning, ...tuning })
    members.push({ id, location, transport, log, app, driver, adapter })
  }
  for (const member of members) for (const other of ids) if (other !== member.id) member.transport.connect({ id: other, host: 'memory', port: 0 })
  for (const member of members) member.driver.start()
  return {
    hub,
    members,
    async close() {
      for (const member of members) await member.driver.stop()
      for (const member of members) await member.transport.stop()
      for (const member of members) await member.adapter.close().catch(() => undefined)
    },
  }
}

export async function waitUntil(what: string, predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** The one leader among `members` that all others agree on. */
export async function waitForLeader(members: readonly GroupMember[], timeoutMs = 5_000): Promise<GroupMember> {
  let leader: GroupMember | undefined
  await waitUntil(
    'one leader known to all',
    () => {
      const leaders = members.filter((m) => m.driver.status().role === 'leader')
      const candidate = leaders[0]
      if (leaders.length !== 1 || candidate === undefined) return false
      const term = candidate.driver.status().term
      if (!members.every((m) => m.driver.status().lead === candidate.id && m.driver.status().term === term)) return false
      leader = candidate
      return true
    },
    timeoutMs,
  )
  return leader as GroupMember
}
