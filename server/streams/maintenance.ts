// Retention on a node: every `intervalMs` (config `streams.maintenanceIntervalMs`), one pass over
// the persistent streams open here runs the event store's `maintain(stream, nowMs)` — retention
// by age, bytes and count, from the head, delivered events only; id-index expiry by log time —
// one stream at a time and never two passes at once.
//
// Why it cannot hold publishes up for long: `maintain` works in bounded steps (at most
// `maintenanceStepEventsMax` events, one synced batch each, queued in the same group commit as
// appends, so appends go in between steps), a call runs at most `maintenanceStepsPerCallMax`
// steps, and between calls this driver yields to the event loop. A stream with more to delete than
// `callsPerStreamPerPassMax` calls leaves the rest to the next pass, which then starts at once
// (fairness between streams; a backlog is worked off without waiting for the interval).
//
// Age is measured against the wall clock (`nowMs`, default Date.now): event times are HLC wall
// times. Counters (passes, calls, deleted events and bytes, expired ids, failures, the longest
// single step) are for the operator; the metrics get the same figures from the store's observer.
import type { EventStore } from '../../data-plane/persistent/index.js'
import type { Logger } from '../../shared/log.js'
import { RailgunError } from '../../shared/errors.js'

/** `maintain` calls (each ≤ 64 steps of ≤ 4,096 events) one stream gets per pass before the next stream's turn. */
export const callsPerStreamPerPassMax = 16
/** Streams one pass visits at most (the node opens far fewer: persistentStreamsPerNodeMax). */
export const streamsPerPassMax = 10_000

/** What maintenance needs of the event store (an `EventStore`; tests pass a double). */
export type MaintainedStore = Pick<EventStore, 'maintain' | 'hasStream' | 'observe' | 'stoppedWith'>

export interface StreamMaintenanceOptions {
  readonly store: MaintainedStore
  /** The streams to maintain (the node's open persistent streams, `namespace/name`). */
  readonly streams: () => readonly string[]
  /** Between the end of one pass and the start of the next (ms, > 0). */
  readonly intervalMs: number
  readonly logger: Logger
  /** Wall-clock ms for age retention; default Date.now. */
  readonly nowMs?: () => number
  /** Calls per stream per pass; default `callsPerStreamPerPassMax`. */
  readonly callsPerStreamPerPass?: number
}

export interface StreamMaintenanceCounters {
  /** Passes over the streams completed. */
  passes: number
  /** `store.maintain` calls made. */
  calls: number
  deletedEvents: number
  deletedBytes: number
  expiredIds: number
  /** Calls that failed (logged; the pass goes on with the next stream). */
  failures: number
  /** The longest single maintenance step seen (ms, wall time: read, synced batch, range deletes). */
  longestStepMs: number
}

export interface StreamMaintenance {
  readonly counters: Readonly<StreamMaintenanceCounters>
  /** Runs a pass now (after the one under way, if any); resolves when it is done. */
  runNow(): Promise<void>
  /** Stops: no new pass or call; the call under way stops after its current step; resolves then. */
  close(): Promise<void>
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

export function attachStreamMaintenance(options: StreamMaintenanceOptions): StreamMaintenance {
  const { store, logger } = options
  if (!(Number.isFinite(options.intervalMs) && options.intervalMs > 0)) throw new RangeError('stream maintenance: intervalMs must be > 0')
  const nowMs = options.nowMs ?? Date.now
  const callsPerPass = options.callsPerStreamPerPass ?? callsPerStreamPerPassMax
  if (!(Number.isInteger(callsPerPass) && callsPerPass >= 1 && callsPerPass <= callsPerStreamPerPassMax)) throw new RangeError(`stream maintenance: callsPerStreamPerPass must be 1..${callsPerStreamPerPassMax}`)
  const counters: StreamMaintenanceCounters = { passes: 0, calls: 0, deletedEvents: 0, deletedBytes: 0, expiredIds: 0, failures: 0, longestStepMs: 0 }
  let closed = false
  // Aborted by close: the store stops the call under way between two steps.
  const closing = new AbortController()
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let stoppedLogged = false

  // The longest step of each call comes from the store's report of the call.
  const unobserve = store.observe({
    maintained: (call) => {
      if (call.longestStepMs > counters.longestStepMs) counters.longestStepMs = call.longestStepMs
    },
  })

  /** Maintains one stream for up to `callsPerStreamPerPassMax` calls; true when work is left. */
  const maintainStream = async (stream: string): Promise<boolean> => {
    const startedMs = performance.now()
    let deletedEvents = 0
    let deletedBytes = 0
    let expiredIds = 0
    let calls = 0
    let left = false
    for (;;) {
      if (closed || !store.hasStream(stream)) break
      let result
      try {
        result = await store.maintain(stream, nowMs(), { signal: closing.signal })
      } catch (error) {
        if (error instanceof RailgunError && error.code === 'RG_ERR_NOT_FOUND') break // removed meanwhile
        counters.failures += 1
        logger.error({ stream, err: (error as Error).message }, 'stream maintenance failed')
        break
      }
      calls += 1
      counters.calls += 1
      deletedEvents += result.deletedEvents
      deletedBytes += result.deletedBytes
      expiredIds += result.expiredIds
      counters.deletedEvents += result.deletedEvents
      counters.deletedBytes += result.deletedBytes
      counters.expiredIds += result.expiredIds
      if (result.done) break
      if (calls >= callsPerPass) {
        left = true
        break
      }
      await nextTurn()
    }
    if (deletedEvents > 0 || expiredIds > 0) {
      logger.info(
        { stream, deletedEvents, deletedBytes, expiredIds, calls, ms: Math.round(performance.now() - startedMs), more: left },
        `stream maintenance: ${stream}: deleted ${deletedEvents} events (${deletedBytes} bytes), expired ${expiredIds} id entries`,
      )
    }
    return left
  }

  /** One pass; true when some stream has work left. */
  const pass = async (): Promise<boolean> => {
    if (store.stoppedWith !== null) {
      if (!stoppedLogged) logger.error({ err: store.stoppedWith.message }, 'stream maintenance: the event store has stopped; no more passes')
      stoppedLogged = true
      return false
    }
    let backlog = false
    for (const stream of options.streams().slice(0, streamsPerPassMax)) {
      if (closed) break
      if (await maintainStream(stream)) backlog = true
      await nextTurn()
    }
    counters.passes += 1
    return backlog
  }

  const schedule = (delayMs: number): void => {
    if (closed) return
    timer = setTimeout(() => {
      timer = undefined
      void start()
    }, delayMs)
    timer.unref()
  }

  const start = (): Promise<void> => {
    if (running !== undefined) return running
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    running = pass()
      .then(
        (backlog) => backlog,
        (error: unknown) => {
          counters.failures += 1
          logger.error({ err: (error as Error).message }, 'stream maintenance pass failed')
          return false
        },
      )
      .then((backlog) => {
        running = undefined
        schedule(backlog ? 0 : options.intervalMs)
      })
    return running
  }

  schedule(options.intervalMs)

  return {
    counters,
    runNow: async () => {
      if (closed) return
      if (running !== undefined) await running
      await start()
    },
    close: async () => {
      if (closed) return
      closed = true
      closing.abort()
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      await running
      unobserve()
    },
  }
}
