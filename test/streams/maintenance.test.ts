// Stream maintenance on a node (server/streams/maintenance.ts): on a real event store it deletes
// what retention wants gone (count, age against the injected wall clock), logs it and counts it;
// its scheduling on a store double: never two `maintain` calls at once, one stream at a time, a
// backlog continues at once with a bounded number of calls per stream per pass (the others get
// their turn), failures are logged and counted and the pass goes on, a stream removed meanwhile
// is skipped, close tells the call under way to stop after its step, waits for it and stops
// everything.
import t from 'tap'
import { Writable } from 'node:stream'
import { EventStore, eventStoreKeySpaces } from '../../data-plane/persistent/index.js'
import type { EventStoreObserver, MaintenanceResult } from '../../data-plane/persistent/index.js'
import { PersistentRejection } from '../../data-plane/persistent/errors.js'
import { createLogger, createSilentLogger } from '../../shared/log.js'
import { createMemoryLocation, openMemoryStorage } from '../../shared/storage/index.js'
import { attachStreamMaintenance } from '../../server/streams/maintenance.js'
import type { MaintainedStore } from '../../server/streams/maintenance.js'
import { originRun } from '../persistent/store-helpers.js'

function capture(): { lines: Array<Record<string, unknown>>; logger: ReturnType<typeof createLogger> } {
  const lines: Array<Record<string, unknown>> = []
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
      callback()
    },
  })
  return { lines, logger: createLogger({ nodeName: 'n1', level: 'info', destination }) }
}

async function until(what: string, predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

t.test('on a real store: retention by count and by age runs every interval, logged and counted', async (t) => {
  const storage = await openMemoryStorage(createMemoryLocation(), { keySpaces: eventStoreKeySpaces })
  const store = await EventStore.open(storage)
  const counted = 'default/counted'
  const aged = 'default/aged'
  const untouched = 'default/kept'
  await store.ensureStream(counted, { dedupWindowMs: 0, retention: { maxCount: 100 } })
  await store.ensureStream(aged, { dedupWindowMs: 0, retention: { maxAgeMs: 60_000 } })
  await store.ensureStream(untouched, { dedupWindowMs: 0 })
  for (const stream of [counted, aged, untouched]) {
    // 300 events, wallMs 1_000_010 … 1_003_000 (10 ms apart), all delivered.
    const events = originRun('a', 1, 300, 1_000_000).map((event) => ({ ...event, stream }))
    await store.append(stream, events)
    await store.recordDeliveries(stream, events.map((position, index) => ({ index, position })))
  }
  // The wall clock: 60 s after event 150's time → events 1..149 are older than maxAgeMs.
  let wallMs = 1_000_000 + 150 * 10 + 60_000
  const { lines, logger } = capture()
  const maintenance = attachStreamMaintenance({ store, streams: () => [counted, aged, untouched, 'default/unknown'], intervalMs: 20, logger, nowMs: () => wallMs })
  t.teardown(() => maintenance.close())
  await until('a pass', () => maintenance.counters.passes >= 1)
  t.equal(store.info(counted).count, 100, 'count: the newest 100 remain')
  t.equal(store.info(aged).count, 151, 'age: events older than now − maxAgeMs are gone (seq 150 is exactly at the cut: kept)')
  t.equal(store.info(untouched).count, 300, 'no retention: nothing deleted')
  t.equal(maintenance.counters.deletedEvents, 200 + 149)
  t.ok(maintenance.counters.deletedBytes > 0)
  t.equal(maintenance.counters.failures, 0, 'an unknown stream is skipped, not a failure')
  t.ok(maintenance.counters.longestStepMs > 0, 'the longest step is known')
  const logged = lines.filter((line) => typeof line.msg === 'string' && line.msg.startsWith('stream maintenance:'))
  t.same(logged.map((line) => [line.stream, line.deletedEvents]), [[counted, 200], [aged, 149]], 'one line per stream that lost events')

  // Time passes: the next pass (every 20 ms) deletes what aged meanwhile, without being asked.
  const passes = maintenance.counters.passes
  wallMs += 1_000 // 100 more events out of the window
  await until('the next passes', () => maintenance.counters.passes >= passes + 2)
  t.equal(store.info(aged).count, 51)
  await maintenance.close()
  const closedAt = maintenance.counters.passes
  wallMs += 1_000
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(maintenance.counters.passes, closedAt, 'closed: no pass any more')
  t.equal(store.info(aged).count, 51)
  await store.close()
})

/** A store double: each maintain call takes one turn (a held promise), records concurrency. */
function doubleStore(work: Map<string, number>): { store: MaintainedStore; calls: string[]; signals: Array<AbortSignal | undefined>; maxConcurrent: () => number; release: () => void; hold: (on: boolean) => void; fail: Set<string> } {
  const calls: string[] = []
  const signals: Array<AbortSignal | undefined> = []
  const fail = new Set<string>()
  let concurrent = 0
  let maxConcurrent = 0
  let holding = false
  let held: Array<() => void> = []
  const observers = new Set<EventStoreObserver>()
  const store: MaintainedStore = {
    stoppedWith: null,
    hasStream: (stream) => work.has(stream),
    observe: (observer) => {
      observers.add(observer)
      return () => observers.delete(observer)
    },
    maintain: async (stream, _nowMs, options): Promise<MaintenanceResult> => {
      calls.push(stream)
      signals.push(options?.signal)
      concurrent += 1
      maxConcurrent = Math.max(maxConcurrent, concurrent)
      try {
        if (holding) await new Promise<void>((resolve) => held.push(resolve))
        else await new Promise((resolve) => setImmediate(resolve))
        if (fail.has(stream)) throw new Error(`disk trouble on ${stream}`)
        const left = work.get(stream)
        if (left === undefined) throw new PersistentRejection('RG_ERR_NOT_FOUND', `unknown stream ${stream}`)
        const deleted = Math.min(left, 10)
        work.set(stream, left - deleted)
        for (const observer of observers) observer.maintained?.({ stream, deletedEvents: deleted, deletedBytes: deleted * 100, expiredIds: 0, done: left - deleted === 0, steps: 1, durationMs: 1, longestStepMs: deleted / 10 })
        return { deletedEvents: deleted, deletedBytes: deleted * 100, expiredIds: 0, done: left - deleted === 0 }
      } finally {
        concurrent -= 1
      }
    },
  }
  return {
    store,
    calls,
    signals,
    fail,
    maxConcurrent: () => maxConcurrent,
    hold: (on) => {
      holding = on
    },
    release: () => {
      const waiting = held
      held = []
      for (const go of waiting) go()
    },
  }
}

t.test('scheduling: one call at a time, a bounded share per stream per pass, a backlog continues at once', async (t) => {
  // big needs 10 calls (100 events, 10 per call), small 1; 3 calls per stream per pass.
  const work = new Map([['default/big', 100], ['default/small', 5]])
  const double = doubleStore(work)
  const maintenance = attachStreamMaintenance({ store: double.store, streams: () => ['default/big', 'default/small'], intervalMs: 60_000, logger: createSilentLogger(), callsPerStreamPerPass: 3 })
  t.teardown(() => maintenance.close())
  await maintenance.runNow()
  t.same(double.calls, ['default/big', 'default/big', 'default/big', 'default/small'], 'big gets 3 calls, then small its turn')
  t.equal(work.get('default/big'), 70)
  // The backlog continues without waiting for the (60 s) interval: passes follow at once.
  await until('the backlog', () => work.get('default/big') === 0)
  await until('the pass that finished it', () => maintenance.counters.passes >= 4)
  t.same(double.calls.filter((stream) => stream === 'default/big').length, 10)
  t.equal(double.maxConcurrent(), 1, 'never two maintain calls at once')
  t.equal(maintenance.counters.deletedEvents, 105)
  t.equal(maintenance.counters.deletedBytes, 10_500)
  t.equal(maintenance.counters.longestStepMs, 1, 'from the store\'s reports of its calls')
  const passes = maintenance.counters.passes
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(maintenance.counters.passes, passes, 'no backlog: the next pass waits for the interval')
})

t.test('failures are logged and counted; the pass goes on; a removed stream is skipped', async (t) => {
  const work = new Map([['default/a', 10], ['default/b', 10], ['default/c', 10]])
  const double = doubleStore(work)
  double.fail.add('default/a')
  const { lines, logger } = capture()
  const maintenance = attachStreamMaintenance({ store: double.store, streams: () => ['default/a', 'default/gone', 'default/b', 'default/c'], intervalMs: 60_000, logger })
  t.teardown(() => maintenance.close())
  // 'c' is removed from the store while 'b' is maintained: hasStream is false when its turn comes.
  double.hold(true)
  const pass = maintenance.runNow()
  await until('a held', () => double.calls.length === 1)
  double.release()
  await until('b held', () => double.calls.length === 2)
  work.delete('default/c')
  double.hold(false)
  double.release()
  await pass
  t.same(double.calls, ['default/a', 'default/b'], 'a failed, gone and c (removed) were not maintained; b was')
  t.equal(maintenance.counters.failures, 1)
  t.equal(work.get('default/b'), 0)
  t.ok(lines.some((line) => line.msg === 'stream maintenance failed' && line.stream === 'default/a' && line.err === 'disk trouble on default/a'), 'the failure is logged with its stream')
})

t.test('close waits for the call under way and no call starts after it', async (t) => {
  const work = new Map([['default/a', 1_000]])
  const double = doubleStore(work)
  const maintenance = attachStreamMaintenance({ store: double.store, streams: () => ['default/a'], intervalMs: 60_000, logger: createSilentLogger() })
  double.hold(true)
  void maintenance.runNow()
  await until('a call under way', () => double.calls.length === 1)
  let closed = false
  const closing = maintenance.close().then(() => {
    closed = true
  })
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(closed, false, 'close waits for the held call')
  t.equal(double.signals[0]?.aborted, true, 'the call under way was told to stop after its current step')
  double.release()
  await closing
  t.equal(double.calls.length, 1, 'no further call after close')
  t.equal(work.get('default/a'), 990)
  await maintenance.runNow()
  t.equal(double.calls.length, 1, 'runNow after close does nothing')
  t.throws(() => attachStreamMaintenance({ store: double.store, streams: () => [], intervalMs: 0, logger: createSilentLogger() }), RangeError)
})
