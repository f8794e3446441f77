// Three StreamEngines of one region in one process (memory storage, messages carried as codec
// bytes with a hop through the event loop), with the stream controller's core and a ledger that
// keeps the first decision per incarnation (close-ledger.ts's rule): publishes on every replica
// are acked at `majority` and delivered in the same order everywhere; a restarted replica gets
// its slot back through its successor claim and writes again; an unreachable replica is closed
// without a successor after the grace, the others keep delivering, and when it comes back it
// catches up, cannot write (forwarders take over) and delivers the same order. Every check waits
// with a generous bound; nothing asserts a timing.
import t from 'tap'
import type { Test } from 'tap'
import { EventStore, decodeReplicaMessage, encodeReplicaMessage, eventStoreKeySpaces } from '../../data-plane/persistent/index.js'
import type { CloseDecision, ReplicaMessage } from '../../data-plane/persistent/index.js'
import { engineKeySpace, StreamEngine } from '../../data-plane/persistent/engine/index.js'
import { StreamControllerCore } from '../../server/streams/index.js'
import { createMemoryLocation, openMemoryStorage } from '../../shared/storage/index.js'
import type { MemoryLocation, Storage } from '../../shared/storage/index.js'
import { until } from './helpers.js'

const keepAlive = setInterval(() => undefined, 1_000)
t.teardown(() => clearInterval(keepAlive))

const stream = 'default/orders'
const replicas = ['n1', 'n2', 'n3']
const controllerNode = 'n3'
const timing = { heartbeatIntervalMs: 20, antiEntropyIntervalMs: 50, clockCeilingLeaseMs: 200, ackTimeoutMs: 5_000 }
const graceMs = 400

interface Running {
  readonly engine: StreamEngine
  readonly store: EventStore
  readonly storage: Storage
}

class Region {
  readonly locations = new Map<string, MemoryLocation>(replicas.map((id) => [id, createMemoryLocation()]))
  readonly running = new Map<string, Running>()
  /** Nodes cut off: nothing they send or should receive passes. */
  readonly cut = new Set<string>()
  readonly ledger: CloseDecision[] = []
  readonly controller = new StreamControllerCore({ stream, replicas, term: 1, deadOriginGraceMs: graceMs, fenceResendMs: 100, distributeResendMs: 100, fenceAllWaitMs: 50 }, Date.now())
  readonly #timer: NodeJS.Timeout

  constructor() {
    this.#timer = setInterval(() => this.#controllerTick(), 20)
  }

  send(from: string): (to: string, message: ReplicaMessage) => void {
    return (to, message) => {
      if (this.cut.has(from) || this.cut.has(to)) return
      const bytes = encodeReplicaMessage(message)
      setImmediate(() => {
        if (this.cut.has(from) || this.cut.has(to)) return
        const decoded = decodeReplicaMessage(bytes)
        if (!decoded.ok) throw decoded.error
        const m = decoded.value
        if (m.kind === 'fenced') return to === controllerNode ? this.controller.onFenced(from, m) : undefined
        if (m.kind === 'closes-applied') return to === controllerNode ? this.controller.onClosesApplied(from, m) : undefined
        this.running.get(to)?.engine.step(from, m)
      })
    }
  }

  async start(id: string): Promise<StreamEngine> {
    const storage = await openMemoryStorage(this.locations.get(id) as MemoryLocation, { keySpaces: [...eventStoreKeySpaces, engineKeySpace] })
    const store = await EventStore.open(storage)
    const engine = await StreamEngine.open({ store, storage, stream, node: id, replicas, send: this.send(id), dedupWindowMs: 60_000, timing, tickMs: 5 })
    this.running.set(id, { engine, store, storage })
    return engine
  }

  async stop(id: string): Promise<void> {
    const running = this.running.get(id)
    if (running === undefined) return
    this.running.delete(id)
    running.engine.stop()
    await running.store.close()
    await running.storage.close()
  }

  engine(id: string): StreamEngine {
    const running = this.running.get(id)
    if (running === undefined) throw new Error(`${id} is not running`)
    return running.engine
  }

  #controllerTick(): void {
    for (const { engine } of this.running.values()) {
      const claim = engine.successorClaim()
      if (claim !== null && !this.cut.has(claim.origin)) this.controller.onClaim(claim)
    }
    const up = new Set(replicas.filter((id) => this.running.has(id) && !this.cut.has(id)))
    const out = this.controller.tick(Date.now(), { dead: new Set(), up })
    for (const { to, message } of out.messages) this.send(controllerNode)(to, message)
    if (out.propose !== null) {
      const p = out.propose
      // The ledger's rule: the first decision of an incarnation stands.
      if (!this.ledger.some((d) => d.origin === p.origin && d.incarnation === p.incarnation)) this.ledger.push(p)
      this.controller.setCommitted(this.ledger)
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer)
    for (const id of [...this.running.keys()]) await this.stop(id)
  }

  async ids(id: string): Promise<string[]> {
    const engine = this.engine(id)
    const events = await engine.fetch(0, 1_000)
    return events.map((e) => e.event.id)
  }
}

async function publishOn(region: Region, id: string, ids: readonly string[]): Promise<void> {
  const acks = await Promise.all(ids.map((eventId) => region.engine(id).publish({ id: eventId, headers: [], payload: new TextEncoder().encode(eventId), ackLevel: 'majority' })))
  for (const ack of acks) if (!ack.ok) throw ack.error
}

async function sameOrderEverywhere(t: Test, region: Region, expected: number): Promise<string[]> {
  await until(`${expected} deliveries on every running replica`, () => [...region.running.values()].every(({ engine }) => engine.deliveredCount >= expected), 30_000)
  const orders = await Promise.all([...region.running.keys()].map((id) => region.ids(id)))
  for (const order of orders.slice(1)) t.same(order, orders[0], 'the same delivered order on every replica')
  return orders[0] ?? []
}

t.test('three replicas: majority acks, one order; a restart gets its slot back; an unreachable replica is closed and catches up', { timeout: 120_000 }, async (t) => {
  const region = new Region()
  t.teardown(() => region.close())
  for (const id of replicas) await region.start(id)
  let delivered = 0
  const onDelivered: number[] = []
  const unsubscribe = region.engine('n2').onDelivered((count) => onDelivered.push(count))

  await Promise.all(replicas.map((id) => publishOn(region, id, [1, 2, 3, 4, 5].map((i) => `${id}-a${i}`))))
  delivered += 15
  const first = await sameOrderEverywhere(t, region, delivered)
  t.equal(new Set(first).size, 15, 'every acked event delivered once')
  await until('onDelivered saw the 15 deliveries', () => onDelivered.at(-1) === 15)
  t.ok(onDelivered.every((count, i) => i === 0 || count > (onDelivered[i - 1] as number)), 'onDelivered counts grow')
  unsubscribe()

  // Restart n1: a new incarnation, no slot until the controller closes the previous one.
  await region.stop('n1')
  const restarted = await region.start('n1')
  t.equal(restarted.incarnation, 2)
  await until('n1 gets its slot back', () => restarted.writable, 30_000)
  t.same(region.ledger.map((d) => [d.origin, d.incarnation, d.atSeq, d.successor?.incarnation]), [['n1', 1, 5, 2]], 'closed at everything n1#1 wrote (all acked), successor n1#2')
  await publishOn(region, 'n1', ['n1-b1', 'n1-b2'])
  await publishOn(region, 'n2', ['n2-b1'])
  delivered += 3
  const second = await sameOrderEverywhere(t, region, delivered)
  t.same(second.slice(0, 15), first, 'the earlier order is kept')

  // Cut n2 off: after the grace it is closed without a successor; n1 and n3 go on delivering.
  region.cut.add('n2')
  await publishOn(region, 'n3', ['n3-c1', 'n3-c2'])
  await until('n2#1 closed for good', () => region.ledger.some((d) => d.origin === 'n2' && d.successor === undefined), 30_000)
  delivered += 2
  await until('n1 and n3 deliver past the cut', () => ['n1', 'n3'].every((id) => region.engine(id).deliveredCount >= delivered), 30_000)
  // n2 comes back (restart): it catches up, delivers the same order, and holds no slot.
  await region.stop('n2')
  region.cut.delete('n2')
  const back = await region.start('n2')
  const final = await sameOrderEverywhere(t, region, delivered)
  t.equal(final.length, delivered)
  t.equal(back.writable, false, 'a slot closed without a successor is not given back')
  const refused = await back.publish({ id: 'n2-d1', headers: [], payload: new Uint8Array(), ackLevel: 'majority' })
  t.equal(refused.ok ? 'ok' : refused.error.code, 'RG_ERR_INVALID_STATE', 'its publishes must be forwarded')
})
