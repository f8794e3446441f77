// The simulation and checker behind controller-property.test.ts (see there for what it checks):
// a history of member, fetcher, replica and failover operations run against GroupController, with
// the checker's own view of which deliveries are live. Throws `Violation` on the first breach.
import fc from 'fast-check'
import { GroupController, ProgressState } from '../../data-plane/persistent/consumer/index.js'
import type { ControllerReady, GroupSettings } from '../../data-plane/persistent/consumer/index.js'
import { settings as baseSettings } from './controller-helpers.js'

export type Op =
  | { kind: 'advance'; ms: number }
  | { kind: 'publish'; n: number }
  | { kind: 'act'; member: number; pick: number; choice: number }
  | { kind: 'join'; member: number }
  | { kind: 'crash'; member: number }
  | { kind: 'stall'; member: number }
  | { kind: 'leave'; member: number }
  | { kind: 'fetch'; max: number }
  | { kind: 'replicate'; replica: number }
  | { kind: 'failover'; subset: number }
  | { kind: 'fence' }

export const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 400 }) }), weight: 6 },
  { arbitrary: fc.record({ kind: fc.constant('publish' as const), n: fc.integer({ min: 1, max: 6 }) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('act' as const), member: fc.nat(3), pick: fc.nat(50), choice: fc.nat(99) }), weight: 14 },
  { arbitrary: fc.record({ kind: fc.constant('join' as const), member: fc.nat(3) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('crash' as const), member: fc.nat(3) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('stall' as const), member: fc.nat(3) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('leave' as const), member: fc.nat(3) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('fetch' as const), max: fc.integer({ min: 1, max: 5 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('replicate' as const), replica: fc.nat(1) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('failover' as const), subset: fc.integer({ min: 1, max: 3 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('fence' as const) }), weight: 1 },
)

interface Held {
  readonly index: number
  readonly deliveries: number
  readonly from: GroupController
}

interface SimMember {
  id: string
  state: 'absent' | 'alive' | 'stalled'
  holds: Held[]
  generation: number
}

interface Live {
  readonly holder: string
  untilMs: number
}

export class Violation extends Error {}

export function check(condition: boolean, message: string): void {
  if (!condition) throw new Violation(message)
}

/** Deliberate faults, to show the checker catches them (a test that cannot fail is a defect). */
export interface Sabotage {
  /** A failover restores the head but forgets what was outstanding. */
  readonly loseOutstandingAtFailover?: boolean
  /** A nack is treated as an ack by the driver (the message is never redelivered). */
  readonly nackAsAck?: boolean
}

/** What one history exercised (for the test's summary). */
export interface SimStats {
  deliveries: number
  redeliveries: number
  failovers: number
  deadLetters: number
  staleRefusals: number
}

export function simulate(ops: readonly Op[], overrides: Partial<GroupSettings>, totalEvents: number, sabotage: Sabotage = {}, stats?: SimStats): void {
  const config = baseSettings({ heartbeatMsDefault: 100, ...overrides })
  let now = 0
  let available = 0
  let term = 1
  let life = 0
  const replicas = [new ProgressState(0), new ProgressState(0)]
  const make = (gathered: ProgressState[]): GroupController => {
    const restored = ProgressState.restore(term, gathered)
    if (!restored.ok) throw restored.error
    life += 1
    return new GroupController({ term, writer: `n${life}`, settings: config, progress: restored.value.state, startIndex: 0, available, nowMs: now })
  }
  let current = make([])
  const stale: GroupController[] = []
  const members: SimMember[] = [0, 1, 2, 3].map((i) => ({ id: `m${i}`, state: 'absent', holds: [], generation: 0 }))
  const fetchers = new Map<string, { holds: Held[]; done: boolean }>()
  let fetchCounter = 0
  let moves = 0
  const received = new Set<number>()
  const settled = new Set<number>()
  // controller → index → live delivery (the checker's own view, from sends and answers).
  const live = new Map<GroupController, Map<number, Live>>()
  const liveOf = (c: GroupController): Map<number, Live> => {
    let m = live.get(c)
    if (m === undefined) live.set(c, (m = new Map()))
    return m
  }
  const releaseHolder = (c: GroupController, holder: string): void => {
    for (const [index, l] of liveOf(c)) if (l.holder === holder) liveOf(c).delete(index)
  }

  const holderName = (m: SimMember): string => `${m.id}#${m.generation}`

  const process = (c: GroupController, ready: ControllerReady): void => {
    for (const dropped of ready.droppedMembers) releaseHolder(c, dropped)
    for (const send of ready.sends) {
      if (send.kind === 'status') {
        if (send.status === 'batch-complete') {
          const f = fetchers.get(send.to)
          if (f !== undefined) f.done = true
        }
        continue
      }
      if (config.maxDeliveries > 0) check(send.deliveries <= config.maxDeliveries, `Rg-Deliveries ${send.deliveries} > maxDeliveries ${config.maxDeliveries}`)
      const existing = liveOf(c).get(send.index)
      check(existing === undefined || existing.untilMs <= now, `index ${send.index} sent to ${send.to} while live with ${existing?.holder} until ${existing?.untilMs} (now ${now})`)
      received.add(send.index)
      if (stats !== undefined) {
        stats.deliveries += 1
        if (send.deliveries > 1) stats.redeliveries += 1
      }
      const held: Held = { index: send.index, deliveries: send.deliveries, from: c }
      if (send.to.startsWith('fetch.')) {
        const f = fetchers.get(send.to)
        check(f !== undefined && !f.done, `a message after the 204 of ${send.to}`)
        f?.holds.push(held)
        liveOf(c).set(send.index, { holder: send.to, untilMs: now + config.ackWaitMs })
      } else {
        const m = members.find((x) => `in.${holderName(x)}` === send.to)
        liveOf(c).set(send.index, { holder: send.member ?? send.to, untilMs: now + config.ackWaitMs })
        if (m !== undefined && m.state !== 'absent') m.holds.push(held)
      }
    }
    for (const order of ready.deadLetters) {
      // The driver moves it; one in ten moves fails and is retried.
      moves += 1
      const ok = moves % 10 !== 0
      c.deadLettered(order.index, ok, now)
      if (ok && !c.fenced) {
        settled.add(order.index)
        if (stats !== undefined) stats.deadLetters += 1
      }
    }
  }
  const flush = (): void => {
    for (let round = 0; round < 3; round++) {
      for (const c of [current, ...stale]) process(c, c.ready(now))
    }
  }

  const answer = (holder: string, held: Held, kind: 'ack' | 'nack' | 'term' | 'progress', delayMs?: number): void => {
    const sent = sabotage.nackAsAck === true && kind === 'nack' ? 'ack' : kind
    const outcome = held.from.ack({ index: held.index, deliveries: held.deliveries, kind: sent, ...(delayMs === undefined ? {} : { delayMs }) }, now)
    if (held.from.fenced) {
      check(!outcome.ok && outcome.error.code === 'RG_ERR_STALE_TERM', 'a fenced controller accepted an ack')
      if (stats !== undefined) stats.staleRefusals += 1
      return
    }
    if (!outcome.ok) return
    const l = liveOf(held.from).get(held.index)
    if (outcome.value === 'acked') {
      if (kind === 'ack') settled.add(held.index)
      liveOf(held.from).delete(held.index)
    } else if (outcome.value === 'terminated') liveOf(held.from).delete(held.index)
    else if (outcome.value === 'nacked') liveOf(held.from).delete(held.index)
    else if (outcome.value === 'extended' && l !== undefined) l.untilMs = now + config.ackWaitMs
  }

  const heartbeatAll = (): void => {
    for (const m of members) {
      if (m.state !== 'alive') continue
      const hb = current.heartbeat(holderName(m), now)
      if (!hb.ok) current.join({ member: holderName(m), deliver: `in.${holderName(m)}` }, now)
    }
  }

  for (const op of ops) {
    switch (op.kind) {
      case 'advance': {
        const target = now + op.ms
        // Members heartbeat every 50 ms while alive; controllers tick on the way.
        while (now < target) {
          now = Math.min(target, now + 50)
          heartbeatAll()
          for (const c of [current, ...stale]) c.tick(now)
          flush()
        }
        break
      }
      case 'publish':
        available = Math.min(totalEvents, available + op.n)
        for (const c of [current, ...stale]) c.available(available, now)
        break
      case 'act': {
        const m = members[op.member] as SimMember
        const pool = m.state === 'alive' ? m.holds : [...fetchers.values()].flatMap((f) => f.holds)
        if (pool.length === 0) break
        const held = pool.splice(op.pick % pool.length, 1)[0] as Held
        const holder = m.state === 'alive' ? holderName(m) : 'fetch'
        if (op.choice < 65) answer(holder, held, 'ack')
        else if (op.choice < 75) answer(holder, held, 'nack')
        else if (op.choice < 82) answer(holder, held, 'nack', 30 + op.choice)
        else if (op.choice < 86) answer(holder, held, 'term')
        else if (op.choice < 93) {
          answer(holder, held, 'progress')
          pool.push(held)
        }
        // else: ignore it (the ack wait brings it back)
        break
      }
      case 'join': {
        const m = members[op.member] as SimMember
        if (m.state === 'absent') {
          m.generation += 1
          m.state = 'alive'
          m.holds = []
        }
        if (m.state === 'alive') current.join({ member: holderName(m), deliver: `in.${holderName(m)}`, maxInFlight: 1 + op.member }, now)
        break
      }
      case 'crash': {
        const m = members[op.member] as SimMember
        if (m.state === 'absent') break
        m.state = 'absent'
        m.holds = []
        // The driver sees no interest on the deliver subject: gone, on every controller that knew it.
        for (const c of [current, ...stale]) {
          c.gone(holderName(m), now)
          releaseHolder(c, holderName(m))
        }
        break
      }
      case 'stall': {
        // Stops heartbeating (and acting); the controller drops it after 3 missed periods.
        const m = members[op.member] as SimMember
        if (m.state === 'alive') m.state = 'stalled'
        break
      }
      case 'leave': {
        const m = members[op.member] as SimMember
        if (m.state !== 'alive') break
        current.leave(holderName(m), now)
        releaseHolder(current, holderName(m))
        m.state = 'absent'
        m.holds = []
        break
      }
      case 'fetch': {
        const inbox = `fetch.${++fetchCounter}`
        fetchers.set(inbox, { holds: [], done: false })
        current.fetch({ requestId: inbox, replyTo: inbox, max: op.max, expiresMs: 200 }, now)
        break
      }
      case 'replicate': {
        // The controller (or a stale one) sends its state; a replica keeps the higher term.
        const replica = replicas[op.replica] as ProgressState
        for (const c of [current, ...stale]) {
          const before = replica.canonical()
          const outcome = replica.merge(c.progress.clone())
          if (c.term < replica.term) check(outcome === 'ignored-stale-term' && replica.canonical() === before, 'a stale state landed on a replica that saw a newer term')
        }
        break
      }
      case 'failover': {
        // A new designation (term + 1): the new controller gathers a subset of the copies.
        const gathered: ProgressState[] = []
        if ((op.subset & 1) !== 0) gathered.push((replicas[0] as ProgressState).clone())
        if ((op.subset & 2) !== 0) gathered.push((replicas[1] as ProgressState).clone())
        if (sabotage.loseOutstandingAtFailover === true) {
          const forgetful = new ProgressState(term)
          const headOnly = gathered.reduce((h, g) => Math.max(h, g.head()), 0)
          if (headOnly > 0) forgetful.advanceHead({ node: 'forgetful', term, to: headOnly })
          gathered.splice(0, gathered.length, forgetful)
        }
        term += 1
        if (stats !== undefined) stats.failovers += 1
        stale.push(current)
        current = make(gathered)
        for (const r of replicas) r.merge(current.progress.clone())
        break
      }
      case 'fence':
        for (const c of stale.splice(0)) {
          c.fence(term)
          check(!c.ack({ index: 0, deliveries: 1, kind: 'ack' }, now).ok, 'a fenced controller accepted an input')
          live.delete(c)
        }
        break
    }
    flush()
  }

  // Drain: the old controllers are fenced, every member is back and acks all it gets at once.
  for (const c of stale.splice(0)) c.fence(term)
  available = totalEvents
  current.available(available, now)
  for (const m of members) {
    if (m.state === 'absent') m.generation += 1
    m.state = 'alive'
    m.holds = []
    current.join({ member: holderName(m), deliver: `in.${holderName(m)}` }, now)
  }
  for (let step = 0; step < 4_000; step++) {
    flush()
    for (const m of members) for (const held of m.holds.splice(0)) if (held.from === current) answer(holderName(m), held, 'ack')
    for (const f of fetchers.values()) for (const held of f.holds.splice(0)) if (held.from === current) answer('fetch', held, 'ack')
    if (current.head === totalEvents && current.progress.outstandingCount === 0) break
    now += 50
    heartbeatAll()
    current.tick(now)
  }
  check(current.head === totalEvents, `drained: head ${current.head} of ${totalEvents}`)
  check(current.progress.outstandingCount === 0, `drained: ${current.progress.outstandingCount} still outstanding: ${JSON.stringify(current.snapshot(now))} ${JSON.stringify(current.progress.outstanding())}`)
  for (let index = 0; index < totalEvents; index++) {
    check(received.has(index), `index ${index} never reached a member`)
    check(settled.has(index), `index ${index} was neither acked nor dead-lettered`)
  }
}

export const configArb = fc.record({
  mode: fc.constantFrom('load-balanced' as const, 'exclusive' as const),
  maxInFlight: fc.integer({ min: 1, max: 4 }),
  ackWaitMs: fc.integer({ min: 60, max: 500 }),
  maxDeliveries: fc.constantFrom(0, 2, 3),
  maxLag: fc.constantFrom(0, 6),
})

