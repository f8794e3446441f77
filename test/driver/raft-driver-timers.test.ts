// The driver with injected timers and clock: no tick happens unless the test fires one, so
// elections, timeouts and limits are checked step by step.
import t from 'tap'
import { DurableRaftStorage } from '../../control-plane/driver/durable-raft-storage.js'
import type { DriverStop, DriverTimers } from '../../control-plane/driver/driver-options.js'
import { driverDefaults, resolveDriverSettings } from '../../control-plane/driver/driver-options.js'
import { RaftDriver, droppedFramesLoggedMax } from '../../control-plane/driver/raft-driver.js'
import { raftKeySpaces } from '../../control-plane/driver/raft-records.js'
import { createManualClock } from '../../shared/clock.js'
import { createLogger, createSilentLogger } from '../../shared/log.js'
import { createMemoryLocation, openMemoryStorage } from '../../shared/storage/index.js'
import { MemoryHub } from '../../shared/transport/index.js'
import type { Entry } from '../../control-plane/raft/index.js'
import { AppliedList, bytes } from './helpers.js'

class ManualTimers implements DriverTimers {
  callbacks = new Map<number, () => void>()
  private next = 1

  setInterval(callback: () => void): unknown {
    const handle = this.next
    this.next += 1
    this.callbacks.set(handle, callback)
    return handle
  }

  clearInterval(handle: unknown): void {
    this.callbacks.delete(handle as number)
  }

  fire(times = 1): void {
    for (let i = 0; i < times; i += 1) for (const callback of [...this.callbacks.values()]) callback()
  }
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5))

async function lonelyDriver(voters: string[], options: { pendingReadsMax?: number } = {}, logger = createSilentLogger('1'), app = new AppliedList()) {
  const location = createMemoryLocation()
  const adapter = await openMemoryStorage(location, { keySpaces: raftKeySpaces })
  const storage = await DurableRaftStorage.open(adapter, { bootstrap: { voters } })
  const hub = new MemoryHub()
  const transport = hub.createTransport({ nodeId: '1' })
  await transport.start()
  const timers = new ManualTimers()
  const clock = createManualClock(1_000)
  const stops: DriverStop[] = []
  const driver = new RaftDriver<number>({
    id: '1',
    storage,
    transport,
    application: app,
    logger,
    timers,
    clock,
    random: { int: () => 0 },
    electionTicks: 5,
    proposalTimeoutMs: 1_000,
    readTimeoutMs: 500,
    ...options,
    onStopped: (stop) => stops.push(stop),
  })
  driver.start()
  return {
    hub,
    driver,
    timers,
    clock,
    app,
    stops,
    close: async () => {
      await driver.stop()
      await transport.stop()
      await adapter.close()
    },
  }
}

t.test('a single voter elects itself only when ticked, then proposals (even empty ones) apply', async (t) => {
  const node = await lonelyDriver(['1'])
  t.teardown(() => node.close())
  await settle()
  t.equal(node.driver.status().role, 'follower', 'no tick, no election')
  node.timers.fire(4)
  await settle()
  t.equal(node.driver.status().role, 'follower', 'still below the election timeout')
  node.timers.fire(6)
  await settle()
  t.equal(node.driver.status().role, 'leader', 'elected after the timeout in ticks')
  const first = await node.driver.propose(bytes('one'))
  const empty = await node.driver.propose(new Uint8Array(0))
  t.equal(empty.index, first.index + 1)
  t.same(node.app.texts(), ['one'], 'the empty proposal reached the application as empty data')
  const read = await node.driver.readIndex()
  t.ok(read.readIndex >= empty.index, 'a single voter answers reads at once')
})

t.test('no leader: proposals are dropped at once; reads time out on the injected clock', async (t) => {
  const node = await lonelyDriver(['1', '2', '3'], { pendingReadsMax: 1 })
  t.teardown(() => node.close())
  await t.rejects(node.driver.propose(bytes('x')), { name: 'RaftRequestError', reason: 'dropped', outcome: 'notApplied', code: 'RG_ERR_RAFT_PROPOSAL_DROPPED' })
  const read = node.driver.readIndex()
  let settled = false
  read.then(
    () => (settled = true),
    () => (settled = true),
  )
  await t.rejects(node.driver.readIndex(), { name: 'RaftRequestError', reason: 'tooManyPending' }, 'the read limit holds')
  node.timers.fire(1)
  await settle()
  t.notOk(settled, 'not yet timed out')
  node.clock.advance(500)
  node.timers.fire(1)
  await t.rejects(read, { name: 'RaftRequestError', reason: 'timeout', code: 'RG_ERR_REQUEST_TIMEOUT', outcome: 'unknown' })
})

t.test('stop(): timers cleared, stopped$ says requested, later calls reject', async (t) => {
  const node = await lonelyDriver(['1'])
  node.timers.fire(10)
  await settle()
  t.equal(node.driver.status().role, 'leader')
  const seen: DriverStop[] = []
  node.driver.stopped$.subscribe((stop) => seen.push(stop))
  await node.close()
  t.equal(node.timers.callbacks.size, 0, 'the tick timer is cleared')
  t.same(seen, [{ kind: 'requested' }])
  t.same(node.stops, [{ kind: 'requested' }], 'onStopped called once')
  await t.rejects(node.driver.propose(bytes('late')), { name: 'RaftRequestError', reason: 'stopped', code: 'RG_ERR_RAFT_STOPPED' })
})

t.test('driver settings: defaults fill the gaps; bad values are refused by name', async (t) => {
  const settings = resolveDriverSettings({ tickMs: 5, snapshotEveryEntries: 0 })
  t.equal(settings.tickMs, 5)
  t.equal(settings.snapshotEveryEntries, 0, '0 turns snapshots off')
  t.equal(settings.electionTicks, driverDefaults.electionTicks)
  t.throws(() => resolveDriverSettings({ tickMs: 0 }), { name: 'RangeError', message: /tickMs/ })
  t.throws(() => resolveDriverSettings({ pendingReadsMax: 1.5 }), { name: 'RangeError', message: /pendingReadsMax/ })
  t.throws(() => resolveDriverSettings({ snapshotEveryEntries: -1 }), { name: 'RangeError', message: /snapshotEveryEntries/ })
})

t.test('undecodable frames are logged (up to a limit) and counted; the driver keeps running', async (t) => {
  const lines: string[] = []
  const logger = createLogger({ nodeName: '1', level: 'warn', destination: { write: (line: string) => lines.push(line) } })
  const node = await lonelyDriver(['1'], {}, logger)
  t.teardown(() => node.close())
  const peer = node.hub.createTransport({ nodeId: '2' })
  await peer.start()
  t.teardown(() => peer.stop())
  peer.connect({ id: '1', host: 'memory', port: 0 })
  await settle()
  const garbageFrames = droppedFramesLoggedMax + 5
  for (let i = 0; i < garbageFrames; i += 1) t.ok(peer.send('1', 'raft', new Uint8Array([99, i])), `garbage ${i} queued`)
  await settle()
  t.equal(node.driver.counters.framesDropped, garbageFrames)
  t.equal(lines.filter((line) => line.includes('raft frame dropped: undecodable')).length, droppedFramesLoggedMax, 'logged up to the limit')
  t.equal(node.driver.stoppedBy(), undefined)
  node.timers.fire(10)
  await settle()
  t.equal(node.driver.status().role, 'leader', 'still elects and serves')
})

t.test('an application that throws stops the node (fatal): the proposal rejects RG_ERR_RAFT_STOPPED', async (t) => {
  class Poisoned extends AppliedList {
    override apply(entry: Entry): number {
      if (new TextDecoder().decode(entry.data) === 'poison') throw new Error('cannot apply poison')
      return super.apply(entry)
    }
  }
  const node = await lonelyDriver(['1'], {}, createSilentLogger('1'), new Poisoned())
  t.teardown(() => node.close())
  node.timers.fire(10)
  await settle()
  await node.driver.propose(bytes('fine'))
  await t.rejects(node.driver.propose(bytes('poison')), { name: 'RaftRequestError', reason: 'stopped', code: 'RG_ERR_RAFT_STOPPED' })
  const stop = node.driver.stoppedBy()
  t.equal(stop?.kind, 'fatal')
  if (stop !== undefined && stop.kind !== 'requested') t.match(stop.error.message, /cannot apply poison/)
  t.same(node.stops.map((s) => s.kind), ['fatal'])
})
