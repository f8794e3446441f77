// An independent consumer (no group) as a cold Observable: reads a persistent stream with
// `$RG.API.STREAM.FETCH` (the delivered events of the node the client is connected to) from a
// start index, in pages of `batchSize`, and polls with a doubling, capped wait while caught up.
// Nothing is tracked on the server, so there is nothing to ack: the messages' settle calls are
// no-ops. A `time` start is turned into an index by a binary search with one-event fetches
// (delivery order follows event time within a region, so the first index at or after the time
// is found in log2(delivered) requests).
import { firstValueFrom, Observable, timer, type SchedulerLike } from 'rxjs'
import { streamFetchResponseSchema } from '../shared/api/index.js'
import type { StreamFetchResponse } from '../shared/api/index.js'
import type { ErrorCode } from '../shared/errors.js'
import { callApi, checked } from './control-api.js'
import type { ApiTransport } from './control-api.js'
import { ConnectionClosedError, RailgunClientError } from './errors.js'
import { StreamMessage } from './stream-message.js'

/** Where a consumer starts: the first event, after the last one, the first at/after a time, an index. */
export type ConsumeStart =
  | { readonly from: 'beginning' }
  | { readonly from: 'end' }
  | { readonly from: 'time'; readonly timeMs: number }
  | { readonly from: 'index'; readonly index: number }

/** Events in one STREAM.FETCH answer at most (the server's `fetchEventsMax`). */
export const streamFetchEventsMax = 1_000

export interface StreamReaderSettings {
  readonly namespace: string
  readonly stream: string
  readonly start: ConsumeStart
  /** Events asked per STREAM.FETCH (≤ `streamFetchEventsMax`). */
  readonly batchSize: number
  readonly requestTimeoutMs: number
  /** How long a stream that is not open on the node (RG_ERR_NOT_FOUND) is waited for before the first read. */
  readonly openTimeoutMs: number
  /** Poll wait while caught up: doubles from `pollMsMin` to `pollMsMax`. */
  readonly pollMsMin: number
  readonly pollMsMax: number
  readonly scheduler: SchedulerLike
}

/** Failures a later read can cure (the loop waits and reads again). */
export const retriableReadCodes: readonly ErrorCode[] = ['RG_ERR_REQUEST_TIMEOUT', 'RG_ERR_NO_RESPONDERS', 'RG_ERR_NOT_READY']

/** Wait after the `idle`-th empty read in a row (1-based): doubling, capped. Pure. */
export function pollDelayMs(idle: number, pollMsMin: number, pollMsMax: number): number {
  return Math.min(pollMsMax, pollMsMin * 2 ** Math.min(Math.max(idle - 1, 0), 30))
}

/**
 * The first index in `[0, count)` whose event time is at or after `timeMs` (`count` when none),
 * given a lookup of one event's time. Event times are non-decreasing in delivery order, so this
 * is a binary search: at most ⌈log2(count+1)⌉ lookups.
 */
export async function firstIndexAtOrAfter(count: number, timeMs: number, timeAt: (index: number) => Promise<number | undefined>): Promise<number> {
  let low = 0
  let high = count
  while (low < high) {
    const middle = Math.floor((low + high) / 2)
    const time = await timeAt(middle)
    if (time !== undefined && time < timeMs) low = middle + 1
    else high = middle
  }
  return low
}

async function fetchPage(transport: ApiTransport, settings: StreamReaderSettings, from: number, max: number): Promise<StreamFetchResponse> {
  const answer = await callApi(transport, 'STREAM.FETCH', { namespace: settings.namespace, name: settings.stream, from, max }, { timeoutMs: settings.requestTimeoutMs })
  return checked('STREAM.FETCH', streamFetchResponseSchema, answer)
}

/** The index the reader starts at. */
export async function startIndexOf(transport: ApiTransport, settings: StreamReaderSettings): Promise<number> {
  const start = settings.start
  switch (start.from) {
    case 'beginning':
      return 0
    case 'index':
      return start.index
    case 'end':
      return (await fetchPage(transport, settings, 0, 1)).delivered
    case 'time': {
      const { delivered } = await fetchPage(transport, settings, 0, 1)
      return firstIndexAtOrAfter(delivered, start.timeMs, async (index) => (await fetchPage(transport, settings, index, 1)).events[0]?.hlc.wallMs)
    }
  }
}

function codeOf(error: unknown): ErrorCode | undefined {
  return error instanceof RailgunClientError ? error.code : undefined
}

export function readStream(transport: ApiTransport, settings: StreamReaderSettings): Observable<StreamMessage> {
  return new Observable<StreamMessage>((subscriber) => {
    let closed = false
    const sleep = (ms: number): Promise<unknown> => firstValueFrom(timer(ms, settings.scheduler))
    const opening = settings.scheduler.now()

    const run = async (): Promise<void> => {
      let from: number | undefined
      let opened = false
      let idle = 0
      while (!closed) {
        try {
          from ??= await startIndexOf(transport, settings)
          const page = await fetchPage(transport, settings, from, settings.batchSize)
          opened = true
          for (const event of page.events) {
            if (closed) return
            subscriber.next(StreamMessage.fromFetched(page.stream, event))
          }
          from = page.next
          idle = page.events.length === 0 ? idle + 1 : 0
        } catch (error) {
          const code = codeOf(error)
          // Not open on this node yet (created a moment ago): wait, within openTimeoutMs.
          const notOpenYet = code === 'RG_ERR_NOT_FOUND' && !opened && settings.scheduler.now() - opening < settings.openTimeoutMs
          if (!notOpenYet && (code === undefined || !retriableReadCodes.includes(code))) throw error
          idle += 1
        }
        if (idle > 0 && !closed) await sleep(pollDelayMs(idle, settings.pollMsMin, settings.pollMsMax))
      }
    }

    run().then(
      () => subscriber.complete(),
      (error: unknown) => {
        if (closed) return
        // The client closed: the stream ends as a subscription does.
        if (error instanceof ConnectionClosedError) subscriber.complete()
        else subscriber.error(error)
      },
    )
    return () => {
      closed = true
    }
  })
}
