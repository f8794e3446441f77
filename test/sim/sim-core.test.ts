import t from 'tap'
import { VirtualClock } from './clock.js'
import { SimDisk } from './disk.js'
import { SimNetwork } from './network.js'
import { SimRandom } from './random.js'
import { TraceRecorder } from './trace.js'

t.test('SimRandom: same key, same stream; forks are independent of draw count', async (t) => {
  const a = SimRandom.fromSeed(42)
  const b = SimRandom.fromSeed(42)
  const drawsA = Array.from({ length: 100 }, () => a.int(1000))
  t.same(drawsA, Array.from({ length: 100 }, () => b.int(1000)))
  t.not(SimRandom.fromSeed(43).int(1 << 30), SimRandom.fromSeed(42).int(1 << 30))
  const fresh = SimRandom.fromSeed(42).fork('net')
  t.equal(a.fork('net').int(1 << 30), fresh.int(1 << 30), 'fork ignores how much the parent drew')
  t.not(a.fork('net').int(1 << 30), a.fork('disk').int(1 << 30))
})

t.test('SimRandom: ranges and rough uniformity', async (t) => {
  const random = SimRandom.fromSeed(7)
  const counts = [0, 0, 0, 0, 0, 0]
  for (let i = 0; i < 60_000; i++) counts[random.int(6)]!++
  for (const count of counts) t.ok(count > 9_400 && count < 10_600, `bucket ${count} near 10000`)
  for (let i = 0; i < 1000; i++) {
    const f = random.float()
    t.ok(f >= 0 && f < 1)
    const n = random.intBetween(3, 5)
    if (n < 3 || n > 5) t.fail(`intBetween out of range: ${n}`)
  }
  t.equal(random.chance(0), false)
  t.equal(random.chance(1), true)
  t.throws(() => random.int(0))
  t.throws(() => random.pick([]))
})

t.test('VirtualClock: time order with stable tie-break, cancel, runUntil', async (t) => {
  const clock = new VirtualClock()
  const seen: string[] = []
  clock.schedule(10, () => seen.push('b@10'))
  clock.schedule(5, () => seen.push('a@5'))
  clock.schedule(10, () => seen.push('c@10'))
  const cancelled = clock.schedule(7, () => seen.push('never'))
  clock.schedule(10, () => clock.schedule(0, () => seen.push('d@10-nested')))
  clock.cancel(cancelled)
  clock.runUntil(20)
  t.same(seen, ['a@5', 'b@10', 'c@10', 'd@10-nested'])
  t.equal(clock.nowMs, 20)
  t.throws(() => clock.scheduleAt(19, () => undefined))
  const bounded = new VirtualClock(2)
  bounded.schedule(1, () => undefined)
  bounded.schedule(1, () => undefined)
  t.throws(() => bounded.schedule(1, () => undefined), /pending events/)
})

function networkRun(seed: number): { trace: string; received: string[] } {
  const clock = new VirtualClock()
  const trace = new TraceRecorder()
  const net = new SimNetwork<string>(
    clock,
    SimRandom.fromSeed(seed).fork('net'),
    trace,
    { dropProbability: 0.2, duplicateProbability: 0.2, delayMsMin: 1, delayMsMax: 20 },
    (m) => m,
  )
  const received: string[] = []
  net.register('b', (from, m) => received.push(`${from}:${m}`))
  for (let i = 0; i < 200; i++) net.send('a', 'b', `m${i}`)
  clock.runUntil(1000)
  return { trace: trace.hash(), received }
}

t.test('SimNetwork: drops, duplicates and reorders deterministically', async (t) => {
  const run = networkRun(1)
  t.same(networkRun(1), run, 'same seed, same deliveries and trace')
  t.not(networkRun(2).trace, run.trace)
  const unique = new Set(run.received)
  t.ok(unique.size < 200, 'some messages dropped')
  t.ok(run.received.length > unique.size, 'some duplicated')
  const order = run.received.map((m) => Number(m.slice(3)))
  t.ok(order.some((n, i) => i > 0 && n < order[i - 1]!), 'some reordered')
})

t.test('SimNetwork: partitions, heal, one-way cuts, in-flight cut, node down, bounded queues', async (t) => {
  const clock = new VirtualClock()
  const net = new SimNetwork<string>(clock, SimRandom.fromSeed(3), new TraceRecorder(), { dropProbability: 0, duplicateProbability: 0, inFlightPerLinkMax: 3 })
  const got: string[] = []
  for (const node of ['a', 'b', 'c']) net.register(node, (from, m) => got.push(`${from}>${node}:${m}`))
  net.partition([['a'], ['b', 'c']])
  net.send('a', 'b', '1')
  net.send('b', 'c', '2')
  net.send('x', 'a', '3') // unlisted nodes (clients) reach everyone
  clock.runUntil(100)
  t.same(got.sort(), ['b>c:2', 'x>a:3'])
  net.heal()
  net.cutLink('a', 'b')
  got.length = 0
  net.send('a', 'b', '4')
  net.send('b', 'a', '5')
  clock.runUntil(200)
  t.same(got, ['b>a:5'])
  net.heal()
  got.length = 0
  net.send('a', 'b', '6')
  net.partition([['a'], ['b']]) // cut while in flight
  clock.runUntil(300)
  t.same(got, [])
  net.heal()
  net.unregister('c')
  net.send('a', 'c', '7')
  for (let i = 0; i < 5; i++) net.send('a', 'b', `q${i}`)
  clock.runUntil(400)
  t.same(got, ['a>b:q0', 'a>b:q1', 'a>b:q2'].filter((m) => got.includes(m)))
  t.equal(got.length, 3)
  const { dropped } = net.stats()
  t.equal(dropped.nodeDown, 1)
  t.equal(dropped.queueFull, 2)
  t.equal(dropped.partition, 2)
  t.equal(dropped.linkCut, 1)
})

t.test('SimDisk: unsynced writes are lost or torn on crash; synced survive', async (t) => {
  const clock = new VirtualClock()
  let tornSeen = false
  let allLostSeen = false
  for (let seed = 0; seed < 50; seed++) {
    const disk = new SimDisk<number>('n1', SimRandom.fromSeed(seed), new TraceRecorder(), () => clock.nowMs)
    disk.write([1, 2])
    disk.sync()
    disk.write([3, 4, 5])
    disk.write([6, 7])
    t.same(disk.read(), [1, 2, 3, 4, 5, 6, 7], 'the process reads its own unsynced writes')
    const { kept } = disk.crash()
    const after = disk.read()
    t.same(after, [1, 2, 3, 4, 5, 6, 7].slice(0, 2 + kept), 'a prefix survives, in order')
    if (kept === 0) allLostSeen = true
    if (kept > 0 && kept < 5) tornSeen = true
  }
  t.ok(tornSeen && allLostSeen, 'both outcomes happen across seeds')
  const disk = new SimDisk<number>('n1', SimRandom.fromSeed(0), new TraceRecorder(), () => 0, { recordsMax: 3 })
  disk.write([1, 2, 3])
  t.throws(() => disk.write([4]), /more than 3 records/)
  t.throws(() => disk.replaceDurably([9]), /unsynced/)
  disk.sync()
  disk.replaceDurably([9])
  t.same(disk.read(), [9])
})
