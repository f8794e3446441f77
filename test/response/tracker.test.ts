// Response streams: open/respond/expire semantics, exclusivity, limits, and the deadline heap
// against a naive reference.
import t from 'tap'
import fc from 'fast-check'
import { createManualClock } from '../../shared/clock.js'
import { DeadlineHeap, ResponseTracker, requestTimeoutFromHeader, requestTimeoutMsMax } from '../../data-plane/response/index.js'
import type { HeapItem } from '../../data-plane/response/index.js'

function tracker(maxOpenPerOwner = 3) {
  const clock = createManualClock(1000)
  return { clock, rs: new ResponseTracker<string>({ clock, maxOpenPerOwner, untimedExpiryMs: 60_000 }) }
}

t.test('the first response ends the RS; later publishes are not responses', async (t) => {
  const { rs } = tracker()
  t.same(rs.open('alice', '_INBOX.a.1', 'svc.echo', 500), { kind: 'opened' })
  t.equal(rs.size, 1)
  t.equal(rs.respond('unrelated'), undefined)
  const stream = rs.respond('_INBOX.a.1')
  t.equal(stream?.owner, 'alice')
  t.equal(stream?.requestSubject, 'svc.echo')
  t.equal(rs.respond('_INBOX.a.1'), undefined, 'second response finds no RS')
  t.equal(rs.size, 0)
  t.equal(rs.nextDeadlineMs(), undefined)
})

t.test('a reply subject open for one owner is refused to another; the owner may re-open it', async (t) => {
  const { rs, clock } = tracker()
  rs.open('alice', 'reply.x', 'a', 100)
  t.same(rs.open('bob', 'reply.x', 'b', 100), { kind: 'in-use' })
  clock.advance(50)
  t.same(rs.open('alice', 'reply.x', 'c', 100), { kind: 'opened' }, 're-open replaces')
  t.equal(rs.size, 1)
  t.equal(rs.get('reply.x')?.requestSubject, 'c')
  t.equal(rs.nextDeadlineMs(), 1150, 'deadline refreshed')
  rs.respond('reply.x')
  t.same(rs.open('bob', 'reply.x', 'b', 100), { kind: 'opened' }, 'free again after the response')
})

t.test('per-owner limit', async (t) => {
  const { rs } = tracker(2)
  rs.open('alice', 'r1', 's', 0)
  rs.open('alice', 'r2', 's', 0)
  t.same(rs.open('alice', 'r3', 's', 0), { kind: 'limit' })
  t.same(rs.open('bob', 'r3', 's', 0), { kind: 'opened' }, 'other owners unaffected')
  t.same(rs.open('alice', 'r2', 's', 0), { kind: 'opened' }, 're-opening an own RS is not a new one')
  rs.respond('r1')
  t.same(rs.open('alice', 'r3b', 's', 0), { kind: 'opened' })
  t.equal(rs.openCount('alice'), 2)
})

t.test('expiry: timed RS come back for a 408, untimed ones after untimedExpiryMs', async (t) => {
  const { rs, clock } = tracker(10)
  rs.open('alice', 'slow', 's', 200)
  rs.open('alice', 'fast', 's', 100)
  rs.open('alice', 'forever', 's', 0)
  t.equal(rs.nextDeadlineMs(), 1100)
  clock.advance(99)
  t.same(rs.expire(), [])
  clock.advance(1)
  t.same(rs.expire().map((s) => [s.replySubject, s.timed]), [['fast', true]])
  clock.advance(500)
  t.same(rs.expire().map((s) => s.replySubject), ['slow'])
  t.equal(rs.nextDeadlineMs(), 61_000)
  clock.advance(60_000)
  t.same(rs.expire().map((s) => [s.replySubject, s.timed]), [['forever', false]])
  t.equal(rs.size, 0)
})

t.test('closing an owner forgets only its RS', async (t) => {
  const { rs } = tracker(10)
  rs.open('alice', 'a1', 's', 10)
  rs.open('alice', 'a2', 's', 0)
  rs.open('bob', 'b1', 's', 10)
  t.equal(rs.closeOwner('alice'), 2)
  t.equal(rs.closeOwner('alice'), 0)
  t.equal(rs.size, 1)
  t.equal(rs.get('b1')?.owner, 'bob')
})

t.test('Rg-Timeout-Ms header', async (t) => {
  const h = (value: string) => ({ entries: [['Other', 'x'] as const, ['rg-timeout-ms', value] as const] })
  t.equal(requestTimeoutFromHeader(undefined), undefined)
  t.equal(requestTimeoutFromHeader({ entries: [] }), undefined)
  t.equal(requestTimeoutFromHeader(h('250')), 250, 'case-insensitive key')
  t.equal(requestTimeoutFromHeader(h(' 75 ')), 75)
  t.equal(requestTimeoutFromHeader(h('0')), undefined)
  t.equal(requestTimeoutFromHeader(h('-5')), undefined)
  t.equal(requestTimeoutFromHeader(h('1.5')), undefined)
  t.equal(requestTimeoutFromHeader(h('soon')), undefined)
  t.equal(requestTimeoutFromHeader(h('999999999999')), requestTimeoutMsMax, 'clamped')
})

t.test('deadline heap matches a sorted reference under random push/pop/remove', async (t) => {
  interface Item extends HeapItem { id: number }
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom('push', 'pop', 'remove'), fc.integer({ min: 0, max: 1000 }), fc.nat()), { maxLength: 200 }),
      (steps) => {
        const heap = new DeadlineHeap<Item>()
        let reference: Item[] = []
        let nextId = 0
        for (const [kind, deadlineMs, pick] of steps) {
          if (kind === 'push') {
            const item: Item = { id: nextId++, deadlineMs, heapIndex: -1 }
            heap.push(item)
            reference.push(item)
          } else if (kind === 'pop') {
            const popped = heap.pop()
            const minimum = reference.reduce<number | undefined>((m, i) => (m === undefined || i.deadlineMs < m ? i.deadlineMs : m), undefined)
            if (popped?.deadlineMs !== minimum) return false
            reference = reference.filter((i) => i !== popped)
          } else if (reference.length > 0) {
            const victim = reference[pick % reference.length] as Item
            heap.remove(victim)
            reference = reference.filter((i) => i !== victim)
          }
          if (heap.size !== reference.length) return false
        }
        return true
      },
    ),
    { seed: 42, numRuns: 300 },
  )
  t.pass('heap agrees with the reference')
})
