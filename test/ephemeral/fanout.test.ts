// Fan-out: each plain subscription once, exactly one member per queue group, echo filter.
import t from 'tap'
import { chooseDeliveries, excludeAny, excludePublisher, pickIndex } from '../../data-plane/ephemeral/fanout.js'
import { SubscriptionIndex } from '../../data-plane/ephemeral/subscription-index.js'
import { seededRandom } from '../protocol/fixtures/feed.js'

interface Sub {
  readonly connection: string
  readonly sid: string
  readonly subject: string
  readonly queue?: string
}

function setup(): { index: SubscriptionIndex<Sub>; subs: Sub[] } {
  const subs: Sub[] = [
    { connection: 'c1', sid: '1', subject: 'orders.*' },
    { connection: 'c1', sid: '2', subject: 'orders.eu' },
    { connection: 'c2', sid: '1', subject: 'orders.>' },
    { connection: 'c3', sid: '1', subject: 'orders.eu', queue: 'workers' },
    { connection: 'c4', sid: '1', subject: 'orders.eu', queue: 'workers' },
    { connection: 'c5', sid: '1', subject: 'orders.#', queue: 'workers' },
    { connection: 'c1', sid: '3', subject: 'orders.eu', queue: 'audit' },
  ]
  const index = new SubscriptionIndex<Sub>()
  for (const sub of subs) index.insert(sub)
  return { index, subs }
}

const key = (s: Sub): string => `${s.connection}/${s.sid}`

t.test('every plain subscription once, one member per queue group', async (t) => {
  const { index } = setup()
  const random = seededRandom(42)
  const counts = new Map<string, number>()
  const rounds = 6000
  let violations = 0
  for (let i = 0; i < rounds; i++) {
    const deliveries = chooseDeliveries(index.match('orders.eu'), { random })
    const keys = deliveries.map(key)
    const ok =
      new Set(keys).size === keys.length && // no subscription twice
      ['c1/1', 'c1/2', 'c2/1'].every((k) => keys.includes(k)) && // overlapping plain subs of c1 each get one
      deliveries.filter((s) => s.queue === 'workers').length === 1 &&
      deliveries.filter((s) => s.queue === 'audit').length === 1
    if (!ok) violations++
    for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1)
  }
  t.equal(violations, 0, 'each plain sub once (both of c1), one workers member, one audit member, in every round')
  for (const worker of ['c3/1', 'c4/1', 'c5/1']) {
    const share = (counts.get(worker) ?? 0) / rounds
    t.ok(share > 0.28 && share < 0.39, `${worker} gets about a third (${share.toFixed(3)})`)
  }
})

t.test('echo: false excludes the publisher, in groups too', async (t) => {
  const { index } = setup()
  const exclude = excludeAny(excludePublisher((s: Sub) => s.connection, 'c1'))
  const random = seededRandom(7)
  for (let i = 0; i < 200; i++) {
    const keys = chooseDeliveries(index.match('orders.eu'), { random, exclude }).map(key)
    t.notOk(keys.some((k) => k.startsWith('c1/')), 'nothing for c1')
    t.equal(keys.filter((k) => ['c3/1', 'c4/1', 'c5/1'].includes(k)).length, 1, 'workers still get one')
  }
  const unhealthy = excludeAny(exclude, (s: Sub) => s.connection === 'c3' || s.connection === 'c4')
  for (let i = 0; i < 50; i++) {
    const keys = chooseDeliveries(index.match('orders.eu'), { random, exclude: unhealthy }).map(key)
    t.ok(keys.includes('c5/1'), 'the only healthy worker gets it')
  }
  const everyone = (): boolean => true
  t.strictSame(chooseDeliveries(index.match('orders.eu'), { random, exclude: everyone }), [], 'all excluded: nothing, no throw')
})

t.test('no match: nothing is delivered (the message is dropped)', async (t) => {
  const { index } = setup()
  t.strictSame(chooseDeliveries(index.match('payments.eu'), { random: Math.random }), [])
})

t.test('pickIndex stays in range for odd random sources', async (t) => {
  t.equal(pickIndex(() => 0.999999, 3), 2)
  t.equal(pickIndex(() => 1, 3), 0)
  t.equal(pickIndex(() => Number.NaN, 3), 0)
  t.equal(pickIndex(() => -0.5, 3), 0)
  t.equal(excludeAny<Sub>(), undefined)
})
