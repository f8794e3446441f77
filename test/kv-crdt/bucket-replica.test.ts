// BucketReplica (server/kv-crdt) against fake engines sharing one delivery log (the region's
// order, as the stream layer delivers it): the apply path (every replica converges, its own
// writes come back as duplicates, malformed events are skipped and counted), stability reports
// (a writer's first report precedes its first operation; tombstones are collected only once
// every replica has reported, in two steps, on every replica), the write outcomes (acked, taken
// but late, refused unwritten → the state is rebuilt as a new writer above the old clock, no
// origin slot → elsewhere), and watches ended by a rebuild.
import t from 'tap'
import type { Test } from 'tap'
import { decodeKvOp } from '../../data-plane/kv-crdt/index.js'
import { PersistentRejection, hlcNow, hlcZero } from '../../data-plane/persistent/index.js'
import type { AckLevel, EventHeader, Hlc, PublishAck, StreamEvent } from '../../data-plane/persistent/index.js'
import { createSilentLogger } from '../../shared/log.js'
import { BucketReplica, ReportBook, WatchEndedError, decodeReport, encodeReport, isReportPayload } from '../../server/kv-crdt/index.js'
import type { BucketEngine } from '../../server/kv-crdt/index.js'
import { until } from './node-helpers.js'

const encoder = new TextEncoder()

/** The region's delivery log: every engine on it delivers the same events in the same order. */
class FakeLog {
  readonly events: StreamEvent[] = []
  readonly engines = new Set<FakeEngine>()

  append(event: StreamEvent): void {
    this.events.push(event)
    for (const engine of this.engines) engine.notify()
  }
}

class FakeEngine implements BucketEngine {
  readonly replicas: readonly string[]
  writable = true
  /** The next publish is answered with this (and not written). */
  refuseNext: { code: 'RG_ERR_INVALID_STATE' | 'RG_ERR_REQUEST_TIMEOUT'; written: boolean } | undefined
  /** While set, this engine's deliveries stop at this count. */
  holdAt: number | undefined
  #seq = 0
  #clock: Hlc = hlcZero
  readonly #listeners = new Set<(count: number) => void>()

  constructor(
    readonly log: FakeLog,
    readonly node: string,
    readonly incarnation: number,
    replicas: readonly string[],
  ) {
    this.replicas = replicas
    log.engines.add(this)
  }

  get deliveredCount(): number {
    return this.holdAt ?? this.log.events.length
  }

  publish(request: { readonly id: string; readonly headers: readonly EventHeader[]; readonly payload: Uint8Array; readonly ackLevel: AckLevel }): Promise<PublishAck> {
    const refusal = this.refuseNext
    this.refuseNext = undefined
    if (refusal !== undefined && !refusal.written) return Promise.resolve({ ok: false, publishId: 'p', error: new PersistentRejection(refusal.code, 'refused by the fake') })
    this.#clock = hlcNow(this.#clock, Date.now())
    const event: StreamEvent = { stream: '_kv/b', id: request.id, hlc: this.#clock, origin: this.node, incarnation: this.incarnation, originSeq: ++this.#seq, headers: request.headers, payload: request.payload }
    this.log.append(event)
    if (refusal !== undefined) return Promise.resolve({ ok: false, publishId: 'p', error: new PersistentRejection(refusal.code, 'late', { seq: event.originSeq }) })
    return Promise.resolve({ ok: true, publishId: 'p', level: request.ackLevel, position: event, duplicate: false, survivor: null })
  }

  fetch(from: number, max: number): Promise<ReadonlyArray<{ readonly index: number; readonly event: StreamEvent }>> {
    const end = Math.min(this.deliveredCount, from + max)
    return Promise.resolve(this.log.events.slice(from, end).map((event, i) => ({ index: from + i, event })))
  }

  onDelivered(listener: (count: number) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  notify(): void {
    queueMicrotask(() => {
      for (const listener of this.#listeners) listener(this.deliveredCount)
    })
  }

  release(): void {
    this.holdAt = undefined
    this.notify()
  }
}

function region(t: Test, nodes: readonly string[], options: { allReplicas?: readonly string[] } = {}): { log: FakeLog; engines: FakeEngine[]; replicas: BucketReplica[] } {
  const log = new FakeLog()
  const engines = nodes.map((node) => new FakeEngine(log, node, 1, nodes))
  const replicas = engines.map(
    (engine) => new BucketReplica({ bucket: 'b', nodeId: engine.node, engine, logger: createSilentLogger(), allReplicas: () => options.allReplicas ?? nodes, reportIntervalMs: 3_600_000 }),
  )
  t.teardown(() => {
    for (const replica of replicas) replica.stop('test over')
  })
  return { log, engines, replicas }
}

const valueOf = (replica: BucketReplica, key: string): string | undefined => {
  const entry = replica.get(key)
  if (entry === undefined) return undefined
  return entry.value.type === 'bytes' ? Buffer.from(entry.value.bytes).toString('utf8') : entry.value.type === 'json' ? JSON.stringify(entry.value.json) : String(entry.value.count)
}

const ready = (replicas: readonly BucketReplica[]) => until('replicas ready', () => replicas.every((replica) => replica.ready))

t.test('reports: codec round trip, JSON starts with {, garbage refused; the book vouches only for what is applied here', async (t) => {
  const report = { node: 'n1', writer: 'n1#1000', madeThrough: 4, clock: { wallMs: 5, logical: 2 }, appliedThrough: null }
  const bytes = encodeReport(report)
  t.ok(isReportPayload(bytes))
  t.same(decodeReport(bytes), report)
  t.same(decodeReport(encodeReport({ ...report, appliedThrough: { wallMs: 3, logical: 0 } })), { ...report, appliedThrough: { wallMs: 3, logical: 0 } })
  const good = { kvcReport: 1, node: 'n', writer: 'w', madeThrough: 0, clock: { wallMs: 1, logical: 0 }, appliedThrough: null }
  t.equal(typeof decodeReport(encoder.encode(JSON.stringify(good))), 'object')
  for (const bad of ['{', JSON.stringify({ ...good, kvcReport: 2 }), JSON.stringify({ ...good, node: '' }), JSON.stringify({ ...good, clock: { wallMs: -1, logical: 0 } }), JSON.stringify({ ...good, madeThrough: -1 }), JSON.stringify({ ...good, madeThrough: undefined }), `{${' '.repeat(2_000)}}`]) {
    t.type(decodeReport(encoder.encode(bad)), 'string', `refused: ${bad.slice(0, 60)}`)
  }
  const book = new ReportBook()
  const applied = new Map<string, number>()
  const appliedOf = (writer: string): number => applied.get(writer) ?? 0
  t.equal(book.appliedThrough(['a', 'b'], appliedOf), undefined, 'nothing until every replica reported')
  book.record({ node: 'a', writer: 'a#1', madeThrough: 0, clock: { wallMs: 10, logical: 0 }, appliedThrough: { wallMs: 4, logical: 0 } })
  t.equal(book.gcInput(['a', 'b']), undefined)
  book.record({ node: 'b', writer: 'b#1', madeThrough: 3, clock: { wallMs: 7, logical: 0 }, appliedThrough: null })
  t.equal(book.appliedThrough(['a', 'b'], appliedOf), undefined, "b's 3 operations are not applied here yet: its report is not vouched for")
  applied.set('b#1', 3)
  t.same(book.appliedThrough(['a', 'b'], appliedOf), { wallMs: 7, logical: 0 }, 'min of the vouched clocks')
  t.equal(book.gcInput(['a', 'b']), undefined, 'b has not reported what it applied')
  // b's next life reports; its older writer's report stays vouched until the new one is.
  book.record({ node: 'b', writer: 'b#2', madeThrough: 2, clock: { wallMs: 12, logical: 0 }, appliedThrough: { wallMs: 9, logical: 0 } })
  t.same(book.appliedThrough(['a', 'b'], appliedOf), { wallMs: 7, logical: 0 }, 'b#2 not vouched for: b#1 still counts')
  applied.set('b#2', 2)
  t.same(book.appliedThrough(['a', 'b'], appliedOf), { wallMs: 10, logical: 0 }, 'b#2 vouched for')
  t.same(book.gcInput(['a', 'b']), { stableHlc: { wallMs: 4, logical: 0 }, clockCeiling: { wallMs: 12, logical: 0 } }, 'min of applied-through, max of clocks')
  // A report that can never be vouched for (its writer's operation was lost) does not block a later one.
  book.record({ node: 'a', writer: 'a#1', madeThrough: 5, clock: { wallMs: 20, logical: 0 }, appliedThrough: null })
  book.record({ node: 'a', writer: 'a#2', madeThrough: 1, clock: { wallMs: 30, logical: 0 }, appliedThrough: null })
  applied.set('a#2', 1)
  t.same(book.appliedThrough(['a', 'b'], appliedOf), { wallMs: 12, logical: 0 }, "a#2's report vouched for past a#1's stuck one")
})

t.test('two replicas on one log: writes converge; own writes come back as duplicates; malformed events are skipped', async (t) => {
  const { log, engines, replicas } = region(t, ['n1', 'n2'])
  const [a, b] = replicas as [BucketReplica, BucketReplica]
  await ready(replicas)
  t.ok(a.writable && b.writable)
  const put = await a.write({ op: 'put', key: 'k', value: encoder.encode('v1') }, 'majority', 5_000)
  t.match(put, { status: 'acked', ack: { key: 'k', origin: 'n1', level: 'majority', replicasHolding: 2, replicas: 2 } })
  t.ok(isReportPayload((log.events[0] as StreamEvent).payload), "a writer's first report precedes its first operation")
  t.equal(decodeKvOp((log.events[1] as StreamEvent).payload).ok, true)
  await b.write({ op: 'merge', key: 'j', patch: { x: 1 } }, 'majority', 5_000)
  await a.write({ op: 'increment', key: 'c', delta: 3n }, 'write', 5_000)
  await until('both replicas hold everything', () => [a, b].every((r) => valueOf(r, 'k') === 'v1' && valueOf(r, 'j') === '{"x":1}' && valueOf(r, 'c') === '3'))
  const revision = a.state.revision
  // A redelivered copy changes nothing; garbage is counted, not fatal.
  log.append({ ...(log.events[1] as StreamEvent), id: 'copy' })
  log.append({ stream: '_kv/b', id: 'junk', hlc: { wallMs: 1, logical: 0 }, origin: 'x', incarnation: 1, originSeq: 1, headers: [], payload: new Uint8Array([9, 9, 9]) })
  log.append({ stream: '_kv/b', id: 'junk2', hlc: { wallMs: 1, logical: 0 }, origin: 'x', incarnation: 1, originSeq: 2, headers: [], payload: encoder.encode('{not a report') })
  await until('the extra events applied', () => a.info().appliedEvents === log.events.length && b.info().appliedEvents === log.events.length)
  t.equal(a.state.revision, revision, 'a duplicate changes nothing')
  t.equal(a.info().malformedEvents, 2)
  t.equal(b.info().malformedEvents, 2)
  t.same(a.state.view(), b.state.view(), 'the two replicas hold the same records')
  // No origin slot: the write goes elsewhere, nothing is made.
  ;(engines[1] as FakeEngine).writable = false
  t.notOk(b.writable)
  t.match(await b.write({ op: 'put', key: 'z', value: encoder.encode('z') }, 'majority', 5_000), { status: 'elsewhere' })
  t.equal(b.get('z'), undefined)
})

t.test('a replica serves once it has applied what was delivered when it started', async (t) => {
  const log = new FakeLog()
  const writer = new FakeEngine(log, 'n1', 1, ['n1', 'n2'])
  const first = new BucketReplica({ bucket: 'b', nodeId: 'n1', engine: writer, logger: createSilentLogger(), allReplicas: () => ['n1', 'n2'], reportIntervalMs: 3_600_000 })
  t.teardown(() => first.stop('over'))
  await ready([first])
  for (let i = 0; i < 2_500; i++) await first.write({ op: 'put', key: `k${i % 50}`, value: encoder.encode(`v${i}`) }, 'write', 5_000)
  const late = new FakeEngine(log, 'n2', 1, ['n1', 'n2'])
  const second = new BucketReplica({ bucket: 'b', nodeId: 'n2', engine: late, logger: createSilentLogger(), allReplicas: () => ['n1', 'n2'], reportIntervalMs: 3_600_000 })
  t.teardown(() => second.stop('over'))
  t.notOk(second.ready, 'not ready before the replay')
  t.match(await second.write({ op: 'put', key: 'x', value: encoder.encode('x') }, 'write', 5_000), { status: 'elsewhere' })
  await ready([second])
  t.same(second.state.view(), first.state.view(), 'the replay (several fetches) gives the same state')
})

t.test('garbage collection waits for every replica of every region to report', async (t) => {
  const { replicas } = region(t, ['n1', 'n2', 'n3'], { allReplicas: ['n1', 'n2', 'n3', 'far-1'] })
  const [a, b] = replicas as [BucketReplica, BucketReplica, BucketReplica]
  await ready(replicas)
  await a.write({ op: 'put', key: 'flow/1', value: encoder.encode('open') }, 'majority', 5_000)
  await b.write({ op: 'delete', key: 'flow/1' }, 'majority', 5_000)
  await until('the tombstone on every replica', () => replicas.every((r) => r.state.tombstoneCount === 1))
  const rounds = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      for (const replica of replicas) replica.reportNow()
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }
  await rounds(6)
  t.ok(replicas.every((r) => r.state.tombstoneCount === 1), 'kept while a replica (far-1, another region) never reported')
  t.ok(replicas.every((r) => r.info().collectedTombstones === 0))
})

t.test('garbage collection with every replica reporting; a write after it counts from nothing', async (t) => {
  const { replicas } = region(t, ['n1', 'n2', 'n3'])
  const [a, b, c] = replicas as [BucketReplica, BucketReplica, BucketReplica]
  await ready(replicas)
  await a.write({ op: 'increment', key: 'active', delta: 5n }, 'majority', 5_000)
  await b.write({ op: 'delete', key: 'active' }, 'majority', 5_000)
  await until('the tombstone on every replica', () => replicas.every((r) => r.state.tombstoneCount === 1))
  let round = 0
  await until('the tombstone collected on every replica', async () => {
    round += 1
    for (const replica of replicas) replica.reportNow()
    await new Promise((resolve) => setTimeout(resolve, 5))
    return replicas.every((r) => r.state.tombstoneCount === 0)
  })
  t.pass(`collected after ${round} report rounds`)
  t.ok(replicas.every((r) => r.info().collectedTombstones === 1))
  t.ok(replicas.every((r) => r.state.purgeFloor.wallMs > 0), 'the purge floor moved')
  await c.write({ op: 'increment', key: 'active', delta: 2n }, 'majority', 5_000)
  await until('the new counter everywhere', () => replicas.every((r) => valueOf(r, 'active') === '2'))
  t.same(a.state.view(), c.state.view())
})

t.test('garbage collection with a replica that has not seen the delete: nothing is collected until it has, no resurrection', async (t) => {
  const { log, engines, replicas } = region(t, ['n1', 'n2', 'n3'])
  const [a, b, c] = replicas as [BucketReplica, BucketReplica, BucketReplica]
  const ec = engines[2] as FakeEngine
  await ready(replicas)
  await a.write({ op: 'merge', key: 'flow', patch: { a: 1 } }, 'majority', 5_000)
  await until('flow everywhere', () => replicas.every((r) => valueOf(r, 'flow') === '{"a":1}'))
  ec.holdAt = log.events.length // n3 stops receiving
  await b.write({ op: 'delete', key: 'flow' }, 'majority', 5_000)
  // n3, not knowing, updates the flow: made on top of the value it holds.
  t.match(await c.write({ op: 'merge', key: 'flow', patch: { c: 1 } }, 'write', 5_000), { status: 'acked' })
  const rounds = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      for (const replica of replicas) replica.reportNow()
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }
  await rounds(8)
  t.ok(replicas.every((r) => r.info().collectedTombstones === 0), 'nothing collected while n3 lags')
  t.equal(valueOf(a, 'flow'), undefined, 'the delete wins over the concurrent merge on n1')
  ec.release()
  await until('n3 caught up', () => c.info().appliedEvents === log.events.length)
  await until('the tombstone collected everywhere', async () => {
    await rounds(1)
    return replicas.every((r) => r.state.tombstoneCount === 0)
  })
  t.ok(replicas.every((r) => valueOf(r, 'flow') === undefined), 'the flow stays closed on every replica')
  t.same(b.state.view(), a.state.view())
  t.same(c.state.view(), a.state.view())
})

t.test('a write refused unwritten rebuilds the state as a new writer above the old clock; a late one is "unknown"', async (t) => {
  const { engines, replicas } = region(t, ['n1', 'n2'])
  const [a, b] = replicas as [BucketReplica, BucketReplica]
  const [ea] = engines as [FakeEngine, FakeEngine]
  await ready(replicas)
  await a.write({ op: 'put', key: 'k', value: encoder.encode('kept') }, 'majority', 5_000)
  const watchEnded: Error[] = []
  a.watch({ prefix: '' }, {}).subscribe({ error: (error: unknown) => watchEnded.push(error as Error) })
  const writerBefore = a.replicaId
  const clockBefore = a.state.lastHlc
  ea.refuseNext = { code: 'RG_ERR_INVALID_STATE', written: false }
  const refused = await a.write({ op: 'put', key: 'lost', value: encoder.encode('never') }, 'majority', 5_000)
  t.match(refused, { status: 'failed', code: 'RG_ERR_NOT_READY', details: { outcome: 'notApplied' } })
  t.equal(watchEnded.length, 1, 'the watch of the old state ended')
  t.ok(watchEnded[0] instanceof WatchEndedError)
  await ready([a])
  t.not(a.replicaId, writerBefore, `a new writer (${writerBefore} → ${a.replicaId})`)
  t.equal(a.get('lost'), undefined, 'the refused write is not shown')
  t.equal(valueOf(a, 'k'), 'kept', 'what the stream holds is back')
  const next = await a.write({ op: 'put', key: 'k', value: encoder.encode('newer') }, 'majority', 5_000)
  t.ok(next.status === 'acked' && (next.ack.hlc.wallMs > clockBefore.wallMs || (next.ack.hlc.wallMs === clockBefore.wallMs && next.ack.hlc.logical > clockBefore.logical)), 'the new writer writes above the old clock')
  await until('b sees the newer value', () => valueOf(b, 'k') === 'newer')
  // Stamped but not acked in time: in the stream, outcome unknown, no rebuild.
  const writer = a.replicaId
  ea.refuseNext = { code: 'RG_ERR_REQUEST_TIMEOUT', written: true }
  t.match(await a.write({ op: 'put', key: 'late', value: encoder.encode('l') }, 'majority', 5_000), { status: 'failed', code: 'RG_ERR_REQUEST_TIMEOUT', details: { outcome: 'unknown' } })
  t.equal(a.replicaId, writer, 'no rebuild')
  await until('the late write everywhere', () => valueOf(b, 'late') === 'l' && valueOf(a, 'late') === 'l')
  t.same(a.state.view().filter((r) => r.value !== null), b.state.view().filter((r) => r.value !== null))
})

t.test('stop ends watches; writes and reads after stop', async (t) => {
  const { replicas } = region(t, ['n1'])
  const [a] = replicas as [BucketReplica]
  await ready(replicas)
  const ended: Error[] = []
  a.watch({ key: 'k' }, {}).subscribe({ error: (error: unknown) => ended.push(error as Error) })
  a.stop('test')
  t.equal(ended.length, 1)
  t.match(ended[0], { code: 'RG_ERR_NOT_READY' })
  t.notOk(a.ready)
  t.match(await a.write({ op: 'delete', key: 'k' }, 'write', 1_000), { status: 'elsewhere' })
})
