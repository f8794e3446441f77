// The subscription index against a naive linear scan with matchSubject (the reference matcher).
import fc from 'fast-check'
import t from 'tap'
import { SubscriptionIndex } from '../../data-plane/ephemeral/subscription-index.js'
import type { SubscriptionMatch } from '../../data-plane/ephemeral/subscription-index.js'
import { matchSubject } from '../../shared/subject/index.js'

interface Sub {
  readonly id: number
  readonly subject: string
  readonly queue?: string
}

const literal = fc.constantFrom('a', 'b', 'c')
const patternArb = fc
  .tuple(fc.array(fc.oneof(literal, literal, fc.constantFrom('*', '#')), { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([tokens, tail]) => (tail ? [...tokens, '>'] : tokens).join('.'))
const subjectArb = fc.array(literal, { minLength: 1, maxLength: 5 }).map((tokens) => tokens.join('.'))
const queueArb = fc.option(fc.constantFrom('q1', 'q2'), { nil: undefined })

type Step =
  | { readonly kind: 'insert'; readonly subject: string; readonly queue: string | undefined }
  | { readonly kind: 'remove'; readonly pick: number }
  | { readonly kind: 'match'; readonly subject: string }

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), subject: patternArb, queue: queueArb }),
  fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('match' as const), subject: subjectArb }),
  fc.record({ kind: fc.constant('match' as const), subject: subjectArb }),
)

/** Canonical form: sorted plain ids; groups as sorted [queue, sorted ids]. */
function canonical(match: SubscriptionMatch<Sub>): unknown {
  return {
    plain: match.plain.map((s) => s.id).sort((a, b) => a - b),
    groups: [...match.groups.entries()]
      .map(([queue, members]) => [queue, members.map((s) => s.id).sort((a, b) => a - b)] as const)
      .sort(([a], [b]) => a.localeCompare(b)),
  }
}

function naive(subs: readonly Sub[], subject: string): unknown {
  const plain: Sub[] = []
  const groups = new Map<string, Sub[]>()
  for (const sub of subs) {
    if (!matchSubject(sub.subject, subject)) continue
    if (sub.queue === undefined) plain.push(sub)
    else groups.set(sub.queue, [...(groups.get(sub.queue) ?? []), sub])
  }
  return canonical({ plain, groups })
}

for (const matchCacheEntriesMax of [4096, 2, 0]) {
  t.test(`index agrees with a linear scan over random insert/remove/match (cache ${matchCacheEntriesMax})`, async (t) => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 60 }), (steps) => {
        const index = new SubscriptionIndex<Sub>({ matchCacheEntriesMax })
        const live: Sub[] = []
        let nextId = 0
        for (const step of steps) {
          if (step.kind === 'insert') {
            const sub: Sub = step.queue === undefined ? { id: nextId++, subject: step.subject } : { id: nextId++, subject: step.subject, queue: step.queue }
            if (!index.insert(sub)) return false
            live.push(sub)
          } else if (step.kind === 'remove') {
            if (live.length === 0) continue
            const [sub] = live.splice(step.pick % live.length, 1)
            if (sub === undefined || !index.remove(sub) || index.remove(sub)) return false
          } else {
            // Uncached first: it must agree and leave the cache (and admission filter) as it was.
            const cachedBefore = index.cachedSubjects
            const uncached = canonical(index.match(step.subject, { cache: false }))
            if (index.cachedSubjects !== cachedBefore) throw new Error(`uncached match ${step.subject} changed the cache`)
            index.match(step.subject) // seen twice: the cache admits it, so later steps can hit it
            const got = canonical(index.match(step.subject))
            const expected = naive(live, step.subject)
            if (JSON.stringify(got) !== JSON.stringify(expected) || JSON.stringify(uncached) !== JSON.stringify(expected)) {
              throw new Error(`match ${step.subject}: got ${JSON.stringify(got)}, uncached ${JSON.stringify(uncached)}, expected ${JSON.stringify(expected)}`)
            }
          }
          if (index.size !== live.length) return false
          if (index.cachedSubjects > matchCacheEntriesMax) return false
        }
        for (const sub of live) index.remove(sub)
        return index.size === 0 && index.nodeCount === 0
      }),
      { numRuns: 1500 },
    )
    t.pass('1,500 random histories agree')
  })
}

t.test('remove prunes the trie: node count returns to 0', async (t) => {
  const index = new SubscriptionIndex<Sub>()
  const subs: Sub[] = ['a.b.c', 'a.b', 'a.*.c', 'a.>', '#', 'a.#.c', '*.*', 'x.y.z.w'].map((subject, id) => ({ id, subject }))
  subs.push({ id: 100, subject: 'a.b', queue: 'q' })
  for (const sub of subs) index.insert(sub)
  t.ok(index.nodeCount > 0)
  const before = index.nodeCount
  t.notOk(index.insert(subs[0] as Sub), 'the same value twice is one subscription')
  t.equal(index.nodeCount, before)
  t.notOk(index.remove({ id: 999, subject: 'a.b' }), 'an unknown value is not removed')
  t.notOk(index.remove({ id: 998, subject: 'no.such.path' }))
  for (const sub of subs) t.ok(index.remove(sub))
  t.equal(index.nodeCount, 0)
  t.equal(index.size, 0)
  t.strictSame(canonical(index.match('a.b.c')), { plain: [], groups: [] })
})

t.test('cache: a cached result is reused and invalidated by insert and remove', async (t) => {
  const index = new SubscriptionIndex<Sub>()
  const wide: Sub = { id: 1, subject: 'orders.>' }
  index.insert(wide)
  index.match('orders.eu.created')
  t.equal(index.cachedSubjects, 0, 'a subject seen once is not cached (admission filter)')
  const second = index.match('orders.eu.created')
  t.equal(index.cachedSubjects, 1, 'seen twice: cached')
  t.equal(index.match('orders.eu.created'), second, 'same object from the cache')
  const narrow: Sub = { id: 2, subject: 'orders.*.created' }
  index.insert(narrow)
  t.strictSame(canonical(index.match('orders.eu.created')), { plain: [1, 2], groups: [] }, 'insert invalidates')
  index.remove(wide)
  t.strictSame(canonical(index.match('orders.eu.created')), { plain: [2], groups: [] }, 'remove invalidates')
  const bounded = new SubscriptionIndex<Sub>({ matchCacheEntriesMax: 3 })
  bounded.insert(wide)
  for (let i = 0; i < 10; i++) for (let seen = 0; seen < 3; seen++) bounded.match(`orders.${i}`)
  t.ok(bounded.cachedSubjects > 0 && bounded.cachedSubjects <= 3, 'the cache stays within its bound')
  t.throws(() => new SubscriptionIndex<Sub>({ matchCacheEntriesMax: 1 }), RangeError)
})

t.test('uncached match: one-off subjects never enter the cache, however often they are seen', async (t) => {
  const index = new SubscriptionIndex<Sub>()
  index.insert({ id: 1, subject: '_INBOX.abc.*' })
  for (let n = 0; n < 3; n++) {
    t.strictSame(canonical(index.match('_INBOX.abc.7', { cache: false })), { plain: [1], groups: [] })
  }
  t.equal(index.cachedSubjects, 0, 'not cached after three uncached matches')
  index.match('_INBOX.abc.7')
  t.equal(index.cachedSubjects, 0, 'uncached matches did not count as sightings for admission')
  index.match('_INBOX.abc.7')
  t.equal(index.cachedSubjects, 1, 'the cached path still admits on second sight')
})

t.test('queue members under different patterns share one group; # paths deduplicate', async (t) => {
  const index = new SubscriptionIndex<Sub>()
  index.insert({ id: 1, subject: 'orders.*', queue: 'workers' })
  index.insert({ id: 2, subject: 'orders.>', queue: 'workers' })
  index.insert({ id: 3, subject: '#.#', queue: 'other' })
  index.insert({ id: 4, subject: '#.>' })
  t.strictSame(canonical(index.match('orders.eu')), { plain: [4], groups: [['other', [3]], ['workers', [1, 2]]] })
})
