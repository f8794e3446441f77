// Interest bookkeeping of cluster routing, pure parts: the local table only reports 0↔1
// transitions; the remote table's targets agree with a naive scan (fast-check over random
// add/remove/drop histories) and honour the per-peer limit; InterestSync between two fake peers
// converges through snapshots, deltas, chunking, lost frames (gap → resync), refused sends
// (snapshot retried) and a peer restart the link never saw (new session → our snapshot again).
import t from 'tap'
import fc from 'fast-check'
import { matchSubject } from '../../shared/subject/index.js'
import { InterestSync, LocalInterestTable, RemoteInterestTable, RouteCounterBoard, decodeRouteFrame } from '../../server/routes/index.js'
import type { InterestEntry, RouteFrame } from '../../server/routes/index.js'
import { smallPatternArb, smallSubjectArb } from './arbitraries.js'

t.test('local interest: counted per (pattern, queue); only 0↔1 transitions are reported', async (t) => {
  const table = new LocalInterestTable()
  t.ok(table.add('orders.>', undefined), 'first subscriber: appears')
  t.notOk(table.add('orders.>', undefined), 'second subscriber: no change')
  t.ok(table.add('orders.>', 'workers'), 'a queue group is its own entry')
  t.equal(table.size, 2)
  t.notOk(table.remove('orders.>', undefined), 'one of two leaves: still there')
  t.ok(table.remove('orders.>', undefined), 'the last leaves: disappears')
  t.same(table.entries(), [{ pattern: 'orders.>', queue: 'workers' }])
  t.throws(() => table.remove('never', undefined), /never added/, 'an unpaired remove is a bug, asserted')
})

type TableOp = { kind: 'add' | 'remove'; peer: string; pattern: string; queue: string | undefined } | { kind: 'drop'; peer: string }

const tableOpArb: fc.Arbitrary<TableOp> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('add' as const), peer: fc.constantFrom('n1', 'n2', 'n3'), pattern: smallPatternArb, queue: fc.option(fc.constantFrom('q1', 'q2'), { nil: undefined }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('remove' as const), peer: fc.constantFrom('n1', 'n2', 'n3'), pattern: smallPatternArb, queue: fc.option(fc.constantFrom('q1', 'q2'), { nil: undefined }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), peer: fc.constantFrom('n1', 'n2', 'n3') }) },
)

t.test('remote interest: targets agree with a naive scan over random histories (cached and uncached)', async (t) => {
  fc.assert(
    fc.property(fc.array(tableOpArb, { maxLength: 40 }), fc.array(smallSubjectArb, { minLength: 1, maxLength: 8 }), (ops, subjects) => {
      const table = new RemoteInterestTable(1000)
      const reference = new Map<string, { peer: string; pattern: string; queue: string | undefined }>()
      for (const op of ops) {
        if (op.kind === 'drop') {
          table.dropPeer(op.peer)
          for (const [key, value] of reference) if (value.peer === op.peer) reference.delete(key)
          continue
        }
        const key = `${op.peer}|${op.pattern}|${op.queue ?? ''}`
        if (op.kind === 'add') {
          table.add(op.peer, op.pattern, op.queue)
          reference.set(key, { peer: op.peer, pattern: op.pattern, queue: op.queue })
        } else {
          table.remove(op.peer, op.pattern, op.queue)
          reference.delete(key)
        }
        // Twice per step so cached results are exercised too.
        for (const subject of subjects) {
          for (const cache of [true, true, false]) {
            const targets = table.targets(subject, cache)
            const matching = [...reference.values()].filter((entry) => matchSubject(entry.pattern, subject))
            const plain = [...new Set(matching.filter((entry) => entry.queue === undefined).map((entry) => entry.peer))].sort()
            if (JSON.stringify([...targets.peers].sort()) !== JSON.stringify(plain)) return false
            const groups = new Map<string, string[]>()
            for (const entry of matching) if (entry.queue !== undefined) groups.set(entry.queue, [...new Set([...(groups.get(entry.queue) ?? []), entry.peer])].sort())
            if (targets.groups.size !== groups.size) return false
            for (const [queue, peers] of groups) if (JSON.stringify([...(targets.groups.get(queue) ?? [])].sort()) !== JSON.stringify(peers)) return false
            if (table.hasInterest(subject) !== matching.length > 0) return false
          }
        }
      }
      return table.size === reference.size
    }),
    { numRuns: 300 },
  )
  t.pass('300 random histories agree with the reference')
})

t.test('remote interest: at most patternsPerPeerMax entries per peer', async (t) => {
  const table = new RemoteInterestTable(2)
  t.equal(table.add('n1', 'a', undefined), 'added')
  t.equal(table.add('n1', 'a', undefined), 'present', 'the same entry twice is one')
  t.equal(table.add('n1', 'b', 'q'), 'added')
  t.equal(table.add('n1', 'c', undefined), 'full', 'the third is refused')
  t.equal(table.add('n2', 'c', undefined), 'added', 'the limit is per peer')
  t.equal(table.dropPeer('n1'), 2)
  t.equal(table.size, 1)
})

/** Two InterestSyncs joined by in-memory queues, with hooks to refuse or lose frames. */
class Pair {
  readonly tables = { a: new LocalInterestTable(), b: new LocalInterestTable() }
  readonly remote = { a: new RemoteInterestTable(10_000), b: new RemoteInterestTable(10_000) }
  readonly inFlight: Array<{ to: 'a' | 'b'; bytes: Uint8Array }> = []
  refuse = false
  lose: ((bytes: Uint8Array) => boolean) | undefined = undefined
  nowMs = 0
  sync: { a: InterestSync; b: InterestSync }

  constructor(frameBytesMax?: number) {
    this.sync = { a: this.#make('a', 1, frameBytesMax), b: this.#make('b', 2, frameBytesMax) }
  }

  #make(side: 'a' | 'b', session: number, frameBytesMax?: number): InterestSync {
    const other = side === 'a' ? 'b' : 'a'
    return new InterestSync({
      session,
      send: (_peer, bytes) => {
        if (this.refuse) return false
        if (this.lose?.(bytes) !== true) this.inFlight.push({ to: other, bytes })
        return true
      },
      localEntries: () => this.tables[side].entries(),
      remote: this.remote[side],
      counters: new RouteCounterBoard(),
      nowMs: () => this.nowMs,
      resyncRequestIntervalMs: 100,
      ...(frameBytesMax === undefined ? {} : { interestFrameBytesMax: frameBytesMax }),
    })
  }

  restartB(session: number): void {
    this.tables.b = new LocalInterestTable()
    this.remote.b = new RemoteInterestTable(10_000)
    this.sync.b = this.#make('b', session)
  }

  change(side: 'a' | 'b', op: 'add' | 'remove', pattern: string, queue?: string): void {
    const changed = op === 'add' ? this.tables[side].add(pattern, queue) : this.tables[side].remove(pattern, queue)
    if (changed) this.sync[side].localChanged({ op, pattern, queue })
  }

  deliverAll(): void {
    while (this.inFlight.length > 0) {
      const { to, bytes } = this.inFlight.shift() as { to: 'a' | 'b'; bytes: Uint8Array }
      const result = decodeRouteFrame(bytes)
      if (!result.ok) throw result.error
      const frame = result.frame as Exclude<RouteFrame, { kind: 'message' | 'batch' }>
      this.sync[to].receive(to === 'a' ? 'b' : 'a', frame)
    }
  }

  /** What `side` believes the other holds, sorted. */
  view(side: 'a' | 'b'): string[] {
    const peer = side === 'a' ? 'b' : 'a'
    return this.remote[side]
      .entriesOf(peer)
      .map((entry) => `${entry.subject}|${entry.queue ?? ''}`)
      .sort()
  }

  truth(side: 'a' | 'b'): string[] {
    return this.tables[side]
      .entries()
      .map((entry: InterestEntry) => `${entry.pattern}|${entry.queue ?? ''}`)
      .sort()
  }

  converged(): boolean {
    return JSON.stringify(this.view('a')) === JSON.stringify(this.truth('b')) && JSON.stringify(this.view('b')) === JSON.stringify(this.truth('a'))
  }
}

t.test('sync: snapshot at link-up, then deltas; down drops the peer', async (t) => {
  const pair = new Pair()
  pair.change('a', 'add', 'orders.>')
  pair.change('b', 'add', 'jobs.*', 'workers')
  pair.sync.a.flush()
  pair.sync.b.flush()
  pair.sync.a.peerUp('b')
  pair.sync.b.peerUp('a')
  pair.deliverAll()
  t.ok(pair.converged(), 'snapshots exchanged')
  t.ok(pair.sync.a.isSyncedFrom('b') && pair.sync.b.isSyncedFrom('a'))
  pair.change('a', 'add', 'x')
  pair.change('a', 'add', 'x') // a second subscriber: no transition, nothing sent
  pair.change('a', 'remove', 'orders.>')
  pair.sync.a.flush()
  t.equal(pair.inFlight.length, 1, 'the transitions of one turn travel in one delta frame')
  pair.deliverAll()
  t.same(pair.view('b'), ['x|'], 'b follows the deltas')
  t.equal(pair.sync.b.peerDown('a'), 1, 'down: a’s one entry dropped')
  t.same(pair.view('b'), [])
})

t.test('sync: changes queued before the snapshot are not sent twice', async (t) => {
  const pair = new Pair()
  pair.sync.b.peerUp('a')
  pair.change('a', 'add', 'early')
  pair.sync.a.peerUp('b') // the snapshot holds `early`
  pair.change('a', 'add', 'late')
  pair.sync.a.flush()
  const kinds = pair.inFlight.filter((frame) => frame.to === 'b').map((frame) => decodeRouteFrame(frame.bytes))
  const delta = kinds.map((result) => (result.ok ? result.frame : undefined)).find((frame) => frame?.kind === 'delta')
  t.same(delta?.kind === 'delta' ? delta.ops.map((op) => op.pattern) : [], ['late'], 'only the change after the snapshot is a delta')
  pair.deliverAll()
  t.ok(pair.converged())
})

t.test('sync: a big interest set travels as a chunked snapshot', async (t) => {
  const pair = new Pair(2048)
  for (let index = 0; index < 500; index += 1) pair.change('a', 'add', `svc.${index}.>`, index % 2 === 0 ? 'g' : undefined)
  pair.sync.a.flush()
  pair.sync.a.peerUp('b')
  pair.sync.b.peerUp('a')
  t.ok(pair.inFlight.filter((frame) => frame.to === 'b').length >= 3, 'several frames')
  pair.deliverAll()
  t.ok(pair.converged(), 'all 500 entries arrived')
})

t.test('sync: a lost delta is a gap: b asks for a snapshot and converges', async (t) => {
  const pair = new Pair()
  pair.sync.a.peerUp('b')
  pair.sync.b.peerUp('a')
  pair.deliverAll()
  pair.change('a', 'add', 'one')
  pair.lose = () => true
  pair.sync.a.flush() // lost on the way
  pair.lose = undefined
  pair.change('a', 'add', 'two')
  pair.sync.a.flush()
  pair.deliverAll() // b sees seq +2: gap → resync request → a's snapshot
  t.notOk(pair.inFlight.length > 0)
  t.ok(pair.converged(), 'converged after the resync')
  t.same(pair.view('b'), ['one|', 'two|'])
})

t.test('sync: refused sends make the snapshot due; retry() sends it', async (t) => {
  const pair = new Pair()
  pair.change('a', 'add', 'a.>')
  pair.refuse = true
  pair.sync.a.peerUp('b')
  pair.sync.b.peerUp('a')
  pair.change('a', 'add', 'b.>')
  pair.sync.a.flush()
  t.equal(pair.inFlight.length, 0, 'nothing got through')
  pair.refuse = false
  pair.nowMs += 1000
  pair.sync.a.retry()
  pair.sync.b.retry()
  pair.deliverAll()
  t.ok(pair.converged(), 'retry converged both ways')
  t.same(pair.view('b'), ['a.>|', 'b.>|'])
})

t.test('sync: a peer restart the link never saw (new session) gets our snapshot again', async (t) => {
  const pair = new Pair()
  pair.change('a', 'add', 'kept.by.a')
  pair.sync.a.peerUp('b')
  pair.sync.b.peerUp('a')
  pair.deliverAll()
  t.ok(pair.converged())
  pair.restartB(99) // b forgets everything; a's link status never changed
  pair.change('b', 'add', 'new.b')
  pair.sync.b.peerUp('a') // b's side of the new link: sends its snapshot with session 99
  pair.deliverAll()
  t.ok(pair.converged(), 'a re-sent its snapshot on seeing the new session')
  t.same(pair.view('b'), ['kept.by.a|'])
})

t.test('sync: deltas before any snapshot are ignored and a snapshot is asked for', async (t) => {
  const pair = new Pair()
  pair.sync.a.peerUp('b')
  pair.inFlight.length = 0 // b never hears the snapshot (it was not listening yet)
  pair.change('a', 'add', 'late.sub')
  pair.sync.a.flush()
  pair.deliverAll()
  t.ok(pair.converged(), 'b asked, a answered with a snapshot')
})
