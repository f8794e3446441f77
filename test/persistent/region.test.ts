// A region end to end, on the pure core only: origins publish on skewed clocks, replication
// drops pushes, anti-entropy pulls by version vector, replicas deliver stable events, and a
// consumer group's SCC dispatches, gets acks, replicates its progress and fails over to a new
// term. Checks DESIGN §4: 2 (same order everywhere), 3 (equal digests after healing),
// 4 (nothing delivered to the group is lost: every position below the head was acked or is
// still outstanding) and 7 (a stale SCC's state never lands).
import fc from 'fast-check'
import t from 'tap'
import { EventSet, GroupProgress, HybridLogicalClock, Orderer } from '../../data-plane/persistent/index.js'
import type { EventPosition, Heartbeat, StreamEvent } from '../../data-plane/persistent/index.js'
import { event, keyOf, stream } from './helpers.js'

const windowMs = 10

interface Replica {
  readonly name: string
  readonly clock: HybridLogicalClock
  readonly set: EventSet
  readonly orderer: Orderer
  readonly delivered: string[]
  readonly progress: GroupProgress
  seq: number
  lastHeartbeat: Heartbeat | null
}

interface Scc {
  readonly replica: number
  readonly term: number
  readonly state: GroupProgress
  next: number
}

const stepArb = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('publish' as const), replica: fc.nat(4), id: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), pushTo: fc.oneof(fc.constant(31), fc.nat(31)), stepMs: fc.nat(6) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('heartbeat' as const), replica: fc.nat(4), pushTo: fc.oneof(fc.constant(31), fc.nat(31)), stepMs: fc.nat(6) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('pull' as const), replica: fc.nat(4), from: fc.nat(4) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('deliver' as const), replica: fc.nat(4) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('dispatch' as const), count: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('ack' as const), pick: fc.nat(), zombie: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('replicate' as const), to: fc.nat(4), zombie: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('failover' as const), to: fc.nat(4), gather: fc.nat(31) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), stepMs: fc.nat(6) }) },
)

function receive(r: Replica, events: readonly StreamEvent[]): void {
  r.orderer.add(r.set.insert(events).added.map((a) => a.event))
}

function deliver(r: Replica): void {
  for (const d of r.orderer.takeStable().delivered) r.delivered.push(keyOf(d.event))
}

t.test('property: a region converges, delivers one order, and its consumer group loses nothing', async () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 3, max: 5 }),
      fc.array(fc.integer({ min: -30, max: 30 }), { minLength: 5, maxLength: 5 }),
      fc.array(stepArb, { maxLength: 200, size: 'max' }),
      (count, skews, steps) => {
        const origins = Array.from({ length: count }, (_, i) => ({ origin: `n${i}`, incarnation: 1 }))
        const replicas: Replica[] = origins.map(({ origin }) => {
          const set = new EventSet({ stream, dedupWindowMs: windowMs })
          return { name: origin, clock: new HybridLogicalClock(), set, orderer: new Orderer(set, { origins }), delivered: [], progress: new GroupProgress(1), seq: 0, lastHeartbeat: null }
        })
        let nowMs = 1000
        const physical = (i: number): number => nowMs + (skews[i] as number)
        let scc: Scc = { replica: 0, term: 1, state: new GroupProgress(1), next: 0 }
        let zombie: Scc | null = null
        const ackedEver = new Set<number>()
        const at = (i: number): Replica => replicas[i % count] as Replica

        const heartbeat = (i: number): Heartbeat => {
          const r = at(i)
          const hb = { origin: r.name, incarnation: 1, seq: r.seq, hlc: r.clock.now(physical(i % count)) }
          r.lastHeartbeat = hb
          return hb
        }
        const dispatch = (s: Scc, n: number): void => {
          const log = at(s.replica).delivered
          for (let k = 0; k < n && s.next < log.length; k++, s.next++) {
            const result = s.state.dispatch({ node: at(s.replica).name, term: s.term, id: String(s.next), position: s.next })
            if (!result.ok) throw result.error
          }
        }

        for (const step of steps) {
          if (step.kind === 'publish' || step.kind === 'heartbeat') {
            nowMs += step.stepMs
            const r = at(step.replica)
            const pushed: Array<() => void> = []
            if (step.kind === 'publish') {
              r.seq++
              const e = event({ origin: r.name, originSeq: r.seq, hlc: r.clock.now(physical(step.replica % count)), id: step.id })
              receive(r, [e])
              for (let j = 0; j < count; j++) pushed.push(() => receive(at(j), [e]))
            } else {
              const hb = heartbeat(step.replica)
              for (let j = 0; j < count; j++) pushed.push(() => at(j).orderer.heartbeat(hb))
            }
            // Replication drops pushes: only the replicas named by the bit mask get it now.
            pushed.forEach((push, j) => {
              if ((step.pushTo >> j) & 1) push()
            })
          } else if (step.kind === 'pull') {
            const to = at(step.replica)
            const from = at(step.from)
            for (const range of to.set.missingFrom(from.set.versionVector())) receive(to, from.set.eventsInRange(range))
            if (from.lastHeartbeat !== null) to.orderer.heartbeat(from.lastHeartbeat)
          } else if (step.kind === 'deliver') {
            deliver(at(step.replica))
          } else if (step.kind === 'tick') {
            // Idle heartbeats: every origin tells every replica how far it has got.
            nowMs += step.stepMs
            for (let i = 0; i < count; i++) {
              const hb = heartbeat(i)
              for (const r of replicas) r.orderer.heartbeat(hb)
            }
          } else if (step.kind === 'dispatch') {
            deliver(at(scc.replica))
            dispatch(scc, step.count)
          } else if (step.kind === 'ack') {
            // A consumer acks something outstanding (maybe through the stale SCC that still runs).
            const s = step.zombie && zombie !== null ? zombie : scc
            const outstanding = s.state.outstanding()
            const pick = outstanding[step.pick % Math.max(1, outstanding.length)]
            if (pick !== undefined && s.state.ack({ term: s.term, id: pick.id }).ok) ackedEver.add(pick.position)
          } else if (step.kind === 'replicate') {
            const s = step.zombie && zombie !== null ? zombie : scc
            const target = at(step.to).progress
            const before = target.term
            const outcome = target.merge(s.state)
            // DESIGN §4.7: a replica that has seen a newer term never takes a stale state.
            if (s.term < before && outcome !== 'ignored-stale-term') throw new Error('stale SCC state landed')
          } else {
            // Failover: a new SCC gathers the progress of some replicas and takes over with term + 1.
            const gathered = replicas.filter((_, j) => (step.gather >> j) & 1).map((r) => r.progress)
            const term = Math.max(scc.term, ...replicas.map((r) => r.progress.term)) + 1
            const taken = GroupProgress.takeOver(term, gathered)
            if (!taken.ok) throw taken.error
            zombie = scc
            scc = { replica: step.to % count, term, state: taken.value.state, next: taken.value.state.head() }
            for (const o of taken.value.redeliver) {
              const again = scc.state.dispatch({ node: at(scc.replica).name, term, id: o.id, position: o.position })
              if (!again.ok) throw again.error
            }
          }
        }

        // Heal: everyone pulls from everyone, final heartbeats reach everyone, everyone delivers.
        nowMs += 1000
        for (let round = 0; round < 2; round++) {
          for (const to of replicas) for (const from of replicas) for (const range of to.set.missingFrom(from.set.versionVector())) receive(to, from.set.eventsInRange(range))
        }
        for (let i = 0; i < count; i++) {
          const hb = heartbeat(i)
          for (const r of replicas) r.orderer.heartbeat(hb)
        }
        replicas.forEach(deliver)

        const reference = new EventSet({ stream, dedupWindowMs: windowMs })
        for (const r of replicas) reference.merge(r.set)
        const expected = reference.survivors().map(keyOf)
        for (const r of replicas) {
          if (r.set.digest() !== reference.digest()) throw new Error(`${r.name}: digest differs after healing`)
          if (JSON.stringify(r.delivered) !== JSON.stringify(expected)) throw new Error(`${r.name} delivered ${r.delivered.join(' ')}\n expected ${expected.join(' ')}`)
        }

        // The group: the current SCC dispatches the rest; nothing below its head may be lost.
        dispatch(scc, Number.MAX_SAFE_INTEGER)
        if (scc.state.head() !== expected.length) throw new Error(`head ${scc.state.head()} after dispatching ${expected.length}`)
        for (let p = 0; p < scc.state.head(); p++) {
          if (!ackedEver.has(p) && !scc.state.isOutstanding(String(p))) throw new Error(`position ${p} was neither acked nor outstanding: lost`)
        }
      },
    ),
    { numRuns: 400 },
  )
})

t.test('a restarted replica resumes delivery where it stopped', async (t) => {
  const set = new EventSet({ stream, dedupWindowMs: 0 })
  const origins = [{ origin: 'a', incarnation: 1 }]
  const first = new Orderer(set, { origins })
  const events = [1, 2, 3, 4].map((seq) => event({ origin: 'a', originSeq: seq, hlc: { wallMs: seq * 10, logical: 0 }, id: `e${seq}` }))
  first.add(set.insert(events.slice(0, 2)).added.map((a) => a.event))
  const before = first.takeStable().delivered.map((d) => [keyOf(d.event), d.index])
  t.same(before, [['a#1#1', 0], ['a#1#2', 1]])
  // The driver persisted lastDelivered and deliveredCount; a new orderer over the same set resumes.
  const resumed = new Orderer(set, { origins, resumeAfter: { lastDelivered: first.lastDelivered as EventPosition, deliveredCount: first.deliveredCount } })
  resumed.add(set.insert(events.slice(2)).added.map((a) => a.event))
  t.same(resumed.takeStable().delivered.map((d) => [keyOf(d.event), d.index]), [['a#1#3', 2], ['a#1#4', 3]])
  const close = resumed.close({ origin: 'a', incarnation: 1, atSeq: 1, controllerTerm: 1 })
  t.equal(!close.ok && close.error.code, 'RG_ERR_CONFLICT', 'what was delivered before the restart still counts')
})
